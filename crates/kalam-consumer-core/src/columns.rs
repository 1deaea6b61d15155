//! Consume response decoding (§3.2, §7.1) into columns: the path `KalamConsumerClient.consume`
//! and `decodeConsumeResponse` take.
//!
//! Why columns: every per-field call across the wasm boundary, and every JSON text that JS
//! parses a second time, cost more than the plain-JS decode it competes with
//! (`bench/README.md`, "Why the misses miss"). Columns cross as three flat views (numbers,
//! payload bytes, one string table) and a short JS loop
//! (`crates/kalam-consumer-wasm/js/assemble.js`) builds the message objects: a fatal
//! `TextDecoder` and `JSON.parse` check each payload's UTF-8 and JSON natively, so Rust checks
//! neither.
//!
//! Message fields (the envelope and its aliases: [`crate::response`]): `topic` ← `topic_id`
//! (falls back to the request's topic when absent or not a string), `group_id` ← always the
//! request's, `partition_id` (falls back to the request's), `offset` (default 0), `key`
//! (`null` when absent; a non-string key is kept as its JSON text), `timestamp_ms` (default 0),
//! `user` (omitted when absent or null; a non-string is kept as its JSON text), `op`
//! (`Insert`/`Update`/`Delete` matched case-insensitively; an unknown op string is passed
//! through unchanged; a message without `op` fails the whole response), `payload`.
//!
//! Payload rule: a string is standard base64 (padded) of UTF-8 JSON. If it is not base64 the
//! message carries `decode_error` (the reason) and `raw_payload` (the string as received) and
//! no payload: never a silent `{}`; the same holds for bytes the caller finds are not UTF-8 or
//! not JSON ([`Columns::raw_payload`]). A payload that is already JSON (not a string) is kept
//! as it is. A missing or `null` payload is a decode error too.
//! Response level: missing `messages` → `[]`, `next_offset` → 0, `has_more` → false; a body
//! that is not JSON, not an object, or has mistyped fields is a [`DecodeError`].
//!
//! UTF-8: the body is bytes and is never checked whole ([`crate::scan`] says why). The values
//! of `topic_id`, `key`, `user` and `op` are checked as the decoder reads them (whatever their
//! JSON type: a non-string key, user or op is kept as its JSON text), and invalid UTF-8 there
//! fails the whole response ([`DecodeError::NotUtf8`]), as the whole-body check did; so does a
//! key that matches no field ([`crate::response`]). The error is raised when the decoder
//! reaches that message, after the whole body has scanned, like a missing `op` (a syntax error
//! anywhere wins). A topic, user or op equal, byte for byte, to the previous message's is not
//! checked again, and a canonical op is matched as bytes. Payload bytes are checked by the
//! caller, as above, whether they came from base64 (invalid UTF-8 in the base64 text is not
//! base64) or from an already-JSON payload, so invalid UTF-8 in a payload is that message's
//! `decode_error`, never the batch's; its `raw_payload` (a JS string cannot hold invalid
//! UTF-8) has each invalid sequence replaced by U+FFFD. The value of a field the decoder does
//! not know is skipped with only its JSON syntax checked, so invalid UTF-8 there is accepted.
//! serde_json's derive, which the decoder replaced, did the same for unknown fields and failed
//! the response for a payload (`tests/utf8.rs`).
//!
//! The layout ([`STRIDE`], [`field`], [`string`]) is read by `assemble.js` under the same
//! names; `tests/columns.rs` checks that file against these constants.

use std::borrow::Cow;
use std::ops::Range;

use crate::payload::{decode_raw_base64_at, grow_to, PayloadError};
use crate::response::{canonical_op, is_raw_string, missing_op, scan_response, DecodeError, OPS};
use crate::scan::{self, ScanError};

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

/// Numbers per message in [`Columns::fields`].
pub const STRIDE: usize = 10;

/// Where each number sits within a message's [`STRIDE`] slots. String slots hold an index
/// into [`Columns::strings`]; `-1` is "none".
pub mod field {
    /// `offset`.
    pub const OFFSET: usize = 0;
    /// `timestamp_ms`.
    pub const TIMESTAMP_MS: usize = 1;
    /// `partition_id`.
    pub const PARTITION_ID: usize = 2;
    /// `topic` (string).
    pub const TOPIC: usize = 3;
    /// `key` (string, `-1` for `null`).
    pub const KEY: usize = 4;
    /// `user` (string, `-1` when absent).
    pub const USER: usize = 5;
    /// `op` (string).
    pub const OP: usize = 6;
    /// Start of the payload's decoded bytes in [`super::Columns::payloads`], NOT yet checked
    /// to be UTF-8 or JSON (the caller's decoder and parser check both, once);
    /// `-1` when it could not be decoded (see [`DECODE_ERROR`]).
    pub const PAYLOAD_START: usize = 7;
    /// End of that text; with a decode error, `raw_payload` (string, `-1` when the message
    /// had no payload at all).
    pub const PAYLOAD_END: usize = 8;
    /// `decode_error` (string), `-1` when the payload was decoded.
    pub const DECODE_ERROR: usize = 9;
}

