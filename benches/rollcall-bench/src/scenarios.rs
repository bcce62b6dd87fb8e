//! The scenarios: what each one sends and how it judges the answers, plus the
//! setup over HTTP (login, grants) and the probe that tells whether an
//! endpoint exists yet.
//!
//! Each scenario is one [`Workload`]; `main` runs them with the same client
//! shape as the ceiling. A scenario whose endpoint answers 404 (no route) is
//! reported as not applicable rather than measured.

use anyhow::{bail, Context};
use bytes::Bytes;
use hyper::{Method, StatusCode};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::dataset::{self, group_name, user_name, DataSet};
use crate::load::{self, Req, Target, Verdict, Workload, WriterStats};

/// The permissions a check asks about.
const PERMISSIONS: &[&str] = &["view", "update", "read", "write"];

fn contains(body: &[u8], needle: &[u8]) -> bool {
    body.windows(needle.len()).any(|w| w == needle)
}

fn rng(index: usize) -> StdRng {
    StdRng::seed_from_u64(0xbe_0000 + index as u64)
}

/// Does this answer mean "no such route" (as opposed to a handler's own 404,
/// which carries a JSON error)?
pub fn route_missing(status: StatusCode, body: &[u8]) -> bool {
    matches!(
        status,
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
    ) && !body.trim_ascii_start().starts_with(b"{")
}

/// Sends one request on a fresh connection.
pub async fn once(target: &Target, req: Req) -> anyhow::Result<(StatusCode, Bytes)> {
    let cookie = target
        .cookie
        .as_deref()
        .map(hyper::header::HeaderValue::from_str)
        .transpose()?;
    load::connect(target.addr)
        .await?
        .send(cookie.as_ref(), req)
        .await
}

/// Logs in through the compat API; returns the `token=...` cookie.
pub async fn login(target: &Target) -> anyhow::Result<String> {
    let (status, body) = once(
        target,
        Req::get(format!(
            "/dmadminweb/API/login?user=admin&pass={}",
            dataset::ADMIN_PASSWORD
        )),
    )
    .await?;
    let v: serde_json::Value = serde_json::from_slice(&body).with_context(|| {
        format!(
            "login answered {status}: {}",
            String::from_utf8_lossy(&body)
        )
    })?;
    match v.get("token").and_then(|t| t.as_str()) {
        Some(token) => Ok(format!("token={token}")),
        None => bail!("login failed: {v}"),
    }
}

// ---- scenarios 1 and 2: durable assigns and unassigns -------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    /// `GET /dmadminweb/API/assign/user/{u}/{g}` and `unassign`.
    Compat,
    /// `PUT` and `DELETE /api/v1/groups/{g}/members/{u}`.
    Json,
}

/// Every request changes something: a connection assigns a random pair that
/// is not a member in the data set, then unassigns it, and so on. Users are
/// split between connections so no two ever write the same pair.
pub struct Writes {
    pub api: Api,
    pub data: Arc<DataSet>,
    pub connections: usize,
}

pub struct WriteConn {
    rng: StdRng,
    index: usize,
    pending: Option<(usize, usize)>,
}

impl Writes {
    fn request(&self, assign: bool, u: usize, g: usize) -> Req {
        let (user, group) = (user_name(u), group_name(g));
        match self.api {
            Api::Compat => {
                let op = if assign { "assign" } else { "unassign" };
                Req::get(format!("/dmadminweb/API/{op}/user/{user}/{group}"))
            }
            Api::Json => Req {
                method: if assign { Method::PUT } else { Method::DELETE },
                path: format!("/api/v1/groups/{group}/members/{user}"),
                body: None,
            },
        }
    }
}

impl Workload for Writes {
    type Conn = WriteConn;

    fn connection(&self, index: usize) -> WriteConn {
        // The two APIs draw different pairs.
        let salt = if self.api == Api::Json { 1 << 20 } else { 0 };
        WriteConn {
            rng: rng(index + salt),
            index,
            pending: None,
        }
    }

    fn next(&self, c: &mut WriteConn) -> Req {
        if let Some((u, g)) = c.pending.take() {
            return self.request(false, u, g);
        }
        let size = &self.data.size;
        let (u, g) = loop {
            let u = dataset::user_of_connection(&mut c.rng, size, c.index, self.connections);
            let g = c.rng.gen_range(1..size.groups);
            if !self.data.is_member(u, g) {
                break (u, g);
            }
        };
        c.pending = Some((u, g));
        self.request(true, u, g)
    }

