//! Consume and ack response decoding.
//!
//! [`decode_consume_response`] turns the body of a `POST /v1/api/topics/consume` (§3.2) into
//! ONE JSON text of the batch the TS layer sees:
//!
//! ```json
//! {"messages":[{"topic":"app.events","group_id":"g","partition_id":0,"offset":17,
//!   "key":"42","timestamp_ms":1730000000123,"user":"alice","op":"Insert",
//!   "payload":{"id":"42"}}],"next_offset":18,"has_more":false}
//! ```
//!
//! The caller parses that text once (in the wasm crate: one `JSON.parse`). Building one text
//! instead of one value per field is the hot path's whole trick: envelopes are read borrowing
//! (`&RawValue`), each payload is base64-decoded into a reused buffer, checked to be UTF-8 and
//! JSON, and spliced in as raw text.
//!
//! Message fields (§7.1): `topic` ← `topic_id` (alias `topic`, falls back to the request's
//! topic), `group_id` ← always the request's, `partition_id` (falls back to the request's),
//! `offset` (default 0), `key` (alias `message_id`; `null` when absent; a non-string key is
//! kept as its JSON text), `timestamp_ms` (alias `ts`, default 0), `user` (alias `username`;
//! omitted when absent or null), `op` (`Insert`/`Update`/`Delete` matched case-insensitively;
//! an unknown op string is passed through unchanged), `payload` (alias `value`).
//!
//! Payload rule: a string is standard base64 (padded) of UTF-8 JSON. If it is not base64, not
//! UTF-8 or not JSON the message carries `decode_error` (the reason) and `raw_payload` (the
//! string as received) and no `payload`: never a silent `{}`. A payload that is already JSON
//! (not a string) is kept as it is. A missing or `null` payload is a decode error too.
//! Response level: missing `messages` → `[]`, `next_offset` → 0, `has_more` → false; a body
//! that is not JSON, not an object, or has mistyped fields is a [`DecodeError`].

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::scan::{self, ScanError, Scanner};
use thiserror::Error;

/// The parts of the consume request that decoding falls back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestContext<'a> {
    /// The requested topic; used when a message has no `topic_id`.
    pub topic_id: &'a str,
    /// The consumer group; every message's `group_id` is this.
    pub group_id: &'a str,
    /// The requested partition; used when a message has no `partition_id`.
    pub partition_id: u32,
}

/// A response that cannot be decoded at all (as opposed to one bad payload).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The body is not JSON, or is truncated.
    #[error("response body is not valid JSON: {0}")]
    Malformed(String),
    /// The body is JSON but not the expected response shape.
    #[error("unexpected response shape: {0}")]
    Shape(String),
}

impl DecodeError {
    pub(crate) fn from_scan(err: ScanError) -> Self {
        match err {
            ScanError::Syntax(..) => DecodeError::Malformed(err.message()),
            ScanError::Shape(text) => DecodeError::Shape(text),
        }
    }
}

/// Why one message's payload could not be decoded; its `Display` is the `decode_error` text.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PayloadError {
    /// No payload, or `null`.
    #[error("payload is missing")]
    Missing,
    /// Not standard padded base64.
    #[error("payload is not valid base64: {0}")]
    NotBase64(String),
    /// The decoded bytes are not UTF-8.
    #[error("payload is not valid UTF-8: {0}")]
    NotUtf8(String),
    /// The decoded text is not JSON.
    #[error("payload is not valid JSON: {0}")]
    NotJson(String),
}

/// Decodes one base64 payload string into UTF-8 text (not checked to be JSON), using
/// `scratch` as the byte buffer.
pub fn decode_base64_utf8<'b>(
    base64: &str,
    scratch: &'b mut Vec<u8>,
) -> Result<&'b str, PayloadError> {
    let len = decode_base64_at(base64, scratch, 0)?;
    std::str::from_utf8(&scratch[..len]).map_err(|e| PayloadError::NotUtf8(e.to_string()))
}

