//! The JSON API under `/api/v1`: bearer or cookie auth, real status codes,
//! errors as `{"error": "..."}`.

mod access;
mod directory;
mod history;
mod members;
mod sessions;

use axum::routing::{delete, get, post, put};

use super::extract::{Caller, RequestId};
use super::{ApiError, AppState, Routes};
use crate::commands::{Applied, Command, Request};

/// The longest reason text stored on an event, in characters.
pub const MAX_REASON_CHARS: usize = 1000;

pub fn routes(r: Routes) -> Routes {
    r.route("/api/v1/sessions", post(sessions::create))
        .route("/api/v1/sessions/current", delete(sessions::delete))
        .route("/api/v1/domains", post(directory::create_domain))
        .route(
            "/api/v1/users/{user}",
            get(directory::get_user).delete(directory::delete_user),
        )
        .route(
            "/api/v1/groups/{group}",
            get(directory::get_group).delete(directory::delete_group),
        )
        .route("/api/v1/groups/{group}/members", get(members::list_members))
        .route(
            "/api/v1/groups/{group}/members/{user}",
            put(members::assign).delete(members::unassign),
        )
        .route("/api/v1/users/{user}/groups", get(members::list_groups))
        .route(
            "/api/v1/users",
            get(directory::list_users).post(directory::create_user),
        )
        .route(
            "/api/v1/groups",
            get(directory::list_groups).post(directory::create_group),
        )
        .route(
            "/api/v1/grants",
            get(access::list_grants)
                .put(access::put_grant)
                .delete(access::delete_grant),
        )
        .route(
            "/api/v1/check",
            get(access::check).post(access::check_batch),
        )
        .route("/api/v1/users/{user}/permissions", get(access::permissions))
        .route("/api/v1/groups/{group}/members/diff", get(history::diff))
        .route(
            "/api/v1/groups/{group}/history",
            get(history::group_history),
        )
        .route("/api/v1/users/{user}/history", get(history::user_history))
        .route("/api/v1/events", get(history::events))
        .route("/api/v1/log/head", get(history::head))
}

/// Validates an optional reason: trimmed, empty means none, bounded length.
pub fn checked_reason(reason: Option<String>) -> Result<Option<String>, ApiError> {
    let reason = reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    match reason {
        Some(r) if r.chars().count() > MAX_REASON_CHARS => Err(ApiError::Unprocessable(format!(
            "reason is longer than {MAX_REASON_CHARS} characters"
        ))),
        Some(r) if r.chars().any(|c| c.is_control() && c != '\n' && c != '\t') => Err(
            ApiError::Unprocessable("reason must not contain control characters".into()),
        ),
        r => Ok(r),
    }
}

/// Sends `command` on behalf of `caller` to the writer and waits for its
/// durable outcome. Every write of both APIs goes through here.
pub async fn execute(
    app: &AppState,
    caller: Caller,
    rid: RequestId,
    reason: Option<String>,
    command: Command,
) -> Result<Applied, ApiError> {
    let req = Request {
        caller: Some(caller.0),
        request_id: Some(rid.0),
        reason: checked_reason(reason)?,
        command,
    };
    Ok(app.writer.execute(req).await?)
}

/// Hashes a new user's password after checking the policy (on a blocking
/// thread: argon2 is deliberately slow).
pub async fn new_password_hash(password: String) -> Result<String, ApiError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ApiError::Unprocessable(format!(
            "password must be at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(ApiError::Unprocessable(format!(
            "password must be at most {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    tokio::task::spawn_blocking(move || crate::auth::password::hash(&password))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?
        .map_err(ApiError::Internal)
}

/// Passwords shorter than this are refused outright.
const MIN_PASSWORD_CHARS: usize = 8;
/// Bounds argon2's input and the work an attacker can ask for.
const MAX_PASSWORD_BYTES: usize = 1024;
