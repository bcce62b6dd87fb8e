//! The projector: brings the views up to the log head at start (catch-up) and
//! rebuilds them from nothing (`rollcall rebuild`), with the same `fold` the
//! writer uses live.

use anyhow::Context;
use rusqlite::{Connection, TransactionBehavior};

use crate::fold::fold;
use crate::log;
use crate::state::State;
use crate::views::{self, SqlSink};

/// Loads the views and folds whatever the log holds beyond their checkpoint,
/// in one transaction. Returns the state at the log head.
pub fn catch_up(conn: &mut Connection) -> anyhow::Result<State> {
    // Views emptied by a migration (or never written) while the log holds
    // events: one bulk fold writes each view once, sorted, instead of a
    // statement per row in the order the log visits them.
    let views_at: i64 = conn.query_row("SELECT seq FROM view_checkpoint", [], |r| r.get(0))?;
    if views_at == 0 && log::head(conn)?.is_some() {
        tracing::info!("the views are empty: folding the whole log into them");
        return rebuild(conn);
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut state = views::load(&tx).context("Failed to load the views")?;
    let from = state.head.seq;
    fold_log(&tx, &mut state, from)?;
    if state.head.seq != from {
        views::save_checkpoint(&tx, &state.head, &state.last_ids)?;
        tracing::info!(from, to = state.head.seq, "projection caught up");
    }
    tx.commit()?;
    Ok(state)
}

/// Drops every view and folds the whole log again, in bulk
/// ([`crate::rebuild`]). Returns the new state.
pub fn rebuild(conn: &mut Connection) -> anyhow::Result<State> {
    crate::rebuild::rebuild(conn)
}

fn fold_log(conn: &Connection, state: &mut State, after: i64) -> anyhow::Result<()> {
    let mut sink = SqlSink::new(conn);
    log::for_each(conn, after, i64::MAX, |rec| -> anyhow::Result<()> {
        fold(state, &rec, &mut sink).with_context(|| format!("Failed to fold event {}", rec.seq))
    })
}
