//! Payload bytes: a message's base64 `payload` string decoded into a reused buffer.
//!
//! Only base64 is checked here. Whether the bytes are UTF-8 and JSON is checked once, by the
//! caller's decoder and parser (in the package: a fatal `TextDecoder` and `JSON.parse` in
//! `crates/kalam-consumer-wasm/js/assemble.js`), so those failures have no variant below.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use thiserror::Error;

use crate::scan;

/// Why one message's payload could not be decoded in Rust; its `Display` is the
/// `decode_error` text.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PayloadError {
    /// No payload, or `null`.
    #[error("payload is missing")]
    Missing,
    /// Not standard padded base64.
    #[error("payload is not valid base64: {0}")]
    NotBase64(String),
}

/// Makes `out` at least `len` long (doubling, so a reused buffer grows rarely).
pub(crate) fn grow_to(out: &mut Vec<u8>, len: usize) {
    if out.len() < len {
        out.resize(len.max(out.len() * 2), 0);
    }
}

/// Base64-decodes into `out[at..]`; returns the decoded length. `out` only grows (it is a
/// reused buffer, so there is no zero-fill per payload: measured in the wasm bench).
fn decode_base64_at(base64: &[u8], out: &mut Vec<u8>, at: usize) -> Result<usize, PayloadError> {
    grow_to(out, at + base64::decoded_len_estimate(base64.len()));
    STANDARD
        .decode_slice(base64, &mut out[at..])
        .map_err(|e| PayloadError::NotBase64(e.to_string()))
}

/// Decodes a raw JSON string literal holding base64 (quotes included, as the scanner returns
/// it) into `out[at..]` and returns the decoded length; neither the literal nor the decoded
/// bytes are checked to be UTF-8. The literal needs no check: base64 is ASCII, and the decoder
/// refuses any other byte (so invalid UTF-8 in it is `NotBase64`, like any stray byte).
/// The fast path decodes the literal's inner bytes as they are (base64 never needs escapes, so
/// no scan for them first); only when that fails and the literal has escapes (`\/` is legal
/// JSON) is it unescaped and retried.
///
/// ```
/// use kalam_consumer_core::payload::decode_raw_base64_at;
/// let mut out = Vec::new();
/// let len = decode_raw_base64_at(br#""eyJhIjoxfQ==""#, &mut out, 0).unwrap();
/// assert_eq!(&out[..len], br#"{"a":1}"#);
/// ```
pub fn decode_raw_base64_at(
    text: &[u8],
    out: &mut Vec<u8>,
    at: usize,
) -> Result<usize, PayloadError> {
    let inner = &text[1..text.len() - 1];
    match decode_base64_at(inner, out, at) {
        Ok(len) => Ok(len),
        // Unescaping needs text; a literal that is not UTF-8 keeps the first error (the
        // decoder's words for the stray byte).
        Err(e) if inner.contains(&b'\\') => {
            let Ok(text) = std::str::from_utf8(text) else {
                return Err(e);
            };
            let unescaped = scan::unescape(text).ok_or_else(|| {
                PayloadError::NotBase64(String::from("invalid escape in the payload string"))
            })?;
            decode_base64_at(unescaped.as_bytes(), out, at)
        }
        Err(e) => Err(e),
    }
}
