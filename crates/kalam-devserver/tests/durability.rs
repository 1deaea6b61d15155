//! Issue 2, point 2: SIGKILL + restart on the same data directory loses no acknowledged write;
//! offsets continue without gaps; committed offsets are kept; claims are forgotten.
mod common;

use common::*;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

#[test]
fn everything_acknowledged_survives_sigkill() {
    let mut s = start();
    let root = s.root();
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql("CREATE USER TABLE app.notes (id BIGINT PRIMARY KEY, body TEXT)");
    s.root_sql("CREATE SHARED TABLE app.src (id BIGINT PRIMARY KEY, v TEXT)");
    s.root_sql("CREATE TOPIC app.t PARTITIONS 2");
    s.root_sql("ALTER TOPIC app.t ADD SOURCE app.src ON INSERT");
    let alice = s.user_token("alice", "service");
    s.sql_ok(
        &alice,
        "INSERT INTO app.notes (id, body) VALUES (1, 'kept')",
    );
    s.root_sql("INSERT INTO app.src (id, v) VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd'), (5, 'e'), (6, 'f')");
    s.root_sql("UPDATE app.src SET v = 'B' WHERE id = 2");
    s.root_sql("DELETE FROM app.src WHERE id = 6");
    let p0 = s.consume_earliest(&root, "app.t", "g", 100);
    let p1 = s.consume(&root, "app.t", "g", json!("Earliest"), 100, 1);
    assert_eq!(p0.messages.len() + p1.messages.len(), 6);
    let before0 = p0.offsets();
    let before1 = p1.offsets();

    s.kill9_restart();
    let root = s.root();
    // Users, rows, updates and deletes survived.
    let alice = s.token("alice", "alice-pw");
    assert_eq!(
        rows(&s.sql_ok(&alice, "SELECT body FROM app.notes"), 0),
        vec![json!(["kept"])]
    );
    let b = s.root_sql("SELECT id, v FROM app.src ORDER BY id");
    assert_eq!(
        rows(&b, 0),
        vec![
            json!(["1", "a"]),
            json!(["2", "B"]),
            json!(["3", "c"]),
            json!(["4", "d"]),
            json!(["5", "e"])
        ]
    );
    // Topic, routes and messages survived; never-acked group starts over from its start position.
    assert_eq!(
        s.consume(&root, "app.t", "g", json!("Earliest"), 100, 0)
            .offsets(),
        before0,
        "claims were forgotten"
    );
    assert_eq!(
        s.consume(&root, "app.t", "g", json!("Earliest"), 100, 1)
            .offsets(),
        before1
    );
    // Offsets continue without gaps after the restart.
    s.root_sql("INSERT INTO app.src (id, v) VALUES (10, 'x'), (11, 'y'), (12, 'z'), (13, 'w')");
    let n0 = s
        .consume(&root, "app.t", "fresh", json!("Earliest"), 100, 0)
        .offsets();
    let n1 = s
        .consume(&root, "app.t", "fresh", json!("Earliest"), 100, 1)
        .offsets();
    assert_eq!(
        n0,
        (0..n0.len() as u64).collect::<Vec<_>>(),
        "partition 0 gapless: {n0:?}"
    );
    assert_eq!(
        n1,
        (0..n1.len() as u64).collect::<Vec<_>>(),
        "partition 1 gapless: {n1:?}"
    );
    assert_eq!(n0.len() + n1.len(), 10);
}

