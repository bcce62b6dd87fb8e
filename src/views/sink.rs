//! `SqlSink`: writes `fold`'s changes into the view tables, one statement per
//! view row, through a connection that is inside a transaction. (A whole
//! rebuild writes them in bulk instead: `crate::rebuild`.)

use rusqlite::{params, Connection};

use crate::domain::GroupId;
use crate::fold::{Change, Origin, Sink};

/// Writes changes into the view tables through a connection that is inside a transaction.
pub struct SqlSink<'c> {
    conn: &'c Connection,
    /// The event whose changes are being applied (from [`Sink::begin`]).
    seq: i64,
    occurred_at: String,
    actor: Option<i64>,
    reason: Option<String>,
    request_id: Option<String>,
    /// The objects this event has touched so far: a group deleted drops each
    /// of its grants and then itself, one row is enough.
    touched: Vec<(&'static str, i64)>,
}

impl<'c> SqlSink<'c> {
    pub fn new(conn: &'c Connection) -> Self {
        SqlSink {
            conn,
            seq: 0,
            occurred_at: String::new(),
            actor: None,
            reason: None,
            request_id: None,
            touched: Vec::new(),
        }
    }

    /// Records in `view_history` that the current event touches an object.
    fn touch(&mut self, kind: &'static str, id: i64) -> rusqlite::Result<()> {
        if self.touched.contains(&(kind, id)) {
            return Ok(());
        }
        self.touched.push((kind, id));
        self.conn
            .prepare_cached(
                "INSERT OR IGNORE INTO view_history (kind, id, seq) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![kind, id, self.seq])?;
        Ok(())
    }

    /// Adds an object to `view_directory` when it is first seen; its
    /// qualified name is its domain's qualified name, a dot, its name.
    fn created(
        &mut self,
        kind: &'static str,
        id: i64,
        name: &str,
        domain: Option<i64>,
    ) -> rusqlite::Result<()> {
        // Most puts are of objects the directory holds already (every
        // membership event bumps its group's version): one key lookup
        // instead of the insert, its qualified-name subquery and its conflict.
        let known = self
            .conn
            .prepare_cached("SELECT 1 FROM view_directory WHERE kind = ?1 AND id = ?2")?
            .exists(params![kind, id])?;
        if known {
            return self.touch(kind, id);
        }
        self.conn
            .prepare_cached(
                "INSERT INTO view_directory (kind, id, name, domain_id, qualified_name, created_seq, created_at)
                 VALUES (?1, ?2, ?3, ?4,
                         coalesce((SELECT qualified_name || '.' FROM view_directory
                                    WHERE kind = 'domain' AND id = ?4), '') || ?3,
                         ?5, ?6)
                 ON CONFLICT (kind, id) DO NOTHING",
            )?
            .execute(params![kind, id, name, domain, self.seq, self.occurred_at])?;
        self.touch(kind, id)
    }

    fn deleted(&mut self, kind: &'static str, id: i64) -> rusqlite::Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE view_directory SET deleted_seq = ?3, deleted_at = ?4 WHERE kind = ?1 AND id = ?2",
            )?
            .execute(params![kind, id, self.seq, self.occurred_at])?;
        self.touch(kind, id)
    }
}

