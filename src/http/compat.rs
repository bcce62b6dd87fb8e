//! The dmadminweb compat API: a thin translation from `/dmadminweb/API/...`
//! paths to the same commands and queries the JSON API uses, and from their
//! outcome to `{"success": ...}` — always with HTTP 200, because the
//! `deployhub` client treats any other status as no answer at all.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::extract::{authenticate, token_of, ClientAddr, RequestId};
use super::guard::split_path;
use super::session::{self, LoginError};
use super::AppState;
use crate::commands::{Command, Request};
use crate::domain::{Ident, Kind, UserId};
use crate::writer::CommandError;

const PREFIX: &str = "/dmadminweb/API/";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dmadminweb/API/{*rest}", any(handle))
        .route("/dmadminweb/API", any(handle))
}

/// A compat failure: rendered as `{"success": false, "error": ...}`.
#[derive(Debug)]
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
    let outcome = dispatch(&app, &uri, &headers, &params, request_id, client).await;
    // Login hands out the session cookie and logout clears it, as the
    // original did; everything else leaves cookies alone.
    let cookie = match (&outcome, segments(uri.path()).ok().as_deref()) {
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
    uri: &Uri,
    headers: &HeaderMap,
    params: &Params,
    request_id: RequestId,
    client: Option<std::net::IpAddr>,
) -> Outcome {
    let segs = segments(uri.path())?;
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
            match op {
                "assign" | "unassign" => {
                    membership(app, caller, op, &segs, params, request_id).await
                }
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
    let reason = super::v1::checked_reason(params.get("reason").map(str::to_owned))
        .map_err(Failure::from)?;
    let req = Request {
        caller: Some(caller),
        request_id: Some(request_id.0),
        reason,
        command,
    };
    app.writer.execute(req).await.map_err(|e| match e {
        CommandError::Rejected(r) => Failure(r.to_string()),
        other => Failure(other.to_string()),
    })
}
