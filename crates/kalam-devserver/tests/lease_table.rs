//! Issue 12: every statement a consumer-group lease table uses works for a `service` account
//! in a namespace root created, with the real server's response shapes (PROTOCOL §2.2, §2.3,
//! §11): BIGINT as strings, INT as numbers, BOOLEAN as true/false, the DML messages.
mod common;

use common::*;
use serde_json::{json, Value};

const CREATE: &str = "CREATE SHARED TABLE IF NOT EXISTS app.consumer_leases (lease_key TEXT PRIMARY KEY, \
     topic_id TEXT NOT NULL, group_id TEXT NOT NULL, partition_id INT NOT NULL, epoch BIGINT NOT NULL, \
     owner_id TEXT NOT NULL, expires_at_ms BIGINT NOT NULL, released BOOLEAN)";
const INSERT: &str =
    "INSERT INTO app.consumer_leases (lease_key, topic_id, group_id, partition_id, epoch, \
     owner_id, expires_at_ms, released) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
const SELECT: &str = "SELECT lease_key, partition_id, epoch, owner_id, expires_at_ms, released \
     FROM app.consumer_leases WHERE topic_id = $1 AND group_id = $2 \
     ORDER BY partition_id, epoch DESC LIMIT 1000";
const RENEW: &str = "UPDATE app.consumer_leases SET expires_at_ms = $1 WHERE lease_key = $2";
const RELEASE: &str = "UPDATE app.consumer_leases SET released = true WHERE lease_key = $1";
const PRUNE: &str = "DELETE FROM app.consumer_leases WHERE topic_id = $1 AND group_id = $2 \
     AND partition_id = $3 AND epoch < $4";

/// The single result of a DML statement: `{row_count, message, as_user}` and nothing else.
fn assert_dml(b: &Value, row_count: u64, message: &str) {
    assert_eq!(
        b["results"],
        json!([{ "row_count": row_count, "message": message, "as_user": "leaser" }]),
        "{b}"
    );
    assert!(b.get("error").is_none(), "`error` is omitted for DML: {b}");
}

fn leases(s: &Server, token: &str, group: &str) -> Value {
    s.sql_params_ok(token, SELECT, json!(["app.events", group]))
}

