//! Every transition of the retry state machines (unit + property tests).

use kalam_consumer_core::{
    ConnectionBackoff, ConnectionRetryPolicy, FailureKind, MessageRetry, PolicyInput,
    RetryDecision, RetryPolicy,
};
use proptest::prelude::*;

fn retry(delay_ms: f64, attempt: u32) -> RetryDecision {
    RetryDecision::Retry { delay_ms, attempt }
}

fn message_policy(input: PolicyInput) -> RetryPolicy {
    RetryPolicy::normalize(&input)
}

#[test]
fn message_defaults_match_protocol() {
    let p = RetryPolicy::normalize(&PolicyInput::default());
    assert_eq!(
        p,
        RetryPolicy {
            max_attempts: 3,
            initial_backoff_ms: 300.0,
            max_backoff_ms: 5000.0,
            multiplier: 2.0,
            jitter_ratio: 0.0
        }
    );
    let mut r = MessageRetry::new(p);
    assert_eq!(r.attempt(), 1);
    assert_eq!(r.on_failure(true, 0.9), retry(300.0, 2));
    assert_eq!(r.attempt(), 2);
    assert_eq!(r.on_failure(true, 0.9), retry(600.0, 3));
    assert_eq!(
        r.on_failure(true, 0.9),
        RetryDecision::GiveUp { attempt: 3 }
    );
    assert!(r.is_given_up());
    assert_eq!(r.attempt(), 3);
}

#[test]
fn message_not_retryable_gives_up_at_once_and_for_good() {
    let mut r = MessageRetry::new(RetryPolicy::default());
    assert_eq!(
        r.on_failure(false, 0.0),
        RetryDecision::GiveUp { attempt: 1 }
    );
    assert_eq!(
        r.on_failure(true, 0.0),
        RetryDecision::GiveUp { attempt: 1 }
    );
}

#[test]
fn message_delay_is_capped() {
    let p = message_policy(PolicyInput {
        max_attempts: Some(10.0),
        initial_backoff_ms: Some(1000.0),
        max_backoff_ms: Some(3000.0),
        ..Default::default()
    });
    let delays: Vec<f64> = (2..=8).map(|k| p.delay_before(k, 0.5)).collect();
    assert_eq!(
        delays,
        vec![1000.0, 2000.0, 3000.0, 3000.0, 3000.0, 3000.0, 3000.0]
    );
    assert_eq!(p.base_delay(1), 0.0);
    // No overflow for huge attempts.
    assert_eq!(p.delay_before(u32::MAX, 0.5), 3000.0);
}

#[test]
fn message_jitter_spans_the_interval() {
    let p = message_policy(PolicyInput {
        jitter_ratio: Some(0.5),
        ..Default::default()
    });
    assert_eq!(p.delay_before(2, 0.0), 150.0);
    assert_eq!(p.delay_before(2, 0.5), 300.0);
    assert!(p.delay_before(2, 0.999_999) < 450.0);
    assert!(p.delay_before(2, 0.999_999) > 449.0);
}

#[test]
fn message_policy_normalisation() {
    let p = message_policy(PolicyInput {
        max_attempts: Some(0.0),
        initial_backoff_ms: Some(-5.0),
        max_backoff_ms: Some(-1.0),
        multiplier: Some(0.5),
        jitter_ratio: Some(7.0),
    });
    assert_eq!(
        p,
        RetryPolicy {
            max_attempts: 1,
            initial_backoff_ms: 0.0,
            max_backoff_ms: 0.0,
            multiplier: 1.0,
            jitter_ratio: 1.0
        }
    );
    let p = message_policy(PolicyInput {
        max_attempts: Some(f64::NAN),
        initial_backoff_ms: Some(f64::INFINITY),
        max_backoff_ms: Some(f64::NAN),
        multiplier: Some(f64::NEG_INFINITY),
        jitter_ratio: Some(f64::NAN),
    });
    assert_eq!(p, RetryPolicy::default());
    let p = message_policy(PolicyInput {
        max_attempts: Some(2.9),
        initial_backoff_ms: Some(9000.0),
        jitter_ratio: Some(-1.0),
        ..Default::default()
    });
    assert_eq!(p.max_attempts, 2);
    assert_eq!(p.max_backoff_ms, 9000.0, "max is raised to initial");
    assert_eq!(p.jitter_ratio, 0.0);
    assert_eq!(
        message_policy(PolicyInput {
            max_attempts: Some(f64::INFINITY),
            ..Default::default()
        })
        .max_attempts,
        u32::MAX
    );
    assert_eq!(
        message_policy(PolicyInput {
            max_attempts: Some(1e20),
            ..Default::default()
        })
        .max_attempts,
        u32::MAX
    );
}

