//! What `crates/kalam-consumer-wasm/js/assemble.js` builds from the columns, in Rust: the
//! message objects JS sees, with `from_utf8` standing in for the fatal `TextDecoder` and
//! serde_json for `JSON.parse`. With [`decode`] the tests check the shipped decoder end to end
//! (the real `assemble.js` is checked by the wasm crate's boundary tests).

use kalam_consumer_core::columns::{decode_consume_columns, field, string, Columns, STRIDE};
use kalam_consumer_core::{DecodeError, RequestContext};
use serde_json::{json, Map, Value};

/// The string at a field's index, `None` for `-1`.
fn string(columns: &Columns, index: f64) -> Option<String> {
    (index >= 0.0).then(|| {
        columns
            .strings
            .get(index as usize)
            .expect("index in the table")
            .to_owned()
    })
}

/// The batch `assemble.js` builds from `columns` (key order included), with the
/// `raw_payload` the wasm crate adds for payloads that turn out not to be UTF-8 or JSON.
pub fn rebuild(columns: &Columns, body: &[u8]) -> Value {
    let mut messages = Vec::new();
    for (index, f) in columns.fields.chunks(STRIDE).enumerate() {
        let mut m = Map::new();
        m.insert("topic".into(), json!(string(columns, f[field::TOPIC])));
        m.insert(
            "group_id".into(),
            json!(string(columns, string::GROUP_ID as f64)),
        );
        m.insert("partition_id".into(), json!(f[field::PARTITION_ID] as u64));
        m.insert("offset".into(), json!(f[field::OFFSET] as u64));
        m.insert("key".into(), json!(string(columns, f[field::KEY])));
        m.insert("timestamp_ms".into(), json!(f[field::TIMESTAMP_MS] as u64));
        if let Some(user) = string(columns, f[field::USER]) {
            m.insert("user".into(), json!(user));
        }
        m.insert("op".into(), json!(string(columns, f[field::OP])));
        if f[field::DECODE_ERROR] >= 0.0 {
            assert_eq!(f[field::PAYLOAD_START], -1.0);
            m.insert(
                "decode_error".into(),
                json!(string(columns, f[field::DECODE_ERROR])),
            );
            if let Some(raw) = string(columns, f[field::PAYLOAD_END]) {
                m.insert("raw_payload".into(), json!(raw));
            }
        } else {
            let bytes =
                &columns.payloads[f[field::PAYLOAD_START] as usize..f[field::PAYLOAD_END] as usize];
            let parsed = match std::str::from_utf8(bytes) {
                Err(e) => Err(format!("payload is not valid UTF-8: {e}")),
                Ok(text) => serde_json::from_str::<Value>(text)
                    .map_err(|e| format!("payload is not valid JSON: {e}")),
            };
            match parsed {
                Ok(payload) => {
                    m.insert("payload".into(), payload);
                }
                Err(reason) => {
                    m.insert("decode_error".into(), json!(reason));
                    if let Some(raw) = columns.raw_payload(body, index) {
                        m.insert("raw_payload".into(), json!(raw));
                    }
                }
            }
        }
        messages.push(Value::Object(m));
    }
    // next_offset crosses into JS as a number (f64), like every field.
    let next_offset = columns.next_offset as f64 as u64;
    json!({ "messages": messages, "next_offset": next_offset, "has_more": columns.has_more })
}

/// A consume response decoded the way the package does: columns, then the JS assembly.
pub fn decode(body: &str, request: &RequestContext<'_>) -> Result<Value, DecodeError> {
    decode_bytes(body.as_bytes(), request)
}

/// [`decode`] of a body as bytes, as `KalamConsumerClient.consume` decodes it (which may hold
/// invalid UTF-8).
pub fn decode_bytes(body: &[u8], request: &RequestContext<'_>) -> Result<Value, DecodeError> {
    let columns = decode_consume_columns(body, request)?;
    Ok(rebuild(&columns, body))
}
