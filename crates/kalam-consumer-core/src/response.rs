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
//! The body is bytes and is never checked as a whole to be UTF-8 (why: [`crate::scan`]). A key
//! that matches no field must be UTF-8 ([`DecodeError::NotUtf8`]); the envelope's values are
//! raw bytes, and the decoder checks the ones it reads ([`crate::columns`]); other keys' values
//! are skipped unchecked.
//!
//! What each field becomes (fallbacks, `op` spelling, payload rules) is the decoder's job:
//! [`crate::columns`].

use std::borrow::Cow;

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
    /// A string the decoder reads (a key that matches no field, the value of `topic_id`,
    /// `key`, `user` or `op`) is not UTF-8; the text says where ("in a string at byte n").
    #[error("response body is not UTF-8 ({0})")]
    NotUtf8(String),
}

impl DecodeError {
    pub(crate) fn from_scan(err: ScanError) -> Self {
        match err {
            ScanError::Syntax(..) => DecodeError::Malformed(err.message()),
            ScanError::NotUtf8(_) => DecodeError::NotUtf8(err.message()),
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

/// One message's envelope (aliases as in the module docs). Values are raw JSON bytes as they
/// appear in the body (a string keeps its quotes and escapes; see [`is_raw_string`]), NOT
/// checked to be UTF-8; `None` is absent or `null`.
#[derive(Debug, Default)]
pub struct RawMessage<'a> {
    /// `topic_id` / `topic`.
    pub topic_id: Option<&'a [u8]>,
    /// `partition_id`.
    pub partition_id: Option<u32>,
    /// `offset`.
    pub offset: Option<u64>,
    /// `payload` / `value`: a base64 string, or already JSON.
    pub payload: Option<&'a [u8]>,
    /// `key` / `message_id`.
    pub key: Option<&'a [u8]>,
    /// `timestamp_ms` / `ts`.
    pub timestamp_ms: Option<u64>,
    /// `user` / `username`.
    pub user: Option<&'a [u8]>,
    /// `op`.
    pub op: Option<&'a [u8]>,
}

/// A message field, named by its canonical key (the one errors name).
#[derive(Clone, Copy)]
enum Field {
    TopicId,
    PartitionId,
    Offset,
    Payload,
    Key,
    TimestampMs,
    User,
    Op,
}

/// Every key of a message field, aliases included, most frequent first. Searched, rather than
/// matched by byte-string patterns, which rustc compiles into a byte-by-byte decision tree on a
/// slice: 0.3 kB more of the module, and no faster in the decode bench.
const MESSAGE_KEYS: [(&[u8], Field); 13] = [
    (b"topic_id", Field::TopicId),
    (b"partition_id", Field::PartitionId),
    (b"offset", Field::Offset),
    (b"payload", Field::Payload),
    (b"key", Field::Key),
    (b"timestamp_ms", Field::TimestampMs),
    (b"user", Field::User),
    (b"op", Field::Op),
    (b"topic", Field::TopicId),
    (b"value", Field::Payload),
    (b"message_id", Field::Key),
    (b"ts", Field::TimestampMs),
    (b"username", Field::User),
];

fn scan_message<'a>(scanner: &mut Scanner<'a>) -> Result<RawMessage<'a>, ScanError> {
    if scanner.next_byte() != Some(b'{') {
        scanner.value()?;
        return Err(scan::shape("messages", "an array of objects"));
    }
    let mut m = RawMessage::default();
    let mut seen = 0u32;
    scanner.object(|key, scanner| {
        let raw = scanner.value()?;
        let field = MESSAGE_KEYS.iter().find(|(name, _)| *name == key);
        match field.map(|&(_, field)| field) {
            Some(Field::TopicId) => {
                scan::mark(&mut seen, 0, "topic_id")?;
                m.topic_id = scan::non_null(raw);
            }
            Some(Field::PartitionId) => {
                scan::mark(&mut seen, 1, "partition_id")?;
                m.partition_id =
                    scan::read_uint(raw, "partition_id", u64::from(u32::MAX))?.map(|n| n as u32);
            }
            Some(Field::Offset) => {
                scan::mark(&mut seen, 2, "offset")?;
                m.offset = scan::read_uint(raw, "offset", u64::MAX)?;
            }
            Some(Field::Payload) => {
                scan::mark(&mut seen, 3, "payload")?;
                m.payload = scan::non_null(raw);
            }
            Some(Field::Key) => {
                scan::mark(&mut seen, 4, "key")?;
                m.key = scan::non_null(raw);
            }
            Some(Field::TimestampMs) => {
                scan::mark(&mut seen, 5, "timestamp_ms")?;
                m.timestamp_ms = scan::read_uint(raw, "timestamp_ms", u64::MAX)?;
            }
            Some(Field::User) => {
                scan::mark(&mut seen, 6, "user")?;
                m.user = scan::non_null(raw);
            }
            Some(Field::Op) => {
                scan::mark(&mut seen, 7, "op")?;
                m.op = scan::non_null(raw);
            }
            None => scanner.check_key(key)?,
        }
        Ok(())
    })?;
    Ok(m)
}

fn scan(body: &[u8]) -> Result<RawResponse<'_>, ScanError> {
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
    scanner.object_once(&mut |key, scanner| {
        // Few keys per body: matched as text (see `Scanner::key_text`), unlike a message's.
        match scanner.key_text(key)? {
            "messages" => {
                scan::mark(&mut seen, 0, "messages")?;
                match scanner.next_byte() {
                    Some(b'[') => scanner.array(|scanner| {
                        response.messages.push(scan_message(scanner)?);
                        Ok(())
                    })?,
                    _ => {
                        if scanner.value()? != b"null" {
                            return Err(scan::shape("messages", "an array"));
                        }
                    }
                }
            }
            "next_offset" => {
                scan::mark(&mut seen, 1, "next_offset")?;
                response.next_offset = scan::read_uint(scanner.value()?, "next_offset", u64::MAX)?;
            }
            "has_more" => {
                scan::mark(&mut seen, 2, "has_more")?;
                response.has_more = scan::read_bool(scanner.value()?, "has_more")?;
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
pub fn scan_response(body: &[u8]) -> Result<RawResponse<'_>, DecodeError> {
    scan(body).map_err(DecodeError::from_scan)
}

/// Whether a raw value is a JSON string (as opposed to a number, object, ...).
pub fn is_raw_string(raw: &[u8]) -> bool {
    raw.first() == Some(&b'"')
}

/// The canonical spellings of `op`; [`crate::columns`] puts them first in its string table,
/// in this order.
pub const OPS: [&str; 3] = ["Insert", "Update", "Delete"];

/// The index in [`OPS`] of a raw `op` string matching one case-insensitively; `None` for any
/// other op (which is passed through as it is). Compared as bytes, so the usual op needs no
/// UTF-8 check.
pub fn canonical_op(raw: &[u8]) -> Option<usize> {
    let inner = raw.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    let unescaped;
    let op = if inner.contains(&b'\\') {
        unescaped = unescape_op(raw)?;
        unescaped.as_bytes()
    } else {
        inner
    };
    OPS.iter()
        .position(|c| c.as_bytes().eq_ignore_ascii_case(op))
}

/// An op string with escapes (rare), unescaped: that needs text. Out of line, to keep
/// [`canonical_op`] small.
#[cold]
#[inline(never)]
fn unescape_op(raw: &[u8]) -> Option<Cow<'_, str>> {
    scan::unescape(std::str::from_utf8(raw).ok()?)
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
