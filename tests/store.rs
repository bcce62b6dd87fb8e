//! The store against a real SQLite file: append-only triggers, the hash chain
//! recomputed from the rows (with the documented SQL), and the views kept by
//! the writer equal to a naive model and to a rebuild, over random commands.

use proptest::prelude::*;
use rollcall::commands::{Command, Request};
use rollcall::domain::{Ident, Kind, Name};
use rollcall::log::{self, chain};
use rollcall::read_model::ReadModel;
use rollcall::state::{Head, State};
use rollcall::writer::{self, CommandError, WriterHandle};
use rollcall::{projector, views};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

fn system(command: Command) -> Request {
    Request {
        caller: Some(rollcall::domain::ADMIN),
        request_id: Some("req-1".into()),
        reason: None,
        command,
    }
}

/// Opens `path`, bootstraps it, and returns a running writer.
async fn start(path: &Path) -> (WriterHandle, std::thread::JoinHandle<()>, Arc<ReadModel>) {
    let mut conn = log::open_writer(path).expect("open");
    let state = projector::catch_up(&mut conn).expect("catch up");
    let fresh = state.head.seq == 0;
    let read = Arc::new(ReadModel::new(state.clone()));
    let (w, t) = writer::spawn(conn, state, read.clone()).expect("writer");
    if fresh {
        w.execute(Request {
            caller: None,
            ..system(Command::Bootstrap {
                admin_password_hash: "h".into(),
            })
        })
        .await
        .expect("bootstrap");
    }
    (w, t, read)
}

async fn some_history(path: &Path) {
    let (w, t, _) = start(path).await;
    let user = |n: &str| Command::CreateUser {
        name: Name::parse(Kind::User, n).expect("name"),
        domain: None,
        realname: Some("Ünïcode\nname".into()),
        email: None,
        password_hash: None,
    };
    w.execute(system(user("alice"))).await.expect("alice");
    let mut with_reason = system(Command::Assign {
        user: Ident::parse(Kind::User, "alice"),
        group: Ident::Id(2),
    });
    with_reason.reason = Some("needs: a, comma\nand a newline".into());
    w.execute(with_reason).await.expect("assign");
    drop(w);
    t.join().expect("writer stops");
}

#[tokio::test]
async fn update_and_delete_on_the_log_are_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("r.db");
    some_history(&db).await;
    let conn = rusqlite::Connection::open(&db).expect("open");
    let err = conn
        .execute("UPDATE events SET reason = 'forged' WHERE seq = 1", [])
        .expect_err("refused");
    assert!(err.to_string().contains("append-only"), "{err}");
    let err = conn
        .execute("DELETE FROM events WHERE seq = 1", [])
        .expect_err("refused");
    assert!(err.to_string().contains("append-only"), "{err}");
    let n: i64 = conn
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .expect("count");
    assert_eq!(n, 7);
}

