//! Issue 2, point 4: the SQL subset, response shapes, cell encodings and error codes.
mod common;

use common::*;
use serde_json::{json, Value};

fn result(b: &Value, i: usize) -> &Value {
    &b["results"][i]
}

#[test]
fn create_namespace_messages_and_if_not_exists() {
    let s = start();
    let b = s.root_sql("CREATE NAMESPACE app");
    let r = result(&b, 0);
    assert_eq!(
        r["message"],
        json!("Namespace 'app' created successfully"),
        "{b}"
    );
    assert_eq!(r["row_count"], json!(0));
    assert_eq!(r["as_user"], json!("root"));
    assert!(
        r.get("rows").is_none() && r.get("schema").is_none(),
        "DDL has no rows/schema: {b}"
    );
    assert!(b.get("error").is_none(), "`error` is omitted for DDL: {b}");
    assert_eq!(b["results"].as_array().unwrap().len(), 1);

    let b = s.root_sql("CREATE NAMESPACE IF NOT EXISTS app");
    assert!(
        result(&b, 0)["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("already exists"),
        "{b}"
    );

    let e = s.sql_err(
        &s.root(),
        "CREATE NAMESPACE app",
        400,
        "SQL_EXECUTION_ERROR",
    );
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(msg.starts_with("Statement 1 failed: "), "{msg}");
    assert!(msg.to_lowercase().contains("already exists"), "{msg}");
    // details (the SQL) is sent to system users.
    assert_eq!(e["error"]["details"], json!("CREATE NAMESPACE app"), "{e}");
}

#[test]
fn namespace_and_admin_statements_need_dba() {
    let s = start();
    let svc = s.user_token("svc", "service");
    let usr = s.user_token("usr", "user");
    let dba = s.user_token("adm", "dba");
    for t in [&svc, &usr] {
        s.sql_err(t, "CREATE NAMESPACE nope", 403, "PERMISSION_DENIED");
        s.sql_err(
            t,
            "CREATE USER x1 WITH PASSWORD 'p' ROLE user",
            403,
            "PERMISSION_DENIED",
        );
        s.sql_err(t, "SELECT * FROM system.topics", 403, "PERMISSION_DENIED");
    }
    s.sql_ok(&dba, "CREATE NAMESPACE byadmin");
    s.root_sql("CREATE TOPIC byadmin.t");
    s.sql_err(&svc, "CREATE TOPIC byadmin.t2", 403, "PERMISSION_DENIED");
    s.sql_err(&svc, "DROP TOPIC byadmin.t", 403, "PERMISSION_DENIED");
    s.sql_err(&svc, "CLEAR TOPIC byadmin.t", 403, "PERMISSION_DENIED");
    s.sql_err(
        &svc,
        "ALTER TOPIC byadmin.t ADD SOURCE byadmin.x ON INSERT",
        403,
        "PERMISSION_DENIED",
    );
    // Non-admin error bodies never carry `details`.
    let e = s.sql_err(&svc, "CREATE NAMESPACE nope", 403, "PERMISSION_DENIED");
    assert!(e["error"].get("details").is_none(), "{e}");
}

#[test]
fn select_schema_flags_and_cell_encodings() {
    let s = start();
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql(
        "CREATE SHARED TABLE app.cells (id BIGINT PRIMARY KEY, body TEXT, n INT NOT NULL, ok BOOLEAN, \
         d DOUBLE, big BIGINT, ts TIMESTAMP DEFAULT NOW(), j JSON)",
    );
    let before_us = now_ms() * 1000;
    let ins = s.root_sql(
        "INSERT INTO app.cells (id, body, n, ok, d, big, j) VALUES (7291839012000001, 'hello', 5, true, 2.5, 42, '{\"a\":1}')",
    );
    let after_us = (now_ms() + 1) * 1000;
    assert_eq!(result(&ins, 0)["message"], json!("Inserted 1 row(s)"));
    assert_eq!(result(&ins, 0)["row_count"], json!(1));
    assert!(ins.get("error").is_none(), "`error` omitted for DML: {ins}");

    let b = s.root_sql("SELECT id, body, n, ok, d, big, ts, j FROM app.cells");
    assert_eq!(b["error"], json!(null));
    assert!(
        b.as_object().unwrap().contains_key("error"),
        "single SELECT ends with `error: null`: {b}"
    );
    let r = result(&b, 0);
    assert_eq!(
        r["schema"],
        json!([
            {"name": "id", "data_type": "BigInt", "index": 0, "flags": ["pk", "nn", "uq"]},
            {"name": "body", "data_type": "Text", "index": 1},
            {"name": "n", "data_type": "Int", "index": 2, "flags": ["nn"]},
            {"name": "ok", "data_type": "Boolean", "index": 3},
            {"name": "d", "data_type": "Double", "index": 4},
            {"name": "big", "data_type": "BigInt", "index": 5},
            {"name": "ts", "data_type": "Timestamp", "index": 6},
            {"name": "j", "data_type": "Json", "index": 7},
        ]),
        "{b}"
    );
    assert_eq!(r["row_count"], json!(1));
    assert_eq!(r["as_user"], json!("root"));
    let row = &r["rows"][0];
    assert_eq!(row[0], json!("7291839012000001"), "BIGINT is a string");
    assert_eq!(row[1], json!("hello"));
    assert_eq!(row[2], json!(5), "INT is a number");
    assert_eq!(row[3], json!(true));
    assert_eq!(row[4], json!(2.5));
    assert_eq!(row[5], json!("42"));
    let ts = row[6]
        .as_u64()
        .unwrap_or_else(|| panic!("TIMESTAMP must be a number of microseconds: {row}"));
    assert!(
        ts >= before_us.saturating_sub(2_000_000) && ts <= after_us + 2_000_000,
        "ts {ts} not now in µs ({before_us}..{after_us})"
    );
    assert_eq!(row[7], json!("{\"a\":1}"), "JSON columns are JSON text");
}

#[test]
fn timestamp_literal_is_returned_in_microseconds() {
    let s = start();
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql("CREATE SHARED TABLE app.t (id BIGINT PRIMARY KEY, at TIMESTAMP)");
    s.root_sql("INSERT INTO app.t (id, at) VALUES (1, '2025-01-02T03:04:05Z')");
    let b = s.root_sql("SELECT at FROM app.t WHERE id = 1");
    assert_eq!(scalar(&b), json!(1_735_787_045_000_000u64), "{b}");
}

#[test]
fn three_table_kinds_and_with_options() {
    let s = start();
    s.root_sql("CREATE NAMESPACE app");
    let ok = [
        "CREATE USER TABLE app.u1 (id BIGINT PRIMARY KEY, v TEXT)",
        "CREATE SHARED TABLE app.s1 (id BIGINT PRIMARY KEY, v TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')",
        "CREATE STREAM TABLE app.st1 (kind TEXT, body TEXT) WITH (TTL_SECONDS = 3600)",
        "CREATE TABLE app.u2 (id BIGINT PRIMARY KEY, v TEXT) WITH (TYPE = 'USER')",
        "CREATE TABLE app.s2 (id BIGINT PRIMARY KEY, v TEXT)",
        "CREATE TABLE app.st2 (kind TEXT) WITH (TYPE = 'STREAM', TTL_SECONDS = 60)",
        "CREATE USER TABLE IF NOT EXISTS app.u1 (id BIGINT PRIMARY KEY, v TEXT)",
        "CREATE SHARED TABLE app.s3 (id BIGINT, v TEXT NOT NULL, PRIMARY KEY (id))",
    ];
    for q in ok {
        s.root_sql(q);
    }
    let bad = [
        "CREATE USER TABLE app.u1 (id BIGINT PRIMARY KEY, v TEXT)",
        "CREATE USER TABLE app.nopk (v TEXT)",
        "CREATE SHARED TABLE app.nopk2 (v TEXT)",
        "CREATE STREAM TABLE app.nottl (kind TEXT)",
        "CREATE SHARED TABLE app.badttl (id BIGINT PRIMARY KEY) WITH (TTL_SECONDS = 5)",
        "CREATE USER TABLE app.badacl (id BIGINT PRIMARY KEY) WITH (ACCESS_LEVEL = 'PUBLIC')",
        "CREATE SHARED TABLE app.cpk (a BIGINT, b BIGINT, PRIMARY KEY (a, b))",
        "CREATE SHARED TABLE nons.t (id BIGINT PRIMARY KEY)",
    ];
    for q in bad {
        let r = s.sql(&s.root(), q);
        assert_eq!(r.status, 400, "`{q}` must fail: {r}");
        assert_eq!(r.json()["status"], json!("error"), "{q}");
    }

    // Kinds by behaviour: USER tables are per user, SHARED tables are global.
    let a = s.user_token("alice", "service");
    let b = s.user_token("bob", "service");
    for (t, who) in [(&a, 1), (&b, 2)] {
        s.sql_ok(
            t,
            &format!("INSERT INTO app.u1 (id, v) VALUES ({who}, 'x')"),
        );
        s.sql_ok(
            t,
            &format!("INSERT INTO app.u2 (id, v) VALUES ({who}, 'x')"),
        );
        s.sql_ok(
            t,
            &format!("INSERT INTO app.s2 (id, v) VALUES ({who}, 'x')"),
        );
        s.sql_ok(t, "INSERT INTO app.st1 (kind, body) VALUES ('k', 'b')");
    }
    for tbl in ["app.u1", "app.u2", "app.st1"] {
        assert_eq!(
            count(&s.sql_ok(&a, &format!("SELECT COUNT(*) FROM {tbl}"))),
            1,
            "{tbl} is per user"
        );
    }
    assert_eq!(
        count(&s.sql_ok(&a, "SELECT COUNT(*) FROM app.s2")),
        2,
        "untyped table is SHARED"
    );
}

#[test]
fn dml_insert_update_delete_select() {
    let s = start();
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql("CREATE SHARED TABLE app.items (id BIGINT PRIMARY KEY, kind TEXT, n INT, label TEXT DEFAULT 'none')");
    let b = s.root_sql(
        "INSERT INTO app.items (id, kind, n) VALUES (1, 'a', 10), (2, 'b', 20), (3, 'a', 30), (4, 'c', 40), (5, 'a', 50)",
    );
    assert_eq!(result(&b, 0)["message"], json!("Inserted 5 row(s)"));
    assert_eq!(result(&b, 0)["row_count"], json!(5));

    let b = s.root_sql("SELECT id, n FROM app.items WHERE n > 15 ORDER BY n DESC LIMIT 2");
    assert_eq!(rows(&b, 0), vec![json!(["5", 50]), json!(["4", 40])]);
    assert_eq!(result(&b, 0)["row_count"], json!(2));

    let b = s.root_sql("SELECT label FROM app.items WHERE id = 3");
    assert_eq!(scalar(&b), json!("none"), "literal DEFAULT");

    let b = s.root_sql("UPDATE app.items SET n = n + 1, label = 'x' WHERE kind = 'a'");
    assert_eq!(result(&b, 0)["message"], json!("Updated 3 row(s)"));
    assert_eq!(result(&b, 0)["row_count"], json!(3));
    let b = s.root_sql("SELECT id, n, label FROM app.items WHERE kind = 'a' ORDER BY id");
    assert_eq!(
        rows(&b, 0),
        vec![
            json!(["1", 11, "x"]),
            json!(["3", 31, "x"]),
            json!(["5", 51, "x"])
        ]
    );

    // No-op update counts 0 rows.
    let b = s.root_sql("UPDATE app.items SET label = 'x' WHERE id = 1");
    assert_eq!(result(&b, 0)["row_count"], json!(0), "{b}");

    let b = s.root_sql("DELETE FROM app.items WHERE n >= 40");
    assert_eq!(result(&b, 0)["message"], json!("Deleted 2 row(s)"));
    let b = s.root_sql("SELECT COUNT(*) AS n FROM app.items");
    assert_eq!(
        result(&b, 0)["schema"],
        json!([{"name": "n", "data_type": "BigInt", "index": 0}])
    );
    assert_eq!(rows(&b, 0), vec![json!(["3"])]);

    let b = s.root_sql("SELECT COUNT(*) FROM app.items");
    assert_eq!(column_names(&b, 0), vec!["count(*)"]);
    assert_eq!(count(&b), 3);

    let b = s.root_sql("SELECT kind, COUNT(*) AS c FROM app.items GROUP BY kind ORDER BY kind");
    assert_eq!(rows(&b, 0), vec![json!(["a", "2"]), json!(["b", "1"])]);

    // Duplicate primary key.
    let e = s.sql_err(
        &s.root(),
        "INSERT INTO app.items (id, kind, n) VALUES (1, 'dup', 0)",
        400,
        "SQL_EXECUTION_ERROR",
    );
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Primary key violation"),
        "{e}"
    );
    assert_eq!(
        count(&s.root_sql("SELECT COUNT(*) FROM app.items")),
        3,
        "failed insert changed nothing"
    );

    // Empty result: rows is [] and row_count 0.
    let b = s.root_sql("SELECT id FROM app.items WHERE id = 999");
    assert_eq!(rows(&b, 0), Vec::<Value>::new());
    assert_eq!(result(&b, 0)["row_count"], json!(0));
}

