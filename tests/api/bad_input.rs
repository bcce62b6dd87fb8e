//! Bad input, over a raw socket so nothing is normalised on the way: every
//! case answers a clear error in its API's shape, writes nothing, and the
//! server goes on serving. The README's "Bad input" table lists these cases.

use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{parse_response, raw, raw_get, spawn_app, spawn_app_with, TestApp};

/// alice and Developers exist and alice is not a member: any of the bad
/// paths below, were it misread as this pair, would write an event.
async fn setup() -> TestApp {
    let app = spawn_app().await;
    app.create_user("alice", "GLOBAL").await;
    app.create_group("Developers", "GLOBAL").await;
    app
}

/// The service still answers an ordinary call correctly.
async fn still_serving(app: &TestApp) {
    let (s, v) = app.get(&app.admin, "/api/v1/users/alice").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["name"], "alice");
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"))
}

/// Compat answers HTTP 200 with `success: false` and the error.
async fn compat_error(app: &TestApp, path: &str) -> String {
    let (status, head, body) = raw_get(app, path).await;
    assert_eq!(status, 200, "{path}: {head}\n{body}");
    let v = json(&body);
    assert_eq!(v["success"], false, "{path}: {v}");
    v["error"].as_str().expect("error text").to_owned()
}

/// The JSON API answers a 4xx with `{"error": ...}`.
async fn api_error(app: &TestApp, method: &str, path: &str) -> (u16, String) {
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        app.admin
    );
    let (status, head, body) = raw(app.addr, req.as_bytes()).await;
    assert!((400..500).contains(&status), "{path}: {head}\n{body}");
    let v = json(&body);
    (status, v["error"].as_str().expect("error text").to_owned())
}

#[tokio::test]
async fn bad_compat_paths_answer_success_false_and_write_nothing() {
    let app = setup().await;
    let events = app.event_count();
    let long = "a".repeat(10 * 1024);
    let name_too_long_to_exist = "a".repeat(4000);
    let cases: Vec<(String, String)> = vec![
        (
            "assign/user/alice".into(),
            "Path contains wrong number of elements (3)".into(),
        ),
        (
            "assign/user/alice/Developers/extra".into(),
            "Path contains wrong number of elements (5)".into(),
        ),
        (
            "assign/user//Developers".into(),
            "Path contains an empty element".into(),
        ),
        (
            "assign/user/../Developers".into(),
            "Path must not contain '.' or '..' elements".into(),
        ),
        (
            "assign/user/%2E%2E/Developers".into(),
            "Path must not contain '.' or '..' elements".into(),
        ),
        (
            "assign/user/%FF%FE/Developers".into(),
            "Path is not valid UTF-8 after percent-decoding".into(),
        ),
        (
            "assign/user/al%00ice/Developers".into(),
            "Path must not contain control characters".into(),
        ),
        (
            format!("assign/user/{long}/Developers"),
            "Path element longer than 4096 bytes".into(),
        ),
        (
            format!("assign/user/{name_too_long_to_exist}/Developers"),
            format!("User {name_too_long_to_exist} Not Found or No Access"),
        ),
        (
            "assign/user/alice';DROP%20TABLE%20events;--/Developers".into(),
            "User alice';DROP TABLE events;-- Not Found or No Access".into(),
        ),
        (
            "assign/user/alice%22%20OR%201=1/Developers".into(),
            "User alice\" OR 1=1 Not Found or No Access".into(),
        ),
        // Cyrillic "а" (U+0430) for the Latin "a".
        (
            "assign/user/%D0%B0lice/Developers".into(),
            "User \u{430}lice Not Found or No Access".into(),
        ),
        // Cyrillic "е" (U+0435) for the Latin "e".
        (
            "assign/user/alice/D%D0%B5velopers".into(),
            "Usergroup D\u{435}velopers Not Found or No Access".into(),
        ),
        (
            "assign/group/alice/Developers".into(),
            "Invalid object \"group\" for \"assign\" operation".into(),
        ),
        (
            "frobnicate".into(),
            "Unknown API call \"frobnicate\"".into(),
        ),
    ];
    for (path, want) in &cases {
        let got = compat_error(&app, &format!("/dmadminweb/API/{path}")).await;
        assert_eq!(&got, want, "{path}");
        still_serving(&app).await;
    }
    // Outside the compat calls, under the compat prefix: the compat shape.
    let got = compat_error(&app, "/dmadminweb/nothing-here").await;
    assert_eq!(got, "no such endpoint");
    assert_eq!(app.event_count(), events, "no bad path wrote anything");
    assert!(app.member_names("Developers").await.is_empty());
}

