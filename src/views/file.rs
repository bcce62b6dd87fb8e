//! The views' own SQLite file, `<database>-views`: where it is, making it,
//! attaching it to a connection on the database, and opening it for the
//! live view writer.
//!
//! Why a file of its own: the database file holds the record (the log,
//! credentials, sessions), and every commit to it waits for the disk. The
//! views are folded from the log and can always be folded again, so they
//! need not. In one file they shared a write lock, a write-ahead log and the
//! checkpoints' fsyncs with every durable write, and a durable commit's fsync
//! queued behind the views' pages. Here they have their own.
//!
//! The live view writer commits without waiting for the disk
//! (`synchronous=OFF`): an application crash cannot corrupt a WAL-mode file
//! that way, only an operating-system crash or a power cut can. So while it
//! runs, the file records the machine's boot id (`view_file.dirty_boot`); a
//! start that finds a boot id other than its own there knows the machine went
//! down with the views unsynced, and folds them anew from the log. A clean
//! stop checkpoints and syncs everything and clears the mark. Where the boot
//! id cannot be read, the view writer waits for the disk at each checkpoint
//! (`synchronous=NORMAL`) instead.

use anyhow::{bail, Context};
use rusqlite::{Connection, OptionalExtension};
use std::path::{Path, PathBuf};

/// The views file's schema; its `user_version` is [`VERSION`].
const SCHEMA: &str = include_str!("../../schema/views.sql");
/// The views schema this build writes. A views file of any other version is
/// thrown away and folded again: views need no migrations.
pub const VERSION: i32 = 2;
/// Stamped into the views file's header ("RLCV").
pub const APPLICATION_ID: i32 = 0x524c_4356;
/// The name the views file is attached under.
pub const SCHEMA_NAME: &str = "views";

/// The views file of the database at `db`: its name with `-views` added, the
/// way SQLite names a database's `-wal` and `-shm` companions.
pub fn path_for(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-views");
    PathBuf::from(name)
}

/// Makes sure the views file of `db` is one this build can use: creates it
/// if missing, and replaces one of another views version, one SQLite finds
/// damaged, or one a machine crash may have left half-written (see the
/// module comment). A new file's checkpoint is at position 0, so the start that
/// follows folds the whole log into it. Refuses a file there that belongs to
/// something else.
pub fn prepare(db: &Path) -> anyhow::Result<()> {
    let path = path_for(db);
    if path.exists() {
        match usable(&path) {
            Ok(Usable::Yes) => return Ok(()),
            Ok(Usable::Foreign) => bail!(
                "{} is not a rollcall views file; move it away (rollcall keeps its views there)",
                path.display()
            ),
            Ok(Usable::Stale(why)) => {
                tracing::warn!(views = %path.display(), why, "folding the views anew from the log")
            }
            // Only a file SQLite finds damaged is replaced: any other failure
            // (a lock, permissions) is said as it is, and the file left alone.
            Err(e) if damaged(&e) => tracing::warn!(
                views = %path.display(), error = %e,
                "the views file is damaged; folding the views anew from the log"
            ),
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("Failed to read the views file {}", path.display()))
            }
        }
        remove(&path)?;
    }
    create(&path).with_context(|| format!("Failed to create the views file {}", path.display()))
}

fn damaged(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
    )
}

enum Usable {
    Yes,
    Foreign,
    Stale(&'static str),
}

fn usable(path: &Path) -> rusqlite::Result<Usable> {
    let conn = Connection::open(path)?;
    let app_id: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
    if app_id != APPLICATION_ID {
        let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
        return Ok(if app_id == 0 && tables == 0 {
            Usable::Stale("the views file is empty")
        } else {
            Usable::Foreign
        });
    }
    let version: i32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version != VERSION {
        return Ok(Usable::Stale("the views file is of another version"));
    }
    let dirty: Option<String> = conn
        .query_row("SELECT dirty_boot FROM view_file WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()?
        .flatten();
    Ok(match dirty {
        Some(boot) if boot_id().as_deref() != Some(boot.as_str()) => {
            Usable::Stale("the machine restarted while the views were being written")
        }
        _ => Usable::Yes,
    })
}

/// Removes the views file and its write-ahead log and shared-memory index.
fn remove(path: &Path) -> anyhow::Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        match std::fs::remove_file(&name) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e).with_context(|| format!("Failed to remove {}", path.display()))
            }
        }
    }
    Ok(())
}

fn create(path: &Path) -> anyhow::Result<()> {
    let conn = Connection::open(path)?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        bail!("could not switch the views file to WAL mode (got {mode})");
    }
    let tx = conn.unchecked_transaction()?;
    tx.execute_batch(SCHEMA)?;
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    tx.pragma_update(None, "user_version", VERSION)?;
    tx.commit()?;
    Ok(())
}

/// Attaches the views file of `db` to `conn` as [`SCHEMA_NAME`], so the
/// views' tables can be named as they are, beside the log's. It is opened
/// as `conn` was: read-only on a read-only connection.
pub fn attach(conn: &Connection, db: &Path) -> anyhow::Result<()> {
    let path = path_for(db);
    conn.execute(
        "ATTACH DATABASE ?1 AS views",
        [path.to_string_lossy().as_ref()],
    )
    .with_context(|| {
        format!(
            "Failed to open the views file {} (`rollcall rebuild` makes it anew)",
            path.display()
        )
    })?;
    let app_id: i32 = conn.pragma_query_value(
        Some(rusqlite::DatabaseName::Attached(SCHEMA_NAME)),
        "application_id",
        |r| r.get(0),
    )?;
    let version: i32 = conn.pragma_query_value(
        Some(rusqlite::DatabaseName::Attached(SCHEMA_NAME)),
        "user_version",
        |r| r.get(0),
    )?;
    if app_id != APPLICATION_ID || version != VERSION {
        bail!(
            "{} is not a views file this rollcall reads (`rollcall rebuild` makes it anew)",
            path.display()
        );
    }
    Ok(())
}