#[test]
fn default_functions() {
    let s = start();
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql(
        "CREATE SHARED TABLE app.d (id BIGINT PRIMARY KEY DEFAULT SNOWFLAKE_ID(), u TEXT DEFAULT ULID(), \
         v TEXT DEFAULT UUID_V7(), at TIMESTAMP DEFAULT NOW(), body TEXT)",
    );
    s.root_sql("INSERT INTO app.d (body) VALUES ('one')");
    s.root_sql("INSERT INTO app.d (body) VALUES ('two'), ('three')");
    let b = s.root_sql("SELECT id, u, v, at, body FROM app.d ORDER BY id");
    let rs = rows(&b, 0);
    assert_eq!(rs.len(), 3);
    let ids: Vec<i64> = rs
        .iter()
        .map(|r| r[0].as_str().expect("snowflake as string").parse().unwrap())
        .collect();
    assert!(ids.iter().all(|i| *i > 0));
    let mut uniq = ids.clone();
    uniq.dedup();
    assert_eq!(uniq.len(), 3, "snowflake ids are unique: {ids:?}");
    assert_eq!(
        rs[0][4],
        json!("one"),
        "snowflake ids are time ordered: {rs:?}"
    );
    for r in &rs {
        let ulid = r[1].as_str().unwrap();
        assert_eq!(ulid.len(), 26, "ULID {ulid}");
        let uuid = r[2].as_str().unwrap();
        assert_eq!(uuid.len(), 36, "UUID {uuid}");
        assert_eq!(&uuid[14..15], "7", "UUID v7 {uuid}");
        assert!(
            r[3].as_u64().unwrap() > 1_600_000_000_000_000,
            "NOW() in µs: {r}"
        );
    }
    assert_ne!(rs[0][1], rs[1][1]);
}