#[test]
fn message_single_attempt_never_retries() {
    let mut r = MessageRetry::new(message_policy(PolicyInput {
        max_attempts: Some(1.0),
        ..Default::default()
    }));
    assert_eq!(
        r.on_failure(true, 0.3),
        RetryDecision::GiveUp { attempt: 1 }
    );
}

#[test]
fn message_zero_initial_backoff_is_zero_delay() {
    let p = message_policy(PolicyInput {
        initial_backoff_ms: Some(0.0),
        max_attempts: Some(50.0),
        ..Default::default()
    });
    for k in 2..50 {
        assert_eq!(p.delay_before(k, 0.7), 0.0);
    }
}

#[test]
fn random_out_of_range_is_clamped() {
    let p = message_policy(PolicyInput {
        jitter_ratio: Some(1.0),
        ..Default::default()
    });
    assert_eq!(p.delay_before(2, f64::NAN), 0.0);
    assert_eq!(p.delay_before(2, -3.0), 0.0);
    assert!(p.delay_before(2, 5.0) < 600.0);
}

#[test]
fn connection_defaults() {
    let p = ConnectionRetryPolicy::normalize(&PolicyInput::default());
    assert_eq!(
        p,
        ConnectionRetryPolicy {
            max_attempts: None,
            initial_backoff_ms: 250.0,
            max_backoff_ms: 30_000.0,
            multiplier: 2.0
        }
    );
    let mut b = ConnectionBackoff::new(p);
    assert_eq!(b.on_failure(FailureKind::Transient, 0.5), retry(125.0, 2));
    assert_eq!(b.on_failure(FailureKind::Transient, 0.5), retry(250.0, 3));
    assert_eq!(b.on_failure(FailureKind::Auth, 0.5), retry(500.0, 4));
    assert_eq!(b.failures(), 3);
    for _ in 0..100 {
        assert!(
            matches!(
                b.on_failure(FailureKind::Transient, 0.5),
                RetryDecision::Retry { .. }
            ),
            "unlimited by default"
        );
    }
    assert_eq!(
        b.on_failure(FailureKind::Transient, 0.5),
        retry(15_000.0, 105),
        "capped at max"
    );
}

#[test]
fn connection_full_jitter_bounds() {
    let mut b = ConnectionBackoff::new(ConnectionRetryPolicy::default());
    assert_eq!(b.on_failure(FailureKind::Transient, 0.0), retry(0.0, 2));
    let RetryDecision::Retry { delay_ms, .. } = b.on_failure(FailureKind::Transient, 0.999_999)
    else {
        panic!()
    };
    assert!(delay_ms < 500.0 && delay_ms > 499.0);
}

#[test]
fn connection_permanent_gives_up_at_once() {
    let mut b = ConnectionBackoff::new(ConnectionRetryPolicy::default());
    assert_eq!(
        b.on_failure(FailureKind::Permanent, 0.5),
        RetryDecision::GiveUp { attempt: 1 }
    );
    let mut b = ConnectionBackoff::new(ConnectionRetryPolicy::default());
    b.on_failure(FailureKind::Transient, 0.5);
    assert_eq!(
        b.on_failure(FailureKind::Permanent, 0.5),
        RetryDecision::GiveUp { attempt: 2 }
    );
}

#[test]
fn connection_max_attempts_and_success_reset() {
    let p = ConnectionRetryPolicy::normalize(&PolicyInput {
        max_attempts: Some(3.0),
        ..Default::default()
    });
    let mut b = ConnectionBackoff::new(p);
    assert!(matches!(
        b.on_failure(FailureKind::Transient, 0.5),
        RetryDecision::Retry { attempt: 2, .. }
    ));
    assert!(matches!(
        b.on_failure(FailureKind::Transient, 0.5),
        RetryDecision::Retry { attempt: 3, .. }
    ));
    assert_eq!(
        b.on_failure(FailureKind::Transient, 0.5),
        RetryDecision::GiveUp { attempt: 3 }
    );
    b.on_success();
    assert_eq!(b.failures(), 0);
    assert_eq!(
        b.on_failure(FailureKind::Transient, 0.5),
        retry(125.0, 2),
        "success restarts the ladder"
    );
}

