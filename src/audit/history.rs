//! An object's history: the events touching a user or group (newest first, a
//! page at a time, for the API; or oldest first as a readable timeline for
//! `rollcall history`). Its positions come from two indexes: `view_history`
//! for the events that created, changed or deleted the object or a grant it
//! holds, and `view_membership_intervals` for its membership changes, each
//! the start or the end of an interval (see [`crate::fold::Change`]).

use rusqlite::{params, Connection, Row};
use serde::Serialize;
use serde_json::Value;

use super::as_of::{kind_str, EventRef, HistoryResult, Object};
use crate::domain::Kind;
use crate::queries::{encode_cursor, PageRequest};

/// One event in an object's history.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Entry {
    #[serde(flatten)]
    pub event: EventRef,
    /// The payload as recorded: ids and the names as they were then.
    pub data: Value,
    pub hash: String,
}

/// The events touching object `?1` below position `?2`, as `h.seq`, unordered.
/// For a user or group, its memberships' starts and ends join its own rows;
/// `UNION` makes an event that both started and ended one appear once. The
/// interval index is read whole for the object, so a page of a group's
/// history costs a read of all its memberships, past ones included.
fn positions(kind: Kind) -> String {
    let own = format!(
        "SELECT seq FROM view_history WHERE kind = '{}' AND id = ?1 AND seq < ?2",
        kind_str(kind)
    );
    let column = match kind {
        Kind::User => "user_id",
        Kind::Group => "group_id",
        Kind::Domain => return format!("({own})"),
    };
    format!(
        "({own}
          UNION SELECT from_seq FROM view_membership_intervals
                 WHERE {column} = ?1 AND from_seq < ?2
          UNION SELECT to_seq FROM view_membership_intervals
                 WHERE {column} = ?1 AND to_seq < ?2)"
    )
}

/// The entries at those positions, in the order `order` says.
fn entries_sql(kind: Kind, order: &str) -> String {
    format!(
        "SELECT e.seq, e.occurred_at, e.event_type, e.actor, a.qualified_name,
                e.reason, e.request_id, e.data, e.hash
           FROM {} h JOIN events e ON e.seq = h.seq
           LEFT JOIN view_directory a ON a.kind = 'user' AND a.id = e.actor
          ORDER BY h.seq {order}",
        positions(kind)
    )
}

fn entry(r: &Row<'_>) -> rusqlite::Result<Entry> {
    let actor: Option<i64> = r.get(3)?;
    let data: String = r.get(7)?;
    Ok(Entry {
        event: EventRef {
            position: r.get(0)?,
            time: r.get(1)?,
            event_type: Some(r.get(2)?),
            actor: match actor {
                Some(id) => Some(super::as_of::Actor {
                    id,
                    name: r.get(4)?,
                }),
                None => None,
            },
            reason: r.get(5)?,
            request_id: r.get(6)?,
        },
        // The log only holds JSON objects (decide writes them, import checks them).
        data: serde_json::from_str(&data).unwrap_or(Value::String(data)),
        hash: r.get(8)?,
    })
}

/// One page of the events touching an object, newest first. The cursor is
/// the position of the last event served; the next page starts below it.
pub fn page(
    conn: &Connection,
    kind: Kind,
    id: i64,
    req: PageRequest,
) -> HistoryResult<(Vec<Entry>, Option<String>)> {
    let before = req.after.unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(&format!("{} LIMIT ?3", entries_sql(kind, "DESC")))?;
    let rows = stmt.query_map(params![id, before, req.limit as i64 + 1], entry)?;
    let mut out: Vec<Entry> = Vec::with_capacity(req.limit.min(128));
    for row in rows {
        let e = row?;
        if out.len() == req.limit {
            let last = out.last().map(|e| e.event.position);
            return Ok((out, last.map(encode_cursor)));
        }
        out.push(e);
    }
    Ok((out, None))
}