#[test]
fn params_and_their_json_mapping() {
    let s = start();
    let t = s.root();
    let b = s.sql_params_ok(
        &t,
        "SELECT $1 AS a, $2 AS b, $3 AS c, $4 AS d",
        json!([42, 1.5, true, "x"]),
    );
    let types: Vec<Value> = result(&b, 0)["schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["data_type"].clone())
        .collect();
    assert_eq!(
        types,
        vec![
            json!("BigInt"),
            json!("Double"),
            json!("Boolean"),
            json!("Text")
        ],
        "{b}"
    );
    assert_eq!(rows(&b, 0), vec![json!(["42", 1.5, true, "x"])]);
    let b = s.sql_params_ok(&t, "SELECT $1 AS n", json!([null]));
    assert_eq!(scalar(&b), json!(null));

    s.root_sql("CREATE NAMESPACE app");
    s.root_sql(
        "CREATE SHARED TABLE app.p (id BIGINT PRIMARY KEY, t TEXT, b BOOLEAN, d DOUBLE, n TEXT)",
    );
    let b = s.sql_params_ok(
        &t,
        "INSERT INTO app.p (id, t, b, d, n) VALUES ($1, $2, $3, $4, $5)",
        json!([9, "it's", false, 0.25, null]),
    );
    assert_eq!(result(&b, 0)["message"], json!("Inserted 1 row(s)"));
    let b = s.sql_params_ok(
        &t,
        "SELECT id, t, b, d, n FROM app.p WHERE id = $1",
        json!([9]),
    );
    assert_eq!(rows(&b, 0), vec![json!(["9", "it's", false, 0.25, null])]);
    let b = s.sql_params_ok(
        &t,
        "UPDATE app.p SET t = $1 WHERE id = $2",
        json!(["new; DROP TABLE app.p", 9]),
    );
    assert_eq!(result(&b, 0)["row_count"], json!(1));
    let b = s.sql_params_ok(&t, "SELECT t FROM app.p WHERE id = $1", json!([9]));
    assert_eq!(
        scalar(&b),
        json!("new; DROP TABLE app.p"),
        "params are values, never SQL"
    );
    let b = s.sql_params_ok(&t, "DELETE FROM app.p WHERE id = $1", json!([9]));
    assert_eq!(result(&b, 0)["message"], json!("Deleted 1 row(s)"));
}

#[test]
fn object_and_array_params_are_invalid_parameter() {
    let s = start();
    let t = s.root();
    let r = s.sql_params(&t, "SELECT $1", json!([{"a": 1}]));
    let e = expect_sql_error(&r, 400, "INVALID_PARAMETER");
    let m = e["error"]["message"].as_str().unwrap();
    assert!(m.contains("$1"), "message names the parameter: {m}");
    assert_eq!(
        m,
        "Parameter $1 invalid: Object parameters not yet supported"
    );
    let r = s.sql_params(&t, "SELECT $1, $2", json!([1, [2, 3]]));
    let e = expect_sql_error(&r, 400, "INVALID_PARAMETER");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("$2"),
        "{e}"
    );
}

#[test]
fn params_with_batch_and_empty_sql() {
    let s = start();
    let t = s.root();
    expect_sql_error(
        &s.sql_params(&t, "SELECT 1; SELECT 2", json!([1])),
        400,
        "PARAMS_WITH_BATCH",
    );
    expect_sql_error(&s.sql(&t, ""), 400, "EMPTY_SQL");
}

#[test]
fn batch_results_order_per_section_11() {
    let s = start();
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql("CREATE SHARED TABLE app.b (id BIGINT PRIMARY KEY, v TEXT)");
    let b = s.root_sql("INSERT INTO app.b (id, v) VALUES (1, 'a'); INSERT INTO app.b (id, v) VALUES (2, 'b'); SELECT COUNT(*) AS n FROM app.b");
    let rs = b["results"].as_array().unwrap();
    assert_eq!(rs.len(), 2, "{b}");
    assert_eq!(rs[0]["rows"], json!([["2"]]), "SELECT first: {b}");
    assert_eq!(rs[1]["row_count"], json!(2));
    assert_eq!(rs[1]["message"], json!("Inserted 2 row(s)"));
    assert_eq!(rs[1]["as_user"], json!("root"));
    assert!(b.get("error").is_none(), "batches omit `error`: {b}");

    let b = s.root_sql("SELECT 1; SELECT 2");
    let rs = b["results"].as_array().unwrap();
    assert_eq!(rs.len(), 2);
    assert_eq!(column_names(&b, 0), vec!["Int64(1)"]);
    assert_eq!(column_names(&b, 1), vec!["Int64(2)"]);
    assert_eq!(rs[0]["rows"], json!([["1"]]));
    assert_eq!(rs[1]["rows"], json!([["2"]]));

    // DDL keeps its place; DML sums go last in the order Inserted, Updated, Deleted.
    let b = s.root_sql(
        "INSERT INTO app.b (id, v) VALUES (3, 'c'), (4, 'd'); DELETE FROM app.b WHERE id = 1; \
         CREATE NAMESPACE other; UPDATE app.b SET v = 'z' WHERE id >= 3; SELECT v FROM app.b ORDER BY id",
    );
    let rs = b["results"].as_array().unwrap();
    assert_eq!(rs.len(), 5, "{b}");
    assert_eq!(
        rs[0]["message"],
        json!("Namespace 'other' created successfully")
    );
    assert_eq!(rs[1]["rows"], json!([["b"], ["z"], ["z"]]));
    assert_eq!(rs[2]["message"], json!("Inserted 2 row(s)"));
    assert_eq!(rs[3]["message"], json!("Updated 2 row(s)"));
    assert_eq!(rs[4]["message"], json!("Deleted 1 row(s)"));
}

#[test]
fn batch_stops_at_first_failure_keeping_earlier_statements() {
    let s = start();
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql("CREATE SHARED TABLE app.b (id BIGINT PRIMARY KEY)");
    let r = s.sql(&s.root(), "INSERT INTO app.b (id) VALUES (1); INSERT INTO app.missing (id) VALUES (2); INSERT INTO app.b (id) VALUES (3)");
    let e = expect_sql_error(&r, 400, "SQL_EXECUTION_ERROR");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Statement 2 failed"),
        "{e}"
    );
    let b = s.root_sql("SELECT id FROM app.b ORDER BY id");
    assert_eq!(
        rows(&b, 0),
        vec![json!(["1"])],
        "first statement applied, third not run"
    );
}

#[test]
fn namespace_id_resolves_unqualified_names() {
    let s = start();
    let t = s.root();
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql("CREATE SHARED TABLE app.nt (id BIGINT PRIMARY KEY, v TEXT)");
    s.root_sql("CREATE SHARED TABLE default.dt (id BIGINT PRIMARY KEY, v TEXT)");
    let r = s.sql_body(
        &t,
        &json!({"sql": "INSERT INTO nt (id, v) VALUES (1, 'in app')", "namespace_id": "app"}),
    );
    expect_sql_ok(&r, "insert with namespace_id");
    assert_eq!(scalar(&s.root_sql("SELECT v FROM app.nt")), json!("in app"));
    s.root_sql("INSERT INTO dt (id, v) VALUES (1, 'in default')");
    assert_eq!(
        scalar(&s.root_sql("SELECT v FROM default.dt")),
        json!("in default")
    );
    // `namespace` (not `namespace_id`) is an unknown field and is ignored.
    let r = s.sql_body(&t, &json!({"sql": "SELECT v FROM nt", "namespace": "app"}));
    assert_eq!(r.status, 400, "`nt` is not in `default`: {r}");
}

#[test]
fn user_tables_isolate_rows_per_user() {
    let s = start();
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql("CREATE USER TABLE app.notes (id BIGINT PRIMARY KEY, body TEXT)");
    let alice = s.user_token("alice", "user");
    let bob = s.user_token("bob", "service");
    let b = s.sql_ok(
        &alice,
        "INSERT INTO app.notes (id, body) VALUES (1, 'alice-1'), (2, 'alice-2')",
    );
    assert_eq!(result(&b, 0)["as_user"], json!("alice"));
    // Same primary key for another user is fine: rows are per user.
    s.sql_ok(&bob, "INSERT INTO app.notes (id, body) VALUES (1, 'bob-1')");
    let a = s.sql_ok(&alice, "SELECT id, body FROM app.notes ORDER BY id");
    assert_eq!(
        rows(&a, 0),
        vec![json!(["1", "alice-1"]), json!(["2", "alice-2"])]
    );
    assert_eq!(result(&a, 0)["as_user"], json!("alice"));
    let b = s.sql_ok(&bob, "SELECT id, body FROM app.notes");
    assert_eq!(rows(&b, 0), vec![json!(["1", "bob-1"])]);
    // system/dba do not see other users' rows.
    assert_eq!(count(&s.root_sql("SELECT COUNT(*) FROM app.notes")), 0);
    // Updates and deletes are scoped too.
    let u = s.sql_ok(&bob, "UPDATE app.notes SET body = 'hacked'");
    assert_eq!(result(&u, 0)["row_count"], json!(1));
    let d = s.sql_ok(&bob, "DELETE FROM app.notes WHERE id = 2");
    assert_eq!(result(&d, 0)["row_count"], json!(0));
    let a = s.sql_ok(&alice, "SELECT body FROM app.notes ORDER BY id");
    assert_eq!(rows(&a, 0), vec![json!(["alice-1"]), json!(["alice-2"])]);
}

