//! The configurable limits hold: body size, request time-out, concurrent
//! connections, and the failed-login back-off per user and per address.

use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{parse_response, spawn_app_with, TestApp};

#[tokio::test]
async fn the_body_limit_is_configurable() {
    let app = spawn_app_with(|c| c.limits.max_body_bytes = 2048).await;
    let body = |pad: usize| format!(r#"{{"name": "padded"{}}}"#, " ".repeat(pad));
    let send = |b: String| {
        let app = &app;
        async move {
            let res = app
                .http
                .post(app.url("/api/v1/users"))
                .bearer_auth(&app.admin)
                .header("content-type", "application/json")
                .body(b)
                .send()
                .await
                .expect("request");
            let status = res.status();
            (status, res.json::<Value>().await.expect("json"))
        }
    };
    let (s, v) = send(body(3000)).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert_eq!(v["error"], "request body too large");
    let (s, v) = send(body(1500)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}

/// Holds SQLite's write lock from another connection, so the writer waits.
fn hold_write_lock(app: &TestApp) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(&app.db).expect("open");
    conn.execute_batch("BEGIN IMMEDIATE").expect("lock");
    conn
}

#[tokio::test]
async fn a_request_that_takes_too_long_answers_408_in_each_apis_shape() {
    let app = spawn_app_with(|c| c.limits.request_timeout = Duration::from_millis(500)).await;
    app.create_user("alice", "GLOBAL").await;
    app.create_group("Developers", "GLOBAL").await;
    let lock = hold_write_lock(&app);

    let (s, v) = app
        .put(&app.admin, "/api/v1/groups/Developers/members/alice")
        .await;
    assert_eq!(s, StatusCode::REQUEST_TIMEOUT, "{v}");
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("request timed out")),
        "{v}"
    );
    let v = app
        .compat(&app.admin, "unassign/user/alice/Developers")
        .await;
    assert_eq!(v["success"], false, "{v}");
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("request timed out")),
        "{v}"
    );
    // Reads never wait for the writer.
    let (s, v) = app.get(&app.admin, "/api/v1/users/alice").await;
    assert_eq!(s, StatusCode::OK, "{v}");

    lock.execute_batch("ROLLBACK").expect("unlock");
    drop(lock);
    // Once the writer gets the lock, writes go through again.
    let (s, v) = app
        .put(&app.admin, "/api/v1/groups/Developers/members/alice")
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

/// Opens a connection and completes one request on it, keeping it open.
async fn busy_connection(app: &TestApp) -> TcpStream {
    let mut s = TcpStream::connect(app.addr).await.expect("connect");
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("send");
    let mut buf = [0u8; 1024];
    let n = s.read(&mut buf).await.expect("answer");
    assert_eq!(parse_response(&buf[..n]).0, 200);
    s
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_until_one_closes() {
    let mut app = spawn_app_with(|c| {
        c.limits.max_connections = 2;
        c.limits.header_read_timeout = Duration::from_secs(60);
    })
    .await;
    // The client's pooled keep-alive connection would hold a slot too:
    // replace the client, which closes it.
    app.http = reqwest::Client::new();
    let first = busy_connection(&app).await;
    let _second = busy_connection(&app).await;

    let mut third = TcpStream::connect(app.addr).await.expect("connect");
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("send");
    let mut buf = Vec::new();
    let waited =
        tokio::time::timeout(Duration::from_millis(500), third.read_to_end(&mut buf)).await;
    assert!(
        waited.is_err(),
        "a third connection was served while two were open: {:?}",
        String::from_utf8_lossy(&buf)
    );

    drop(first);
    tokio::time::timeout(Duration::from_secs(10), third.read_to_end(&mut buf))
        .await
        .expect("served once a slot freed")
        .expect("read");
    assert_eq!(parse_response(&buf).0, 200);
}

async fn login(app: &TestApp, user: &str, password: &str) -> (StatusCode, Option<u64>, Value) {
    let res = app
        .http
        .post(app.url("/api/v1/sessions"))
        .json(&json!({"user": user, "password": password}))
        .send()
        .await
        .expect("request");
    let status = res.status();
    let retry = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    (status, retry, res.json().await.expect("json"))
}

#[tokio::test]
async fn failed_logins_back_off_per_user_with_growing_waits() {
    let app = spawn_app_with(|c| {
        c.login_throttle.free_per_user = 2;
        c.login_throttle.free_per_address = 100;
        c.login_throttle.base = Duration::from_secs(2);
    })
    .await;
    app.create_user("bob", "GLOBAL").await;
    app.create_user("carol", "GLOBAL").await;
    for _ in 0..3 {
        let (s, _, v) = login(&app, "bob", "wrong-password").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    }
    // Locked out: even the right password is refused, without being checked.
    let (s, retry, v) = login(&app, "bob", "bob-password").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{v}");
    let first_wait = retry.expect("Retry-After");
    assert!((1..=2).contains(&first_wait), "{first_wait}");
    assert_eq!(
        v["error"],
        format!("Too many failed logins: try again in {first_wait} seconds")
    );
    let c = app.compat_anon("login?user=bob&pass=bob-password").await;
    assert_eq!(c["success"], false, "{c}");
    assert!(
        c["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("Too many failed logins")),
        "{c}"
    );
    // Other users are not affected.
    let (s, _, v) = login(&app, "carol", "carol-password").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    // Once the wait is over, one more failure locks bob out for twice as long.
    tokio::time::sleep(Duration::from_millis(first_wait * 1000 + 100)).await;
    let (s, _, v) = login(&app, "bob", "wrong-password").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    let (s, retry, v) = login(&app, "bob", "bob-password").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{v}");
    let second_wait = retry.expect("Retry-After");
    assert!(
        second_wait > first_wait && second_wait <= 4,
        "{first_wait} then {second_wait}"
    );
}

#[tokio::test]
async fn failed_logins_back_off_per_client_address_across_user_names() {
    let app = spawn_app_with(|c| {
        c.login_throttle.free_per_user = 100;
        c.login_throttle.free_per_address = 3;
        c.login_throttle.base = Duration::from_secs(600);
    })
    .await;
    app.create_user("carol", "GLOBAL").await;
    for name in ["dave", "erin", "frank", "grace"] {
        let (s, _, v) = login(&app, name, "guess-password").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    }
    let (s, retry, v) = login(&app, "carol", "carol-password").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert!(retry.is_some_and(|r| r > 500), "{retry:?}");
    // Sessions already open keep working.
    let (s, _) = app.get(&app.admin, "/api/v1/users/carol").await;
    assert_eq!(s, StatusCode::OK);
}