impl Sink for SqlSink<'_> {
    type Error = rusqlite::Error;

    fn begin(&mut self, origin: &Origin<'_>) -> rusqlite::Result<()> {
        self.seq = origin.seq;
        self.occurred_at.clear();
        self.occurred_at.push_str(origin.occurred_at);
        self.actor = origin.actor.map(|a| a.0);
        self.reason = origin.reason.map(str::to_owned);
        self.request_id = origin.request_id.map(str::to_owned);
        self.touched.clear();
        Ok(())
    }

    fn apply(&mut self, change: &Change) -> rusqlite::Result<()> {
        let c = self.conn;
        match change {
            Change::PutDomain(d) => {
                c.prepare_cached(
                    "INSERT OR REPLACE INTO view_domains (id, name, parent_id, version) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![d.id.0, d.name.as_str(), d.parent.map(|p| p.0), d.version])?;
                self.created("domain", d.id.0, d.name.as_str(), d.parent.map(|p| p.0))?;
            }
            Change::PutUser(u) => {
                c.prepare_cached(
                    "INSERT OR REPLACE INTO view_users (id, name, domain_id, realname, email, version)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![u.id.0, u.name.as_str(), u.domain.0, u.realname, u.email, u.version])?;
                self.created("user", u.id.0, u.name.as_str(), Some(u.domain.0))?;
            }
            Change::DropUser(id) => {
                self.deleted("user", id.0)?;
                c.prepare_cached("DELETE FROM view_users WHERE id = ?1")?
                    .execute([id.0])?;
                // Its credentials and sessions went in the writer's own
                // transaction (they are not views).
            }
            Change::PutGroup(g) => {
                c.prepare_cached(
                    "INSERT OR REPLACE INTO view_groups (id, name, domain_id, summary, email, version)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![g.id.0, g.name.as_str(), g.domain.0, g.summary, g.email, g.version])?;
                self.created("group", g.id.0, g.name.as_str(), Some(g.domain.0))?;
            }
            // Every membership and grant event: one column of one row, so the
            // table's indexes are not touched (a REPLACE rewrites them too).
            Change::GroupVersion { group, version } => {
                c.prepare_cached("UPDATE view_groups SET version = ?2 WHERE id = ?1")?
                    .execute(params![group.0, version])?;
            }
            Change::DropGroup(id) => {
                c.prepare_cached("DELETE FROM view_groups WHERE id = ?1")?
                    .execute([id.0])?;
                self.deleted("group", id.0)?;
            }
            // Current memberships are the open intervals (`view_memberships`
            // is a SQL view of them), and the interval is also the change's
            // entry in both objects' histories: one row to write per change.
            Change::AddMember { group, user, at } => {
                c.prepare_cached(
                    "INSERT INTO view_membership_intervals
                        (group_id, user_id, from_seq, from_at, from_actor, from_reason, from_request_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute(params![
                    group.0,
                    user.0,
                    at.seq,
                    at.occurred_at,
                    at.actor.map(|a| a.0),
                    self.reason,
                    self.request_id
                ])?;
            }
            Change::RemoveMember { group, user, at } => {
                c.prepare_cached(
                    "UPDATE view_membership_intervals
                        SET to_seq = ?3, to_at = ?4, to_actor = ?5, to_reason = ?6, to_request_id = ?7
                      WHERE group_id = ?1 AND user_id = ?2 AND to_seq IS NULL",
                )?
                .execute(params![
                    group.0,
                    user.0,
                    at.seq,
                    at.occurred_at,
                    at.actor.map(|a| a.0),
                    self.reason,
                    self.request_id
                ])?;
            }
            Change::PutGrant {
                object,
                group,
                flags,
            } => {
                c.prepare_cached(
                    "INSERT OR REPLACE INTO view_grants (object, group_id, \"view\", \"update\", \"read\", \"write\")
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![&**object, group.0, flags.view, flags.update, flags.read, flags.write])?;
                self.close_grant_interval(object, *group)?;
                c.prepare_cached(
                    "INSERT INTO view_grant_intervals
                         (object, group_id, from_seq, \"view\", \"update\", \"read\", \"write\")
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute(params![
                    &**object,
                    group.0,
                    self.seq,
                    flags.view,
                    flags.update,
                    flags.read,
                    flags.write
                ])?;
                self.touch("group", group.0)?;
            }
            Change::DropGrant { object, group } => {
                c.prepare_cached("DELETE FROM view_grants WHERE object = ?1 AND group_id = ?2")?
                    .execute(params![&**object, group.0])?;
                self.close_grant_interval(object, *group)?;
                self.touch("group", group.0)?;
            }
            // The checkpoint is written once per transaction by `save_checkpoint`.
            Change::Head(_) => {}
        }
        Ok(())
    }
}

impl SqlSink<'_> {
    /// Ends the group's current setting on the object at this event.
    fn close_grant_interval(&self, object: &str, group: GroupId) -> rusqlite::Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE view_grant_intervals SET to_seq = ?3
                  WHERE object = ?1 AND group_id = ?2 AND to_seq IS NULL",
            )?
            .execute(params![object, group.0, self.seq])?;
        Ok(())
    }
}
