//! Issue 2, point 6: consume/ack defaults, start resolution, claims, visibility timeout,
//! has_more/next_offset, ack monotonicity, topic error envelope, no long poll.
mod common;

use common::*;
use serde_json::json;
use std::time::{Duration, Instant};

/// A server with topic `app.t` fed by SHARED table `app.src` (INSERT route) and `n` rows in it.
fn with_messages(b: Builder, n: u64) -> Server {
    let s = b.start();
    s.source_topic(
        "app",
        "CREATE SHARED TABLE app.src (id BIGINT PRIMARY KEY, v TEXT)",
        "app.src",
        "app.t",
        &["INSERT"],
    );
    insert(&s, 0, n);
    s
}

fn insert(s: &Server, from: u64, n: u64) {
    if n == 0 {
        return;
    }
    let values: Vec<String> = (from..from + n).map(|i| format!("({i}, 'v{i}')")).collect();
    for chunk in values.chunks(500) {
        s.root_sql(&format!(
            "INSERT INTO app.src (id, v) VALUES {}",
            chunk.join(", ")
        ));
    }
}

fn offsets_of(b: &Batch) -> Vec<u64> {
    b.offsets()
}

#[test]
fn request_defaults_latest_limit_100_partition_0() {
    let s = with_messages(builder(), 3);
    let root = s.root();
    // Only topic_id and group_id: start Latest -> nothing old; next_offset = highest + 1.
    let r = s.consume_raw(&root, &json!({"topic_id": "app.t", "group_id": "g"}));
    assert_eq!(r.status, 200, "{r}");
    let b = Batch::decode(&r.json());
    assert!(
        b.messages.is_empty(),
        "Latest skips existing messages: {}",
        b.raw
    );
    assert_eq!(b.next_offset, 3);
    assert!(!b.has_more);
    insert(&s, 3, 150);
    let b = Batch::decode(
        &s.consume_raw(&root, &json!({"topic_id": "app.t", "group_id": "g"}))
            .json(),
    );
    assert_eq!(b.messages.len(), 100, "default limit is 100");
    assert_eq!(b.messages[0].offset, 3);
    assert!(b.has_more);
    assert!(b.messages.iter().all(|m| m.partition == 0));
}

#[test]
fn latest_on_an_empty_topic_starts_at_zero() {
    let s = with_messages(builder(), 0);
    let root = s.root();
    let b = s.consume(&root, "app.t", "g", json!("Latest"), 10, 0);
    assert!(b.messages.is_empty());
    assert_eq!(b.next_offset, 0);
    insert(&s, 0, 2);
    assert_eq!(
        offsets_of(&s.consume(&root, "app.t", "g", json!("Latest"), 10, 0)),
        vec![0, 1]
    );
}

#[test]
fn start_forms() {
    let s = with_messages(builder(), 6);
    let root = s.root();
    for (i, start) in [json!("Earliest"), json!("earliest"), json!("EARLIEST")]
        .into_iter()
        .enumerate()
    {
        let b = s.consume(&root, "app.t", &format!("e{i}"), start, 2, 0);
        assert_eq!(offsets_of(&b), vec![0, 1]);
    }
    let b = s.consume(&root, "app.t", "o1", json!({"Offset": 4}), 10, 0);
    assert_eq!(offsets_of(&b), vec![4, 5]);
    let b = s.consume(&root, "app.t", "o2", json!({"offset": 3}), 1, 0);
    assert_eq!(offsets_of(&b), vec![3]);
    let b = s.consume(&root, "app.t", "l1", json!("latest"), 10, 0);
    assert!(b.messages.is_empty());
    assert_eq!(b.next_offset, 6);
    for bad in [
        json!("Middle"),
        json!({"Offset": -1}),
        json!({"Offset": "3"}),
        json!(5),
        json!({"At": 1}),
    ] {
        let r = s.consume_raw(
            &root,
            &json!({"topic_id": "app.t", "group_id": "bad", "start": bad}),
        );
        assert_eq!(r.status, 400, "start {bad}: {r}");
        assert!(
            r.try_json().map(|v| !v.is_object()).unwrap_or(true),
            "400 text for bad start {bad}: {r}"
        );
    }
}

