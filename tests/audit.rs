//! The audit tools against real SQLite files: the history views the writer
//! keeps, the upgrade that fills them for an older log, time to position,
//! verify finding altered views and heads, and import/export edge cases.

use rollcall::audit::as_of::{self, Point};
use rollcall::audit::export::{self, ImportError, Line};
use rollcall::audit::generate;
use rollcall::audit::progress::Progress;
use rollcall::audit::verify::{self, Report, TrustedHead};
use rollcall::commands::{Command, Request};
use rollcall::domain::{Ident, Kind, Name, ADMIN};
use rollcall::log::{self, chain};
use rollcall::projector;
use rollcall::read_model::ReadModel;
use rollcall::writer;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Writes a generated log of `n` events to `dir/log.ndjson`.
fn generated(dir: &Path, n: u64) -> PathBuf {
    let path = dir.join("log.ndjson");
    let mut out = Vec::new();
    generate::generate(n, 3, |rec| {
        serde_json::to_writer(&mut out, rec)?;
        out.push(b'\n');
        Ok(())
    })
    .expect("generate");
    std::fs::write(&path, out).expect("write");
    path
}

fn imported(dir: &Path, n: u64) -> PathBuf {
    let file = generated(dir, n);
    let db = dir.join("g.db");
    export::import(&db, &file, None, |_| Progress::hidden()).expect("import");
    db
}

fn verify_db(db: &Path, trusted: Option<&TrustedHead>) -> Report {
    let conn = log::open_reader(db).expect("open");
    verify::verify(&conn, trusted, &Progress::hidden()).expect("verify runs")
}

fn cmd(command: Command, reason: &str) -> Request {
    Request {
        caller: Some(ADMIN),
        request_id: Some(format!("r-{reason}")),
        reason: Some(reason.into()),
        command,
    }
}

/// (group, user, from_seq, from_actor, to_seq, to_actor)
type Interval = (i64, i64, i64, Option<i64>, Option<i64>, Option<i64>);

#[tokio::test]
async fn the_writer_keeps_intervals_with_who_opened_and_closed_them() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("w.db");
    let mut conn = log::open_writer(&db).expect("open");
    let state = projector::catch_up(&mut conn).expect("catch up");
    let read = Arc::new(ReadModel::new(state.clone()));
    let (w, t) = writer::spawn(conn, state, read).expect("writer");
    w.execute(Request {
        caller: None,
        request_id: None,
        reason: None,
        command: Command::Bootstrap {
            admin_password_hash: "h".into(),
        },
    })
    .await
    .expect("bootstrap");
    let user = |n: &str| Command::CreateUser {
        name: Name::parse(Kind::User, n).expect("name"),
        domain: None,
        realname: None,
        email: None,
        password_hash: None,
    };
    let m = |assign: bool| {
        let (user, group) = (Ident::parse(Kind::User, "ana"), Ident::Id(2));
        if assign {
            Command::Assign { user, group }
        } else {
            Command::Unassign { user, group }
        }
    };
    w.execute(cmd(user("ana"), "new")).await.expect("ana");
    let a1 = w.execute(cmd(m(true), "in")).await.expect("in").position;
    let a2 = w.execute(cmd(m(false), "out")).await.expect("out").position;
    let a3 = w
        .execute(cmd(m(true), "in-again"))
        .await
        .expect("in")
        .position;
    let gone = w
        .execute(cmd(
            Command::DeleteUser {
                user: Ident::parse(Kind::User, "ana"),
            },
            "bye",
        ))
        .await
        .expect("deleted")
        .position;
    drop(w);
    t.join().expect("writer");

    let conn = rollcall::views::file::open_with_views(&db).expect("open");
    let rows: Vec<Interval> = conn
        .prepare(
            "SELECT group_id, user_id, from_seq, from_actor, to_seq, to_actor
               FROM view_membership_intervals WHERE user_id = 2 ORDER BY from_seq",
        )
        .expect("prepare")
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(
        rows,
        [
            (2, 2, a1, Some(1), Some(a2), Some(1)),
            (2, 2, a3, Some(1), Some(gone), Some(1)),
        ]
    );
    let (deleted, qualified): (Option<i64>, String) = conn
        .query_row(
            "SELECT deleted_seq, qualified_name FROM view_directory WHERE kind = 'user' AND id = 2",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("directory row");
    assert_eq!((deleted, qualified.as_str()), (Some(gone), "GLOBAL.ana"));
    let touched: Vec<i64> = conn
        .prepare("SELECT seq FROM view_history WHERE kind = 'user' AND id = 2 ORDER BY seq")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    // Her own rows: created and deleted. Her memberships' changes are read
    // from the intervals above, and her history holds every one of them.
    assert_eq!(touched, [a1 - 1, gone]);
    let mut history = Vec::new();
    rollcall::audit::history::for_each(&conn, Kind::User, 2, |e| {
        history.push(e.event.position);
        Ok(())
    })
    .expect("history");
    assert_eq!(history, [a1 - 1, a1, a2, a3, gone]);
    let mut group = Vec::new();
    rollcall::audit::history::for_each(&conn, Kind::Group, 2, |e| {
        group.push(e.event.position);
        Ok(())
    })
    .expect("group history");
    assert_eq!(
        group.iter().filter(|p| **p > a1 - 1).collect::<Vec<_>>(),
        [&a1, &a2, &a3, &gone]
    );
    // The facts a rule judged in the past would ask for.
    for (at, member, alive) in [
        (a1 - 1, false, true),
        (a1, true, true),
        (a2, false, true),
        (a3, true, true),
        (gone, false, false),
    ] {
        assert_eq!(
            as_of::member_at(&conn, 2, 2, at).expect("member"),
            member,
            "at {at}"
        );
        assert_eq!(
            as_of::user_alive_at(&conn, 2, at).expect("alive"),
            alive,
            "at {at}"
        );
        let groups = as_of::explicit_groups_at(&conn, 2, at).expect("groups");
        assert_eq!(groups, if member { vec![2] } else { vec![] }, "at {at}");
    }
    assert!(!as_of::user_alive_at(&conn, 2, a1 - 2).expect("alive"));
    drop(conn);
    assert!(matches!(verify_db(&db, None), Report::Ok { .. }));
}

