//! The data set: nested domains, users, groups and memberships, built through
//! rollcall's real write path — `open_writer`, `catch_up`, the single writer,
//! `decide`, append, `fold`, durable commit — with many commands in flight so
//! group commit batches them, as a bulk import would.
//!
//! Everything is derived from fixed seeds, so two runs build the same data.

use anyhow::{bail, Context};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rollcall::commands::{Command, Outcome, Request};
use rollcall::domain::{Ident, Kind, Name, ADMIN};
use rollcall::read_model::ReadModel;
use rollcall::writer::{self, WriterHandle};
use rollcall::{log, projector};

/// The admin's password in the benchmark database.
pub const ADMIN_PASSWORD: &str = "bench-admin-password";

/// Commands kept in flight while loading: several times the writer's batch
/// size, so every commit carries a full batch.
const IN_FLIGHT: usize = 4096;

/// The domains below GLOBAL: (name, parent index in this list, or None for GLOBAL).
const DOMAINS: &[(&str, Option<usize>)] = &[
    ("Engineering", None),
    ("Platform", Some(0)),
    ("Storage", Some(1)),
    ("Apps", Some(0)),
    ("Operations", None),
    ("Production", Some(4)),
    ("Sales", None),
];

/// How big the data set is.
#[derive(Clone, Copy, Debug)]
pub struct Size {
    pub users: usize,
    pub groups: usize,
    /// Groups each user is put in, drawn at random (the big group aside).
    pub groups_per_user: usize,
    /// Members of group 0, the group the `as_of` query reads.
    pub big_group: usize,
    /// Objects that get grants of their own (besides the domains).
    pub objects: usize,
    /// Groups given grants on each domain (inherited by the objects in it).
    pub domain_grantees: usize,
}

impl Size {
    pub const FULL: Size = Size {
        users: 100_000,
        groups: 10_000,
        groups_per_user: 10,
        big_group: 1_000,
        objects: 3_000,
        domain_grantees: 400,
    };
    pub const QUICK: Size = Size {
        users: 10_000,
        groups: 1_000,
        groups_per_user: 10,
        big_group: 1_000,
        objects: 300,
        domain_grantees: 40,
    };

    pub fn memberships(&self) -> usize {
        self.users * self.groups_per_user + self.big_group
    }
}

/// How long one phase of the load took.
pub struct Phase {
    pub name: &'static str,
    pub commands: usize,
    pub took: Duration,
}

/// The data set as the scenarios need to know it.
pub struct DataSet {
    pub size: Size,
    /// Qualified names of every domain, GLOBAL first.
    pub domains: Vec<String>,
    /// Every (user index, group index) membership.
    members: HashSet<u64>,
    /// The log position after the load.
    pub head: i64,
    /// The log position once every group existed, before any membership.
    pub before_members: i64,
    pub phases: Vec<Phase>,
    pub took: Duration,
}

pub fn user_name(i: usize) -> String {
    format!("u{i:06}")
}

pub fn group_name(i: usize) -> String {
    format!("g{i:05}")
}

fn pair(user: usize, group: usize) -> u64 {
    ((user as u64) << 32) | group as u64
}

impl DataSet {
    /// A data set as `build` would describe it, without building it.
    #[cfg(test)]
    pub fn described(size: Size) -> DataSet {
        let mut members = HashSet::new();
        for u in 0..size.users {
            for g in groups_of(&size, u) {
                members.insert(pair(u, g));
            }
        }
        DataSet {
            size,
            domains: vec!["GLOBAL".into(), "GLOBAL.Engineering".into()],
            members,
            head: 0,
            before_members: 0,
            phases: Vec::new(),
            took: Duration::ZERO,
        }
    }

    pub fn is_member(&self, user: usize, group: usize) -> bool {
        self.members.contains(&pair(user, group))
    }

    /// The index (into `domains`) of the domain user or group `i` lives in.
    pub fn domain_of(&self, i: usize) -> usize {
        i % self.domains.len()
    }
}

/// The groups user `u` is in: `groups_per_user` distinct groups from 1..,
/// plus group 0 for the first `big_group` users.
fn groups_of(size: &Size, u: usize) -> Vec<usize> {
    let mut rng = StdRng::seed_from_u64(0x5eed_0000 ^ u as u64);
    let mut groups: Vec<usize> =
        rand::seq::index::sample(&mut rng, size.groups - 1, size.groups_per_user)
            .into_iter()
            .map(|g| g + 1)
            .collect();
    if u < size.big_group {
        groups.push(0);
    }
    groups
}

fn admin(command: Command, i: usize) -> Request {
    Request {
        caller: Some(ADMIN),
        request_id: Some(format!("bench-load-{i}")),
        reason: None,
        command,
    }
}

fn name(kind: Kind, raw: &str) -> anyhow::Result<Name> {
    Name::parse(kind, raw).map_err(|e| anyhow::anyhow!("bad name {raw:?}: {e}"))
}

