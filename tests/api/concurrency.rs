//! Many clients writing at once on the same few names: the final views equal
//! the fold of the log and a naive model fed the acknowledged operations in
//! log order, and no transition is answered "changed" twice.

use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

use crate::common::check_store;
use crate::helpers::spawn_app;

const CLIENTS: usize = 32;
const OPS_PER_CLIENT: usize = 20;

#[derive(Clone, Debug)]
enum Op {
    CreateDomain(String),
    CreateUser(String),
    CreateGroup(String),
    DeleteUser(String),
    DeleteGroup(String),
    Assign(String, String),
    Unassign(String, String),
}

fn random_op(rng: &mut impl Rng) -> Op {
    let u = format!("u{}", rng.gen_range(0..6));
    let g = format!("g{}", rng.gen_range(0..4));
    match rng.gen_range(0..20) {
        0 => Op::CreateDomain(format!("d{}", rng.gen_range(0..3))),
        1..=3 => Op::CreateUser(u),
        4..=5 => Op::CreateGroup(g),
        6 => Op::DeleteUser(u),
        7 => Op::DeleteGroup(g),
        8..=13 => Op::Assign(u, g),
        _ => Op::Unassign(u, g),
    }
}

fn request(op: &Op) -> (Method, String, Option<Value>) {
    match op {
        Op::CreateDomain(d) => (
            Method::POST,
            "/api/v1/domains".into(),
            Some(json!({"name": d})),
        ),
        Op::CreateUser(u) => (
            Method::POST,
            "/api/v1/users".into(),
            Some(json!({"name": u})),
        ),
        Op::CreateGroup(g) => (
            Method::POST,
            "/api/v1/groups".into(),
            Some(json!({"name": g})),
        ),
        Op::DeleteUser(u) => (Method::DELETE, format!("/api/v1/users/{u}"), None),
        Op::DeleteGroup(g) => (Method::DELETE, format!("/api/v1/groups/{g}"), None),
        Op::Assign(u, g) => (Method::PUT, format!("/api/v1/groups/{g}/members/{u}"), None),
        Op::Unassign(u, g) => (
            Method::DELETE,
            format!("/api/v1/groups/{g}/members/{u}"),
            None,
        ),
    }
}

struct Answer {
    request_id: String,
    op: Op,
    status: u16,
    body: Value,
}

#[derive(Default, Debug, PartialEq)]
struct Model {
    domains: BTreeSet<String>,
    users: BTreeSet<String>,
    groups: BTreeSet<String>,
    members: BTreeSet<(String, String)>,
}