#[test]
fn a_version_1_database_gets_its_history_views_at_the_next_start() {
    let dir = tempfile::tempdir().expect("dir");
    let db = imported(dir.path(), 2000);
    let want = verify_db(&db, None);
    assert!(matches!(want, Report::Ok { .. }), "{want}");
    // What rollcall 0.1 wrote: schema 1, the views (without the history
    // views) in the same file as the log, and the same log.
    let old = dir.path().join("v1.db");
    let conn = rusqlite::Connection::open(&old).expect("create");
    conn.execute_batch(include_str!("../schema/migrations/0001_init.sql"))
        .expect("schema 1");
    conn.execute("ATTACH DATABASE ?1 AS src", [db.to_str().expect("utf-8")])
        .expect("attach");
    conn.execute_batch(
        "INSERT INTO main.events SELECT * FROM src.events ORDER BY seq; DETACH DATABASE src;",
    )
    .expect("copy the log");
    conn.pragma_update(None, "application_id", log::APPLICATION_ID)
        .expect("id");
    conn.pragma_update(None, "user_version", 1)
        .expect("version");
    drop(conn);
    let db = old;
    let mut conn = log::open_writer(&db).expect("migrates");
    projector::catch_up(&mut conn).expect("refolds");
    drop(conn);
    assert_eq!(verify_db(&db, None), want);
}

