//! `POST /api/v1/sessions` (log in) and `DELETE /api/v1/sessions/current` (log out).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::http::error::ApiResult;
use crate::http::extract::{token_of, ApiJson, ClientAddr};
use crate::http::session::{self, clear_cookie, session_cookie, LoginError};
use crate::http::{ApiError, AppState};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    user: Option<String>,
    password: Option<String>,
}

pub async fn create(
    State(app): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiJson(body): ApiJson<Login>,
) -> ApiResult<impl IntoResponse> {
    match session::login(&app, body.user.as_deref(), body.password.as_deref(), client).await {
        Ok((token, user)) => Ok((
            StatusCode::CREATED,
            [session_cookie(&token.secret)],
            Json(json!({ "token": token.secret, "user_id": user.0 })),
        )),
        Err(e @ (LoginError::MissingUser | LoginError::MissingPassword)) => {
            Err(ApiError::Unprocessable(e.to_string()))
        }
        Err(LoginError::Failed) => Err(ApiError::LoginFailed),
        Err(e @ LoginError::Unavailable) => Err(ApiError::Unavailable(e.to_string())),
        Err(LoginError::Throttled(wait)) => {
            Err(ApiError::Throttled(session::retry_after_secs(wait)))
        }
    }
}

pub async fn delete(State(app): State<AppState>, headers: HeaderMap) -> impl IntoResponse {
    session::logout(&app, token_of(&headers)).await;
    (StatusCode::NO_CONTENT, [clear_cookie()])
}