#[test]
fn committed_offsets_are_kept_and_claims_forgotten() {
    let mut s = start(); // default visibility timeout (60 s): only a restart can release claims
    let root = s.root();
    s.source_topic(
        "app",
        "CREATE SHARED TABLE app.src (id BIGINT PRIMARY KEY)",
        "app.src",
        "app.t",
        &["INSERT"],
    );
    let vals: Vec<String> = (0..10).map(|i| format!("({i})")).collect();
    s.root_sql(&format!(
        "INSERT INTO app.src (id) VALUES {}",
        vals.join(", ")
    ));
    assert_eq!(
        s.consume_earliest(&root, "app.t", "g", 4).offsets(),
        vec![0, 1, 2, 3]
    );
    s.ack(&root, "app.t", "g", 0, 3);
    // Claimed but never acked.
    assert_eq!(
        s.consume_earliest(&root, "app.t", "g", 3).offsets(),
        vec![4, 5, 6]
    );
    // Another group acks past its claim with a prefix.
    assert_eq!(
        s.consume_earliest(&root, "app.t", "h", 5).offsets(),
        vec![0, 1, 2, 3, 4]
    );
    s.ack(&root, "app.t", "h", 0, 1);

    s.kill9_restart();
    let root = s.root();
    let b = s
        .root_sql("SELECT group_id, last_acked_offset FROM system.topic_offsets ORDER BY group_id");
    assert_eq!(rows(&b, 0), vec![json!(["g", "3"]), json!(["h", "1"])]);
    // Resume from committed + 1, whatever `start` says; the unacked claim comes back at once.
    assert_eq!(
        s.consume(&root, "app.t", "g", json!("Latest"), 3, 0)
            .offsets(),
        vec![4, 5, 6]
    );
    assert_eq!(
        s.consume(&root, "app.t", "h", json!({"Offset": 9}), 100, 0)
            .offsets(),
        (2..10).collect::<Vec<u64>>()
    );
    // A group without a committed offset uses `start`.
    assert_eq!(
        s.consume(&root, "app.t", "new", json!({"Offset": 8}), 100, 0)
            .offsets(),
        vec![8, 9]
    );
    s.root_sql("INSERT INTO app.src (id) VALUES (100)");
    assert_eq!(
        s.consume(&root, "app.t", "new", json!("Earliest"), 100, 0)
            .offsets(),
        vec![10],
        "counter reseeded, no reuse"
    );
}

#[test]
fn tokens_survive_a_restart_with_the_same_secret() {
    let mut s = start();
    let tok = s.root();
    s.root_sql("CREATE NAMESPACE app");
    s.kill9_restart();
    expect_sql_ok(&s.sql(&tok, "SELECT 1"), "old token after restart");
    let r = s.sql(&tok, "CREATE NAMESPACE app");
    expect_sql_error(&r, 400, "SQL_EXECUTION_ERROR");
}

#[test]
fn clear_topic_then_restart_starts_offsets_again_at_zero() {
    let mut s = start();
    let root = s.root();
    s.source_topic(
        "app",
        "CREATE SHARED TABLE app.src (id BIGINT PRIMARY KEY)",
        "app.src",
        "app.t",
        &["INSERT"],
    );
    s.root_sql("INSERT INTO app.src (id) VALUES (1), (2), (3)");
    s.root_sql("CLEAR TOPIC app.t");
    assert!(eventually(Duration::from_secs(5), || s
        .consume_earliest(&root, "app.t", &format!("p{}", now_ms()), 10)
        .messages
        .is_empty()));
    s.kill9_restart();
    let root = s.root();
    s.root_sql("INSERT INTO app.src (id) VALUES (4)");
    assert_eq!(
        s.consume_earliest(&root, "app.t", "g", 10).offsets(),
        vec![0]
    );
}

