//! Loading the views back into a [`State`] at start (no replay).
//!
//! Start-up time is mostly this load, so it is built for speed: every table
//! is read in key order, memberships (most of the rows) are built in bulk
//! from sorted runs ([`Memberships::from_sorted`]), and while this thread
//! reads and builds them, a second thread builds the directory (domains,
//! users, groups, their name indexes, grants) from rows read before.

use rusqlite::Connection;
use std::sync::Arc;

use crate::domain::{DomainId, Flags, GroupId, Name, UserId};
use crate::fold::Change;
use crate::state::{Domain, Group, Head, LastIds, Memberships, State, User};

/// Loads the views into a `State` at the checkpoint's position.
pub fn load(conn: &Connection) -> rusqlite::Result<State> {
    let (seq, hash, last_domain, last_user, last_group): (i64, String, i64, i64, i64) = conn
        .query_row(
        "SELECT seq, hash, last_domain, last_user, last_group FROM view_checkpoint WHERE id = 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
    )?;
    let directory = read_directory(conn)?;
    let mut state = std::thread::scope(|scope| -> rusqlite::Result<State> {
        let built = scope.spawn(move || build_directory(directory));
        let pairs = read_memberships(conn)?;
        let memberships = Memberships::from_sorted(&pairs);
        drop(pairs);
        let mut state = built
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        state.set_memberships(memberships);
        Ok(state)
    })?;
    state.apply(&Change::Head(Head { seq, hash }));
    state.last_ids = LastIds {
        domain: last_domain,
        user: last_user,
        group: last_group,
    };
    Ok(state)
}

/// Every row of the directory views, as the changes that put them there.
fn read_directory(conn: &Connection) -> rusqlite::Result<Vec<Change>> {
    let mut changes = Vec::new();
    let mut stmt =
        conn.prepare("SELECT id, name, parent_id, version FROM view_domains ORDER BY id")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        changes.push(Change::PutDomain(Arc::new(Domain {
            id: DomainId(r.get(0)?),
            name: Name::trusted(r.get_ref(1)?.as_str()?),
            parent: r.get::<_, Option<i64>>(2)?.map(DomainId),
            version: r.get(3)?,
        })));
    }
    let mut stmt = conn.prepare(
        "SELECT id, name, domain_id, realname, email, version FROM view_users ORDER BY id",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        changes.push(Change::PutUser(Arc::new(User {
            id: UserId(r.get(0)?),
            name: Name::trusted(r.get_ref(1)?.as_str()?),
            domain: DomainId(r.get(2)?),
            realname: r.get(3)?,
            email: r.get(4)?,
            version: r.get(5)?,
        })));
    }
    let mut stmt = conn.prepare(
        "SELECT id, name, domain_id, summary, email, version FROM view_groups ORDER BY id",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        changes.push(Change::PutGroup(Arc::new(Group {
            id: GroupId(r.get(0)?),
            name: Name::trusted(r.get_ref(1)?.as_str()?),
            domain: DomainId(r.get(2)?),
            summary: r.get(3)?,
            email: r.get(4)?,
            version: r.get(5)?,
        })));
    }
    let mut stmt = conn.prepare(
        "SELECT object, group_id, \"view\", \"update\", \"read\", \"write\" FROM view_grants",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        changes.push(Change::PutGrant {
            object: Arc::from(r.get_ref(0)?.as_str()?),
            group: GroupId(r.get(1)?),
            flags: Flags {
                view: r.get(2)?,
                update: r.get(3)?,
                read: r.get(4)?,
                write: r.get(5)?,
            },
        });
    }
    Ok(changes)
}

/// The directory part of the state, from its rows.
fn build_directory(changes: Vec<Change>) -> State {
    let mut state = State::default();
    for change in &changes {
        state.apply(change);
    }
    state
}

/// Every membership, as (group, user) in key order.
fn read_memberships(conn: &Connection) -> rusqlite::Result<Vec<(GroupId, UserId)>> {
    let mut stmt =
        conn.prepare("SELECT group_id, user_id FROM view_memberships ORDER BY group_id, user_id")?;
    let mut rows = stmt.query([])?;
    let mut pairs = Vec::new();
    while let Some(r) = rows.next()? {
        pairs.push((GroupId(r.get(0)?), UserId(r.get(1)?)));
    }
    Ok(pairs)
}