#[test]
fn verify_reports_views_that_differ_from_the_log_and_heads_that_do_not_match() {
    let dir = tempfile::tempdir().expect("dir");
    let db = imported(dir.path(), 1500);
    let Report::Ok { count, head, .. } = verify_db(&db, None) else {
        panic!("a clean import verifies");
    };
    assert_eq!(count, head.seq);
    let trusted = |seq: i64, hash: &str| TrustedHead {
        seq,
        hash: hash.to_owned(),
    };
    assert!(matches!(
        verify_db(&db, Some(&trusted(head.seq, &head.hash))),
        Report::Ok { .. }
    ));
    match verify_db(&db, Some(&trusted(head.seq + 5, &head.hash))) {
        Report::Bad { position, problem } => {
            assert_eq!(position, Some(head.seq + 5));
            assert!(problem.contains("events were removed"), "{problem}");
        }
        ok => panic!("{ok}"),
    }
    match verify_db(&db, Some(&trusted(10, &head.hash))) {
        Report::Bad { position, .. } => assert_eq!(position, Some(10)),
        ok => panic!("{ok}"),
    }

    // Each alteration of a view, on its own copy, is named.
    for (sql, view) in [
        // Current memberships are the open intervals (`view_memberships` is
        // a SQL view of them): removing the newest one ends a membership.
        (
            "DELETE FROM view_membership_intervals
              WHERE to_seq IS NULL
                AND from_seq = (SELECT max(from_seq) FROM view_membership_intervals WHERE to_seq IS NULL)",
            "view_membership_intervals",
        ),
        ("UPDATE view_users SET name = 'mallory' WHERE id = 1", "view_users"),
        (
            "UPDATE view_membership_intervals SET from_seq = from_seq - 1
              WHERE to_seq IS NULL
                AND from_seq = (SELECT max(from_seq) FROM view_membership_intervals WHERE to_seq IS NULL)",
            "view_membership_intervals",
        ),
        ("UPDATE view_groups SET version = version + 1 WHERE id = 2", "view_groups"),
        ("UPDATE view_domains SET parent_id = 1 WHERE id = 1", "view_domains"),
        (
            "UPDATE view_checkpoint SET last_user = last_user + 1",
            "view_checkpoint",
        ),
        (
            "UPDATE view_membership_intervals SET to_seq = NULL
              WHERE from_seq = (SELECT min(from_seq) FROM view_membership_intervals WHERE to_seq IS NOT NULL)",
            "view_membership_intervals",
        ),
        (
            "UPDATE view_membership_intervals SET from_actor = 99 WHERE from_seq = 5",
            "view_membership_intervals",
        ),
        (
            "UPDATE view_membership_intervals SET from_reason = 'approved' WHERE from_seq = 5",
            "view_membership_intervals",
        ),
        (
            "DELETE FROM view_history WHERE seq = (SELECT max(seq) FROM view_history)",
            "view_history",
        ),
        (
            "UPDATE view_directory SET deleted_seq = NULL
              WHERE deleted_seq = (SELECT min(deleted_seq) FROM view_directory)",
            "view_directory",
        ),
        (
            "UPDATE view_directory SET qualified_name = 'GLOBAL.x' WHERE kind = 'group' AND id = 2",
            "view_directory",
        ),
    ] {
        let copy = dir.path().join("copy.db");
        std::fs::copy(&db, &copy).expect("copy");
        std::fs::copy(
            rollcall::views::file::path_for(&db),
            rollcall::views::file::path_for(&copy),
        )
        .expect("copy the views");
        let conn = rollcall::views::file::open_with_views(&copy).expect("open");
        let n = conn.execute(sql, []).expect(sql);
        assert_eq!(n, 1, "{sql}");
        drop(conn);
        match verify_db(&copy, None) {
            Report::Bad { problem, .. } => assert!(problem.contains(view), "{view}: {problem}"),
            ok => panic!("{view} altered, yet {ok}"),
        }
        std::fs::remove_file(&copy).expect("rm");
    }
}

#[test]
fn a_time_resolves_to_the_last_event_at_or_before_it() {
    let dir = tempfile::tempdir().expect("dir");
    let db = imported(dir.path(), 3000);
    let conn = log::open_reader(&db).expect("open");
    let times: Vec<String> = conn
        .prepare("SELECT occurred_at FROM events ORDER BY seq")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    let linear = |t: &str| times.iter().take_while(|x| x.as_str() <= t).count() as i64;
    let probes = [
        "2000-01-01T00:00:00.000Z".to_owned(),
        times[0].clone(),
        times[1234].clone(),
        times[times.len() - 1].clone(),
        "2999-01-01T00:00:00.000Z".to_owned(),
        // Between two events' times.
        times[2000]
            .replace(".000Z", ".700Z")
            .replace(".500Z", ".999Z"),
    ];
    for t in probes {
        let at = as_of::locate(&conn, &Point::Time(t.clone())).expect("locate");
        assert_eq!(at.position, linear(&t), "{t}");
    }
}

