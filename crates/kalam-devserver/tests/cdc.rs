//! Issue 2, point 5: CDC messages produced by writes on source tables.
mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("payload must be an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

fn set(ks: &[&str]) -> BTreeSet<String> {
    ks.iter().map(|s| s.to_string()).collect()
}

fn seq(v: &Value, k: &str) -> u64 {
    v[k].as_str()
        .unwrap_or_else(|| panic!("{k} must be a string: {v}"))
        .parse()
        .unwrap_or_else(|_| panic!("{k} must be a decimal integer string: {v}"))
}

#[test]
fn user_table_insert_update_delete_payloads() {
    let s = start();
    let root = s.root();
    s.source_topic(
        "app",
        "CREATE USER TABLE app.orders (id BIGINT PRIMARY KEY DEFAULT SNOWFLAKE_ID(), status TEXT, meta JSON, \
         qty INT, created_at TIMESTAMP DEFAULT NOW())",
        "app.orders",
        "app.order_events",
        &["INSERT", "UPDATE", "DELETE"],
    );
    let alice = s.user_token("alice", "user");
    let t0 = now_ms();
    s.sql_ok(&alice, "INSERT INTO app.orders (id, status, meta, qty) VALUES (42, 'new', '{\"source\":\"web\"}', 3)");
    s.sql_ok(
        &alice,
        "UPDATE app.orders SET status = 'paid' WHERE id = 42",
    );
    s.sql_ok(&alice, "DELETE FROM app.orders WHERE id = 42");
    let t1 = now_ms();

    let b = s.consume_earliest(&root, "app.order_events", "g", 10);
    assert_eq!(
        b.offsets(),
        vec![0, 1, 2],
        "gapless offsets from 0: {}",
        b.raw
    );
    assert_eq!(b.next_offset, 3);
    assert!(!b.has_more);
    let ops: Vec<&str> = b.messages.iter().map(|m| m.op.as_str()).collect();
    assert_eq!(ops, vec!["Insert", "Update", "Delete"]);
    let full = set(&[
        "id",
        "status",
        "meta",
        "qty",
        "created_at",
        "_seq",
        "_commit_seq",
        "_deleted",
        "_table",
    ]);
    for m in &b.messages {
        assert_eq!(m.topic_id, "app.order_events");
        assert_eq!(m.partition, 0);
        assert_eq!(
            m.key.as_deref(),
            Some("42"),
            "key is the PK value as a plain string"
        );
        assert_eq!(m.user.as_deref(), Some("alice"), "user is the row owner");
        assert!(
            m.timestamp_ms >= t0 && m.timestamp_ms <= t1 + 1,
            "timestamp_ms {} not in [{t0}, {t1}]",
            m.timestamp_ms
        );
        assert_eq!(keys(&m.payload), full, "payload keys: {}", m.payload);
        assert_eq!(m.payload["id"], json!("42"), "BIGINT as string");
        assert_eq!(m.payload["_table"], json!("app:orders"), "colon form");
        assert_eq!(
            m.payload["meta"],
            json!("{\"source\":\"web\"}"),
            "JSON column is JSON text"
        );
        assert_eq!(m.payload["qty"], json!(3));
        assert!(
            m.payload["created_at"].as_u64().unwrap() > 1_600_000_000_000_000,
            "TIMESTAMP in µs"
        );
        seq(&m.payload, "_seq");
        seq(&m.payload, "_commit_seq");
    }
    let [ins, upd, del] = [
        &b.messages[0].payload,
        &b.messages[1].payload,
        &b.messages[2].payload,
    ];
    assert_eq!(ins["status"], json!("new"));
    assert_eq!(ins["_deleted"], json!(false));
    assert_eq!(upd["status"], json!("paid"), "UPDATE carries the new row");
    assert_eq!(upd["_deleted"], json!(false));
    assert_eq!(
        upd["created_at"], ins["created_at"],
        "UPDATE carries all columns merged onto the old row"
    );
    assert_eq!(
        del["status"],
        json!("paid"),
        "DELETE carries the previous row"
    );
    assert_eq!(del["_deleted"], json!(true));
    let seqs = [seq(ins, "_seq"), seq(upd, "_seq"), seq(del, "_seq")];
    assert!(
        seqs[0] != seqs[1] && seqs[1] != seqs[2] && seqs[0] != seqs[2],
        "each version has a new _seq: {seqs:?}"
    );
}

#[test]
fn shared_table_messages_have_no_user_field() {
    let s = start();
    let root = s.root();
    s.source_topic(
        "app",
        "CREATE SHARED TABLE app.kv (k TEXT PRIMARY KEY, v TEXT)",
        "app.kv",
        "app.kv_t",
        &["INSERT"],
    );
    let svc = s.user_token("svc", "service");
    s.sql_ok(&svc, "INSERT INTO app.kv (k, v) VALUES ('abc', 'x')");
    let b = s.consume_earliest(&root, "app.kv_t", "g", 10);
    assert_eq!(b.messages.len(), 1);
    let m = &b.messages[0];
    assert!(
        m.raw.as_object().unwrap().get("user").is_none(),
        "`user` must be omitted, not null: {}",
        m.raw
    );
    assert_eq!(
        m.key.as_deref(),
        Some("abc"),
        "TEXT PK key is the plain string"
    );
    assert_eq!(m.payload["_table"], json!("app:kv"));
    assert_eq!(m.payload["_deleted"], json!(false));
}

#[test]
fn stream_table_payload_and_null_key() {
    let s = start();
    let root = s.root();
    s.source_topic(
        "app",
        "CREATE STREAM TABLE app.signals (kind TEXT, body TEXT) WITH (TTL_SECONDS = 3600)",
        "app.signals",
        "app.sig",
        &["INSERT"],
    );
    let svc = s.user_token("emitter", "service");
    s.sql_ok(
        &svc,
        "INSERT INTO app.signals (kind, body) VALUES ('ping', 'x')",
    );
    let b = s.consume_earliest(&root, "app.sig", "g", 10);
    assert_eq!(b.messages.len(), 1, "{}", b.raw);
    let m = &b.messages[0];
    assert!(
        m.raw.as_object().unwrap().contains_key("key"),
        "key is always present"
    );
    assert_eq!(m.key, None, "no PK -> key null");
    assert_eq!(m.user.as_deref(), Some("emitter"));
    assert_eq!(
        keys(&m.payload),
        set(&["kind", "body", "_seq", "_table"]),
        "{}",
        m.payload
    );
    assert_eq!(m.payload["kind"], json!("ping"));
    assert_eq!(m.payload["_table"], json!("app:signals"));
    seq(&m.payload, "_seq");
}

#[test]
fn payload_modes_key_and_diff() {
    let s = start();
    let root = s.root();
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql("CREATE SHARED TABLE app.items (id BIGINT PRIMARY KEY, name TEXT, price DOUBLE)");
    s.root_sql("CREATE TOPIC app.by_key");
    s.root_sql("CREATE TOPIC app.by_diff");
    s.root_sql("CREATE TOPIC app.by_full");
    s.root_sql("ALTER TOPIC app.by_key ADD SOURCE app.items ON INSERT WITH (payload = 'key')");
    s.root_sql("ALTER TOPIC app.by_key ADD SOURCE app.items ON UPDATE WITH (payload = 'key')");
    s.root_sql("ALTER TOPIC app.by_diff ADD SOURCE app.items ON UPDATE WITH (payload = 'diff')");
    s.root_sql("ALTER TOPIC app.by_full ADD SOURCE app.items ON UPDATE WITH (payload = 'full')");
    s.root_sql("INSERT INTO app.items (id, name, price) VALUES (7, 'pen', 1.5)");
    s.root_sql("UPDATE app.items SET price = 2.5 WHERE id = 7");

    let k = s.consume_earliest(&root, "app.by_key", "g", 10);
    assert_eq!(k.messages.len(), 2);
    for m in &k.messages {
        assert_eq!(
            keys(&m.payload),
            set(&["id", "name", "price", "_seq", "_commit_seq", "_deleted"]),
            "key mode drops only _table: {}",
            m.payload
        );
        assert_eq!(m.payload["name"], json!("pen"));
    }
    assert_eq!(k.messages[1].payload["price"], json!(2.5));
    let d = s.consume_earliest(&root, "app.by_diff", "g", 10);
    let f = s.consume_earliest(&root, "app.by_full", "g", 10);
    assert_eq!(d.messages.len(), 1);
    assert_eq!(f.messages.len(), 1);
    assert_eq!(
        keys(&d.messages[0].payload),
        keys(&f.messages[0].payload),
        "diff == full"
    );
    assert_eq!(
        d.messages[0].payload["name"],
        json!("pen"),
        "diff still carries unchanged columns"
    );
    assert_eq!(d.messages[0].payload["_table"], json!("app:items"));
}

#[test]
fn partition_test_vector_from_section_11() {
    let s = start();
    let root = s.root();
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql("CREATE SHARED TABLE app.letters (k TEXT PRIMARY KEY, n INT)");
    s.root_sql("CREATE TOPIC app.letters_t PARTITIONS 2");
    s.root_sql("ALTER TOPIC app.letters_t ADD SOURCE app.letters ON INSERT");
    for (i, k) in ["a", "b", "c", "d", "e", "f", "g", "h"].iter().enumerate() {
        s.root_sql(&format!(
            "INSERT INTO app.letters (k, n) VALUES ('{k}', {i})"
        ));
    }
    let p0 = s.consume(&root, "app.letters_t", "g", json!("Earliest"), 100, 0);
    let p1 = s.consume(&root, "app.letters_t", "g", json!("Earliest"), 100, 1);
    let k0: Vec<String> = p0.messages.iter().map(|m| m.key.clone().unwrap()).collect();
    let k1: Vec<String> = p1.messages.iter().map(|m| m.key.clone().unwrap()).collect();
    assert_eq!(k0, vec!["b", "c", "e", "g"]);
    assert_eq!(k1, vec!["a", "d", "f", "h"]);
    assert_eq!(p0.offsets(), vec![0, 1, 2, 3]);
    assert_eq!(p1.offsets(), vec![0, 1, 2, 3]);
    assert!(p0.messages.iter().all(|m| m.partition == 0));
    assert!(p1.messages.iter().all(|m| m.partition == 1));
    // Same key -> same partition: an update of `a` goes to partition 1 as well.
    s.root_sql("ALTER TOPIC app.letters_t ADD SOURCE app.letters ON UPDATE");
    s.root_sql("UPDATE app.letters SET n = 100 WHERE k = 'a'");
    let p1 = s.consume(&root, "app.letters_t", "g", json!("Earliest"), 100, 1);
    assert_eq!(p1.offsets(), vec![4]);
    assert_eq!(p1.messages[0].op, "Update");
    assert_eq!(p1.messages[0].key.as_deref(), Some("a"));
    // Out-of-range partition just returns nothing.
    let p9 = s.consume(&root, "app.letters_t", "g", json!("Earliest"), 100, 9);
    assert!(p9.messages.is_empty());
}

#[test]
fn offsets_are_gapless_and_multi_row_insert_shares_timestamp() {
    let s = start();
    let root = s.root();
    s.source_topic(
        "app",
        "CREATE SHARED TABLE app.ev (id BIGINT PRIMARY KEY, v TEXT)",
        "app.ev",
        "app.ev_t",
        &["INSERT", "UPDATE"],
    );
    let mut next = 0;
    for batch in 0..5 {
        let values: Vec<String> = (0..5)
            .map(|i| {
                let id = batch * 5 + i;
                format!("({id}, 'v{id}')")
            })
            .collect();
        s.root_sql(&format!(
            "INSERT INTO app.ev (id, v) VALUES {}",
            values.join(", ")
        ));
        next += 5;
    }
    let b = s.consume_earliest(&root, "app.ev_t", "g", 1000);
    assert_eq!(b.offsets(), (0..next).collect::<Vec<u64>>());
    let ids: Vec<String> = b.messages.iter().map(|m| m.key.clone().unwrap()).collect();
    assert_eq!(
        ids,
        (0..next).map(|i| i.to_string()).collect::<Vec<_>>(),
        "messages in write order"
    );
    for chunk in b.messages.chunks(5) {
        assert!(
            chunk
                .iter()
                .all(|m| m.timestamp_ms == chunk[0].timestamp_ms),
            "one multi-row INSERT shares one timestamp_ms"
        );
    }
    // A multi-row UPDATE: one message per row.
    let u = s.root_sql("UPDATE app.ev SET v = 'changed' WHERE id < 3");
    assert_eq!(u["results"][0]["row_count"], json!(3));
    let b = s.consume_earliest(&root, "app.ev_t", "g", 1000);
    assert_eq!(b.offsets(), vec![next, next + 1, next + 2]);
    assert!(b
        .messages
        .iter()
        .all(|m| m.op == "Update" && m.payload["v"] == json!("changed")));
}

#[test]
fn only_routed_operations_and_later_writes_publish() {
    let s = start();
    let root = s.root();
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql("CREATE SHARED TABLE app.a (id BIGINT PRIMARY KEY, v TEXT)");
    s.root_sql("CREATE SHARED TABLE app.b (id BIGINT PRIMARY KEY, v TEXT)");
    s.root_sql("INSERT INTO app.a (id, v) VALUES (1, 'before the route')");
    s.root_sql("CREATE TOPIC app.t1");
    s.root_sql("CREATE TOPIC app.t2");
    s.root_sql("ALTER TOPIC app.t1 ADD SOURCE app.a ON INSERT");
    s.root_sql("ALTER TOPIC app.t2 ADD SOURCE app.a ON INSERT");
    s.root_sql("INSERT INTO app.b (id, v) VALUES (1, 'other table')");
    s.root_sql("UPDATE app.a SET v = 'updated' WHERE id = 1");
    s.root_sql("DELETE FROM app.a WHERE id = 1");
    s.root_sql("INSERT INTO app.a (id, v) VALUES (2, 'after')");
    for t in ["app.t1", "app.t2"] {
        let b = s.consume_earliest(&root, t, "g", 100);
        assert_eq!(
            b.messages.len(),
            1,
            "{t}: no backfill, only INSERT routed, only table a: {}",
            b.raw
        );
        assert_eq!(b.messages[0].offset, 0);
        assert_eq!(b.messages[0].payload["v"], json!("after"));
    }
    // A no-op UPDATE produces no message.
    s.root_sql("ALTER TOPIC app.t1 ADD SOURCE app.a ON UPDATE");
    s.root_sql("UPDATE app.a SET v = 'after' WHERE id = 2");
    assert!(
        s.consume_earliest(&root, "app.t1", "g", 100)
            .messages
            .is_empty(),
        "no-op update publishes nothing"
    );
    s.root_sql("UPDATE app.a SET v = 'really' WHERE id = 2");
    assert_eq!(
        s.consume_earliest(&root, "app.t1", "g", 100).offsets(),
        vec![1]
    );
}

#[test]
fn execute_as_user_write_is_owned_by_the_target() {
    let s = start();
    let root = s.root();
    s.source_topic(
        "app",
        "CREATE USER TABLE app.inbox (id TEXT PRIMARY KEY, body TEXT)",
        "app.inbox",
        "app.inbox_t",
        &["INSERT"],
    );
    s.create_user("alice", "user");
    let svc = s.user_token("svc", "service");
    s.sql_ok(
        &svc,
        "EXECUTE AS USER 'alice' (INSERT INTO app.inbox (id, body) VALUES ('m1', 'hi'))",
    );
    s.sql_ok(
        &svc,
        "INSERT INTO app.inbox (id, body) VALUES ('m1', 'own')",
    );
    // Impersonating a user that does not exist: the message has no `user`.
    s.sql_ok(
        &svc,
        "EXECUTE AS USER 'ghost' (INSERT INTO app.inbox (id, body) VALUES ('m2', 'boo'))",
    );
    let b = s.consume_earliest(&root, "app.inbox_t", "g", 10);
    assert_eq!(b.messages.len(), 3);
    assert_eq!(b.messages[0].user.as_deref(), Some("alice"));
    assert_eq!(b.messages[1].user.as_deref(), Some("svc"));
    assert_eq!(
        b.messages[0].key, b.messages[1].key,
        "USER-table keys do not include the owner"
    );
    assert_eq!(
        b.messages[2].user, None,
        "unresolvable producer id -> `user` omitted: {}",
        b.messages[2].raw
    );
}

#[test]
fn writes_with_params_publish_their_values() {
    let s = start();
    let root = s.root();
    s.source_topic(
        "app",
        "CREATE SHARED TABLE app.p (id BIGINT PRIMARY KEY, body TEXT, ok BOOLEAN)",
        "app.p",
        "app.p_t",
        &["INSERT"],
    );
    s.sql_params_ok(
        &root,
        "INSERT INTO app.p (id, body, ok) VALUES ($1, $2, $3)",
        json!([5, "q\"uote", true]),
    );
    let b = s.consume_earliest(&root, "app.p_t", "g", 10);
    assert_eq!(b.messages.len(), 1);
    let p = &b.messages[0].payload;
    assert_eq!(p["id"], json!("5"));
    assert_eq!(p["body"], json!("q\"uote"));
    assert_eq!(p["ok"], json!(true));
    assert_eq!(b.messages[0].key.as_deref(), Some("5"));
}

#[test]
fn route_where_filter_is_stored_but_not_evaluated() {
    let s = start();
    let root = s.root();
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql("CREATE SHARED TABLE app.f (id BIGINT PRIMARY KEY, v TEXT)");
    s.root_sql("CREATE TOPIC app.ft");
    s.root_sql(
        "ALTER TOPIC app.ft ADD SOURCE app.f ON INSERT WHERE v = 'keep' WITH (payload = 'full')",
    );
    s.root_sql("INSERT INTO app.f (id, v) VALUES (1, 'keep'), (2, 'drop')");
    let b = s.consume_earliest(&root, "app.ft", "g", 10);
    assert_eq!(
        b.messages.len(),
        2,
        "WHERE on a route is ignored: {}",
        b.raw
    );
    let t = s.root_sql("SELECT routes FROM system.topics WHERE topic_id = 'app.ft'");
    let routes: Value = serde_json::from_str(scalar(&t).as_str().unwrap()).unwrap();
    assert!(
        routes[0]["filter_expr"].is_string(),
        "the filter is stored: {routes}"
    );
}

#[test]
fn bare_source_table_means_default_namespace_and_existence_is_not_checked() {
    let s = start();
    let root = s.root();
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql("CREATE SHARED TABLE default.bare (id BIGINT PRIMARY KEY)");
    s.root_sql("CREATE SHARED TABLE app.bare (id BIGINT PRIMARY KEY)");
    s.root_sql("CREATE TOPIC app.bt");
    let b = s.sql_body(
        &root,
        &json!({"sql": "ALTER TOPIC app.bt ADD SOURCE bare ON INSERT", "namespace_id": "app"}),
    );
    expect_sql_ok(&b, "bare source");
    s.root_sql("ALTER TOPIC app.bt ADD SOURCE app.not_yet ON INSERT");
    s.root_sql("INSERT INTO app.bare (id) VALUES (1)");
    s.root_sql("INSERT INTO default.bare (id) VALUES (2)");
    s.root_sql("CREATE SHARED TABLE app.not_yet (id BIGINT PRIMARY KEY)");
    s.root_sql("INSERT INTO app.not_yet (id) VALUES (3)");
    let b = s.consume_earliest(&root, "app.bt", "g", 10);
    let tables: Vec<Value> = b
        .messages
        .iter()
        .map(|m| m.payload["_table"].clone())
        .collect();
    assert_eq!(
        tables,
        vec![json!("default:bare"), json!("app:not_yet")],
        "{}",
        b.raw
    );
}

#[test]
fn transaction_publishes_at_commit_only() {
    let s = start();
    let root = s.root();
    s.source_topic(
        "app",
        "CREATE SHARED TABLE app.tx (id BIGINT PRIMARY KEY)",
        "app.tx",
        "app.txt",
        &["INSERT"],
    );
    let r = s.sql(
        &root,
        "BEGIN; INSERT INTO app.tx (id) VALUES (1); INSERT INTO app.tx (id) VALUES (1); COMMIT",
    );
    assert_eq!(r.status, 400, "{r}");
    assert!(
        s.consume_earliest(&root, "app.txt", "g", 10)
            .messages
            .is_empty(),
        "a rolled-back transaction publishes nothing"
    );
    s.root_sql(
        "BEGIN; INSERT INTO app.tx (id) VALUES (1); INSERT INTO app.tx (id) VALUES (2); COMMIT",
    );
    assert_eq!(
        s.consume_earliest(&root, "app.txt", "g", 10).offsets(),
        vec![0, 1],
        "gapless after the rollback"
    );
}

#[test]
fn drop_and_recreate_topic_continues_offsets_in_process() {
    let s = start();
    let root = s.root();
    s.source_topic(
        "app",
        "CREATE SHARED TABLE app.src (id BIGINT PRIMARY KEY)",
        "app.src",
        "app.t",
        &["INSERT"],
    );
    s.root_sql("INSERT INTO app.src (id) VALUES (1), (2), (3)");
    s.root_sql("DROP TOPIC app.t");
    s.root_sql("INSERT INTO app.src (id) VALUES (4)");
    s.root_sql("CREATE TOPIC app.t");
    s.root_sql("ALTER TOPIC app.t ADD SOURCE app.src ON INSERT");
    s.root_sql("INSERT INTO app.src (id) VALUES (5)");
    let b = s.consume_earliest(&root, "app.t", "fresh", 10);
    let keys: Vec<String> = b.messages.iter().map(|m| m.key.clone().unwrap()).collect();
    assert!(
        keys.contains(&"5".to_string()) && !keys.contains(&"4".to_string()),
        "{}",
        b.raw
    );
    assert_eq!(
        b.messages.last().unwrap().offset,
        3,
        "counter continues after DROP + CREATE: {}",
        b.raw
    );
}

#[test]
fn unicode_quotes_and_large_values_round_trip() {
    let s = start();
    let root = s.root();
    s.source_topic(
        "app",
        "CREATE SHARED TABLE app.txt (id TEXT PRIMARY KEY, body TEXT)",
        "app.txt",
        "app.txt_t",
        &["INSERT"],
    );
    let fancy = "héllo wörld ✓ 日本語 🚀 \"double\" 'single' back\\slash\nnewline\ttab";
    s.sql_params_ok(
        &root,
        "INSERT INTO app.txt (id, body) VALUES ($1, $2)",
        json!(["ключ-🔑", fancy]),
    );
    s.root_sql("INSERT INTO app.txt (id, body) VALUES ('lit', 'it''s ünïcødé — ok')");
    let big = "x".repeat(400 * 1024) + "END";
    s.sql_params_ok(
        &root,
        "INSERT INTO app.txt (id, body) VALUES ($1, $2)",
        json!(["big", big]),
    );

    let b = s.root_sql("SELECT id, body FROM app.txt ORDER BY id");
    let got: Vec<(Value, Value)> = rows(&b, 0)
        .iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect();
    assert!(
        got.contains(&(json!("ключ-🔑"), json!(fancy))),
        "SELECT round trip"
    );
    assert!(
        got.contains(&(json!("lit"), json!("it's ünïcødé — ok"))),
        "'' escaping in literals"
    );
    assert!(got.contains(&(json!("big"), json!(big))), "400 KiB value");

    let m = s.consume_earliest(&root, "app.txt_t", "g", 10).messages;
    assert_eq!(m.len(), 3);
    assert_eq!(m[0].key.as_deref(), Some("ключ-🔑"));
    assert_eq!(
        m[0].payload["body"],
        json!(fancy),
        "payload is UTF-8 JSON in base64"
    );
    assert_eq!(m[1].payload["body"], json!("it's ünïcødé — ok"));
    assert_eq!(
        m[2].payload["body"].as_str().map(|s| s.len()),
        Some(big.len())
    );
}

#[test]
fn impersonated_updates_and_deletes_are_owned_by_the_target() {
    let s = start();
    let root = s.root();
    s.source_topic(
        "app",
        "CREATE USER TABLE app.todo (id BIGINT PRIMARY KEY, done BOOLEAN)",
        "app.todo",
        "app.todo_t",
        &["INSERT", "UPDATE", "DELETE"],
    );
    let alice = s.user_token("alice", "user");
    let svc = s.user_token("worker", "service");
    s.sql_ok(&alice, "INSERT INTO app.todo (id, done) VALUES (1, false)");
    let b = s.sql_params_ok(
        &svc,
        "EXECUTE AS USER 'alice' (UPDATE app.todo SET done = $1 WHERE id = $2)",
        json!([true, 1]),
    );
    assert_eq!(b["results"][0]["row_count"], json!(1));
    s.sql_ok(
        &svc,
        "EXECUTE AS USER 'alice' (DELETE FROM app.todo WHERE id = 1)",
    );
    let m = s.consume_earliest(&root, "app.todo_t", "g", 10).messages;
    let got: Vec<(&str, Option<&str>, Value)> = m
        .iter()
        .map(|m| (m.op.as_str(), m.user.as_deref(), m.payload["done"].clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("Insert", Some("alice"), json!(false)),
            ("Update", Some("alice"), json!(true)),
            ("Delete", Some("alice"), json!(true))
        ]
    );
    assert_eq!(m[2].payload["_deleted"], json!(true));
}
