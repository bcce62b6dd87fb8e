//! The operator endpoints and request ids.

use reqwest::StatusCode;

use crate::helpers::spawn_app;

#[tokio::test]
async fn healthz_and_readyz_answer_without_a_session() {
    let app = spawn_app().await;
    let res = app.http.get(app.url("/healthz")).send().await.expect("req");
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.http.get(app.url("/readyz")).send().await.expect("req");
    assert_eq!(res.status(), StatusCode::OK);
    let v: serde_json::Value = res.json().await.expect("json");
    assert_eq!(v["ready"], true, "{v}");
    assert_eq!(v["database_writable"], true, "{v}");
    assert_eq!(v["projection_caught_up"], true, "{v}");
    assert_eq!(v["log_head"], v["read_model_position"], "{v}");
    assert_eq!(v["log_head"], app.event_count() as i64, "{v}");
}

/// The value of a sample line `name value` in a Prometheus exposition.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no sample {name} in:\n{text}"))
}

#[tokio::test]
async fn metrics_count_requests_commits_positions_and_sessions() {
    let app = spawn_app().await;
    app.create_user("alice", "GLOBAL").await;
    app.create_group("Developers", "GLOBAL").await;
    app.compat(&app.admin, "assign/user/alice/Developers").await;
    let (s, _) = app.get(&app.admin, "/api/v1/users/nobody").await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let res = app.http.get(app.url("/metrics")).send().await.expect("req");
    assert_eq!(res.status(), StatusCode::OK);
    let ct = res.headers()["content-type"]
        .to_str()
        .expect("ct")
        .to_owned();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    let text = res.text().await.expect("text");

    assert_eq!(
        sample(
            &text,
            "rollcall_http_requests_total{route=\"/api/v1/users\",status=\"201\"}"
        ),
        1.0
    );
    assert_eq!(
        sample(
            &text,
            "rollcall_http_requests_total{route=\"/dmadminweb/API/assign\",status=\"200\"}"
        ),
        1.0
    );
    assert_eq!(
        sample(
            &text,
            "rollcall_http_requests_total{route=\"/api/v1/users/{user}\",status=\"404\"}"
        ),
        1.0
    );
    // Bootstrap, login, two creates and an assign: five commits at least.
    assert!(
        sample(&text, "rollcall_writer_batch_size_count") >= 5.0,
        "{text}"
    );
    assert!(
        sample(&text, "rollcall_commit_seconds_count") >= 5.0,
        "{text}"
    );
    assert!(text.contains("rollcall_commit_seconds_bucket{le=\"+Inf\"}"));
    assert_eq!(sample(&text, "rollcall_log_head"), app.event_count() as f64);
    assert_eq!(sample(&text, "rollcall_projection_lag"), 0.0);
    // The views are written behind the log: their lag drops to nothing.
    let mut views_lag = sample(&text, "rollcall_views_lag");
    for _ in 0..200 {
        if views_lag == 0.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        let again = app.http.get(app.url("/metrics")).send().await.expect("req");
        views_lag = sample(&again.text().await.expect("text"), "rollcall_views_lag");
    }
    assert_eq!(views_lag, 0.0, "{text}");
    assert_eq!(sample(&text, "rollcall_sessions"), 1.0);
    // This very request is in flight while the text is made.
    assert_eq!(sample(&text, "rollcall_http_requests_in_flight"), 1.0);
}

#[tokio::test]
async fn the_request_id_is_echoed_and_stored_on_the_events_it_writes() {
    let app = spawn_app().await;
    app.create_user("alice", "GLOBAL").await;
    app.create_group("Developers", "GLOBAL").await;
    let res = app
        .http
        .put(app.url("/api/v1/groups/Developers/members/alice"))
        .bearer_auth(&app.admin)
        .header("x-request-id", "ticket-4711")
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["x-request-id"], "ticket-4711");

    // Made up when absent (or unusable), and the same one reaches the event.
    let res = app
        .http
        .get(app.url("/dmadminweb/API/unassign/user/alice/Developers"))
        .bearer_auth(&app.admin)
        .header("x-request-id", "has spaces, so unusable")
        .send()
        .await
        .expect("req");
    let made = res.headers()["x-request-id"]
        .to_str()
        .expect("id")
        .to_owned();
    assert_ne!(made, "has spaces, so unusable");
    assert!(uuid::Uuid::parse_str(&made).is_ok(), "{made}");

    let conn = rusqlite::Connection::open(&app.db).expect("open");
    let ids: Vec<(String, Option<String>)> = conn
        .prepare("SELECT event_type, request_id FROM events ORDER BY seq DESC LIMIT 2")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(
        ids,
        vec![
            ("UserUnassigned".to_owned(), Some(made)),
            ("UserAssigned".to_owned(), Some("ticket-4711".to_owned())),
        ]
    );
}
