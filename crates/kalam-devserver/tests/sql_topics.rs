//! docs/PROTOCOL.md §5.5: the SQL `CONSUME` and `ACK` statements (beyond issue 2's list, but the
//! dev server implements them, so they are held to the protocol too).
mod common;

use common::*;
use serde_json::{json, Value};

fn setup(s: &Server) {
    s.source_topic(
        "app",
        "CREATE USER TABLE app.notes (id BIGINT PRIMARY KEY, body TEXT)",
        "app.notes",
        "app.t",
        &["INSERT", "DELETE"],
    );
    let alice = s.user_token("alice", "user");
    s.sql_ok(
        &alice,
        "INSERT INTO app.notes (id, body) VALUES (1, 'a'), (2, 'b'), (3, 'c')",
    );
    s.sql_ok(&alice, "DELETE FROM app.notes WHERE id = 3");
}

fn offsets(b: &Value) -> Vec<Value> {
    rows(b, 0).iter().map(|r| r[2].clone()).collect()
}

#[test]
fn consume_without_group_is_a_stateless_read() {
    let s = start();
    setup(&s);
    let b = s.root_sql("CONSUME FROM app.t FROM EARLIEST LIMIT 3");
    assert_eq!(
        column_names(&b, 0),
        vec![
            "topic_id",
            "partition_id",
            "offset",
            "key",
            "payload",
            "timestamp_ms",
            "user_id",
            "op"
        ]
    );
    let rs = rows(&b, 0);
    assert_eq!(rs.len(), 3);
    let r0 = &rs[0];
    assert_eq!(r0[0], json!("app.t"));
    assert_eq!(r0[1], json!(0), "partition_id is an Int");
    assert_eq!(r0[2], json!("0"), "offset is a BigInt string");
    assert_eq!(r0[3], json!("1"));
    let bytes: Vec<u8> = r0[4]
        .as_array()
        .unwrap_or_else(|| panic!("payload is a JSON array of byte values: {r0}"))
        .iter()
        .map(|v| v.as_u64().unwrap() as u8)
        .collect();
    let payload: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(payload["body"], json!("a"));
    assert_eq!(payload["_table"], json!("app:notes"));
    assert!(
        r0[5].as_str().unwrap().parse::<u64>().unwrap() > 1_600_000_000_000,
        "timestamp_ms is a BigInt string"
    );
    assert_eq!(r0[6], json!("alice"));
    assert_eq!(r0[7], json!("insert"), "lowercase op in SQL");
    // No state: the same read again gives the same rows.
    let again = s.root_sql("CONSUME FROM app.t FROM EARLIEST LIMIT 3");
    assert_eq!(offsets(&again), vec![json!("0"), json!("1"), json!("2")]);
    let from2 = s.root_sql("CONSUME FROM app.t FROM 2 LIMIT 10");
    let ops: Vec<Value> = rows(&from2, 0).iter().map(|r| r[7].clone()).collect();
    assert_eq!(offsets(&from2), vec![json!("2"), json!("3")]);
    assert_eq!(ops, vec![json!("insert"), json!("delete")]);
    // Default position is LATEST.
    assert!(rows(&s.root_sql("CONSUME FROM app.t"), 0).is_empty());
}

#[test]
fn consume_with_group_claims_and_auto_acks() {
    let s = start();
    setup(&s);
    let b = s.root_sql("CONSUME FROM app.t GROUP 'sg' FROM EARLIEST LIMIT 2");
    assert_eq!(offsets(&b), vec![json!("0"), json!("1")]);
    let o = s.root_sql("SELECT last_acked_offset FROM system.topic_offsets WHERE group_id = 'sg'");
    assert_eq!(
        scalar(&o),
        json!("1"),
        "SQL CONSUME with GROUP auto-acks the last offset"
    );
    let b = s.root_sql("CONSUME FROM app.t GROUP 'sg' FROM EARLIEST LIMIT 10");
    assert_eq!(offsets(&b), vec![json!("2"), json!("3")]);
    // HTTP consumers of the same group continue after it.
    let root = s.root();
    assert!(s
        .consume_earliest(&root, "app.t", "sg", 10)
        .messages
        .is_empty());
}

#[test]
fn ack_statement_commits_and_echoes() {
    let s = start();
    setup(&s);
    let b = s.root_sql("ACK app.t GROUP 'ag' UPTO OFFSET 1");
    assert_eq!(
        column_names(&b, 0),
        vec!["topic", "group_id", "partition", "committed_offset"]
    );
    assert_eq!(rows(&b, 0), vec![json!(["app.t", "ag", 0, "1"])]);
    let root = s.root();
    assert_eq!(
        s.consume_earliest(&root, "app.t", "ag", 10).offsets(),
        vec![2, 3]
    );
    let b = s.root_sql("ACK app.t GROUP 'ag' PARTITION 0 UPTO OFFSET 0");
    assert_eq!(
        rows(&b, 0),
        vec![json!(["app.t", "ag", 0, "0"])],
        "echoes the requested offset"
    );
    let o = s.root_sql("SELECT last_acked_offset FROM system.topic_offsets WHERE group_id = 'ag'");
    assert_eq!(scalar(&o), json!("1"), "monotonic");
}

#[test]
fn consume_and_ack_statements_need_service_or_above() {
    let s = start();
    setup(&s);
    let usr = s.token("alice", "alice-pw");
    s.sql_err(
        &usr,
        "CONSUME FROM app.t FROM EARLIEST",
        403,
        "PERMISSION_DENIED",
    );
    s.sql_err(
        &usr,
        "ACK app.t GROUP 'g' UPTO OFFSET 0",
        403,
        "PERMISSION_DENIED",
    );
    let svc = s.user_token("svc", "service");
    assert_eq!(
        rows(
            &s.sql_ok(&svc, "CONSUME FROM app.t FROM EARLIEST LIMIT 1"),
            0
        )
        .len(),
        1
    );
    s.sql_ok(&svc, "ACK app.t GROUP 'g' UPTO OFFSET 0");
}
