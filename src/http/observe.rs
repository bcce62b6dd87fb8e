//! The one middleware around every route. In order: settle the request id
//! (the caller's sensible `X-Request-Id`, else a new one) so that handlers,
//! the events they write and every log line agree on it; serve the request
//! with that id on every line it logs ([`crate::logging::in_request`]);
//! refuse what must not reach a handler ([`super::guard`]); run the handler
//! under the request time-out; put framework-made errors in the API's shape
//! ([`super::shape`]); count the answer by route template and status; log
//! it; echo the id back.
//!
//! One wrapper around the whole router rather than a layer per job or per
//! route ([`super::Service`]): a tower layer costs an allocation and a clone
//! of the inner service per request, and this runs on every request, checks
//! included. The route template is looked up in [`super::Routes`]' table
//! before routing, since the router's own `MatchedPath` stays inside it.
//!
//! Only the method and the route template are logged, never the raw path's
//! query string or any header: the compat login carries its password in the
//! query string, and tokens travel in headers and cookies.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method};
use axum::response::Response;
use std::future::Future;
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

/// The route a request is counted and logged under: its route template
/// (`template`, looked up before routing), with compat calls split by
/// operation; `unmatched` for paths no route serves. And whether it changes
/// something (compat calls change things through GET, so the method alone
/// does not say). Cheap to make: no allocation.
fn route_of(method: &Method, path: &str, template: Option<&'static str>) -> (&'static str, bool) {
    let writes = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    let Some(template) = template else {
        return ("unmatched", writes);
    };
    if template.starts_with("/dmadminweb/API") {
        let op = path
            .strip_prefix("/dmadminweb/API/")
            .and_then(|rest| rest.split('/').next())
            .and_then(|op| COMPAT_OPS.iter().find(|(name, _, _)| *name == op));
        return match op {
            Some((_, label, changes)) => (label, writes || *changes),
            None => (COMPAT_OTHER, writes),
        };
    }
    (template, writes)
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

/// Serves `req` with `inner` (the router), doing everything above around it.
/// `template` is the route template that serves the request's path, if any.
pub async fn observe<F, Fut>(
    around: &Around,
    template: Option<&'static str>,
    mut req: Request,
    inner: F,
) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let started = Instant::now();
    let rid = RequestId::from_headers(req.headers());
    // Rewritten on the request so every later reader of the header (the
    // handlers' `RequestId`) sees this same id, even when it was made here.
    let rid_header = HeaderValue::from_str(&rid.0).ok();
    if let Some(v) = &rid_header {
        req.headers_mut().insert(X_REQUEST_ID, v.clone());
    }
    let (route, writes) = route_of(req.method(), req.uri().path(), template);
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
                None => guard::in_time(api, limits.request_timeout, inner(req)).await,
            };
            shape::reshape(api, res).await
        };
        let status = res.status().as_u16();
        around.metrics.count_request(route, status);
        let took = started.elapsed();
        let ms = took.as_millis() as u64;
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

    /// What `route_of` says for a request to `path`, with the templates
    /// of the compat catch-all and one JSON API route.
    fn route(method: Method, path: &str) -> (String, bool) {
        let mut templates = matchit::Router::new();
        for t in ["/dmadminweb/API/{*rest}", "/api/v1/users/{user}"] {
            templates.insert(t, t).expect("template");
        }
        let path_only = path.split('?').next().unwrap_or(path);
        let template = templates.at(path_only).ok().map(|m| *m.value);
        let (r, w) = route_of(&method, path_only, template);
        (r.to_owned(), w)
    }

    #[test]
    fn routes_are_templates_and_compat_calls_are_split_by_operation() {
        let r = |s: &str, w: bool| (s.to_owned(), w);
        assert_eq!(
            route(Method::GET, "/api/v1/users/alice"),
            r("/api/v1/users/{user}", false)
        );
        assert_eq!(
            route(Method::DELETE, "/api/v1/users/alice"),
            r("/api/v1/users/{user}", true)
        );
        // Compat writes travel as GET: the operation says they write.
        assert_eq!(
            route(Method::GET, "/dmadminweb/API/assign/user/a/b"),
            r("/dmadminweb/API/assign", true)
        );
        assert_eq!(
            route(Method::GET, "/dmadminweb/API/login?user=a&pass=b"),
            r("/dmadminweb/API/login", true)
        );
        assert_eq!(
            route(Method::GET, "/dmadminweb/API/list/users"),
            r("/dmadminweb/API/list", false)
        );
        assert_eq!(
            route(Method::GET, "/dmadminweb/API/frobnicate"),
            r("/dmadminweb/API/{other}", false)
        );
        assert_eq!(route(Method::GET, "/nope"), r("unmatched", false));
        assert_eq!(route(Method::POST, "/nope"), r("unmatched", true));
    }
}
