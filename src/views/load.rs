//! Loading the views back into a [`State`] at start (no replay).

use rusqlite::Connection;
use std::sync::Arc;

use crate::domain::{DomainId, Flags, GroupId, Name, UserId};
use crate::fold::Change;
use crate::state::{Domain, Group, Head, LastIds, State, User};

/// Loads the views into a `State` at the checkpoint's position.
pub fn load(conn: &Connection) -> rusqlite::Result<State> {
    let mut state = State::default();
    let (seq, hash, last_domain, last_user, last_group): (i64, String, i64, i64, i64) = conn
        .query_row(
        "SELECT seq, hash, last_domain, last_user, last_group FROM view_checkpoint WHERE id = 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
    )?;

    let mut stmt =
        conn.prepare("SELECT id, name, parent_id, version FROM view_domains ORDER BY id")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        state.apply(&Change::PutDomain(Arc::new(Domain {
            id: DomainId(r.get(0)?),
            name: Name::trusted(&r.get::<_, String>(1)?),
            parent: r.get::<_, Option<i64>>(2)?.map(DomainId),
            version: r.get(3)?,
        })));
    }
    let mut stmt =
        conn.prepare("SELECT id, name, domain_id, realname, email, version FROM view_users")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        state.apply(&Change::PutUser(Arc::new(User {
            id: UserId(r.get(0)?),
            name: Name::trusted(&r.get::<_, String>(1)?),
            domain: DomainId(r.get(2)?),
            realname: r.get(3)?,
            email: r.get(4)?,
            version: r.get(5)?,
        })));
    }
    let mut stmt =
        conn.prepare("SELECT id, name, domain_id, summary, email, version FROM view_groups")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        state.apply(&Change::PutGroup(Arc::new(Group {
            id: GroupId(r.get(0)?),
            name: Name::trusted(&r.get::<_, String>(1)?),
            domain: DomainId(r.get(2)?),
            summary: r.get(3)?,
            email: r.get(4)?,
            version: r.get(5)?,
        })));
    }
    let mut stmt = conn.prepare("SELECT group_id, user_id, since_seq FROM view_memberships")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        state.apply(&Change::AddMember {
            group: GroupId(r.get(0)?),
            user: UserId(r.get(1)?),
            at: crate::fold::Stamp {
                seq: r.get(2)?,
                occurred_at: String::new(),
                actor: None,
            },
        });
    }
    let mut stmt = conn.prepare(
        "SELECT object, group_id, \"view\", \"update\", \"read\", \"write\" FROM view_grants",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        state.apply(&Change::PutGrant {
            object: Arc::from(r.get::<_, String>(0)?),
            group: GroupId(r.get(1)?),
            flags: Flags {
                view: r.get(2)?,
                update: r.get(3)?,
                read: r.get(4)?,
                write: r.get(5)?,
            },
        });
    }
    state.apply(&Change::Head(Head { seq, hash }));
    state.last_ids = LastIds {
        domain: last_domain,
        user: last_user,
        group: last_group,
    };
    Ok(state)
}