/// The rows of `events`, every column, in order.
fn event_rows(conn: &rusqlite::Connection) -> Vec<Vec<rusqlite::types::Value>> {
    let mut stmt = conn
        .prepare("SELECT * FROM events ORDER BY seq")
        .expect("prepare");
    let n = stmt.column_count();
    stmt.query_map([], |r| (0..n).map(|i| r.get(i)).collect())
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

/// The migrations as they were written, in order.
const MIGRATIONS: [&str; 6] = [
    include_str!("../schema/migrations/0001_init.sql"),
    include_str!("../schema/migrations/0002_history.sql"),
    include_str!("../schema/migrations/0003_grant_history.sql"),
    include_str!("../schema/migrations/0004_lean_log.sql"),
    include_str!("../schema/migrations/0005_memberships_from_intervals.sql"),
    include_str!("../schema/migrations/0006_history_from_intervals.sql"),
];

/// A database at `path` as schema `version` left it: its first `version`
/// migrations, the log of `current` copied in, then `more` SQL run with
/// `current` still attached as `src`.
fn old_database(current: &Path, path: &Path, version: usize, more: &str) -> std::path::PathBuf {
    let conn = rusqlite::Connection::open(path).expect("create");
    for sql in &MIGRATIONS[..version] {
        conn.execute_batch(sql).expect("old migration");
    }
    conn.execute(
        "ATTACH DATABASE ?1 AS src",
        [current.to_str().expect("utf-8")],
    )
    .expect("attach");
    conn.execute_batch("INSERT INTO main.events SELECT * FROM src.events ORDER BY seq;")
        .expect("copy the log");
    conn.execute_batch(more).expect("more");
    conn.execute_batch("DETACH DATABASE src;").expect("detach");
    conn.pragma_update(None, "application_id", log::APPLICATION_ID)
        .expect("id");
    conn.pragma_update(None, "user_version", version as i32)
        .expect("version");
    path.to_owned()
}

#[tokio::test]
async fn a_version_3_log_migrates_to_the_lean_table_row_for_row() {
    let dir = tempfile::tempdir().expect("dir");
    let current = dir.path().join("current.db");
    some_history(&current).await;
    let source = rollcall::views::file::open_with_views(&current).expect("open");

    // A database as version 3 left it: the first three migrations, and the
    // same log copied in (its views are folded at the first start).
    let old = old_database(&current, &dir.path().join("v3.db"), 3, "");
    let mut conn = log::open_writer(&old).expect("opened and migrated");
    let version: i32 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("version");
    assert_eq!(version, log::SCHEMA_VERSION);
    assert_eq!(
        event_rows(&conn),
        event_rows(&source),
        "the same rows, byte for byte"
    );
    let unique_on_streams: i64 = conn
        .query_row(
            "SELECT count(*) FROM pragma_index_list('events') WHERE origin = 'u' AND name IN
               (SELECT il.name FROM pragma_index_list('events') il,
                       pragma_index_info(il.name) ii WHERE ii.name = 'stream')",
            [],
            |r| r.get(0),
        )
        .expect("index list");
    assert_eq!(unique_on_streams, 0, "the stream index is gone");
    log::verify_chain(&conn).expect("the chain still verifies");
    let err = conn
        .execute("DELETE FROM events WHERE seq = 1", [])
        .expect_err("still append-only");
    assert!(err.to_string().contains("append-only"), "{err}");
    let state = projector::catch_up(&mut conn).expect("views folded");
    assert_eq!(state, views::load(&source).expect("load"));
}

/// The rows of `view_history`, in key order.
fn history_rows(conn: &rusqlite::Connection) -> Vec<(String, i64, i64)> {
    conn.prepare("SELECT kind, id, seq FROM view_history ORDER BY kind, id, seq")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

#[tokio::test]
async fn a_version_6_database_moves_its_views_to_their_own_file() {
    let dir = tempfile::tempdir().expect("dir");
    let current = dir.path().join("current.db");
    some_history(&current).await;
    let source = rollcall::views::file::open_with_views(&current).expect("open");
    let want_history = history_rows(&source);

    // A database as version 6 left it: the log and the views in one file,
    // the views holding something the log does not say.
    let old = old_database(
        &current,
        &dir.path().join("v6.db"),
        6,
        "INSERT INTO main.credentials SELECT * FROM src.credentials;
         INSERT INTO view_users VALUES (99, 'mallory', 1, NULL, NULL, 1);",
    );
    let mut conn = log::open_writer(&old).expect("opened and migrated");
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM main.sqlite_schema WHERE name LIKE 'view%'",
            [],
            |r| r.get(0),
        )
        .expect("tables");
    assert_eq!(tables, 0, "no views left in the log's file");
    assert!(rollcall::views::file::path_for(&old).exists());
    let state = projector::catch_up(&mut conn).expect("views folded");
    assert_eq!(state, views::load(&source).expect("load"));
    assert_eq!(history_rows(&conn), want_history);
    rollcall::backup::check(&conn).expect("the views equal a fold of the log");
    let mut assignments = Vec::new();
    rollcall::audit::history::for_each(&conn, Kind::User, 2, |e| {
        assignments.push((e.event.position, e.event.event_type.clone()));
        Ok(())
    })
    .expect("history");
    assert_eq!(
        assignments.last(),
        Some(&(7, Some("UserAssigned".to_owned()))),
        "alice's history shows her assignment: {assignments:?}"
    );
}

#[tokio::test]
async fn the_views_follow_the_log_while_the_writer_runs() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("r.db");
    let (w, t, read) = start(&db).await;
    for i in 0..50 {
        w.execute(system(Command::CreateUser {
            name: Name::parse(Kind::User, &format!("u{i}")).expect("name"),
            domain: None,
            realname: None,
            email: None,
            password_hash: None,
        }))
        .await
        .expect("user");
        w.execute(system(Command::Assign {
            user: Ident::parse(Kind::User, &format!("u{i}")),
            group: Ident::Id(2),
        }))
        .await
        .expect("assign");
    }
    let head = read.snapshot().head.clone();
    assert!(
        read.wait_for_views_blocking(head.seq, std::time::Duration::from_secs(10)),
        "the views reach the head without the writer stopping"
    );
    assert_eq!(read.views_position(), head.seq);
    // Read beside the running writer: the views hold what the state holds.
    let reader = log::open_reader(&db).expect("reader");
    assert_eq!(views::load(&reader).expect("load"), *read.snapshot());
    drop(w);
    t.join().expect("writer");
}