#[test]
fn connection_policy_normalisation() {
    let p = ConnectionRetryPolicy::normalize(&PolicyInput {
        max_attempts: Some(f64::INFINITY),
        initial_backoff_ms: Some(-1.0),
        max_backoff_ms: Some(f64::NAN),
        multiplier: Some(0.0),
        jitter_ratio: Some(0.5),
    });
    assert_eq!(
        p,
        ConnectionRetryPolicy {
            max_attempts: None,
            initial_backoff_ms: 0.0,
            max_backoff_ms: 30_000.0,
            multiplier: 1.0
        }
    );
    assert_eq!(
        ConnectionRetryPolicy::normalize(&PolicyInput {
            max_attempts: Some(-4.0),
            ..Default::default()
        })
        .max_attempts,
        Some(1)
    );
    assert_eq!(
        ConnectionRetryPolicy::normalize(&PolicyInput {
            max_attempts: Some(f64::NAN),
            ..Default::default()
        })
        .max_attempts,
        None
    );
}

fn arb_input() -> impl Strategy<Value = PolicyInput> {
    let num = || {
        proptest::option::of(prop_oneof![
            -1e6f64..1e6,
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(0.0),
        ])
    };
    (num(), num(), num(), num(), num()).prop_map(|(a, i, m, x, j)| PolicyInput {
        max_attempts: a,
        initial_backoff_ms: i,
        max_backoff_ms: m,
        multiplier: x,
        jitter_ratio: j,
    })
}

proptest! {
    #[test]
    fn normalised_message_policies_are_sane(input in arb_input()) {
        let p = RetryPolicy::normalize(&input);
        prop_assert!(p.max_attempts >= 1);
        prop_assert!(p.initial_backoff_ms >= 0.0 && p.initial_backoff_ms.is_finite());
        prop_assert!(p.max_backoff_ms >= p.initial_backoff_ms && p.max_backoff_ms.is_finite());
        prop_assert!(p.multiplier >= 1.0 && p.multiplier.is_finite());
        prop_assert!((0.0..=1.0).contains(&p.jitter_ratio));
    }

    #[test]
    fn message_delays_follow_the_formula(input in arb_input(), k in 2u32..40, random in 0.0f64..1.0) {
        let p = RetryPolicy::normalize(&input);
        let d = (p.initial_backoff_ms * p.multiplier.powi(k as i32 - 2)).min(p.max_backoff_ms);
        let d = if d.is_finite() { d } else { p.max_backoff_ms };
        let delay = p.delay_before(k, random);
        let spread = d * p.jitter_ratio;
        prop_assert!(delay.is_finite());
        prop_assert!(delay >= (d - spread) - 1e-6 * d.max(1.0), "{delay} < {d} - {spread}");
        prop_assert!(delay <= (d + spread) + 1e-6 * d.max(1.0), "{delay} > {d} + {spread}");
        if p.jitter_ratio == 0.0 {
            prop_assert_eq!(delay, d);
        }
    }

    #[test]
    fn message_retry_makes_exactly_max_attempts(max in 1u32..20, random in 0.0f64..1.0) {
        let mut r = MessageRetry::new(RetryPolicy::normalize(&PolicyInput { max_attempts: Some(f64::from(max)), ..Default::default() }));
        let mut retries = 0;
        loop {
            match r.on_failure(true, random) {
                RetryDecision::Retry { attempt, delay_ms } => {
                    retries += 1;
                    prop_assert_eq!(attempt, retries + 1);
                    prop_assert_eq!(r.attempt(), attempt);
                    prop_assert!(delay_ms >= 0.0);
                }
                RetryDecision::GiveUp { attempt } => {
                    prop_assert_eq!(attempt, max);
                    break;
                }
            }
        }
        prop_assert_eq!(retries, max - 1);
    }

    #[test]
    fn connection_delays_are_full_jitter(input in arb_input(), failures in 1u32..60, random in 0.0f64..1.0) {
        let p = ConnectionRetryPolicy::normalize(&PolicyInput { max_attempts: None, ..input });
        let mut b = ConnectionBackoff::new(p);
        let mut last = RetryDecision::GiveUp { attempt: 0 };
        for _ in 0..failures {
            last = b.on_failure(FailureKind::Transient, random);
        }
        let ceiling = p.ceiling(failures);
        prop_assert!(ceiling <= p.max_backoff_ms);
        match last {
            RetryDecision::Retry { delay_ms, attempt } => {
                prop_assert_eq!(attempt, failures + 1);
                prop_assert!(delay_ms >= 0.0 && delay_ms <= ceiling);
                prop_assert!((delay_ms - random * ceiling).abs() <= 1e-9 * ceiling.max(1.0));
            }
            RetryDecision::GiveUp { .. } => prop_assert!(false, "unlimited policy gave up"),
        }
    }

    #[test]
    fn connection_permanent_always_gives_up(prior in 0u32..10, random in 0.0f64..1.0) {
        let mut b = ConnectionBackoff::new(ConnectionRetryPolicy::default());
        for _ in 0..prior {
            b.on_failure(FailureKind::Transient, random);
        }
        prop_assert_eq!(b.on_failure(FailureKind::Permanent, random), RetryDecision::GiveUp { attempt: prior + 1 });
    }

    #[test]
    fn connection_success_always_resets(prior in 0u32..30) {
        let mut b = ConnectionBackoff::new(ConnectionRetryPolicy::default());
        for _ in 0..prior {
            b.on_failure(FailureKind::Auth, 0.5);
        }
        b.on_success();
        prop_assert_eq!(b.failures(), 0);
        let initial = b.policy().initial_backoff_ms;
        prop_assert_eq!(b.on_failure(FailureKind::Transient, 0.5), retry(0.5 * initial, 2));
    }
}

