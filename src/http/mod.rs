//! The HTTP layer: parse and authenticate requests, turn them into commands
//! or queries, and render the outcome. It holds no rules of its own.
//!
//! - [`compat`]: the dmadminweb API (`/dmadminweb/API/...`), always HTTP 200
//!   with `{"success": ...}`.
//! - [`v1`]: the JSON API under `/api/v1`, with real status codes.
//! - [`ops`]: `/healthz`, `/readyz`, `/metrics`.
//! - Around the router, once, [`observe`]: request id, log span, the checks
//!   of [`guard`] (header size, path well-formedness, request time-out),
//!   every error in the API's own shape ([`shape`]), metrics and the access
//!   log line; inside it, the body limit. See [`Service`].

pub mod compat;
pub mod error;
pub mod extract;
pub mod guard;
pub mod json;
pub mod observe;
pub mod ops;
pub mod session;
pub mod shape;
pub mod v1;

use axum::extract::{DefaultBodyLimit, Request};
use axum::response::Response;
use axum::routing::MethodRouter;
use axum::Router;
use std::sync::Arc;
use tower::ServiceExt;

use crate::auth::{Sessions, Throttle};
use crate::config::Limits;
use crate::metrics::Metrics;
use crate::read_model::ReadModel;
use crate::reader::ReadPool;
use crate::writer::WriterHandle;

pub use error::ApiError;

/// Everything a handler may need. Handlers' extractors clone it on every
/// request, so it is one shared pointer: one reference count to bump, not
/// one per part.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The parts of [`AppState`].
pub struct Shared {
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

/// The routes, each registered once and known two ways: to axum's router,
/// which dispatches to the handler, and to a table of route templates that
/// [`observe`] looks a request's path up in before routing, to count and
/// log it by template. One list makes both, so they cannot disagree.
pub struct Routes {
    router: Router<AppState>,
    templates: matchit::Router<&'static str>,
}

impl Routes {
    fn new() -> Self {
        Routes {
            router: Router::new(),
            templates: matchit::Router::new(),
        }
    }

    /// Adds a route. The templates are this crate's own constants: one that
    /// does not parse, or clashes with another, is a bug caught by every
    /// test that builds the service, so it panics at start-up.
    pub fn route(mut self, template: &'static str, handlers: MethodRouter<AppState>) -> Self {
        self.router = self.router.route(template, handlers);
        self.templates
            .insert(template, template)
            .expect("route templates are valid and distinct");
        self
    }
}

/// The whole HTTP service: [`observe`] around axum's router. Cheap to clone.
///
/// The middleware wraps the router once, rather than being layered onto
/// every route with `Router::layer`: a layer there is a boxed service that
/// is cloned, and a boxed future made, on every request, for each layer —
/// about a tenth of an access check's CPU time.
#[derive(Clone)]
pub struct Service(Arc<Inner>);

struct Inner {
    router: Router,
    templates: matchit::Router<&'static str>,
    around: observe::Around,
    body_limit: DefaultBodyLimit,
}

pub fn service(state: AppState) -> Service {
    let Routes { router, templates } = ops::routes(v1::routes(compat::routes(Routes::new())));
    let around = observe::Around {
        metrics: state.metrics.clone(),
        limits: state.limits.clone(),
    };
    let body_limit = DefaultBodyLimit::max(state.limits.max_body_bytes);
    Service(Arc::new(Inner {
        router: router.fallback(shape::no_route).with_state(state),
        templates,
        around,
        body_limit,
    }))
}

impl Service {
    /// Answers one request.
    pub async fn answer(&self, mut req: Request) -> Response {
        let inner = &*self.0;
        let template = inner.templates.at(req.uri().path()).ok().map(|m| *m.value);
        // What `Router::layer(DefaultBodyLimit)` would do, once: the body
        // extractors read the limit from the request's extensions.
        inner.body_limit.apply(&mut req);
        observe::observe(&inner.around, template, req, |req| async move {
            match inner.router.clone().oneshot(req).await {
                Ok(res) => res,
                Err(never) => match never {},
            }
        })
        .await
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