/// String-table indices every batch starts with: the three canonical ops, then the group.
pub mod string {
    /// `Insert`, `Update`, `Delete` are strings 0, 1, 2 (in [`crate::response::OPS`]' order).
    pub const FIRST_OP: usize = 0;
    /// The request's `group_id`, which every message carries.
    pub const GROUP_ID: usize = 3;
}

/// Strings concatenated into one text, with each one's end as a UTF-16 offset: JS decodes the
/// text once and slices it (`text.slice(ends[i - 1], ends[i])`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StringTable {
    /// Every string, back to back.
    pub text: String,
    /// End of string `i` in UTF-16 code units (JS string offsets).
    pub ends: Vec<u32>,
    /// End of string `i` in bytes of `text` (for [`StringTable::get`]).
    byte_ends: Vec<usize>,
    utf16_len: u32,
}

impl StringTable {
    /// Appends `s`; returns its index as a field value.
    pub fn push(&mut self, s: &str) -> f64 {
        self.text.push_str(s);
        let units = if s.is_ascii() {
            s.len()
        } else {
            s.chars().map(char::len_utf16).sum()
        };
        self.utf16_len += units as u32;
        self.ends.push(self.utf16_len);
        self.byte_ends.push(self.text.len());
        (self.ends.len() - 1) as f64
    }

    /// String `index` (tests and native callers; JS slices the text instead).
    pub fn get(&self, index: usize) -> Option<&str> {
        let start = if index == 0 {
            0
        } else {
            *self.byte_ends.get(index - 1)?
        };
        self.text.get(start..*self.byte_ends.get(index)?)
    }
}

/// A decoded consume response in columns (see the module docs and [`field`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Columns {
    /// [`STRIDE`] numbers per message, in server order.
    pub fields: Vec<f64>,
    /// Every decoded payload, back to back (see [`field::PAYLOAD_START`]).
    pub payloads: Vec<u8>,
    /// Topics, keys, users, ops, decode errors.
    pub strings: StringTable,
    /// Per message, where its payload sits in the response body (empty when absent): the
    /// `raw_payload` to report when the caller finds the decoded text is not JSON.
    pub raw_payloads: Vec<Range<usize>>,
    /// `next_offset` (default 0).
    pub next_offset: u64,
    /// `has_more` (default false).
    pub has_more: bool,
}

impl Columns {
    /// Number of messages.
    pub fn len(&self) -> usize {
        self.fields.len() / STRIDE
    }

    /// Whether the batch has no message.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Message `index`'s payload as received (a string's content, else its JSON text), for
    /// `raw_payload`; `None` when it had none. `body` is the body [`decode_consume_columns`]
    /// read.
    pub fn raw_payload<'b>(&self, body: &'b [u8], index: usize) -> Option<Cow<'b, str>> {
        let raw = body
            .get(self.raw_payloads.get(index)?.clone())
            .filter(|r| !r.is_empty())?;
        Some(stringish_lossy(raw))
    }
}

/// A raw value that should be a string: a string's content, anything else as its JSON text.
fn stringish(raw: &str) -> Cow<'_, str> {
    if is_raw_string(raw.as_bytes()) {
        scan::unescape(raw).unwrap_or(Cow::Borrowed(raw))
    } else {
        Cow::Borrowed(raw)
    }
}

/// [`stringish`] of payload bytes, which were not checked to be UTF-8: each invalid sequence
/// becomes U+FFFD (only on the decode-error path, and a JS string could not hold it anyway).
fn stringish_lossy(raw: &[u8]) -> Cow<'_, str> {
    match String::from_utf8_lossy(raw) {
        Cow::Borrowed(text) => stringish(text),
        Cow::Owned(text) => Cow::Owned(stringish(&text).into_owned()),
    }
}

/// `raw`, a value of `body`, as text for the string table; invalid UTF-8 fails the response
/// (see the module docs), with the body position of the first bad byte.
fn text<'a>(body: &[u8], raw: &'a [u8]) -> Result<&'a str, DecodeError> {
    std::str::from_utf8(raw).map_err(|e| not_utf8(scan::offset_in(body, raw) + e.valid_up_to()))
}

/// The error of [`text`], out of line (it is inlined at each of its callers).
#[cold]
#[inline(never)]
fn not_utf8(at: usize) -> DecodeError {
    DecodeError::from_scan(ScanError::NotUtf8(at))
}

/// The string index of `raw`, reusing the previous message's when the raw bytes are the same
/// (topic and user repeat across a batch, so the JS side also shares one string for them, and
/// the repeat needs no UTF-8 check).
fn interned<'a>(
    strings: &mut StringTable,
    last: &mut Option<(&'a [u8], f64)>,
    body: &[u8],
    raw: &'a [u8],
) -> Result<f64, DecodeError> {
    match *last {
        Some((bytes, index)) if bytes == raw => Ok(index),
        _ => {
            let index = strings.push(&stringish(text(body, raw)?));
            *last = Some((raw, index));
            Ok(index)
        }
    }
}