/// Frames in the WAL after a PASSIVE checkpoint: how far the log has grown
/// since it last started from its first frame.
fn wal_frames(conn: &rusqlite::Connection) -> i64 {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
        .expect("checkpoint")
}

#[test]
fn restart_wal_starts_the_views_wal_over_unless_a_reader_holds_it() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("r.db");
    drop(log::open_writer(&db).expect("open"));
    let views = rollcall::views::file::open_writer(&db).expect("view writer");
    let written = std::cell::Cell::new(0);
    let write = |n: i64| {
        for _ in 0..n {
            written.set(written.get() + 1);
            views
                .execute(
                    "INSERT INTO view_history (kind, id, seq) VALUES ('user', 1, ?1)",
                    [written.get()],
                )
                .expect("insert");
        }
    };
    write(50);
    assert!(wal_frames(&views) >= 50, "one commit, one frame at least");
    assert!(
        log::restart_wal(&views).expect("restart"),
        "nothing in the way"
    );
    write(1);
    assert!(
        wal_frames(&views) < 5,
        "the next commit wrote from the WAL's first frame"
    );

    // A reader in the middle of a read transaction keeps its frames: the
    // restart says so at once instead of waiting for it.
    write(50);
    let reader = log::open_reader(&db).expect("reader");
    reader.execute_batch("BEGIN").expect("begin");
    let _: i64 = reader
        .query_row("SELECT count(*) FROM view_history", [], |r| r.get(0))
        .expect("read");
    let asked = std::time::Instant::now();
    assert!(
        !log::restart_wal(&views).expect("restart"),
        "a reader holds the WAL"
    );
    assert!(
        asked.elapsed() < std::time::Duration::from_secs(1),
        "did not wait"
    );
    reader.execute_batch("COMMIT").expect("end read");
    assert!(
        log::restart_wal(&views).expect("restart"),
        "the reader is gone"
    );
}

#[tokio::test]
async fn the_chain_recomputes_from_the_rows_with_the_documented_sql() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("r.db");
    some_history(&db).await;
    let conn = rusqlite::Connection::open(&db).expect("open");
    let sql = include_str!("../schema/canonical-form.sql");
    let mut prev = rollcall::state::GENESIS_HASH.to_owned();
    let mut stmt = conn
        .prepare("SELECT seq, prev_hash, hash FROM events ORDER BY seq")
        .expect("prepare");
    let rows: Vec<(i64, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(rows.len(), 7);
    for (seq, prev_hash, hash) in rows {
        assert_eq!(prev_hash, prev, "link at {seq}");
        let form: String = conn
            .query_row(sql, rusqlite::named_params! {":seq": seq}, |r| r.get(0))
            .expect("form");
        // The sqlite3 shell ends the row with a newline: the form's last byte.
        let digest = hex::encode(Sha256::digest(format!("{form}\n").as_bytes()));
        assert_eq!(digest, hash, "hash at {seq}");
        prev = hash;
    }
    // And the library's own check agrees, event by event.
    let mut head = Head::default();
    log::for_each(&conn, 0, i64::MAX, |rec| -> Result<(), log::ReadError> {
        chain::check_link(&head, &rec).expect("links");
        head = Head {
            seq: rec.seq,
            hash: rec.hash.clone(),
        };
        Ok(())
    })
    .expect("read");
}

