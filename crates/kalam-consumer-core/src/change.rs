//! A decoded message normalised into the change a worker handles (`onChange(ctx, change)`).
//!
//! `data` is the payload with a legacy `{ row }` envelope unwrapped; `user` is required (a
//! message without one is reported as invalid metadata, never passed on as missing); `op` must
//! be one of the three operations; a message whose payload could not be decoded is an error
//! carrying the reason, never an empty row.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use crate::decode::WireMessage;
use crate::legacy::unwrap_legacy_row;

/// The operation that produced a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TopicOp {
    /// A row was inserted.
    Insert,
    /// A row was updated (the message holds the new row).
    Update,
    /// A row was deleted (the message holds the old row, `_deleted: true`).
    Delete,
}

impl TopicOp {
    /// Parses `Insert`/`Update`/`Delete`, case-insensitively.
    pub fn parse(text: &str) -> Option<Self> {
        [TopicOp::Insert, TopicOp::Update, TopicOp::Delete]
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(text))
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TopicOp::Insert => "Insert",
            TopicOp::Update => "Update",
            TopicOp::Delete => "Delete",
        }
    }
}

/// What a worker receives for one message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The row (legacy envelope unwrapped).
    pub data: Value,
    /// The producing user.
    pub user: String,
    /// The operation.
    pub op: TopicOp,
    /// The message key.
    pub key: Option<String>,
    /// Publish time, ms since the epoch.
    pub timestamp_ms: u64,
    /// Partition.
    pub partition_id: u32,
    /// Offset.
    pub offset: u64,
    /// Topic id.
    pub topic: String,
    /// Consumer group.
    pub group_id: String,
}

/// Why a message cannot become a change.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChangeError {
    /// The payload could not be decoded.
    #[error("message at offset {offset} has an undecodable payload: {reason}")]
    Undecodable {
        /// The message offset.
        offset: u64,
        /// The decode error.
        reason: String,
    },
    /// The message has no `user`.
    #[error("message at offset {offset} has no user (invalid metadata)")]
    MissingUser {
        /// The message offset.
        offset: u64,
    },
    /// The `op` is not Insert, Update or Delete.
    #[error("message at offset {offset} has an unknown op '{op}'")]
    UnknownOp {
        /// The message offset.
        offset: u64,
        /// The op as received.
        op: String,
    },
}

/// Normalises a decoded message into a [`Change`].
pub fn normalize_change(message: WireMessage) -> Result<Change, ChangeError> {
    let offset = message.offset;
    let payload = match (message.payload, message.decode_error) {
        (Some(payload), None) => payload,
        (_, Some(reason)) => return Err(ChangeError::Undecodable { offset, reason }),
        (None, None) => {
            return Err(ChangeError::Undecodable {
                offset,
                reason: "payload is missing".into(),
            })
        }
    };
    let op = TopicOp::parse(&message.op).ok_or_else(|| ChangeError::UnknownOp {
        offset,
        op: message.op.clone(),
    })?;
    let user = message.user.ok_or(ChangeError::MissingUser { offset })?;
    Ok(Change {
        data: unwrap_legacy_row(payload),
        user,
        op,
        key: message.key,
        timestamp_ms: message.timestamp_ms,
        partition_id: message.partition_id,
        offset,
        topic: message.topic,
        group_id: message.group_id,
    })
}
