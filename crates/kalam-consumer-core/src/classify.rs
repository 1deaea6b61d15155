//! Failure classification: what a caller should do after a failed request.
//!
//! * **auth**: the credentials are stale or missing. Log in again (or re-resolve the provider)
//!   and retry. 401, and the codes `TOKEN_EXPIRED`, `INVALID_CREDENTIALS`,
//!   `MISSING_AUTHORIZATION` (§1.7), the auth endpoints' `unauthorized` (§1.1) and
//!   `UNAUTHENTICATED` (a proxy's), whatever the status that carried them.
//! * **transient**: retry with backoff. No response at all (status 0: network error, reset,
//!   timeout, abort), 408, 425, 429, every 5xx, and a 2xx whose body could not be parsed
//!   (status 2xx with any code: a 2xx only reaches the classifier when its body was bad).
//! * **permanent**: retrying cannot help. Every other status, notably 400 text, 403
//!   `FORBIDDEN` / `INSUFFICIENT_PERMISSIONS`, 404 `NOT_FOUND`, 413, 428 `setup_required`.

use std::fmt;

/// How a failed request should be handled; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// Fresh credentials, then retry.
    Auth,
    /// Retry after a backoff.
    Transient,
    /// Give up.
    Permanent,
}

impl FailureKind {
    /// The lowercase name used across the JS boundary: `auth`, `transient`, `permanent`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Auth => "auth",
            FailureKind::Transient => "transient",
            FailureKind::Permanent => "permanent",
        }
    }

    /// Parses [`FailureKind::as_str`] back; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "auth" => Some(FailureKind::Auth),
            "transient" => Some(FailureKind::Transient),
            "permanent" => Some(FailureKind::Permanent),
            _ => None,
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Server codes that mean "your credentials are the problem" (§1.1, §1.7). The TS layer's
/// auth retry (`isAuthFailure` in js/src/auth.ts) goes by this list through the error's kind.
const AUTH_CODES: [&str; 5] = [
    "TOKEN_EXPIRED",
    "INVALID_CREDENTIALS",
    "MISSING_AUTHORIZATION",
    "unauthorized",
    // The old SDK retried on it; the server never sends it, but a proxy in front may.
    "UNAUTHENTICATED",
];

/// Classifies a failure from its HTTP `status` (0 when there was no response) and the
/// machine `code` of its error envelope, if any.
///
/// ```
/// use kalam_consumer_core::{classify_failure, FailureKind};
/// assert_eq!(classify_failure(401, Some("TOKEN_EXPIRED")), FailureKind::Auth);
/// assert_eq!(classify_failure(503, None), FailureKind::Transient);
/// assert_eq!(classify_failure(404, Some("NOT_FOUND")), FailureKind::Permanent);
/// ```
pub fn classify_failure(status: u16, code: Option<&str>) -> FailureKind {
    if status == 401 || code.is_some_and(|c| AUTH_CODES.contains(&c)) {
        return FailureKind::Auth;
    }
    match status {
        0 => FailureKind::Transient,
        200..=299 => FailureKind::Transient,
        408 | 425 | 429 => FailureKind::Transient,
        500..=599 => FailureKind::Transient,
        _ => FailureKind::Permanent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn auth_statuses_and_codes() {
        assert_eq!(classify_failure(401, None), FailureKind::Auth);
        assert_eq!(
            classify_failure(401, Some("TOKEN_EXPIRED")),
            FailureKind::Auth
        );
        assert_eq!(
            classify_failure(401, Some("INVALID_CREDENTIALS")),
            FailureKind::Auth
        );
        assert_eq!(
            classify_failure(401, Some("MISSING_AUTHORIZATION")),
            FailureKind::Auth
        );
        assert_eq!(
            classify_failure(401, Some("unauthorized")),
            FailureKind::Auth
        );
        assert_eq!(
            classify_failure(403, Some("UNAUTHENTICATED")),
            FailureKind::Auth
        );
        // The code wins even on an unexpected status.
        assert_eq!(
            classify_failure(403, Some("TOKEN_EXPIRED")),
            FailureKind::Auth
        );
        assert_eq!(
            classify_failure(0, Some("INVALID_CREDENTIALS")),
            FailureKind::Auth
        );
    }

    #[test]
    fn transient_statuses() {
        for status in [0u16, 200, 204, 408, 425, 429, 500, 502, 503, 504, 599] {
            assert_eq!(
                classify_failure(status, None),
                FailureKind::Transient,
                "{status}"
            );
        }
        assert_eq!(
            classify_failure(0, Some("NETWORK_ERROR")),
            FailureKind::Transient
        );
        assert_eq!(
            classify_failure(200, Some("INVALID_RESPONSE")),
            FailureKind::Transient
        );
        assert_eq!(
            classify_failure(429, Some("rate_limited")),
            FailureKind::Transient
        );
        assert_eq!(
            classify_failure(500, Some("AUTHENTICATION_ERROR")),
            FailureKind::Transient
        );
        assert_eq!(
            classify_failure(503, Some("TOO_MANY_CONNECTIONS")),
            FailureKind::Transient
        );
    }

    #[test]
    fn permanent_statuses() {
        assert_eq!(classify_failure(400, None), FailureKind::Permanent);
        assert_eq!(
            classify_failure(403, Some("FORBIDDEN")),
            FailureKind::Permanent
        );
        assert_eq!(
            classify_failure(403, Some("INSUFFICIENT_PERMISSIONS")),
            FailureKind::Permanent
        );
        assert_eq!(
            classify_failure(404, Some("NOT_FOUND")),
            FailureKind::Permanent
        );
        assert_eq!(
            classify_failure(413, Some("BODY_TOO_LARGE")),
            FailureKind::Permanent
        );
        assert_eq!(
            classify_failure(428, Some("setup_required")),
            FailureKind::Permanent
        );
        assert_eq!(classify_failure(301, None), FailureKind::Permanent);
        assert_eq!(classify_failure(100, None), FailureKind::Permanent);
    }

    #[test]
    fn kind_names_round_trip() {
        for kind in [
            FailureKind::Auth,
            FailureKind::Transient,
            FailureKind::Permanent,
        ] {
            assert_eq!(FailureKind::parse(kind.as_str()), Some(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!(FailureKind::parse("Auth"), None);
    }

    proptest! {
        #[test]
        fn every_5xx_is_transient_unless_auth_code(status in 500u16..600, code in "[A-Z_]{0,12}") {
            let kind = classify_failure(status, Some(&code));
            if AUTH_CODES.contains(&code.as_str()) {
                prop_assert_eq!(kind, FailureKind::Auth);
            } else {
                prop_assert_eq!(kind, FailureKind::Transient);
            }
        }

        #[test]
        fn other_4xx_are_permanent(status in 400u16..500) {
            prop_assume!(![401u16, 408, 425, 429].contains(&status));
            prop_assert_eq!(classify_failure(status, None), FailureKind::Permanent);
            prop_assert_eq!(classify_failure(status, Some("FORBIDDEN")), FailureKind::Permanent);
        }

        #[test]
        fn auth_codes_always_auth(status in 0u16..1000, idx in 0usize..AUTH_CODES.len()) {
            prop_assert_eq!(classify_failure(status, Some(AUTH_CODES[idx])), FailureKind::Auth);
        }
    }
}