#[test]
fn a_service_account_runs_the_lease_statements() {
    let s = start();
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql("CREATE TOPIC app.events PARTITIONS 2");
    let svc = s.user_token("leaser", "service");

    // A SHARED table in a namespace the service account did not create.
    let created = s.sql_ok(&svc, CREATE);
    assert_eq!(
        created["results"],
        json!([{
            "row_count": 0,
            "message": "CREATE TABLE via Raft consensus: shared table app.consumer_leases created successfully",
            "as_user": "leaser"
        }]),
        "{created}"
    );
    // Every worker runs it at start: the second time is not an error.
    s.sql_ok(&svc, CREATE);

    let rows_to_insert = [
        json!([
            "app.events/g1/0/1",
            "app.events",
            "g1",
            0,
            1,
            "worker-a",
            1_700_000_000_000i64,
            false
        ]),
        json!([
            "app.events/g1/0/2",
            "app.events",
            "g1",
            0,
            2,
            "worker-b",
            1_700_000_005_000i64,
            null
        ]),
        json!([
            "app.events/g1/1/1",
            "app.events",
            "g1",
            1,
            1,
            "worker-a",
            1_700_000_000_000i64,
            false
        ]),
        json!([
            "app.events/g2/0/1",
            "app.events",
            "g2",
            0,
            1,
            "worker-z",
            1_700_000_000_000i64,
            false
        ]),
    ];
    for params in &rows_to_insert {
        assert_dml(
            &s.sql_params_ok(&svc, INSERT, params.clone()),
            1,
            "Inserted 1 row(s)",
        );
    }
    // Taking a lease someone already holds: the INSERT is exclusive.
    let dup = s.sql_params(&svc, INSERT, rows_to_insert[0].clone());
    let dup = expect_sql_error(&dup, 400, "SQL_EXECUTION_ERROR");
    let message = dup["error"]["message"].as_str().unwrap();
    assert!(message.contains("Primary key violation"), "{dup}");
    assert!(
        dup["error"].get("details").is_none(),
        "no details for a service: {dup}"
    );

    let b = leases(&s, &svc, "g1");
    assert_eq!(
        b["error"],
        json!(null),
        "a single SELECT ends with error: null: {b}"
    );
    assert_eq!(
        b["results"][0]["schema"],
        json!([
            {"name": "lease_key", "data_type": "Text", "index": 0, "flags": ["pk", "nn", "uq"]},
            {"name": "partition_id", "data_type": "Int", "index": 1, "flags": ["nn"]},
            {"name": "epoch", "data_type": "BigInt", "index": 2, "flags": ["nn"]},
            {"name": "owner_id", "data_type": "Text", "index": 3, "flags": ["nn"]},
            {"name": "expires_at_ms", "data_type": "BigInt", "index": 4, "flags": ["nn"]},
            {"name": "released", "data_type": "Boolean", "index": 5},
        ]),
        "{b}"
    );
    assert_eq!(
        b["results"][0]["rows"],
        json!([
            [
                "app.events/g1/0/2",
                0,
                "2",
                "worker-b",
                "1700000005000",
                null
            ],
            [
                "app.events/g1/0/1",
                0,
                "1",
                "worker-a",
                "1700000000000",
                false
            ],
            [
                "app.events/g1/1/1",
                1,
                "1",
                "worker-a",
                "1700000000000",
                false
            ],
        ]),
        "ordered by partition, newest epoch first; BIGINT as strings: {b}"
    );
    assert_eq!(b["results"][0]["row_count"], json!(3));
    assert_eq!(b["results"][0]["as_user"], json!("leaser"));

    assert_dml(
        &s.sql_params_ok(
            &svc,
            RENEW,
            json!([1_700_000_009_000i64, "app.events/g1/0/2"]),
        ),
        1,
        "Updated 1 row(s)",
    );
    assert_dml(
        &s.sql_params_ok(&svc, RELEASE, json!(["app.events/g1/1/1"])),
        1,
        "Updated 1 row(s)",
    );
    // Releasing again changes nothing: a no-op UPDATE counts 0 rows.
    assert_dml(
        &s.sql_params_ok(&svc, RELEASE, json!(["app.events/g1/1/1"])),
        0,
        "Updated 0 row(s)",
    );
    // Older epochs of partition 0 of g1 go; g2's row with the same epoch stays.
    assert_dml(
        &s.sql_params_ok(&svc, PRUNE, json!(["app.events", "g1", 0, 2])),
        1,
        "Deleted 1 row(s)",
    );

    assert_eq!(
        leases(&s, &svc, "g1")["results"][0]["rows"],
        json!([
            [
                "app.events/g1/0/2",
                0,
                "2",
                "worker-b",
                "1700000009000",
                null
            ],
            [
                "app.events/g1/1/1",
                1,
                "1",
                "worker-a",
                "1700000000000",
                true
            ],
        ])
    );
    assert_eq!(
        leases(&s, &svc, "g2")["results"][0]["rows"],
        json!([[
            "app.events/g2/0/1",
            0,
            "1",
            "worker-z",
            "1700000000000",
            false
        ]])
    );

    // What the service account still may not do: read the topic catalogue.
    let denied = s.sql_err(
        &svc,
        "SELECT * FROM system.topics",
        403,
        "PERMISSION_DENIED",
    );
    assert!(
        denied["error"]["message"].as_str().unwrap().contains(
            "Role 'Service' cannot access table 'system.topics'. System tables require 'dba' or 'system' role."
        ),
        "{denied}"
    );
}
