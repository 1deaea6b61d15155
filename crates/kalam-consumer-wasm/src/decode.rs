//! `decodeConsumeResponse` and `unwrapLegacyRow`.

use js_sys::{Array, Reflect, JSON};
use kalam_consumer_core::{decode_consume_response_parts, json_string_content, DecodeError, PayloadSlot, RequestContext};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::error::{Code, ConsumerError};
use crate::interop::{get, is_plain_object};
use crate::types::DecodeRequest;

/// Decodes the body of a consume response (§3.2) into a batch, exactly as
/// `KalamConsumerClient.consume` does: base64 payloads become JSON values, an undecodable
/// payload becomes a per-message `decode_error` (+ `raw_payload`), `group_id` is always the
/// request's. Throws `INVALID_RESPONSE` for a body that is not a consume response and
/// `INVALID_OPTION` for a bad `request`.
///
/// @example
/// ```ts
/// const batch = decodeConsumeResponse(text, { topic_id: 'app.events', group_id: 'g', partition_id: 0 });
/// ```
#[wasm_bindgen(js_name = "decodeConsumeResponse", unchecked_return_type = "ConsumeBatch")]
pub fn decode_consume_response_js(
    body: &js_sys::JsString,
    #[wasm_bindgen(unchecked_param_type = "DecodeRequest")] request: JsValue,
) -> Result<JsValue, JsValue> {
    let request = DecodeRequest::from_js(&request)?;
    let body = crate::interop::utf8_of(body);
    let body = body.as_str();
    let context = RequestContext {
        topic_id: &request.topic_id,
        group_id: &request.group_id,
        partition_id: request.partition_id,
    };
    batch_to_js(body, &context).map_err(|e| e.unwrap_or_else(|e| ConsumerError::local(Code::InvalidResponse, e.to_string())).into())
}

/// The consume hot path, shared with `KalamConsumerClient.consume`: Rust decodes the envelope
/// and every payload's base64 + UTF-8 into [`kalam_consumer_core::DecodedParts`]; JS parses
/// the small batch text once, then each payload with `JSON.parse` (which validates it: a
/// throw becomes that message's `decode_error`). Measured in `bench/decode.mjs`: validating
/// the payload JSON in Rust too, and splicing everything into one text, was ~2x slower.
///
/// `Err(Err(e))` is a body that is not a consume response; `Err(Ok(e))` an internal failure.
pub(crate) fn batch_to_js(body: &str, context: &RequestContext<'_>) -> Result<JsValue, Result<ConsumerError, DecodeError>> {
    let parts = decode_consume_response_parts(body, context).map_err(Err)?;
    let internal = |e: JsValue| Ok(ConsumerError::local(Code::InvalidResponse, "decoded batch is not JSON").with_cause(e));
    let batch = JSON::parse(&parts.batch).map_err(internal)?;
    let messages: Array = get(&batch, "messages").unchecked_into();
    let payload_key = JsValue::from_str("payload");
    for (index, slot) in parts.slots.iter().enumerate() {
        let PayloadSlot::Text { text, raw } = slot else { continue };
        let message = messages.get(index as u32);
        match JSON::parse(&parts.payload_text[text.clone()]) {
            Ok(value) => {
                let _ = Reflect::set(&message, &payload_key, &value);
            }
            Err(error) => {
                let _ = Reflect::delete_property(message.unchecked_ref::<js_sys::Object>(), &payload_key);
                let reason = get(&error, "message").as_string().unwrap_or_default();
                let decode_error = format!("payload is not valid JSON: {reason}");
                let raw_text = &body[raw.clone()];
                let raw_payload = json_string_content(raw_text).map_or_else(|| raw_text.to_owned(), |s| s.into_owned());
                let _ = Reflect::set(&message, &JsValue::from_str("decode_error"), &JsValue::from_str(&decode_error));
                let _ = Reflect::set(&message, &JsValue::from_str("raw_payload"), &JsValue::from_str(&raw_payload));
            }
        }
    }
    Ok(batch)
}

/// Unwraps a legacy `{ row: {...} }` payload: when `payload` is an object whose `row` is an
/// object (not an array, not null) returns that inner object; returns anything else as it is.
/// Same rule as the core's `unwrap_legacy_row`, done with reflection so the value keeps its
/// identity (no copy).
#[wasm_bindgen(js_name = "unwrapLegacyRow", unchecked_return_type = "unknown")]
pub fn unwrap_legacy_row_js(#[wasm_bindgen(unchecked_param_type = "unknown")] payload: JsValue) -> JsValue {
    if is_plain_object(&payload) {
        let row = get(&payload, "row");
        if is_plain_object(&row) {
            return row;
        }
    }
    payload
}
