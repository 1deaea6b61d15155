//! `decodeConsumeResponseParts` and the batch parts `KalamConsumerClient.consumeParts` returns.
//!
//! Why parts: building each payload through per-message boundary calls (`JSON.parse` via
//! js_sys, `Reflect.set`) was ~45% of decode time (bench/profile-decode.mjs). Here Rust crosses
//! the boundary a fixed number of times per batch; the TS layer's loop
//! (js/src/parts.ts) parses each payload and builds the message objects itself.

use js_sys::{Object, Uint32Array, Uint8Array, JSON};
use kalam_consumer_core::{decode_consume_response_parts, DecodeError, PayloadSlot, RequestContext};
use wasm_bindgen::prelude::*;

use crate::error::{Code, ConsumerError};
use crate::interop::object_of;
use crate::types::DecodeRequest;

/// Marks a message whose payload Rust already failed to decode (the batch carries its
/// `decode_error`); real ranges never start there (payload texts are far below 4 GiB).
const NO_PAYLOAD: u32 = u32::MAX;

#[wasm_bindgen(typescript_custom_section)]
const TS_PARTS: &'static str = r#"
/**
 * A consume response split for the TS layer's assembly loop. `batch` is a `ConsumeBatch` whose
 * messages have `payload: null` placeholders (or `decode_error` + `raw_payload` when Rust could
 * not decode the payload). Per message `i`: `payload_ranges_bytes[4i]`..`[4i+1]` is the UTF-8
 * payload text in `payloads` (NOT yet checked to be JSON; `4294967295` at `[4i]` when the
 * message already has `decode_error`), `[4i+2]`..`[4i+3]` the payload as received (its JSON
 * text) in `body`, for `raw_payload` when the text is not JSON.
 */
export interface ConsumeParts { batch: ConsumeBatch; payloads: Uint8Array; payload_ranges_bytes: Uint32Array; body: Uint8Array }
"#;

/// Decodes `body` (UTF-8, the same bytes as `body_bytes`) into a `ConsumeParts` object.
///
/// `Err(Err(e))` is a body that is not a consume response; `Err(Ok(e))` an internal failure.
pub(crate) fn parts_to_js(body: &str, body_bytes: &Uint8Array, context: &RequestContext<'_>) -> Result<JsValue, Result<ConsumerError, DecodeError>> {
    let parts = decode_consume_response_parts(body, context).map_err(Err)?;
    let internal = |e: JsValue| Ok(ConsumerError::local(Code::InvalidResponse, "decoded batch is not JSON").with_cause(e));
    let batch = JSON::parse(&parts.batch).map_err(internal)?;
    let mut ranges: Vec<u32> = Vec::with_capacity(parts.slots.len() * 4);
    for slot in &parts.slots {
        match slot {
            PayloadSlot::Text { text, raw } => {
                ranges.extend_from_slice(&[text.start as u32, text.end as u32, raw.start as u32, raw.end as u32]);
            }
            PayloadSlot::Error => ranges.extend_from_slice(&[NO_PAYLOAD, 0, 0, 0]),
        }
    }
    // `from` copies out of wasm memory, so the views stay valid after the next allocation.
    let payloads = Uint8Array::from(parts.payload_text.as_bytes());
    let ranges = Uint32Array::from(ranges.as_slice());
    let parts: Object = object_of(&[
        ("batch", batch),
        ("payloads", payloads.into()),
        ("payload_ranges_bytes", ranges.into()),
        ("body", body_bytes.clone().into()),
    ])
    .into();
    Ok(parts.into())
}

/// `decodeConsumeResponse`, split: returns `ConsumeParts` for a caller that parses each
/// payload itself (the TS layer does; see `ConsumeParts`). Throws like `decodeConsumeResponse`.
#[wasm_bindgen(js_name = "decodeConsumeResponseParts", unchecked_return_type = "ConsumeParts")]
pub fn decode_consume_response_parts_js(
    body: &js_sys::JsString,
    #[wasm_bindgen(unchecked_param_type = "DecodeRequest")] request: JsValue,
) -> Result<JsValue, JsValue> {
    let request = DecodeRequest::from_js(&request)?;
    let (body, bytes) = crate::interop::utf8_and_bytes_of(body);
    let context = RequestContext {
        topic_id: &request.topic_id,
        group_id: &request.group_id,
        partition_id: request.partition_id,
    };
    parts_to_js(&body, &bytes, &context).map_err(|e| e.unwrap_or_else(|e| ConsumerError::local(Code::InvalidResponse, e.to_string())).into())
}