#[test]
fn the_server_cursor_wins_over_start_and_next_offset_is_the_computed_start() {
    let s = with_messages(builder(), 3);
    let root = s.root();
    let b = s.consume(&root, "app.t", "g", json!("Earliest"), 10, 0);
    assert_eq!(offsets_of(&b), vec![0, 1, 2]);
    assert_eq!(b.next_offset, 3);
    assert!(!b.has_more);
    // Nothing new: empty, and next_offset is the computed start (Earliest -> 0), not the cursor.
    let b = s.consume(&root, "app.t", "g", json!("Earliest"), 10, 0);
    assert!(b.messages.is_empty());
    assert_eq!(b.next_offset, 0);
    // Asking for an explicit offset does not rewind the cursor.
    let b = s.consume(&root, "app.t", "g", json!({"Offset": 1}), 10, 0);
    assert!(b.messages.is_empty(), "cursor wins over start: {}", b.raw);
    assert_eq!(b.next_offset, 1);
    // After an ack the computed start is committed + 1, whatever `start` says.
    s.ack(&root, "app.t", "g", 0, 2);
    let b = s.consume(&root, "app.t", "g", json!({"Offset": 0}), 10, 0);
    assert!(b.messages.is_empty());
    assert_eq!(b.next_offset, 3);
    insert(&s, 3, 1);
    let b = s.consume(&root, "app.t", "g", json!("Latest"), 10, 0);
    assert_eq!(offsets_of(&b), vec![3]);
}

#[test]
fn ack_before_any_consume_seeds_the_committed_offset() {
    let s = with_messages(builder(), 10);
    let root = s.root();
    s.ack(&root, "app.t", "fresh", 0, 4);
    let b = s.consume(&root, "app.t", "fresh", json!("Earliest"), 3, 0);
    assert_eq!(
        offsets_of(&b),
        vec![5, 6, 7],
        "committed offset + 1 wins over Earliest"
    );
    let rs =
        s.root_sql("SELECT last_acked_offset FROM system.topic_offsets WHERE group_id = 'fresh'");
    assert_eq!(scalar(&rs), json!("4"));
}

#[test]
fn groups_and_partitions_are_independent() {
    let s = with_messages(builder(), 4);
    let root = s.root();
    assert_eq!(
        offsets_of(&s.consume_earliest(&root, "app.t", "g1", 3)),
        vec![0, 1, 2]
    );
    assert_eq!(
        offsets_of(&s.consume_earliest(&root, "app.t", "g2", 3)),
        vec![0, 1, 2]
    );
    assert_eq!(
        offsets_of(&s.consume_earliest(&root, "app.t", "g1", 3)),
        vec![3]
    );
    s.ack(&root, "app.t", "g1", 0, 3);
    assert_eq!(
        offsets_of(&s.consume_earliest(&root, "app.t", "g2", 3)),
        vec![3]
    );
    // Partition 1 of a 1-partition topic: nothing, not an error.
    let b = s.consume(&root, "app.t", "g1", json!("Earliest"), 3, 1);
    assert!(b.messages.is_empty());
}

#[test]
fn two_consumers_in_one_group_get_disjoint_ranges() {
    let s = with_messages(builder(), 10);
    s.create_user("worker_a", "service");
    s.create_user("worker_b", "service");
    let a = s.token("worker_a", "worker_a-pw");
    let b = s.token("worker_b", "worker_b-pw");
    let ba = s.consume_earliest(&a, "app.t", "shared", 4);
    let bb = s.consume_earliest(&b, "app.t", "shared", 4);
    assert_eq!(offsets_of(&ba), vec![0, 1, 2, 3]);
    assert_eq!(offsets_of(&bb), vec![4, 5, 6, 7]);
    assert!(ba.has_more && bb.has_more, "len == limit -> has_more");
    let bc = s.consume_earliest(&a, "app.t", "shared", 4);
    assert_eq!(offsets_of(&bc), vec![8, 9]);
    assert!(!bc.has_more);
    // Acks in any order; nothing is re-delivered while claims are live or acked.
    s.ack(&b, "app.t", "shared", 0, 7);
    s.ack(&a, "app.t", "shared", 0, 3);
    s.ack(&a, "app.t", "shared", 0, 9);
    assert!(s
        .consume_earliest(&a, "app.t", "shared", 4)
        .messages
        .is_empty());
}

