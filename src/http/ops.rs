//! Endpoints for operators and orchestrators: `/healthz` (the process
//! answers), `/readyz` (the database takes writes and the projection is caught
//! up), `/metrics` (Prometheus text format). None needs a session; none
//! reveals more than counts and positions.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use serde_json::json;
use std::time::Duration;

use super::{AppState, Routes};
use crate::metrics::Gauges;

/// How long readiness waits for the writer to prove it can write.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long readiness waits for the read model to publish a commit it saw.
const PUBLISH_WAIT: Duration = Duration::from_secs(1);

pub fn routes(r: Routes) -> Routes {
    r.route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// The log head and the views' checkpoint, read in one snapshot of the file.
#[derive(Clone, Copy)]
struct Positions {
    log_head: i64,
    views: i64,
}

async fn positions(app: &AppState) -> Option<Positions> {
    let read = app
        .pool
        .run(|conn| {
            Ok(conn.query_row(
                "SELECT (SELECT coalesce(max(seq), 0) FROM events),
                        (SELECT seq FROM view_checkpoint WHERE id = 1)",
                [],
                |r| {
                    Ok(Positions {
                        log_head: r.get(0)?,
                        views: r.get(1)?,
                    })
                },
            )?)
        })
        .await;
    match read {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::error!(error = ?e, "could not read the log head");
            None
        }
    }
}

async fn readyz(State(app): State<AppState>) -> Response {
    let writable = matches!(
        tokio::time::timeout(PROBE_TIMEOUT, app.writer.probe()).await,
        Ok(Ok(()))
    );
    let pos = positions(&app).await;
    // The writer publishes right after it commits: give a commit seen in the
    // file a moment to reach the read model before calling it lag.
    let published = match pos {
        Some(p) => {
            app.read
                .wait_for(p.log_head, PUBLISH_WAIT)
                .await
                .unwrap_or_else(|| app.read.snapshot())
                .head
                .seq
        }
        None => app.read.snapshot().head.seq,
    };
    // The views are written behind the log by design (audit queries wait for
    // them); readiness is about the state that answers checks and reads.
    let caught_up = pos.is_some_and(|p| published >= p.log_head);
    let ready = writable && caught_up;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "ready": ready,
        "database_writable": writable,
        "projection_caught_up": caught_up,
        "log_head": pos.map(|p| p.log_head),
        "views_position": pos.map(|p| p.views),
        "read_model_position": published,
    });
    (status, Json(body)).into_response()
}

async fn metrics(State(app): State<AppState>) -> Response {
    let pos = positions(&app).await;
    // Read after the file, so a commit in between shows no false lag.
    let published = app.read.snapshot().head.seq;
    let pos = pos.unwrap_or(Positions {
        log_head: published,
        views: published,
    });
    let text = app.metrics.render(&Gauges {
        log_head: pos.log_head,
        published,
        views: pos.views,
        sessions: app.sessions.len(),
    });
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
