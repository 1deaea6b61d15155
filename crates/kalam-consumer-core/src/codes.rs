//! Error codes the package raises itself: the one list. Server envelope codes (`TOKEN_EXPIRED`,
//! `NOT_FOUND`, ...) pass through as they arrive and are not listed.
//!
//! Two sections: [`Code`], what the wasm module throws (`crates/kalam-consumer-wasm/src/error.rs`
//! builds the errors, and its `.d.ts` union in `types.rs` lists the same strings), and
//! [`RUNTIME_CODES`], what only the TypeScript layer raises. `js/src/errors.ts`'s
//! `KalamConsumerErrorCode` union is exactly both sections; `tests/unit/error-codes.test.mjs`
//! fails when any of the three files disagrees, or when `js/src` raises a code not listed.
//! Codes are frozen once published: add, never rename.

use crate::classify::FailureKind;

/// Codes of errors the wasm module raises that did not come from a server envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    /// The base URL is not http(s).
    InvalidUrl,
    /// An argument or option has the wrong shape or value.
    InvalidOption,
    /// `fetch` rejected: refused, reset, DNS, TLS...
    NetworkError,
    /// The request was aborted through `options.signal`.
    Aborted,
    /// The request was aborted by a timeout signal (`AbortSignal.timeout`).
    Timeout,
    /// A non-2xx response without an envelope code.
    HttpError,
    /// A response body that cannot be decoded.
    InvalidResponse,
}

impl Code {
    /// Every code, in declaration order.
    pub const ALL: [Code; 7] = [
        Code::InvalidUrl,
        Code::InvalidOption,
        Code::NetworkError,
        Code::Aborted,
        Code::Timeout,
        Code::HttpError,
        Code::InvalidResponse,
    ];

    /// The JS-visible code.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::InvalidUrl => "INVALID_URL",
            Code::InvalidOption => "INVALID_OPTION",
            Code::NetworkError => "NETWORK_ERROR",
            Code::Aborted => "ABORTED",
            Code::Timeout => "TIMEOUT",
            Code::HttpError => "HTTP_ERROR",
            Code::InvalidResponse => "INVALID_RESPONSE",
        }
    }

    /// The kind of an error with this code raised without a response (status 0): no answer
    /// or an unreadable one is worth a retry, a bad argument is not.
    pub fn local_kind(self) -> FailureKind {
        match self {
            Code::InvalidResponse | Code::NetworkError | Code::Aborted | Code::Timeout => {
                FailureKind::Transient
            }
            Code::InvalidUrl | Code::InvalidOption | Code::HttpError => FailureKind::Permanent,
        }
    }
}

/// Codes only the TypeScript layer raises (never the wasm module), with the file that does.
pub const RUNTIME_CODES: [&str; 12] = [
    // A payload that could not be decoded reached a handler's path (messages.ts, run-agent.ts).
    "DECODE_ERROR",
    // A message without the metadata a handler needs, e.g. no `user` (run-consumer.ts).
    "INVALID_METADATA",
    // Offsets that never arrived within gapTimeoutMs were given up (engine.ts, consumer.ts).
    "OFFSET_GAP",
    // The .wasm could not be fetched or instantiated (entry.browser.ts, loader.node.ts, core.ts).
    "WASM_LOAD_FAILED",
    // The .wasm belongs to another release of the package (core.ts).
    "WASM_VERSION_MISMATCH",
    // The app's authProvider threw or returned no credentials (auth.ts).
    "AUTH_PROVIDER_ERROR",
    // The topic's partition count cannot be read by this account (worker/partitions.ts, lag.ts).
    "PARTITIONS_UNKNOWN",
    // A message failed every attempt and there is no onFailed: the worker stops (worker/handler-policy.ts).
    "RETRIES_EXHAUSTED",
    // A handler attempt passed handlerTimeoutMs (worker/handler-policy.ts).
    "HANDLER_TIMEOUT",
    // The fleet's lease table cannot be created or read by this account (fleet/).
    "LEASE_TABLE",
    // A fleet worker may have lost a partition's lease: it neither commits nor hands over (fleet/, worker/partition-loop.ts).
    "LEASE_LOST",
    // The server's own code for a missing topic, raised here with that meaning when
    // system.topics has no row for it (worker/partitions.ts, lag.ts).
    "NOT_FOUND",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Position of each variant in [`Code::ALL`]. The match is exhaustive, so a new variant
    /// does not compile until it gets a position here; the test then wants it in `ALL` there.
    fn position(code: Code) -> usize {
        match code {
            Code::InvalidUrl => 0,
            Code::InvalidOption => 1,
            Code::NetworkError => 2,
            Code::Aborted => 3,
            Code::Timeout => 4,
            Code::HttpError => 5,
            Code::InvalidResponse => 6,
        }
    }

    #[test]
    fn all_lists_every_variant_once() {
        for (index, code) in Code::ALL.into_iter().enumerate() {
            assert_eq!(position(code), index, "{code:?}");
        }
        let mut names: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        names.extend(RUNTIME_CODES);
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "a code is listed twice");
        for name in names {
            assert!(
                name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'),
                "{name} is not SCREAMING_SNAKE_CASE"
            );
        }
    }

    #[test]
    fn local_kinds() {
        assert_eq!(Code::Timeout.local_kind(), FailureKind::Transient);
        assert_eq!(Code::InvalidResponse.local_kind(), FailureKind::Transient);
        assert_eq!(Code::InvalidOption.local_kind(), FailureKind::Permanent);
        assert_eq!(Code::InvalidUrl.local_kind(), FailureKind::Permanent);
    }
}
