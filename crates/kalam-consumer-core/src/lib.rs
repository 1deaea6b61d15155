//! Sans-I/O core of the KalamDB topic consumer.
//!
//! Everything here is a pure function or a state machine fed events: the crate performs no
//! I/O, reads no clock and draws no random numbers of its own. Callers (the wasm crate, tests)
//! supply response bodies, HTTP statuses and a random number in `[0, 1)` and get decisions
//! back. Wire facts referenced as "§n" come from `docs/PROTOCOL.md`.
//!
//! The consume path, in the order a response goes through it:
//!
//! * [`scan`]: the JSON scanner every response body is read with;
//! * [`response`]: the consume response envelope (fields, aliases, shape errors);
//! * [`payload`]: base64 payloads decoded into a reused buffer;
//! * [`columns`]: the decoded batch as flat columns, what the wasm crate hands to JS.
//!
//! And beside it:
//!
//! * [`ack`]: the ack response;
//! * [`envelope`]: the three error envelopes (§1.1, §1.7/§2.5, §3.8) and plain text;
//! * [`classify`]: failure classification (auth-retryable, transient, permanent);
//! * [`codes`]: the error codes the package raises itself;
//! * [`start`]: start-position normalisation (§7.2);
//! * [`retry`]: per-message retries and connection backoff;
//! * [`write`]: JSON text output without fmt.
//!
//! Module dependencies point one way: `write` ← `scan` ← `response`/`payload`/`envelope`/`ack`
//! ← `columns`; `classify` ← `codes`/`retry`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod ack;
pub mod classify;
pub mod codes;
pub mod columns;
pub mod envelope;
pub mod payload;
pub mod response;
pub mod retry;
pub mod scan;
pub mod start;
pub mod write;

pub use ack::{decode_ack_response, AckResponse};
pub use classify::{classify_failure, FailureKind};
pub use codes::{Code, RUNTIME_CODES};
pub use columns::{decode_consume_columns, Columns, RequestContext};
pub use envelope::{parse_error_body, ErrorEnvelope};
pub use payload::PayloadError;
pub use response::DecodeError;
pub use retry::{
    ConnectionBackoff, ConnectionRetryPolicy, MessageRetry, PolicyInput, PolicyProblem,
    RetryDecision, RetryPolicy,
};
pub use start::{normalize_start, StartError, StartInput, WireStart};
pub use write::{write_json_str, write_u64};
