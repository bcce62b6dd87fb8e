//! Extractors: the authenticated caller, the request id, the client address,
//! and JSON/path/query
//! extractors whose rejections use the API's own error shape.

use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use std::borrow::Cow;

use super::{now_ms, ApiError, AppState};
use crate::auth::sessions::Lookup;
use crate::domain::UserId;
use crate::writer::SessionWrite;

/// `axum::Json`, rejecting with [`ApiError`].
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// `axum::extract::Path`, rejecting with [`ApiError`].
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// `axum::extract::Query`, rejecting with [`ApiError`].
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// The fields `names` of a query string, each given at most once, decoded
/// like `application/x-www-form-urlencoded`; other fields are ignored. For
/// the hottest reads (checks), instead of [`ApiQuery`]: a value that needs no
/// decoding is borrowed from the query, so no field costs an allocation, and
/// there is no deserializer to go through. Errors read as [`ApiQuery`]'s do.
pub fn query_fields<'q, const N: usize>(
    query: Option<&'q str>,
    names: [&str; N],
) -> Result<[Option<Cow<'q, str>>; N], ApiError> {
    let mut found: [Option<Cow<'q, str>>; N] = std::array::from_fn(|_| None);
    let pairs = query.unwrap_or("").split('&').filter(|p| !p.is_empty());
    for (name, value) in pairs.map(|p| p.split_once('=').unwrap_or((p, ""))) {
        let name = form_decode(name);
        if let Some(i) = names.iter().position(|n| *n == name) {
            if found[i].is_some() {
                return Err(query_error(format!("duplicate field `{}`", names[i])));
            }
            found[i] = Some(form_decode(value));
        }
    }
    Ok(found)
}

/// One name or value of a form-encoded query: `+` is a space, then percent
/// decoding; invalid UTF-8 becomes U+FFFD, as `form_urlencoded` does it.
fn form_decode(raw: &str) -> Cow<'_, str> {
    if !raw.bytes().any(|b| b == b'%' || b == b'+') {
        return Cow::Borrowed(raw);
    }
    let spaced = raw.replace('+', " ");
    Cow::Owned(
        percent_encoding::percent_decode_str(&spaced)
            .decode_utf8_lossy()
            .into_owned(),
    )
}

/// A field [`query_fields`] found, or the error for its absence.
pub fn required<'q>(value: Option<Cow<'q, str>>, name: &str) -> Result<Cow<'q, str>, ApiError> {
    value.ok_or_else(|| query_error(format!("missing field `{name}`")))
}

/// An integer field [`query_fields`] found, if any.
pub fn integer(value: Option<Cow<'_, str>>, name: &str) -> Result<Option<i64>, ApiError> {
    value
        .map(|v| v.parse().map_err(|e| query_error(format!("{name}: {e}"))))
        .transpose()
}

fn query_error(why: String) -> ApiError {
    ApiError::BadRequest(format!("Failed to deserialize query string: {why}"))
}

/// The id of this request: the caller's `X-Request-Id` when it is sensible
/// (1-128 visible ASCII characters), else a new UUIDv7. Stored on events.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

impl RequestId {
    pub fn from_headers(headers: &HeaderMap) -> RequestId {
        let given = headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|s| !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic()));
        RequestId(given.map_or_else(new_request_id, str::to_owned))
    }
}

/// A made-up request id: a new UUIDv7.
fn new_request_id() -> String {
    crate::events::new_uuid_v7().to_string()
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(RequestId::from_headers(&parts.headers))
    }
}

/// The client's IP address, as the server loop recorded it; `None` when the
/// router is driven without a socket.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

/// The session token a request carries: `Authorization: Bearer` first, then
/// the `token` cookie.
pub fn token_of(headers: &HeaderMap) -> Option<&str> {
    if let Some(auth) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        if let Some(t) = auth.strip_prefix("Bearer ").map(str::trim) {
            return Some(t);
        }
    }
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().strip_prefix("token="))
        .next()
}

