//! JSON answers written into a buffer sized for them up front.
//!
//! axum's `Json` starts from a 128-byte buffer and lets it double as the
//! serializer writes: for a page of a hundred members (~15 KB) that is seven
//! reallocations, each copying what was written so far. A list knows roughly
//! how large its answer will be, so it says so.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::ApiError;

/// `value` as a JSON answer, serialized into a buffer of `capacity` bytes
/// (it still grows if the guess was short).
pub fn sized<T: Serialize>(value: &T, capacity: usize) -> Response {
    let mut body = Vec::with_capacity(capacity);
    match serde_json::to_writer(&mut body, value) {
        Ok(()) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response(),
        Err(e) => ApiError::Internal(e.into()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sized_answer_is_the_same_json_whatever_the_guess() {
        let value = serde_json::json!({"members": ["a", "b\"c"], "position": 7});
        for capacity in [0, 4, 4096] {
            let res = sized(&value, capacity);
            assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
            let body = axum::body::to_bytes(res.into_body(), 1 << 20)
                .await
                .expect("body");
            let back: serde_json::Value = serde_json::from_slice(&body).expect("json");
            assert_eq!(back, value);
        }
    }
}
