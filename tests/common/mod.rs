//! Checks on a database file shared by the test binaries: the chain verifies,
//! the views equal a rebuild from the log, and nothing is half-written.

use rollcall::state::State;
use std::path::Path;

/// Opens `db` (recovering its write-ahead log, as after a crash), checks it,
/// and returns the state its views hold once caught up with the log (as the
/// next start does: the views are written behind the log, so a crash may
/// leave them a little behind it, never ahead or astray).
pub fn check_store(db: &Path) -> State {
    let mut conn = rollcall::views::file::open_with_views(db).expect("open db");
    let head = rollcall::log::verify_chain(&conn).expect("the hash chain verifies");
    let stored = rollcall::views::load(&conn).expect("load views");
    assert!(
        stored.head.seq <= head.seq,
        "the views are not ahead of the log"
    );
    let at: String = conn
        .query_row(
            "SELECT coalesce((SELECT hash FROM events WHERE seq = ?1), ?2)",
            rusqlite::params![stored.head.seq, rollcall::state::GENESIS_HASH],
            |r| r.get(0),
        )
        .expect("hash at the views' position");
    assert_eq!(stored.head.hash, at, "the views' checkpoint is on this log");
    let views = rollcall::projector::catch_up(&mut conn).expect("catch up");
    assert_eq!(views.head, head, "caught up, the views are at the log head");

    // Rebuild a copy from its log alone; it must equal the caught-up views.
    let dir = tempfile::tempdir().expect("dir");
    let copy = dir.path().join("copy.db");
    conn.backup(rusqlite::DatabaseName::Main, &copy, None)
        .expect("copy");
    let mut c = rollcall::log::open_writer(&copy).expect("open copy");
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