#[tokio::test]
async fn a_reopened_database_resumes_the_chain_and_the_views() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("r.db");
    some_history(&db).await;
    let (w, t, read) = start(&db).await;
    assert!(
        read.snapshot()
            .resolve_user(None, &Ident::Plain("alice".into()))
            .is_ok(),
        "views reloaded"
    );
    w.execute(system(Command::CreateGroup {
        name: Name::parse(Kind::Group, "Later").expect("name"),
        domain: None,
        summary: None,
        email: None,
    }))
    .await
    .expect("created");
    drop(w);
    t.join().expect("writer");
    let conn = rusqlite::Connection::open(&db).expect("open");
    let mut head = Head::default();
    log::for_each(&conn, 0, i64::MAX, |rec| -> Result<(), log::ReadError> {
        chain::check_link(&head, &rec).expect("every link holds across the restart");
        head = Head {
            seq: rec.seq,
            hash: rec.hash.clone(),
        };
        Ok(())
    })
    .expect("read");
    assert_eq!(head.seq, 8);
}

#[test]
fn a_file_that_is_not_a_rollcall_database_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().expect("dir");
    let text = dir.path().join("notes.txt");
    std::fs::write(
        &text,
        b"hello, this is not sqlite at all, not even close........................",
    )
    .expect("write");
    let before = std::fs::read(&text).expect("read");
    let err = log::open_writer(&text).expect_err("refused");
    assert!(
        format!("{err:#}").contains("not a SQLite database"),
        "{err:#}"
    );
    assert_eq!(std::fs::read(&text).expect("read"), before);

    let other = dir.path().join("other.db");
    let c = rusqlite::Connection::open(&other).expect("open");
    c.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .expect("make");
    drop(c);
    let err = log::open_writer(&other).expect_err("refused");
    assert!(
        format!("{err:#}").contains("not a rollcall database"),
        "{err:#}"
    );

    let newer = dir.path().join("newer.db");
    drop(log::open_writer(&newer).expect("create"));
    let c = rusqlite::Connection::open(&newer).expect("open");
    c.pragma_update(None, "user_version", 99).expect("bump");
    drop(c);
    let err = log::open_writer(&newer).expect_err("refused");
    assert!(
        format!("{err:#}").contains("newer than this rollcall"),
        "{err:#}"
    );
}

// ---- the property test --------------------------------------------------------------

#[derive(Clone, Debug)]
enum Op {
    CreateUser(u8),
    CreateGroup(u8),
    DeleteUser(u8),
    DeleteGroup(u8),
    Assign(u8, u8),
    Unassign(u8, u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0..6u8).prop_map(Op::CreateUser),
        2 => (0..4u8).prop_map(Op::CreateGroup),
        1 => (0..6u8).prop_map(Op::DeleteUser),
        1 => (0..4u8).prop_map(Op::DeleteGroup),
        3 => (0..6u8, 0..4u8).prop_map(|(u, g)| Op::Assign(u, g)),
        2 => (0..6u8, 0..4u8).prop_map(|(u, g)| Op::Unassign(u, g)),
    ]
}

/// The naive model: sets of names.
#[derive(Default, Debug)]
struct Model {
    users: BTreeSet<u8>,
    groups: BTreeSet<u8>,
    members: BTreeSet<(u8, u8)>,
}