#[test]
fn shared_table_access_levels() {
    let s = start();
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql("CREATE SHARED TABLE app.priv (id BIGINT PRIMARY KEY, v TEXT)");
    s.root_sql("CREATE SHARED TABLE app.pub (id BIGINT PRIMARY KEY, v TEXT) WITH (ACCESS_LEVEL = 'PUBLIC')");
    s.root_sql("INSERT INTO app.priv (id, v) VALUES (1, 'p')");
    s.root_sql("INSERT INTO app.pub (id, v) VALUES (1, 'q')");
    let usr = s.user_token("usr", "user");
    let svc = s.user_token("svc", "service");
    assert_eq!(
        count(&s.sql_ok(&svc, "SELECT COUNT(*) FROM app.priv")),
        1,
        "service reads private shared tables"
    );
    assert_eq!(
        count(&s.sql_ok(&usr, "SELECT COUNT(*) FROM app.pub")),
        1,
        "user reads public tables"
    );
    let r = s.sql(&usr, "SELECT * FROM app.priv");
    assert!(
        r.status == 403 || r.status == 400,
        "user must not read private tables: {r}"
    );
    let r = s.sql(&usr, "INSERT INTO app.pub (id, v) VALUES (2, 'x')");
    assert!(
        r.status == 403 || r.status == 400,
        "user never writes shared tables: {r}"
    );
    assert_eq!(count(&s.root_sql("SELECT COUNT(*) FROM app.pub")), 1);
    s.sql_ok(&svc, "INSERT INTO app.priv (id, v) VALUES (2, 'from svc')");
}

#[test]
fn execute_as_user_scopes_and_reports_as_user() {
    let s = start();
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql("CREATE USER TABLE app.inbox (id BIGINT PRIMARY KEY, body TEXT)");
    let alice = s.user_token("alice", "user");
    let svc = s.user_token("svc", "service");
    let b = s.sql_ok(
        &svc,
        "EXECUTE AS USER 'alice' (INSERT INTO app.inbox (id, body) VALUES (1, 'for alice'))",
    );
    assert_eq!(result(&b, 0)["as_user"], json!("alice"));
    assert_eq!(result(&b, 0)["message"], json!("Inserted 1 row(s)"));
    let a = s.sql_ok(&alice, "SELECT body FROM app.inbox");
    assert_eq!(rows(&a, 0), vec![json!(["for alice"])]);
    assert_eq!(
        count(&s.sql_ok(&svc, "SELECT COUNT(*) FROM app.inbox")),
        0,
        "the caller's own rows are untouched"
    );
    // Bare name, lowercase keywords, trailing semicolon.
    let b = s.sql_ok(
        &svc,
        "execute as user alice (SELECT id, body FROM app.inbox);",
    );
    assert_eq!(result(&b, 0)["as_user"], json!("alice"));
    assert_eq!(rows(&b, 0), vec![json!(["1", "for alice"])]);
    // Params work with the wrapper.
    let b = s.sql_params_ok(
        &svc,
        "EXECUTE AS USER 'alice' (INSERT INTO app.inbox (id, body) VALUES ($1, $2))",
        json!([2, "p"]),
    );
    assert_eq!(result(&b, 0)["as_user"], json!("alice"));
    assert_eq!(
        count(&s.sql_ok(&alice, "SELECT COUNT(*) FROM app.inbox")),
        2
    );
    // Quoted names unescape ''; the target need not exist.
    let b = s.sql_ok(
        &svc,
        "EXECUTE AS USER 'o''neil' (INSERT INTO app.inbox (id, body) VALUES (1, 'x'))",
    );
    assert_eq!(result(&b, 0)["as_user"], json!("o'neil"));
    let b = s.sql_ok(
        &svc,
        "EXECUTE AS USER 'o''neil' (SELECT body FROM app.inbox)",
    );
    assert_eq!(rows(&b, 0), vec![json!(["x"])]);
    // Each statement of a batch may carry its own wrapper.
    let b = s.sql_ok(&svc, "EXECUTE AS USER 'alice' (SELECT COUNT(*) AS n FROM app.inbox); EXECUTE AS USER 'ghost' (SELECT COUNT(*) AS n FROM app.inbox)");
    assert_eq!(b["results"][0]["rows"], json!([["2"]]));
    assert_eq!(b["results"][0]["as_user"], json!("alice"));
    assert_eq!(b["results"][1]["rows"], json!([["0"]]));
    assert_eq!(b["results"][1]["as_user"], json!("ghost"));
}

#[test]
fn execute_as_user_wrapper_errors() {
    let s = start();
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql("CREATE USER TABLE app.inbox (id BIGINT PRIMARY KEY, body TEXT)");
    s.root_sql("CREATE SHARED TABLE app.sh (id BIGINT PRIMARY KEY)");
    let t = s.root();
    for q in [
        "EXECUTE AS USER 'alice' (SELECT 1) SELECT 2",
        "EXECUTE AS USER 'alice' (SELECT 1; SELECT 2)",
        "EXECUTE AS USER '' (SELECT 1)",
        "EXECUTE AS USER 'alice' ()",
    ] {
        expect_sql_error(&s.sql(&t, q), 400, "INVALID_INPUT");
    }
    let e = expect_sql_error(
        &s.sql(&t, "EXECUTE AS USER 'alice' (SELECT * FROM app.sh)"),
        400,
        "SQL_EXECUTION_ERROR",
    );
    assert!(
        e["error"]["message"].as_str().unwrap().contains("app:sh"),
        "names the table with a colon: {e}"
    );
}

#[test]
fn execute_as_user_role_matrix() {
    let s = start();
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql("CREATE USER TABLE app.x (id BIGINT PRIMARY KEY)");
    let users = [
        ("u1", "user"),
        ("u2", "user"),
        ("s1", "service"),
        ("s2", "service"),
        ("d1", "dba"),
        ("d2", "dba"),
        ("y1", "system"),
    ];
    let mut tokens = std::collections::HashMap::new();
    for (n, r) in users {
        tokens.insert(n, s.user_token(n, r));
    }
    tokens.insert("root", s.root());
    // (caller, target, allowed)
    let cases = [
        ("u1", "u1", true),
        ("u1", "u2", false),
        ("u1", "s1", false),
        ("u1", "ghost", false),
        ("s1", "u1", true),
        ("s1", "s2", true),
        ("s1", "ghost", true),
        ("s1", "d1", false),
        ("s1", "root", false),
        ("d1", "u1", true),
        ("d1", "s1", true),
        ("d1", "d2", true),
        ("d1", "y1", false),
        ("d1", "root", false),
        ("y1", "root", true),
        ("root", "d1", true),
        ("root", "y1", true),
        ("root", "ghost", true),
    ];
    for (caller, target, allowed) in cases {
        let r = s.sql(
            &tokens[caller],
            &format!("EXECUTE AS USER '{target}' (SELECT COUNT(*) FROM app.x)"),
        );
        if allowed {
            let b = expect_sql_ok(&r, &format!("{caller} as {target}"));
            assert_eq!(result(&b, 0)["as_user"], json!(target));
        } else {
            expect_sql_error(&r, 403, "PERMISSION_DENIED");
        }
    }
}

