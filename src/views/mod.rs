//! The SQLite views: the tables `fold` keeps beside the log, in a file of
//! their own ([`file`]), which can always be emptied and folded again from it.
//!
//! Besides the current state (`view_domains`, `view_users`, `view_groups`,
//! and `view_memberships`, which is a SQL view of the open history intervals)
//! they hold the history views auditors query (`view_membership_intervals`,
//! `view_directory`, `view_history`, `view_grant_intervals`); their schema is
//! `schema/views.sql`.
//! [`sink`] writes them, [`load`] reads the current state back at start.

use rusqlite::{params, Connection};

use crate::state::{Head, LastIds, State};

pub mod file;
mod load;
mod sink;

pub use load::load;
pub use sink::SqlSink;

/// Records the position (and id high-water marks) the views now reflect.
pub fn save_checkpoint(conn: &Connection, head: &Head, last_ids: &LastIds) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE view_checkpoint SET seq = ?1, hash = ?2, last_domain = ?3, last_user = ?4, last_group = ?5
         WHERE id = 1",
    )?
    .execute(params![
        head.seq,
        head.hash,
        last_ids.domain,
        last_ids.user,
        last_ids.group
    ])?;
    Ok(())
}

/// Empties every view and resets the checkpoint, ready for a full fold.
pub fn clear(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "DELETE FROM view_domains; DELETE FROM view_users; DELETE FROM view_groups;
         DELETE FROM view_grants;
         DELETE FROM view_membership_intervals; DELETE FROM view_directory;
         DELETE FROM view_history; DELETE FROM view_grant_intervals;",
    )?;
    let empty = State::default();
    save_checkpoint(conn, &empty.head, &empty.last_ids)
}
