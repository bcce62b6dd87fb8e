//! What every request must satisfy before a handler sees it: headers within
//! the size limit, a well-formed path, and an answer within the time-out.
//! Refusals are in the API's own shape (see [`super::shape`]). The
//! middleware around every route ([`super::observe`]) calls these.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use percent_encoding::percent_decode_str;
use std::borrow::Cow;
use std::future::Future;
use std::time::Duration;

use super::shape::{error, Api};

/// The longest path segment, percent-decoded. Generous for a qualified name
/// (a few domain levels of up to 255 bytes each); a name can never be longer.
pub const MAX_SEGMENT_BYTES: usize = 4096;

/// Why a path is refused before routing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("Path is not valid UTF-8 after percent-decoding")]
    NotUtf8,
    #[error("Path must not contain control characters")]
    Control,
    #[error("Path must not contain '.' or '..' elements")]
    DotSegment,
    #[error("Path contains an empty element")]
    Empty,
    #[error("Path element longer than {MAX_SEGMENT_BYTES} bytes")]
    TooLong,
}

impl PathError {
    pub fn status(&self) -> StatusCode {
        match self {
            PathError::TooLong => StatusCode::URI_TOO_LONG,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// Splits `path` (without its leading `/`) into segments, each
/// percent-decoded exactly once (so `+` stays a plus and `%252F` becomes
/// `%2F`, not `/`). A single trailing `/` is tolerated; an empty path has no
/// segments.
pub fn split_path(path: &str) -> Result<Vec<String>, PathError> {
    let path = path.strip_suffix('/').unwrap_or(path);
    if path.is_empty() {
        return Ok(Vec::new());
    }
    path.split('/')
        .map(|raw| decode_segment(raw).map(Cow::into_owned))
        .collect()
}

/// Checks `path` (without its leading `/`) as [`split_path`] would, without
/// keeping the decoded segments (no allocation unless a segment is
/// percent-encoded).
pub fn check_path(path: &str) -> Result<(), PathError> {
    let path = path.strip_suffix('/').unwrap_or(path);
    if path.is_empty() {
        return Ok(());
    }
    path.split('/')
        .try_for_each(|raw| decode_segment(raw).map(drop))
}

fn decode_segment(raw: &str) -> Result<Cow<'_, str>, PathError> {
    let seg = percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| PathError::NotUtf8)?;
    if seg.is_empty() {
        return Err(PathError::Empty);
    }
    if seg.len() > MAX_SEGMENT_BYTES {
        return Err(PathError::TooLong);
    }
    if seg.chars().any(char::is_control) {
        return Err(PathError::Control);
    }
    if seg == "." || seg == ".." {
        return Err(PathError::DotSegment);
    }
    Ok(seg)
}

/// Total size of the request's headers as sent: name, `: `, value, CRLF.
fn header_bytes(req: &Request) -> usize {
    req.headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum()
}

/// The answer refusing `req` before any handler runs, if it must be refused:
/// headers over the limit, or a malformed path.
pub fn refuse(req: &Request, api: Api, max_header_bytes: usize) -> Option<Response> {
    if header_bytes(req) > max_header_bytes {
        return Some(error(
            api,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!("request headers too large (the limit is {max_header_bytes} bytes)"),
        ));
    }
    let path = req.uri().path();
    check_path(path.strip_prefix('/').unwrap_or(path))
        .err()
        .map(|e| error(api, e.status(), e.to_string()))
}

/// `answer`, or a 408 once `timeout` has passed.
pub async fn in_time(
    api: Api,
    timeout: Duration,
    answer: impl Future<Output = Response>,
) -> Response {
    match tokio::time::timeout(timeout, answer).await {
        Ok(res) => res,
        Err(_) => {
            tracing::warn!(?timeout, "request timed out");
            error(
                api,
                StatusCode::REQUEST_TIMEOUT,
                "request timed out (a change it asked for may still have been applied)",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_decoded_once_and_checked() {
        assert_eq!(
            split_path("a/b%2Bc/d+e/%252F/"),
            Ok(vec!["a".into(), "b+c".into(), "d+e".into(), "%2F".into()])
        );
        assert_eq!(split_path(""), Ok(vec![]));
        assert_eq!(check_path("a/b%2Bc/d+e/%252F/"), Ok(()));
        assert_eq!(split_path("a//b"), Err(PathError::Empty));
        assert_eq!(split_path("a/%FF"), Err(PathError::NotUtf8));
        assert_eq!(split_path("a/x%00y"), Err(PathError::Control));
        assert_eq!(split_path("a/../b"), Err(PathError::DotSegment));
        assert_eq!(split_path("a/%2E%2E/b"), Err(PathError::DotSegment));
        assert_eq!(
            split_path(&"x".repeat(MAX_SEGMENT_BYTES + 1)),
            Err(PathError::TooLong)
        );
        // The check without the segments refuses exactly the same paths.
        for bad in [
            "a//b",
            "a/%FF",
            "a/x%00y",
            "a/../b",
            "a/%2E%2E/b",
            "/",
            "a/.",
        ] {
            assert_eq!(check_path(bad), split_path(bad).map(drop), "{bad}");
        }
        assert_eq!(
            check_path(&"x".repeat(MAX_SEGMENT_BYTES + 1)),
            Err(PathError::TooLong)
        );
    }
}
