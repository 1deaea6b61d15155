//! A decoded batch as typed Rust (the schema of the objects JS receives), for tests that read
//! fields rather than JSON.

use kalam_consumer_core::{DecodeError, RequestContext};
use serde::Deserialize;
use serde_json::Value;

/// One message of a decoded batch.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WireMessage {
    pub topic: String,
    pub group_id: String,
    pub partition_id: u32,
    pub offset: u64,
    pub key: Option<String>,
    pub timestamp_ms: u64,
    #[serde(default)]
    pub user: Option<String>,
    pub op: String,
    /// `Some(Value::Null)` for a JSON `null` payload; `None` when absent.
    #[serde(default, deserialize_with = "present")]
    pub payload: Option<Value>,
    #[serde(default)]
    pub decode_error: Option<String>,
    #[serde(default)]
    pub raw_payload: Option<String>,
}

/// A present field is `Some`, even when it is `null`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// A decoded batch.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ConsumeBatch {
    pub messages: Vec<WireMessage>,
    pub next_offset: u64,
    pub has_more: bool,
}

impl ConsumeBatch {
    /// Decodes through the shipped path ([`super::assemble::decode`]).
    pub fn decode(body: &str, request: &RequestContext<'_>) -> Result<Self, DecodeError> {
        let value = super::assemble::decode(body, request)?;
        Ok(serde_json::from_value(value).expect("the assembled batch has the batch schema"))
    }
}
