//! The writer when storage fails mid-batch. On a full disk SQLite may roll
//! back the whole transaction, not just the failing statement; the writer
//! must then fail the rest of the batch rather than run it outside any
//! transaction, which would store changes it answers as failed.

use rollcall::commands::{Command, Request};
use rollcall::domain::{Ident, Kind, Name};
use rollcall::read_model::ReadModel;
use rollcall::writer::{self, CommandError, Fault};
use rollcall::{log, projector};
use std::sync::Arc;
use std::time::Duration;

fn request(id: &str, command: Command) -> Request {
    Request {
        caller: Some(rollcall::domain::ADMIN),
        request_id: Some(id.into()),
        reason: None,
        command,
    }
}

fn user(name: &str, realname_bytes: usize) -> Command {
    Command::CreateUser {
        name: Name::parse(Kind::User, name).expect("name"),
        domain: None,
        realname: Some("r".repeat(realname_bytes)),
        email: None,
        password_hash: None,
    }
}

fn events_of(db: &std::path::Path, request_id: &str) -> i64 {
    let conn = rusqlite::Connection::open(db).expect("open");
    conn.query_row(
        "SELECT count(*) FROM events WHERE request_id = ?1",
        [request_id],
        |r| r.get(0),
    )
    .expect("count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_whose_transaction_sqlite_dropped_stores_nothing_it_answers_as_failed() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("w.db");
    let mut conn = log::open_writer(&db).expect("open");
    let state = projector::catch_up(&mut conn).expect("catch up");
    let read = Arc::new(ReadModel::new(state.clone()));
    let (w, thread) = writer::spawn(conn, state, read).expect("writer");
    w.execute(Request {
        caller: None,
        ..request(
            "boot",
            Command::Bootstrap {
                admin_password_hash: "h".into(),
            },
        )
    })
    .await
    .expect("bootstrap");
    w.execute(request("alice", user("alice", 10)))
        .await
        .expect("alice");

    // Fill the file: large users until one no longer fits.
    w.simulate(Fault::Full).await.expect("full");
    let mut refused = false;
    for i in 0..50 {
        match w
            .execute(request("fill", user(&format!("big{i}"), 3000)))
            .await
        {
            Ok(_) => {}
            Err(CommandError::Storage) => {
                refused = true;
                break;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(refused, "the file never filled up");

    // Put a large create and a small assign in one batch: hold SQLite's
    // write lock so the writer waits inside a first batch while both queue.
    let blocker = rusqlite::Connection::open(&db).expect("open");
    blocker.execute_batch("BEGIN IMMEDIATE").expect("lock");
    let first = tokio::spawn({
        let w = w.clone();
        async move {
            w.execute(request(
                "noop",
                Command::Assign {
                    user: Ident::Id(1),
                    group: Ident::Id(2),
                },
            ))
            .await
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let big = tokio::spawn({
        let w = w.clone();
        async move { w.execute(request("big", user("huge", 3000))).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let small = tokio::spawn({
        let w = w.clone();
        async move {
            w.execute(request(
                "small",
                Command::Assign {
                    user: Ident::Plain("alice".into()),
                    group: Ident::Id(2),
                },
            ))
            .await
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    blocker.execute_batch("ROLLBACK").expect("unlock");
    drop(blocker);

    first.await.expect("task").expect("the no-op is answered");
    let big = big.await.expect("task");
    let small = small.await.expect("task");
    assert!(
        matches!(big, Err(CommandError::Storage)),
        "the large create does not fit: {big:?}"
    );
    // Whatever the small change was answered, the log agrees with the answer.
    let stored = events_of(&db, "small");
    match small {
        Ok(_) => assert_eq!(stored, 1, "acknowledged, so stored"),
        Err(CommandError::Storage) => assert_eq!(stored, 0, "answered as failed, so not stored"),
        Err(e) => panic!("{e}"),
    }
    assert_eq!(events_of(&db, "big"), 0);

    // Space returns: writes go on at the right position, the chain holds.
    w.simulate(Fault::Healthy).await.expect("healthy");
    w.execute(request("after", user("later", 10)))
        .await
        .expect("writes resume");
    drop(w);
    thread.join().expect("writer stops");
    let conn = rollcall::views::file::open_with_views(&db).expect("open");
    let head = log::verify_chain(&conn).expect("chain");
    let views = rollcall::views::load(&conn).expect("views");
    assert_eq!(views.head, head);
}
