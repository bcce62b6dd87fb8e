//! The audit endpoints: membership as of a past moment, the diff between two
//! moments, an object's history, the change feed and the log head.
//!
//! Past membership is answered from the history views through the read pool
//! (one read transaction per request), never by replaying the log. Any
//! logged-in caller may ask (permission rules come later).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use std::time::Duration;

use crate::audit::as_of::{self, At, Change, HistoryError, Membership, Object, Point};
use crate::audit::history::{self, Entry};
use crate::domain::{Ident, Kind};
use crate::events::Recorded;
use crate::http::error::ApiResult;
use crate::http::extract::{ApiPath, ApiQuery, Caller};
use crate::http::{ApiError, AppState};
use crate::log;
use crate::queries::PageRequest;

/// The longest a change-feed request may be held open.
pub const MAX_WAIT_SECS: u64 = 60;

/// The longest an audit question waits for the history views to catch up.
const VIEWS_WAIT: Duration = Duration::from_secs(10);

/// Runs a history question on a pooled read connection, in one read
/// transaction, with the current snapshot for resolving today's names.
pub(crate) async fn ask<T, F>(app: &AppState, f: F) -> ApiResult<T>
where
    T: Send + 'static,
    F: FnOnce(&rusqlite::Connection, &crate::state::State) -> Result<T, HistoryError>
        + Send
        + 'static,
{
    let state = app.read.snapshot();
    // The history views are written a little behind the log: wait until they
    // hold everything this snapshot does, so an audit answer never misses a
    // change the caller has already seen acknowledged.
    if !app.read.wait_for_views(state.head.seq, VIEWS_WAIT).await {
        return Err(ApiError::Unavailable(
            "the history views are catching up with the log; try again shortly".into(),
        ));
    }
    let answer = app
        .pool
        .run(move |conn| {
            let tx = conn.unchecked_transaction()?;
            let out = f(&tx, &state);
            tx.finish()?;
            Ok(out)
        })
        .await
        .map_err(ApiError::Internal)?;
    Ok(answer?)
}