#[test]
fn concurrent_consumers_never_overlap() {
    let s = with_messages(builder(), 200);
    let root = s.root();
    let seen = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|sc| {
        for _ in 0..4 {
            sc.spawn(|| loop {
                let b = s.consume_earliest(&root, "app.t", "pool", 7);
                if b.messages.is_empty() {
                    break;
                }
                let last = b.messages.last().unwrap().offset;
                seen.lock().unwrap().extend(b.offsets());
                s.ack(&root, "app.t", "pool", 0, last);
            });
        }
    });
    let mut all = seen.into_inner().unwrap();
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), n, "no offset delivered twice");
    assert_eq!(
        all,
        (0..200).collect::<Vec<u64>>(),
        "every offset delivered"
    );
}

#[test]
fn visibility_timeout_redelivers_unacked_claims() {
    let s = with_messages(builder().visibility_timeout(2), 6);
    let root = s.root();
    assert_eq!(
        offsets_of(&s.consume_earliest(&root, "app.t", "g", 3)),
        vec![0, 1, 2]
    );
    // Live claim: the next fetch gets the rest, no redelivery yet.
    assert_eq!(
        offsets_of(&s.consume_earliest(&root, "app.t", "g", 10)),
        vec![3, 4, 5]
    );
    assert!(s
        .consume_earliest(&root, "app.t", "g", 10)
        .messages
        .is_empty());
    std::thread::sleep(Duration::from_millis(2600));
    let b = s.consume_earliest(&root, "app.t", "g", 10);
    assert_eq!(
        offsets_of(&b),
        vec![0, 1, 2, 3, 4, 5],
        "expired claims are re-delivered from the smallest start"
    );
    s.ack(&root, "app.t", "g", 0, 5);
    std::thread::sleep(Duration::from_millis(2600));
    assert!(
        s.consume_earliest(&root, "app.t", "g", 10)
            .messages
            .is_empty(),
        "an acked claim is never re-delivered"
    );
}

#[test]
fn env_visibility_timeout_is_honoured() {
    let s = with_messages(
        builder().env("KALAMDB_TOPIC_VISIBILITY_TIMEOUT_SECS", "1"),
        2,
    );
    let root = s.root();
    assert_eq!(
        offsets_of(&s.consume_earliest(&root, "app.t", "g", 10)),
        vec![0, 1]
    );
    std::thread::sleep(Duration::from_millis(1700));
    assert_eq!(
        offsets_of(&s.consume_earliest(&root, "app.t", "g", 10)),
        vec![0, 1]
    );
}

#[test]
fn default_visibility_timeout_is_not_short() {
    let s = with_messages(builder(), 2);
    let root = s.root();
    assert_eq!(
        offsets_of(&s.consume_earliest(&root, "app.t", "g", 10)),
        vec![0, 1]
    );
    std::thread::sleep(Duration::from_millis(2500));
    assert!(
        s.consume_earliest(&root, "app.t", "g", 10)
            .messages
            .is_empty(),
        "default timeout is 60 s"
    );
}

#[test]
fn a_prefix_ack_keeps_the_whole_claim() {
    let s = with_messages(builder().visibility_timeout(2), 3);
    let root = s.root();
    assert_eq!(
        offsets_of(&s.consume_earliest(&root, "app.t", "g", 3)),
        vec![0, 1, 2]
    );
    s.ack(&root, "app.t", "g", 0, 0);
    assert!(
        s.consume_earliest(&root, "app.t", "g", 10)
            .messages
            .is_empty(),
        "no redelivery while the claim lives"
    );
    std::thread::sleep(Duration::from_millis(2600));
    let b = s.consume_earliest(&root, "app.t", "g", 10);
    assert_eq!(
        offsets_of(&b),
        vec![0, 1, 2],
        "the acked prefix is delivered again after expiry"
    );
    // The persisted offset did move with the prefix ack.
    let rs = s.root_sql("SELECT last_acked_offset FROM system.topic_offsets WHERE group_id = 'g'");
    assert_eq!(scalar(&rs), json!("0"));
}

