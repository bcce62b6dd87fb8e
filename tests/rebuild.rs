//! The bulk rebuild against the incremental one: on every recorded fixture
//! and on a generated log, `projector::rebuild` (fold in memory, write each
//! view sorted, indexes after) leaves exactly the rows a fold through
//! `SqlSink`, event by event, leaves — every view table, every column, the
//! checkpoint, the secondary indexes; credentials and sessions untouched —
//! and the result verifies.

use rollcall::audit::export;
use rollcall::audit::generate;
use rollcall::audit::progress::Progress;
use rollcall::audit::verify::{self, Report};
use rollcall::log;
use rollcall::projector;
use rusqlite::types::Value;
use rusqlite::Connection;
use std::path::{Path, PathBuf};

const TABLES: [&str; 12] = [
    "view_domains",
    "view_users",
    "view_groups",
    "view_memberships",
    "view_grants",
    "view_membership_intervals",
    "view_directory",
    "view_history",
    "view_grant_intervals",
    "view_checkpoint",
    "credentials",
    "sessions",
];

/// Every row of every view (and of the tables a fold deletes from), sorted,
/// plus the schema of the view tables' indexes.
fn dump(conn: &Connection) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for table in TABLES {
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM {table}"))
            .expect("select");
        let n = stmt.column_count();
        let mut rows: Vec<String> = stmt
            .query_map([], |r| {
                (0..n)
                    .map(|i| r.get::<_, Value>(i))
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .expect("query")
            .map(|r| format!("{:?}", r.expect("row")))
            .collect();
        rows.sort();
        out.push((table.to_owned(), rows));
    }
    let indexes: Vec<String> = conn
        .prepare("SELECT name || ': ' || sql FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL ORDER BY name")
        .expect("schema")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<rusqlite::Result<_>>()
        .expect("rows");
    out.push(("indexes".to_owned(), indexes));
    out
}

/// A credential and a session for every user id the log ever created: not
/// views, so a rebuild must leave every one of them alone.
fn add_secrets(conn: &Connection) {
    conn.execute_batch(
        "INSERT OR REPLACE INTO credentials (user_id, password_hash)
             SELECT id, 'hash-' || id FROM view_directory WHERE kind = 'user';
         INSERT OR REPLACE INTO sessions (token_hash, user_id, created_at, last_seen_at)
             SELECT 'token-' || id, id, 0, 0 FROM view_directory WHERE kind = 'user';",
    )
    .expect("secrets");
}

/// Imports `log` (folded through `SqlSink` as it loads), then rebuilds one
/// copy incrementally (the views emptied, then caught up event by event
/// through `SqlSink`) and one in bulk, and compares all three.
fn check(dir: &Path, name: &str, log: &Path) {
    let db = dir.join(format!("{name}.db"));
    export::import(&db, log, None, |_| Progress::hidden()).expect("import");
    let conn = rollcall::views::file::open_with_views(&db).expect("open");
    add_secrets(&conn);
    let imported = dump(&conn);
    drop(conn);

    let incremental = dir.join(format!("{name}-incremental.db"));
    let bulk = dir.join(format!("{name}-bulk.db"));
    for copy in [&incremental, &bulk] {
        let conn = Connection::open(&db).expect("open");
        conn.backup(rusqlite::DatabaseName::Main, copy, None)
            .expect("copy");
    }

    let mut conn = log::open_writer(&incremental).expect("open");
    rollcall::views::clear(&conn).expect("clear");
    let by_event = projector::catch_up(&mut conn).expect("catch up");
    let incremental_rows = dump(&conn);
    drop(conn);

    let mut conn = log::open_writer(&bulk).expect("open");
    // Damage first: the bulk rebuild must not depend on what the views held.
    conn.execute_batch(
        "DELETE FROM view_history WHERE seq % 2 = 0;
         UPDATE view_users SET name = 'mallory';
         INSERT OR IGNORE INTO view_membership_intervals (group_id, user_id, from_seq, from_at)
             VALUES (999, 999, 1, '2026-01-01T00:00:00.000Z');",
    )
    .expect("damage");
    let in_bulk = projector::rebuild(&mut conn).expect("rebuild");
    let bulk_rows = dump(&conn);
    drop(conn);

    assert_eq!(in_bulk, by_event, "{name}: the rebuilt state");
    for ((table, want), (_, got)) in incremental_rows.iter().zip(&bulk_rows) {
        assert!(
            want == got,
            "{name}: {table} differs between the incremental and the bulk rebuild"
        );
    }
    // The import folded through `SqlSink` too; the secrets are not views
    // and a rebuild leaves them as they are.
    for ((table, want), (_, got)) in imported.iter().zip(&bulk_rows) {
        assert!(
            want == got,
            "{name}: {table} differs between the import and the bulk rebuild"
        );
    }
    assert!(
        bulk_rows.iter().map(|(_, rows)| rows.len()).sum::<usize>() > 2,
        "{name}: the dump holds rows"
    );

    let conn = log::open_reader(&bulk).expect("open");
    match verify::verify(&conn, None, &Progress::hidden()).expect("verify runs") {
        Report::Ok { .. } => {}
        bad => panic!("{name}: the bulk rebuild does not verify: {bad}"),
    }
}

#[test]
fn the_bulk_rebuild_writes_what_the_incremental_fold_writes_on_every_fixture() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("replay-fixtures");
    let dir = tempfile::tempdir().expect("dir");
    let mut checked = 0;
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .collect();
    dirs.sort();
    for fixture in dirs {
        let log = fixture.join("log.ndjson");
        let expected = std::fs::read_to_string(fixture.join("expected.json")).unwrap_or_default();
        // Tampered logs do not import; generated ones are covered below.
        if !log.exists() || expected.contains("\"tampered\"") {
            continue;
        }
        let name = fixture
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        check(dir.path(), &name, &log);
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} fixtures");
}

#[test]
fn the_bulk_rebuild_writes_what_the_incremental_fold_writes_on_a_generated_log() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("log.ndjson");
    let mut out = Vec::new();
    generate::generate(20_000, 11, |rec| {
        serde_json::to_writer(&mut out, rec)?;
        out.push(b'\n');
        Ok(())
    })
    .expect("generate");
    std::fs::write(&path, out).expect("write");
    check(dir.path(), "generated", &path);
}
