//! `decodeConsumeResponse` and `unwrapLegacyRow`.

use js_sys::{Array, Reflect};
use kalam_consumer_core::{decode_consume_columns, DecodeError, RequestContext};
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
#[wasm_bindgen(
    js_name = "decodeConsumeResponse",
    unchecked_return_type = "ConsumeBatch"
)]
pub fn decode_consume_response_js(
    body: &js_sys::JsString,
    #[wasm_bindgen(unchecked_param_type = "DecodeRequest")] request: JsValue,
) -> Result<JsValue, JsValue> {
    let request = DecodeRequest::from_js(&request)?;
    let body = crate::interop::utf8_of(body);
    let context = RequestContext {
        topic_id: &request.topic_id,
        group_id: &request.group_id,
        partition_id: request.partition_id,
    };
    batch_to_js(&body, &context)
        .map_err(|e| ConsumerError::local(Code::InvalidResponse, e.to_string()).into())
}

#[wasm_bindgen(module = "/js/assemble.js")]
extern "C" {
    /// Builds the batch object from the columns (see that file for why this loop is JS).
    #[wasm_bindgen(js_name = "assembleBatch")]
    fn assemble_batch(
        fields: &[f64],
        payloads: &[u8],
        text: &str,
        ends: &[u32],
        next_offset: f64,
        has_more: bool,
        ascii: bool,
        failures: &Array,
    ) -> JsValue;
}

/// The consume hot path, shared with `KalamConsumerClient.consume`: Rust scans the envelope
/// and decodes every payload's base64 into [`kalam_consumer_core::Columns`]; `js/assemble.js`
/// builds the objects, parsing each payload with `JSON.parse`. A payload that turns out not to
/// be JSON gets its `raw_payload` here, from the body (rare path, so reflection is fine).
/// `Err` is a body that is not a consume response. `body` is bytes, never checked whole to be
/// UTF-8: the decoder checks the strings it reads (`DecodeError::NotUtf8`).
pub(crate) fn batch_to_js(
    body: &[u8],
    context: &RequestContext<'_>,
) -> Result<JsValue, DecodeError> {
    let columns = decode_consume_columns(body, context)?;
    let failures = Array::new();
    let batch = assemble_batch(
        &columns.fields,
        &columns.payloads,
        &columns.strings.text,
        &columns.strings.ends,
        columns.next_offset as f64,
        columns.has_more,
        // Lets the JS side decode the whole batch's payload text at once (see assemble.js).
        columns.payloads.is_ascii(),
        &failures,
    );
    if failures.length() > 0 {
        let messages: Array = get(&batch, "messages").unchecked_into();
        let raw_payload_key = JsValue::from_str("raw_payload");
        for index in failures.iter() {
            let index = index.as_f64().unwrap_or(0.0) as usize;
            if let Some(raw) = columns.raw_payload(body, index) {
                let _ = Reflect::set(
                    &messages.get(index as u32),
                    &raw_payload_key,
                    &JsValue::from_str(&raw),
                );
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
pub fn unwrap_legacy_row_js(
    #[wasm_bindgen(unchecked_param_type = "unknown")] payload: JsValue,
) -> JsValue {
    if is_plain_object(&payload) {
        let row = get(&payload, "row");
        if is_plain_object(&row) {
            return row;
        }
    }
    payload
}
