//! Observing each request: settle its request id (the caller's sensible
//! `X-Request-Id`, else a new one) so that handlers, the events they write and
//! every log line agree on it; run the request inside a `request` span that
//! carries the id; count it by route template and status; echo the id back.
//!
//! Only the method and the route template are logged, never the raw path's
//! query string or any header: the compat login carries its password in the
//! query string, and tokens travel in headers and cookies.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

use super::extract::RequestId;
use crate::metrics::Metrics;

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Compat calls share one route; these operations get a label of their own.
const COMPAT_OPS: &[&str] = &[
    "login", "logout", "assign", "unassign", "user", "domain", "list", "new", "del", "import",
];

/// The route a request is counted under: its route template, with compat
/// calls split by operation; `unmatched` for paths no route serves.
fn route_label(req: &Request) -> String {
    let Some(matched) = req.extensions().get::<MatchedPath>() else {
        return "unmatched".to_owned();
    };
    let template = matched.as_str();
    if template.starts_with("/dmadminweb/API") {
        let path = req.uri().path();
        let op = path
            .strip_prefix("/dmadminweb/API/")
            .and_then(|rest| rest.split('/').next())
            .filter(|op| COMPAT_OPS.contains(op))
            .unwrap_or("{other}");
        return format!("/dmadminweb/API/{op}");
    }
    template.to_owned()
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

pub async fn observe(
    State(metrics): State<Arc<Metrics>>,
    mut req: Request,
    next: Next,
) -> Response {
    let rid = RequestId::from_headers(req.headers());
    // Rewritten on the request so every later reader of the header (the
    // handlers' `RequestId`) sees this same id, even when it was made here.
    let rid_header = HeaderValue::from_str(&rid.0).ok();
    if let Some(v) = &rid_header {
        req.headers_mut().insert(X_REQUEST_ID, v.clone());
    }
    let route = route_label(&req);
    let span = tracing::info_span!("request", id = %rid.0, method = %req.method(), route = %route);
    let started = Instant::now();
    let mut res = {
        let _in_flight = InFlight::enter(&metrics);
        next.run(req).instrument(span.clone()).await
    };
    let status = res.status().as_u16();
    metrics.count_request(&route, status);
    span.in_scope(|| {
        tracing::info!(
            status,
            ms = started.elapsed().as_millis() as u64,
            "answered"
        )
    });
    if let Some(v) = rid_header {
        res.headers_mut().insert(X_REQUEST_ID, v);
    }
    res
}