#[test]
fn user_management_statements() {
    let s = start();
    let root = s.root();
    let b =
        s.root_sql("CREATE USER w1 WITH PASSWORD 'first-pw' ROLE service EMAIL 'w1@example.com'");
    assert!(result(&b, 0)["message"].is_string(), "{b}");
    let l = s.login("w1", "first-pw").json();
    assert_eq!(l["user"]["role"], json!("service"));
    assert_eq!(l["user"]["email"], json!("w1@example.com"));

    let e = s.sql_err(
        &root,
        "CREATE USER w1 WITH PASSWORD 'x' ROLE user",
        400,
        "SQL_EXECUTION_ERROR",
    );
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("already exists"),
        "{e}"
    );
    let r = s.sql(
        &root,
        "CREATE USER IF NOT EXISTS w9 WITH PASSWORD 'x' ROLE user",
    );
    assert_eq!(r.status, 400, "CREATE USER has no IF NOT EXISTS: {r}");

    // Role aliases and quoted names.
    for (name, word, role) in [
        ("a1", "developer", "service"),
        ("a2", "admin", "dba"),
        ("a3", "viewer", "user"),
        ("a4", "readonly", "user"),
        ("a5", "analyst", "service"),
    ] {
        s.root_sql(&format!(
            "CREATE USER '{name}' WITH PASSWORD 'pw-{name}' ROLE {word}"
        ));
        assert_eq!(
            s.login(name, &format!("pw-{name}")).json()["user"]["role"],
            json!(role),
            "{word}"
        );
    }
    // Internal users cannot log in.
    s.root_sql("CREATE USER internal1 WITH INTERNAL ROLE service");
    expect_auth_error(&s.login("internal1", ""), 401, "unauthorized");

    s.root_sql("ALTER USER w1 SET PASSWORD 'second-pw'");
    expect_auth_error(&s.login("w1", "first-pw"), 401, "unauthorized");
    assert_eq!(s.login("w1", "second-pw").status, 200);
    s.root_sql("ALTER USER w1 SET ROLE dba");
    assert_eq!(
        s.login("w1", "second-pw").json()["user"]["role"],
        json!("dba")
    );
    s.root_sql("ALTER USER w1 SET EMAIL 'new@example.com'");
    assert_eq!(
        s.login("w1", "second-pw").json()["user"]["email"],
        json!("new@example.com")
    );

    // A dba cannot grant `system`.
    let dba = s.token("w1", "second-pw");
    let r = s.sql(&dba, "CREATE USER sys2 WITH PASSWORD 'x' ROLE system");
    assert!(
        r.status == 403 || r.status == 400,
        "dba granting system must fail: {r}"
    );
    s.sql_ok(
        &dba,
        "CREATE USER made_by_dba WITH PASSWORD 'x' ROLE service",
    );

    s.root_sql("DROP USER made_by_dba");
    expect_auth_error(&s.login("made_by_dba", "x"), 401, "unauthorized");
    s.root_sql("DROP USER IF EXISTS made_by_dba");
    s.sql_err(&root, "DROP USER made_by_dba", 400, "SQL_EXECUTION_ERROR");
}

#[test]
fn topic_statements_and_system_tables() {
    let s = start();
    let root = s.root();
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql("CREATE SHARED TABLE app.src (id BIGINT PRIMARY KEY, v TEXT)");
    let b = s.root_sql("CREATE TOPIC app.one");
    assert_eq!(
        result(&b, 0)["message"],
        json!("Created topic 'app.one' with 1 partition(s)")
    );
    let b = s.root_sql("CREATE TOPIC app.three PARTITIONS 3");
    assert_eq!(
        result(&b, 0)["message"],
        json!("Created topic 'app.three' with 3 partition(s)")
    );
    let e = s.sql_err(&root, "CREATE TOPIC app.one", 400, "SQL_EXECUTION_ERROR");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("already exists"),
        "{e}"
    );
    let r = s.sql(&root, "CREATE TOPIC bare");
    assert_eq!(
        r.status, 400,
        "topic names must be namespace-qualified: {r}"
    );
    let r = s.sql(&root, "CREATE TOPIC nons.t");
    assert_eq!(r.status, 400, "namespace must exist: {r}");

    s.root_sql("ALTER TOPIC app.one ADD SOURCE app.src ON INSERT");
    s.root_sql("ALTER TOPIC app.one ADD SOURCE app.src ON DELETE WITH (payload = 'key')");
    let e = s.sql_err(
        &root,
        "ALTER TOPIC app.one ADD SOURCE app.src ON INSERT",
        400,
        "SQL_EXECUTION_ERROR",
    );
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("already exists"),
        "{e}"
    );

    let b = s.root_sql(
        "SELECT topic_id, partitions, retention_seconds, retention_max_bytes, routes FROM system.topics ORDER BY topic_id",
    );
    let rs = rows(&b, 0);
    assert_eq!(rs.len(), 2, "{b}");
    assert_eq!(rs[0][0], json!("app.one"));
    assert_eq!(rs[0][1], json!(1), "partitions is an Int");
    assert_eq!(rs[0][2], json!("604800"), "retention_seconds BigInt string");
    assert_eq!(rs[0][3], json!("1073741824"));
    assert_eq!(rs[1][0], json!("app.three"));
    assert_eq!(rs[1][1], json!(3));
    let routes: Value =
        serde_json::from_str(rs[0][4].as_str().expect("routes is JSON text")).unwrap();
    assert_eq!(
        routes,
        json!([
            {"table_id": "app.src", "op": "insert", "payload_mode": "full", "filter_expr": null, "partition_key_expr": null},
            {"table_id": "app.src", "op": "delete", "payload_mode": "key", "filter_expr": null, "partition_key_expr": null},
        ])
    );

    // system.topic_offsets after an ack.
    s.root_sql("INSERT INTO app.src (id, v) VALUES (1, 'a'), (2, 'b')");
    s.ack(&root, "app.one", "grp", 0, 1);
    let b = s.root_sql(
        "SELECT topic_id, group_id, partition_id, last_acked_offset FROM system.topic_offsets",
    );
    assert_eq!(rows(&b, 0), vec![json!(["app.one", "grp", 0, "1"])]);

    // DROP TOPIC removes it.
    s.root_sql("DROP TOPIC app.three");
    assert_eq!(count(&s.root_sql("SELECT COUNT(*) FROM system.topics")), 1);
    let r = s.consume_raw(&root, &json!({"topic_id": "app.three", "group_id": "g"}));
    expect_topic_error(&r, 404, "NOT_FOUND");
    let r = s.sql(&root, "DROP TOPIC app.three");
    assert_eq!(r.status, 400, "dropping a missing topic fails: {r}");
}

#[test]
fn clear_topic_deletes_messages_and_offsets_but_counters_continue() {
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
    s.ack(&root, "app.t", "g1", 0, 2);
    s.root_sql("CLEAR TOPIC app.t");
    assert!(
        eventually(std::time::Duration::from_secs(5), || {
            s.consume_earliest(&root, "app.t", &format!("probe{}", now_ms()), 10)
                .messages
                .is_empty()
        }),
        "messages are cleared"
    );
    assert!(
        eventually(std::time::Duration::from_secs(5), || count(
            &s.root_sql("SELECT COUNT(*) FROM system.topic_offsets")
        ) == 0),
        "group offsets are cleared"
    );
    s.root_sql("INSERT INTO app.src (id) VALUES (4)");
    let b = s.consume_earliest(&root, "app.t", "fresh", 10);
    assert_eq!(
        b.offsets(),
        vec![3],
        "offset counter continues in-process after CLEAR"
    );
}

#[test]
fn error_codes_for_bad_sql() {
    let s = start();
    let root = s.root();
    let e = s.sql_err(&root, "SELEC 1", 400, "INVALID_SQL");
    assert_eq!(
        e["error"]["message"],
        json!("sql parser error: Expected: an SQL statement, found: SELEC at Line: 1, Column: 1"),
        "{e}"
    );
    s.sql_err(&root, "FROBNICATE EVERYTHING NOW", 400, "INVALID_SQL");

    let e = s.sql_err(
        &root,
        "SELECT * FROM app.nowhere",
        400,
        "SQL_EXECUTION_ERROR",
    );
    let m = e["error"]["message"].as_str().unwrap();
    assert!(m.starts_with("Statement 1 failed: Table not found"), "{m}");
    assert_eq!(e["error"]["details"], json!("SELECT * FROM app.nowhere"));

    // Redacted for a service user: no details, no table name.
    let svc = s.user_token("svc", "service");
    let e = s.sql_err(
        &svc,
        "SELECT * FROM app.nowhere",
        400,
        "SQL_EXECUTION_ERROR",
    );
    assert!(e["error"].get("details").is_none(), "{e}");
    assert!(
        !e["error"]["message"].as_str().unwrap().contains("nowhere"),
        "message is generic for non-admins: {e}"
    );
}