/// Base64-decodes into `out[at..]`; returns the decoded length. `out` only grows (it is a
/// reused buffer, so there is no zero-fill per payload: measured in the wasm bench).
fn decode_base64_at(base64: &str, out: &mut Vec<u8>, at: usize) -> Result<usize, PayloadError> {
    grow_to(out, at + base64::decoded_len_estimate(base64.len()));
    STANDARD
        .decode_slice(base64, &mut out[at..])
        .map_err(|e| PayloadError::NotBase64(e.to_string()))
}

/// Makes `out` at least `len` long (doubling, so a reused buffer grows rarely).
pub(crate) fn grow_to(out: &mut Vec<u8>, len: usize) {
    if out.len() < len {
        out.resize(len.max(out.len() * 2), 0);
    }
}

/// Decodes a raw JSON string literal holding base64 into `out[at..]` and returns the decoded
/// length (NOT checked to be UTF-8). The fast path decodes the literal's inner text as it is
/// (base64 never needs escapes, so no scan for them first); only when that fails and the
/// literal has escapes (`\/` is legal JSON) is it unescaped and retried.
pub(crate) fn decode_raw_base64_at(
    text: &str,
    out: &mut Vec<u8>,
    at: usize,
) -> Result<usize, PayloadError> {
    let inner = &text[1..text.len() - 1];
    match decode_base64_at(inner, out, at) {
        Ok(len) => Ok(len),
        Err(_) if inner.contains('\\') => {
            let unescaped = scan::unescape(text).ok_or_else(|| {
                PayloadError::NotBase64(String::from("invalid escape in the payload string"))
            })?;
            decode_base64_at(&unescaped, out, at)
        }
        Err(e) => Err(e),
    }
}

/// [`decode_raw_base64_at`] into the front of `scratch`, checked to be UTF-8.
fn decode_raw_base64<'b>(text: &str, scratch: &'b mut Vec<u8>) -> Result<&'b str, PayloadError> {
    let len = decode_raw_base64_at(text, scratch, 0)?;
    std::str::from_utf8(&scratch[..len]).map_err(|e| PayloadError::NotUtf8(e.to_string()))
}

/// Decodes one base64 payload string into JSON text, using `scratch` as the byte buffer.
pub fn decode_payload<'b>(base64: &str, scratch: &'b mut Vec<u8>) -> Result<&'b str, PayloadError> {
    let text = decode_base64_utf8(base64, scratch)?;
    serde_json::from_str::<IgnoredAny>(text).map_err(|e| PayloadError::NotJson(e.to_string()))?;
    Ok(text)
}

/// A consume response's envelope, every value borrowed raw from the body.
#[derive(Default)]
pub(crate) struct RawResponse<'a> {
    pub(crate) messages: Vec<RawMessage<'a>>,
    pub(crate) next_offset: Option<u64>,
    pub(crate) has_more: Option<bool>,
}

/// One message's envelope (aliases as in the module docs); `None` is absent or `null`.
#[derive(Default)]
pub(crate) struct RawMessage<'a> {
    pub(crate) topic_id: Option<&'a str>,
    pub(crate) partition_id: Option<u32>,
    pub(crate) offset: Option<u64>,
    pub(crate) payload: Option<&'a str>,
    pub(crate) key: Option<&'a str>,
    pub(crate) timestamp_ms: Option<u64>,
    pub(crate) user: Option<&'a str>,
    pub(crate) op: Option<&'a str>,
}

