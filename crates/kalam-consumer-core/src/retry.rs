//! Retry state machines, fed events and a caller-supplied random number in `[0, 1)`.
//!
//! * [`MessageRetry`]: attempts of one message's handler (`runConsumer`'s `retry` option).
//!   Delay before attempt `k >= 2` is `d = min(max, initial * multiplier^(k-2))`; with a
//!   jitter ratio `r` it is uniform in `[d - d*r, d + d*r]` (`d - d*r + random * 2*d*r`).
//! * [`ConnectionBackoff`]: the poll loop after failed requests (`connectionRetry`). Full
//!   jitter: `delay = random * min(max, initial * multiplier^(failures-1))`. A permanent
//!   failure gives up at once; a success resets the count.
//!
//! Delays are milliseconds as `f64` (not rounded: `setTimeout` accepts fractions).
//!
//! **Bad policies are normalised, never rejected** (the rules of §7.3): an absent, NaN or
//! (for backoffs and multiplier) infinite field takes its default; `maxAttempts` is floored
//! and raised to at least 1 (`Infinity` means unlimited); backoffs are raised to at least 0
//! and `maxBackoffMs` to at least `initialBackoffMs`; `multiplier` is raised to at least 1;
//! `jitterRatio` is clamped to `[0, 1]`. A `random` outside `[0, 1)` is clamped into it (NaN
//! counts as 0).

use crate::classify::FailureKind;

/// A policy as the caller wrote it; every field optional (see the module docs for defaults).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PolicyInput {
    /// Total attempts including the first.
    pub max_attempts: Option<f64>,
    /// First backoff.
    pub initial_backoff_ms: Option<f64>,
    /// Backoff cap.
    pub max_backoff_ms: Option<f64>,
    /// Growth factor per attempt.
    pub multiplier: Option<f64>,
    /// Jitter ratio (message retries only; connection retries always use full jitter).
    pub jitter_ratio: Option<f64>,
}

/// What to do after a failure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RetryDecision {
    /// Sleep `delay_ms`, then make attempt number `attempt`.
    Retry {
        /// Milliseconds to wait.
        delay_ms: f64,
        /// The number of the attempt to make next (the first attempt is 1).
        attempt: u32,
    },
    /// Stop; `attempt` attempts were made.
    GiveUp {
        /// Attempts made.
        attempt: u32,
    },
}

fn finite_or(value: Option<f64>, default: f64) -> f64 {
    match value {
        Some(v) if v.is_finite() => v,
        _ => default,
    }
}

/// Attempt count: `None` when unlimited (`Infinity`).
fn attempts(value: Option<f64>, default: Option<u32>) -> Option<u32> {
    match value {
        Some(v) if v == f64::INFINITY => None,
        Some(v) if v.is_finite() => Some(v.floor().clamp(1.0, f64::from(u32::MAX)) as u32),
        _ => default,
    }
}

fn unit_random(random: f64) -> f64 {
    if random.is_nan() {
        0.0
    } else {
        random.clamp(0.0, 1.0 - f64::EPSILON)
    }
}

/// `min(max, initial * multiplier^exponent)`, without overflow or NaN.
fn capped_exponential(initial: f64, max: f64, multiplier: f64, exponent: u32) -> f64 {
    if initial <= 0.0 {
        return 0.0;
    }
    // powi, not powf: no libm pow in the wasm module; exponents past i32::MAX are capped anyway.
    let raw = initial * multiplier.powi(i32::try_from(exponent).unwrap_or(i32::MAX));
    if raw.is_finite() {
        raw.min(max)
    } else {
        max
    }
}

/// The normalised per-message retry policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Total attempts including the first (>= 1).
    pub max_attempts: u32,
    /// Delay before attempt 2 (>= 0).
    pub initial_backoff_ms: f64,
    /// Delay cap (>= initial).
    pub max_backoff_ms: f64,
    /// Growth factor (>= 1).
    pub multiplier: f64,
    /// Jitter ratio in `[0, 1]`.
    pub jitter_ratio: f64,
}

impl Default for RetryPolicy {
    /// `maxAttempts` 3, `initialBackoffMs` 300, `maxBackoffMs` 5000, `multiplier` 2,
    /// `jitterRatio` 0 (§7.3).
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            initial_backoff_ms: 300.0,
            max_backoff_ms: 5000.0,
            multiplier: 2.0,
            jitter_ratio: 0.0,
        }
    }
}

impl RetryPolicy {
    /// Normalises a caller's policy (see the module docs).
    pub fn normalize(input: &PolicyInput) -> Self {
        let d = RetryPolicy::default();
        let initial = finite_or(input.initial_backoff_ms, d.initial_backoff_ms).max(0.0);
        let jitter = match input.jitter_ratio {
            Some(r) if !r.is_nan() => r.clamp(0.0, 1.0),
            _ => d.jitter_ratio,
        };
        RetryPolicy {
            max_attempts: attempts(input.max_attempts, Some(d.max_attempts)).unwrap_or(u32::MAX),
            initial_backoff_ms: initial,
            max_backoff_ms: finite_or(input.max_backoff_ms, d.max_backoff_ms).max(initial),
            multiplier: finite_or(input.multiplier, d.multiplier).max(1.0),
            jitter_ratio: jitter,
        }
    }

