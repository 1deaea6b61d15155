//! Engine-level tests: SQL through `execute_request` and topics through `consume`/`ack`,
//! without HTTP, on a temporary database.

use super::{execute_request, Identity, SqlRequest};
use crate::store::options::EngineOptions;
use crate::store::session::Session;
use crate::store::Engine;
use crate::topics::consume::{ack, consume, StartPos};
use crate::users::Role;
use serde_json::{json, Value as Json};

fn engine(dir: &tempfile::TempDir) -> Engine {
    Engine::open(dir.path(), EngineOptions::default()).expect("open engine")
}

fn root() -> Identity {
    Identity {
        user_id: "root".into(),
        role: Role::System,
    }
}

fn sql(inner: &mut Session, who: &Identity, q: &str) -> (u16, Json) {
    execute_request(
        inner,
        who,
        SqlRequest {
            sql: q.into(),
            params: None,
            namespace_id: None,
            prehashed: Default::default(),
        },
    )
}

fn ok(inner: &mut Session, q: &str) -> Json {
    let (status, body) = sql(inner, &root(), q);
    assert_eq!(status, 200, "{q}: {body}");
    body
}

fn payload(m: &crate::topics::consume::StoredMessage) -> Json {
    serde_json::from_slice(&m.payload).expect("payload is JSON")
}

#[test]
fn cdc_payloads_keys_owner_and_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    let mut inner = e.session();
    ok(&mut inner, "CREATE NAMESPACE app");
    ok(
        &mut inner,
        "CREATE SHARED TABLE app.kv (k TEXT PRIMARY KEY, v BIGINT)",
    );
    ok(
        &mut inner,
        "CREATE USER TABLE app.notes (id BIGINT PRIMARY KEY, body TEXT)",
    );
    ok(&mut inner, "CREATE TOPIC app.kvt PARTITIONS 2");
    ok(&mut inner, "CREATE TOPIC app.nt");
    ok(
        &mut inner,
        "ALTER TOPIC app.kvt ADD SOURCE app.kv ON INSERT",
    );
    for op in ["INSERT", "UPDATE", "DELETE"] {
        ok(
            &mut inner,
            &format!("ALTER TOPIC app.nt ADD SOURCE app.notes ON {op} WITH (payload = 'key')"),
        );
    }
    ok(&mut inner, "INSERT INTO app.kv (k, v) VALUES ('a',1),('b',2),('c',3),('d',4),('e',5),('f',6),('g',7),('h',8)");
    let keys = |p: u32, inner: &mut Session| -> Vec<String> {
        consume(inner, "app.kvt", "g", p, StartPos::Earliest, 100)
            .unwrap()
            .messages
            .iter()
            .map(|m| m.key.clone().unwrap())
            .collect()
    };
    assert_eq!(keys(0, &mut inner), vec!["b", "c", "e", "g"]);
    assert_eq!(keys(1, &mut inner), vec!["a", "d", "f", "h"]);
    let m = consume(&mut inner, "app.kvt", "other", 0, StartPos::Earliest, 1).unwrap();
    let p = payload(&m.messages[0]);
    assert_eq!(p["v"], json!("2"), "BIGINT as a string");
    assert_eq!(p["_table"], json!("app:kv"));
    assert_eq!(p["_deleted"], json!(false));
    assert!(
        m.messages[0].user_id.is_none(),
        "no owner for shared tables"
    );

    ok(
        &mut inner,
        "EXECUTE AS USER 'alice' (INSERT INTO app.notes (id, body) VALUES (1, 'x'))",
    );
    ok(
        &mut inner,
        "EXECUTE AS USER 'alice' (UPDATE app.notes SET body = 'y' WHERE id = 1)",
    );
    let noop = ok(
        &mut inner,
        "EXECUTE AS USER 'alice' (UPDATE app.notes SET body = 'y' WHERE id = 1)",
    );
    assert_eq!(noop["results"][0]["row_count"], json!(0));
    ok(
        &mut inner,
        "EXECUTE AS USER 'alice' (DELETE FROM app.notes WHERE id = 1)",
    );
    let d = consume(&mut inner, "app.nt", "g", 0, StartPos::Earliest, 10).unwrap();
    let ops: Vec<&str> = d.messages.iter().map(|m| m.op.as_str()).collect();
    assert_eq!(
        ops,
        vec!["Insert", "Update", "Delete"],
        "a no-op UPDATE publishes nothing"
    );
    let last = payload(&d.messages[2]);
    assert_eq!(last["body"], json!("y"), "DELETE carries the old row");
    assert_eq!(last["_deleted"], json!(true));
    assert!(
        last.get("_table").is_none(),
        "payload mode key has no _table"
    );
    assert!(d
        .messages
        .iter()
        .all(|m| m.user_id.as_deref() == Some("alice") && m.key.as_deref() == Some("1")));
    let offsets: Vec<u64> = d.messages.iter().map(|m| m.offset).collect();
    assert_eq!(offsets, vec![0, 1, 2]);
}