#[test]
fn redelivery_stops_at_a_live_claim_and_then_skips_it() {
    let s = with_messages(builder().visibility_timeout(2), 6);
    let root = s.root();
    let t0 = Instant::now();
    assert_eq!(
        offsets_of(&s.consume_earliest(&root, "app.t", "g", 2)),
        vec![0, 1]
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        offsets_of(&s.consume_earliest(&root, "app.t", "g", 2)),
        vec![2, 3]
    );
    let t_b = Instant::now();
    std::thread::sleep(
        Duration::from_millis(2300).saturating_sub(t0.elapsed()) + Duration::from_millis(200),
    );
    assert!(
        t_b.elapsed() < Duration::from_millis(1900),
        "machine too slow for this timing test"
    );
    let b = s.consume_earliest(&root, "app.t", "g", 10);
    assert_eq!(
        offsets_of(&b),
        vec![0, 1],
        "stops before the live claim [2, 4)"
    );
    assert!(!b.has_more, "shortened by a live claim -> has_more false");
    let b = s.consume_earliest(&root, "app.t", "g", 10);
    assert_eq!(offsets_of(&b), vec![4, 5], "skips the live claim");
}

#[test]
fn has_more_and_limit_zero() {
    let s = with_messages(builder(), 4);
    let root = s.root();
    let b = s.consume_earliest(&root, "app.t", "g", 0);
    assert!(b.messages.is_empty());
    assert!(b.has_more, "limit 0 -> has_more true");
    assert_eq!(b.next_offset, 0);
    let b = s.consume_earliest(&root, "app.t", "g", 4);
    assert_eq!(offsets_of(&b), vec![0, 1, 2, 3], "limit 0 claimed nothing");
    assert!(
        b.has_more,
        "exactly limit messages -> has_more even when nothing remains"
    );
    assert_eq!(b.next_offset, 4);
    let b = s.consume_earliest(&root, "app.t", "g", 4);
    assert!(b.messages.is_empty());
    assert!(!b.has_more);
}

#[test]
fn ack_is_monotonic_and_echoes_the_requested_offset() {
    let s = with_messages(builder(), 10);
    let root = s.root();
    s.consume_earliest(&root, "app.t", "g", 10);
    s.ack(&root, "app.t", "g", 0, 5);
    s.ack(&root, "app.t", "g", 0, 2); // asserts 200, success true, acknowledged_offset 2
    let rs = s.root_sql("SELECT last_acked_offset FROM system.topic_offsets WHERE group_id = 'g'");
    assert_eq!(
        scalar(&rs),
        json!("5"),
        "a lower ack does not move the stored offset"
    );
    s.ack(&root, "app.t", "g", 0, 7);
    let rs = s.root_sql("SELECT last_acked_offset FROM system.topic_offsets WHERE group_id = 'g'");
    assert_eq!(scalar(&rs), json!("7"));
    // partition_id defaults to 0.
    let r = s.post(
        "/v1/api/topics/ack",
        Some(&root),
        &json!({"topic_id": "app.t", "group_id": "g", "upto_offset": 8}),
    );
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.json(), json!({"success": true, "acknowledged_offset": 8}));
    // upto_offset is required.
    let r = s.post(
        "/v1/api/topics/ack",
        Some(&root),
        &json!({"topic_id": "app.t", "group_id": "g"}),
    );
    assert_eq!(r.status, 400, "{r}");
}

#[test]
fn ack_beyond_the_end_skips_future_messages() {
    let s = with_messages(builder(), 2);
    let root = s.root();
    s.ack(&root, "app.t", "skip", 0, 4);
    assert!(s
        .consume_earliest(&root, "app.t", "skip", 10)
        .messages
        .is_empty());
    insert(&s, 2, 5); // offsets 2..6
    assert_eq!(
        offsets_of(&s.consume_earliest(&root, "app.t", "skip", 10)),
        vec![5, 6]
    );
}

