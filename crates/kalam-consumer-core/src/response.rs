//! The consume response envelope (§3.2): the body of `POST /v1/api/topics/consume` read into
//! borrowed raw values, before any payload is decoded.
//!
//! Read with the crate's own scanner, not serde_json (see [`crate::scan`] for why); the rules
//! mirror what `#[derive(Deserialize)]` with `Option` fields accepted:
//!
//! * response: `messages` (an array of objects, `null` is absent), `next_offset` (u64),
//!   `has_more` (bool); other keys are ignored;
//! * message (§7.1, aliases count as the same field): `topic_id` (alias `topic`),
//!   `partition_id` (u32), `offset` (u64), `payload` (alias `value`), `key` (alias
//!   `message_id`), `timestamp_ms` (alias `ts`), `user` (alias `username`), `op`;
//! * `null` is absent; a mistyped or duplicated field, or a body that is not one JSON object,
//!   is a [`DecodeError`]. A message without `op` is one too ([`missing_op`]), raised by the
//!   decoder once the whole body has scanned, so a syntax error anywhere wins.
//!
//! What each field becomes (fallbacks, `op` spelling, payload rules) is the decoder's job:
//! [`crate::columns`].

use thiserror::Error;

use crate::scan::{self, ScanError, Scanner};
use crate::write::write_u64;

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

/// A consume response's envelope, every value borrowed raw from the body.
#[derive(Debug, Default)]
pub struct RawResponse<'a> {
    /// The messages, in server order.
    pub messages: Vec<RawMessage<'a>>,
    /// `next_offset`, `None` when absent or `null`.
    pub next_offset: Option<u64>,
    /// `has_more`, `None` when absent or `null`.
    pub has_more: Option<bool>,
}

/// One message's envelope (aliases as in the module docs). Strings are raw JSON values as
/// they appear in the body (a string keeps its quotes and escapes; see [`is_raw_string`]);
/// `None` is absent or `null`.
#[derive(Debug, Default)]
pub struct RawMessage<'a> {
    /// `topic_id` / `topic`.
    pub topic_id: Option<&'a str>,
    /// `partition_id`.
    pub partition_id: Option<u32>,
    /// `offset`.
    pub offset: Option<u64>,
    /// `payload` / `value`: a base64 string, or already JSON.
    pub payload: Option<&'a str>,
    /// `key` / `message_id`.
    pub key: Option<&'a str>,
    /// `timestamp_ms` / `ts`.
    pub timestamp_ms: Option<u64>,
    /// `user` / `username`.
    pub user: Option<&'a str>,
    /// `op`.
    pub op: Option<&'a str>,
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

fn scan(body: &str) -> Result<RawResponse<'_>, ScanError> {
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

/// Scans a consume response body into its envelope (see the module docs).
pub fn scan_response(body: &str) -> Result<RawResponse<'_>, DecodeError> {
    scan(body).map_err(DecodeError::from_scan)
}

/// Whether a raw value is a JSON string (as opposed to a number, object, ...).
pub fn is_raw_string(raw: &str) -> bool {
    raw.starts_with('"')
}

/// The canonical spellings of `op`; [`crate::columns`] puts them first in its string table,
/// in this order.
pub const OPS: [&str; 3] = ["Insert", "Update", "Delete"];

/// The index in [`OPS`] of a raw `op` string matching one case-insensitively; `None` for any
/// other op (which is passed through as it is).
pub fn canonical_op(raw: &str) -> Option<usize> {
    let op = scan::unescape(raw)?;
    OPS.iter().position(|c| c.eq_ignore_ascii_case(&op))
}

/// The error for message `index` (at `offset`) that has no `op` (built without fmt: size of
/// the wasm module).
pub fn missing_op(index: usize, offset: u64) -> DecodeError {
    let mut text = String::from("message ");
    write_u64(&mut text, index as u64);
    text.push_str(" (offset ");
    write_u64(&mut text, offset);
    text.push_str(") has no op");
    DecodeError::Shape(text)
}