    fn verdict(&self, _: &mut WriteConn, status: StatusCode, body: &[u8]) -> Verdict {
        match self.api {
            // The compat answer does not say whether anything changed.
            Api::Compat if status == StatusCode::OK && contains(body, b"\"success\":true") => {
                Verdict::Ok
            }
            Api::Json if status == StatusCode::OK && contains(body, b"\"changed\":true") => {
                Verdict::Marked
            }
            Api::Json if status == StatusCode::OK && contains(body, b"\"changed\":false") => {
                Verdict::Ok
            }
            _ => Verdict::Failed,
        }
    }

    fn wind_down(&self, c: &mut WriteConn) -> Option<Req> {
        c.pending.take().map(|(u, g)| self.request(false, u, g))
    }
}

// ---- grants and scenario 3: access checks ---------------------------------------------

/// The grants to load and the objects checks ask about.
pub struct GrantPlan {
    /// `PUT /api/v1/grants` bodies.
    pub bodies: Vec<Bytes>,
    /// Objects with grants of their own; each also inherits its domain's.
    pub objects: Vec<String>,
}

/// Grants on every domain (inherited by the objects in it) for
/// `domain_grantees` groups, and grants on `objects` environments for two
/// groups each, one of them a deny: checks then see allowed and denied
/// answers, own and inherited.
pub fn grant_plan(data: &DataSet) -> GrantPlan {
    let size = &data.size;
    let mut rng = StdRng::seed_from_u64(0x6a_2a_47);
    let mut bodies = Vec::new();
    let mut push = |v: serde_json::Value| bodies.push(Bytes::from(v.to_string()));
    for domain in &data.domains {
        for g in rand::seq::index::sample(&mut rng, size.groups, size.domain_grantees) {
            push(serde_json::json!({
                "group": group_name(g),
                "object": format!("domain:{domain}"),
                "view": true,
                "read": true,
                "write": false,
            }));
        }
    }
    let mut objects = Vec::with_capacity(size.objects);
    for i in 0..size.objects {
        let object = format!("environment:{}.env{i:05}", data.domains[data.domain_of(i)]);
        push(serde_json::json!({
            "group": group_name(rng.gen_range(0..size.groups)),
            "object": object,
            "update": true,
            "write": true,
        }));
        push(serde_json::json!({
            "group": group_name(rng.gen_range(0..size.groups)),
            "object": object,
            "view": false,
        }));
        objects.push(object);
    }
    GrantPlan { bodies, objects }
}

/// How loading the grants went.
pub struct Loaded {
    pub count: usize,
    pub errors: usize,
    pub took: Duration,
    pub first_error: Option<String>,
}

/// Sends every grant with `PUT /api/v1/grants` over `connections` connections.
pub async fn load_grants(
    target: &Target,
    bodies: Vec<Bytes>,
    connections: usize,
) -> anyhow::Result<Loaded> {
    let started = Instant::now();
    let count = bodies.len();
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let cookie = target
        .cookie
        .as_deref()
        .map(hyper::header::HeaderValue::from_str)
        .transpose()?;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let (bodies, next, cookie, addr) =
            (bodies.clone(), next.clone(), cookie.clone(), target.addr);
        tasks.spawn(async move {
            let mut conn = load::connect(addr).await?;
            let mut errors = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else {
                    return anyhow::Ok(errors);
                };
                let req = Req {
                    method: Method::PUT,
                    path: "/api/v1/grants".into(),
                    body: Some(body.clone()),
                };
                let (status, answer) = conn.send(cookie.as_ref(), req).await?;
                if !status.is_success() {
                    errors.push(format!("{status}: {}", String::from_utf8_lossy(&answer)));
                }
            }
        });
    }
    let mut errors = Vec::new();
    while let Some(done) = tasks.join_next().await {
        errors.extend(done.context("a grant task panicked")??);
    }
    Ok(Loaded {
        count,
        errors: errors.len(),
        took: started.elapsed(),
        first_error: errors.into_iter().next(),
    })
}

/// `GET /api/v1/check` for a random user, object and permission.
#[derive(Clone)]
pub struct Checks {
    pub data: Arc<DataSet>,
    pub objects: Arc<Vec<String>>,
}