impl Model {
    /// Applies `op`; returns whether it should be accepted.
    fn apply(&mut self, op: &Op) -> bool {
        match *op {
            Op::CreateUser(u) => self.users.insert(u),
            Op::CreateGroup(g) => self.groups.insert(g),
            Op::DeleteUser(u) => {
                self.members.retain(|(mu, _)| *mu != u);
                self.users.remove(&u)
            }
            Op::DeleteGroup(g) => {
                self.members.retain(|(_, mg)| *mg != g);
                self.groups.remove(&g)
            }
            Op::Assign(u, g) => {
                let ok = self.users.contains(&u) && self.groups.contains(&g);
                if ok {
                    self.members.insert((u, g));
                }
                ok
            }
            Op::Unassign(u, g) => {
                let ok = self.users.contains(&u) && self.groups.contains(&g);
                if ok {
                    self.members.remove(&(u, g));
                }
                ok
            }
        }
    }
}

fn command(op: &Op) -> Command {
    let u = |i: u8| Ident::Plain(format!("user{i}"));
    let g = |i: u8| Ident::Plain(format!("group{i}"));
    match *op {
        Op::CreateUser(i) => Command::CreateUser {
            name: Name::parse(Kind::User, &format!("user{i}")).expect("name"),
            domain: None,
            realname: None,
            email: None,
            password_hash: None,
        },
        Op::CreateGroup(i) => Command::CreateGroup {
            name: Name::parse(Kind::Group, &format!("group{i}")).expect("name"),
            domain: None,
            summary: None,
            email: None,
        },
        Op::DeleteUser(i) => Command::DeleteUser { user: u(i) },
        Op::DeleteGroup(i) => Command::DeleteGroup { group: g(i) },
        Op::Assign(a, b) => Command::Assign {
            user: u(a),
            group: g(b),
        },
        Op::Unassign(a, b) => Command::Unassign {
            user: u(a),
            group: g(b),
        },
    }
}

fn view_memberships(conn: &rusqlite::Connection) -> BTreeSet<(String, String)> {
    let mut stmt = conn
        .prepare(
            "SELECT u.name, g.name FROM view_memberships m
             JOIN view_users u ON u.id = m.user_id JOIN view_groups g ON g.id = m.group_id
             WHERE g.id > 2",
        )
        .expect("prepare");
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query");
    rows.collect::<Result<_, _>>().expect("rows")
}

fn names(conn: &rusqlite::Connection, sql: &str) -> BTreeSet<String> {
    let mut stmt = conn.prepare(sql).expect("prepare");
    let rows = stmt.query_map([], |r| r.get(0)).expect("query");
    rows.collect::<Result<_, _>>().expect("rows")
}

fn run_case(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("p.db");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let mut model = Model::default();
    let published: State = rt.block_on(async {
        let (w, t, read) = start(&db).await;
        // Send everything at once so the writer forms real batches; on a
        // current-thread runtime the tasks enqueue in spawn order.
        let pending: Vec<_> = ops
            .iter()
            .map(|op| {
                let w = w.clone();
                let req = system(command(op));
                tokio::spawn(async move { w.execute(req).await })
            })
            .collect();
        let mut results = Vec::with_capacity(pending.len());
        for p in pending {
            results.push(p.await.expect("task"));
        }
        for (op, result) in ops.iter().zip(results) {
            let expected = model.apply(op);
            match result {
                Ok(_) => prop_assert!(expected, "{op:?} was accepted but the model refuses it"),
                Err(CommandError::Rejected(r)) => {
                    prop_assert!(!expected, "{op:?} was rejected: {r}")
                }
                Err(e) => prop_assert!(false, "{op:?} failed: {e}"),
            }
        }
        let snapshot = (*read.snapshot()).clone();
        drop(w);
        t.join().expect("writer");
        Ok(snapshot)
    })?;

    let mut conn = rollcall::views::file::open_with_views(&db).expect("open");
    let users = names(&conn, "SELECT name FROM view_users WHERE id > 1");
    let want: BTreeSet<String> = model.users.iter().map(|i| format!("user{i}")).collect();
    prop_assert_eq!(users, want);
    let groups = names(&conn, "SELECT name FROM view_groups WHERE id > 2");
    let want: BTreeSet<String> = model.groups.iter().map(|i| format!("group{i}")).collect();
    prop_assert_eq!(groups, want);
    let want: BTreeSet<(String, String)> = model
        .members
        .iter()
        .map(|(u, g)| (format!("user{u}"), format!("group{g}")))
        .collect();
    prop_assert_eq!(view_memberships(&conn), want.clone());

    // The views, the published state and a rebuild from the log all agree.
    let loaded = views::load(&conn).expect("load");
    prop_assert_eq!(&loaded, &published);
    let rebuilt = projector::rebuild(&mut conn).expect("rebuild");
    prop_assert_eq!(&rebuilt, &published);
    prop_assert_eq!(view_memberships(&conn), want);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]
    #[test]
    fn random_commands_give_views_equal_to_a_naive_model_and_to_a_rebuild(ops in prop::collection::vec(op(), 1..60)) {
        run_case(ops)?;
    }
}