#[test]
fn writes_acknowledged_right_before_sigkill_are_not_lost() {
    let mut s = start();
    let root = s.root();
    s.source_topic(
        "app",
        "CREATE SHARED TABLE app.src (id BIGINT PRIMARY KEY, v TEXT)",
        "app.src",
        "app.t",
        &["INSERT"],
    );
    let acked = Mutex::new(Vec::<u64>::new());
    let stop = AtomicBool::new(false);
    let base = s.base.clone();
    let tok = root.clone();
    std::thread::scope(|sc| {
        for w in 0..3u64 {
            let (acked, stop, base, tok) = (&acked, &stop, &base, &tok);
            sc.spawn(move || {
                let auth = format!("Bearer {tok}");
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let id = w * 1_000_000 + i;
                    let body =
                        format!(r#"{{"sql":"INSERT INTO app.src (id, v) VALUES ({id}, 'x')"}}"#);
                    let r = http(
                        base,
                        "POST",
                        "/v1/api/sql",
                        &[
                            ("Content-Type", "application/json"),
                            ("Authorization", &auth),
                        ],
                        Some(body.as_bytes()),
                    );
                    match r {
                        Ok(r) if r.status == 200 => acked.lock().unwrap().push(id),
                        _ => {} // in flight when killed: may or may not be stored
                    }
                    i += 1;
                }
            });
        }
        std::thread::sleep(Duration::from_millis(1500));
        s.kill9();
        stop.store(true, Ordering::Relaxed);
    });
    let acked = acked.into_inner().unwrap();
    assert!(
        acked.len() > 10,
        "writers made progress before the kill: {}",
        acked.len()
    );
    s.start_again();
    let root = s.root();
    let stored: std::collections::HashSet<u64> = s
        .all_rows(&root, "SELECT id FROM app.src ORDER BY id")
        .iter()
        .map(|r| r[0].as_str().unwrap().parse().unwrap())
        .collect();
    let lost: Vec<&u64> = acked.iter().filter(|id| !stored.contains(id)).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged rows lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    // Each stored row has exactly one message and the offsets are 0..n without gaps.
    let msgs = s.drain(&root, "app.t", "g", 0, 1000);
    let offsets: Vec<u64> = msgs.iter().map(|m| m.offset).collect();
    assert_eq!(
        offsets,
        (0..offsets.len() as u64).collect::<Vec<_>>(),
        "gapless offsets"
    );
    let keys: std::collections::HashSet<u64> = msgs
        .iter()
        .map(|m| m.key.as_ref().unwrap().parse().unwrap())
        .collect();
    assert_eq!(keys.len(), msgs.len(), "one message per row");
    for id in &acked {
        assert!(keys.contains(id), "acknowledged row {id} has no message");
    }
    // New writes continue after the last stored offset.
    s.root_sql("INSERT INTO app.src (id, v) VALUES (999999999, 'after')");
    let b = s.consume_earliest(&root, "app.t", "g", 10);
    assert_eq!(b.offsets(), vec![offsets.len() as u64]);
    eprintln!(
        "{} acknowledged writes, {} stored rows, {} messages",
        acked.len(),
        stored.len(),
        msgs.len()
    );
}

#[test]
fn schema_routes_and_users_survive_a_restart() {
    let mut s = start();
    let root = s.root();
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql("CREATE USER TABLE app.u (id BIGINT PRIMARY KEY DEFAULT SNOWFLAKE_ID(), body TEXT NOT NULL, at TIMESTAMP DEFAULT NOW())");
    s.root_sql("CREATE TOPIC app.k PARTITIONS 4");
    s.root_sql("ALTER TOPIC app.k ADD SOURCE app.u ON INSERT WITH (payload = 'key')");
    s.create_user("svc", "service");
    s.create_user("plain", "user");
    s.root_sql("ALTER USER svc SET PASSWORD 'svc-new-pw'");
    let before = s.root_sql("SELECT topic_id, partitions, routes FROM system.topics");

    s.kill9_restart();
    let root2 = s.root();
    assert_eq!(
        s.root_sql("SELECT topic_id, partitions, routes FROM system.topics")["results"][0]["rows"],
        before["results"][0]["rows"]
    );
    expect_auth_error(&s.login("svc", "svc-pw"), 401, "unauthorized");
    let svc = s.token("svc", "svc-new-pw");
    let plain = s.token("plain", "plain-pw");
    expect_topic_error(
        &s.consume_raw(&plain, &json!({"topic_id": "app.k", "group_id": "g"})),
        403,
        "FORBIDDEN",
    );
    // Defaults, NOT NULL and per-user isolation still apply.
    s.sql_ok(&svc, "INSERT INTO app.u (body) VALUES ('x')");
    let r = s.sql(&svc, "INSERT INTO app.u (id) VALUES (5)");
    assert_eq!(r.status, 400, "NOT NULL kept: {r}");
    let b = s.sql_ok(&svc, "SELECT id, body, at FROM app.u");
    let row = &rows(&b, 0)[0];
    assert!(
        row[0].as_str().unwrap().parse::<i64>().unwrap() > 0 && row[2].as_u64().unwrap() > 0,
        "{b}"
    );
    assert_eq!(count(&s.root_sql("SELECT COUNT(*) FROM app.u")), 0);
    // The route kept its payload mode (key: no _table) and the topic its 4 partitions.
    let mut found = Vec::new();
    for p in 0..4 {
        found.extend(
            s.consume(&root2, "app.k", "g", json!("Earliest"), 10, p)
                .messages,
        );
    }
    assert_eq!(found.len(), 1);
    assert!(
        found[0].payload.get("_table").is_none(),
        "{}",
        found[0].payload
    );
    assert_eq!(found[0].user.as_deref(), Some("svc"));
    // The old root token (same secret) is still valid.
    expect_sql_ok(&s.sql(&root, "SELECT 1"), "old token");
}

