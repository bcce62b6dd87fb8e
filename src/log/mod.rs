//! The SQLite event store: opening a database, migrations, appending to and
//! reading from the hash-chained log.

pub mod chain;

use anyhow::{bail, Context};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::path::Path;

use crate::domain::UserId;
use crate::events::{Event, Recorded};
use crate::state::Head;
use crate::views;

/// Stamped into the SQLite header so a rollcall database is recognisable ("RLCL").
pub const APPLICATION_ID: i32 = 0x524c_434c;

/// The migrations, in order; `PRAGMA user_version` counts how many were applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../../schema/migrations/0001_init.sql"),
    include_str!("../../schema/migrations/0002_history.sql"),
    include_str!("../../schema/migrations/0003_grant_history.sql"),
    include_str!("../../schema/migrations/0004_lean_log.sql"),
    include_str!("../../schema/migrations/0005_memberships_from_intervals.sql"),
    include_str!("../../schema/migrations/0006_history_from_intervals.sql"),
    include_str!("../../schema/migrations/0007_views_in_their_own_file.sql"),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// Opens (creating if needed) a database for writing, brings its schema up
/// to date, and attaches its views file ([`views::file`], made if missing or
/// unusable). Refuses files that are not rollcall databases or are newer than
/// this build before changing anything in them, and a log whose hash chain is
/// broken after the views' checkpoint ([`verify_tail`]).
///
/// The connection reads and writes both files, as the start's catch-up and
/// `rollcall rebuild` need; the writer lets go of the views before it serves
/// ([`views::file::detach`]).
pub fn open_writer(path: &Path) -> anyhow::Result<Connection> {
    let conn = Connection::open(path)
        .with_context(|| format!("Failed to open database {}", path.display()))?;
    check_identity(&conn, path)?;
    let version: i32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let current = version == SCHEMA_VERSION;
    if current {
        // Checked before anything is changed. An older schema is checked by
        // the next start, once migrated: its views are folded anew anyway.
        views::file::prepare(path)?;
        views::file::attach(&conn, path)?;
        check_tail(&conn, path)?;
    }
    configure(&conn)?;
    migrate(&conn).with_context(|| format!("Failed to migrate {}", path.display()))?;
    if !current {
        views::file::prepare(path)?;
        views::file::attach(&conn, path)?;
    }
    Ok(conn)
}

/// How long a connection waits for a lock another holds before it gives up.
pub const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Copies the rest of the WAL into the database file and, unless a reader
/// still uses it, has the next write start the WAL again from its first
/// frame (`RESTART`). Returns whether it could: `false` when a reader was in
/// the way, and the WAL goes on growing until the next try. Run by the only
/// writer of the file between its transactions, it bounds the WAL's size
/// under writes that never pause; each new frame of a growing WAL is a page
/// the kernel must first zero.
///
/// It does not wait for readers: SQLite's busy handler is switched off for
/// the call.
pub fn restart_wal(conn: &Connection) -> rusqlite::Result<bool> {
    conn.busy_timeout(std::time::Duration::ZERO)?;
    let done = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0));
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(done? == 0)
}

/// Opens an existing database read-only (auditors, the read pool).
pub fn open_reader(path: &Path) -> anyhow::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("Failed to open database {}", path.display()))?;
    check_identity(&conn, path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let version: i32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version != SCHEMA_VERSION {
        bail!(
            "{} has schema version {version}; this rollcall reads version {SCHEMA_VERSION}",
            path.display()
        );
    }
    views::file::attach(&conn, path)?;
    Ok(conn)
}

fn configure(conn: &Connection) -> anyhow::Result<()> {
    // WAL lets readers run beside the writer; synchronous=FULL makes every
    // commit durable before it returns, which is what an acknowledgement means.
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        bail!("could not switch the database to WAL mode (got {mode})");
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(())
}

/// Refuses a file that is not a SQLite database, or one that holds tables but
/// is not a rollcall database, or is newer than this build.
fn check_identity(conn: &Connection, path: &Path) -> anyhow::Result<()> {
    let app_id: i32 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .with_context(|| format!("{} is not a SQLite database", path.display()))?;
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .with_context(|| format!("{} is not a SQLite database", path.display()))?;
    if app_id != APPLICATION_ID && (app_id != 0 || tables > 0) {
        bail!("{} is not a rollcall database", path.display());
    }
    let version: i32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        bail!(
            "{} has schema version {version}, newer than this rollcall understands ({SCHEMA_VERSION}); upgrade rollcall",
            path.display()
        );
    }
    Ok(())
}

