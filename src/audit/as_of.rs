//! The past, answered from the history views' indexes (never by replaying):
//! what position a time means, what a name meant then, who was in a group and
//! which groups a user was in at a position, and what changed between two.
//!
//! Every function takes a connection the caller has put inside one read
//! transaction, so an answer is consistent with one log head.

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

use crate::domain::{DomainId, DomainPath, Ident, Kind, UserId, EVERYONE};
use crate::log;
use crate::queries::{encode_cursor, PageRequest, QueryError};
use crate::state::{ResolveError, State};

/// Why a question about the past could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// A malformed `as_of`, `from`, `to` or cursor (HTTP 400).
    #[error("{0}")]
    BadRequest(String),
    /// Well-formed but unanswerable: after the head, `from` after `to` (HTTP 422).
    #[error("{0}")]
    Unprocessable(String),
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
}

pub type HistoryResult<T> = Result<T, HistoryError>;

/// A moment as a caller names it: a log position or a time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Point {
    Position(i64),
    /// Normalised to the log's own form (UTC, milliseconds, `Z`), so that it
    /// compares with `occurred_at` as text.
    Time(String),
}

impl Point {
    /// Parses `N` (a position, 0 = before the first event) or an RFC 3339 time.
    pub fn parse(raw: &str) -> HistoryResult<Point> {
        let raw = raw.trim();
        if let Ok(n) = raw.parse::<i64>() {
            return if n >= 0 {
                Ok(Point::Position(n))
            } else {
                Err(HistoryError::BadRequest(format!(
                    "position {n} is negative"
                )))
            };
        }
        DateTime::parse_from_rfc3339(raw)
            .map(|t| {
                // Truncating to milliseconds keeps "last event at or before t" exact.
                Point::Time(
                    t.with_timezone(&Utc)
                        .to_rfc3339_opts(SecondsFormat::Millis, true),
                )
            })
            .map_err(|_| {
                HistoryError::BadRequest(format!(
                    "{raw:?} is neither a log position nor an RFC 3339 time (e.g. 2026-03-01T09:30:00Z)"
                ))
            })
    }
}

/// A resolved moment: the log position, and the time of the event there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct At {
    pub position: i64,
    /// `None` at position 0, before anything happened.
    pub time: Option<String>,
}

/// The last position whose event happened at or before `time` (0 if none).
///
/// `occurred_at` never decreases along the log (the writer keeps it so and
/// `verify`/`import` check it), so this is a binary search on the primary
/// key: about 20 lookups for a million events, no index on time needed.
pub fn position_at(conn: &Connection, time: &str) -> rusqlite::Result<i64> {
    let head = log::head(conn)?.map_or(0, |(seq, _)| seq);
    let mut stmt = conn.prepare_cached("SELECT occurred_at FROM events WHERE seq = ?1")?;
    let (mut lo, mut hi) = (0_i64, head);
    while lo < hi {
        let mid = lo + (hi - lo + 1) / 2;
        let at: String = stmt.query_row([mid], |r| r.get(0))?;
        if at.as_str() <= time {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Ok(lo)
}

/// Turns a point into a position no later than the head.
pub fn locate(conn: &Connection, point: &Point) -> HistoryResult<At> {
    let head = log::head(conn)?.map_or(0, |(seq, _)| seq);
    let position = match point {
        Point::Position(n) if *n > head => {
            return Err(HistoryError::Unprocessable(format!(
                "position {n} is after the log head ({head})"
            )))
        }
        Point::Position(n) => *n,
        Point::Time(t) => position_at(conn, t)?,
    };
    Ok(At {
        position,
        time: time_of(conn, position)?,
    })
}

fn time_of(conn: &Connection, seq: i64) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT occurred_at FROM events WHERE seq = ?1")?
        .query_row([seq], |r| r.get(0))
        .optional()
}

/// The text `view_directory` and `view_history` use for a kind.
pub fn kind_str(kind: Kind) -> &'static str {
    match kind {
        Kind::User => "user",
        Kind::Group => "group",
        Kind::Domain => "domain",
    }
}

