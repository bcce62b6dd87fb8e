//! Every error in the API's own shape: the compat API answers HTTP 200 with
//! `{"success": false, "error": ...}`, everything else a real status with
//! `{"error": ...}`.
//!
//! Handlers already answer that way; [`reshape`], called by the middleware
//! around every route ([`super::observe`]), catches the answers the
//! framework makes by itself — no such route (404), wrong method (405), body
//! too large (413), unsupported media type (415) and the like, which come
//! with an empty or plain-text body — and rewrites them.

use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::ApiError;

/// Which API a path belongs to, which decides the shape of its errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    Compat,
    Json,
}

impl Api {
    pub fn of(path: &str) -> Api {
        if path.starts_with("/dmadminweb/") || path == "/dmadminweb" {
            Api::Compat
        } else {
            Api::Json
        }
    }
}

/// An error answer in `api`'s shape.
pub fn error(api: Api, status: StatusCode, message: impl Into<String>) -> Response {
    match api {
        Api::Compat => Json(json!({ "success": false, "error": message.into() })).into_response(),
        Api::Json => ApiError::Http(status, message.into()).into_response(),
    }
}

/// The fallback for paths no route matches.
pub async fn no_route(uri: axum::http::Uri) -> Response {
    error(
        Api::of(uri.path()),
        StatusCode::NOT_FOUND,
        "no such endpoint",
    )
}

/// Does `res` need rewriting: an error answer that is not already JSON?
fn needs_shape(res: &Response) -> bool {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return false;
    }
    !res.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"))
}

/// Rewrites a framework-made error answer into `api`'s shape; any other
/// answer is returned as it is.
pub async fn reshape(api: Api, res: Response) -> Response {
    if !needs_shape(&res) {
        return res;
    }
    let status = res.status();
    let allow = res.headers().get(header::ALLOW).cloned();
    let retry_after = res.headers().get(header::RETRY_AFTER).cloned();
    let detail = plain_text(res.into_body()).await;
    let message = match status {
        StatusCode::NOT_FOUND => "no such endpoint".to_owned(),
        StatusCode::METHOD_NOT_ALLOWED => "method not allowed".to_owned(),
        StatusCode::REQUEST_TIMEOUT => "request timed out".to_owned(),
        StatusCode::PAYLOAD_TOO_LARGE => "request body too large".to_owned(),
        StatusCode::URI_TOO_LONG => "request path too long".to_owned(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "request headers too large".to_owned(),
        s if s.is_server_error() => {
            tracing::error!(status = s.as_u16(), detail, "server error without a body");
            "internal error".to_owned()
        }
        s => detail
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| s.canonical_reason().unwrap_or("bad request").to_owned()),
    };
    let mut shaped = error(api, status, message);
    for (name, value) in [(header::ALLOW, allow), (header::RETRY_AFTER, retry_after)] {
        if let Some(v) = value {
            shaped.headers_mut().insert(name, v);
        }
    }
    shaped
}

/// A short plain-text body, if it is one (framework rejections explain
/// themselves in a sentence); anything long or binary is dropped.
async fn plain_text(body: Body) -> Option<String> {
    let bytes = axum::body::to_bytes(body, 1024).await.ok()?;
    let text = String::from_utf8(bytes.to_vec()).ok()?;
    let text = text.trim();
    (text.len() <= 300 && !text.chars().any(char::is_control)).then(|| text.to_owned())
}