/// The tail check: the log from the views' checkpoint on must chain.
fn check_tail(conn: &Connection, path: &Path) -> anyhow::Result<()> {
    let checkpoint = conn.query_row(
        "SELECT seq, hash FROM view_checkpoint WHERE id = 1",
        [],
        |r| {
            Ok(Head {
                seq: r.get(0)?,
                hash: r.get(1)?,
            })
        },
    )?;
    verify_tail(conn, &checkpoint).map_err(|e| {
        let hint = match e {
            VerifyError::ViewsAhead { .. } | VerifyError::CheckpointMismatch { .. } => format!(
                " (if the database was restored from a copy without its views, delete {} \
                 and they are folded anew from the log)",
                views::file::path_for(path).display()
            ),
            _ => String::new(),
        };
        anyhow::anyhow!(
            "{}: the event log is damaged: {e}; refusing to start, and nothing was changed \
             (restore the database from a backup){hint}",
            path.display()
        )
    })?;
    Ok(())
}

fn migrate(conn: &Connection) -> anyhow::Result<()> {
    let version: i32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let next = i as i32 + 1;
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(sql)
            .with_context(|| format!("migration {next} failed"))?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)?;
        tx.pragma_update(None, "user_version", next)?;
        tx.commit()?;
    }
    Ok(())
}

/// Appends one sealed event. The caller owns the transaction.
pub fn insert(conn: &Connection, rec: &Recorded) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO events (seq, event_id, stream, stream_version, event_type, event_version,
                             occurred_at, actor, request_id, reason, data, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?;
    stmt.execute(params![
        rec.seq,
        rec.event_id,
        rec.stream,
        rec.stream_version,
        rec.event_type,
        rec.event_version,
        rec.occurred_at,
        rec.actor.map(|a| a.0),
        rec.request_id,
        rec.reason,
        rec.data,
        rec.prev_hash,
        rec.hash,
    ])?;
    Ok(())
}

/// A row that could be read but not understood.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
    #[error("event {seq}: {source}")]
    Decode {
        seq: i64,
        source: crate::events::DecodeError,
    },
}

const SELECT_EVENTS: &str =
    "SELECT seq, event_id, stream, stream_version, event_type, event_version,
        occurred_at, actor, request_id, reason, data, prev_hash, hash FROM events";

/// Every column of one row of `events`, before its payload is decoded: what
/// the log stores, and what `export` writes and `import` reads as one line.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Columns {
    pub seq: i64,
    pub event_id: String,
    pub stream: String,
    pub stream_version: i64,
    pub event_type: String,
    pub event_version: i64,
    pub occurred_at: String,
    pub actor: Option<i64>,
    pub request_id: Option<String>,
    pub reason: Option<String>,
    pub data: String,
    pub prev_hash: String,
    pub hash: String,
}

impl Columns {
    /// The recorded event, with its payload decoded.
    pub fn decode(self) -> Result<Recorded, crate::events::DecodeError> {
        let event = Event::decode(&self.event_type, self.event_version, &self.data)?;
        Ok(Recorded {
            seq: self.seq,
            event_id: self.event_id,
            stream: self.stream,
            stream_version: self.stream_version,
            event_type: self.event_type,
            event_version: self.event_version,
            occurred_at: self.occurred_at,
            actor: self.actor.map(UserId),
            request_id: self.request_id,
            reason: self.reason,
            data: self.data,
            prev_hash: self.prev_hash,
            hash: self.hash,
            event,
        })
    }
}

fn raw_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Columns> {
    Ok(Columns {
        seq: r.get(0)?,
        event_id: r.get(1)?,
        stream: r.get(2)?,
        stream_version: r.get(3)?,
        event_type: r.get(4)?,
        event_version: r.get(5)?,
        occurred_at: r.get(6)?,
        actor: r.get(7)?,
        request_id: r.get(8)?,
        reason: r.get(9)?,
        data: r.get(10)?,
        prev_hash: r.get(11)?,
        hash: r.get(12)?,
    })
}

fn decoded(r: Columns) -> Result<Recorded, ReadError> {
    let seq = r.seq;
    r.decode()
        .map_err(|source| ReadError::Decode { seq, source })
}

/// Calls `f` on every event with `after < seq <= until`, in order, streaming.
pub fn for_each<E>(
    conn: &Connection,
    after: i64,
    until: i64,
    f: impl FnMut(Recorded) -> Result<(), E>,
) -> Result<(), E>
where
    E: From<ReadError>,
{
    for_each_into(conn, after, until, || None, f)
}

/// [`for_each`] for long scans: each event is read into a record `spare`
/// hands back (one already used, whose text buffers are reused), or a new
/// one when it has none, so a scan of a million events does not allocate
/// and free its columns' text a million times over.
pub fn for_each_into<E>(
    conn: &Connection,
    after: i64,
    until: i64,
    mut spare: impl FnMut() -> Option<Recorded>,
    mut f: impl FnMut(Recorded) -> Result<(), E>,
) -> Result<(), E>
where
    E: From<ReadError>,
{
    let mut stmt = conn
        .prepare_cached(&format!(
            "{SELECT_EVENTS} WHERE seq > ?1 AND seq <= ?2 ORDER BY seq"
        ))
        .map_err(ReadError::from)?;
    let mut rows = stmt.query(params![after, until]).map_err(ReadError::from)?;
    while let Some(row) = rows.next().map_err(ReadError::from)? {
        let rec = match spare() {
            Some(mut rec) => {
                refill(row, &mut rec)?;
                rec
            }
            None => decoded(raw_row(row).map_err(ReadError::from)?)?,
        };
        f(rec)?;
    }
    Ok(())
}

