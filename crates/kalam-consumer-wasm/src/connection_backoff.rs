//! `ConnectionBackoff`.

use kalam_consumer_core::{ConnectionBackoff as CoreBackoff, ConnectionRetryPolicy, FailureKind};
use wasm_bindgen::prelude::*;

use crate::error::{Code, ConsumerError};
use crate::interop::{decision_to_js, read_policy};

/// Consecutive failures of the poll loop. `onFailure` returns a full-jitter delay
/// (`random * min(max, initial * multiplier^(failures-1))`) or gives up: at once for a
/// `'permanent'` failure, or when `maxAttempts` (default `Infinity`) is reached. `onSuccess`
/// resets. Defaults: 250 ms initial, 30000 ms max, multiplier 2; bad values throw
/// `INVALID_OPTION` by the same rules as `MessageRetry`'s (`jitterRatio` is not accepted:
/// the delay is always full jitter). Call `free()` when done; a finalizer frees it otherwise.
#[wasm_bindgen(js_name = "ConnectionBackoff")]
pub struct ConnectionBackoff(CoreBackoff);

#[wasm_bindgen(js_class = "ConnectionBackoff")]
impl ConnectionBackoff {
    /// Creates the state; throws `INVALID_OPTION` for a bad policy.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "ConnectionRetryPolicy")] policy: JsValue,
    ) -> Result<ConnectionBackoff, JsValue> {
        let defaults = ConnectionRetryPolicy::default();
        let input = read_policy(
            &policy,
            "connectionRetry",
            defaults.initial_backoff_ms,
            false,
        )?;
        Ok(ConnectionBackoff(CoreBackoff::new(
            ConnectionRetryPolicy::normalize(&input),
        )))
    }

    /// Consecutive failures so far.
    #[wasm_bindgen(getter, js_name = "failures")]
    pub fn failures(&self) -> u32 {
        self.0.failures()
    }

    /// A request failed with `kind` (from `classifyFailure` or an error's `kind`); `random`
    /// in [0, 1). Throws `INVALID_OPTION` for an unknown kind.
    #[wasm_bindgen(js_name = "onFailure", unchecked_return_type = "RetryDecision")]
    pub fn on_failure(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "FailureKind")] kind: &str,
        random: f64,
    ) -> Result<JsValue, JsValue> {
        let kind = FailureKind::parse(kind).ok_or_else(|| {
            ConsumerError::local(
                Code::InvalidOption,
                format!("kind must be 'auth', 'transient' or 'permanent', got '{kind}'"),
            )
        })?;
        Ok(decision_to_js(self.0.on_failure(kind, random)))
    }

    /// A request succeeded: the failure count resets.
    #[wasm_bindgen(js_name = "onSuccess")]
    pub fn on_success(&mut self) {
        self.0.on_success();
    }
}
