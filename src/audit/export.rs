//! `rollcall export` and `rollcall import`: the log as NDJSON, one event a
//! line with every column, and back. Import checks the chain as it goes and
//! writes nothing at all unless every line is good.

use anyhow::{bail, Context};
use rusqlite::{Connection, DatabaseName, TransactionBehavior};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use super::progress::{Progress, STEP};
use super::verify::{bad_position, check_time, StreamVersions, TrustedHead};
use crate::events::Recorded;
use crate::fold::fold;
use crate::log::{self, chain};
use crate::state::{Head, State};
use crate::views::{self, SqlSink};

/// Writes every event after `after` to `out`, one JSON object a line, in log order.
pub fn export(
    conn: &Connection,
    after: i64,
    out: &mut impl Write,
    progress: &Progress,
) -> anyhow::Result<u64> {
    let mut count = 0_u64;
    log::for_each(conn, after, i64::MAX, |rec| -> anyhow::Result<()> {
        serde_json::to_writer(&mut *out, &rec)?;
        out.write_all(b"\n")?;
        count += 1;
        if count % STEP == 0 {
            progress.set(count);
        }
        Ok(())
    })?;
    out.flush()?;
    Ok(count)
}

/// One exported line: every column of `events`, nothing else.
pub use crate::log::Columns as Line;

/// The recorded event a line describes, if its payload can be read and
/// belongs to the stream the line names.
pub fn into_recorded(line: Line) -> Result<Recorded, String> {
    let rec = line.decode().map_err(|e| e.to_string())?;
    if rec.event.stream().to_string() != rec.stream {
        return Err(format!(
            "stream {:?} does not match the payload ({})",
            rec.stream,
            rec.event.stream()
        ));
    }
    Ok(rec)
}

/// Why an import stopped: the line, the log position (when known) and what
/// is wrong there. Nothing was written.
#[derive(Debug, thiserror::Error)]
#[error("line {line}{}: {problem}; nothing was imported", position.map(|p| format!(" (position {p})")).unwrap_or_default())]
pub struct ImportError {
    pub line: u64,
    pub position: Option<i64>,
    pub problem: String,
}

/// Loads the NDJSON at `file` into the database at `db`, which must not exist
/// or must hold no events. Every line is checked (it parses, it continues the
/// chain, time does not go backwards, the trusted head matches) and folded
/// into the views in one transaction; a new database is written beside
/// `db` and renamed into place only once everything is in. Returns the head.
pub fn import(
    db: &Path,
    file: &Path,
    trusted: Option<&TrustedHead>,
    progress_for: impl Fn(u64) -> Progress,
) -> anyhow::Result<Head> {
    let input =
        std::fs::File::open(file).with_context(|| format!("Failed to open {}", file.display()))?;
    let size = input.metadata().map(|m| m.len()).unwrap_or(0);
    let progress = progress_for(size);
    let reader = std::io::BufReader::with_capacity(1 << 16, input);
    if db.exists() {
        let mut conn = log::open_writer(db)?;
        if let Some((n, _)) = log::head(&conn)? {
            bail!(
                "{} already holds {n} events; import needs an empty database",
                db.display()
            );
        }
        load(&mut conn, reader, trusted, &progress)
    } else {
        let tmp = temp_path(db);
        let result = (|| {
            let mut conn = log::open_writer(&tmp)?;
            let head = load(&mut conn, reader, trusted, &progress)?;
            // Fold both WALs back and close before the files are renamed
            // into place: the views first, so they are never beside a log
            // that lacks their events.
            conn.pragma_update(None, "wal_checkpoint", "TRUNCATE")?;
            conn.pragma_update(
                Some(DatabaseName::Attached(views::file::SCHEMA_NAME)),
                "wal_checkpoint",
                "TRUNCATE",
            )?;
            drop(conn);
            for (from, to) in [
                (views::file::path_for(&tmp), views::file::path_for(db)),
                (tmp.clone(), db.to_owned()),
            ] {
                std::fs::rename(&from, &to)
                    .with_context(|| format!("Failed to move the import into {}", to.display()))?;
            }
            Ok(head)
        })();
        remove_with_sidecars(&tmp);
        result
    }
}

fn temp_path(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".import-{}", std::process::id()));
    db.with_file_name(name)
}

fn remove_with_sidecars(path: &Path) {
    for suffix in [
        "",
        "-wal",
        "-shm",
        "-journal",
        "-views",
        "-views-wal",
        "-views-shm",
    ] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

fn load(
    conn: &mut Connection,
    reader: impl BufRead,
    trusted: Option<&TrustedHead>,
    progress: &Progress,
) -> anyhow::Result<Head> {
    // The whole import is one transaction: a large page cache keeps the
    // views' indexes in memory instead of spilling and re-reading them.
    conn.pragma_update(
        Some(DatabaseName::Attached(views::file::SCHEMA_NAME)),
        "cache_size",
        -262_144,
    )?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut state = State::default();
    let mut sink = SqlSink::new(&tx);
    let mut last_time = String::new();
    let mut versions = StreamVersions::default();
    let mut bytes = 0_u64;
    for (i, line) in reader.lines().enumerate() {
        let n = i as u64 + 1;
        let fail = |position: Option<i64>, problem: String| ImportError {
            line: n,
            position,
            problem,
        };
        let line = line.map_err(|e| fail(None, format!("cannot be read: {e}")))?;
        bytes += line.len() as u64 + 1;
        if line.trim().is_empty() {
            return Err(fail(None, "is empty".into()).into());
        }
        let parsed: Line = serde_json::from_str(&line)
            .map_err(|e| fail(None, format!("is not an exported event: {e}")))?;
        let seq = parsed.seq;
        let rec = into_recorded(parsed).map_err(|p| fail(Some(seq), p))?;
        if let Err(e) = chain::check_link(&state.head, &rec) {
            return Err(fail(Some(bad_position(&e)), e.to_string()).into());
        }
        check_time(&rec, &last_time).map_err(|p| fail(Some(rec.seq), p))?;
        versions.check(&rec).map_err(|p| fail(Some(rec.seq), p))?;
        if let Some(t) = trusted {
            t.check(&rec).map_err(|p| fail(Some(rec.seq), p))?;
        }
        log::insert(&tx, &rec)
            .map_err(|e| fail(Some(rec.seq), format!("cannot be stored: {e}")))?;
        fold(&mut state, &rec, &mut sink)?;
        last_time.clone_from(&rec.occurred_at);
        if n % STEP == 0 {
            progress.set(bytes);
        }
    }
    if let Some(t) = trusted {
        if t.seq > state.head.seq {
            return Err(ImportError {
                line: state.head.seq as u64,
                position: Some(t.seq),
                problem: format!(
                    "the file ends at position {}, before the trusted head at {}",
                    state.head.seq, t.seq
                ),
            }
            .into());
        }
    }
    views::save_checkpoint(&tx, &state.head, &state.last_ids)?;
    tx.commit()?;
    Ok(state.head)
}
