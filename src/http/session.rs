//! Logging in and out, shared by the compat and JSON APIs.

use axum::http::{header, HeaderValue};
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::{now_ms, AppState};
use crate::auth::{password, Token};
use crate::domain::{Ident, Kind, UserId};
use crate::writer::SessionWrite;

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("user must be specified")]
    MissingUser,
    #[error("password must be specified")]
    MissingPassword,
    /// Unknown user, wrong password, or a user without a password: one answer for all.
    #[error("Login failed")]
    Failed,
    #[error("the session could not be stored")]
    Unavailable,
    /// Too many failed logins for this user or from this address.
    #[error("Too many failed logins: try again in {} seconds", retry_after_secs(*.0))]
    Throttled(Duration),
}

/// Whole seconds to wait, rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_millis().div_ceil(1000) as u64).max(1)
}

/// Checks the credentials and opens a session. Returns the token's secret.
/// Failures count against the user name and the client address
/// ([`crate::auth::Throttle`]); while either is locked out, nothing is checked.
pub async fn login(
    app: &AppState,
    user: Option<&str>,
    pass: Option<&str>,
    client: Option<IpAddr>,
) -> Result<(Token, UserId), LoginError> {
    let name = user
        .filter(|u| !u.is_empty())
        .ok_or(LoginError::MissingUser)?;
    let pass = pass
        .filter(|p| !p.is_empty())
        .ok_or(LoginError::MissingPassword)?;
    if let Err(wait) = app.throttle.check(name, client, Instant::now()) {
        app.metrics.logins_throttled.fetch_add(1, Ordering::Relaxed);
        // The name is not logged: people type passwords into the user field.
        tracing::warn!(client = ?client, "login refused: too many failures");
        return Err(LoginError::Throttled(wait));
    }
    let ident = match Ident::parse(Kind::User, name) {
        // A login is a name; ids are not accepted as one.
        Ident::Id(_) => Ident::Plain(name.to_owned()),
        other => other,
    };
    let user = app.read.snapshot().resolve_user(None, &ident).ok();
    let stored = match user {
        Some(id) => app
            .pool
            .run(move |conn| {
                use rusqlite::OptionalExtension;
                Ok(conn
                    .query_row(
                        "SELECT password_hash FROM credentials WHERE user_id = ?1",
                        [id.0],
                        |r| r.get::<_, String>(0),
                    )
                    .optional()?)
            })
            .await
            .map_err(|e| {
                tracing::error!(error = ?e, "reading credentials failed");
                LoginError::Unavailable
            })?,
        None => None,
    };
    // Verify against a dummy hash when there is nothing to verify against, so
    // the answer takes as long for an unknown user as for a wrong password.
    let pass = pass.to_owned();
    let ok = tokio::task::spawn_blocking(move || {
        let hash = stored.unwrap_or_else(|| dummy_hash().to_owned());
        password::verify(&hash, &pass)
    })
    .await
    .unwrap_or(false);
    let user = match (ok, user) {
        (true, Some(u)) => u,
        _ => {
            app.throttle.failed(name, client, Instant::now());
            // Only a name that resolved is logged, as an id: an unknown
            // "name" may well be a password typed into the wrong field.
            tracing::info!(user_id = ?user.map(|u| u.0), client = ?client, "login failed");
            return Err(LoginError::Failed);
        }
    };
    app.throttle.succeeded(name);
    let token = Token::generate();
    let now = now_ms();
    app.writer
        .session(SessionWrite::Open {
            token_hash: token.hash.clone(),
            user,
            now_ms: now,
        })
        .await
        .map_err(|_| LoginError::Unavailable)?;
    app.sessions.insert(token.hash.clone(), user, now);
    Ok((token, user))
}

/// Ends the session whose secret is `token`, if any.
pub async fn logout(app: &AppState, token: Option<&str>) {
    if let Some(secret) = token {
        let token_hash = crate::auth::sessions::hash_token(secret);
        if app.sessions.remove(&token_hash) {
            let _ = app.writer.session(SessionWrite::Close { token_hash }).await;
        }
    }
}

/// The session cookie: unreadable from scripts and never sent cross-site.
pub fn session_cookie(secret: &str) -> (header::HeaderName, HeaderValue) {
    let v = format!("token={secret}; Path=/; HttpOnly; SameSite=Strict");
    // A hex token is always a valid header value.
    (
        header::SET_COOKIE,
        HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static("token=; Path=/")),
    )
}

/// A cookie that clears the session cookie.
pub fn clear_cookie() -> (header::HeaderName, HeaderValue) {
    (
        header::SET_COOKIE,
        HeaderValue::from_static("token=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    )
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| password::hash("rollcall dummy password").unwrap_or_default())
}
