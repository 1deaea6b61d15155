//! `parseErrorBody`.

use kalam_consumer_core::parse_error_body;
use wasm_bindgen::prelude::*;

use crate::interop::object_of;

/// Reads the code and message of an error response body, by the rules the transport's own
/// errors use: one of the server's three envelopes (docs/PROTOCOL.md §1.1, §1.7/§2.5, §3.8),
/// else the trimmed text is the message. Blank values are absent; an empty body gives `{}`.
/// The TS layer's SQL and auth errors must agree with it (`tests/unit/error-envelope.test.mjs`).
///
/// @example
/// ```ts
/// parseErrorBody('{"error":"Topic \'t\' does not exist","code":"NOT_FOUND"}');
/// // { code: 'NOT_FOUND', message: "Topic 't' does not exist" }
/// ```
#[wasm_bindgen(js_name = "parseErrorBody", unchecked_return_type = "ErrorEnvelope")]
pub fn parse_error_body_js(body: &str) -> JsValue {
    let envelope = parse_error_body(body);
    let mut fields = Vec::with_capacity(2);
    if let Some(code) = &envelope.code {
        fields.push(("code", JsValue::from_str(code)));
    }
    if let Some(message) = &envelope.message {
        fields.push(("message", JsValue::from_str(message)));
    }
    object_of(&fields)
}
