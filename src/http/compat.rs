//! The dmadminweb compat API: a thin translation from `/dmadminweb/API/...`
//! paths to the same commands and queries the JSON API uses, and from their
//! outcome to `{"success": ...}` — always with HTTP 200, because the
//! `deployhub` client treats any other status as no answer at all.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Json;
use serde_json::{json, Map, Value};

use super::extract::{authenticate, token_of, Caller, ClientAddr, RequestId};
use super::guard::split_path;
use super::session::{self, LoginError};
use super::{AppState, Routes};
use crate::commands::{Command, Outcome as Done};
use crate::domain::{Ident, Kind, Name, UserId};
use crate::queries::{self, PageRequest, MAX_LIMIT};
use crate::state::State as Snapshot;

const PREFIX: &str = "/dmadminweb/API/";

pub fn routes(r: Routes) -> Routes {
    r.route("/dmadminweb/API/{*rest}", any(handle))
        .route("/dmadminweb/API", any(handle))
}

/// A compat failure: rendered as `{"success": false, "error": ...}`.
#[derive(Clone, Debug)]
pub struct Failure(pub String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

type Outcome = Result<Map<String, Value>, Failure>;

fn ok() -> Outcome {
    Ok(Map::new())
}

fn render(outcome: Outcome, cookie: Option<(header::HeaderName, header::HeaderValue)>) -> Response {
    let body = match outcome {
        Ok(mut extra) => {
            extra.insert("success".into(), Value::Bool(true));
            Value::Object(extra)
        }
        Err(Failure(error)) => json!({ "success": false, "error": error }),
    };
    let mut res = Json(body).into_response();
    if let Some((name, value)) = cookie {
        res.headers_mut().insert(name, value);
    }
    res
}

/// The request's parameters: the query string, plus a form body on POST.
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(method: &Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) -> Params {
        let mut all: Vec<(String, String)> =
            serde_urlencoded::from_str(uri.query().unwrap_or("")).unwrap_or_default();
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        if method == Method::POST && is_form {
            all.extend(
                serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).unwrap_or_default(),
            );
        }
        Params(all)
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Splits the path after `/API/` into segments, percent-decoded once (so `+`
/// stays a plus). A single trailing `/` is tolerated.
pub fn segments(path: &str) -> Result<Vec<String>, Failure> {
    let rest = path.strip_prefix(PREFIX).unwrap_or("");
    split_path(rest).map_err(Failure::from)
}

async fn handle(
    State(app): State<AppState>,
    ClientAddr(client): ClientAddr,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = Params::parse(&method, &uri, &headers, &body);
    let request_id = RequestId::from_headers(&headers);
    // The path is split and decoded once, here, for the call and the cookie.
    let segs = segments(uri.path());
    let outcome = match &segs {
        Ok(segs) => dispatch(&app, segs, &headers, &params, &body, request_id, client).await,
        Err(e) => Err(e.clone()),
    };
    // Login hands out the session cookie and logout clears it, as the
    // original did; everything else leaves cookies alone.
    let cookie = match (&outcome, segs.as_deref().ok()) {
        (Ok(out), Some([op, ..])) if op == "login" => out
            .get("token")
            .and_then(Value::as_str)
            .map(session::session_cookie),
        (_, Some([op, ..])) if op == "logout" => Some(session::clear_cookie()),
        _ => None,
    };
    render(outcome, cookie)
}

async fn dispatch(
    app: &AppState,
    segs: &[String],
    headers: &HeaderMap,
    params: &Params,
    body: &Bytes,
    request_id: RequestId,
    client: Option<std::net::IpAddr>,
) -> Outcome {
    let op = segs.first().map(String::as_str).unwrap_or("");
    match op {
        "login" => login(app, params, client).await,
        "logout" => {
            session::logout(app, token_of(headers)).await;
            ok()
        }
        _ => {
            let caller =
                authenticate(app, headers).ok_or_else(|| Failure("Login failed".into()))?;
            // Taken only by the calls that read: a write waits for its
            // commit, and a snapshot held that long keeps an old state alive.
            let state = || app.read.snapshot();
            let me = Some(caller);
            match (op, segs.len()) {
                ("assign" | "unassign", _) => {
                    membership(app, caller, op, segs, params, request_id).await
                }
                ("user", 2) => {
                    let u = queries::user(&state(), me, &Ident::parse(Kind::User, &segs[1]))?;
                    result(json!({"id": u.id, "name": u.name, "domain": u.domain}))
                }
                ("domain", 2) => result(json!(queries::domain(
                    &state(),
                    me,
                    &Ident::parse_domain(&segs[1])
                )?)),
                ("list", 2) => list(&state(), me, &segs[1]),
                ("new", 3) => create(app, caller, segs, params, request_id).await,
                ("del", 3) => delete(app, caller, segs, params, request_id).await,
                ("import", 1) => import(app, caller, body, params, request_id).await,
                ("user" | "domain" | "list" | "new" | "del" | "import", n) => Err(Failure(
                    format!("Path contains wrong number of elements ({n})"),
                )),
                _ => Err(Failure(format!("Unknown API call \"{op}\""))),
            }
        }
    }
}

async fn login(app: &AppState, params: &Params, client: Option<std::net::IpAddr>) -> Outcome {
    match session::login(app, params.get("user"), params.get("pass"), client).await {
        Ok((token, _)) => {
            let mut out = Map::new();
            out.insert("token".into(), Value::String(token.secret));
            Ok(out)
        }
        Err(
            e @ (LoginError::MissingUser
            | LoginError::MissingPassword
            | LoginError::Failed
            | LoginError::Throttled(_)),
        ) => Err(e.into()),
        Err(LoginError::Unavailable) => Err(Failure("Login failed".into())),
    }
}

/// `assign/user/{user}/{group}` and `unassign/user/{user}/{group}`.
async fn membership(
    app: &AppState,
    caller: UserId,
    op: &str,
    segs: &[String],
    params: &Params,
    request_id: RequestId,
) -> Outcome {
    if segs.len() != 4 {
        return Err(Failure(format!(
            "Path contains wrong number of elements ({})",
            segs.len()
        )));
    }
    if segs[1] != "user" {
        return Err(Failure(format!(
            "Invalid object \"{}\" for \"{op}\" operation",
            segs[1]
        )));
    }
    let user = Ident::parse(Kind::User, &segs[2]);
    let group = Ident::parse(Kind::Group, &segs[3]);
    let command = if op == "assign" {
        Command::Assign { user, group }
    } else {
        Command::Unassign { user, group }
    };
    execute(app, caller, command, params, request_id)
        .await
        .map(|_| Map::new())
}

async fn execute(
    app: &AppState,
    caller: UserId,
    command: Command,
    params: &Params,
    request_id: RequestId,
) -> Result<crate::commands::Applied, Failure> {
    let reason = params.get("reason").map(str::to_owned);
    Ok(super::v1::execute(app, Caller(caller), request_id, reason, command).await?)
}

fn result(value: Value) -> Outcome {
    let mut out = Map::new();
    out.insert("result".into(), value);
    Ok(out)
}

/// `list/users`, `list/groups`, `list/domains`: everything the caller can see.
fn list(state: &Snapshot, me: Option<UserId>, what: &str) -> Outcome {
    let mut out = Map::new();
    match what {
        "users" => {
            let users: Vec<Value> = all_pages(|req| queries::users(state, me, req))
                .into_iter()
                .map(|u| {
                    let groups: Vec<String> = state
                        .groups_of_after(UserId(u.id), None)
                        .filter_map(|g| state.group(g).map(|g| g.name.to_string()))
                        .collect();
                    json!({"name": u.name, "domain": u.domain, "realname": u.realname,
                           "email": u.email, "groups": groups})
                })
                .collect();
            out.insert("users".into(), Value::Array(users));
        }
        "groups" => {
            let groups: Vec<Value> = all_pages(|req| queries::groups(state, me, req))
                .into_iter()
                .map(|g| json!({"name": g.name, "domain": g.domain, "summary": g.summary, "email": g.email}))
                .collect();
            out.insert("groups".into(), Value::Array(groups));
        }
        "domains" => {
            out.insert("domains".into(), json!(queries::domains(state, me)));
        }
        other => {
            return Err(Failure(format!(
                "Invalid object \"{other}\" for \"list\" operation"
            )))
        }
    }
    Ok(out)
}

/// The compat lists are unpaginated: walk the pages of the paginated query.
fn all_pages<T>(mut page: impl FnMut(PageRequest) -> queries::Page<T>) -> Vec<T>
where
    T: HasId,
{
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let p = page(PageRequest {
            after,
            limit: MAX_LIMIT,
        });
        after = p.items.last().map(HasId::id);
        out.extend(p.items);
        if p.next_cursor.is_none() {
            return out;
        }
    }
}

trait HasId {
    fn id(&self) -> i64;
}
impl HasId for queries::UserView {
    fn id(&self) -> i64 {
        self.id
    }
}
impl HasId for queries::GroupView {
    fn id(&self) -> i64 {
        self.id
    }
}

/// `new/user/{name}?domain=&realname=&email=&pw=` and `new/domain/{name}?domain=`.
async fn create(
    app: &AppState,
    caller: UserId,
    segs: &[String],
    params: &Params,
    rid: RequestId,
) -> Outcome {
    let domain = params
        .get("domain")
        .filter(|d| !d.is_empty())
        .map(Ident::parse_domain);
    let text = |k: &str| {
        params
            .get(k)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let command = match segs[1].as_str() {
        "user" => {
            let password_hash = match params.get("pw").filter(|p| !p.is_empty()) {
                Some(p) => Some(super::v1::new_password_hash(p.to_owned()).await?),
                None => None,
            };
            Command::CreateUser {
                name: Name::parse(Kind::User, &segs[2])?,
                domain,
                realname: text("realname"),
                email: text("email"),
                password_hash,
            }
        }
        "domain" => Command::CreateDomain {
            name: Name::parse(Kind::Domain, &segs[2])?,
            parent: domain,
        },
        other => {
            return Err(Failure(format!(
                "Invalid object \"{other}\" for \"new\" operation"
            )))
        }
    };
    match execute(app, caller, command, params, rid).await?.outcome {
        Done::Created(c) => result(json!({"id": c.id, "name": c.name, "domain": c.domain})),
        _ => ok(),
    }
}

/// `del/user/{name}` and `del/group/{name}`.
async fn delete(
    app: &AppState,
    caller: UserId,
    segs: &[String],
    params: &Params,
    rid: RequestId,
) -> Outcome {
    let command = match segs[1].as_str() {
        "user" => Command::DeleteUser {
            user: Ident::parse(Kind::User, &segs[2]),
        },
        "group" => Command::DeleteGroup {
            group: Ident::parse(Kind::Group, &segs[2]),
        },
        other => {
            return Err(Failure(format!(
                "Invalid object \"{other}\" for \"del\" operation"
            )))
        }
    };
    execute(app, caller, command, params, rid)
        .await
        .map(|_| Map::new())
}

#[derive(serde::Deserialize)]
struct ImportBody {
    objtype: String,
    objname: String,
    #[serde(default)]
    members: Vec<String>,
}

/// `POST import` with `{"objtype":"gr","objname":"GLOBAL.X","members":[...]}`:
/// the group with its members, in one transaction; re-running changes nothing.
async fn import(
    app: &AppState,
    caller: UserId,
    body: &Bytes,
    params: &Params,
    rid: RequestId,
) -> Outcome {
    let b: ImportBody =
        serde_json::from_slice(body).map_err(|e| Failure(format!("Invalid import body: {e}")))?;
    if b.objtype != "gr" {
        return Err(Failure(format!(
            "Invalid objtype \"{}\" for \"import\" operation",
            b.objtype
        )));
    }
    let command = Command::ImportGroup {
        group: Ident::parse(Kind::Group, &b.objname),
        members: b
            .members
            .iter()
            .map(|m| Ident::parse(Kind::User, m))
            .collect(),
    };
    match execute(app, caller, command, params, rid).await?.outcome {
        Done::Imported {
            group,
            created,
            added,
        } => result(json!({"id": group.0, "created": created, "added": added})),
        _ => ok(),
    }
}