#[test]
fn import_refuses_a_database_with_events_and_time_going_backwards() {
    let dir = tempfile::tempdir().expect("dir");
    let db = imported(dir.path(), 100);
    let before = std::fs::read(&db).expect("read");
    let file = dir.path().join("log.ndjson");
    let err = export::import(&db, &file, None, |_| Progress::hidden()).expect_err("refused");
    assert!(format!("{err:#}").contains("already holds"), "{err:#}");
    assert_eq!(std::fs::read(&db).expect("read"), before, "left alone");

    // An existing database without events takes an import in place.
    let empty = dir.path().join("empty.db");
    drop(log::open_writer(&empty).expect("create"));
    let head = export::import(&empty, &file, None, |_| Progress::hidden()).expect("imports");
    assert!(matches!(verify_db(&empty, None), Report::Ok { head: h, .. } if h == head));

    // Time moved backwards on a line whose hash was recomputed: the chain
    // holds there, the order of time does not.
    let text = std::fs::read_to_string(&file).expect("read");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let line: Line = serde_json::from_str(&lines[49]).expect("line");
    let mut rec = export::into_recorded(line).expect("rec");
    rec.occurred_at = "2020-01-01T00:00:00.000Z".into();
    rec.hash = chain::compute_hash(&rec);
    lines[49] = serde_json::to_string(&rec).expect("json");
    let bad = dir.path().join("bad.ndjson");
    std::fs::write(&bad, lines.join("\n")).expect("write");
    let target = dir.path().join("new.db");
    let err = export::import(&target, &bad, None, |_| Progress::hidden()).expect_err("refused");
    let err = err.downcast::<ImportError>().expect("import error");
    assert_eq!(err.position, Some(50));
    assert!(err.problem.contains("before the previous event"), "{err}");
    assert!(!target.exists());

    // Garbage is refused by line.
    std::fs::write(&bad, format!("{}\nnot json\n", lines[0])).expect("write");
    let err = export::import(&target, &bad, None, |_| Progress::hidden()).expect_err("refused");
    let err = err.downcast::<ImportError>().expect("import error");
    assert_eq!((err.line, err.position), (2, None));
    assert!(!target.exists());
}

#[test]
fn export_after_a_position_gives_the_rest_of_the_log() {
    let dir = tempfile::tempdir().expect("dir");
    let db = imported(dir.path(), 200);
    let conn = log::open_reader(&db).expect("open");
    let mut out = Vec::new();
    let n = export::export(&conn, 150, &mut out, &Progress::hidden()).expect("export");
    let text = String::from_utf8(out).expect("utf8");
    let whole = std::fs::read_to_string(dir.path().join("log.ndjson")).expect("read");
    let tail: Vec<&str> = whole.lines().skip(150).collect();
    assert_eq!(n as usize, tail.len());
    assert_eq!(text.lines().collect::<Vec<_>>(), tail);
}

#[test]
fn verify_compares_the_grant_history_with_a_fresh_fold() {
    let dir = tempfile::tempdir().expect("dir");
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("replay-fixtures/grants-inheritance/log.ndjson");
    let db = dir.path().join("g.db");
    export::import(&db, &fixture, None, |_| Progress::hidden()).expect("import");
    assert!(matches!(verify_db(&db, None), Report::Ok { .. }));
    // A grant that never allowed writing, rewritten as if it had.
    let conn = rollcall::views::file::open_with_views(&db).expect("open");
    let changed = conn
        .execute(
            "UPDATE view_grant_intervals SET \"write\" = 1 WHERE \"write\" = 0",
            [],
        )
        .expect("tamper");
    assert_eq!(changed, 1);
    drop(conn);
    let report = verify_db(&db, None);
    assert!(
        format!("{report}").contains("view_grant_intervals"),
        "{report}"
    );
    assert!(!matches!(report, Report::Ok { .. }));

    // The current grants are compared too, flag by flag.
    let db = dir.path().join("g2.db");
    export::import(&db, &fixture, None, |_| Progress::hidden()).expect("import");
    let conn = rollcall::views::file::open_with_views(&db).expect("open");
    let changed = conn
        .execute(
            "UPDATE view_grants SET \"write\" = 0 WHERE object = 'domain:GLOBAL.Engineering'",
            [],
        )
        .expect("tamper");
    assert_eq!(changed, 1);
    drop(conn);
    let report = verify_db(&db, None);
    assert!(format!("{report}").contains("view_grants"), "{report}");
}