fn scan_message<'a>(scanner: &mut Scanner<'a>) -> Result<RawMessage<'a>, ScanError> {
    if scanner.next_byte() != Some(b'{') {
        scanner.value()?;
        return Err(scan::shape("messages", "an array of objects"));
    }
    let mut m = RawMessage::default();
    let mut seen = 0u32;
    scanner.object(|key, scanner| {
        let raw = scanner.value()?;
        match key {
            "topic_id" | "topic" => {
                scan::mark(&mut seen, 0, "topic_id")?;
                m.topic_id = scan::non_null(raw);
            }
            "partition_id" => {
                scan::mark(&mut seen, 1, key)?;
                m.partition_id = scan::read_uint(raw, key, u64::from(u32::MAX))?.map(|n| n as u32);
            }
            "offset" => {
                scan::mark(&mut seen, 2, key)?;
                m.offset = scan::read_uint(raw, key, u64::MAX)?;
            }
            "payload" | "value" => {
                scan::mark(&mut seen, 3, "payload")?;
                m.payload = scan::non_null(raw);
            }
            "key" | "message_id" => {
                scan::mark(&mut seen, 4, "key")?;
                m.key = scan::non_null(raw);
            }
            "timestamp_ms" | "ts" => {
                scan::mark(&mut seen, 5, "timestamp_ms")?;
                m.timestamp_ms = scan::read_uint(raw, "timestamp_ms", u64::MAX)?;
            }
            "user" | "username" => {
                scan::mark(&mut seen, 6, "user")?;
                m.user = scan::non_null(raw);
            }
            "op" => {
                scan::mark(&mut seen, 7, key)?;
                m.op = scan::non_null(raw);
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok(m)
}

/// Scans a consume response body (see [`crate::scan`] for why not serde_json).
pub(crate) fn scan_response(body: &str) -> Result<RawResponse<'_>, ScanError> {
    let mut scanner = Scanner::new(body);
    if scanner.next_byte() != Some(b'{') {
        // Valid JSON of another type is a shape error; anything else is not JSON.
        scanner.value()?;
        scanner.finish()?;
        return Err(ScanError::Shape(String::from(
            "the response is not a JSON object",
        )));
    }
    let mut response = RawResponse::default();
    let mut seen = 0u32;
    scanner.object(|key, scanner| {
        match key {
            "messages" => {
                scan::mark(&mut seen, 0, key)?;
                match scanner.next_byte() {
                    Some(b'[') => scanner.array(|scanner| {
                        response.messages.push(scan_message(scanner)?);
                        Ok(())
                    })?,
                    _ => {
                        if scanner.value()? != "null" {
                            return Err(scan::shape(key, "an array"));
                        }
                    }
                }
            }
            "next_offset" => {
                scan::mark(&mut seen, 1, key)?;
                response.next_offset = scan::read_uint(scanner.value()?, key, u64::MAX)?;
            }
            "has_more" => {
                scan::mark(&mut seen, 2, key)?;
                response.has_more = scan::read_bool(scanner.value()?, key)?;
            }
            _ => {
                scanner.value()?;
            }
        }
        Ok(())
    })?;
    scanner.finish()?;
    Ok(response)
}

pub(crate) fn is_raw_string(raw: &str) -> bool {
    raw.starts_with('"')
}

/// Appends `s` as a JSON string literal (also used by the wasm crate for request bodies).
pub fn write_json_str(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape: Option<&str> = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0..=0x1f => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match escape {
            Some(e) => out.push_str(e),
            // By hand, not `write!("{:04x}")`: keeps fmt's integer formatting out of the wasm module.
            None => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0xf)]));
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Appends `n` in decimal without fmt (also used by the wasm crate for request bodies).
pub fn write_u64(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &b in &buf[i..] {
        out.push(b as char);
    }
}

/// Writes a raw value that should be a string: strings as they are, anything else as a
/// string holding its JSON text.
fn write_stringish(out: &mut String, raw: &str) {
    if is_raw_string(raw) {
        out.push_str(raw);
    } else {
        write_json_str(out, raw);
    }
}

/// The canonical spellings of `op`, in [`crate::columns`]' string-table order.
pub(crate) const OPS: [&str; 3] = ["Insert", "Update", "Delete"];

/// `Insert`/`Update`/`Delete` for a raw `op` string matching one case-insensitively.
pub(crate) fn canonical_op(raw: &str) -> Option<usize> {
    let op = scan::unescape(raw)?;
    OPS.iter().position(|c| c.eq_ignore_ascii_case(&op))
}

