//! Sans-I/O core of the KalamDB topic consumer.
//!
//! Everything here is a pure function or a state machine fed events: the crate performs no
//! I/O, reads no clock and draws no random numbers of its own. Callers (the wasm crate, tests)
//! supply response bodies, HTTP statuses and a random number in `[0, 1)` and get decisions
//! back. Wire facts referenced as "§n" come from `docs/PROTOCOL.md`.
//!
//! * [`decode`]: consume/ack response decoding (base64 payloads to JSON text, one batch text).
//! * [`columns`]: the same decoding into flat columns, the wasm crate's hot path.
//! * [`legacy`]: the legacy `{ "row": {...} }` payload envelope.
//! * [`change`]: a decoded message normalised into the change handed to workers.
//! * [`start`]: start-position normalisation (§7.2).
//! * [`classify`]: failure classification (auth-retryable, transient, permanent).
//! * [`envelope`]: the three error envelopes (§1.1, §1.7/§2.5, §3.8) and plain text.
//! * [`retry`]: per-message retries and connection backoff.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod change;
pub mod classify;
pub mod columns;
pub mod decode;
pub mod envelope;
pub mod legacy;
pub mod retry;
pub mod scan;
pub mod start;

pub use change::{normalize_change, Change, ChangeError, TopicOp};
pub use classify::{classify_failure, FailureKind};
pub use columns::{decode_consume_columns, Columns};
pub use decode::{
    decode_ack_response, decode_consume_response, decode_consume_response_into, write_json_str,
    write_u64, AckResponse, ConsumeBatch, DecodeError, PayloadError, RequestContext, WireMessage,
};
pub use envelope::{parse_error_body, ErrorEnvelope};
pub use legacy::{legacy_row, unwrap_legacy_row};
pub use retry::{
    ConnectionBackoff, ConnectionRetryPolicy, MessageRetry, PolicyInput, RetryDecision, RetryPolicy,
};
pub use start::{normalize_start, StartError, StartInput, WireStart};
