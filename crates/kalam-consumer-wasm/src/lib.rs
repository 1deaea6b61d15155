//! WebAssembly bindings of the KalamDB topic consumer (`@kalamdb/consumer/wasm`).
//!
//! The only crate that knows about JavaScript. One file per exported type or function group:
//!
//! * [`client`] holds `KalamConsumerClient` (consume and ack through `fetch`);
//! * [`decode`] holds `decodeConsumeResponse`, `unwrapLegacyRow`;
//! * [`start`] holds `normalizeStart`;
//! * [`classify`] holds `classifyFailure`;
//! * [`message_retry`] holds `MessageRetry`; [`connection_backoff`]: `ConnectionBackoff`;
//! * [`types`] holds boundary DTOs and the TypeScript declarations they correspond to;
//! * [`error`] holds the `KalamConsumerError` objects every export throws;
//! * [`interop`] holds hand-written `js_sys` glue (global `fetch`, option readers and result
//!   writers in place of serde-wasm-bindgen, for size).
//!
//! The contract these exports implement is the "wasm ⇄ TypeScript contract" of `HACKING.md`;
//! wire facts cited as "§n" are sections of `docs/PROTOCOL.md`.

#![warn(missing_docs)]

pub mod classify;
pub mod client;
pub mod connection_backoff;
pub mod decode;
pub mod error;
pub mod interop;
pub mod message_retry;
pub mod start;
pub mod types;

use wasm_bindgen::prelude::*;

/// The version of this wasm module, for the TS layer to compare with its own at init.
///
/// @example
/// ```ts
/// if (wasmReleaseInfo().version !== PACKAGE_VERSION) throw new Error('wasm/js mismatch');
/// ```
#[wasm_bindgen(js_name = "wasmReleaseInfo", unchecked_return_type = "ReleaseInfo")]
pub fn wasm_release_info() -> Result<JsValue, JsValue> {
    Ok(interop::object_of(&[(
        "version",
        JsValue::from_str(env!("CARGO_PKG_VERSION")),
    )]))
}