/// When something happened: its position and time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Moment {
    pub position: i64,
    pub time: String,
}

/// A user, group or domain as it was named, alive or long deleted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Object {
    pub id: i64,
    pub name: String,
    /// The qualified name of its domain (empty for the root domain).
    pub domain: String,
    pub qualified_name: String,
    pub created: Moment,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted: Option<Moment>,
}

const OBJECT_COLUMNS: &str =
    "id, name, qualified_name, created_seq, created_at, deleted_seq, deleted_at";

fn object(r: &Row<'_>) -> rusqlite::Result<Object> {
    let name: String = r.get(1)?;
    let qualified_name: String = r.get(2)?;
    let deleted_seq: Option<i64> = r.get(5)?;
    let deleted_at: Option<String> = r.get(6)?;
    Ok(Object {
        id: r.get(0)?,
        domain: domain_part(&qualified_name, &name),
        name,
        qualified_name,
        created: Moment {
            position: r.get(3)?,
            time: r.get(4)?,
        },
        deleted: deleted_seq
            .zip(deleted_at)
            .map(|(position, time)| Moment { position, time }),
    })
}

/// `GLOBAL.Eng` from `GLOBAL.Eng.alice` and `alice`.
fn domain_part(qualified: &str, name: &str) -> String {
    qualified
        .strip_suffix(name)
        .and_then(|d| d.strip_suffix('.'))
        .unwrap_or("")
        .to_owned()
}

impl Object {
    fn alive_at(&self, position: i64) -> bool {
        self.created.position <= position
            && self.deleted.as_ref().is_none_or(|d| d.position > position)
    }
}

/// Looks an object up by id in the directory of everything that ever existed.
pub fn object_by_id(conn: &Connection, kind: Kind, id: i64) -> rusqlite::Result<Option<Object>> {
    conn.prepare_cached(&format!(
        "SELECT {OBJECT_COLUMNS} FROM view_directory WHERE kind = ?1 AND id = ?2"
    ))?
    .query_row(params![kind_str(kind), id], object)
    .optional()
}

/// Resolves what `ident` named at `at` (alive then), or at any time when
/// `at` is `None`. Ids name one object for ever; a qualified name is looked
/// up in the domain its path names today (domains are never deleted); a
/// plain name among the domains the caller can see, as for live lookups.
/// A name that meant several objects is ambiguous: ask by id.
pub fn resolve(
    conn: &Connection,
    state: &State,
    caller: Option<UserId>,
    kind: Kind,
    ident: &Ident,
    at: Option<i64>,
) -> HistoryResult<Object> {
    let alive = |o: &Object| at.is_none_or(|p| o.alive_at(p));
    match ident {
        Ident::Id(id) => object_by_id(conn, kind, *id)?
            .filter(alive)
            .ok_or(HistoryError::Resolve(ResolveError::IdNotFound(kind, *id))),
        Ident::Qualified { domain, name } => {
            let domain_id = state.resolve_domain(caller, &domain_ident(domain))?;
            let found = candidates(conn, kind, name, at)?
                .into_iter()
                .filter(|(_, d)| *d == Some(domain_id.0))
                .map(|(o, _)| o)
                .collect();
            one(found, kind, ident)
        }
        Ident::Plain(name) => {
            let home = state.home_of(caller);
            let found = candidates(conn, kind, name, at)?
                .into_iter()
                .filter(|(_, d)| d.is_none_or(|d| state.can_see(home, crate::domain::DomainId(d))))
                .map(|(o, _)| o)
                .collect();
            one(found, kind, ident)
        }
    }
}

