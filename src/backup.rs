//! `rollcall backup`: a consistent copy of a database and its views file,
//! taken while it is being served, through SQLite's online backup API;
//! checked before it is kept.
//!
//! Each file is copied from a read-only connection in one step, so each is
//! one snapshot at one commit — the writers are never blocked. The views go
//! first and the log second, so the copy's views are never ahead of its log;
//! the copy is written beside the target, its views caught up with its log,
//! checked, synced, and only then renamed into place: a failed or
//! interrupted backup leaves no file that looks finished.

use anyhow::{bail, Context};
use rusqlite::{Connection, DatabaseName};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::fold::{fold, NoSink};
use crate::log;
use crate::state::{Head, State};
use crate::views;

/// Copies the database at `db` to `out`, and its views file to `out`'s
/// ([`views::file::path_for`]); neither may exist yet. Returns the log head
/// the copy holds.
pub fn backup(db: &Path, out: &Path) -> anyhow::Result<Head> {
    for target in [out.to_owned(), views::file::path_for(out)] {
        if target.exists() {
            bail!("{} already exists; not overwriting it", target.display());
        }
    }
    let src = log::open_reader(db)?;
    let partial = partial_path(out);
    let partial_views = views::file::path_for(&partial);
    let remove_partial = || {
        let _ = std::fs::remove_file(&partial);
        let _ = std::fs::remove_file(&partial_views);
    };
    remove_partial();
    let result = copy_and_check(&src, &partial).and_then(|head| {
        // The views before the log, as they were copied.
        for (from, to) in [
            (&partial_views, views::file::path_for(out)),
            (&partial, out.to_owned()),
        ] {
            std::fs::File::open(from)?.sync_all()?;
            std::fs::rename(from, &to)
                .with_context(|| format!("Failed to move the copy to {}", to.display()))?;
        }
        if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(head)
    });
    if result.is_err() {
        remove_partial();
    }
    result
}

fn partial_path(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

fn copy_and_check(src: &Connection, to: &Path) -> anyhow::Result<Head> {
    // The views first: a view writer running meanwhile only ever writes
    // events the log already holds, so the log copied after them holds
    // everything they do.
    copy(
        src,
        DatabaseName::Attached(views::file::SCHEMA_NAME),
        &views::file::path_for(to),
    )?;
    copy(src, DatabaseName::Main, to)?;
    let mut dst = log::open_writer(to)?;
    // The views are written a little behind the log, so the snapshot may hold
    // events they had not reached: fold those into the copy's views now, as
    // a start would, so the copy is complete on its own.
    crate::projector::catch_up(&mut dst).context("Failed to catch the copy's views up")?;
    let head = check(&dst).context("The copy failed its check")?;
    // The source's view writer marks its file as being written; the copy's
    // views are complete and about to be synced.
    dst.execute(
        "UPDATE views.view_file SET dirty_boot = NULL WHERE id = 1",
        [],
    )?;
    // A backup is two self-contained files: no write-ahead log beside them.
    for db in [
        DatabaseName::Main,
        DatabaseName::Attached(views::file::SCHEMA_NAME),
    ] {
        let _: String =
            dst.pragma_update_and_check(Some(db), "journal_mode", "DELETE", |r| r.get(0))?;
    }
    Ok(head)
}

/// Copies the database `name` of `src` into a new file at `to`.
fn copy(src: &Connection, name: DatabaseName<'_>, to: &Path) -> anyhow::Result<()> {
    use rusqlite::backup::{Backup, StepResult};
    let mut dst =
        Connection::open(to).with_context(|| format!("Failed to create {}", to.display()))?;
    let backup = Backup::new_with_names(src, name, &mut dst, DatabaseName::Main)?;
    // -1: every page in one step, inside one read transaction on the
    // source, so the copy is a single consistent snapshot. In WAL mode
    // the writer never blocks it; retry briefly if something else does.
    let mut attempts = 0;
    loop {
        match backup.step(-1).context("The online backup failed")? {
            StepResult::Done => return Ok(()),
            StepResult::More | StepResult::Busy | StepResult::Locked if attempts < 50 => {
                attempts += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            other => bail!("The online backup could not finish ({other:?})"),
        }
    }
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
