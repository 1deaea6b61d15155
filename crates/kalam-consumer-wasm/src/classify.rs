//! `classifyFailure`.

use kalam_consumer_core::classify_failure;
use wasm_bindgen::prelude::*;

/// Classifies a failure from its HTTP `status` (0 when there was no response) and the
/// server's error `code`: `'auth'` (401, `TOKEN_EXPIRED`, `INVALID_CREDENTIALS`,
/// `MISSING_AUTHORIZATION`, `unauthorized`, `UNAUTHENTICATED`: log in again, then retry),
/// `'transient'` (no response, 408, 425, 429, 5xx, a 2xx with a bad body: back off and retry)
/// or `'permanent'` (other 4xx: give up). A status outside 0..=999 counts as 0.
#[wasm_bindgen(js_name = "classifyFailure", unchecked_return_type = "FailureKind")]
pub fn classify_failure_js(status: f64, code: Option<String>) -> String {
    let status = if status.is_finite() && (0.0..=999.0).contains(&status) {
        status as u16
    } else {
        0
    };
    classify_failure(status, code.as_deref())
        .as_str()
        .to_owned()
}
