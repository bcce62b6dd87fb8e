//! Grants and access checks: set, revoke and list grants; ask whether a user
//! may do something, in bulk, and why.

use axum::extract::State;
use axum::http::Uri;
use axum::Json;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

use crate::access::{self, Source, Verdict};
use crate::commands::{Command, Outcome};
use crate::domain::{Flags, Ident, Kind, ObjectRef, Permission, UserId};
use crate::http::error::ApiResult;
use crate::http::extract::{
    integer, query_fields, required, ApiJson, ApiPath, ApiQuery, Caller, RequestId,
};
use crate::http::{ApiError, AppState};
use crate::queries::{self, GrantView, UserView};
use crate::state::State as Snapshot;

/// The most checks one `POST /api/v1/check` may carry.
pub const MAX_BATCH_CHECKS: usize = 1000;
/// How long `at_least` waits for the position to be reached.
const AT_LEAST_WAIT: Duration = Duration::from_secs(5);

fn object(raw: &str) -> ApiResult<ObjectRef> {
    ObjectRef::parse(raw).map_err(|e| ApiError::Unprocessable(e.to_string()))
}

fn permission(raw: &str) -> ApiResult<Permission> {
    Permission::parse(raw).ok_or_else(|| {
        ApiError::Unprocessable(format!(
            "unknown permission {raw:?}; use view, update, read or write"
        ))
    })
}

