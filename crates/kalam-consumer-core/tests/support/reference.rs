//! The serde shapes the consume decoder used before the scanner replaced them (for size): the
//! reference the scanner is held against (`tests/scan.rs`, `tests/utf8.rs`).

use serde::Deserialize;
use serde_json::value::RawValue;

/// A consume response as `#[derive(Deserialize)]` read it.
#[derive(Deserialize)]
pub struct RefResponse<'a> {
    #[serde(borrow, default)]
    pub messages: Option<Vec<RefMessage<'a>>>,
    #[serde(default)]
    pub next_offset: Option<u64>,
    #[serde(default)]
    pub has_more: Option<bool>,
}

/// One message, every string field kept raw.
#[derive(Deserialize)]
pub struct RefMessage<'a> {
    #[serde(borrow, default, alias = "topic")]
    pub topic_id: Option<&'a RawValue>,
    #[serde(default)]
    pub partition_id: Option<u32>,
    #[serde(default)]
    pub offset: Option<u64>,
    #[serde(borrow, default, alias = "value")]
    pub payload: Option<&'a RawValue>,
    #[serde(borrow, default, alias = "message_id")]
    pub key: Option<&'a RawValue>,
    #[serde(default, alias = "ts")]
    pub timestamp_ms: Option<u64>,
    #[serde(borrow, default, alias = "username")]
    pub user: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub op: Option<&'a RawValue>,
}
