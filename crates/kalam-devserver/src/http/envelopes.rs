//! The three error envelopes (PROTOCOL §1.7) and the plain-text 400s of typed bodies.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value as Json};

pub fn json_response(status: u16, body: Json) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// `/v1/api/auth/*`: `{"error": "<lowercase_code>", "message": "..."}`.
pub fn auth_error(status: u16, error: &str, message: &str) -> Response {
    json_response(status, json!({ "error": error, "message": message }))
}

/// Extractor failures on SQL/topic endpoints: `{status, error:{code, message}, results, took}`.
pub fn extractor_error(status: u16, code: &str, message: &str) -> Response {
    json_response(
        status,
        json!({ "status": "error", "error": { "code": code, "message": message }, "results": [], "took": 0.0 }),
    )
}

/// Topic business errors: `{"error": "<text>", "code": "<CODE>"}`.
pub fn topic_error(status: u16, code: &str, message: &str) -> Response {
    json_response(status, json!({ "error": message, "code": code }))
}

/// actix-web's JSON extractor failure: 400 text/plain.
pub fn text_400(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message.to_string(),
    )
        .into_response()
}

pub fn body_too_large(limit: usize) -> Response {
    json_response(
        413,
        json!({ "error": "BODY_TOO_LARGE", "message": format!("Request body exceeds the limit of {limit} bytes") }),
    )
}