#[tokio::test]
async fn bad_json_api_paths_answer_4xx_with_an_error_and_write_nothing() {
    let app = setup().await;
    let events = app.event_count();
    let long = "a".repeat(10 * 1024);
    let cases: Vec<(&str, String, u16, String)> = vec![
        (
            "PUT",
            "/api/v1/groups/Developers/members/alice/extra".into(),
            404,
            "no such endpoint".into(),
        ),
        (
            "PUT",
            "/api/v1/groups//members/alice".into(),
            400,
            "Path contains an empty element".into(),
        ),
        (
            "PUT",
            "/api/v1/groups/Developers/members/..".into(),
            400,
            "Path must not contain '.' or '..' elements".into(),
        ),
        (
            "PUT",
            "/api/v1/groups/Developers/members/%FF".into(),
            400,
            "Path is not valid UTF-8 after percent-decoding".into(),
        ),
        (
            "PUT",
            "/api/v1/groups/Developers/members/alice%00".into(),
            400,
            "Path must not contain control characters".into(),
        ),
        (
            "PUT",
            format!("/api/v1/groups/Developers/members/{long}"),
            414,
            "Path element longer than 4096 bytes".into(),
        ),
        (
            "PUT",
            "/api/v1/groups/Developers/members/x'%20OR%20'1'='1".into(),
            404,
            "User x' OR '1'='1 Not Found or No Access".into(),
        ),
        (
            "PUT",
            "/api/v1/groups/Developers/members/%D0%B0lice".into(),
            404,
            "User \u{430}lice Not Found or No Access".into(),
        ),
        ("GET", "/nowhere".into(), 404, "no such endpoint".into()),
        (
            "PATCH",
            "/api/v1/users/alice".into(),
            405,
            "method not allowed".into(),
        ),
    ];
    for (method, path, status, want) in &cases {
        let (s, got) = api_error(&app, method, path).await;
        assert_eq!((s, &got), (*status, want), "{method} {path}");
        still_serving(&app).await;
    }
    assert_eq!(app.event_count(), events, "no bad path wrote anything");
    assert!(app.member_names("Developers").await.is_empty());
}