/// Objects of `kind` named `name`, alive at `at` (any time for `None`), with their domain.
fn candidates(
    conn: &Connection,
    kind: Kind,
    name: &str,
    at: Option<i64>,
) -> rusqlite::Result<Vec<(Object, Option<i64>)>> {
    let mut stmt = conn.prepare_cached(&format!(
        // Without statistics the planner would rather walk every object of
        // the kind in id order (the primary key) than use the name index.
        "SELECT {OBJECT_COLUMNS}, domain_id FROM view_directory INDEXED BY view_directory_by_name
          WHERE kind = ?1 AND name = ?2 ORDER BY id"
    ))?;
    let rows = stmt.query_map(params![kind_str(kind), name], |r| {
        Ok((object(r)?, r.get::<_, Option<i64>>(7)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (o, domain) = row?;
        if at.is_none_or(|p| o.alive_at(p)) {
            out.push((o, domain));
        }
    }
    Ok(out)
}

fn one(mut found: Vec<Object>, kind: Kind, ident: &Ident) -> HistoryResult<Object> {
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(ResolveError::NotFound(kind, ident.to_string()).into()),
        _ => Err(ResolveError::Ambiguous(kind, ident.to_string()).into()),
    }
}

/// The domain a qualified name's path names, as a domain identifier.
fn domain_ident(path: &DomainPath) -> Ident {
    match path.0.split_last() {
        Some((last, [])) => Ident::Plain(last.clone()),
        Some((last, parents)) => Ident::Qualified {
            domain: DomainPath(parents.to_vec()),
            name: last.clone(),
        },
        None => Ident::Plain(String::new()),
    }
}

/// Resolves an object for its history: a live object by today's rules first,
/// else anything that ever existed under that identifier.
pub fn resolve_any(
    conn: &Connection,
    state: &State,
    caller: Option<UserId>,
    kind: Kind,
    ident: &Ident,
) -> HistoryResult<Object> {
    let live = match kind {
        Kind::User => state.resolve_user(caller, ident).map(|u| u.0),
        Kind::Group => state.resolve_group(caller, ident).map(|g| g.0),
        Kind::Domain => state.resolve_domain(caller, ident).map(|d| d.0),
    };
    match live {
        Ok(id) => object_by_id(conn, kind, id)?
            .ok_or(HistoryError::Resolve(ResolveError::IdNotFound(kind, id))),
        Err(e @ ResolveError::Ambiguous(..)) => Err(e.into()),
        Err(_) => resolve(conn, state, caller, kind, ident, None),
    }
}

// ---- who was where --------------------------------------------------------------------

/// Who did something: a user id and the user's qualified name (names never
/// change, so this is the name it had then; it stays known after a delete).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Actor {
    pub id: i64,
    pub name: Option<String>,
}

/// An event, briefly: enough for an auditor to see when, who and why, and to
/// fetch the whole of it from `/api/v1/events`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EventRef {
    pub position: i64,
    pub time: String,
    /// Absent where the answer comes from a membership interval alone (an
    /// as-of member's `since`, a diff's `event`): fetch the event by position.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// `None` for the system (the bootstrap).
    pub actor: Option<Actor>,
    pub reason: Option<String>,
    pub request_id: Option<String>,
}

/// Selects an `EventRef` from `events e` joined with the actor's directory row `a`.
const EVENT_COLUMNS: &str =
    "e.seq, e.occurred_at, e.event_type, e.actor, a.qualified_name, e.reason, e.request_id";
const ACTOR_JOIN: &str = "LEFT JOIN view_directory a ON a.kind = 'user' AND a.id = e.actor";
/// The same from an interval's opening (`from`) or closing (`to`) columns:
/// no lookup in the (large) log, so a page of members costs index reads only.
const OPENED: &str =
    "i.from_seq, i.from_at, NULL, i.from_actor, a.qualified_name, i.from_reason, i.from_request_id";
const OPENED_BY: &str = "LEFT JOIN view_directory a ON a.kind = 'user' AND a.id = i.from_actor";
const CLOSED: &str =
    "i.to_seq, i.to_at, NULL, i.to_actor, a.qualified_name, i.to_reason, i.to_request_id";
const CLOSED_BY: &str = "LEFT JOIN view_directory a ON a.kind = 'user' AND a.id = i.to_actor";

/// An interval's opening event without the actor's name (see [`Names::event_ref`]).
const OPENED_ONLY: &str = "i.from_seq, i.from_at, i.from_actor, i.from_reason, i.from_request_id";

