//! The JSON API's error type: every failure becomes a status and `{"error": "..."}`.
//! Storage and unexpected errors are logged and answered opaquely.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::audit::as_of::HistoryError;
use crate::decide::Rejection;
use crate::queries::QueryError;
use crate::state::ResolveError;
use crate::writer::CommandError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed (bad JSON, bad query string, bad cursor).
    #[error("{0}")]
    BadRequest(String),
    /// 401: no valid session or bearer token.
    #[error("authentication required")]
    Unauthorized,
    /// 401 on the login call itself.
    #[error("Login failed")]
    LoginFailed,
    /// 403: authenticated, but not allowed.
    #[error("Permission Denied")]
    Forbidden,
    /// 404: the named object does not exist or is not visible to the caller.
    #[error("{0}")]
    NotFound(String),
    /// 409: the request conflicts with the state (duplicate, ambiguous name, last admin).
    #[error("{0}")]
    Conflict(String),
    /// 413: the body is larger than the limit.
    #[error("request body too large")]
    TooLarge,
    /// 422: well-formed, but a value is not acceptable.
    #[error("{0}")]
    Unprocessable(String),
    /// 503: the change could not be stored, or the service is stopping.
    #[error("{0}")]
    Unavailable(String),
    /// 500: a bug or an unexpected failure; details go to the log only.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
    /// 429: too many failed logins; retry after this many seconds.
    #[error("Too many failed logins: try again in {0} seconds")]
    Throttled(u64),
    /// Any other status the HTTP layer answers by itself (no such route,
    /// wrong method, time-out, headers too large...).
    #[error("{1}")]
    Http(StatusCode, String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized | ApiError::LoginFailed => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Http(status, _) => *status,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(e) = &self {
            tracing::error!(error = ?e, "request failed");
        }
        let status = self.status();
        let mut res = (
            status,
            Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response();
        if let ApiError::Throttled(secs) = self {
            res.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        res
    }
}

impl From<ResolveError> for ApiError {
    fn from(e: ResolveError) -> Self {
        match e {
            ResolveError::Ambiguous(..) => ApiError::Conflict(e.to_string()),
            ResolveError::NotFound(..) | ResolveError::IdNotFound(..) => {
                ApiError::NotFound(e.to_string())
            }
        }
    }
}

impl From<Rejection> for ApiError {
    fn from(r: Rejection) -> Self {
        match r {
            Rejection::Resolve(e) => e.into(),
            Rejection::PermissionDenied => ApiError::Forbidden,
            Rejection::EveryoneIsImplicit | Rejection::Invalid(_) => {
                ApiError::Unprocessable(r.to_string())
            }
            Rejection::Duplicate { .. }
            | Rejection::BuiltIn(_)
            | Rejection::LastAdministrator
            | Rejection::AlreadyBootstrapped => ApiError::Conflict(r.to_string()),
        }
    }
}

impl From<CommandError> for ApiError {
    fn from(e: CommandError) -> Self {
        match e {
            CommandError::Rejected(r) => r.into(),
            CommandError::Storage | CommandError::Unavailable => {
                ApiError::Unavailable(e.to_string())
            }
        }
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::Resolve(r) => r.into(),
            QueryError::BadCursor | QueryError::BadLimit => ApiError::BadRequest(e.to_string()),
        }
    }
}

impl From<HistoryError> for ApiError {
    fn from(e: HistoryError) -> Self {
        match e {
            HistoryError::BadRequest(m) => ApiError::BadRequest(m),
            HistoryError::Unprocessable(m) => ApiError::Unprocessable(m),
            HistoryError::Resolve(r) => r.into(),
            HistoryError::Query(q) => q.into(),
            HistoryError::Sql(e) => ApiError::Internal(e.into()),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::JsonDataError(e) => ApiError::Unprocessable(e.body_text()),
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::TooLarge
            }
            JsonRejection::MissingJsonContentType(e) => {
                ApiError::Http(StatusCode::UNSUPPORTED_MEDIA_TYPE, e.body_text())
            }
            other => ApiError::BadRequest(other.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::BadRequest(r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::BadRequest(r.body_text())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
