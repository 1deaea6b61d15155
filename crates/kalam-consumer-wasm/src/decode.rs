//! `decodeConsumeResponse` and `unwrapLegacyRow`.

use js_sys::JSON;
use kalam_consumer_core::{decode_consume_response, RequestContext};
use wasm_bindgen::prelude::*;

use crate::error::{Code, ConsumerError};
use crate::interop::{get, is_plain_object};
use crate::serializer::from_js;
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
    body: &str,
    #[wasm_bindgen(unchecked_param_type = "DecodeRequest")] request: JsValue,
) -> Result<JsValue, JsValue> {
    let request: DecodeRequest = from_js(request, "decode request")?;
    let context = RequestContext {
        topic_id: &request.topic_id,
        group_id: &request.group_id,
        partition_id: request.partition_id,
    };
    let text = decode_consume_response(body, &context)
        .map_err(|e| ConsumerError::local(Code::InvalidResponse, e.to_string()))?;
    JSON::parse(&text).map_err(|e| ConsumerError::local(Code::InvalidResponse, "decoded batch is not JSON").with_cause(e).into())
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
