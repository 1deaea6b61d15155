//! Issue 11: concurrent writes behave like the real server's (PROTOCOL §11). A conditional
//! UPDATE is not a compare-and-set (several of 16 concurrent ones report the row, the row
//! ends with one of their values); an INSERT of an existing primary key is exclusive (one of
//! 16 wins, 15 get `Primary key violation`); a DELETE counts a row once.
mod common;

use common::*;
use serde_json::{json, Value};
use std::sync::Barrier;
use std::time::Duration;

const WRITERS: usize = 16;

fn with_lease_table(s: &Server) -> String {
    s.root_sql("CREATE NAMESPACE ns");
    s.root_sql("CREATE SHARED TABLE ns.l (part INT PRIMARY KEY, owner TEXT, epoch BIGINT)");
    s.user_token("svc", "service")
}

/// Sends `sql_of(i)` for i in 0..16 at the same moment, each on its own already-open
/// connection; returns (status, body) per writer.
fn all_at_once(s: &Server, token: &str, sql_of: impl Fn(usize) -> String) -> Vec<(u16, Value)> {
    let barrier = Barrier::new(WRITERS);
    let auth = format!("Bearer {token}");
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..WRITERS)
            .map(|i| {
                let (barrier, auth) = (&barrier, &auth);
                let body = serde_json::to_vec(&json!({ "sql": sql_of(i) })).unwrap();
                let mut conn = Conn::open(&s.base);
                scope.spawn(move || {
                    barrier.wait();
                    let r = conn.send(
                        "POST",
                        "/v1/api/sql",
                        &[
                            ("Content-Type", "application/json"),
                            ("Authorization", auth),
                        ],
                        &body,
                    );
                    (r.status, r.json())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// One round of 16 `UPDATE ... WHERE part = P AND epoch = 0`; returns the winners' owners
/// after checking that every answer is a 200 and the row holds a winner's values.
fn update_round(s: &Server, token: &str, part: usize) -> Vec<String> {
    s.sql_ok(
        token,
        &format!("INSERT INTO ns.l (part, owner, epoch) VALUES ({part}, 'nobody', 0)"),
    );
    let answers = all_at_once(s, token, |i| {
        format!("UPDATE ns.l SET owner = 'w{i}', epoch = 1 WHERE part = {part} AND epoch = 0")
    });
    let mut winners = Vec::new();
    for (i, (status, body)) in answers.iter().enumerate() {
        assert_eq!(*status, 200, "writer {i}: {body}");
        match body["results"][0]["row_count"].as_u64() {
            Some(1) => winners.push(format!("w{i}")),
            Some(0) => {}
            other => panic!("writer {i}: row_count {other:?}: {body}"),
        }
    }
    let row = rows(
        &s.sql_ok(
            token,
            &format!("SELECT owner, epoch FROM ns.l WHERE part = {part}"),
        ),
        0,
    );
    assert_eq!(row[0][1], json!("1"), "round {part}");
    let owner = row[0][0].as_str().unwrap().to_string();
    assert!(
        winners.contains(&owner),
        "round {part}: the row ends with one winner's values, {owner} is not in {winners:?}"
    );
    winners
}

#[test]
fn concurrent_conditional_updates_are_not_a_compare_and_set() {
    let s = start();
    let svc = with_lease_table(&s);
    let winners: Vec<usize> = (0..10)
        .map(|part| update_round(&s, &svc, part).len())
        .collect();
    assert!(
        winners.iter().all(|&n| n >= 1),
        "someone always wins: {winners:?}"
    );
    assert!(
        winners.iter().any(|&n| n > 1),
        "with the default race window, more than one writer reports the row in some round: {winners:?}"
    );
}

#[test]
fn a_zero_race_window_makes_update_a_compare_and_set() {
    let s = builder().arg("--update-race-window-ms", "0").start();
    let svc = with_lease_table(&s);
    for part in 0..4 {
        let winners = update_round(&s, &svc, part);
        assert_eq!(winners.len(), 1, "round {part}: {winners:?}");
    }
}

#[test]
fn concurrent_inserts_of_one_primary_key_have_exactly_one_winner() {
    let s = start();
    let svc = with_lease_table(&s);
    for part in 0..4 {
        let answers = all_at_once(&s, &svc, |i| {
            format!("INSERT INTO ns.l (part, owner, epoch) VALUES ({part}, 'w{i}', 1)")
        });
        let mut winner = None;
        for (i, (status, body)) in answers.iter().enumerate() {
            if *status == 200 {
                assert_eq!(body["results"][0]["row_count"], json!(1), "{body}");
                assert!(winner.replace(format!("w{i}")).is_none(), "two winners");
                continue;
            }
            assert_eq!(*status, 400, "writer {i}: {body}");
            assert_eq!(
                body["error"]["code"],
                json!("SQL_EXECUTION_ERROR"),
                "{body}"
            );
            let message = body["error"]["message"].as_str().unwrap();
            assert_eq!(
                message,
                format!(
                    "Statement 1 failed: Already exists: Primary key violation: value '{part}' already exists in column 'part'"
                ),
                "{body}"
            );
        }
        let winner = winner.unwrap_or_else(|| panic!("round {part}: nobody won"));
        let row = rows(
            &s.sql_ok(&svc, &format!("SELECT owner FROM ns.l WHERE part = {part}")),
            0,
        );
        assert_eq!(row, vec![json!([winner])], "round {part}");
    }
}

#[test]
fn concurrent_deletes_count_a_row_once() {
    let s = start();
    let svc = with_lease_table(&s);
    for part in 0..4 {
        s.sql_ok(
            &svc,
            &format!("INSERT INTO ns.l (part, owner, epoch) VALUES ({part}, 'w', 0)"),
        );
        let answers = all_at_once(&s, &svc, |_| {
            format!("DELETE FROM ns.l WHERE part = {part} AND epoch = 0")
        });
        let counted: u64 = answers
            .iter()
            .map(|(status, body)| {
                assert_eq!(*status, 200, "{body}");
                body["results"][0]["row_count"].as_u64().unwrap()
            })
            .sum();
        assert_eq!(counted, 1, "round {part}");
    }
}

/// With a wide window the lost update is deterministic: two UPDATEs sent 300 ms apart both
/// match the old row, both report it, and the later write wins.
#[test]
fn a_wide_window_makes_the_lost_update_deterministic() {
    let s = builder().arg("--update-race-window-ms", "1500").start();
    let svc = with_lease_table(&s);
    s.sql_ok(
        &svc,
        "INSERT INTO ns.l (part, owner, epoch) VALUES (0, 'nobody', 0)",
    );
    let answers: Vec<Value> = std::thread::scope(|scope| {
        let handles: Vec<_> = ["first", "second"]
            .iter()
            .enumerate()
            .map(|(i, who)| {
                let (s, svc) = (&s, &svc);
                scope.spawn(move || {
                    std::thread::sleep(Duration::from_millis(300 * i as u64));
                    s.sql_ok(
                        svc,
                        &format!(
                            "UPDATE ns.l SET owner = '{who}', epoch = 1 WHERE part = 0 AND epoch = 0"
                        ),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for a in &answers {
        assert_eq!(a["results"][0]["row_count"], json!(1), "{a}");
        assert_eq!(a["results"][0]["message"], json!("Updated 1 row(s)"), "{a}");
    }
    let row = rows(&s.sql_ok(&svc, "SELECT owner, epoch FROM ns.l"), 0);
    assert_eq!(row, vec![json!(["second", "1"])]);
}

/// A row deleted while an UPDATE waits is not re-created, and the UPDATE does not count it.
#[test]
fn an_update_skips_a_row_deleted_in_its_window() {
    let s = builder().arg("--update-race-window-ms", "1500").start();
    let svc = with_lease_table(&s);
    s.sql_ok(
        &svc,
        "INSERT INTO ns.l (part, owner, epoch) VALUES (0, 'nobody', 0)",
    );
    let update = std::thread::scope(|scope| {
        let update = scope.spawn(|| s.sql_ok(&svc, "UPDATE ns.l SET epoch = 1 WHERE part = 0"));
        std::thread::sleep(Duration::from_millis(300));
        let deleted = s.sql_ok(&svc, "DELETE FROM ns.l WHERE part = 0");
        assert_eq!(deleted["results"][0]["row_count"], json!(1), "{deleted}");
        update.join().unwrap()
    });
    assert_eq!(update["results"][0]["row_count"], json!(0), "{update}");
    assert_eq!(count(&s.sql_ok(&svc, "SELECT COUNT(*) FROM ns.l")), 0);
}

/// Inside BEGIN ... COMMIT the UPDATE does not give the lock up (another request would run
/// inside the open transaction and match the old row): a concurrent UPDATE runs after the
/// transaction and sees the new row.
#[test]
fn an_update_inside_a_transaction_keeps_the_lock() {
    let s = builder().arg("--update-race-window-ms", "1500").start();
    let svc = with_lease_table(&s);
    s.sql_ok(
        &svc,
        "INSERT INTO ns.l (part, owner, epoch) VALUES (0, 'nobody', 0)",
    );
    let (tx, other) = std::thread::scope(|scope| {
        let tx = scope.spawn(|| {
            s.sql_ok(
                &svc,
                "BEGIN; UPDATE ns.l SET owner = 'tx', epoch = 1 WHERE part = 0 AND epoch = 0; COMMIT",
            )
        });
        std::thread::sleep(Duration::from_millis(300));
        let other = s.sql_ok(
            &svc,
            "UPDATE ns.l SET owner = 'other', epoch = 1 WHERE part = 0 AND epoch = 0",
        );
        (tx.join().unwrap(), other)
    });
    let updated: Vec<&Value> = tx["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("Updated"))
        })
        .collect();
    assert_eq!(
        updated,
        vec![&json!({"row_count": 1, "message": "Updated 1 row(s)", "as_user": "svc"})],
        "{tx}"
    );
    assert_eq!(other["results"][0]["row_count"], json!(0), "{other}");
    let row = rows(&s.sql_ok(&svc, "SELECT owner FROM ns.l"), 0);
    assert_eq!(row, vec![json!(["tx"])]);
}