/// Sends `count` commands made by `make(i)` with [`IN_FLIGHT`] in flight;
/// returns the outcome of each, in order.
async fn execute_all(
    writer: &WriterHandle,
    count: usize,
    make: impl Fn(usize) -> anyhow::Result<Command> + Send + Sync + 'static,
) -> anyhow::Result<Vec<Outcome>> {
    let next = Arc::new(AtomicUsize::new(0));
    let make = Arc::new(make);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..IN_FLIGHT.min(count) {
        let (writer, next, make) = (writer.clone(), next.clone(), make.clone());
        tasks.spawn(async move {
            let mut outcomes = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return anyhow::Ok(outcomes);
                }
                let applied = writer
                    .execute(admin(make(i)?, i))
                    .await
                    .with_context(|| format!("load command {i} failed"))?;
                outcomes.push((i, applied.outcome));
            }
        });
    }
    let mut all = vec![None; count];
    while let Some(done) = tasks.join_next().await {
        for (i, outcome) in done.context("a load task panicked")?? {
            all[i] = Some(outcome);
        }
    }
    all.into_iter()
        .enumerate()
        .map(|(i, o)| o.with_context(|| format!("load command {i} got no outcome")))
        .collect()
}

/// The ids of the objects `outcomes` created.
fn created_ids(outcomes: Vec<Outcome>) -> anyhow::Result<Vec<i64>> {
    outcomes
        .into_iter()
        .map(|o| match o {
            Outcome::Created(c) => Ok(c.id),
            other => Err(anyhow::anyhow!("a create answered {other:?}")),
        })
        .collect()
}

/// Builds the data set into a new database at `db`.
pub async fn build(db: &Path, size: Size) -> anyhow::Result<DataSet> {
    let started = Instant::now();
    let path = db.to_owned();
    let (conn, state) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let mut conn = log::open_writer(&path)?;
        let state = projector::catch_up(&mut conn)?;
        Ok((conn, state))
    })
    .await??;
    if state.head.seq != 0 {
        bail!("{} is not empty", db.display());
    }
    let read = Arc::new(ReadModel::new(state.clone()));
    let (writer, thread) = writer::spawn(conn, state, read.clone())?;
    let mut phases = Vec::new();

    let t = Instant::now();
    let hash =
        tokio::task::spawn_blocking(|| rollcall::auth::password::hash(ADMIN_PASSWORD)).await??;
    writer
        .execute(Request {
            caller: None,
            request_id: None,
            reason: Some("bootstrap".into()),
            command: Command::Bootstrap {
                admin_password_hash: hash,
            },
        })
        .await?;
    // Domains one by one: each needs its parent.
    let mut domain_ids: Vec<i64> = Vec::new();
    let mut domains = vec!["GLOBAL".to_owned()];
    for (i, (raw, parent)) in DOMAINS.iter().enumerate() {
        let applied = writer
            .execute(admin(
                Command::CreateDomain {
                    name: name(Kind::Domain, raw)?,
                    parent: parent.map(|p| Ident::Id(domain_ids[p])),
                },
                i,
            ))
            .await?;
        let Outcome::Created(c) = applied.outcome else {
            bail!("creating domain {raw} answered {:?}", applied.outcome);
        };
        domain_ids.push(c.id);
        domains.push(c.qualified_name);
    }
    // Index 0 is GLOBAL (id 1); then the domains above.
    let domain_id: Arc<Vec<i64>> = Arc::new(std::iter::once(1).chain(domain_ids).collect());
    phases.push(Phase {
        name: "bootstrap and domains",
        commands: 1 + DOMAINS.len(),
        took: t.elapsed(),
    });

    let t = Instant::now();
    let d = domain_id.clone();
    let user_ids = created_ids(
        execute_all(&writer, size.users, move |i| {
            Ok(Command::CreateUser {
                name: name(Kind::User, &user_name(i))?,
                domain: Some(Ident::Id(d[i % d.len()])),
                realname: Some(format!("User {i}")),
                email: Some(format!("{}@example.com", user_name(i))),
                password_hash: None,
            })
        })
        .await?,
    )?;
    phases.push(Phase {
        name: "users",
        commands: size.users,
        took: t.elapsed(),
    });

    let t = Instant::now();
    let d = domain_id.clone();
    let group_ids = created_ids(
        execute_all(&writer, size.groups, move |i| {
            Ok(Command::CreateGroup {
                name: name(Kind::Group, &group_name(i))?,
                domain: Some(Ident::Id(d[i % d.len()])),
                summary: Some(format!("Group {i}")),
                email: None,
            })
        })
        .await?,
    )?;
    phases.push(Phase {
        name: "groups",
        commands: size.groups,
        took: t.elapsed(),
    });

    let before_members = read.snapshot().head.seq;
    let t = Instant::now();
    let mut members = HashSet::with_capacity(size.memberships());
    let mut by_group: Vec<Vec<Ident>> = vec![Vec::new(); size.groups];
    for (u, user_id) in user_ids.iter().enumerate() {
        for g in groups_of(&size, u) {
            members.insert(pair(u, g));
            by_group[g].push(Ident::Id(*user_id));
        }
    }
    // One import per group with all its members: the bulk path (what
    // `POST /dmadminweb/API/import` sends), one event per membership.
    let count = members.len();
    let by_group = Arc::new(by_group);
    let group_ids = Arc::new(group_ids);
    let imports = by_group.len();
    let outcomes = execute_all(&writer, imports, move |g| {
        Ok(Command::ImportGroup {
            group: Ident::Id(group_ids[g]),
            members: by_group[g].clone(),
        })
    })
    .await?;
    let added: usize = outcomes
        .iter()
        .map(|o| match o {
            Outcome::Imported { added, .. } => *added,
            _ => 0,
        })
        .sum();
    if added != count {
        bail!("the imports added {added} memberships; expected {count}");
    }
    phases.push(Phase {
        name: "memberships (group imports)",
        commands: imports,
        took: t.elapsed(),
    });

    let snapshot = read.snapshot();
    let head = snapshot.head.seq;
    // The loaded state must be what was asked for (admin is in Administrators).
    if snapshot.membership_count() < count || snapshot.user_count() < size.users {
        bail!(
            "the load left {} memberships and {} users; expected {count} and {}",
            snapshot.membership_count(),
            snapshot.user_count(),
            size.users
        );
    }
    drop(snapshot);
    drop(writer);
    tokio::task::spawn_blocking(move || thread.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the writer thread panicked"))?;
    Ok(DataSet {
        size,
        domains,
        members,
        head,
        before_members,
        phases,
        took: started.elapsed(),
    })
}

