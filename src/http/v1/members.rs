//! Memberships: assign, unassign, and the two directions of listing them
//! (now, or `as_of` a past moment through [`super::history`]).

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::commands::{Command, Outcome};
use crate::domain::{Ident, Kind};
use crate::http::error::ApiResult;
use crate::http::extract::{ApiPath, ApiQuery, Caller, RequestId};
use crate::http::{json, ApiError, AppState};
use crate::queries::{self, GroupRef, GroupView, PageRequest, UserRef, UserView};

#[derive(Deserialize)]
pub struct ChangeQuery {
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeBody {
    reason: Option<String>,
}

#[derive(Serialize)]
pub struct Changed {
    changed: bool,
    position: i64,
}

/// The reason may come as `?reason=` or as `{"reason": "..."}`; the body wins.
fn reason(q: ChangeQuery, body: &Bytes) -> ApiResult<Option<String>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(q.reason);
    }
    let b: ChangeBody = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))?;
    Ok(b.reason.or(q.reason))
}

async fn change(
    app: &AppState,
    caller: Caller,
    rid: RequestId,
    reason: Option<String>,
    command: Command,
) -> ApiResult<Json<Changed>> {
    let applied = super::execute(app, caller, rid, reason, command).await?;
    match applied.outcome {
        Outcome::Membership { changed, .. } => Ok(Json(Changed {
            changed,
            position: applied.position,
        })),
        other => Err(ApiError::Internal(anyhow::anyhow!(
            "membership change answered {other:?}"
        ))),
    }
}

pub async fn assign(
    State(app): State<AppState>,
    caller: Caller,
    rid: RequestId,
    ApiPath((group, user)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<ChangeQuery>,
    body: Bytes,
) -> ApiResult<Json<Changed>> {
    let command = Command::Assign {
        user: Ident::parse(Kind::User, &user),
        group: Ident::parse(Kind::Group, &group),
    };
    change(&app, caller, rid, reason(q, &body)?, command).await
}

pub async fn unassign(
    State(app): State<AppState>,
    caller: Caller,
    rid: RequestId,
    ApiPath((group, user)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<ChangeQuery>,
    body: Bytes,
) -> ApiResult<Json<Changed>> {
    let command = Command::Unassign {
        user: Ident::parse(Kind::User, &user),
        group: Ident::parse(Kind::Group, &group),
    };
    change(&app, caller, rid, reason(q, &body)?, command).await
}

#[derive(Deserialize)]
pub struct ListQuery {
    cursor: Option<String>,
    limit: Option<usize>,
    /// A past moment (position or RFC 3339 time): answered from history.
    as_of: Option<String>,
}

/// About how many bytes a page's answer takes besides its items, and each
/// item: the answer's buffer is made that large at once ([`json::sized`]).
const ANSWER_BYTES: usize = 512;
const ITEM_BYTES: usize = 192;

/// A page of members, borrowed from the snapshot it was read from.
#[derive(Serialize)]
pub struct MembersPage<'s> {
    group: GroupView,
    members: Vec<UserRef<'s>>,
    next_cursor: Option<String>,
    position: i64,
}

#[derive(Serialize)]
pub struct GroupsPage<'s> {
    user: UserView,
    groups: Vec<GroupRef<'s>>,
    next_cursor: Option<String>,
    position: i64,
}

pub async fn list_members(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(group): ApiPath<String>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    let req = PageRequest::parse(q.cursor.as_deref(), q.limit)?;
    if let Some(as_of) = q.as_of {
        return Ok(
            super::history::members_as_of(&app, caller, group, &as_of, req)
                .await?
                .into_response(),
        );
    }
    let state = app.read.snapshot();
    let (group, page) = queries::group_members(
        &state,
        Some(caller.0),
        &Ident::parse(Kind::Group, &group),
        req,
    )?;
    let capacity = ANSWER_BYTES + ITEM_BYTES * page.items.len();
    let answer = MembersPage {
        group,
        members: page.items,
        next_cursor: page.next_cursor,
        position: state.head.seq,
    };
    Ok(json::sized(&answer, capacity))
}

pub async fn list_groups(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(user): ApiPath<String>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    let req = PageRequest::parse(q.cursor.as_deref(), q.limit)?;
    if let Some(as_of) = q.as_of {
        return Ok(
            super::history::groups_as_of(&app, caller, user, &as_of, req)
                .await?
                .into_response(),
        );
    }
    let state = app.read.snapshot();
    let (user, page) = queries::user_groups(
        &state,
        Some(caller.0),
        &Ident::parse(Kind::User, &user),
        req,
    )?;
    let capacity = ANSWER_BYTES + ITEM_BYTES * page.items.len();
    let answer = GroupsPage {
        user,
        groups: page.items,
        next_cursor: page.next_cursor,
        position: state.head.seq,
    };
    Ok(json::sized(&answer, capacity))
}
