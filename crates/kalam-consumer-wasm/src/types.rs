//! Boundary DTOs and their TypeScript declarations.
//!
//! Request objects use the wire's snake_case names (they are sent verbatim); the retry types
//! use camelCase like the TS options they come from. The declarations below are the d.ts side
//! of the same shapes: keep both in step (they are the contract in `HACKING.md`).

use kalam_consumer_core::{PolicyInput, RetryDecision, WireStart};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

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
  /** The payload exactly as received, only when `decode_error` is set. */
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
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
}

/// `AckRequest`, sent verbatim as the ack body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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

/// `DecodeRequest` of `decodeConsumeResponse`.
#[derive(Debug, Clone, Deserialize)]
pub struct DecodeRequest {
    /// Topic fallback.
    pub topic_id: String,
    /// Group id of every message.
    pub group_id: String,
    /// Partition fallback.
    pub partition_id: u32,
}

/// `RetryPolicy` / `ConnectionRetryPolicy` as written by the caller.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyDto {
    /// Attempts (`Infinity` allowed).
    #[serde(default)]
    pub max_attempts: Option<f64>,
    /// First backoff.
    #[serde(default)]
    pub initial_backoff_ms: Option<f64>,
    /// Backoff cap.
    #[serde(default)]
    pub max_backoff_ms: Option<f64>,
    /// Growth factor.
    #[serde(default)]
    pub multiplier: Option<f64>,
    /// Jitter ratio (message retries).
    #[serde(default)]
    pub jitter_ratio: Option<f64>,
}

impl From<PolicyDto> for PolicyInput {
    fn from(p: PolicyDto) -> Self {
        PolicyInput {
            max_attempts: p.max_attempts,
            initial_backoff_ms: p.initial_backoff_ms,
            max_backoff_ms: p.max_backoff_ms,
            multiplier: p.multiplier,
            jitter_ratio: p.jitter_ratio,
        }
    }
}

/// `RetryDecision`.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum RetryDecisionDto {
    /// `{ action: 'retry', delayMs, attempt }`.
    Retry {
        /// Milliseconds to wait.
        #[serde(rename = "delayMs")]
        delay_ms: f64,
        /// Next attempt number.
        attempt: u32,
    },
    /// `{ action: 'give_up', attempt }`.
    GiveUp {
        /// Attempts made.
        attempt: u32,
    },
}

impl From<RetryDecision> for RetryDecisionDto {
    fn from(d: RetryDecision) -> Self {
        match d {
            RetryDecision::Retry { delay_ms, attempt } => RetryDecisionDto::Retry { delay_ms, attempt },
            RetryDecision::GiveUp { attempt } => RetryDecisionDto::GiveUp { attempt },
        }
    }
}

/// `ReleaseInfo`.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseInfo {
    /// Crate version.
    pub version: &'static str,
}
