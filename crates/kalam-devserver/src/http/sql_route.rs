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
    let result = state
        .with_engine(move |inner, st| {
            let caller = match authenticate(inner, &st.jwt, auth.as_deref()) {
                Ok(id) => id,
                Err(f) => return Err(f),
            };
            let parsed: SqlBody = match serde_json::from_slice(&bytes) {
                Ok(b) => b,
                Err(e) => {
                    let f = SqlFailure::new(400, "INVALID_INPUT", format!("Invalid JSON payload: {e}"));
                    return Ok((400, error_body(&f, 0.0)));
                }
            };
            let req = SqlRequest { sql: parsed.sql, params: parsed.params, namespace_id: parsed.namespace_id };
            Ok(execute_request(inner, &caller, req))
        })
        .await;
    match result {
        Ok((status, body)) => json_response(status, body),
        Err(failure) => failure.response(),
    }
}