/// The error for a message without `op` (built without fmt: size of the wasm module).
pub(crate) fn missing_op(index: usize, offset: u64) -> DecodeError {
    let mut text = String::from("message ");
    write_u64(&mut text, index as u64);
    text.push_str(" (offset ");
    write_u64(&mut text, offset);
    text.push_str(") has no op");
    DecodeError::Shape(text)
}

fn write_op(out: &mut String, raw: &str) {
    match canonical_op(raw).map(|i| OPS[i]) {
        Some(c) => {
            out.push('"');
            out.push_str(c);
            out.push('"');
        }
        None => write_stringish(out, raw),
    }
}

fn write_decode_error(out: &mut String, err: &PayloadError) {
    out.push_str(",\"decode_error\":");
    write_json_str(out, &err.to_string());
}

/// Decodes a consume response into the batch JSON text, appending to `out`; payloads are
/// checked to be JSON here and spliced in as they are.
///
/// `out` is left with a partial text when an error is returned.
pub fn decode_consume_response_into(
    body: &str,
    request: &RequestContext<'_>,
    out: &mut String,
) -> Result<(), DecodeError> {
    let response = scan_response(body).map_err(DecodeError::from_scan)?;
    out.reserve(body.len());

    // The request's fallbacks, written once.
    let mut topic_fallback = String::new();
    write_json_str(&mut topic_fallback, request.topic_id);
    let mut group = String::new();
    write_json_str(&mut group, request.group_id);

    let mut scratch = Vec::new();
    out.push_str("{\"messages\":[");
    for (index, message) in response.messages.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        out.push_str("{\"topic\":");
        match message.topic_id {
            Some(raw) if is_raw_string(raw) => out.push_str(raw),
            _ => out.push_str(&topic_fallback),
        }
        out.push_str(",\"group_id\":");
        out.push_str(&group);
        out.push_str(",\"partition_id\":");
        write_u64(
            out,
            u64::from(message.partition_id.unwrap_or(request.partition_id)),
        );
        out.push_str(",\"offset\":");
        write_u64(out, message.offset.unwrap_or(0));
        out.push_str(",\"key\":");
        match message.key {
            Some(raw) => write_stringish(out, raw),
            None => out.push_str("null"),
        }
        out.push_str(",\"timestamp_ms\":");
        write_u64(out, message.timestamp_ms.unwrap_or(0));
        if let Some(user) = message.user {
            out.push_str(",\"user\":");
            write_stringish(out, user);
        }
        out.push_str(",\"op\":");
        match message.op {
            Some(op) => write_op(out, op),
            None => return Err(missing_op(index, message.offset.unwrap_or(0))),
        }
        let decoded = match message.payload {
            None => Err(PayloadError::Missing),
            Some(raw) if is_raw_string(raw) => decode_raw_base64(raw, &mut scratch),
            // Already JSON (§7.1: "if already an object use it").
            Some(raw) => Ok(raw),
        };
        let checked = decoded.and_then(|text| {
            serde_json::from_str::<IgnoredAny>(text)
                .map_err(|e| PayloadError::NotJson(e.to_string()))?;
            Ok(text)
        });
        match checked {
            Ok(json) => {
                out.push_str(",\"payload\":");
                out.push_str(json);
            }
            Err(err) => {
                write_decode_error(out, &err);
                if let Some(raw) = message.payload {
                    out.push_str(",\"raw_payload\":");
                    write_stringish(out, raw);
                }
            }
        }
        out.push('}');
    }
    out.push_str("],\"next_offset\":");
    write_u64(out, response.next_offset.unwrap_or(0));
    out.push_str(",\"has_more\":");
    out.push_str(if response.has_more.unwrap_or(false) {
        "true"
    } else {
        "false"
    });
    out.push('}');
    Ok(())
}

