//! Domains, users and groups: create, read, delete.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use crate::commands::{Command, Created, Outcome};
use crate::domain::{Ident, Kind, Name};
use crate::http::error::ApiResult;
use crate::http::extract::{ApiJson, ApiPath, Caller, RequestId};
use crate::http::{ApiError, AppState};
use crate::queries::{self, GroupView, UserView};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDomain {
    name: String,
    parent: Option<String>,
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    name: String,
    domain: Option<String>,
    password: Option<String>,
    realname: Option<String>,
    email: Option<String>,
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    name: String,
    domain: Option<String>,
    summary: Option<String>,
    email: Option<String>,
    reason: Option<String>,
}

/// Bounds free-text attributes (real name, e-mail, summary).
const MAX_TEXT_CHARS: usize = 500;

fn name(kind: Kind, raw: &str) -> ApiResult<Name> {
    Name::parse(kind, raw).map_err(|e| ApiError::Unprocessable(e.to_string()))
}

fn text(field: &str, value: Option<String>) -> ApiResult<Option<String>> {
    let value = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    match value {
        Some(v) if v.chars().count() > MAX_TEXT_CHARS => Err(ApiError::Unprocessable(format!(
            "{field} is longer than {MAX_TEXT_CHARS} characters"
        ))),
        Some(v) if v.chars().any(char::is_control) => Err(ApiError::Unprocessable(format!(
            "{field} must not contain control characters"
        ))),
        v => Ok(v),
    }
}

async fn create(
    app: &AppState,
    caller: Caller,
    rid: RequestId,
    reason: Option<String>,
    command: Command,
) -> ApiResult<(StatusCode, Json<Created>)> {
    match super::execute(app, caller, rid, reason, command)
        .await?
        .outcome
    {
        Outcome::Created(c) => Ok((StatusCode::CREATED, Json(c))),
        other => Err(ApiError::Internal(anyhow::anyhow!(
            "create answered {other:?}"
        ))),
    }
}

pub async fn create_domain(
    State(app): State<AppState>,
    caller: Caller,
    rid: RequestId,
    ApiJson(body): ApiJson<NewDomain>,
) -> ApiResult<(StatusCode, Json<Created>)> {
    let command = Command::CreateDomain {
        name: name(Kind::Domain, &body.name)?,
        parent: body.parent.as_deref().map(Ident::parse_domain),
    };
    create(&app, caller, rid, body.reason, command).await
}

pub async fn create_user(
    State(app): State<AppState>,
    caller: Caller,
    rid: RequestId,
    ApiJson(body): ApiJson<NewUser>,
) -> ApiResult<(StatusCode, Json<Created>)> {
    let name = name(Kind::User, &body.name)?;
    let password_hash = match body.password {
        Some(p) => Some(super::new_password_hash(p).await?),
        None => None,
    };
    let command = Command::CreateUser {
        name,
        domain: body.domain.as_deref().map(Ident::parse_domain),
        realname: text("realname", body.realname)?,
        email: text("email", body.email)?,
        password_hash,
    };
    create(&app, caller, rid, body.reason, command).await
}

pub async fn create_group(
    State(app): State<AppState>,
    caller: Caller,
    rid: RequestId,
    ApiJson(body): ApiJson<NewGroup>,
) -> ApiResult<(StatusCode, Json<Created>)> {
    let command = Command::CreateGroup {
        name: name(Kind::Group, &body.name)?,
        domain: body.domain.as_deref().map(Ident::parse_domain),
        summary: text("summary", body.summary)?,
        email: text("email", body.email)?,
    };
    create(&app, caller, rid, body.reason, command).await
}

pub async fn get_user(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(user): ApiPath<String>,
) -> ApiResult<Json<UserView>> {
    let state = app.read.snapshot();
    Ok(Json(queries::user(
        &state,
        Some(caller.0),
        &Ident::parse(Kind::User, &user),
    )?))
}

pub async fn get_group(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(group): ApiPath<String>,
) -> ApiResult<Json<GroupView>> {
    let state = app.read.snapshot();
    Ok(Json(queries::group(
        &state,
        Some(caller.0),
        &Ident::parse(Kind::Group, &group),
    )?))
}

async fn delete(
    app: &AppState,
    caller: Caller,
    rid: RequestId,
    reason: Option<String>,
    command: Command,
) -> ApiResult<StatusCode> {
    super::execute(app, caller, rid, reason, command).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct ReasonQuery {
    reason: Option<String>,
}

pub async fn delete_user(
    State(app): State<AppState>,
    caller: Caller,
    rid: RequestId,
    ApiPath(user): ApiPath<String>,
    crate::http::extract::ApiQuery(q): crate::http::extract::ApiQuery<ReasonQuery>,
) -> ApiResult<StatusCode> {
    let command = Command::DeleteUser {
        user: Ident::parse(Kind::User, &user),
    };
    let status = delete(&app, caller, rid, q.reason, command).await?;
    Ok(status)
}

pub async fn delete_group(
    State(app): State<AppState>,
    caller: Caller,
    rid: RequestId,
    ApiPath(group): ApiPath<String>,
    crate::http::extract::ApiQuery(q): crate::http::extract::ApiQuery<ReasonQuery>,
) -> ApiResult<StatusCode> {
    let command = Command::DeleteGroup {
        group: Ident::parse(Kind::Group, &group),
    };
    delete(&app, caller, rid, q.reason, command).await
}

#[derive(Deserialize)]
pub struct ListQuery {
    cursor: Option<String>,
    limit: Option<usize>,
}

#[derive(serde::Serialize)]
pub struct UserList {
    users: Vec<UserView>,
    next_cursor: Option<String>,
    position: i64,
}

#[derive(serde::Serialize)]
pub struct GroupList {
    groups: Vec<GroupView>,
    next_cursor: Option<String>,
    position: i64,
}

/// `GET /api/v1/users`: the users the caller can see, paginated.
pub async fn list_users(
    State(app): State<AppState>,
    caller: Caller,
    crate::http::extract::ApiQuery(q): crate::http::extract::ApiQuery<ListQuery>,
) -> ApiResult<Json<UserList>> {
    let req = queries::PageRequest::parse(q.cursor.as_deref(), q.limit)?;
    let state = app.read.snapshot();
    let page = queries::users(&state, Some(caller.0), req);
    Ok(Json(UserList {
        users: page.items,
        next_cursor: page.next_cursor,
        position: state.head.seq,
    }))
}

/// `GET /api/v1/groups`: the groups the caller can see, paginated.
pub async fn list_groups(
    State(app): State<AppState>,
    caller: Caller,
    crate::http::extract::ApiQuery(q): crate::http::extract::ApiQuery<ListQuery>,
) -> ApiResult<Json<GroupList>> {
    let req = queries::PageRequest::parse(q.cursor.as_deref(), q.limit)?;
    let state = app.read.snapshot();
    let page = queries::groups(&state, Some(caller.0), req);
    Ok(Json(GroupList {
        groups: page.items,
        next_cursor: page.next_cursor,
        position: state.head.seq,
    }))
}