    /// The base delay (before jitter) before attempt `attempt` (>= 2; 0 for attempt 1).
    pub fn base_delay(&self, attempt: u32) -> f64 {
        if attempt < 2 {
            return 0.0;
        }
        capped_exponential(
            self.initial_backoff_ms,
            self.max_backoff_ms,
            self.multiplier,
            attempt - 2,
        )
    }

    /// The jittered delay before attempt `attempt` for a `random` in `[0, 1)`.
    pub fn delay_before(&self, attempt: u32, random: f64) -> f64 {
        let d = self.base_delay(attempt);
        let spread = d * self.jitter_ratio;
        (d - spread + unit_random(random) * 2.0 * spread).max(0.0)
    }
}

/// Attempts of one message. Starts at attempt 1; each failure either schedules the next
/// attempt or gives up. Giving up is final.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageRetry {
    policy: RetryPolicy,
    attempt: u32,
    given_up: bool,
}

impl MessageRetry {
    /// A fresh state at attempt 1.
    pub fn new(policy: RetryPolicy) -> Self {
        MessageRetry {
            policy,
            attempt: 1,
            given_up: false,
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// The current attempt number (1-based).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Whether a previous failure gave up.
    pub fn is_given_up(&self) -> bool {
        self.given_up
    }

    /// Event: the current attempt failed. `retryable` is the caller's verdict (its
    /// `shouldRetry`); `random` in `[0, 1)` feeds the jitter.
    pub fn on_failure(&mut self, retryable: bool, random: f64) -> RetryDecision {
        if self.given_up || !retryable || self.attempt >= self.policy.max_attempts {
            self.given_up = true;
            return RetryDecision::GiveUp {
                attempt: self.attempt,
            };
        }
        self.attempt += 1;
        RetryDecision::Retry {
            delay_ms: self.policy.delay_before(self.attempt, random),
            attempt: self.attempt,
        }
    }
}

/// The normalised connection retry policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConnectionRetryPolicy {
    /// Total attempts of one request before giving up; `None` = unlimited (the default).
    pub max_attempts: Option<u32>,
    /// Cap of the first delay (>= 0).
    pub initial_backoff_ms: f64,
    /// Cap of every delay (>= initial).
    pub max_backoff_ms: f64,
    /// Growth factor (>= 1).
    pub multiplier: f64,
}

impl Default for ConnectionRetryPolicy {
    /// Unlimited attempts, `initialBackoffMs` 250, `maxBackoffMs` 30000, `multiplier` 2.
    fn default() -> Self {
        ConnectionRetryPolicy {
            max_attempts: None,
            initial_backoff_ms: 250.0,
            max_backoff_ms: 30_000.0,
            multiplier: 2.0,
        }
    }
}

impl ConnectionRetryPolicy {
    /// Normalises a caller's policy (see the module docs; `jitter_ratio` is ignored).
    pub fn normalize(input: &PolicyInput) -> Self {
        let d = ConnectionRetryPolicy::default();
        let initial = finite_or(input.initial_backoff_ms, d.initial_backoff_ms).max(0.0);
        ConnectionRetryPolicy {
            max_attempts: attempts(input.max_attempts, d.max_attempts),
            initial_backoff_ms: initial,
            max_backoff_ms: finite_or(input.max_backoff_ms, d.max_backoff_ms).max(initial),
            multiplier: finite_or(input.multiplier, d.multiplier).max(1.0),
        }
    }

    /// The delay cap after `failures` consecutive failures (>= 1).
    pub fn ceiling(&self, failures: u32) -> f64 {
        capped_exponential(
            self.initial_backoff_ms,
            self.max_backoff_ms,
            self.multiplier,
            failures.saturating_sub(1),
        )
    }
}

/// Consecutive failures of the poll loop's requests.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionBackoff {
    policy: ConnectionRetryPolicy,
    failures: u32,
}

impl ConnectionBackoff {
    /// A fresh state with no failures.
    pub fn new(policy: ConnectionRetryPolicy) -> Self {
        ConnectionBackoff {
            policy,
            failures: 0,
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &ConnectionRetryPolicy {
        &self.policy
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Event: a request failed with `kind`. Permanent failures give up at once; auth and
    /// transient failures back off (auth failures reach this only after the caller's own
    /// fresh-login retry failed too, so they wait like transient ones).
    pub fn on_failure(&mut self, kind: FailureKind, random: f64) -> RetryDecision {
        self.failures = self.failures.saturating_add(1);
        let exhausted = self
            .policy
            .max_attempts
            .is_some_and(|max| self.failures >= max);
        if kind == FailureKind::Permanent || exhausted {
            return RetryDecision::GiveUp {
                attempt: self.failures,
            };
        }
        RetryDecision::Retry {
            delay_ms: unit_random(random) * self.policy.ceiling(self.failures),
            attempt: self.failures.saturating_add(1),
        }
    }

    /// Event: a request succeeded; the failure count resets.
    pub fn on_success(&mut self) {
        self.failures = 0;
    }
}