/// Decodes a consume response into the batch JSON text; see the module docs.
///
/// ```
/// use kalam_consumer_core::{decode_consume_response, RequestContext};
/// let body = r#"{"messages":[{"topic_id":"t","partition_id":0,"offset":1,"payload":"eyJhIjoxfQ==","key":null,"timestamp_ms":5,"op":"Insert"}],"next_offset":2,"has_more":false}"#;
/// let ctx = RequestContext { topic_id: "t", group_id: "g", partition_id: 0 };
/// let text = decode_consume_response(body, &ctx).unwrap();
/// assert!(text.contains(r#""payload":{"a":1}"#));
/// ```
pub fn decode_consume_response(
    body: &str,
    request: &RequestContext<'_>,
) -> Result<String, DecodeError> {
    let mut out = String::new();
    decode_consume_response_into(body, request, &mut out)?;
    Ok(out)
}

/// One message of a decoded batch, as typed Rust (the JSON text's schema).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireMessage {
    /// Topic id.
    pub topic: String,
    /// Consumer group (the request's).
    pub group_id: String,
    /// Partition.
    pub partition_id: u32,
    /// Offset within the partition.
    pub offset: u64,
    /// Message key, `null` for keyless rows.
    pub key: Option<String>,
    /// Publish time, ms since the epoch.
    pub timestamp_ms: u64,
    /// Producing user; absent for shared tables and unknown users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `Insert`, `Update` or `Delete`.
    pub op: String,
    /// Decoded payload (`Some(Value::Null)` for a JSON `null` payload); absent when
    /// `decode_error` is set.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub payload: Option<Value>,
    /// Why the payload could not be decoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decode_error: Option<String>,
    /// The payload as received, only with `decode_error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_payload: Option<String>,
}

/// A present field is `Some`, even when it is `null`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// A decoded batch, as typed Rust.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsumeBatch {
    /// The messages, in server order.
    pub messages: Vec<WireMessage>,
    /// Last offset + 1, or the computed start offset when empty (§3.5).
    pub next_offset: u64,
    /// `messages.len() == limit` (§3.5).
    pub has_more: bool,
}

impl ConsumeBatch {
    /// Decodes a consume response straight into typed Rust (tests, native callers).
    pub fn decode(body: &str, request: &RequestContext<'_>) -> Result<Self, DecodeError> {
        let text = decode_consume_response(body, request)?;
        serde_json::from_str(&text).map_err(|e| DecodeError::Shape(e.to_string()))
    }
}

/// The ack response (§3.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckResponse {
    /// Always true from the real server.
    pub success: bool,
    /// The acked offset (echoes the request).
    pub acknowledged_offset: u64,
}

/// Decodes an ack response body; `success` defaults to true and `acknowledged_offset` to the
/// request's `upto_offset` (§7.1).
pub fn decode_ack_response(body: &str, upto_offset: u64) -> Result<AckResponse, DecodeError> {
    let mut scanner = Scanner::new(body);
    if scanner.next_byte() != Some(b'{') {
        scanner.value().map_err(DecodeError::from_scan)?;
        scanner.finish().map_err(DecodeError::from_scan)?;
        return Err(DecodeError::Shape(String::from(
            "the response is not a JSON object",
        )));
    }
    let (mut success, mut acknowledged_offset, mut seen) = (None, None, 0u32);
    scanner
        .object(|key, scanner| {
            let raw = scanner.value()?;
            match key {
                "success" => {
                    scan::mark(&mut seen, 0, key)?;
                    success = scan::read_bool(raw, key)?;
                }
                "acknowledged_offset" => {
                    scan::mark(&mut seen, 1, key)?;
                    acknowledged_offset = scan::read_uint(raw, key, u64::MAX)?;
                }
                _ => {}
            }
            Ok(())
        })
        .and_then(|()| scanner.finish())
        .map_err(DecodeError::from_scan)?;
    Ok(AckResponse {
        success: success.unwrap_or(true),
        acknowledged_offset: acknowledged_offset.unwrap_or(upto_offset),
    })
}