/// A plain read-write connection on the database at `db` with its views
/// attached, migrating, checking and creating nothing: for tools and tests
/// that look inside both files.
pub fn open_with_views(db: &Path) -> anyhow::Result<Connection> {
    let conn = Connection::open(db)
        .with_context(|| format!("Failed to open database {}", db.display()))?;
    conn.busy_timeout(crate::log::BUSY_TIMEOUT)?;
    attach(&conn, db)?;
    Ok(conn)
}

/// Lets go of the views file (the log writer's connection, once the views
/// are caught up: `BEGIN IMMEDIATE` would take the write lock of every
/// attached file, and the views' lock is the view writer's).
pub fn detach(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch("DETACH DATABASE views")
}

/// Opens the views file of `db` for the live view writer
/// ([`crate::view_writer`]), which writes the views and nothing else, and
/// marks it as being written (see the module comment).
pub fn open_writer(db: &Path) -> anyhow::Result<Connection> {
    let path = path_for(db);
    let conn = Connection::open(&path)
        .with_context(|| format!("Failed to open the views file {}", path.display()))?;
    let boot = boot_id();
    // The mark is on the disk before the first commit that does not wait for it.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute("UPDATE view_file SET dirty_boot = ?1 WHERE id = 1", [&boot])?;
    let synchronous = if boot.is_some() { "OFF" } else { "NORMAL" };
    conn.pragma_update(None, "synchronous", synchronous)?;
    // This connection checkpoints the WAL itself, between its transactions
    // ([`crate::log::restart_wal`]), never as a side effect of a commit.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    // The log writer never holds this file's lock, but a `rollcall rebuild`
    // run against a served database would: wait for it.
    conn.busy_timeout(crate::log::BUSY_TIMEOUT)?;
    // The views' hot pages (the upper levels of their b-trees) stay cached
    // between transactions: 32 MiB.
    conn.pragma_update(None, "cache_size", -32 * 1024)?;
    Ok(conn)
}

/// Ends the view writer's session cleanly: everything checkpointed into the
/// file and synced, then the mark cleared, durably.
pub fn close_clean(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    conn.execute("UPDATE view_file SET dirty_boot = NULL WHERE id = 1", [])?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    Ok(())
}

/// This boot of the machine, as Linux names it; `None` elsewhere.
fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_views_file_sits_beside_the_database_with_a_suffix() {
        assert_eq!(
            path_for(Path::new("/srv/rollcall.db")),
            PathBuf::from("/srv/rollcall.db-views")
        );
    }

    #[test]
    fn a_mark_from_another_boot_makes_the_views_stale_and_they_are_made_anew() {
        let dir = tempfile::tempdir().expect("dir");
        let db = dir.path().join("r.db");
        prepare(&db).expect("create");
        let views = path_for(&db);
        let conn = Connection::open(&views).expect("open");
        conn.execute_batch(
            "UPDATE view_file SET dirty_boot = 'some-earlier-boot';
             UPDATE view_checkpoint SET seq = 7",
        )
        .expect("mark");
        drop(conn);
        assert!(matches!(usable(&views), Ok(Usable::Stale(_))));
        prepare(&db).expect("remade");
        let conn = Connection::open(&views).expect("open");
        let seq: i64 = conn
            .query_row("SELECT seq FROM view_checkpoint", [], |r| r.get(0))
            .expect("seq");
        assert_eq!(seq, 0, "a remade views file starts from the beginning");
    }

    #[test]
    fn a_mark_from_this_boot_or_none_keeps_the_views() {
        let dir = tempfile::tempdir().expect("dir");
        let db = dir.path().join("r.db");
        prepare(&db).expect("create");
        let views = path_for(&db);
        assert!(matches!(usable(&views), Ok(Usable::Yes)));
        let writer = open_writer(&db).expect("writer");
        // An application crash leaves the mark of this boot: still usable.
        drop(writer);
        if boot_id().is_some() {
            assert!(matches!(usable(&views), Ok(Usable::Yes)));
        }
        let writer = open_writer(&db).expect("writer");
        close_clean(&writer).expect("close");
        let dirty: Option<String> = writer
            .query_row("SELECT dirty_boot FROM view_file", [], |r| r.get(0))
            .expect("mark");
        assert_eq!(dirty, None);
    }

    #[test]
    fn a_damaged_views_file_is_made_anew() {
        let dir = tempfile::tempdir().expect("dir");
        let db = dir.path().join("r.db");
        std::fs::write(
            path_for(&db),
            b"not a database, not even close: ".repeat(200),
        )
        .expect("write");
        prepare(&db).expect("made anew");
        let conn = Connection::open(path_for(&db)).expect("open");
        attach(&Connection::open(&db).expect("db"), &db).expect("a views file again");
        drop(conn);
    }

    #[test]
    fn a_file_of_someone_elses_is_refused_not_removed() {
        let dir = tempfile::tempdir().expect("dir");
        let db = dir.path().join("r.db");
        let other = Connection::open(path_for(&db)).expect("open");
        other
            .execute_batch("CREATE TABLE precious (x); INSERT INTO precious VALUES (1);")
            .expect("other");
        drop(other);
        let err = prepare(&db).expect_err("refused");
        assert!(
            err.to_string().contains("not a rollcall views file"),
            "{err}"
        );
        assert!(path_for(&db).exists());
    }
}