/// Like [`ask`], and serializes the answer as JSON on the same blocking
/// thread, into a plain buffer. A page of a thousand members is ~250 KB:
/// written piecemeal through axum's `Json` (a growing `BytesMut` behind an
/// `io::Write`) it took about as long as the query, and on the executor.
async fn ask_json<T, F>(app: &AppState, f: F) -> ApiResult<Response>
where
    T: Serialize,
    F: FnOnce(&rusqlite::Connection, &crate::state::State) -> Result<T, HistoryError>
        + Send
        + 'static,
{
    let body = ask(app, move |conn, state| {
        Ok(serde_json::to_vec(&f(conn, state)?))
    })
    .await?
    .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

#[derive(Serialize)]
pub struct MembersAsOf {
    group: Object,
    members: Vec<Membership>,
    next_cursor: Option<String>,
    position: i64,
    as_of: At,
}

#[derive(Serialize)]
pub struct GroupsAsOf {
    user: Object,
    groups: Vec<Membership>,
    next_cursor: Option<String>,
    position: i64,
    as_of: At,
}

/// `GET /api/v1/groups/{group}/members?as_of=`: the members then, each with
/// the event that made them one. The group is named as it was then.
pub async fn members_as_of(
    app: &AppState,
    caller: Caller,
    group: String,
    as_of: &str,
    req: PageRequest,
) -> ApiResult<Response> {
    let point = Point::parse(as_of)?;
    ask_json(app, move |conn, state| {
        let at = as_of::locate(conn, &point)?;
        let ident = Ident::parse(Kind::Group, &group);
        let group = as_of::resolve(
            conn,
            state,
            Some(caller.0),
            Kind::Group,
            &ident,
            Some(at.position),
        )?;
        let (members, next_cursor) = as_of::members_at(conn, state, group.id, at.position, req)?;
        Ok(MembersAsOf {
            group,
            members,
            next_cursor,
            position: at.position,
            as_of: at,
        })
    })
    .await
}

/// `GET /api/v1/users/{user}/groups?as_of=`: the groups then, Everyone included.
pub async fn groups_as_of(
    app: &AppState,
    caller: Caller,
    user: String,
    as_of: &str,
    req: PageRequest,
) -> ApiResult<Response> {
    let point = Point::parse(as_of)?;
    ask_json(app, move |conn, state| {
        let at = as_of::locate(conn, &point)?;
        let ident = Ident::parse(Kind::User, &user);
        let user = as_of::resolve(
            conn,
            state,
            Some(caller.0),
            Kind::User,
            &ident,
            Some(at.position),
        )?;
        let (groups, next_cursor) = as_of::groups_at(conn, user.id, at.position, req)?;
        Ok(GroupsAsOf {
            user,
            groups,
            next_cursor,
            position: at.position,
            as_of: at,
        })
    })
    .await
}

#[derive(Deserialize)]
pub struct DiffQuery {
    from: String,
    to: Option<String>,
    cursor: Option<String>,
    limit: Option<usize>,
}

#[derive(Serialize)]
pub struct DiffAnswer {
    group: Object,
    from: At,
    to: At,
    joined: Vec<Change>,
    left: Vec<Change>,
    next_cursor: Option<String>,
}

/// `GET /api/v1/groups/{group}/members/diff?from=&to=`: who joined and who
/// left in between (`to` defaults to the head). The group is named as it
/// was at `to`, or at `from` if it was deleted in between.
pub async fn diff(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(group): ApiPath<String>,
    ApiQuery(q): ApiQuery<DiffQuery>,
) -> ApiResult<Json<DiffAnswer>> {
    let req = PageRequest::parse(q.cursor.as_deref(), q.limit)?;
    let from = Point::parse(&q.from)?;
    let to = q.to.as_deref().map(Point::parse).transpose()?;
    let answer = ask(&app, move |conn, state| {
        let from = as_of::locate(conn, &from)?;
        let to = match to {
            Some(p) => as_of::locate(conn, &p)?,
            None => {
                let head = log::head(conn)?.map_or(0, |(s, _)| s);
                as_of::locate(conn, &Point::Position(head))?
            }
        };
        let ident = Ident::parse(Kind::Group, &group);
        let caller = Some(caller.0);
        let group = as_of::resolve(conn, state, caller, Kind::Group, &ident, Some(to.position))
            .or_else(|_| {
                as_of::resolve(
                    conn,
                    state,
                    caller,
                    Kind::Group,
                    &ident,
                    Some(from.position),
                )
            })?;
        let d = as_of::diff(conn, group.id, from.position, to.position, req)?;
        Ok(DiffAnswer {
            group,
            from,
            to,
            joined: d.joined,
            left: d.left,
            next_cursor: d.next_cursor,
        })
    })
    .await?;
    Ok(Json(answer))
}

#[derive(Deserialize)]
pub struct PageQuery {
    cursor: Option<String>,
    limit: Option<usize>,
}

#[derive(Serialize)]
pub struct HistoryPage {
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<Object>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<Object>,
    events: Vec<Entry>,
    next_cursor: Option<String>,
}

async fn history_of(
    app: &AppState,
    caller: Caller,
    kind: Kind,
    raw: String,
    q: PageQuery,
) -> ApiResult<Json<HistoryPage>> {
    let req = PageRequest::parse(q.cursor.as_deref(), q.limit)?;
    let answer = ask(app, move |conn, state| {
        let ident = Ident::parse(kind, &raw);
        let object = as_of::resolve_any(conn, state, Some(caller.0), kind, &ident)?;
        let (events, next_cursor) = history::page(conn, kind, object.id, req)?;
        let (group, user) = match kind {
            Kind::Group => (Some(object), None),
            _ => (None, Some(object)),
        };
        Ok(HistoryPage {
            group,
            user,
            events,
            next_cursor,
        })
    })
    .await?;
    Ok(Json(answer))
}

/// `GET /api/v1/groups/{group}/history`: the events touching a group, newest first.
pub async fn group_history(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(group): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<HistoryPage>> {
    history_of(&app, caller, Kind::Group, group, q).await
}

/// `GET /api/v1/users/{user}/history`: the events touching a user, newest first.
pub async fn user_history(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(user): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<HistoryPage>> {
    history_of(&app, caller, Kind::User, user, q).await
}

#[derive(Deserialize)]
pub struct EventsQuery {
    #[serde(default)]
    after: i64,
    limit: Option<usize>,
    wait: Option<u64>,
}

#[derive(Serialize)]
pub struct EventsPage {
    /// Every column of each event, as `rollcall export` writes them.
    events: Vec<Recorded>,
    /// The log head when the page was read.
    head: i64,
}

/// `GET /api/v1/events?after=N&limit=M[&wait=S]`: events after `N` in log
/// order with their hashes; with `wait`, held open up to S seconds (at most
/// 60) until there is one.
pub async fn events(
    State(app): State<AppState>,
    _caller: Caller,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> ApiResult<Json<EventsPage>> {
    let req = PageRequest::parse(None, q.limit)?;
    if q.after < 0 {
        return Err(ApiError::BadRequest("after must not be negative".into()));
    }
    let wait = q.wait.unwrap_or(0);
    if wait > MAX_WAIT_SECS {
        return Err(ApiError::BadRequest(format!(
            "wait must be at most {MAX_WAIT_SECS} seconds"
        )));
    }
    if wait > 0 {
        // Answer (empty) before the request time-out would: a tailing
        // client simply asks again.
        let longest = app
            .limits
            .request_timeout
            .saturating_sub(Duration::from_millis(500));
        let wait = Duration::from_secs(wait).min(longest);
        // Resolves at once when the log already holds an event after `after`.
        let _ = app.read.wait_for(q.after + 1, wait).await;
    }
    let after = q.after;
    let page = app
        .pool
        .run(move |conn| {
            let tx = conn.unchecked_transaction()?;
            let events = log::read_after(&tx, after, req.limit)?;
            let head = log::head(&tx)?.map_or(0, |(s, _)| s);
            Ok(EventsPage { events, head })
        })
        .await
        .map_err(ApiError::Internal)?;
    Ok(Json(page))
}

#[derive(Serialize)]
pub struct LogHead {
    position: i64,
    hash: String,
}

/// `GET /api/v1/log/head`: the position and hash of the last committed event.
pub async fn head(State(app): State<AppState>, _caller: Caller) -> Json<LogHead> {
    let state = app.read.snapshot();
    Json(LogHead {
        position: state.head.seq,
        hash: state.head.hash.clone(),
    })
}
