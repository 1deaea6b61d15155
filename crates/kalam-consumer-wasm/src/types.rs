//! Boundary DTOs and their TypeScript declarations.
//!
//! Request objects use the wire's snake_case names (they are sent verbatim); the retry types
//! use camelCase like the TS options they come from. The declarations below are the d.ts side
//! of the same shapes: keep both in step (they are the contract in `HACKING.md`). The structs
//! are read with the hand-written readers of `interop.rs` (see there for why not serde).

use kalam_consumer_core::WireStart;
use wasm_bindgen::prelude::*;

use crate::error::ConsumerError;
use crate::interop::{write_str_field, write_u64_field, Fields, MAX_SAFE, MAX_U32};

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** The wire start position (§3.1). */
export type WireStart = 'Latest' | 'Earliest' | { Offset: number };
/** Body of `POST /v1/api/topics/consume`; `topic_id` and `group_id` must be non-empty. */
export interface ConsumeRequest { topic_id: string; group_id: string; start: WireStart; limit: number; partition_id: number; timeout_seconds?: number }
/** The request fields `decodeConsumeResponse` falls back to. */
export interface DecodeRequest { topic_id: string; group_id: string; partition_id: number }
/** One decoded message. */
export interface WireMessage {
  topic: string; group_id: string; partition_id: number; offset: number;
  key: string | null; timestamp_ms: number; user?: string; op: 'Insert' | 'Update' | 'Delete';
  /** Decoded JSON; absent when `decode_error` is set. */
  payload?: unknown;
  /** Why the payload could not be decoded (bad base64, not UTF-8, not JSON, missing). */
  decode_error?: string;
  /** The payload as received (invalid UTF-8 as U+FFFD), only when `decode_error` is set. */
  raw_payload?: string;
}
/** A decoded consume response. */
export interface ConsumeBatch { messages: WireMessage[]; next_offset: number; has_more: boolean }
/** Body of `POST /v1/api/topics/ack`. */
export interface AckRequest { topic_id: string; group_id: string; partition_id: number; upto_offset: number }
/** Ack response; `success` defaults to true, `acknowledged_offset` to the request's. */
export interface AckResponse { success: boolean; acknowledged_offset: number }
/** Options of `new KalamConsumerClient`. */
export interface KalamConsumerClientOptions { fetch?: typeof fetch }
/** Per-request options. */
export interface RequestOptions { signal?: AbortSignal }
/** How a failure should be handled. */
export type FailureKind = 'auth' | 'transient' | 'permanent';
/** Per-message retry policy; absent fields take the defaults (3, 300, 5000, 2, 0). Extra keys are ignored. */
export interface RetryPolicy { maxAttempts?: number; initialBackoffMs?: number; maxBackoffMs?: number; multiplier?: number; jitterRatio?: number }
/** Connection retry policy; defaults: maxAttempts Infinity, 250, 30000, 2. Extra keys are ignored. */
export interface ConnectionRetryPolicy { maxAttempts?: number; initialBackoffMs?: number; maxBackoffMs?: number; multiplier?: number }
/** A retry state machine's decision. */
export type RetryDecision = { action: 'retry'; delayMs: number; attempt: number } | { action: 'give_up'; attempt: number };
/** Version of the wasm module. */
export interface ReleaseInfo { version: string }
/** Codes this module produces itself; server envelope codes pass through as they are. */
export type KalamConsumerErrorCode = 'INVALID_URL' | 'INVALID_OPTION' | 'NETWORK_ERROR' | 'ABORTED' | 'TIMEOUT' | 'HTTP_ERROR' | 'INVALID_RESPONSE';
/** The shape of every error thrown by this module. */
export interface KalamConsumerWasmError extends Error {
  name: 'KalamConsumerError'; code: KalamConsumerErrorCode | (string & {}); status: number; kind: FailureKind; body?: string;
}
"#;