#[test]
fn sql_too_long_is_invalid_sql() {
    let s = start();
    let big = format!("SELECT '{}'", "x".repeat(1024 * 1024 + 16));
    expect_sql_error(&s.sql(&s.root(), &big), 400, "INVALID_SQL");
}

#[test]
fn type_names_map_to_kalam_data_types() {
    let s = start();
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql(
        "CREATE SHARED TABLE app.types (id INT8 PRIMARY KEY, a VARCHAR, b CHAR, c STRING, d INTEGER, e SMALLINT, \
         f BOOL, g FLOAT8, h REAL, i FLOAT, j JSONB, k BIGINT NOT NULL DEFAULT 0)",
    );
    let b = s.root_sql("SELECT * FROM app.types");
    let schema = result(&b, 0)["schema"].as_array().unwrap().clone();
    let got: Vec<(String, Value, u64)> = schema
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["data_type"].clone(),
                c["index"].as_u64().unwrap(),
            )
        })
        .collect();
    let want = [
        ("id", "BigInt"),
        ("a", "Text"),
        ("b", "Text"),
        ("c", "Text"),
        ("d", "Int"),
        ("e", "SmallInt"),
        ("f", "Boolean"),
        ("g", "Double"),
        ("h", "Float"),
        ("i", "Float"),
        ("j", "Json"),
        ("k", "BigInt"),
    ];
    assert_eq!(
        got.len(),
        want.len(),
        "SELECT * lists every column in definition order: {b}"
    );
    for (i, ((n, t, idx), (wn, wt))) in got.iter().zip(want.iter()).enumerate() {
        assert_eq!((n.as_str(), t, *idx), (*wn, &json!(wt), i as u64), "{b}");
    }
    assert_eq!(rows(&b, 0), Vec::<Value>::new());
    assert_eq!(schema[11]["flags"], json!(["nn"]));
    // Small ints are numbers, like INT.
    s.root_sql("INSERT INTO app.types (id, e, d) VALUES (1, 7, 8)");
    let b = s.root_sql("SELECT e, d, k FROM app.types");
    assert_eq!(rows(&b, 0), vec![json!([7, 8, "0"])]);
}