/// The snapshot to answer from: the latest, or, with `at_least`, one that
/// includes that log position (read-your-writes for a caller that just wrote).
async fn snapshot(app: &AppState, at_least: Option<i64>) -> ApiResult<Arc<Snapshot>> {
    match at_least {
        None => Ok(app.read.snapshot()),
        Some(n) => app.read.wait_for(n, AT_LEAST_WAIT).await.ok_or_else(|| {
            ApiError::Unavailable(format!(
                "log position {n} was not reached within {} s",
                AT_LEAST_WAIT.as_secs()
            ))
        }),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantBody {
    group: String,
    object: String,
    view: Option<bool>,
    update: Option<bool>,
    read: Option<bool>,
    write: Option<bool>,
    reason: Option<String>,
}

#[derive(Serialize)]
pub struct GrantAnswer {
    changed: bool,
    position: i64,
}

async fn grant_command(
    app: &AppState,
    caller: Caller,
    rid: RequestId,
    reason: Option<String>,
    command: Command,
) -> ApiResult<Json<GrantAnswer>> {
    let applied = super::execute(app, caller, rid, reason, command).await?;
    match applied.outcome {
        Outcome::Grant { changed, .. } => Ok(Json(GrantAnswer {
            changed,
            position: applied.position,
        })),
        other => Err(ApiError::Internal(anyhow::anyhow!(
            "grant answered {other:?}"
        ))),
    }
}

/// `PUT /api/v1/grants`: the group's whole setting on the object (flags left
/// out or null are unset, so they inherit).
pub async fn put_grant(
    State(app): State<AppState>,
    caller: Caller,
    rid: RequestId,
    ApiJson(b): ApiJson<GrantBody>,
) -> ApiResult<Json<GrantAnswer>> {
    let command = Command::SetGrant {
        group: Ident::parse(Kind::Group, &b.group),
        object: object(&b.object)?,
        flags: Flags {
            view: b.view,
            update: b.update,
            read: b.read,
            write: b.write,
        },
    };
    grant_command(&app, caller, rid, b.reason, command).await
}

#[derive(Deserialize)]
pub struct RevokeQuery {
    group: String,
    object: String,
    reason: Option<String>,
}

/// `DELETE /api/v1/grants?group=&object=`.
pub async fn delete_grant(
    State(app): State<AppState>,
    caller: Caller,
    rid: RequestId,
    ApiQuery(q): ApiQuery<RevokeQuery>,
) -> ApiResult<Json<GrantAnswer>> {
    let command = Command::RevokeGrant {
        group: Ident::parse(Kind::Group, &q.group),
        object: object(&q.object)?,
    };
    grant_command(&app, caller, rid, q.reason, command).await
}

#[derive(Deserialize)]
pub struct ListQuery {
    object: Option<String>,
    group: Option<String>,
}

#[derive(Serialize)]
pub struct GrantList {
    grants: Vec<GrantView>,
    position: i64,
}

/// `GET /api/v1/grants?object=` or `?group=`.
pub async fn list_grants(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<GrantList>> {
    let state = app.read.snapshot();
    let grants = match (q.object, q.group) {
        (Some(o), None) => queries::grants_on(&state, &object(&o)?),
        (None, Some(g)) => {
            queries::grants_of(&state, Some(caller.0), &Ident::parse(Kind::Group, &g))?
        }
        _ => {
            return Err(ApiError::BadRequest(
                "give exactly one of object= or group=".into(),
            ))
        }
    };
    Ok(Json(GrantList {
        grants,
        position: state.head.seq,
    }))
}

#[derive(Serialize)]
pub struct CheckAnswer {
    // The verdict's fields, written out rather than `#[serde(flatten)]`ed:
    // flattening serializes through a map, which costs every check.
    allowed: bool,
    via: Vec<access::Via>,
    position: i64,
    /// With `as_of`: the position and time the answer reflects.
    #[serde(skip_serializing_if = "Option::is_none")]
    as_of: Option<crate::audit::as_of::At>,
}

fn check_one(
    state: &Snapshot,
    caller: UserId,
    user: &str,
    obj: &str,
    perm: &str,
) -> ApiResult<Verdict> {
    let (object, perm) = (object(obj)?, permission(perm)?);
    let user = state.resolve_user(Some(caller), &Ident::parse(Kind::User, user))?;
    Ok(access::check(state, user, &object, perm))
}

/// `GET /api/v1/check?user=&object=&permission=[&at_least=N][&as_of=P]`.
pub async fn check(
    State(app): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> ApiResult<Json<CheckAnswer>> {
    let [user, obj, perm, at_least, as_of] = query_fields(
        uri.query(),
        ["user", "object", "permission", "at_least", "as_of"],
    )?;
    let (user, obj, perm) = (
        required(user, "user")?,
        required(obj, "object")?,
        required(perm, "permission")?,
    );
    let at_least = integer(at_least, "at_least")?;
    if let Some(as_of) = as_of {
        return check_as_of(&app, caller, user.into_owned(), &obj, &perm, &as_of).await;
    }
    let answer = |state: &Snapshot| -> ApiResult<Json<CheckAnswer>> {
        let verdict = check_one(state, caller.0, &user, &obj, &perm)?;
        Ok(Json(CheckAnswer {
            allowed: verdict.allowed,
            via: verdict.via,
            position: state.head.seq,
            as_of: None,
        }))
    };
    match at_least {
        // The common case answers at once from the latest snapshot.
        None => answer(&app.read.peek()),
        Some(_) => answer(&*snapshot(&app, at_least).await?),
    }
}

/// The check as of a past position or time: the user as named then, its
/// groups and the grants that held then, from the history views' indexes.
async fn check_as_of(
    app: &AppState,
    caller: Caller,
    user: String,
    obj: &str,
    perm: &str,
    as_of: &str,
) -> ApiResult<Json<CheckAnswer>> {
    use crate::audit::{access_at::PastFacts, as_of as history};
    let (object, perm) = (object(obj)?, permission(perm)?);
    let point = history::Point::parse(as_of)?;
    let answer = super::history::ask(app, move |conn, state| {
        let at = history::locate(conn, &point)?;
        let ident = Ident::parse(Kind::User, &user);
        let who = history::resolve(
            conn,
            state,
            Some(caller.0),
            Kind::User,
            &ident,
            Some(at.position),
        )?;
        let facts = PastFacts::load(conn, UserId(who.id), &object, at.position)?;
        let verdict = facts.check(&object, perm);
        Ok(CheckAnswer {
            allowed: verdict.allowed,
            via: verdict.via,
            position: at.position,
            as_of: Some(at),
        })
    })
    .await?;
    Ok(Json(answer))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckItem {
    user: String,
    object: String,
    permission: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchBody {
    checks: Vec<CheckItem>,
    at_least: Option<i64>,
}

/// One answer of a batch: a verdict, or why that check could not be answered.
#[derive(Serialize)]
#[serde(untagged)]
pub enum BatchResult {
    Verdict(Verdict),
    Error { error: String },
}

#[derive(Serialize)]
pub struct BatchAnswer {
    results: Vec<BatchResult>,
    position: i64,
}

/// `POST /api/v1/check`: up to 1000 checks answered in order, all from one snapshot.
pub async fn check_batch(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<BatchBody>,
) -> ApiResult<Json<BatchAnswer>> {
    if b.checks.len() > MAX_BATCH_CHECKS {
        return Err(ApiError::Unprocessable(format!(
            "at most {MAX_BATCH_CHECKS} checks per request"
        )));
    }
    let state = snapshot(&app, b.at_least).await?;
    let results = b
        .checks
        .iter()
        .map(
            |c| match check_one(&state, caller.0, &c.user, &c.object, &c.permission) {
                Ok(v) => BatchResult::Verdict(v),
                Err(e) => BatchResult::Error {
                    error: e.to_string(),
                },
            },
        )
        .collect();
    Ok(Json(BatchAnswer {
        results,
        position: state.head.seq,
    }))
}

#[derive(Deserialize)]
pub struct PermissionsQuery {
    object: String,
    at_least: Option<i64>,
}

#[derive(Serialize)]
pub struct FlagExplained {
    allowed: bool,
    sources: Vec<Source>,
}

#[derive(Serialize)]
pub struct PermissionsAnswer {
    user: UserView,
    object: String,
    permissions: std::collections::BTreeMap<&'static str, FlagExplained>,
    position: i64,
}

/// `GET /api/v1/users/{user}/permissions?object=`: all four flags with every
/// group's effective setting and where it came from.
pub async fn permissions(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(user): ApiPath<String>,
    ApiQuery(q): ApiQuery<PermissionsQuery>,
) -> ApiResult<Json<PermissionsAnswer>> {
    let state = snapshot(&app, q.at_least).await?;
    let object = object(&q.object)?;
    let view = queries::user(&state, Some(caller.0), &Ident::parse(Kind::User, &user))?;
    let id = UserId(view.id);
    let permissions = Permission::ALL
        .iter()
        .map(|p| {
            (
                p.as_str(),
                FlagExplained {
                    allowed: access::allows(&*state, id, &object, *p),
                    sources: access::sources(&*state, id, &object, *p),
                },
            )
        })
        .collect();
    Ok(Json(PermissionsAnswer {
        user: view,
        object: object.to_string(),
        permissions,
        position: state.head.seq,
    }))
}
