//! Storage faults while serving: the disk fills up, or turns read-only.
//! Writes answer a clear error, reads keep working, nothing acknowledged is
//! lost, nothing refused is kept, and writes resume once the fault is gone,
//! without a restart.

use futures_util::future::join_all;
use reqwest::StatusCode;
use rollcall::writer::Fault;
use serde_json::json;

use crate::common::check_store;
use crate::helpers::{spawn_app, TestApp, ADMIN_PASSWORD};

const STORAGE_ERROR: &str = "the change could not be stored; nothing was written";

/// Creates users `{prefix}{i}` in concurrent waves (so batches mix stored
/// and refused commands) until some are refused; returns (stored, refused).
async fn create_until_refused(app: &TestApp, prefix: &str) -> (Vec<String>, Vec<String>) {
    let (mut stored, mut refused) = (Vec::new(), Vec::new());
    for wave in 0..100 {
        let calls = (0..16).map(|i| {
            let name = format!("{prefix}{wave}x{i}");
            async move {
                let (s, v) = app
                    .post(
                        &app.admin,
                        "/api/v1/users",
                        json!({"name": name, "realname": "x".repeat(400)}),
                    )
                    .await;
                (name, s, v)
            }
        });
        for (name, s, v) in join_all(calls).await {
            match s {
                StatusCode::CREATED => stored.push(name),
                StatusCode::SERVICE_UNAVAILABLE => {
                    assert_eq!(v["error"], STORAGE_ERROR);
                    refused.push(name)
                }
                other => panic!("{name}: {other} {v}"),
            }
        }
        if !refused.is_empty() {
            return (stored, refused);
        }
    }
    panic!("the database never filled up");
}

async fn reads_still_work(app: &TestApp) {
    let (s, v) = app.get(&app.admin, "/api/v1/users/alice").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(app.member_names("Developers").await, vec!["GLOBAL.alice"]);
    let (s, _) = app.get(&app.admin, "/healthz").await;
    assert_eq!(s, StatusCode::OK);
}

async fn ready(app: &TestApp) -> (StatusCode, serde_json::Value) {
    app.get(&app.admin, "/readyz").await
}

async fn survive(fault: Fault) {
    let mut app = spawn_app().await;
    app.create_user("alice", "GLOBAL").await;
    app.create_group("Developers", "GLOBAL").await;
    assert_eq!(
        app.compat(&app.admin, "assign/user/alice/Developers").await["success"],
        true
    );
    assert_eq!(ready(&app).await.0, StatusCode::OK);
    let writer = app.writer.clone().expect("writer");
    writer.simulate(fault).await.expect("simulated");

    let (stored, refused) = create_until_refused(&app, "u").await;
    if fault == Fault::ReadOnly {
        // Every kind of write is refused the same way, in each API's shape.
        let (s, v) = app
            .delete(&app.admin, "/api/v1/groups/Developers/members/alice")
            .await;
        assert_eq!(
            (s, v["error"].as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, Some(STORAGE_ERROR))
        );
        let v = app
            .compat(&app.admin, "unassign/user/alice/Developers")
            .await;
        assert_eq!(
            (v["success"].as_bool(), v["error"].as_str()),
            (Some(false), Some(STORAGE_ERROR))
        );
        let (s, v) = app
            .post(
                &app.admin,
                "/api/v1/sessions",
                json!({"user": "admin", "password": ADMIN_PASSWORD}),
            )
            .await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    }
    // (With no page to spare, a write that fits in the pages there are may
    // still go through, so only a read-only database refuses every write.)
    reads_still_work(&app).await;
    for name in &stored {
        let (s, v) = app.get(&app.admin, &format!("/api/v1/users/{name}")).await;
        assert_eq!(s, StatusCode::OK, "acknowledged {name} is visible: {v}");
    }
    for name in &refused {
        let (s, v) = app.get(&app.admin, &format!("/api/v1/users/{name}")).await;
        assert_eq!(
            s,
            StatusCode::NOT_FOUND,
            "refused {name} left no trace: {v}"
        );
    }
    let (s, v) = ready(&app).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert_eq!(v["database_writable"], false, "{v}");
    let events_during_fault = app.event_count();

    writer.simulate(Fault::Healthy).await.expect("healed");
    drop(writer);
    // Writes resume without a restart; names refused before were never
    // kept, in memory either, so they can be created now.
    assert_eq!(ready(&app).await.0, StatusCode::OK);
    for name in &refused {
        app.create_user(name, "GLOBAL").await;
    }
    let (s, v) = app
        .delete(&app.admin, "/api/v1/groups/Developers/members/alice")
        .await;
    assert_eq!(
        (s, v["changed"].as_bool()),
        (StatusCode::OK, Some(true)),
        "{v}"
    );
    assert_eq!(app.event_count(), events_during_fault + refused.len() + 1);

    // Everything acknowledged survives a restart.
    app.restart().await;
    for name in stored.iter().chain(&refused) {
        let (s, v) = app.get(&app.admin, &format!("/api/v1/users/{name}")).await;
        assert_eq!(s, StatusCode::OK, "{name}: {v}");
    }
    app.stop().await;
    let state = check_store(&app.db);
    assert_eq!(state.user_count(), 2 + stored.len() + refused.len());
}

#[tokio::test]
async fn a_full_disk_refuses_writes_keeps_reads_and_recovers_without_a_restart() {
    survive(Fault::Full).await;
}

#[tokio::test]
async fn a_read_only_database_refuses_writes_keeps_reads_and_recovers_without_a_restart() {
    survive(Fault::ReadOnly).await;
}