// --- one set of rules for `retry` and `connectionRetry` (issue 11 item 8) ---

fn input(f: impl FnOnce(&mut PolicyInput)) -> PolicyInput {
    let mut i = PolicyInput::default();
    f(&mut i);
    i
}

#[test]
fn validate_accepts_defaults_zero_backoffs_and_infinite_attempts() {
    for jitter in [true, false] {
        assert_eq!(PolicyInput::default().validate(300.0, jitter), Ok(()));
        let zero = input(|i| {
            i.initial_backoff_ms = Some(0.0);
            i.max_backoff_ms = Some(0.0);
            i.max_attempts = Some(f64::INFINITY);
        });
        assert_eq!(zero.validate(300.0, jitter), Ok(()));
    }
}

#[test]
fn validate_rejects_each_bad_field_with_its_name() {
    let cases: [(PolicyInput, &str); 9] = [
        (input(|i| i.max_attempts = Some(0.0)), "maxAttempts"),
        (input(|i| i.max_attempts = Some(2.5)), "maxAttempts"),
        (input(|i| i.max_attempts = Some(f64::NAN)), "maxAttempts"),
        (
            input(|i| i.initial_backoff_ms = Some(-1.0)),
            "initialBackoffMs",
        ),
        (
            input(|i| i.max_backoff_ms = Some(f64::INFINITY)),
            "maxBackoffMs",
        ),
        // Checked against the default initial backoff when only the cap is given.
        (input(|i| i.max_backoff_ms = Some(100.0)), "maxBackoffMs"),
        (input(|i| i.multiplier = Some(0.5)), "multiplier"),
        (input(|i| i.jitter_ratio = Some(1.5)), "jitterRatio"),
        (input(|i| i.jitter_ratio = Some(f64::NAN)), "jitterRatio"),
    ];
    for (policy, field) in cases {
        let problem = policy.validate(300.0, true).unwrap_err();
        assert_eq!(problem.field, field, "{policy:?}");
    }
}

#[test]
fn connection_policies_take_no_jitter_ratio() {
    let with_jitter = input(|i| i.jitter_ratio = Some(0.5));
    assert_eq!(with_jitter.validate(250.0, true), Ok(()));
    assert_eq!(
        with_jitter.validate(250.0, false).unwrap_err().field,
        "jitterRatio"
    );
}

#[test]
fn jitter_never_exceeds_the_cap() {
    let p = RetryPolicy::normalize(&input(|i| {
        i.initial_backoff_ms = Some(1000.0);
        i.max_backoff_ms = Some(1000.0);
        i.jitter_ratio = Some(1.0);
    }));
    for attempt in 2..6 {
        for random in [0.0, 0.5, 0.999_999] {
            let d = p.delay_before(attempt, random);
            assert!(d <= 1000.0, "attempt {attempt} random {random}: {d}");
        }
    }
    // Below the cap the spread still works both ways.
    let p = RetryPolicy::normalize(&input(|i| {
        i.initial_backoff_ms = Some(100.0);
        i.jitter_ratio = Some(0.5);
    }));
    assert_eq!(p.delay_before(2, 0.0), 50.0);
    assert!(p.delay_before(2, 0.999_999) > 149.0);
}

#[test]
fn next_round_restarts_attempts_after_a_growing_pause_of_at_least_one_ms() {
    let zero = RetryPolicy::normalize(&input(|i| {
        i.initial_backoff_ms = Some(0.0);
        i.max_backoff_ms = Some(0.0);
    }));
    let mut r = MessageRetry::new(zero);
    assert!(matches!(
        r.on_failure(false, 0.0),
        RetryDecision::GiveUp { attempt: 1 }
    ));
    // A zero policy must still yield to timers between rounds.
    assert_eq!(r.next_round(2), 1.0);
    assert_eq!(r.attempt(), 1);
    assert!(!r.is_given_up());

    let p = RetryPolicy::default();
    let mut r = MessageRetry::new(p);
    assert_eq!(r.next_round(2), 300.0);
    assert_eq!(r.next_round(3), 600.0);
    assert_eq!(r.next_round(30), 5000.0);
}
