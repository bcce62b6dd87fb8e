//! The one middleware around every route. In order: settle the request id
//! (the caller's sensible `X-Request-Id`, else a new one) so that handlers,
//! the events they write and every log line agree on it; serve the request
//! with that id on every line it logs ([`crate::logging::in_request`]);
//! refuse what must not reach a handler ([`super::guard`]); run the handler
//! under the request time-out; put framework-made errors in the API's shape
//! ([`super::shape`]); count the answer by route template and status; log
//! it; echo the id back.
//!
//! One layer rather than one per job: each `from_fn` layer costs an
//! allocation and a clone of the inner service per request, and these run on
//! every request, checks included.
//!
//! Only the method and the route template are logged, never the raw path's
//! query string or any header: the compat login carries its password in the
//! query string, and tokens travel in headers and cookies.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Level;

use super::extract::RequestId;
use super::guard;
use super::shape::{self, Api};
use crate::config::Limits;
use crate::logging;
use crate::metrics::Metrics;

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A request that takes at least this long is logged at `info` even when it
/// is a successful read.
pub const SLOW_REQUEST: Duration = Duration::from_millis(500);

/// What the middleware needs: the counters and the request limits.
#[derive(Clone)]
pub struct Around {
    pub metrics: Arc<Metrics>,
    pub limits: Arc<Limits>,
}

/// Compat calls share one route; these operations get a label of their own.
/// The flag says whether the call changes something (its answer line is
/// logged at `info`).
const COMPAT_OPS: &[(&str, &str, bool)] = &[
    ("login", "/dmadminweb/API/login", true),
    ("logout", "/dmadminweb/API/logout", true),
    ("assign", "/dmadminweb/API/assign", true),
    ("unassign", "/dmadminweb/API/unassign", true),
    ("user", "/dmadminweb/API/user", false),
    ("domain", "/dmadminweb/API/domain", false),
    ("list", "/dmadminweb/API/list", false),
    ("new", "/dmadminweb/API/new", true),
    ("del", "/dmadminweb/API/del", true),
    ("import", "/dmadminweb/API/import", true),
];
const COMPAT_OTHER: &str = "/dmadminweb/API/{other}";

/// The route a request is counted and logged under: its route template,
/// with compat calls split by operation; `unmatched` for paths no route
/// serves. Cheap to make: no allocation.
#[derive(Clone)]
enum Route {
    Template(MatchedPath),
    Fixed(&'static str),
}

impl Route {
    fn as_str(&self) -> &str {
        match self {
            Route::Template(m) => m.as_str(),
            Route::Fixed(s) => s,
        }
    }
}

/// The request's route, and whether it changes something (compat calls
/// change things through GET, so the method alone does not say).
fn route_of(req: &Request) -> (Route, bool) {
    let writes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let Some(matched) = req.extensions().get::<MatchedPath>() else {
        return (Route::Fixed("unmatched"), writes);
    };
    if matched.as_str().starts_with("/dmadminweb/API") {
        let op = req
            .uri()
            .path()
            .strip_prefix("/dmadminweb/API/")
            .and_then(|rest| rest.split('/').next())
            .and_then(|op| COMPAT_OPS.iter().find(|(name, _, _)| *name == op));
        return match op {
            Some((_, label, changes)) => (Route::Fixed(label), writes || *changes),
            None => (Route::Fixed(COMPAT_OTHER), writes),
        };
    }
    (Route::Template(matched.clone()), writes)
}

/// The level of a request's `answered` line: `info` for what an operator
/// wants to see by default (changes, errors, slow answers), `debug` for the
/// bulk of successful reads, so a busy read path costs no log line.
pub fn answer_level(writes: bool, status: u16, took: Duration) -> Level {
    if writes || status >= 400 || took >= SLOW_REQUEST {
        Level::INFO
    } else {
        Level::DEBUG
    }
}

/// Keeps the in-flight gauge right even when a request is abandoned midway.
struct InFlight<'m>(&'m Metrics);