impl Model {
    /// Applies an acknowledged operation; panics if the model says the
    /// answer was impossible at that point of the log.
    fn apply(&mut self, op: &Op, changed: bool) {
        let ok = match op {
            Op::CreateDomain(d) => self.domains.insert(d.clone()),
            Op::CreateUser(u) => self.users.insert(u.clone()),
            Op::CreateGroup(g) => self.groups.insert(g.clone()),
            Op::DeleteUser(u) => {
                self.members.retain(|(mu, _)| mu != u);
                self.users.remove(u)
            }
            Op::DeleteGroup(g) => {
                self.members.retain(|(_, mg)| mg != g);
                self.groups.remove(g)
            }
            Op::Assign(u, g) | Op::Unassign(u, g) => {
                assert!(
                    self.users.contains(u) && self.groups.contains(g),
                    "{op:?} accepted on missing names"
                );
                let pair = (u.clone(), g.clone());
                let is_member = self.members.contains(&pair);
                let wants_member = matches!(op, Op::Assign(..));
                if changed {
                    if wants_member {
                        self.members.insert(pair);
                    } else {
                        self.members.remove(&pair);
                    }
                }
                // Changed exactly when the membership was not already as asked.
                changed == (is_member != wants_member)
            }
        };
        assert!(
            ok,
            "{op:?} answered changed={changed}, which the model refuses"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_clients_on_overlapping_names_agree_with_a_naive_model() {
    let app = spawn_app().await;
    let events_before = app.event_count();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (http, base, token) = (app.http.clone(), app.url(""), app.admin.clone());
            tokio::spawn(async move {
                let mut rng = rand::rngs::StdRng::from_entropy();
                let mut answers = Vec::new();
                for n in 0..OPS_PER_CLIENT {
                    let op = random_op(&mut rng);
                    let (method, path, body) = request(&op);
                    let request_id = format!("c{c}-{n}");
                    let mut req = http
                        .request(method, format!("{base}{path}"))
                        .bearer_auth(&token)
                        .header("x-request-id", &request_id);
                    if let Some(b) = body {
                        req = req.json(&b);
                    }
                    let res = req.send().await.expect("answered");
                    let status = res.status().as_u16();
                    let body = res.json().await.unwrap_or(Value::Null);
                    answers.push(Answer {
                        request_id,
                        op,
                        status,
                        body,
                    });
                }
                answers
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.extend(t.await.expect("client"));
    }

    // Where each request's event landed in the log, by request id.
    let conn = rollcall::views::file::open_with_views(&app.db).expect("open");
    let mut logged: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut stmt = conn
        .prepare("SELECT request_id, seq FROM events WHERE request_id IS NOT NULL")
        .expect("prepare");
    for row in stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .expect("query")
    {
        let (rid, seq) = row.expect("row");
        logged.entry(rid).or_default().push(seq);
    }

    // Order the acknowledged operations as the log did: a change at its
    // event's position; a no-op just after the position it was decided at.
    let mut ordered: Vec<((i64, u8), &Answer, bool)> = Vec::new();
    let mut changes = 0;
    for a in &answers {
        let seqs = logged.get(&a.request_id).cloned().unwrap_or_default();
        match a.status {
            201 | 204 => {
                assert_eq!(seqs.len(), 1, "{:?} acknowledged: {seqs:?}", a.op);
                ordered.push(((seqs[0], 0), a, true));
                changes += 1;
            }
            200 => {
                let changed = a.body["changed"].as_bool().expect("changed");
                let position = a.body["position"].as_i64().expect("position");
                if changed {
                    assert_eq!(seqs, vec![position], "{:?}", a.op);
                    ordered.push(((position, 0), a, true));
                    changes += 1;
                } else {
                    assert!(seqs.is_empty(), "a no-op wrote {seqs:?}");
                    ordered.push(((position, 1), a, false));
                }
            }
            409 | 404 | 422 => assert!(seqs.is_empty(), "{:?} refused yet logged", a.op),
            other => panic!("{:?} answered {other}: {}", a.op, a.body),
        }
    }
    ordered.sort_by_key(|(key, _, _)| *key);
    let positions: BTreeSet<i64> = ordered
        .iter()
        .filter(|(_, _, changed)| *changed)
        .map(|((p, _), _, _)| *p)
        .collect();
    assert_eq!(
        positions.len(),
        changes,
        "two changes answered with one position"
    );
    assert_eq!(
        app.event_count(),
        events_before + changes,
        "every event in the log was acknowledged to someone"
    );

    let mut model = Model::default();
    for (_, a, changed) in &ordered {
        model.apply(&a.op, *changed);
    }

    // The views hold what the model holds, and equal a rebuild of the log.
    let views = check_store(&app.db);
    let names = |sql: &str| -> BTreeSet<String> {
        conn.prepare(sql)
            .expect("prepare")
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    };
    assert_eq!(
        names("SELECT name FROM view_users WHERE id > 1"),
        model.users
    );
    assert_eq!(
        names("SELECT name FROM view_groups WHERE id > 2"),
        model.groups
    );
    assert_eq!(
        names("SELECT name FROM view_domains WHERE id > 1"),
        model.domains
    );
    let members: BTreeSet<(String, String)> = conn
        .prepare(
            "SELECT u.name, g.name FROM view_memberships m
             JOIN view_users u ON u.id = m.user_id JOIN view_groups g ON g.id = m.group_id
             WHERE g.id > 2",
        )
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(members, model.members);
    // And the API answers from the same state.
    for g in &model.groups {
        let mut listed = app.member_names(g).await;
        listed.sort();
        let want: Vec<String> = model
            .members
            .iter()
            .filter(|(_, mg)| mg == g)
            .map(|(u, _)| format!("GLOBAL.{u}"))
            .collect();
        assert_eq!(listed, want, "{g}");
    }
    assert_eq!(views.user_count(), model.users.len() + 1);
    assert!(
        changes > 50,
        "only {changes} changes: too little contention to test"
    );
}