#[test]
fn sigkill_during_big_inserts_leaves_whole_statements_and_their_messages() {
    let mut s = start();
    let root = s.root();
    s.source_topic(
        "app",
        "CREATE SHARED TABLE app.src (id BIGINT PRIMARY KEY, v TEXT)",
        "app.src",
        "app.t",
        &["INSERT"],
    );
    let rows_per = 2000u64;
    let stop = AtomicBool::new(false);
    let acked = Mutex::new(0u64);
    let base = s.base.clone();
    std::thread::scope(|sc| {
        let (stop, acked, base, root) = (&stop, &acked, &base, &root);
        sc.spawn(move || {
            let auth = format!("Bearer {root}");
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let vals: Vec<String> = (0..rows_per).map(|i| format!("({}, 'v')", n * rows_per + i)).collect();
                let body = json!({"sql": format!("INSERT INTO app.src (id, v) VALUES {}", vals.join(", "))}).to_string();
                match http(base, "POST", "/v1/api/sql", &[("Content-Type", "application/json"), ("Authorization", &auth)], Some(body.as_bytes())) {
                    Ok(r) if r.status == 200 => *acked.lock().unwrap() += 1,
                    _ => break,
                }
                n += 1;
            }
        });
        let t0 = std::time::Instant::now();
        while *acked.lock().unwrap() < 3 && t0.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(5));
        }
        // Kill somewhere inside a later statement.
        std::thread::sleep(Duration::from_millis(7));
        s.kill9();
        stop.store(true, Ordering::Relaxed);
    });
    let acked = acked.into_inner().unwrap();
    assert!(acked >= 3, "writer made progress: {acked}");
    s.start_again();
    let root = s.root();
    let stored = count(&s.root_sql("SELECT COUNT(*) FROM app.src"));
    assert_eq!(
        stored % rows_per,
        0,
        "a multi-row INSERT is all or nothing: {stored} rows"
    );
    assert!(
        stored >= acked * rows_per,
        "acknowledged statements kept: {stored} < {}",
        acked * rows_per
    );
    let msgs = s.drain(&root, "app.t", "g", 0, 5000);
    assert_eq!(
        msgs.len() as u64,
        stored,
        "every stored row has its message"
    );
    assert!(
        msgs.iter().enumerate().all(|(i, m)| m.offset == i as u64),
        "gapless"
    );
}

#[test]
fn tokens_survive_a_restart_without_an_explicit_secret() {
    let mut s = builder().no_jwt_secret_arg().start();
    let tok = s.root();
    s.kill9_restart();
    expect_sql_ok(&s.sql(&tok, "SELECT 1"), "token issued before the restart");
}
