//! `POST /v1/api/sql` (PROTOCOL §2): auth, then the JSON body (bad JSON → 400 INVALID_INPUT).

use super::bearer::{authenticate, authorization_header};
use super::body::read_body;
use super::envelopes::json_response;
use super::SharedState;
use crate::sql::errors::SqlFailure;
use crate::sql::{error_body, execute_request, SqlRequest};
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value as Json;

#[derive(Deserialize)]
struct SqlBody {
    sql: String,
    #[serde(default)]
    params: Option<Vec<Json>>,
    #[serde(default)]
    namespace_id: Option<String>,
}

pub async fn sql(State(state): State<SharedState>, headers: HeaderMap, body: Body) -> Response {
    let auth = authorization_header(&headers);
    let bytes = match read_body(&headers, body, state.body_limit).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    // Authentication first: its error wins over a bad body, and nobody unauthenticated gets
    // to spend bcrypt time below.
    let caller = match state
        .with_engine(move |inner, st| authenticate(inner, &st.jwt, auth.as_deref()))
        .await
    {
        Ok(c) => c,
        Err(failure) => return failure.response(),
    };
    let parsed: SqlBody = match serde_json::from_slice(&bytes) {
        Ok(b) => b,
        Err(e) => {
            let f = SqlFailure::new(400, "INVALID_INPUT", format!("Invalid JSON payload: {e}"));
            return json_response(400, error_body(&f, 0.0));
        }
    };
    let sql = parsed.sql;
    let (sql, prehashed) = match tokio::task::spawn_blocking(move || {
        let hashes = crate::sql::prehash::prehash_passwords(&sql);
        (sql, hashes)
    })
    .await
    {
        Ok(v) => v,
        Err(_) => {
            return json_response(
                500,
                error_body(
                    &SqlFailure::new(500, "INTERNAL_ERROR", "Internal error"),
                    0.0,
                ),
            )
        }
    };
    let req = SqlRequest {
        sql,
        params: parsed.params,
        namespace_id: parsed.namespace_id,
        prehashed,
    };
    let (status, body) = state
        .with_session(move |session| execute_request(session, &caller, req))
        .await;
    json_response(status, body)
}