#[test]
fn unknown_topic_is_404_not_found() {
    let s = start();
    let root = s.root();
    s.root_sql("CREATE NAMESPACE app");
    let r = s.consume_raw(
        &root,
        &json!({"topic_id": "app.nope", "group_id": "g", "start": "Earliest"}),
    );
    let e = expect_topic_error(&r, 404, "NOT_FOUND");
    assert_eq!(e["error"], json!("Topic 'app.nope' does not exist"));
    let r = s.ack_raw(&root, "app.nope", "g", 0, 1);
    expect_topic_error(&r, 404, "NOT_FOUND");
    // Topic ids are case-sensitive.
    s.root_sql("CREATE TOPIC app.Cased");
    assert_eq!(
        s.consume_raw(&root, &json!({"topic_id": "app.Cased", "group_id": "g"}))
            .status,
        200
    );
    expect_topic_error(
        &s.consume_raw(&root, &json!({"topic_id": "app.cased", "group_id": "g"})),
        404,
        "NOT_FOUND",
    );
}

#[test]
fn timeout_seconds_is_accepted_and_ignored() {
    let s = with_messages(builder(), 1);
    let root = s.root();
    s.consume_earliest(&root, "app.t", "g", 10);
    for timeout in [json!(5), json!(null), json!(30)] {
        let t0 = Instant::now();
        let r = s.consume_raw(
            &root,
            &json!({"topic_id": "app.t", "group_id": "g", "start": "Earliest", "limit": 10, "timeout_seconds": timeout, "extra": 1}),
        );
        let took = t0.elapsed();
        assert_eq!(r.status, 200, "{r}");
        assert!(Batch::decode(&r.json()).messages.is_empty());
        assert!(
            took < Duration::from_millis(2000),
            "an empty poll returns at once, took {took:?} with timeout {timeout}"
        );
    }
}

#[test]
fn topic_messages_are_kept_in_order_across_many_writes() {
    let s = with_messages(builder(), 0);
    let root = s.root();
    for i in 0..30 {
        s.root_sql(&format!("INSERT INTO app.src (id, v) VALUES ({i}, 'x')"));
    }
    let msgs = s.drain(&root, "app.t", "g", 0, 7);
    assert_eq!(
        msgs.iter().map(|m| m.offset).collect::<Vec<_>>(),
        (0..30).collect::<Vec<u64>>()
    );
    assert_eq!(
        msgs.iter()
            .map(|m| m.key.clone().unwrap())
            .collect::<Vec<_>>(),
        (0..30).map(|i| i.to_string()).collect::<Vec<_>>()
    );
}

#[test]
fn ack_raises_the_cursor_and_is_not_validated() {
    let s = with_messages(builder(), 10);
    let root = s.root();
    assert_eq!(
        offsets_of(&s.consume_earliest(&root, "app.t", "g", 2)),
        vec![0, 1]
    );
    s.ack(&root, "app.t", "g", 0, 5);
    assert_eq!(
        offsets_of(&s.consume_earliest(&root, "app.t", "g", 2)),
        vec![6, 7],
        "cursor raised to upto + 1"
    );
    // The partition is not validated on ack.
    s.ack(&root, "app.t", "g", 7, 3);
    let b = s.root_sql("SELECT partition_id, last_acked_offset FROM system.topic_offsets WHERE group_id = 'g' ORDER BY partition_id");
    assert_eq!(rows(&b, 0), vec![json!([0, "5"]), json!([7, "3"])]);
}

#[test]
fn explicit_offset_past_the_end_waits_there() {
    let s = with_messages(builder(), 3);
    let root = s.root();
    let b = s.consume(&root, "app.t", "g", json!({"Offset": 5}), 10, 0);
    assert!(b.messages.is_empty());
    assert_eq!(b.next_offset, 5);
    insert(&s, 3, 4); // offsets 3..6
    assert_eq!(
        offsets_of(&s.consume(&root, "app.t", "g", json!({"Offset": 5}), 10, 0)),
        vec![5, 6]
    );
}

