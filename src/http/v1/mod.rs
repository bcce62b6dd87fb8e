//! The JSON API under `/api/v1`: bearer or cookie auth, real status codes,
//! errors as `{"error": "..."}`.

mod directory;
mod history;
mod members;
mod sessions;

use axum::routing::{delete, get, post, put};
use axum::Router;

use super::{ApiError, AppState};

/// The longest reason text stored on an event, in characters.
pub const MAX_REASON_CHARS: usize = 1000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/sessions", post(sessions::create))
        .route("/api/v1/sessions/current", delete(sessions::delete))
        .route("/api/v1/domains", post(directory::create_domain))
        .route("/api/v1/users", post(directory::create_user))
        .route("/api/v1/groups", post(directory::create_group))
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