/// Names for the rows of one answer, each looked up once.
///
/// Users and groups alive now are named from the in-memory state: names
/// never change and ids are never reused, so today's name is the one the
/// object had then. Objects deleted since come from the directory of
/// everything that ever existed. Either way no row of the answer costs a
/// join in SQLite.
struct Names<'a> {
    conn: &'a Connection,
    state: &'a State,
    /// Qualified domain names, by domain id.
    domains: HashMap<DomainId, String>,
    /// Actors' qualified names (`None`: not in the directory), by user id.
    actors: HashMap<i64, Option<String>>,
}

impl<'a> Names<'a> {
    fn new(conn: &'a Connection, state: &'a State) -> Self {
        Names {
            conn,
            state,
            domains: HashMap::new(),
            actors: HashMap::new(),
        }
    }

    fn domain(&mut self, id: DomainId) -> &str {
        let state = self.state;
        self.domains
            .entry(id)
            .or_insert_with(|| state.domain_path(id))
    }

    /// A user as named then.
    fn user(&mut self, id: i64) -> HistoryResult<Named> {
        match self.state.user(crate::domain::UserId(id)) {
            Some(u) => {
                let u = Arc::clone(u);
                Ok(self.named_in(id, u.domain, u.name.as_str()))
            }
            None => self.in_directory(Kind::User, id),
        }
    }

    fn named_in(&mut self, id: i64, domain: DomainId, name: &str) -> Named {
        let domain = self.domain(domain);
        let mut qualified_name = String::with_capacity(domain.len() + 1 + name.len());
        qualified_name.push_str(domain);
        qualified_name.push('.');
        qualified_name.push_str(name);
        Named {
            id,
            name: name.to_owned(),
            domain: domain.to_owned(),
            qualified_name,
        }
    }

    fn in_directory(&self, kind: Kind, id: i64) -> HistoryResult<Named> {
        let o = object_by_id(self.conn, kind, id)?
            .ok_or_else(|| HistoryError::Sql(rusqlite::Error::QueryReturnedNoRows))?;
        Ok(Named {
            id,
            name: o.name,
            domain: o.domain,
            qualified_name: o.qualified_name,
        })
    }

    /// The actor's qualified name: `None` if the directory never had them.
    fn actor(&mut self, id: i64) -> rusqlite::Result<Option<String>> {
        if let Some(name) = self.actors.get(&id) {
            return Ok(name.clone());
        }
        let name = match self.state.user(crate::domain::UserId(id)) {
            Some(u) => Some(self.state.user_qualified(u)),
            None => object_by_id(self.conn, Kind::User, id)?.map(|o| o.qualified_name),
        };
        self.actors.insert(id, name.clone());
        Ok(name)
    }

    /// An `EventRef` from `OPENED_ONLY`'s columns starting at `at`.
    fn event_ref(&mut self, r: &Row<'_>, at: usize) -> rusqlite::Result<EventRef> {
        let actor: Option<i64> = r.get(at + 2)?;
        Ok(EventRef {
            position: r.get(at)?,
            time: r.get(at + 1)?,
            event_type: None,
            actor: match actor {
                Some(id) => Some(Actor {
                    id,
                    name: self.actor(id)?,
                }),
                None => None,
            },
            reason: r.get(at + 3)?,
            request_id: r.get(at + 4)?,
        })
    }
}

fn event_ref(r: &Row<'_>, at: usize) -> rusqlite::Result<EventRef> {
    let actor: Option<i64> = r.get(at + 3)?;
    Ok(EventRef {
        position: r.get(at)?,
        time: r.get(at + 1)?,
        event_type: r.get(at + 2)?,
        actor: match actor {
            Some(id) => Some(Actor {
                id,
                name: r.get(at + 4)?,
            }),
            None => None,
        },
        reason: r.get(at + 5)?,
        request_id: r.get(at + 6)?,
    })
}

/// A name as it was: enough to show and to ask about again (by id).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Named {
    pub id: i64,
    pub name: String,
    pub domain: String,
    pub qualified_name: String,
}