impl<'m> InFlight<'m> {
    fn enter(m: &'m Metrics) -> Self {
        m.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(m)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

pub async fn observe(State(around): State<Around>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let rid = RequestId::from_headers(req.headers());
    // Rewritten on the request so every later reader of the header (the
    // handlers' `RequestId`) sees this same id, even when it was made here.
    let rid_header = HeaderValue::from_str(&rid.0).ok();
    if let Some(v) = &rid_header {
        req.headers_mut().insert(X_REQUEST_ID, v.clone());
    }
    let (route, writes) = route_of(&req);
    let api = Api::of(req.uri().path());
    let method = req.method().clone();
    let limits = &around.limits;
    // Every line logged while serving, the `answered` line included,
    // carries the id (see `crate::logging`: a task-local, not a span, so a
    // request that logs nothing pays next to nothing for it).
    let served = async {
        let mut res = {
            let _in_flight = InFlight::enter(&around.metrics);
            let res = match guard::refuse(&req, api, limits.max_header_bytes) {
                Some(refused) => refused,
                None => guard::in_time(api, limits.request_timeout, next.run(req)).await,
            };
            shape::reshape(api, res).await
        };
        let status = res.status().as_u16();
        around.metrics.count_request(route.as_str(), status);
        let took = started.elapsed();
        let ms = took.as_millis() as u64;
        let route = route.as_str();
        if answer_level(writes, status, took) == Level::INFO {
            tracing::info!(%method, route, status, ms, "answered");
        } else {
            tracing::debug!(%method, route, status, ms, "answered");
        }
        if let Some(v) = rid_header {
            res.headers_mut().insert(X_REQUEST_ID, v);
        }
        res
    };
    logging::in_request(rid.0, served).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_that_went_well_log_at_debug_everything_else_at_info() {
        let fast = Duration::from_millis(2);
        assert_eq!(answer_level(false, 200, fast), Level::DEBUG);
        assert_eq!(answer_level(false, 304, fast), Level::DEBUG);
        assert_eq!(answer_level(true, 200, fast), Level::INFO);
        assert_eq!(answer_level(false, 404, fast), Level::INFO);
        assert_eq!(answer_level(false, 503, fast), Level::INFO);
        assert_eq!(answer_level(false, 200, SLOW_REQUEST), Level::INFO);
    }

    /// What `route_of` says for a request to `path`, routed by a router that
    /// has the compat catch-all and one JSON API route.
    async fn route(method: Method, path: &str) -> (String, bool) {
        use axum::routing::any;
        use tower::ServiceExt;
        async fn label(req: Request) -> String {
            let (r, w) = route_of(&req);
            format!("{} {w}", r.as_str())
        }
        let app = axum::Router::new()
            .route("/dmadminweb/API/{*rest}", any(label))
            .route("/api/v1/users/{user}", any(label))
            .fallback(label);
        let req = Request::builder()
            .method(method)
            .uri(path)
            .body(axum::body::Body::empty())
            .expect("request");
        let res = app.oneshot(req).await.expect("answer");
        let body = axum::body::to_bytes(res.into_body(), 1024)
            .await
            .expect("body");
        let text = String::from_utf8(body.to_vec()).expect("utf-8");
        let (r, w) = text.rsplit_once(' ').expect("two words");
        (r.to_owned(), w == "true")
    }

    #[tokio::test]
    async fn routes_are_templates_and_compat_calls_are_split_by_operation() {
        let r = |s: &str, w: bool| (s.to_owned(), w);
        assert_eq!(
            route(Method::GET, "/api/v1/users/alice").await,
            r("/api/v1/users/{user}", false)
        );
        assert_eq!(
            route(Method::DELETE, "/api/v1/users/alice").await,
            r("/api/v1/users/{user}", true)
        );
        // Compat writes travel as GET: the operation says they write.
        assert_eq!(
            route(Method::GET, "/dmadminweb/API/assign/user/a/b").await,
            r("/dmadminweb/API/assign", true)
        );
        assert_eq!(
            route(Method::GET, "/dmadminweb/API/login?user=a&pass=b").await,
            r("/dmadminweb/API/login", true)
        );
        assert_eq!(
            route(Method::GET, "/dmadminweb/API/list/users").await,
            r("/dmadminweb/API/list", false)
        );
        assert_eq!(
            route(Method::GET, "/dmadminweb/API/frobnicate").await,
            r("/dmadminweb/API/{other}", false)
        );
        assert_eq!(route(Method::GET, "/nope").await, r("unmatched", false));
        assert_eq!(route(Method::POST, "/nope").await, r("unmatched", true));
    }
}
