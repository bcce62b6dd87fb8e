//! Checks on a database file shared by the test binaries: the chain verifies,
//! the views equal a rebuild from the log, and nothing is half-written.

use rollcall::state::State;
use std::path::Path;

/// Opens `db` (recovering its write-ahead log, as after a crash), checks it,
/// and returns the state its views hold.
pub fn check_store(db: &Path) -> State {
    let conn = rusqlite::Connection::open(db).expect("open db");
    let head = rollcall::log::verify_chain(&conn).expect("the hash chain verifies");
    let views = rollcall::views::load(&conn).expect("load views");
    assert_eq!(views.head, head, "the views are at the log head");

    // Rebuild a copy from its log alone; it must equal the views as stored.
    let dir = tempfile::tempdir().expect("dir");
    let copy = dir.path().join("copy.db");
    conn.backup(rusqlite::DatabaseName::Main, &copy, None)
        .expect("copy");
    let mut c = rusqlite::Connection::open(&copy).expect("open copy");
    let rebuilt = rollcall::projector::rebuild(&mut c).expect("rebuild");
    assert_eq!(rebuilt, views, "the views equal a rebuild from the log");

    // Rows kept beside the log move with it: no credentials or sessions of
    // users the views do not hold.
    for table in ["credentials", "sessions"] {
        let orphans: i64 = conn
            .query_row(
                &format!(
                    "SELECT count(*) FROM {table} WHERE user_id NOT IN (SELECT id FROM view_users)"
                ),
                [],
                |r| r.get(0),
            )
            .expect("count");
        assert_eq!(orphans, 0, "{table} rows without a user");
    }
    views
}