#[tokio::test]
async fn catch_up_folds_whatever_the_views_have_not_seen() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("r.db");
    some_history(&db).await;
    let mut conn = log::open_writer(&db).expect("open");
    let before = views::load(&conn).expect("load");
    // Views that lag the log (say, restored from an older copy) are brought
    // up to the head at start by the same fold.
    views::clear(&conn).expect("clear");
    assert_eq!(views::load(&conn).expect("load").head.seq, 0);
    let caught_up = projector::catch_up(&mut conn).expect("catch up");
    assert_eq!(caught_up, before);
    assert_eq!(views::load(&conn).expect("load"), before);
}

#[tokio::test]
async fn the_rebuild_command_refolds_the_log_into_equal_views() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("r.db");
    some_history(&db).await;
    let before = views::load(&log::open_writer(&db).expect("open")).expect("load");
    // Damage a view row: rebuild must restore it from the log.
    let conn = rollcall::views::file::open_with_views(&db).expect("open");
    conn.execute(
        "DELETE FROM view_membership_intervals WHERE to_seq IS NULL",
        [],
    )
    .expect("damage");
    drop(conn);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rollcall"))
        .args(["rebuild", "--db"])
        .arg(&db)
        .output()
        .expect("run rollcall rebuild");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("rebuilt views at position 7"), "{stdout}");
    assert_eq!(
        views::load(&log::open_writer(&db).expect("open")).expect("load"),
        before
    );
}

/// A long log: users, and memberships that come and go, every other change
/// with a reason and a request id and the rest with neither, so a record
/// read into again flips between having them and not.
async fn long_history(path: &Path, users: usize) -> State {
    let (w, t, read) = start(path).await;
    let mut groups = Vec::new();
    for name in ["devs", "ops"] {
        w.execute(system(Command::CreateGroup {
            name: Name::parse(Kind::Group, name).expect("name"),
            domain: None,
            summary: None,
            email: None,
        }))
        .await
        .expect("group");
        groups.push(Ident::parse(Kind::Group, name));
    }
    for i in 0..users {
        let name = format!("user{i:04}");
        w.execute(system(Command::CreateUser {
            name: Name::parse(Kind::User, &name).expect("name"),
            domain: None,
            realname: (i % 3 == 0).then(|| format!("Real Name {i}")),
            email: None,
            password_hash: None,
        }))
        .await
        .expect("user");
        for (k, unassign) in [(0, false), (1, true), (2, false)] {
            let user = Ident::parse(Kind::User, &name);
            // In one group, out of it, into the other: each a change.
            let group = groups[(i + k / 2) % 2].clone();
            let command = if unassign {
                Command::Unassign { user, group }
            } else {
                Command::Assign { user, group }
            };
            let mut req = system(command);
            if (i + k) % 2 == 0 {
                req.request_id = None;
            } else {
                req.reason = Some(format!("ticket {i}-{k}"));
            }
            w.execute(req).await.expect("membership");
        }
    }
    drop(w);
    t.join().expect("writer stops");
    read.snapshot().as_ref().clone()
}