#[test]
fn a_stream_version_out_of_step_is_refused_by_import_and_named_by_verify() {
    let dir = tempfile::tempdir().expect("dir");
    let file = generated(dir.path(), 100);
    let text = std::fs::read_to_string(&file).expect("read");
    let mut recs: Vec<_> = text
        .lines()
        .map(|l| {
            export::into_recorded(serde_json::from_str::<Line>(l).expect("line")).expect("rec")
        })
        .collect();
    // Event 60 skips a version of its stream; every hash from there on is
    // recomputed, so the chain itself holds.
    recs[59].stream_version += 1;
    for i in 59..recs.len() {
        recs[i].prev_hash = recs[i - 1].hash.clone();
        recs[i].hash = chain::compute_hash(&recs[i]);
    }
    let lines: Vec<String> = recs
        .iter()
        .map(|r| serde_json::to_string(r).expect("json"))
        .collect();
    let bad = dir.path().join("bad.ndjson");
    std::fs::write(&bad, lines.join("\n")).expect("write");
    let target = dir.path().join("new.db");
    let err = export::import(&target, &bad, None, |_| Progress::hidden()).expect_err("refused");
    let err = err.downcast::<ImportError>().expect("import error");
    assert_eq!(err.position, Some(60), "{err}");
    assert!(err.problem.contains("must count up by one"), "{err}");
    assert!(!target.exists());

    // The same log stored row by row, past import's checks: verify names it.
    let good = dir.path().join("good.ndjson");
    std::fs::write(&good, lines[..59].join("\n")).expect("write");
    export::import(&target, &good, None, |_| Progress::hidden()).expect("prefix imports");
    let conn = rollcall::views::file::open_with_views(&target).expect("open");
    for rec in &recs[59..] {
        log::insert(&conn, rec).expect("stored");
    }
    drop(conn);
    match verify_db(&target, None) {
        Report::Bad { position, problem } => {
            assert_eq!(position, Some(60));
            assert!(problem.contains("must count up by one"), "{problem}");
        }
        other => panic!("not reported: {other:?}"),
    }
}

#[test]
fn verify_checks_views_a_little_behind_the_log_at_their_own_position() {
    let dir = tempfile::tempdir().expect("dir");
    let file = generated(dir.path(), 100);
    let text = std::fs::read_to_string(&file).expect("read");
    let lines: Vec<&str> = text.lines().collect();
    let prefix = dir.path().join("prefix.ndjson");
    std::fs::write(&prefix, lines[..60].join("\n")).expect("write");
    let db = dir.path().join("behind.db");
    export::import(&db, &prefix, None, |_| Progress::hidden()).expect("import");
    // The rest is appended the way the writer appends, before the view
    // writer has written it: the views stay at 60.
    let conn = rollcall::views::file::open_with_views(&db).expect("open");
    for l in &lines[60..] {
        let rec =
            export::into_recorded(serde_json::from_str::<Line>(l).expect("line")).expect("rec");
        log::insert(&conn, &rec).expect("stored");
    }
    let report = verify_db(&db, None);
    let Report::Ok { count, head, views } = &report else {
        panic!("views behind the log are not a fault: {report}");
    };
    assert_eq!(
        (*count, head.seq, *views),
        (lines.len() as i64, lines.len() as i64, 60)
    );
    assert!(report.to_string().contains("40 events behind"), "{report}");

    // What they hold is still checked against the log at their position.
    conn.execute_batch(
        "UPDATE view_users SET realname = 'forged' WHERE id = (SELECT min(id) FROM view_users)",
    )
    .expect("tamper");
    drop(conn);
    assert!(
        matches!(verify_db(&db, None), Report::Bad { ref problem, .. } if problem.contains("view_users")),
        "a changed view is still found"
    );
}