/// Reads a row into `rec` as [`raw_row`] and [`decoded`] would, reusing
/// its buffers.
fn refill(r: &rusqlite::Row<'_>, rec: &mut Recorded) -> Result<(), ReadError> {
    fn text(r: &rusqlite::Row<'_>, i: usize, buf: &mut String) -> rusqlite::Result<()> {
        buf.clear();
        buf.push_str(r.get_ref(i)?.as_str()?);
        Ok(())
    }
    fn optional(r: &rusqlite::Row<'_>, i: usize, buf: &mut Option<String>) -> rusqlite::Result<()> {
        match r.get_ref(i)?.as_str_or_null()? {
            Some(s) => {
                let b = buf.get_or_insert_with(String::new);
                b.clear();
                b.push_str(s);
            }
            None => *buf = None,
        }
        Ok(())
    }
    let mut columns = || -> rusqlite::Result<()> {
        rec.seq = r.get(0)?;
        text(r, 1, &mut rec.event_id)?;
        text(r, 2, &mut rec.stream)?;
        rec.stream_version = r.get(3)?;
        text(r, 4, &mut rec.event_type)?;
        rec.event_version = r.get(5)?;
        text(r, 6, &mut rec.occurred_at)?;
        rec.actor = r.get::<_, Option<i64>>(7)?.map(UserId);
        optional(r, 8, &mut rec.request_id)?;
        optional(r, 9, &mut rec.reason)?;
        text(r, 10, &mut rec.data)?;
        text(r, 11, &mut rec.prev_hash)?;
        text(r, 12, &mut rec.hash)?;
        Ok(())
    };
    columns()?;
    rec.event = Event::decode(&rec.event_type, rec.event_version, &rec.data).map_err(|source| {
        ReadError::Decode {
            seq: rec.seq,
            source,
        }
    })?;
    Ok(())
}

/// Up to `limit` events after `after`, in order.
pub fn read_after(conn: &Connection, after: i64, limit: usize) -> Result<Vec<Recorded>, ReadError> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT_EVENTS} WHERE seq > ?1 ORDER BY seq LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![after, limit as i64], raw_row)?;
    rows.map(|r| decoded(r?)).collect()
}

/// The last event's position and hash, if the log holds any.
pub fn head(conn: &Connection) -> rusqlite::Result<Option<(i64, String)>> {
    conn.query_row(
        "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

/// Why a log fails verification.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Chain(#[from] chain::ChainError),
    #[error("the views are at position {views} but the log ends at position {log}")]
    ViewsAhead { views: i64, log: i64 },
    #[error("position {seq}: the views' checkpoint hash is not the log's hash there")]
    CheckpointMismatch { seq: i64 },
}

/// Checks every link of the hash chain, from the first event to the last.
/// Returns the head it reached.
pub fn verify_chain(conn: &Connection) -> Result<Head, VerifyError> {
    verify_after(conn, Head::default())
}

/// The cheap check made at every start: the event the views' checkpoint
/// names is in the log, hashes to its stored hash, and that hash is the
/// checkpoint's; every event after it links on. Costs the events since the
/// checkpoint (normally none), not the whole log.
pub fn verify_tail(conn: &Connection, checkpoint: &Head) -> Result<Head, VerifyError> {
    if checkpoint.seq > 0 {
        let at = read_after(conn, checkpoint.seq - 1, 1)?
            .into_iter()
            .find(|r| r.seq == checkpoint.seq);
        let Some(rec) = at else {
            let log = head(conn).map_err(ReadError::from)?.map_or(0, |h| h.0);
            return Err(VerifyError::ViewsAhead {
                views: checkpoint.seq,
                log,
            });
        };
        if !chain::hash_matches(&rec) {
            return Err(chain::ChainError::BadHash { seq: rec.seq }.into());
        }
        if rec.hash != checkpoint.hash {
            return Err(VerifyError::CheckpointMismatch { seq: rec.seq });
        }
    }
    verify_after(conn, checkpoint.clone())
}

fn verify_after(conn: &Connection, mut head: Head) -> Result<Head, VerifyError> {
    for_each(conn, head.seq, i64::MAX, |rec| -> Result<(), VerifyError> {
        chain::check_link(&head, &rec)?;
        head = Head {
            seq: rec.seq,
            hash: rec.hash,
        };
        Ok(())
    })?;
    Ok(head)
}
