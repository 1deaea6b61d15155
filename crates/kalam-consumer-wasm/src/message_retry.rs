//! `MessageRetry`.

use kalam_consumer_core::{MessageRetry as CoreMessageRetry, RetryPolicy};
use wasm_bindgen::prelude::*;

use crate::interop::{decision_to_js, read_policy};

/// Attempts of one message's handler. Starts at attempt 1; after a failure `onFailure` says
/// whether to retry (and after how long) or give up; `nextRound` starts over after a pause.
/// Absent fields take the defaults 3, 300, 5000, 2, 0; a value no caller can have meant
/// (attempts not a whole number >= 1 or Infinity, a negative or NaN backoff, max below
/// initial, multiplier < 1, jitter outside [0, 1]) throws `INVALID_OPTION`, with the same
/// rules and words as `ConnectionBackoff`.
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
    /// Creates the state for one message; throws `INVALID_OPTION` for a bad policy.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "RetryPolicy")] policy: JsValue,
    ) -> Result<MessageRetry, JsValue> {
        let defaults = RetryPolicy::default();
        let input = read_policy(&policy, "retry option", defaults.initial_backoff_ms, true)?;
        Ok(MessageRetry(CoreMessageRetry::new(RetryPolicy::normalize(
            &input,
        ))))
    }

    /// The current attempt number (1-based).
    #[wasm_bindgen(getter, js_name = "attempt")]
    pub fn attempt(&self) -> u32 {
        self.0.attempt()
    }

    /// Attempts per round the policy allows (`Infinity` when unlimited).
    #[wasm_bindgen(getter, js_name = "maxAttempts")]
    pub fn max_attempts(&self) -> f64 {
        match self.0.policy().max_attempts {
            u32::MAX => f64::INFINITY,
            n => f64::from(n),
        }
    }

    /// After giving up, when the message may be neither skipped nor dead-lettered: starts
    /// round `round` (the first round is 1) at attempt 1 and returns the pause in ms to wait
    /// first (capped exponential, at least 1 ms).
    #[wasm_bindgen(js_name = "nextRound")]
    pub fn next_round(&mut self, round: u32) -> f64 {
        self.0.next_round(round)
    }

    /// The current attempt failed. `retryable`: the caller's `shouldRetry` verdict; `random`:
    /// a number in [0, 1) for the jitter (e.g. `Math.random()`).
    #[wasm_bindgen(js_name = "onFailure", unchecked_return_type = "RetryDecision")]
    pub fn on_failure(&mut self, retryable: bool, random: f64) -> Result<JsValue, JsValue> {
        Ok(decision_to_js(self.0.on_failure(retryable, random)))
    }
}