/// A random user index owned by connection `conn` of `conns` (so concurrent
/// writers never touch the same pair).
pub fn user_of_connection(rng: &mut StdRng, size: &Size, conn: usize, conns: usize) -> usize {
    let per = size.users.div_ceil(conns);
    loop {
        let u = conn + conns * rng.gen_range(0..per);
        if u < size.users {
            return u;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_user_gets_distinct_groups_and_the_big_group_exactly_big_group_members() {
        let size = Size::QUICK;
        let mut big = 0;
        for u in 0..size.users {
            let groups = groups_of(&size, u);
            let distinct: HashSet<_> = groups.iter().collect();
            assert_eq!(distinct.len(), groups.len(), "user {u}");
            assert!(groups.iter().all(|g| *g < size.groups));
            big += groups.iter().filter(|g| **g == 0).count();
        }
        assert_eq!(big, size.big_group);
    }

    #[test]
    fn membership_generation_is_deterministic() {
        let size = Size::QUICK;
        assert_eq!(groups_of(&size, 7), groups_of(&size, 7));
        assert_ne!(groups_of(&size, 7), groups_of(&size, 8));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn build_writes_every_membership_through_the_log() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("rollcall.db");
        let size = Size {
            users: 60,
            groups: 12,
            groups_per_user: 3,
            big_group: 7,
            objects: 0,
            domain_grantees: 0,
        };
        let data = build(&db, size).await.expect("builds");
        let conn = rollcall::views::file::open_with_views(&db).expect("opens");
        let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).expect(sql) };
        // The bootstrap's own assignment (admin to Administrators) has no actor.
        let assigned = count(
            "SELECT count(*) FROM events WHERE event_type = 'UserAssigned' AND actor IS NOT NULL",
        );
        assert_eq!(assigned as usize, size.memberships());
        assert_eq!(count("SELECT max(seq) FROM events"), data.head);
        let first_assign = count(
            "SELECT min(seq) FROM events WHERE event_type = 'UserAssigned' AND actor IS NOT NULL",
        );
        assert_eq!(first_assign, data.before_members + 1);
        assert_eq!(data.domains.len(), 1 + DOMAINS.len());
        assert!(data
            .domains
            .contains(&"GLOBAL.Engineering.Platform.Storage".to_owned()));
        for u in 0..size.users {
            for g in 0..size.groups {
                let stored = count(&format!(
                    "SELECT count(*) FROM view_memberships m
                       JOIN view_users u ON u.id = m.user_id
                       JOIN view_groups g ON g.id = m.group_id
                      WHERE u.name = '{}' AND g.name = '{}'",
                    user_name(u),
                    group_name(g)
                ));
                assert_eq!(stored == 1, data.is_member(u, g), "user {u}, group {g}");
            }
        }
    }

    #[test]
    fn connections_own_disjoint_users() {
        let size = Size::QUICK;
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..1000 {
            let c = rng.gen_range(0..64);
            let u = user_of_connection(&mut rng, &size, c, 64);
            assert_eq!(u % 64, c);
            assert!(u < size.users);
        }
    }
}