fn named(id: i64, name: String, qualified_name: String) -> Named {
    Named {
        id,
        domain: domain_part(&qualified_name, &name),
        name,
        qualified_name,
    }
}

/// A member (or a group of a user) at some position, and the event that put it there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    /// Serialized inline: `{"id", "name", "domain", "qualified_name", "since"}`.
    pub object: Named,
    pub since: EventRef,
}

/// What `#[serde(flatten)]` on `object` would write, as a plain struct:
/// flatten goes through a map serializer, a tenth of a page of a thousand.
impl Serialize for Membership {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Membership", 5)?;
        st.serialize_field("id", &self.object.id)?;
        st.serialize_field("name", &self.object.name)?;
        st.serialize_field("domain", &self.object.domain)?;
        st.serialize_field("qualified_name", &self.object.qualified_name)?;
        st.serialize_field("since", &self.since)?;
        st.end()
    }
}

/// One page of the members of `group` at `at`, in user-id order.
pub fn members_at(
    conn: &Connection,
    state: &State,
    group: i64,
    at: i64,
    req: PageRequest,
) -> HistoryResult<(Vec<Membership>, Option<String>)> {
    let after = req.after.unwrap_or(0);
    let limit = req.limit as i64 + 1;
    if group == EVERYONE.0 {
        // Everyone's members are the users alive then, members since created.
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT d.id, d.name, d.qualified_name, {EVENT_COLUMNS}
               FROM view_directory d JOIN events e ON e.seq = d.created_seq {ACTOR_JOIN}
              WHERE d.kind = 'user' AND d.id > ?1 AND d.created_seq <= ?2
                AND (d.deleted_seq IS NULL OR d.deleted_seq > ?2)
              ORDER BY d.id LIMIT ?3"
        ))?;
        let rows = stmt.query_map(params![after, at, limit], |r| {
            Ok(Membership {
                object: named(r.get(0)?, r.get(1)?, r.get(2)?),
                since: event_ref(r, 3)?,
            })
        })?;
        return page(rows, req.limit);
    }
    // The interval alone; names come from `Names` (no join per row).
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT i.user_id, {OPENED_ONLY}
           FROM view_membership_intervals i
          WHERE i.group_id = ?1 AND i.user_id > ?2 AND i.from_seq <= ?3
            AND (i.to_seq IS NULL OR i.to_seq > ?3)
          ORDER BY i.user_id LIMIT ?4"
    ))?;
    let mut rows = stmt.query(params![group, after, at, limit])?;
    let mut names = Names::new(conn, state);
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let user = names.user(r.get(0)?)?;
        let since = names.event_ref(r, 1)?;
        out.push(Ok(Membership {
            object: user,
            since,
        }));
    }
    page(out.into_iter(), req.limit)
}

/// One page of the groups `user` was in at `at` (Everyone included), in group-id order.
pub fn groups_at(
    conn: &Connection,
    user: i64,
    at: i64,
    req: PageRequest,
) -> HistoryResult<(Vec<Membership>, Option<String>)> {
    let after = req.after.unwrap_or(0);
    let limit = req.limit as i64 + 1;
    // Everyone (id 1) comes first, since the user's creation; then the
    // explicit memberships open at `at`.
    let sql = format!(
        "SELECT * FROM (
            SELECT g.id, g.name, g.qualified_name, {EVENT_COLUMNS}
              FROM view_directory u
              JOIN view_directory g ON g.kind = 'group' AND g.id = {everyone}
              JOIN events e ON e.seq = u.created_seq {ACTOR_JOIN}
             WHERE u.kind = 'user' AND u.id = ?1 AND ?2 < {everyone}
            UNION ALL
            SELECT i.group_id, g.name, g.qualified_name, {OPENED}
              FROM view_membership_intervals i INDEXED BY view_membership_intervals_by_user
              JOIN view_directory g ON g.kind = 'group' AND g.id = i.group_id {OPENED_BY}
             WHERE i.user_id = ?1 AND i.group_id > ?2 AND i.from_seq <= ?3
               AND (i.to_seq IS NULL OR i.to_seq > ?3)
         ) ORDER BY 1 LIMIT ?4",
        everyone = EVERYONE.0
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![user, after, at, limit], |r| {
        Ok(Membership {
            object: named(r.get(0)?, r.get(1)?, r.get(2)?),
            since: event_ref(r, 3)?,
        })
    })?;
    page(rows, req.limit)
}

