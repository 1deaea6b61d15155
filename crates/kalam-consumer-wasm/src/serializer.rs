//! The one serde-wasm-bindgen configuration used for every value that crosses the boundary
//! (STYLE.md §5): maps become plain objects, `None` fields are skipped by the DTOs (so they
//! are absent, not `null`), and 64-bit integers become numbers (all our integers are offsets,
//! timestamps and counters well below 2^53).
//!
//! The consume hot path does not go through here: it builds one JSON text and calls
//! `JSON.parse` once (see `decode.rs`).

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_wasm_bindgen::Serializer;
use wasm_bindgen::JsValue;

use crate::error::{Code, ConsumerError};

const SERIALIZER: Serializer = Serializer::new()
    .serialize_maps_as_objects(true)
    .serialize_missing_as_null(false)
    .serialize_large_number_types_as_bigints(false);

/// Serialises a DTO into a JS value.
pub fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&SERIALIZER)
        .map_err(|e| ConsumerError::local(Code::InvalidResponse, format!("cannot convert a result: {e}")).into())
}

/// Deserialises an option object; a mismatch is an `INVALID_OPTION` error naming `what`.
pub fn from_js<T: DeserializeOwned>(value: JsValue, what: &str) -> Result<T, JsValue> {
    serde_wasm_bindgen::from_value(value)
        .map_err(|e| ConsumerError::local(Code::InvalidOption, format!("invalid {what}: {e}")).into())
}