#[tokio::test]
async fn a_long_scan_reads_every_event_as_a_fresh_read_would() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("r.db");
    // Well past a few of the scan's batches of 512, so records come back
    // from the folding thread and are read into again.
    let served = long_history(&db, 600).await;
    let conn = log::open_reader(&db).expect("open");

    let mut fresh = Vec::new();
    log::for_each(&conn, 0, i64::MAX, |rec| -> Result<(), log::ReadError> {
        fresh.push(rec);
        Ok(())
    })
    .expect("read");
    assert!(fresh.len() > 2_000, "{} events", fresh.len());

    // Every record after the first few is read into one used before, from
    // another position with other columns: first one read four events
    // earlier, then the one read just before.
    use std::cell::RefCell;
    for lag in [4, 1] {
        let read: RefCell<Vec<rollcall::events::Recorded>> = RefCell::new(Vec::new());
        log::for_each_into(
            &conn,
            0,
            i64::MAX,
            || {
                let read = read.borrow();
                read.len().checked_sub(lag).map(|i| read[i].clone())
            },
            |rec| -> Result<(), log::ReadError> {
                read.borrow_mut().push(rec);
                Ok(())
            },
        )
        .expect("read");
        assert!(read.into_inner() == fresh, "read into records {lag} back");
    }

    // The two-thread scans over the same log: verify finds it sound, replay
    // and rebuild fold it to the state the writer served.
    use rollcall::audit::{progress::Progress, verify};
    match verify::verify(&conn, None, &Progress::hidden()).expect("verify runs") {
        verify::Report::Ok { count, .. } => assert_eq!(count, fresh.len() as i64),
        bad => panic!("{bad}"),
    }
    drop(conn);
    let mut conn = log::open_writer(&db).expect("open");
    let rebuilt = projector::rebuild(&mut conn).expect("rebuild");
    assert_eq!(rebuilt, served);
}

#[tokio::test]
async fn a_database_without_its_views_file_folds_them_anew_and_serves_the_same_state() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("r.db");
    some_history(&db).await;
    let mut conn = log::open_writer(&db).expect("open");
    let before = projector::catch_up(&mut conn).expect("catch up");
    drop(conn);

    // Restored from a copy of the database file alone.
    let views_file = rollcall::views::file::path_for(&db);
    std::fs::remove_file(&views_file).expect("remove the views");
    let mut conn = log::open_writer(&db).expect("open without views");
    assert!(views_file.exists(), "made anew");
    let after = projector::catch_up(&mut conn).expect("folded anew");
    assert_eq!(after, before);
    rollcall::backup::check(&conn).expect("the views equal a fold of the log");
}

#[tokio::test]
async fn views_of_a_longer_log_are_refused_with_the_way_out_named() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("r.db");
    some_history(&db).await;
    // The views file of this log, beside an older copy of the log.
    let older = dir.path().join("older.db");
    {
        let conn = log::open_writer(&db).expect("open");
        conn.execute("VACUUM main INTO ?1", [older.to_str().expect("utf-8")])
            .expect("copy the log");
    }
    let conn = rusqlite::Connection::open(&older).expect("open");
    conn.execute_batch(
        "DROP TRIGGER events_are_append_only_delete;
         DELETE FROM events WHERE seq = (SELECT max(seq) FROM events);",
    )
    .expect("shorten");
    drop(conn);
    let views = rollcall::views::file::path_for;
    std::fs::copy(views(&db), views(&older)).expect("copy the views");
    let err = log::open_writer(&older).expect_err("refused").to_string();
    assert!(err.contains("the views are at position"), "{err}");
    assert!(
        err.contains(&format!("delete {}", views(&older).display())),
        "{err}"
    );
}

#[test]
fn a_scan_maps_the_views_file_as_well_as_the_log() {
    let dir = tempfile::tempdir().expect("dir");
    let conn = log::open_writer(&dir.path().join("r.db")).expect("open");
    rollcall::audit::scan::for_scanning(&conn).expect("set up");
    for schema in ["main", "views"] {
        let mapped: i64 = conn
            .query_row(&format!("PRAGMA {schema}.mmap_size"), [], |r| r.get(0))
            .expect("mmap_size");
        assert!(mapped > 0, "{schema} is read through a memory map");
    }
}
