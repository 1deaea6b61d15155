//! `MessageRetry`.

use kalam_consumer_core::{MessageRetry as CoreMessageRetry, RetryPolicy};
use wasm_bindgen::prelude::*;

use crate::interop::{decision_to_js, read_policy};

/// Attempts of one message's handler. Starts at attempt 1; after a failure `onFailure` says
/// whether to retry (and after how long) or give up; giving up is final. The policy is
/// normalised, never rejected (attempts >= 1, backoffs >= 0, max >= initial, multiplier >= 1,
/// jitter clamped to [0, 1]; NaN/absent fields take the defaults 3, 300, 5000, 2, 0).
/// Call `free()` when done; a finalizer frees it otherwise.
///
/// @example
/// ```ts
/// const retry = new MessageRetry({ maxAttempts: 3 });
/// retry.onFailure(true, Math.random()); // { action: 'retry', delayMs: 300, attempt: 2 }
/// ```
#[wasm_bindgen(js_name = "MessageRetry")]
pub struct MessageRetry(CoreMessageRetry);

#[wasm_bindgen(js_class = "MessageRetry")]
impl MessageRetry {
    /// Creates the state for one message; throws `INVALID_OPTION` if `policy` has
    /// non-numeric fields.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "RetryPolicy")] policy: JsValue,
    ) -> Result<MessageRetry, JsValue> {
        let input = read_policy(&policy, "retry policy")?;
        Ok(MessageRetry(CoreMessageRetry::new(RetryPolicy::normalize(
            &input,
        ))))
    }

    /// The current attempt number (1-based).
    #[wasm_bindgen(getter, js_name = "attempt")]
    pub fn attempt(&self) -> u32 {
        self.0.attempt()
    }

    /// The current attempt failed. `retryable`: the caller's `shouldRetry` verdict; `random`:
    /// a number in [0, 1) for the jitter (e.g. `Math.random()`).
    #[wasm_bindgen(js_name = "onFailure", unchecked_return_type = "RetryDecision")]
    pub fn on_failure(&mut self, retryable: bool, random: f64) -> Result<JsValue, JsValue> {
        Ok(decision_to_js(self.0.on_failure(retryable, random)))
    }
}
