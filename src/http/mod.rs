//! The HTTP layer: parse and authenticate requests, turn them into commands
//! or queries, and render the outcome. It holds no rules of its own.
//!
//! - [`compat`]: the dmadminweb API (`/dmadminweb/API/...`), always HTTP 200
//!   with `{"success": ...}`.
//! - [`v1`]: the JSON API under `/api/v1`, with real status codes.
//! - [`ops`]: `/healthz`, `/readyz`, `/metrics`.
//! - Around every route, one middleware, [`observe`]: request id, log span,
//!   the checks of [`guard`] (header size, path well-formedness, request
//!   time-out), every error in the API's own shape ([`shape`]), metrics and
//!   the access log line; inside it, the body limit.

pub mod compat;
pub mod error;
pub mod extract;
pub mod guard;
pub mod observe;
pub mod ops;
pub mod session;
pub mod shape;
pub mod v1;

use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::Router;
use std::sync::Arc;

use crate::auth::{Sessions, Throttle};
use crate::config::Limits;
use crate::metrics::Metrics;
use crate::read_model::ReadModel;
use crate::reader::ReadPool;
use crate::writer::WriterHandle;

pub use error::ApiError;

/// Everything a handler may need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Where commands go.
    pub writer: WriterHandle,
    /// Where queries are answered from.
    pub read: Arc<ReadModel>,
    pub sessions: Arc<Sessions>,
    /// Read-only SQLite connections for credentials and the log.
    pub pool: ReadPool,
    pub metrics: Arc<Metrics>,
    pub throttle: Arc<Throttle>,
    pub limits: Arc<Limits>,
}

pub fn router(state: AppState) -> Router {
    let limits = state.limits.clone();
    Router::new()
        .merge(compat::router())
        .merge(v1::router())
        .merge(ops::router())
        .fallback(shape::no_route)
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            observe::Around {
                metrics: state.metrics.clone(),
                limits,
            },
            observe::observe,
        ))
        .with_state(state)
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
