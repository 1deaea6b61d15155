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
//! **One set of rules for both policies.** [`PolicyInput::validate`] rejects what a caller
//! cannot have meant (the wasm constructors call it, so `retry` and `connectionRetry` get the
//! same checks and the same errors): `maxAttempts` a whole number >= 1 or `Infinity`;
//! backoffs finite and >= 0, `maxBackoffMs` >= `initialBackoffMs` (after defaults);
//! `multiplier` finite and >= 1; `jitterRatio` in `[0, 1]` (message retries only). The
//! `normalize` functions fill defaults and stay total (they clamp anything that slipped past),
//! so the state machines never see a nonsensical policy. A `random` outside `[0, 1)` is
//! clamped into it (NaN counts as 0). A jittered delay never exceeds `maxBackoffMs`: the
//! README calls it a cap.

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

/// Why a policy was rejected: the field (JS spelling) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyProblem {
    /// `maxAttempts`, `initialBackoffMs`, `maxBackoffMs`, `multiplier` or `jitterRatio`.
    pub field: &'static str,
    /// A sentence fragment: "must be a whole number >= 1 or Infinity".
    pub problem: &'static str,
}

impl PolicyInput {
    /// Checks a caller's policy against the rules in the module docs. `defaults` are the
    /// values absent fields take (so `maxBackoffMs: 100` alone is checked against the default
    /// initial backoff); `jitter_allowed` is false for connection retries (full jitter, always).
    pub fn validate(
        &self,
        default_initial_ms: f64,
        jitter_allowed: bool,
    ) -> Result<(), PolicyProblem> {
        let bad = |field, problem| Err(PolicyProblem { field, problem });
        if let Some(n) = self.max_attempts {
            if !(n == f64::INFINITY || (n.is_finite() && n.fract() == 0.0 && n >= 1.0)) {
                return bad("maxAttempts", "must be a whole number >= 1 or Infinity");
            }
        }
        for (field, value) in [
            ("initialBackoffMs", self.initial_backoff_ms),
            ("maxBackoffMs", self.max_backoff_ms),
        ] {
            if let Some(ms) = value {
                if !(ms.is_finite() && ms >= 0.0) {
                    return bad(field, "must be a finite number >= 0");
                }
            }
        }
        let initial = self.initial_backoff_ms.unwrap_or(default_initial_ms);
        if let Some(max) = self.max_backoff_ms {
            if max < initial {
                return bad("maxBackoffMs", "must be >= initialBackoffMs");
            }
        }
        if let Some(m) = self.multiplier {
            if !(m.is_finite() && m >= 1.0) {
                return bad("multiplier", "must be a finite number >= 1");
            }
        }
        if let Some(r) = self.jitter_ratio {
            if !jitter_allowed {
                return bad(
                    "jitterRatio",
                    "is not an option here: connection retries always use full jitter",
                );
            }
            if !(0.0..=1.0).contains(&r) {
                return bad("jitterRatio", "must be between 0 and 1");
            }
        }
        Ok(())
    }
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
        // max/min, not clamp: clamp's panic message formats f64, ~20 KB of the wasm module.
        (d - spread + unit_random(random) * 2.0 * spread)
            .max(0.0)
            .min(self.max_backoff_ms)
    }

    /// The pause before round `round` (>= 2) of attempts, when a message exhausted its
    /// attempts and its dead-letter hook failed too: the same capped exponential as between
    /// attempts, counted in rounds, at least 1 ms so a zero policy still yields to timers.
    pub fn round_pause(&self, round: u32) -> f64 {
        capped_exponential(
            self.initial_backoff_ms,
            self.max_backoff_ms,
            self.multiplier,
            round.saturating_sub(2),
        )
        .max(1.0)
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

    /// Starts another round of attempts after giving up (the message could not be
    /// dead-lettered and must not be skipped): attempt 1 again, and the pause to wait first.
    /// `round` counts rounds, the first being 1.
    pub fn next_round(&mut self, round: u32) -> f64 {
        self.attempt = 1;
        self.given_up = false;
        self.policy.round_pause(round)
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