/// Finds the live session behind `headers`, sliding its expiry. A session
/// whose user was deleted does not authenticate.
pub fn authenticate(app: &AppState, headers: &HeaderMap) -> Option<UserId> {
    let token = token_of(headers)?;
    match app.sessions.lookup(token, now_ms()) {
        Lookup::Valid { user, persist } => {
            if let Some((token_hash, last_seen_ms)) = persist {
                app.writer.session_best_effort(SessionWrite::Touch {
                    token_hash,
                    last_seen_ms,
                });
            }
            app.read.peek().user(user).is_some().then_some(user)
        }
        Lookup::Expired { token_hash } => {
            app.writer
                .session_best_effort(SessionWrite::Close { token_hash });
            None
        }
        Lookup::Unknown => None,
    }
}

/// An authenticated caller of the JSON API; a handler that needs one says so.
#[derive(Clone, Copy, Debug)]
pub struct Caller(pub UserId);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        authenticate(app, &parts.headers)
            .map(Caller)
            .ok_or(ApiError::Unauthorized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_fields_borrow_what_needs_no_decoding_and_decode_the_rest() {
        let q = Some("user=alice&object=domain:GLOBAL.Eng&permission=view&x=1");
        let [user, object, perm, missing] =
            query_fields(q, ["user", "object", "permission", "at_least"]).expect("fields");
        assert!(matches!(user, Some(Cow::Borrowed("alice"))));
        assert_eq!(object.as_deref(), Some("domain:GLOBAL.Eng"));
        assert_eq!(perm.as_deref(), Some("view"));
        assert!(missing.is_none());
        let [name] = query_fields(Some("name=a%20b+c%2Bd"), ["name"]).expect("fields");
        assert_eq!(name.as_deref(), Some("a b c+d"));
        let [none] = query_fields(None, ["name"]).expect("fields");
        assert!(none.is_none());
        // Empty pairs are skipped, a name without `=` has an empty value, an
        // encoded name is decoded before it is matched, bad UTF-8 is replaced.
        let [a, b, c] = query_fields(Some("&&a&%62=2&c=%FF"), ["a", "b", "c"]).expect("fields");
        assert_eq!(a.as_deref(), Some(""));
        assert_eq!(b.as_deref(), Some("2"));
        assert_eq!(c.as_deref(), Some("\u{FFFD}"));
    }

    #[test]
    fn query_field_errors_read_like_the_query_extractors() {
        let message = |e: ApiError| match e {
            ApiError::BadRequest(m) => m,
            other => panic!("not a 400: {other:?}"),
        };
        let dup = query_fields(Some("user=a&user=b"), ["user"]).expect_err("duplicate");
        assert_eq!(
            message(dup),
            "Failed to deserialize query string: duplicate field `user`"
        );
        let missing = required(None, "user").expect_err("missing");
        assert_eq!(
            message(missing),
            "Failed to deserialize query string: missing field `user`"
        );
        assert_eq!(integer(Some("42".into()), "n").expect("a number"), Some(42));
        assert_eq!(integer(None, "n").expect("absent"), None);
        let bad = integer(Some("x".into()), "at_least").expect_err("not a number");
        assert_eq!(
            message(bad),
            "Failed to deserialize query string: at_least: invalid digit found in string"
        );
    }

    #[test]
    fn made_up_request_ids_are_distinct_uuid_v7s_of_now() {
        let before = u64::try_from(now_ms()).expect("time");
        let ids: Vec<String> = (0..64).map(|_| new_request_id()).collect();
        let after = u64::try_from(now_ms()).expect("time");
        for id in &ids {
            let uuid = uuid::Uuid::parse_str(id).expect("a uuid");
            assert_eq!(uuid.get_version_num(), 7, "{id}");
            let (secs, nanos) = uuid.get_timestamp().expect("v7 has a time").to_unix();
            let ms = secs * 1000 + u64::from(nanos) / 1_000_000;
            assert!(
                (before..=after).contains(&ms),
                "{id}: {ms} not in {before}..={after}"
            );
        }
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
    }
}
