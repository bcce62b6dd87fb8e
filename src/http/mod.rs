//! The HTTP layer: parse and authenticate requests, turn them into commands
//! or queries, and render the outcome. It holds no rules of its own.
//!
//! - [`compat`]: the dmadminweb API (`/dmadminweb/API/...`), always HTTP 200
//!   with `{"success": ...}`.
//! - [`v1`]: the JSON API under `/api/v1`, with real status codes.

pub mod compat;
pub mod error;
pub mod extract;
pub mod session;
pub mod v1;

use axum::Router;
use std::sync::Arc;

use crate::auth::Sessions;
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
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(compat::router())
        .merge(v1::router())
        .with_state(state)
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