pub fn check_path(rng: &mut StdRng, data: &DataSet, objects: &[String]) -> String {
    let u = rng.gen_range(0..data.size.users);
    let object = if objects.is_empty() {
        format!(
            "domain:{}",
            data.domains[rng.gen_range(0..data.domains.len())]
        )
    } else {
        objects[rng.gen_range(0..objects.len())].clone()
    };
    let permission = PERMISSIONS[rng.gen_range(0..PERMISSIONS.len())];
    format!(
        "/api/v1/check?user={}&object={object}&permission={permission}",
        user_name(u)
    )
}

impl Workload for Checks {
    type Conn = StdRng;

    fn connection(&self, index: usize) -> StdRng {
        rng(index)
    }

    fn next(&self, rng: &mut StdRng) -> Req {
        Req::get(check_path(rng, &self.data, &self.objects))
    }

    fn verdict(&self, _: &mut StdRng, status: StatusCode, body: &[u8]) -> Verdict {
        match status {
            StatusCode::OK if contains(body, b"\"allowed\":true") => Verdict::Marked,
            StatusCode::OK if contains(body, b"\"allowed\":false") => Verdict::Ok,
            _ => Verdict::Failed,
        }
    }
}

/// The ceiling's workload: the same requests as the checks, any 200 is right.
pub struct CeilingLoad(pub Checks);

impl Workload for CeilingLoad {
    type Conn = StdRng;

    fn connection(&self, index: usize) -> StdRng {
        rng(index)
    }

    fn next(&self, rng: &mut StdRng) -> Req {
        self.0.next(rng)
    }

    fn verdict(&self, _: &mut StdRng, status: StatusCode, _: &[u8]) -> Verdict {
        if status == StatusCode::OK {
            Verdict::Ok
        } else {
            Verdict::Failed
        }
    }
}

// ---- scenario 4: membership reads -------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Read {
    /// `GET /api/v1/users/{u}/groups`
    UserGroups,
    /// `GET /api/v1/groups/{g}/members?limit=100`
    GroupMembers,
}

pub struct Reads {
    pub read: Read,
    pub data: Arc<DataSet>,
}

impl Workload for Reads {
    type Conn = StdRng;

    fn connection(&self, index: usize) -> StdRng {
        rng(index)
    }

    fn next(&self, rng: &mut StdRng) -> Req {
        let size = &self.data.size;
        Req::get(match self.read {
            Read::UserGroups => {
                format!(
                    "/api/v1/users/{}/groups",
                    user_name(rng.gen_range(0..size.users))
                )
            }
            Read::GroupMembers => format!(
                "/api/v1/groups/{}/members?limit=100",
                group_name(rng.gen_range(0..size.groups))
            ),
        })
    }

    fn verdict(&self, _: &mut StdRng, status: StatusCode, body: &[u8]) -> Verdict {
        let key: &[u8] = match self.read {
            Read::UserGroups => b"\"groups\":[",
            Read::GroupMembers => b"\"members\":[",
        };
        if status == StatusCode::OK && contains(body, key) {
            Verdict::Ok
        } else {
            Verdict::Failed
        }
    }
}

// ---- the server's own figures -------------------------------------------------------

/// The writer's cumulative figures from `GET /metrics` (Prometheus text), or
/// `None` when the server has no such endpoint.
pub async fn writer_metrics(target: &Target) -> anyhow::Result<Option<WriterStats>> {
    let (status, body) = once(target, Req::get("/metrics".into())).await?;
    if status != StatusCode::OK {
        return Ok(None);
    }
    Ok(parse_writer_metrics(&String::from_utf8_lossy(&body)))
}

fn parse_writer_metrics(text: &str) -> Option<WriterStats> {
    let value = |name: &str| -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
    };
    Some(WriterStats {
        batches: value("rollcall_writer_batch_size_count")?,
        jobs: value("rollcall_writer_batch_size_sum")?,
        busy_seconds: value("rollcall_commit_seconds_sum")?,
        wall_seconds: 0.0,
    })
}

// ---- as_of ---------------------------------------------------------------------------------

/// The members of the big group as of log position `position`.
pub fn as_of_path(position: i64) -> String {
    format!(
        "/api/v1/groups/{}/members?as_of={position}&limit=1000",
        group_name(0)
    )
}

/// How many members a members page lists.
pub fn member_count(body: &[u8]) -> Option<usize> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    Some(v.get("members")?.as_array()?.len())
}