#[test]
fn an_ack_releases_exactly_the_claims_it_covers() {
    let s = with_messages(builder().visibility_timeout(2), 6);
    let root = s.root();
    assert_eq!(
        offsets_of(&s.consume_earliest(&root, "app.t", "g", 2)),
        vec![0, 1]
    );
    assert_eq!(
        offsets_of(&s.consume_earliest(&root, "app.t", "g", 2)),
        vec![2, 3]
    );
    assert_eq!(
        offsets_of(&s.consume_earliest(&root, "app.t", "g", 2)),
        vec![4, 5]
    );
    // Covers [0,2) fully and [2,4) only partly: the second claim stays pending.
    s.ack(&root, "app.t", "g", 0, 2);
    // Another partition's ack does not touch partition 0's claims.
    s.ack(&root, "app.t", "g", 1, 100);
    std::thread::sleep(Duration::from_millis(2600));
    let b = s.consume_earliest(&root, "app.t", "g", 10);
    assert_eq!(
        offsets_of(&b),
        vec![2, 3, 4, 5],
        "only the uncovered claims are re-delivered, from the smallest start"
    );
}

#[test]
fn claims_and_expiry_are_per_partition() {
    let s = builder().visibility_timeout(2).start();
    let root = s.root();
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql("CREATE SHARED TABLE app.letters (k TEXT PRIMARY KEY)");
    s.root_sql("CREATE TOPIC app.lt PARTITIONS 2");
    s.root_sql("ALTER TOPIC app.lt ADD SOURCE app.letters ON INSERT");
    // b, c -> partition 0; a, d -> partition 1 (docs/PROTOCOL.md §11 vector).
    s.root_sql("INSERT INTO app.letters (k) VALUES ('a'), ('b'), ('c'), ('d')");
    let p0 = s.consume(&root, "app.lt", "g", json!("Earliest"), 10, 0);
    let p1 = s.consume(&root, "app.lt", "g", json!("Earliest"), 10, 1);
    assert_eq!(offsets_of(&p0), vec![0, 1]);
    assert_eq!(offsets_of(&p1), vec![0, 1]);
    s.ack(&root, "app.lt", "g", 1, 1);
    std::thread::sleep(Duration::from_millis(2600));
    let p0 = s.consume(&root, "app.lt", "g", json!("Earliest"), 10, 0);
    let p1 = s.consume(&root, "app.lt", "g", json!("Earliest"), 10, 1);
    assert_eq!(
        offsets_of(&p0),
        vec![0, 1],
        "partition 0's unacked claim expired and comes back"
    );
    assert!(p1.messages.is_empty(), "partition 1 was acked");
    let keys: Vec<String> = p0.messages.iter().map(|m| m.key.clone().unwrap()).collect();
    assert_eq!(keys, vec!["b", "c"]);
}

#[test]
fn after_clear_topic_cursors_skip_missing_offsets_and_latest_uses_the_counter() {
    let s = with_messages(builder(), 3);
    let root = s.root();
    assert_eq!(
        offsets_of(&s.consume_earliest(&root, "app.t", "early", 1)),
        vec![0]
    );
    s.root_sql("CLEAR TOPIC app.t");
    assert!(eventually(Duration::from_secs(5), || s
        .consume_earliest(&root, "app.t", &format!("p{}", now_ms()), 10)
        .messages
        .is_empty()));
    let b = s.consume(&root, "app.t", "late", json!("Latest"), 10, 0);
    assert!(b.messages.is_empty());
    assert_eq!(
        b.next_offset, 3,
        "Latest = highest offset ever allocated + 1, even after CLEAR"
    );
    insert(&s, 3, 1);
    assert_eq!(
        offsets_of(&s.consume(&root, "app.t", "late", json!("Latest"), 10, 0)),
        vec![3]
    );
    assert_eq!(
        offsets_of(&s.consume_earliest(&root, "app.t", "early", 10)),
        vec![3],
        "missing offsets 1 and 2 are skipped"
    );
}