/// Collects up to `limit` rows (the query asked for one more, to know
/// whether there is a next page) and the cursor after the last one.
fn page<I>(rows: I, limit: usize) -> HistoryResult<(Vec<Membership>, Option<String>)>
where
    I: Iterator<Item = rusqlite::Result<Membership>>,
{
    let mut out = Vec::new();
    for row in rows {
        let m = row?;
        if out.len() == limit {
            let last = out.last().map(|m: &Membership| m.object.id);
            return Ok((out, last.map(encode_cursor)));
        }
        out.push(m);
    }
    Ok((out, None))
}

// ---- facts at a position, for rules judged in the past ---------------------------------

/// Did `user` exist at `at`?
pub fn user_alive_at(conn: &Connection, user: i64, at: i64) -> rusqlite::Result<bool> {
    Ok(object_by_id(conn, Kind::User, user)?.is_some_and(|u| u.alive_at(at)))
}

/// Was `user` an explicit member of `group` at `at`? (Everyone is implicit.)
pub fn member_at(conn: &Connection, group: i64, user: i64, at: i64) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM view_membership_intervals
                         WHERE group_id = ?1 AND user_id = ?2 AND from_seq <= ?3
                           AND (to_seq IS NULL OR to_seq > ?3))",
    )?
    .query_row(params![group, user, at], |r| r.get(0))
}

/// The groups `user` was an explicit member of at `at`, in id order
/// (Everyone, implicit, is not among them).
pub fn explicit_groups_at(conn: &Connection, user: i64, at: i64) -> rusqlite::Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT group_id FROM view_membership_intervals INDEXED BY view_membership_intervals_by_user
          WHERE user_id = ?1 AND from_seq <= ?2 AND (to_seq IS NULL OR to_seq > ?2)
          ORDER BY group_id",
    )?;
    let rows = stmt.query_map(params![user, at], |r| r.get(0))?;
    rows.collect()
}

// ---- what changed ---------------------------------------------------------------------

/// A member who joined or left between two positions, and the event that did it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    pub user: Named,
    pub event: EventRef,
}

/// The net change of a group's membership between `from` and `to`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Diff {
    /// Members at `to` who were not members at `from`, each with the event
    /// that opened their membership.
    pub joined: Vec<Change>,
    /// Members at `from` who were not members at `to`, each with the event
    /// that ended their membership.
    pub left: Vec<Change>,
    pub next_cursor: Option<String>,
}

