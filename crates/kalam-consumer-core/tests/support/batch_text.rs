//! The reference decoder the columns are held against: the same response turned into ONE
//! JSON text of the batch, each payload checked to be UTF-8 and JSON with serde_json and
//! spliced in as text.
//!
//! It was the crate's first decoder; the package now ships the columns path
//! (`src/columns.rs` + `assemble.js`). It shares the envelope scanner (`response.rs`) and
//! the base64 step with it but builds its output independently, so the property tests in
//! `tests/columns.rs` catch a column layout or assembly that loses or changes a field.

use kalam_consumer_core::payload::decode_raw_base64_at;
use kalam_consumer_core::response::{canonical_op, is_raw_string, missing_op, scan_response, OPS};
use kalam_consumer_core::{write_json_str, write_u64, DecodeError, PayloadError, RequestContext};
use serde::de::IgnoredAny;

/// Writes a raw value that should be a string: strings as they are, anything else as a
/// string holding its JSON text.
fn write_stringish(out: &mut String, raw: &str) {
    if is_raw_string(raw.as_bytes()) {
        out.push_str(raw);
    } else {
        write_json_str(out, raw);
    }
}

fn write_op(out: &mut String, raw: &[u8]) {
    match canonical_op(raw).map(|i| OPS[i]) {
        Some(c) => {
            out.push('"');
            out.push_str(c);
            out.push('"');
        }
        None => write_stringish(out, text(raw)),
    }
}

/// A raw value of the body as text: this reference decodes `&str` bodies only, so it always is.
fn text(raw: &[u8]) -> &str {
    std::str::from_utf8(raw).expect("a value of a &str body")
}

/// A payload's JSON text, or the `decode_error` text.
fn payload_text<'b>(raw: Option<&'b [u8]>, scratch: &'b mut Vec<u8>) -> Result<&'b str, String> {
    let text = match raw {
        None => return Err(PayloadError::Missing.to_string()),
        Some(raw) if is_raw_string(raw) => {
            let len = decode_raw_base64_at(raw, scratch, 0).map_err(|e| e.to_string())?;
            std::str::from_utf8(&scratch[..len])
                .map_err(|e| format!("payload is not valid UTF-8: {e}"))?
        }
        // Already JSON (§7.1: "if already an object use it").
        Some(raw) => text(raw),
    };
    serde_json::from_str::<IgnoredAny>(text)
        .map_err(|e| format!("payload is not valid JSON: {e}"))?;
    Ok(text)
}

/// Decodes a consume response into the batch JSON text.
pub fn decode_consume_response(
    body: &str,
    request: &RequestContext<'_>,
) -> Result<String, DecodeError> {
    let response = scan_response(body.as_bytes())?;
    let mut out = String::with_capacity(body.len());
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
            Some(raw) if is_raw_string(raw) => out.push_str(text(raw)),
            _ => out.push_str(&topic_fallback),
        }
        out.push_str(",\"group_id\":");
        out.push_str(&group);
        out.push_str(",\"partition_id\":");
        write_u64(
            &mut out,
            u64::from(message.partition_id.unwrap_or(request.partition_id)),
        );
        out.push_str(",\"offset\":");
        write_u64(&mut out, message.offset.unwrap_or(0));
        out.push_str(",\"key\":");
        match message.key {
            Some(raw) => write_stringish(&mut out, text(raw)),
            None => out.push_str("null"),
        }
        out.push_str(",\"timestamp_ms\":");
        write_u64(&mut out, message.timestamp_ms.unwrap_or(0));
        if let Some(user) = message.user {
            out.push_str(",\"user\":");
            write_stringish(&mut out, text(user));
        }
        out.push_str(",\"op\":");
        match message.op {
            Some(op) => write_op(&mut out, op),
            None => return Err(missing_op(index, message.offset.unwrap_or(0))),
        }
        match payload_text(message.payload, &mut scratch) {
            Ok(json) => {
                out.push_str(",\"payload\":");
                out.push_str(json);
            }
            Err(reason) => {
                out.push_str(",\"decode_error\":");
                write_json_str(&mut out, &reason);
                if let Some(raw) = message.payload {
                    out.push_str(",\"raw_payload\":");
                    write_stringish(&mut out, text(raw));
                }
            }
        }
        out.push('}');
    }
    out.push_str("],\"next_offset\":");
    write_u64(&mut out, response.next_offset.unwrap_or(0));
    out.push_str(",\"has_more\":");
    out.push_str(if response.has_more.unwrap_or(false) {
        "true"
    } else {
        "false"
    });
    out.push('}');
    Ok(out)
}