#[test]
fn serial_columns_become_snowflake_ids() {
    let s = start();
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql("CREATE SHARED TABLE app.ser (id BIGSERIAL PRIMARY KEY, v TEXT)");
    s.root_sql("INSERT INTO app.ser (v) VALUES ('a'), ('b')");
    let b = s.root_sql("SELECT id FROM app.ser ORDER BY id");
    let ids: Vec<i64> = rows(&b, 0)
        .iter()
        .map(|r| r[0].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(
        ids[0] > 1_000_000_000 && ids[1] > ids[0],
        "snowflake ids, not 1, 2: {ids:?}"
    );
}

#[test]
fn identifier_rules() {
    let s = start();
    let root = s.root();
    s.root_sql("CREATE NAMESPACE app");
    for q in [
        "CREATE NAMESPACE system",
        "CREATE NAMESPACE information_schema",
        "CREATE NAMESPACE 1abc",
        "CREATE NAMESPACE _hidden",
        "CREATE SHARED TABLE app.t1 (id BIGINT PRIMARY KEY, _seq TEXT)",
        "CREATE SHARED TABLE app.t2 (id BIGINT PRIMARY KEY, _deleted BOOLEAN)",
        "CREATE SHARED TABLE app.t3 (id BIGINT PRIMARY KEY, Name TEXT, name TEXT)",
        "CREATE SHARED TABLE app.t6 (id BIGINT PRIMARY KEY, _id TEXT)",
        "CREATE NAMESPACE abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcde",
    ] {
        let r = s.sql(&root, q);
        assert_eq!(r.status, 400, "`{q}` must be rejected: {r}");
    }
}

#[test]
fn not_null_violation_is_an_execution_error() {
    let s = start();
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql("CREATE SHARED TABLE app.nn (id BIGINT PRIMARY KEY, v TEXT NOT NULL)");
    s.sql_err(
        &s.root(),
        "INSERT INTO app.nn (id) VALUES (1)",
        400,
        "SQL_EXECUTION_ERROR",
    );
    assert_eq!(count(&s.root_sql("SELECT COUNT(*) FROM app.nn")), 0);
}

#[test]
fn transactions_in_one_request() {
    let s = start();
    let root = s.root();
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql("CREATE SHARED TABLE app.tx (id BIGINT PRIMARY KEY)");
    s.root_sql(
        "BEGIN; INSERT INTO app.tx (id) VALUES (1); INSERT INTO app.tx (id) VALUES (2); COMMIT",
    );
    assert_eq!(count(&s.root_sql("SELECT COUNT(*) FROM app.tx")), 2);
    // A failure inside BEGIN ... COMMIT rolls the transaction back.
    let r = s.sql(
        &root,
        "BEGIN; INSERT INTO app.tx (id) VALUES (3); INSERT INTO app.tx (id) VALUES (1); COMMIT",
    );
    expect_sql_error(&r, 400, "SQL_EXECUTION_ERROR");
    assert_eq!(
        count(&s.root_sql("SELECT COUNT(*) FROM app.tx")),
        2,
        "row 3 rolled back"
    );
    // A transaction left open is rolled back and reported.
    let r = s.sql(&root, "BEGIN; INSERT INTO app.tx (id) VALUES (4)");
    expect_sql_error(&r, 400, "SQL_EXECUTION_ERROR");
    assert_eq!(
        count(&s.root_sql("SELECT COUNT(*) FROM app.tx")),
        2,
        "row 4 rolled back"
    );
}

#[test]
fn drop_namespace() {
    let s = start();
    let root = s.root();
    s.root_sql("CREATE NAMESPACE gone");
    s.root_sql("DROP NAMESPACE gone");
    s.root_sql("DROP NAMESPACE IF EXISTS gone");
    let r = s.sql(&root, "DROP NAMESPACE gone");
    assert_eq!(r.status, 400, "{r}");
    s.root_sql("CREATE NAMESPACE gone");
    s.root_sql("CREATE SHARED TABLE gone.t (id BIGINT PRIMARY KEY)");
    s.root_sql("DROP NAMESPACE gone CASCADE");
    assert_eq!(
        s.sql(&root, "SELECT * FROM gone.t").status,
        400,
        "tables go with the namespace"
    );
    let svc = s.user_token("svc", "service");
    s.root_sql("CREATE NAMESPACE kept");
    s.sql_err(&svc, "DROP NAMESPACE kept", 403, "PERMISSION_DENIED");
}

#[test]
fn role_user_may_create_user_tables_but_not_shared_ones() {
    let s = start();
    s.root_sql("CREATE NAMESPACE app");
    let usr = s.user_token("usr", "user");
    s.sql_ok(
        &usr,
        "CREATE USER TABLE app.mine (id BIGINT PRIMARY KEY, v TEXT)",
    );
    s.sql_ok(
        &usr,
        "CREATE STREAM TABLE app.mystream (v TEXT) WITH (TTL_SECONDS = 60)",
    );
    let r = s.sql(
        &usr,
        "CREATE SHARED TABLE app.theirs (id BIGINT PRIMARY KEY)",
    );
    assert!(
        r.status == 403 || r.status == 400,
        "role user cannot create SHARED tables: {r}"
    );
    s.sql_ok(&usr, "INSERT INTO app.mine (id, v) VALUES (1, 'x')");
}

#[test]
fn wrapped_statements_run_with_role_user() {
    let s = start();
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql("CREATE TOPIC app.t");
    s.create_user("svc", "service");
    let root = s.root();
    // root may impersonate svc, but the statement then runs as role `user`.
    s.sql_err(
        &root,
        "EXECUTE AS USER 'svc' (SELECT * FROM system.topics)",
        403,
        "PERMISSION_DENIED",
    );
    s.sql_err(
        &root,
        "EXECUTE AS USER 'root' (CREATE NAMESPACE other)",
        403,
        "PERMISSION_DENIED",
    );
}

#[test]
fn current_user_function_is_the_effective_user() {
    let s = start();
    s.create_user("svc", "service");
    let b = s.root_sql("SELECT CURRENT_USER() AS u");
    assert_eq!(scalar(&b), json!("root"));
    let b = s.root_sql("EXECUTE AS USER 'svc' (SELECT CURRENT_USER() AS u)");
    assert_eq!(scalar(&b), json!("svc"));
}

#[test]
fn took_is_milliseconds_with_three_decimals() {
    let s = start();
    let b = s.root_sql("SELECT 1");
    let took = b["took"].as_f64().unwrap();
    assert!((0.0..10_000.0).contains(&took), "{took}");
    let scaled = took * 1000.0;
    assert!(
        (scaled - scaled.round()).abs() < 1e-6,
        "took is rounded to 3 decimals: {took}"
    );
}

#[test]
fn storage_with_options_are_accepted() {
    let s = start();
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql(
        "CREATE USER TABLE app.u (id BIGINT PRIMARY KEY) WITH (STORAGE_ID = 'local', USE_USER_STORAGE = TRUE, \
         FLUSH_POLICY = 'rows:100,interval:60', DELETED_RETENTION_HOURS = 24)",
    );
    s.root_sql("CREATE SHARED TABLE app.s (id BIGINT PRIMARY KEY) WITH (TYPE = 'SHARED', ACCESS_LEVEL = 'DBA')");
    let r = s.sql(
        &s.root(),
        "CREATE SHARED TABLE app.bad (id BIGINT PRIMARY KEY) WITH (USE_USER_STORAGE = TRUE)",
    );
    assert_eq!(
        r.status, 400,
        "USE_USER_STORAGE is only for USER tables: {r}"
    );
    // ACCESS_LEVEL 'DBA': service cannot read, dba can.
    let svc = s.user_token("svc", "service");
    let dba = s.user_token("adm", "dba");
    let r = s.sql(&svc, "SELECT * FROM app.s");
    assert!(r.status == 403 || r.status == 400, "{r}");
    s.sql_ok(&dba, "SELECT * FROM app.s");
}

#[test]
fn params_are_ignored_for_ddl() {
    let s = start();
    let b = s.sql_params_ok(&s.root(), "CREATE NAMESPACE withparams", json!([1, "x"]));
    assert_eq!(
        result(&b, 0)["message"],
        json!("Namespace 'withparams' created successfully")
    );
}

#[test]
fn aggregates_and_predicates() {
    let s = start();
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql("CREATE SHARED TABLE app.m (id BIGINT PRIMARY KEY, kind TEXT, amount BIGINT, price DOUBLE, label TEXT)");
    s.root_sql(
        "INSERT INTO app.m (id, kind, amount, price, label) VALUES \
         (1, 'apple', 10, 1.0, 'x'), (2, 'avocado', 20, 2.0, NULL), (3, 'banana', 30, 3.0, 'y'), \
         (4, 'banana', 40, 4.0, NULL), (5, 'cherry', 50, 5.0, 'z')",
    );
    let b = s.root_sql("SELECT SUM(amount) AS s, MIN(amount) AS lo, MAX(amount) AS hi, AVG(price) AS av, COUNT(*) AS n FROM app.m");
    let types: Vec<Value> = result(&b, 0)["schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["data_type"].clone())
        .collect();
    assert_eq!(
        types,
        vec![
            json!("BigInt"),
            json!("BigInt"),
            json!("BigInt"),
            json!("Double"),
            json!("BigInt")
        ],
        "{b}"
    );
    assert_eq!(rows(&b, 0), vec![json!(["150", "10", "50", 3.0, "5"])]);

    let b = s
        .root_sql("SELECT kind, SUM(amount) AS total FROM app.m GROUP BY kind ORDER BY total DESC");
    assert_eq!(
        rows(&b, 0),
        vec![
            json!(["banana", "70"]),
            json!(["cherry", "50"]),
            json!(["avocado", "20"]),
            json!(["apple", "10"])
        ]
    );

    let q = |sql: &str| -> Vec<Value> {
        rows(&s.root_sql(sql), 0)
            .iter()
            .map(|r| r[0].clone())
            .collect()
    };
    assert_eq!(
        q("SELECT id FROM app.m WHERE kind IN ('apple', 'cherry') ORDER BY id"),
        vec![json!("1"), json!("5")]
    );
    assert_eq!(
        q("SELECT id FROM app.m WHERE amount BETWEEN 20 AND 40 AND label IS NULL ORDER BY id"),
        vec![json!("2"), json!("4")]
    );
    assert_eq!(
        q("SELECT id FROM app.m WHERE kind LIKE 'a%' OR price > 4.5 ORDER BY id"),
        vec![json!("1"), json!("2"), json!("5")]
    );
    assert_eq!(q("SELECT id FROM app.m WHERE label IS NOT NULL AND NOT (kind = 'apple') ORDER BY id DESC"), vec![json!("5"), json!("3")]);
    assert_eq!(
        q("SELECT id FROM app.m ORDER BY kind DESC, id ASC LIMIT 2 OFFSET 1"),
        vec![json!("3"), json!("4")]
    );
    assert_eq!(
        q("SELECT kind FROM app.m WHERE id = 3"),
        vec![json!("banana")]
    );

    // DELETE without WHERE removes all rows.
    let b = s.root_sql("DELETE FROM app.m");
    assert_eq!(result(&b, 0)["message"], json!("Deleted 5 row(s)"));
    // An omitted column without default is NULL.
    s.root_sql("INSERT INTO app.m (id) VALUES (9)");
    let b = s.root_sql("SELECT kind, amount, price FROM app.m");
    assert_eq!(rows(&b, 0), vec![json!([null, null, null])]);
}

#[test]
fn other_cell_encodings() {
    let s = start();
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql("CREATE SHARED TABLE app.enc (id BIGINT PRIMARY KEY, day DATE, price DECIMAL(10, 2), u UUID, raw BYTEA)");
    s.root_sql(
        "INSERT INTO app.enc (id, day, price, u, raw) VALUES \
         (1, '1970-01-11', 200.75, '0190a0b1-7c2e-7d3f-8a4b-5c6d7e8f9a0b', X'0102ff')",
    );
    let b = s.root_sql("SELECT day, price, u, raw FROM app.enc");
    let types: Vec<Value> = result(&b, 0)["schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["data_type"].clone())
        .collect();
    assert_eq!(
        types,
        vec![
            json!("Date"),
            json!({"Decimal": {"precision": 10, "scale": 2}}),
            json!("Uuid"),
            json!("Bytes")
        ],
        "{b}"
    );
    assert_eq!(
        rows(&b, 0),
        vec![json!([
            10,
            "200.75",
            "0190a0b1-7c2e-7d3f-8a4b-5c6d7e8f9a0b",
            [1, 2, 255]
        ])]
    );
}

#[test]
fn safe_execution_errors_keep_their_message_for_non_admins() {
    let s = start();
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql("CREATE SHARED TABLE app.t (id BIGINT PRIMARY KEY, n INT)");
    let svc = s.user_token("svc", "service");
    s.sql_ok(&svc, "INSERT INTO app.t (id, n) VALUES (1, 1)");
    let e = s.sql_err(
        &svc,
        "INSERT INTO app.t (id, n) VALUES (1, 2)",
        400,
        "SQL_EXECUTION_ERROR",
    );
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Primary key violation"),
        "{e}"
    );
    assert!(e["error"].get("details").is_none(), "{e}");
    let e = s.sql_err(
        &svc,
        "INSERT INTO app.t (id, nosuchcol) VALUES (2, 2)",
        400,
        "SQL_EXECUTION_ERROR",
    );
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nosuchcol"),
        "column-not-found keeps its message: {e}"
    );
    let r = s.sql(&svc, "INSERT INTO app.t (id, n) VALUES (3, 'not a number')");
    assert_eq!(r.status, 400, "type mismatch: {r}");
    assert_eq!(count(&s.sql_ok(&svc, "SELECT COUNT(*) FROM app.t")), 1);
    let b = s.sql_ok(&svc, "UPDATE app.t SET n = 5 WHERE id = 999");
    assert_eq!(result(&b, 0)["message"], json!("Updated 0 row(s)"));
    assert_eq!(result(&b, 0)["row_count"], json!(0));
}

#[test]
fn alter_user_is_admin_only_even_for_oneself() {
    let s = start();
    let svc = s.user_token("svc", "service");
    s.sql_err(
        &svc,
        "ALTER USER svc SET PASSWORD 'changed-pw'",
        403,
        "PERMISSION_DENIED",
    );
    s.sql_err(&svc, "DROP USER svc", 403, "PERMISSION_DENIED");
    assert_eq!(s.login("svc", "svc-pw").status, 200, "password unchanged");
    // SQL-created passwords are not length-checked.
    s.root_sql("CREATE USER tiny WITH PASSWORD 'a' ROLE user");
    assert_eq!(s.login("tiny", "a").status, 200);
}

#[test]
fn service_creates_shared_tables_and_a_user_gets_user_tables_in_its_own_namespace() {
    let s = start();
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql("CREATE NAMESPACE bob");
    let svc = s.user_token("svc", "service");
    s.sql_ok(
        &svc,
        "CREATE SHARED TABLE app.by_service (id BIGINT PRIMARY KEY)",
    );
    s.sql_ok(&svc, "INSERT INTO app.by_service (id) VALUES (1)");
    assert_eq!(
        count(&s.root_sql("SELECT COUNT(*) FROM app.by_service")),
        1,
        "shared: root sees the service's row"
    );
    // An untyped CREATE TABLE in the namespace named like the caller becomes a USER table.
    let bob = s.user_token("bob", "user");
    s.sql_ok(
        &bob,
        "CREATE TABLE bob.notes (id BIGINT PRIMARY KEY, v TEXT)",
    );
    s.sql_ok(&bob, "INSERT INTO bob.notes (id, v) VALUES (1, 'mine')");
    assert_eq!(count(&s.sql_ok(&bob, "SELECT COUNT(*) FROM bob.notes")), 1);
    assert_eq!(
        count(&s.root_sql("SELECT COUNT(*) FROM bob.notes")),
        0,
        "it is a USER table: root sees none of bob's rows"
    );
}

#[test]
fn startup_namespaces_default_and_dba_exist() {
    let s = start();
    for ns in ["default", "dba"] {
        let b = s.root_sql(&format!(
            "CREATE SHARED TABLE {ns}.probe (id BIGINT PRIMARY KEY)"
        ));
        assert!(result(&b, 0)["message"].is_string(), "{b}");
    }
    let b = s.root_sql("CREATE NAMESPACE IF NOT EXISTS dba");
    assert!(
        result(&b, 0)["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("already exists"),
        "{b}"
    );
    // A 64-character name is still fine.
    s.root_sql("CREATE NAMESPACE abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcd");
}

#[test]
fn reserved_keywords_are_not_identifiers() {
    let s = start();
    let root = s.root();
    s.root_sql("CREATE NAMESPACE app");
    let mut accepted = Vec::new();
    for (i, word) in [
        "start",
        "end",
        "format",
        "offset",
        "partition",
        "order",
        "group",
        "limit",
        "table",
        "index",
    ]
    .iter()
    .enumerate()
    {
        let q = format!("CREATE SHARED TABLE app.t{i} (id BIGINT PRIMARY KEY, {word} TEXT)");
        let r = s.sql(&root, &q);
        if r.status != 400 {
            accepted.push(format!("column `{word}` ({})", r.status));
        }
    }
    for word in ["start", "format", "view"] {
        let r = s.sql(&root, &format!("CREATE NAMESPACE {word}"));
        if r.status != 400 {
            accepted.push(format!("namespace `{word}` ({})", r.status));
        }
        let r = s.sql(
            &root,
            &format!("CREATE SHARED TABLE app.{word} (id BIGINT PRIMARY KEY)"),
        );
        if r.status != 400 {
            accepted.push(format!("table `{word}` ({})", r.status));
        }
    }
    assert!(
        accepted.is_empty(),
        "reserved keywords accepted as identifiers: {accepted:?}"
    );
}

#[test]
fn oauth_users_exist_but_cannot_log_in_with_a_password() {
    let s = start();
    s.root_sql(
        r#"CREATE USER oa WITH OAUTH '{"provider": "github", "subject": "12345"}' ROLE service"#,
    );
    expect_auth_error(&s.login("oa", ""), 401, "unauthorized");
    expect_auth_error(&s.login("oa", "anything"), 401, "unauthorized");
    let e = s.sql_err(
        &s.root(),
        "CREATE USER oa WITH PASSWORD 'x' ROLE user",
        400,
        "SQL_EXECUTION_ERROR",
    );
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("already exists"),
        "{e}"
    );
}

#[test]
fn out_of_range_and_mistyped_values_are_rejected_not_mangled() {
    let s = start();
    let root = s.root();
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql("CREATE SHARED TABLE app.n (id BIGINT PRIMARY KEY, small INT, tiny SMALLINT)");
    let mut accepted = Vec::new();
    for (what, sql, params) in [
        (
            "INT overflow",
            "INSERT INTO app.n (id, small) VALUES (1, 3000000000)",
            None,
        ),
        (
            "SMALLINT overflow",
            "INSERT INTO app.n (id, tiny) VALUES (2, 70000)",
            None,
        ),
        (
            "BIGINT overflow",
            "INSERT INTO app.n (id) VALUES (99999999999999999999)",
            None,
        ),
        (
            "BIGINT overflow (23 digits)",
            "INSERT INTO app.n (id) VALUES (99999999999999999999999)",
            None,
        ),
        (
            "BIGINT overflow (negative)",
            "INSERT INTO app.n (id) VALUES (-99999999999999999999999)",
            None,
        ),
        (
            "text param into BIGINT",
            "INSERT INTO app.n (id) VALUES ($1)",
            Some(json!(["abc"])),
        ),
        (
            "text literal into INT",
            "INSERT INTO app.n (id, small) VALUES (5, 'abc')",
            None,
        ),
    ] {
        let r = match params {
            Some(p) => s.sql_params(&root, sql, p),
            None => s.sql(&root, sql),
        };
        if r.status != 400 {
            accepted.push(format!("{what}: {r}"));
        }
    }
    let b = s.root_sql("SELECT id, small, tiny FROM app.n ORDER BY id");
    assert!(
        accepted.is_empty(),
        "accepted instead of 400: {accepted:#?}; table now holds {:?}",
        rows(&b, 0)
    );
    assert_eq!(rows(&b, 0), Vec::<Value>::new());
    // A numeric string param into BIGINT is cast like DataFusion does.
    s.sql_params_ok(&root, "INSERT INTO app.n (id) VALUES ($1)", json!(["42"]));
    assert_eq!(scalar(&s.root_sql("SELECT id FROM app.n")), json!("42"));
}

#[test]
fn batch_dml_sums_report_the_caller_even_when_impersonating() {
    let s = start();
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql("CREATE USER TABLE app.inbox (id BIGINT PRIMARY KEY)");
    let svc = s.user_token("svc", "service");
    let b = s.sql_ok(
        &svc,
        "EXECUTE AS USER 'alice' (INSERT INTO app.inbox (id) VALUES (1)); EXECUTE AS USER 'bob' (INSERT INTO app.inbox (id) VALUES (1)); \
         INSERT INTO app.inbox (id) VALUES (1)",
    );
    assert_eq!(
        b["results"],
        json!([{"row_count": 3, "message": "Inserted 3 row(s)", "as_user": "svc"}]),
        "{b}"
    );
    for who in ["alice", "bob"] {
        let r = s.sql_ok(
            &svc,
            &format!("EXECUTE AS USER '{who}' (SELECT COUNT(*) AS n FROM app.inbox)"),
        );
        assert_eq!(rows(&r, 0), vec![json!(["1"])], "{who}");
    }
}
