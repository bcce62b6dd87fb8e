//! `rollcall backup`: a consistent copy of a database, taken while it is
//! being served, through SQLite's online backup API; checked before it is
//! kept.
//!
//! The copy is made from a read-only connection in one step, so it is one
//! snapshot of the file at one commit — the writer is never blocked — and it
//! is written beside the target, its views caught up with its log, checked,
//! synced, and only then renamed into place: a failed or interrupted backup
//! leaves no file that looks finished.

use anyhow::{bail, Context};
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::fold::{fold, NoSink};
use crate::log;
use crate::state::{Head, State};
use crate::views;

/// Copies the database at `db` to `out`, which must not exist yet. Returns
/// the log head the copy holds.
pub fn backup(db: &Path, out: &Path) -> anyhow::Result<Head> {
    if out.exists() {
        bail!("{} already exists; not overwriting it", out.display());
    }
    let src = log::open_reader(db)?;
    let partial = partial_path(out);
    let _ = std::fs::remove_file(&partial);
    let result = copy_and_check(&src, &partial).and_then(|head| {
        std::fs::File::open(&partial)?.sync_all()?;
        std::fs::rename(&partial, out)
            .with_context(|| format!("Failed to move the copy to {}", out.display()))?;
        if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(head)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

fn partial_path(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

fn copy_and_check(src: &Connection, to: &Path) -> anyhow::Result<Head> {
    let mut dst =
        Connection::open(to).with_context(|| format!("Failed to create {}", to.display()))?;
    {
        use rusqlite::backup::{Backup, StepResult};
        let backup = Backup::new(src, &mut dst)?;
        // -1: every page in one step, inside one read transaction on the
        // source, so the copy is a single consistent snapshot. In WAL mode
        // the writer never blocks it; retry briefly if something else does.
        let mut attempts = 0;
        loop {
            match backup.step(-1).context("The online backup failed")? {
                StepResult::Done => break,
                StepResult::More | StepResult::Busy | StepResult::Locked if attempts < 50 => {
                    attempts += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
                other => bail!("The online backup could not finish ({other:?})"),
            }
        }
    }
    // A backup is one self-contained file: no write-ahead log beside it.
    let _: String = dst.pragma_update_and_check(None, "journal_mode", "DELETE", |r| r.get(0))?;
    // The views are written a little behind the log, so the snapshot may hold
    // events they had not reached: fold those into the copy's views now, as
    // a start would, so the copy is complete on its own.
    crate::projector::catch_up(&mut dst).context("Failed to catch the copy's views up")?;
    check(&dst).context("The copy failed its check")
}

/// A database passes when its hash chain verifies from the first event to
/// the last and its views equal a fresh fold of its log. Returns the head.
pub fn check(conn: &Connection) -> anyhow::Result<Head> {
    let head = log::verify_chain(conn)?;
    let views = views::load(conn)?;
    let mut folded = State::default();
    log::for_each(conn, 0, i64::MAX, |rec| -> anyhow::Result<()> {
        match fold(&mut folded, &rec, &mut NoSink) {
            Ok(()) => Ok(()),
            Err(never) => match never {},
        }
    })?;
    if views != folded {
        bail!(
            "the views (at position {}) differ from a fold of the log (at position {})",
            views.head.seq,
            folded.head.seq
        );
    }
    Ok(head)
}
