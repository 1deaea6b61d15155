//! Issue 11: SELECT results are capped silently, like on the real server (PROTOCOL §11):
//! at most `--default-query-limit` rows without LIMIT, at most `--max-query-limit` rows with
//! one, `row_count` equal to the rows returned and nothing saying rows were cut.
mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// `app.big`: a SHARED table with ids 0..1499, inserted in three requests.
fn with_big_table(s: &Server) {
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql("CREATE SHARED TABLE app.big (id BIGINT PRIMARY KEY, v TEXT)");
    for chunk in 0..3 {
        let values: Vec<String> = (chunk * 500..(chunk + 1) * 500)
            .map(|i| format!("({i}, 'v{i}')"))
            .collect();
        s.root_sql(&format!(
            "INSERT INTO app.big (id, v) VALUES {}",
            values.join(", ")
        ));
    }
}

/// Runs a single SELECT as root; checks that the body and the result carry exactly the usual
/// fields (no hint that rows were cut) and that `row_count` is the number of rows; returns
/// the rows.
fn select(s: &Server, sql: &str) -> Vec<Value> {
    select_as(s, &s.root(), sql)
}

fn select_as(s: &Server, token: &str, sql: &str) -> Vec<Value> {
    let b = s.sql_ok(token, sql);
    let body_keys: BTreeSet<&str> = b.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        body_keys,
        BTreeSet::from(["status", "results", "took", "error"]),
        "{sql}"
    );
    let result = &b["results"][0];
    let result_keys: BTreeSet<&str> = result
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        result_keys,
        BTreeSet::from(["schema", "rows", "row_count", "as_user"]),
        "{sql}"
    );
    let rows = rows(&b, 0);
    assert_eq!(result["row_count"], json!(rows.len()), "{sql}");
    rows
}

/// The `id` column (a BIGINT string) of each row as a number.
fn ids(rows: &[Value]) -> Vec<i64> {
    rows.iter()
        .map(|r| {
            r[0].as_str()
                .expect("id is a BIGINT string")
                .parse()
                .unwrap()
        })
        .collect()
}

#[test]
fn the_measured_examples_of_section_11() {
    let s = start();
    with_big_table(&s);

    let all = select(&s, "SELECT * FROM app.big");
    assert_eq!(all.len(), 50, "no LIMIT: the default cap");

    let high = select(&s, "SELECT * FROM app.big WHERE id >= 1400");
    assert_eq!(high.len(), 50, "100 rows match, 50 come back");
    assert!(ids(&high).iter().all(|&id| id >= 1400), "{high:?}");

    assert_eq!(select(&s, "SELECT * FROM app.big LIMIT 5000").len(), 1000);

    let desc = ids(&select(
        &s,
        "SELECT id FROM app.big ORDER BY id DESC LIMIT 1200",
    ));
    assert_eq!(desc.len(), 1000);
    assert_eq!(
        desc,
        (500..1500).rev().collect::<Vec<_>>(),
        "the first 1,000 of the ordered rows"
    );

    assert_eq!(
        select(&s, "SELECT * FROM app.big LIMIT 10 OFFSET 1495").len(),
        5
    );

    let count = s.root_sql("SELECT COUNT(*) FROM app.big");
    assert_eq!(count["results"][0]["rows"], json!([["1500"]]), "{count}");
}

#[test]
fn paging_in_steps_of_1000_reads_every_row() {
    let s = start();
    with_big_table(&s);
    let mut seen = Vec::new();
    for page in 0.. {
        let rows = select(
            &s,
            &format!(
                "SELECT id FROM app.big ORDER BY id LIMIT 1000 OFFSET {}",
                page * 1000
            ),
        );
        if rows.is_empty() {
            break;
        }
        seen.extend(ids(&rows));
    }
    assert_eq!(seen, (0..1500).collect::<Vec<_>>());
}