#[tokio::test]
async fn a_raw_nul_byte_in_the_request_line_is_refused_by_the_parser() {
    let app = setup().await;
    let (status, head, _) = raw(
        app.addr,
        b"GET /api/v1/users/al\0ice HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    // hyper refuses it before any route is known: a bare 400.
    assert_eq!(status, 400, "{head}");
    still_serving(&app).await;
}

#[tokio::test]
async fn bad_json_bodies_answer_4xx_and_write_nothing() {
    let app = setup().await;
    let events = app.event_count();
    let post = |ct: &'static str, body: &'static str| {
        let app = &app;
        async move {
            let res = app
                .http
                .post(app.url("/api/v1/users"))
                .bearer_auth(&app.admin)
                .header("content-type", ct)
                .body(body)
                .send()
                .await
                .expect("request");
            let status = res.status().as_u16();
            let v: Value = res.json().await.expect("json error body");
            (status, v["error"].as_str().expect("error").to_owned())
        }
    };
    let json_ct = "application/json";
    let (s, e) = post(json_ct, r#"{"name": 42}"#).await;
    assert_eq!(s, 422, "{e}");
    assert!(e.contains("invalid type"), "{e}");
    let (s, e) = post(json_ct, r#"{}"#).await;
    assert_eq!(s, 422, "{e}");
    assert!(e.contains("missing field `name`"), "{e}");
    let (s, e) = post(json_ct, r#"{"name": "mallory", "admin": true}"#).await;
    assert_eq!(s, 422, "{e}");
    assert!(e.contains("unknown field `admin`"), "{e}");
    let (s, e) = post(json_ct, r#"{"name": "#).await;
    assert_eq!(s, 400, "{e}");
    let (s, e) = post(json_ct, r#"[1, 2, 3]"#).await;
    assert_eq!(s, 422, "{e}");
    let (s, e) = post("text/plain", r#"{"name": "mallory"}"#).await;
    assert_eq!(s, 415, "{e}");
    assert!(e.contains("Content-Type"), "{e}");

    // A membership change's optional body, of the wrong type.
    let res = app
        .http
        .put(app.url("/api/v1/groups/Developers/members/alice"))
        .bearer_auth(&app.admin)
        .header("content-type", json_ct)
        .body(r#"{"reason": 5}"#)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 400);
    let v: Value = res.json().await.expect("json");
    assert!(v["error"].as_str().is_some(), "{v}");

    assert_eq!(app.event_count(), events);
    still_serving(&app).await;
}

/// Sends headers then streams `body_len` bytes while reading the answer,
/// which may come (and the connection close) before the body is all sent.
async fn send_big_body(app: &TestApp, head: String, body_len: usize) -> (u16, String, String) {
    let mut s = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    s.write_all(head.as_bytes()).await.expect("head");
    let (mut rd, mut wr) = s.into_split();
    let writer = tokio::spawn(async move {
        let chunk = vec![b'a'; 64 * 1024];
        let mut sent = 0;
        while sent < body_len {
            let n = chunk.len().min(body_len - sent);
            if wr.write_all(&chunk[..n]).await.is_err() {
                break;
            }
            sent += n;
        }
    });
    let mut buf = Vec::new();
    let _ = rd.read_to_end(&mut buf).await;
    writer.abort();
    parse_response(&buf)
}

#[tokio::test]
async fn ten_mebibyte_bodies_are_refused_in_each_apis_shape() {
    let app = setup().await;
    let events = app.event_count();
    let ten_mib = 10 * 1024 * 1024;
    let head = format!(
        "POST /api/v1/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {ten_mib}\r\nConnection: close\r\n\r\n",
        app.admin
    );
    let (status, h, body) = send_big_body(&app, head, ten_mib).await;
    assert_eq!(status, 413, "{h}");
    assert_eq!(json(&body)["error"], "request body too large");

    // The same without a declared length (chunked): refused once past the limit.
    let head = format!(
        "PUT /api/v1/groups/Developers/members/alice HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        app.admin
    );
    let mut s = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    s.write_all(head.as_bytes()).await.expect("head");
    let (mut rd, mut wr) = s.into_split();
    let writer = tokio::spawn(async move {
        let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, "a".repeat(64 * 1024));
        for _ in 0..160 {
            if wr.write_all(chunk.as_bytes()).await.is_err() {
                break;
            }
        }
    });
    let mut buf = Vec::new();
    let _ = rd.read_to_end(&mut buf).await;
    writer.abort();
    let (status, h, body) = parse_response(&buf);
    assert_eq!(status, 413, "{h}");
    assert_eq!(json(&body)["error"], "request body too large");

    let head = format!(
        "POST /dmadminweb/API/assign/user/alice/Developers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {ten_mib}\r\nConnection: close\r\n\r\n",
        app.admin
    );
    let (status, h, body) = send_big_body(&app, head, ten_mib).await;
    assert_eq!(status, 200, "{h}");
    let v = json(&body);
    assert_eq!(v["success"], false);
    assert_eq!(v["error"], "request body too large");

    assert_eq!(app.event_count(), events);
    assert!(app.member_names("Developers").await.is_empty());
    still_serving(&app).await;
}

#[tokio::test]
async fn headers_too_large_are_refused() {
    let app = setup().await;
    let big = "b".repeat(32 * 1024);
    let req = format!(
        "GET /api/v1/users/alice HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nX-Big: {big}\r\nConnection: close\r\n\r\n",
        app.admin
    );
    let (status, h, body) = raw(app.addr, req.as_bytes()).await;
    assert_eq!(status, 431, "{h}");
    assert_eq!(
        json(&body)["error"],
        "request headers too large (the limit is 16384 bytes)"
    );
    let req = format!(
        "GET /dmadminweb/API/assign/user/alice/Developers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nX-Big: {big}\r\nConnection: close\r\n\r\n",
        app.admin
    );
    let (status, h, body) = raw(app.addr, req.as_bytes()).await;
    assert_eq!(status, 200, "{h}");
    assert_eq!(json(&body)["success"], false);

    // Beyond hyper's read buffer the parser refuses before any route: a bare 431.
    let huge = "h".repeat(1024 * 1024);
    let req = format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Huge: {huge}\r\n\r\n");
    let (status, h, _) = raw(app.addr, req.as_bytes()).await;
    assert_eq!(status, 431, "{h}");

    assert!(app.member_names("Developers").await.is_empty());
    still_serving(&app).await;
}

#[tokio::test]
async fn a_client_sending_its_headers_a_byte_a_second_is_cut_off_and_others_are_served() {
    let app = spawn_app_with(|c| c.limits.header_read_timeout = Duration::from_secs(2)).await;
    let mut slow = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: abcdefghijklmnopqrstuvwxyz\r\n\r\n";
    let mut sent = 0;
    let mut closed = false;
    for byte in request {
        if slow.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
        sent += 1;
        // Meanwhile everyone else is served as usual.
        let (s, v) = app.get(&app.admin, "/api/v1/users/admin").await;
        assert_eq!(s, 200, "{v}");
        // Has the server hung up on us?
        let mut probe = [0u8; 64];
        match tokio::time::timeout(Duration::from_secs(1), slow.read(&mut probe)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(n)) => panic!(
                "answered a request it never fully got: {:?}",
                String::from_utf8_lossy(&probe[..n])
            ),
            Err(_) => {} // a second passed with no answer: send the next byte
        }
    }
    assert!(closed, "the slow client was never cut off");
    assert!(sent < request.len(), "cut off before finishing its headers");
}
