//! Issue 2, point 9 (smoke level): big batches work; times are printed, not asserted tightly.
mod common;

use common::*;
use serde_json::json;
use std::time::Instant;

fn insert_rows(s: &Server, from: u64, n: u64, batch: u64) {
    let mut i = from;
    while i < from + n {
        let end = (i + batch).min(from + n);
        let values: Vec<String> = (i..end).map(|k| format!("({k}, 'body-{k}')")).collect();
        let b = s.root_sql(&format!(
            "INSERT INTO app.src (id, body) VALUES {}",
            values.join(", ")
        ));
        assert_eq!(b["results"][0]["row_count"], json!(end - i));
        i = end;
    }
}

#[test]
fn consume_and_ack_a_1000_message_batch() {
    let s = start();
    let root = s.root();
    s.source_topic(
        "app",
        "CREATE SHARED TABLE app.src (id BIGINT PRIMARY KEY, body TEXT)",
        "app.src",
        "app.t",
        &["INSERT"],
    );
    insert_rows(&s, 0, 1000, 500);
    // Warm-up on another group so the timed run measures steady state.
    s.consume_earliest(&root, "app.t", "warm", 10);
    let t0 = Instant::now();
    let b = s.consume_earliest(&root, "app.t", "g", 1000);
    let t_consume = t0.elapsed();
    let t1 = Instant::now();
    s.ack(&root, "app.t", "g", 0, 999);
    let t_ack = t1.elapsed();
    assert_eq!(b.offsets(), (0..1000).collect::<Vec<u64>>());
    assert!(b.has_more, "1000 messages with limit 1000 -> has_more");
    assert_eq!(b.next_offset, 1000);
    for (i, m) in b.messages.iter().enumerate() {
        assert_eq!(m.key.as_deref(), Some(i.to_string().as_str()));
        assert_eq!(m.payload["body"], json!(format!("body-{i}")));
    }
    assert!(s
        .consume_earliest(&root, "app.t", "g", 1000)
        .messages
        .is_empty());
    eprintln!("consume 1000 messages: {t_consume:?} (incl. HTTP + JSON + base64 decode in the test), ack: {t_ack:?}");
}

#[test]
fn ten_thousand_rows_in_batches_of_500_publish_10000_messages() {
    let s = start();
    let root = s.root();
    s.source_topic(
        "app",
        "CREATE SHARED TABLE app.src (id BIGINT PRIMARY KEY, body TEXT)",
        "app.src",
        "app.t",
        &["INSERT"],
    );
    let t0 = Instant::now();
    insert_rows(&s, 0, 10_000, 500);
    let t_insert = t0.elapsed();
    let t1 = Instant::now();
    let msgs = s.drain(&root, "app.t", "g", 0, 2000);
    let t_drain = t1.elapsed();
    assert_eq!(msgs.len(), 10_000);
    assert!(msgs.iter().enumerate().all(|(i, m)| m.offset == i as u64));
    assert_eq!(count(&s.root_sql("SELECT COUNT(*) FROM app.src")), 10_000);
    eprintln!(
        "insert 10000 rows in 20 statements: {t_insert:?}; drain 10000 messages: {t_drain:?}"
    );
}