#[test]
fn only_the_final_result_is_capped() {
    let s = start();
    with_big_table(&s);
    // A subquery without LIMIT feeds all its rows in; the count is not capped.
    let b = s.root_sql("SELECT COUNT(*) AS n FROM (SELECT id FROM app.big) AS x");
    assert_eq!(count(&b), 1500, "{b}");
    // A LIMIT inside a subquery or a CTE does not lift the cap of the final result.
    assert_eq!(
        select(&s, "SELECT * FROM (SELECT id FROM app.big LIMIT 500) AS x").len(),
        50
    );
    assert_eq!(
        select(
            &s,
            "WITH x AS (SELECT id FROM app.big LIMIT 500) SELECT id FROM x"
        )
        .len(),
        50
    );
    // A UNION is one final result: capped as a whole.
    assert_eq!(
        select(
            &s,
            "SELECT id FROM app.big UNION ALL SELECT id FROM app.big"
        )
        .len(),
        50
    );
    assert_eq!(
        select(
            &s,
            "SELECT id FROM app.big UNION ALL SELECT id FROM app.big LIMIT 2500"
        )
        .len(),
        1000
    );
    // OFFSET alone is not a LIMIT.
    let after = ids(&select(
        &s,
        "SELECT id FROM app.big ORDER BY id OFFSET 1400",
    ));
    assert_eq!(after, (1400..1450).collect::<Vec<_>>());
    // A LIMIT given as a parameter counts as a LIMIT.
    let b = s.sql_params_ok(&s.root(), "SELECT id FROM app.big LIMIT $1", json!([1200]));
    assert_eq!(rows(&b, 0).len(), 1000);
}

#[test]
fn batches_cap_each_select() {
    let s = start();
    with_big_table(&s);
    let b = s.root_sql("SELECT id FROM app.big; SELECT id FROM app.big LIMIT 2000");
    for (i, expected) in [(0, 50), (1, 1000)] {
        assert_eq!(rows(&b, i).len(), expected, "statement {i}");
        assert_eq!(b["results"][i]["row_count"], json!(expected));
    }
}

#[test]
fn system_tables_are_capped_too() {
    let s = start();
    let create: Vec<String> = (0..60)
        .map(|i| format!("CREATE USER bot{i} WITH INTERNAL ROLE user"))
        .collect();
    s.root_sql(&create.join("; "));
    let total = count(&s.root_sql("SELECT COUNT(*) FROM system.users"));
    assert!(total > 60, "60 users plus root: {total}");
    assert_eq!(select(&s, "SELECT * FROM system.users").len(), 50);
    assert_eq!(
        select(&s, "SELECT user_id FROM system.users LIMIT 100").len() as u64,
        total
    );
}

#[test]
fn execute_as_user_selects_are_capped() {
    let s = start();
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql("CREATE USER TABLE app.notes (id BIGINT PRIMARY KEY, body TEXT)");
    let values: Vec<String> = (0..60).map(|i| format!("({i}, 'n{i}')")).collect();
    s.root_sql(&format!(
        "EXECUTE AS USER 'alice' (INSERT INTO app.notes (id, body) VALUES {})",
        values.join(", ")
    ));
    let capped = s.root_sql("EXECUTE AS USER 'alice' (SELECT * FROM app.notes)");
    assert_eq!(rows(&capped, 0).len(), 50, "{capped}");
    assert_eq!(capped["results"][0]["row_count"], json!(50));
    assert_eq!(capped["results"][0]["as_user"], json!("alice"));
    let limited = s.root_sql("EXECUTE AS USER 'alice' (SELECT * FROM app.notes LIMIT 100)");
    assert_eq!(rows(&limited, 0).len(), 60);
}

#[test]
fn the_caps_are_options() {
    let s = builder()
        .arg("--default-query-limit", "7")
        .arg("--max-query-limit", "20")
        .start();
    with_big_table(&s);
    assert_eq!(select(&s, "SELECT * FROM app.big").len(), 7);
    assert_eq!(select(&s, "SELECT * FROM app.big LIMIT 100").len(), 20);
    assert_eq!(select(&s, "SELECT * FROM app.big LIMIT 3").len(), 3);

    let s = builder()
        .env("KALAMDB_DEFAULT_QUERY_LIMIT", "3")
        .env("KALAMDB_MAX_QUERY_LIMIT", "1200")
        .start();
    with_big_table(&s);
    assert_eq!(select(&s, "SELECT * FROM app.big").len(), 3);
    assert_eq!(select(&s, "SELECT * FROM app.big LIMIT 5000").len(), 1200);
}