/// `ConsumeRequest`, sent verbatim as the consume body.
#[derive(Debug, Clone)]
pub struct ConsumeRequest {
    /// Topic id (non-empty).
    pub topic_id: String,
    /// Group id (non-empty).
    pub group_id: String,
    /// Start position.
    pub start: WireStart,
    /// Max messages.
    pub limit: u64,
    /// Partition.
    pub partition_id: u32,
    /// Sent when present (the server ignores it, §3.6).
    pub timeout_seconds: Option<u64>,
}

impl ConsumeRequest {
    /// Reads the caller's object; unknown keys are refused (the body is sent verbatim).
    pub fn from_js(value: &JsValue) -> Result<Self, ConsumerError> {
        let f = Fields::of(value, "consume request")?;
        f.only(&[
            "topic_id",
            "group_id",
            "start",
            "limit",
            "partition_id",
            "timeout_seconds",
        ])?;
        Ok(ConsumeRequest {
            topic_id: f.string("topic_id")?,
            group_id: f.string("group_id")?,
            start: f.wire_start("start")?,
            limit: f.required_uint("limit", MAX_SAFE)?,
            partition_id: f.required_uint("partition_id", MAX_U32)? as u32,
            timeout_seconds: f.uint("timeout_seconds", MAX_SAFE)?,
        })
    }

    /// The JSON body.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(128 + self.topic_id.len() + self.group_id.len());
        write_str_field(&mut out, "topic_id", &self.topic_id, true);
        write_str_field(&mut out, "group_id", &self.group_id, false);
        out.push_str(",\"start\":");
        self.start.write_json(&mut out);
        write_u64_field(&mut out, "limit", self.limit);
        write_u64_field(&mut out, "partition_id", u64::from(self.partition_id));
        if let Some(timeout) = self.timeout_seconds {
            write_u64_field(&mut out, "timeout_seconds", timeout);
        }
        out.push('}');
        out
    }
}

/// `AckRequest`, sent verbatim as the ack body.
#[derive(Debug, Clone)]
pub struct AckRequest {
    /// Topic id (non-empty).
    pub topic_id: String,
    /// Group id (non-empty).
    pub group_id: String,
    /// Partition.
    pub partition_id: u32,
    /// Inclusive offset.
    pub upto_offset: u64,
}

impl AckRequest {
    /// Reads the caller's object; unknown keys are refused (the body is sent verbatim).
    pub fn from_js(value: &JsValue) -> Result<Self, ConsumerError> {
        let f = Fields::of(value, "ack request")?;
        f.only(&["topic_id", "group_id", "partition_id", "upto_offset"])?;
        Ok(AckRequest {
            topic_id: f.string("topic_id")?,
            group_id: f.string("group_id")?,
            partition_id: f.required_uint("partition_id", MAX_U32)? as u32,
            upto_offset: f.required_uint("upto_offset", MAX_SAFE)?,
        })
    }

    /// The JSON body.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(96 + self.topic_id.len() + self.group_id.len());
        write_str_field(&mut out, "topic_id", &self.topic_id, true);
        write_str_field(&mut out, "group_id", &self.group_id, false);
        write_u64_field(&mut out, "partition_id", u64::from(self.partition_id));
        write_u64_field(&mut out, "upto_offset", self.upto_offset);
        out.push('}');
        out
    }
}

/// `DecodeRequest` of `decodeConsumeResponse` (extra keys allowed: a whole `ConsumeRequest`
/// may be passed).
#[derive(Debug, Clone)]
pub struct DecodeRequest {
    /// Topic fallback.
    pub topic_id: String,
    /// Group id of every message.
    pub group_id: String,
    /// Partition fallback.
    pub partition_id: u32,
}

impl DecodeRequest {
    /// Reads the caller's object.
    pub fn from_js(value: &JsValue) -> Result<Self, ConsumerError> {
        let f = Fields::of(value, "decode request")?;
        Ok(DecodeRequest {
            topic_id: f.string("topic_id")?,
            group_id: f.string("group_id")?,
            partition_id: f.required_uint("partition_id", MAX_U32)? as u32,
        })
    }
}
