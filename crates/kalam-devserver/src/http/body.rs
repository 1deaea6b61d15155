//! Reading request bodies with limits, and actix-style typed JSON parsing.

use super::envelopes::{body_too_large, text_400};
use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

/// actix's default JSON limit for typed bodies (login, consume, ack).
pub const TYPED_JSON_LIMIT: usize = 2 * 1024 * 1024;

/// Reads the whole body; 413 when it is larger than `limit`.
pub async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Vec<u8>, Response> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.map(|n| n > limit).unwrap_or(false) {
        return Err(body_too_large(limit));
    }
    match axum::body::to_bytes(body, limit).await {
        Ok(b) => Ok(b.to_vec()),
        Err(_) => Err(body_too_large(limit)),
    }
}

pub fn is_json_content_type(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            let mime = v
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            mime == "application/json" || mime.ends_with("+json")
        })
        .unwrap_or(false)
}

/// Typed body like actix `web::Json<T>`: Content-Type required, 2 MiB limit (413 text),
/// deserialize errors as 400 text.
pub async fn typed_json<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
    global_limit: usize,
) -> Result<T, Response> {
    if !is_json_content_type(headers) {
        return Err(text_400("Content type error"));
    }
    let limit = TYPED_JSON_LIMIT.min(global_limit);
    let bytes = read_body(headers, body, global_limit).await?;
    if bytes.len() > limit {
        return Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!(
                "JSON payload ({} bytes) is larger than allowed (limit: {limit} bytes).",
                bytes.len()
            ),
        )
            .into_response());
    }
    serde_json::from_slice::<T>(&bytes)
        .map_err(|e| text_400(&format!("Json deserialize error: {e}")))
}