/// Who joined and who left `group` between positions `from` and `to`, one
/// page in user-id order across both lists. A user who joined and left
/// again in between is in neither (see the group's history for every event).
pub fn diff(
    conn: &Connection,
    group: i64,
    from: i64,
    to: i64,
    req: PageRequest,
) -> HistoryResult<Diff> {
    if from > to {
        return Err(HistoryError::Unprocessable(format!(
            "from ({from}) is after to ({to})"
        )));
    }
    let after = req.after.unwrap_or(0);
    let limit = req.limit as i64 + 1;
    let sql = if group == EVERYONE.0 {
        format!(
            "SELECT d.id, d.name, d.qualified_name, 1 AS joined, {EVENT_COLUMNS}
               FROM view_directory d JOIN events e ON e.seq = d.created_seq {ACTOR_JOIN}
              WHERE d.kind = 'user' AND d.id > ?4 AND d.created_seq > ?2 AND d.created_seq <= ?3
                AND (d.deleted_seq IS NULL OR d.deleted_seq > ?3) AND ?1 = ?1
             UNION ALL
             SELECT d.id, d.name, d.qualified_name, 0, {EVENT_COLUMNS}
               FROM view_directory d JOIN events e ON e.seq = d.deleted_seq {ACTOR_JOIN}
              WHERE d.kind = 'user' AND d.id > ?4 AND d.created_seq <= ?2
                AND d.deleted_seq > ?2 AND d.deleted_seq <= ?3
             ORDER BY 1 LIMIT ?5"
        )
    } else {
        let open_at = |p: &str| {
            format!(
                "EXISTS (SELECT 1 FROM view_membership_intervals j
                          WHERE j.group_id = ?1 AND j.user_id = i.user_id AND j.from_seq <= {p}
                            AND (j.to_seq IS NULL OR j.to_seq > {p}))"
            )
        };
        format!(
            "SELECT i.user_id, d.name, d.qualified_name, 1 AS joined, {OPENED}
               FROM view_membership_intervals i
               JOIN view_directory d ON d.kind = 'user' AND d.id = i.user_id {OPENED_BY}
              WHERE i.group_id = ?1 AND i.user_id > ?4 AND i.from_seq > ?2 AND i.from_seq <= ?3
                AND (i.to_seq IS NULL OR i.to_seq > ?3) AND NOT {open_from}
             UNION ALL
             SELECT i.user_id, d.name, d.qualified_name, 0, {CLOSED}
               FROM view_membership_intervals i
               JOIN view_directory d ON d.kind = 'user' AND d.id = i.user_id {CLOSED_BY}
              WHERE i.group_id = ?1 AND i.user_id > ?4 AND i.from_seq <= ?2
                AND i.to_seq > ?2 AND i.to_seq <= ?3 AND NOT {open_to}
             ORDER BY 1 LIMIT ?5",
            open_from = open_at("?2"),
            open_to = open_at("?3"),
        )
    };
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params![group, from, to, after, limit])?;
    let mut out = Diff::default();
    let mut count = 0;
    let mut last = None;
    while let Some(r) = rows.next()? {
        if count == req.limit {
            out.next_cursor = last.map(encode_cursor);
            break;
        }
        count += 1;
        let user = named(r.get(0)?, r.get(1)?, r.get(2)?);
        last = Some(user.id);
        let change = Change {
            user,
            event: event_ref(r, 4)?,
        };
        if r.get::<_, i64>(3)? == 1 {
            out.joined.push(change);
        } else {
            out.left.push(change);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_parse_as_positions_or_times_in_the_logs_own_form() {
        assert_eq!(Point::parse("42").ok(), Some(Point::Position(42)));
        assert_eq!(Point::parse("0").ok(), Some(Point::Position(0)));
        assert_eq!(
            Point::parse("2026-03-01T10:30:00.123456+01:00").ok(),
            Some(Point::Time("2026-03-01T09:30:00.123Z".into()))
        );
        for bad in ["-1", "yesterday", "2026-03-01", ""] {
            assert!(Point::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_membership_serializes_with_the_object_inline() {
        let m = Membership {
            object: named(7, "ann".into(), "GLOBAL.Eng.ann".into()),
            since: EventRef {
                position: 12,
                time: "2026-03-01T09:30:00.000Z".into(),
                event_type: None,
                actor: Some(Actor {
                    id: 1,
                    name: Some("GLOBAL.admin".into()),
                }),
                reason: None,
                request_id: Some("r-1".into()),
            },
        };
        assert_eq!(
            serde_json::to_string(&m).expect("json"),
            r#"{"id":7,"name":"ann","domain":"GLOBAL.Eng","qualified_name":"GLOBAL.Eng.ann","since":{"position":12,"time":"2026-03-01T09:30:00.000Z","actor":{"id":1,"name":"GLOBAL.admin"},"reason":null,"request_id":"r-1"}}"#
        );
    }

    #[test]
    fn the_domain_part_of_a_qualified_name() {
        assert_eq!(domain_part("GLOBAL.Eng.alice", "alice"), "GLOBAL.Eng");
        assert_eq!(domain_part("GLOBAL", "GLOBAL"), "");
    }
}