/// Is `as_of` honoured? The big group existed with no members once the
/// groups were created, and had `big_group` at the end of the load; a server
/// that ignores the parameter answers the same for both.
pub async fn as_of_supported(target: &Target, data: &DataSet) -> anyhow::Result<bool> {
    let (s0, early) = once(target, Req::get(as_of_path(data.before_members))).await?;
    let (s1, late) = once(target, Req::get(as_of_path(data.head))).await?;
    Ok(s0 == StatusCode::OK
        && s1 == StatusCode::OK
        && member_count(&early) == Some(0)
        && member_count(&late) == Some(data.size.big_group))
}

pub struct AsOf {
    pub position: i64,
}

impl Workload for AsOf {
    type Conn = ();

    fn connection(&self, _: usize) {}

    fn next(&self, _: &mut ()) -> Req {
        Req::get(as_of_path(self.position))
    }

    fn verdict(&self, _: &mut (), status: StatusCode, _: &[u8]) -> Verdict {
        if status == StatusCode::OK {
            Verdict::Ok
        } else {
            Verdict::Failed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_routers_404_is_a_missing_route_and_a_handlers_404_is_not() {
        assert!(route_missing(StatusCode::NOT_FOUND, b""));
        assert!(route_missing(StatusCode::METHOD_NOT_ALLOWED, b""));
        assert!(!route_missing(
            StatusCode::NOT_FOUND,
            br#"{"error":"User x Not Found or No Access"}"#
        ));
        assert!(!route_missing(StatusCode::OK, b""));
    }

    #[test]
    fn writes_assign_a_non_member_then_unassign_it_on_the_connections_own_users() {
        let data = Arc::new(DataSet::described(dataset::Size::QUICK));
        for api in [Api::Compat, Api::Json] {
            let w = Writes {
                api,
                data: data.clone(),
                connections: 8,
            };
            let mut c = w.connection(3);
            for _ in 0..200 {
                let assign = w.next(&mut c);
                let (u, g) = c.pending.expect("an assign leaves its pair pending");
                assert!(!data.is_member(u, g));
                assert_eq!(u % 8, 3);
                let unassign = w.next(&mut c);
                assert!(c.pending.is_none());
                match api {
                    Api::Compat => {
                        assert_eq!(
                            assign.path,
                            format!(
                                "/dmadminweb/API/assign/user/{}/{}",
                                user_name(u),
                                group_name(g)
                            )
                        );
                        assert_eq!(
                            assign.path.replacen("/assign/", "/unassign/", 1),
                            unassign.path
                        );
                    }
                    Api::Json => {
                        assert_eq!(
                            (assign.method, unassign.method),
                            (Method::PUT, Method::DELETE)
                        );
                        assert_eq!(assign.path, unassign.path);
                    }
                }
            }
            w.next(&mut c);
            assert!(w.wind_down(&mut c).is_some(), "a pending assign is undone");
            assert!(w.wind_down(&mut c).is_none());
        }
    }

    #[test]
    fn grants_cover_every_domain_and_two_groups_per_object() {
        let data = DataSet::described(dataset::Size::QUICK);
        let plan = grant_plan(&data);
        let size = data.size;
        assert_eq!(plan.objects.len(), size.objects);
        assert_eq!(
            plan.bodies.len(),
            data.domains.len() * size.domain_grantees + 2 * size.objects
        );
        let denies = plan.bodies.iter().filter(|b| contains(b, b"false")).count();
        assert_eq!(
            denies,
            data.domains.len() * size.domain_grantees + size.objects
        );
    }

    #[test]
    fn writer_metrics_are_read_from_the_histogram_sums_and_counts() {
        let text = "# TYPE rollcall_writer_batch_size histogram\n\
            rollcall_writer_batch_size_bucket{le=\"1\"} 2\n\
            rollcall_writer_batch_size_sum 130\n\
            rollcall_writer_batch_size_count 4\n\
            rollcall_commit_seconds_sum 0.25\n\
            rollcall_commit_seconds_count 4\n";
        assert_eq!(
            parse_writer_metrics(text),
            Some(WriterStats {
                batches: 4.0,
                jobs: 130.0,
                busy_seconds: 0.25,
                wall_seconds: 0.0,
            })
        );
        assert_eq!(parse_writer_metrics("rollcall_sessions 3\n"), None);
    }

    #[test]
    fn member_count_reads_the_members_array() {
        assert_eq!(member_count(br#"{"members":[{"id":1},{"id":2}]}"#), Some(2));
        assert_eq!(member_count(br#"{"error":"nope"}"#), None);
    }
}