/// Calls `f` on every event touching an object, oldest first.
pub fn for_each(
    conn: &Connection,
    kind: Kind,
    id: i64,
    mut f: impl FnMut(Entry) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    let mut stmt = conn.prepare(&entries_sql(kind, "ASC"))?;
    let mut rows = stmt.query(params![id, i64::MAX])?;
    while let Some(r) = rows.next()? {
        f(entry(r)?)?;
    }
    Ok(())
}

/// A heading for a timeline: the object, and when it came and went.
pub fn heading(kind: Kind, o: &Object) -> String {
    let mut s = format!(
        "{} {} (id {}), created {} at position {}",
        kind_str(kind),
        o.qualified_name,
        o.id,
        o.created.time,
        o.created.position
    );
    if let Some(d) = &o.deleted {
        s.push_str(&format!(", deleted {} at position {}", d.time, d.position));
    }
    s
}

/// One timeline line: `time  #position  what happened  by whom  (reason)  [request]`.
pub fn render(e: &Entry) -> String {
    let ev = &e.event;
    let by = match &ev.actor {
        Some(a) => a.name.clone().unwrap_or_else(|| format!("user {}", a.id)),
        None => "the system".to_owned(),
    };
    let mut line = format!(
        "{}  #{:<6} {}  by {}",
        ev.time,
        ev.position,
        describe(ev.event_type.as_deref().unwrap_or("?"), &e.data),
        by
    );
    if let Some(r) = &ev.reason {
        line.push_str(&format!("  ({})", r.replace('\n', " ")));
    }
    if let Some(id) = &ev.request_id {
        line.push_str(&format!("  [{id}]"));
    }
    line
}

/// What an event did, in words, from its payload (names as they were then).
pub fn describe(event_type: &str, data: &Value) -> String {
    let s = |k: &str| data.get(k).and_then(Value::as_str).unwrap_or("?");
    let qualified = |d: &str, n: &str| {
        if d.is_empty() || d == "?" {
            n.to_owned()
        } else {
            format!("{d}.{n}")
        }
    };
    match event_type {
        "DomainCreated" => format!("domain {} created", s("qualified_name")),
        "UserCreated" => format!("user {} created", qualified(s("domain"), s("name"))),
        "GroupCreated" => format!("group {} created", qualified(s("domain"), s("name"))),
        "UserDeleted" => format!("user {} deleted", qualified(s("domain"), s("name"))),
        "GroupDeleted" => format!("group {} deleted", qualified(s("domain"), s("name"))),
        "UserAssigned" => format!("{} added to {}", s("user"), s("group")),
        "UserUnassigned" => format!("{} removed from {}", s("user"), s("group")),
        "AccessGranted" => {
            let flags: Vec<String> = ["view", "update", "read", "write"]
                .into_iter()
                .filter_map(|f| {
                    data.get(f)
                        .and_then(Value::as_bool)
                        .map(|allow| format!("{f} {}", if allow { "allowed" } else { "denied" }))
                })
                .collect();
            let flags = if flags.is_empty() {
                "nothing set".to_owned()
            } else {
                flags.join(", ")
            };
            format!("{} on {}: {flags}", s("group"), s("object"))
        }
        "AccessRevoked" => format!("{} loses its grant on {}", s("group"), s("object")),
        other => format!("{other} {data}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_as_sentences() {
        let m = serde_json::json!({"group_id": 3, "group": "GLOBAL.Devs", "user_id": 4, "user": "GLOBAL.alice"});
        assert_eq!(
            describe("UserAssigned", &m),
            "GLOBAL.alice added to GLOBAL.Devs"
        );
        let d =
            serde_json::json!({"group_id": 3, "name": "Devs", "domain_id": 1, "domain": "GLOBAL"});
        assert_eq!(describe("GroupDeleted", &d), "group GLOBAL.Devs deleted");
        let g = serde_json::json!({"group_id": 3, "group": "GLOBAL.Devs", "object": "environment:GLOBAL.Prod", "read": true, "write": false});
        assert_eq!(
            describe("AccessGranted", &g),
            "GLOBAL.Devs on environment:GLOBAL.Prod: read allowed, write denied"
        );
    }
}