/// Decodes a consume response body into [`Columns`].
///
/// ```
/// use kalam_consumer_core::columns::{decode_consume_columns, field, STRIDE};
/// use kalam_consumer_core::RequestContext;
/// let body = br#"{"messages":[{"offset":7,"payload":"eyJhIjoxfQ==","op":"insert"}],"next_offset":8}"#;
/// let ctx = RequestContext { topic_id: "t", group_id: "g", partition_id: 0 };
/// let columns = decode_consume_columns(body, &ctx).unwrap();
/// assert_eq!(columns.fields[field::OFFSET], 7.0);
/// let payload = &columns.payloads[columns.fields[field::PAYLOAD_START] as usize..columns.fields[field::PAYLOAD_END] as usize];
/// assert_eq!(payload, br#"{"a":1}"#);
/// assert_eq!(columns.strings.get(columns.fields[field::OP] as usize), Some("Insert"));
/// ```
pub fn decode_consume_columns(
    body: &[u8],
    request: &RequestContext<'_>,
) -> Result<Columns, DecodeError> {
    let response = scan_response(body)?;
    let count = response.messages.len();
    // Room for every payload at its largest (base64 shrinks, raw JSON is copied as is), made
    // and zero-filled once here instead of per payload. Safe Rust must initialise the bytes
    // base64 is decoded into: sizing this by the payloads, not the whole body as before,
    // fills about half as much (the envelope and the base64 overhead are the rest).
    let mut room = 0;
    for raw in response
        .messages
        .iter()
        .filter_map(|message| message.payload)
    {
        // Three bytes per four base64 characters (quotes included: a little to spare).
        room += if is_raw_string(raw) {
            raw.len() / 4 * 3 + 3
        } else {
            raw.len()
        };
    }
    let mut columns = Columns {
        fields: Vec::with_capacity(count * STRIDE),
        payloads: vec![0; room],
        raw_payloads: Vec::with_capacity(count),
        next_offset: response.next_offset.unwrap_or(0),
        has_more: response.has_more.unwrap_or(false),
        ..Columns::default()
    };
    let strings = &mut columns.strings;
    for op in OPS {
        strings.push(op);
    }
    strings.push(request.group_id);
    let mut topic_fallback = None;
    let (mut last_topic, mut last_user, mut last_op) = (None, None, None);
    let mut used = 0;

    for (index, message) in response.messages.iter().enumerate() {
        let offset = message.offset.unwrap_or(0);
        let topic = match message.topic_id {
            Some(raw) if is_raw_string(raw) => interned(strings, &mut last_topic, body, raw)?,
            other => {
                // Not a string: the request's topic stands in, but the value was still read.
                if let Some(raw) = other {
                    text(body, raw)?;
                }
                *topic_fallback.get_or_insert_with(|| strings.push(request.topic_id))
            }
        };
        let key = match message.key {
            Some(raw) => strings.push(&stringish(text(body, raw)?)),
            None => -1.0,
        };
        let user = match message.user {
            Some(raw) => interned(strings, &mut last_user, body, raw)?,
            None => -1.0,
        };
        let op = match message.op {
            None => return Err(missing_op(index, offset)),
            Some(raw) => match canonical_op(raw) {
                Some(i) => (string::FIRST_OP + i) as f64,
                None => interned(strings, &mut last_op, body, raw)?,
            },
        };
        let decoded = match message.payload {
            None => Err(PayloadError::Missing),
            Some(raw) if is_raw_string(raw) => {
                decode_raw_base64_at(raw, &mut columns.payloads, used)
            }
            // Already JSON (§7.1: "if already an object use it").
            Some(raw) => {
                let end = used + raw.len();
                grow_to(&mut columns.payloads, end);
                columns.payloads[used..end].copy_from_slice(raw);
                Ok(raw.len())
            }
        };
        let (start, end, error) = match decoded {
            Ok(len) => {
                let start = used;
                used += len;
                (start as f64, used as f64, -1.0)
            }
            Err(err) => {
                let error = strings.push(&err.to_string());
                let raw_payload = message
                    .payload
                    .map_or(-1.0, |raw| strings.push(&stringish_lossy(raw)));
                (-1.0, raw_payload, error)
            }
        };
        let partition = message.partition_id.unwrap_or(request.partition_id);
        columns.fields.extend_from_slice(&[
            offset as f64,
            message.timestamp_ms.unwrap_or(0) as f64,
            f64::from(partition),
            topic,
            key,
            user,
            op,
            start,
            end,
            error,
        ]);
        columns
            .raw_payloads
            .push(message.payload.map_or(0..0, |raw| {
                let at = scan::offset_in(body, raw);
                at..at + raw.len()
            }));
    }
    columns.payloads.truncate(used);
    Ok(columns)
}
