//! `POST /v1/api/topics/consume` and `/ack` (PROTOCOL §3). Order of checks follows the real
//! server: authentication (extractor envelope), typed body (400 text), role (403 FORBIDDEN).

use super::bearer::{authenticate, authorization_header, AuthFailure};
use super::body::typed_json;
use super::envelopes::{json_response, topic_error};
use super::SharedState;
use crate::sql::Identity;
use crate::topics::consume::{self, StartPos, TopicError};
use crate::users::user_exists;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use base64::Engine as _;
use serde::{Deserialize, Deserializer};
use serde_json::{json, Map, Value as Json};
use std::collections::HashMap;

#[derive(Deserialize)]
pub struct ConsumeRequest {
    topic_id: String,
    group_id: String,
    #[serde(default = "latest", deserialize_with = "start_field")]
    start: StartPos,
    #[serde(default = "default_limit")]
    limit: u64,
    #[serde(default)]
    partition_id: u32,
    #[serde(default)]
    #[allow(dead_code)]
    timeout_seconds: Option<u64>,
}

fn latest() -> StartPos {
    StartPos::Latest
}

fn default_limit() -> u64 {
    100
}

/// `"Latest"` | `"Earliest"` (any case) | `{"Offset": n}` / `{"offset": n}`.
fn start_field<'de, D: Deserializer<'de>>(d: D) -> Result<StartPos, D::Error> {
    use serde::de::Error;
    let v = Json::deserialize(d)?;
    match &v {
        Json::String(s) if s.eq_ignore_ascii_case("latest") => Ok(StartPos::Latest),
        Json::String(s) if s.eq_ignore_ascii_case("earliest") => Ok(StartPos::Earliest),
        Json::Object(m) if m.len() == 1 => {
            let n = m
                .get("Offset")
                .or_else(|| m.get("offset"))
                .and_then(Json::as_u64);
            n.map(StartPos::Offset)
                .ok_or_else(|| D::Error::custom(format!("invalid start position: {v}")))
        }
        _ => Err(D::Error::custom(format!(
            "unknown variant {v}, expected one of `Latest`, `Earliest`, `Offset`"
        ))),
    }
}

#[derive(Deserialize)]
pub struct AckRequest {
    topic_id: String,
    group_id: String,
    #[serde(default)]
    partition_id: u32,
    upto_offset: u64,
}

async fn authenticate_request(
    state: &SharedState,
    headers: &HeaderMap,
) -> Result<Identity, Response> {
    let auth = authorization_header(headers);
    state
        .with_engine(move |inner, st| authenticate(inner, &st.jwt, auth.as_deref()))
        .await
        .map_err(|f: AuthFailure| f.response())
}

fn empty_id_error(topic_id: &str, group_id: &str) -> Option<Response> {
    // The real server panics on empty ids (the connection drops); answer a clean 400 instead.
    if topic_id.is_empty() {
        return Some(topic_error(
            400,
            "BAD_REQUEST",
            "topic_id must not be empty",
        ));
    }
    if group_id.is_empty() {
        return Some(topic_error(
            400,
            "BAD_REQUEST",
            "group_id must not be empty",
        ));
    }
    None
}

fn storage_error(e: TopicError) -> Response {
    match e {
        TopicError::NotFound(m) => topic_error(404, "NOT_FOUND", &m),
        TopicError::Storage(m) => topic_error(500, "INTERNAL_ERROR", &m),
    }
}

pub async fn consume(State(state): State<SharedState>, headers: HeaderMap, body: Body) -> Response {
    let caller = match authenticate_request(&state, &headers).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let req: ConsumeRequest = match typed_json(&headers, body, state.body_limit).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    if !caller.role.may_consume() {
        return topic_error(
            403,
            "FORBIDDEN",
            "Role 'user' is not allowed to consume from topics",
        );
    }
    if let Some(resp) = empty_id_error(&req.topic_id, &req.group_id) {
        return resp;
    }
    let result = state
        .with_engine(move |inner, _| {
            let d = consume::consume(inner, &req.topic_id, &req.group_id, req.partition_id, req.start, req.limit)?;
            // `user` is omitted when the producer id does not resolve to a live user (§3.2).
            let mut known: HashMap<String, bool> = HashMap::new();
            let mut messages = Vec::with_capacity(d.messages.len());
            for m in d.messages {
                let mut obj = Map::new();
                obj.insert("topic_id".into(), json!(req.topic_id));
                obj.insert("partition_id".into(), json!(m.partition_id));
                obj.insert("offset".into(), json!(m.offset));
                obj.insert("payload".into(), json!(base64::engine::general_purpose::STANDARD.encode(&m.payload)));
                obj.insert("key".into(), json!(m.key));
                obj.insert("timestamp_ms".into(), json!(m.timestamp_ms));
                if let Some(u) = m.user_id {
                    let exists = match known.get(&u) {
                        Some(e) => *e,
                        None => {
                            let e = user_exists(&inner.conn, &u).unwrap_or(false);
                            known.insert(u.clone(), e);
                            e
                        }
                    };
                    if exists {
                        obj.insert("user".into(), json!(u));
                    }
                }
                obj.insert("op".into(), json!(m.op));
                messages.push(Json::Object(obj));
            }
            Ok::<_, TopicError>(json!({ "messages": messages, "next_offset": d.next_offset, "has_more": d.has_more }))
        })
        .await;
    match result {
        Ok(body) => json_response(200, body),
        Err(e) => storage_error(e),
    }
}

pub async fn ack(State(state): State<SharedState>, headers: HeaderMap, body: Body) -> Response {
    let caller = match authenticate_request(&state, &headers).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let req: AckRequest = match typed_json(&headers, body, state.body_limit).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    if !caller.role.may_consume() {
        return topic_error(
            403,
            "FORBIDDEN",
            "Role 'user' is not allowed to acknowledge topic messages",
        );
    }
    if let Some(resp) = empty_id_error(&req.topic_id, &req.group_id) {
        return resp;
    }
    let upto = req.upto_offset;
    let result = state
        .with_engine(move |inner, _| {
            consume::ack(inner, &req.topic_id, &req.group_id, req.partition_id, upto)
        })
        .await;
    match result {
        Ok(()) => json_response(200, json!({ "success": true, "acknowledged_offset": upto })),
        Err(e) => storage_error(e),
    }
}