#[test]
fn failed_statement_publishes_nothing_and_keeps_offsets_gapless() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    let mut inner = e.session();
    ok(&mut inner, "CREATE NAMESPACE app");
    ok(
        &mut inner,
        "CREATE SHARED TABLE app.t (id BIGINT PRIMARY KEY)",
    );
    ok(&mut inner, "CREATE TOPIC app.tt");
    ok(&mut inner, "ALTER TOPIC app.tt ADD SOURCE app.t ON INSERT");
    ok(&mut inner, "INSERT INTO app.t (id) VALUES (1)");
    let (status, body) = sql(
        &mut inner,
        &root(),
        "INSERT INTO app.t (id) VALUES (2), (1)",
    );
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Primary key violation"));
    ok(&mut inner, "INSERT INTO app.t (id) VALUES (3)");
    let d = consume(&mut inner, "app.tt", "g", 0, StartPos::Earliest, 10).unwrap();
    let offsets: Vec<u64> = d.messages.iter().map(|m| m.offset).collect();
    assert_eq!(offsets, vec![0, 1]);
}

#[test]
fn consume_start_resolution_next_offset_and_has_more() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    let mut inner = e.session();
    ok(&mut inner, "CREATE NAMESPACE app");
    ok(
        &mut inner,
        "CREATE SHARED TABLE app.t (id BIGINT PRIMARY KEY)",
    );
    ok(&mut inner, "CREATE TOPIC app.tt");
    ok(&mut inner, "ALTER TOPIC app.tt ADD SOURCE app.t ON INSERT");
    ok(&mut inner, "INSERT INTO app.t (id) VALUES (1), (2), (3)");
    let d = consume(&mut inner, "app.tt", "latest", 0, StartPos::Latest, 10).unwrap();
    assert!(d.messages.is_empty());
    assert_eq!(d.next_offset, 3);
    assert!(!d.has_more);
    let d = consume(&mut inner, "app.tt", "zero", 0, StartPos::Earliest, 0).unwrap();
    assert!(d.messages.is_empty() && d.has_more, "limit 0 -> has_more");
    ack(&mut inner, "app.tt", "acked", 0, 0).unwrap();
    let d = consume(&mut inner, "app.tt", "acked", 0, StartPos::Earliest, 2).unwrap();
    assert_eq!(
        d.messages.iter().map(|m| m.offset).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert!(d.has_more, "len == limit");
    assert_eq!(d.next_offset, 3);
    ack(&mut inner, "app.tt", "acked", 0, 2).unwrap();
    ack(&mut inner, "app.tt", "acked", 0, 1).unwrap();
    let stored = crate::topics::consume::committed_offset(&inner, "app.tt", "acked", 0).unwrap();
    assert_eq!(stored, Some(2), "ack is monotonic");
    assert!(consume(&mut inner, "app.nope", "g", 0, StartPos::Earliest, 1).is_err());
}

#[test]
fn errors_and_permissions() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    let mut inner = e.session();
    let user = Identity {
        user_id: "u1".into(),
        role: Role::User,
    };
    let (status, body) = sql(&mut inner, &user, "CREATE NAMESPACE x");
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (403, json!("PERMISSION_DENIED"))
    );
    let (status, body) = sql(&mut inner, &user, "SELECT * FROM system.topics");
    assert_eq!(status, 403, "{body}");
    let (status, body) = sql(&mut inner, &user, "SELECT * FROM app.missing");
    assert_eq!(status, 400);
    assert!(
        body["error"].get("details").is_none(),
        "no details for non-admins"
    );
    assert!(
        !body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("app.missing"),
        "redacted: {body}"
    );
    let (status, body) = sql(&mut inner, &root(), "SELEC 1");
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], json!("INVALID_SQL"));
    let (status, body) = sql(&mut inner, &user, "EXECUTE AS USER root (SELECT 1)");
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (403, json!("PERMISSION_DENIED"))
    );
    let (_, body) = sql(
        &mut inner,
        &root(),
        "SELECT CURRENT_USER() AS u, CURRENT_ROLE AS r",
    );
    assert_eq!(body["results"][0]["rows"], json!([["root", "system"]]));
}
