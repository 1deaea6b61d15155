//! Issue 2, point 8: bad input never crashes the server nor corrupts data.
mod common;

use common::*;
use serde_json::json;

fn still_healthy(s: &mut Server) {
    assert!(
        s.is_running(),
        "server process died; stderr:\n{}",
        s.stderr_tail()
    );
    assert_eq!(s.get("/health", None).status, 200);
}

#[test]
fn malformed_json_on_sql_is_invalid_input_envelope() {
    let mut s = start();
    let auth = format!("Bearer {}", s.root());
    for body in [
        &b"{not json"[..],
        b"",
        b"[1,2]",
        b"{\"sql\": 5}",
        b"{\"nosql\": \"SELECT 1\"}",
    ] {
        let r = s.post_raw(
            "/v1/api/sql",
            &[
                ("Content-Type", "application/json"),
                ("Authorization", &auth),
            ],
            body,
        );
        let e = expect_sql_error(&r, 400, "INVALID_INPUT");
        let m = e["error"]["message"].as_str().unwrap();
        assert!(m.starts_with("Invalid JSON payload:"), "{m}");
    }
    still_healthy(&mut s);
}

#[test]
fn malformed_json_on_typed_endpoints_is_400_text() {
    let mut s = start();
    let auth = format!("Bearer {}", s.root());
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql("CREATE TOPIC app.t");
    let ct = ("Content-Type", "application/json");
    for path in [
        "/v1/api/topics/consume",
        "/v1/api/topics/ack",
        "/v1/api/auth/login",
    ] {
        for body in [&b"{oops"[..], b"{\"topic_id\": 1}", b"null"] {
            let r = s.post_raw(path, &[ct, ("Authorization", &auth)], body);
            assert_eq!(
                r.status,
                400,
                "{path} {:?}: {r}",
                String::from_utf8_lossy(body)
            );
            assert!(
                r.try_json().map(|v| !v.is_object()).unwrap_or(true),
                "plain text, not an envelope: {r}"
            );
        }
    }
    // Missing Content-Type on consume.
    let r = s.post_raw(
        "/v1/api/topics/consume",
        &[("Authorization", &auth)],
        br#"{"topic_id":"app.t","group_id":"g"}"#,
    );
    assert_eq!(r.status, 400, "{r}");
    still_healthy(&mut s);
}

#[test]
fn unknown_statements_are_invalid_sql() {
    let mut s = start();
    let root = s.root();
    for q in [
        "HELLO WORLD",
        "SELECT FROM WHERE",
        "CREATE TOPIC",
        "ALTER TOPIC app.t ADD SOURCE",
        "CONSUME",
        "\u{0}",
    ] {
        let r = s.sql(&root, q);
        assert_eq!(r.status, 400, "`{q}`: {r}");
        assert_eq!(r.json()["status"], json!("error"));
    }
    still_healthy(&mut s);
}

#[test]
fn empty_topic_or_group_id_gets_a_clean_400() {
    let mut s = start();
    let root = s.root();
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql("CREATE TOPIC app.t");
    for body in [
        json!({"topic_id": "", "group_id": "g"}),
        json!({"topic_id": "app.t", "group_id": ""}),
    ] {
        let r = s.consume_raw(&root, &body);
        assert_eq!(r.status, 400, "consume {body}: {r}");
    }
    let r = s.post(
        "/v1/api/topics/ack",
        Some(&root),
        &json!({"topic_id": "", "group_id": "g", "upto_offset": 1}),
    );
    assert_eq!(r.status, 400, "ack with empty topic_id: {r}");
    let r = s.post(
        "/v1/api/topics/ack",
        Some(&root),
        &json!({"topic_id": "app.t", "group_id": "", "upto_offset": 1}),
    );
    assert_eq!(r.status, 400, "ack with empty group_id: {r}");
    still_healthy(&mut s);
    assert!(s
        .consume_earliest(&root, "app.t", "g", 10)
        .messages
        .is_empty());
}

/// The connection-protection envelope (docs/PROTOCOL.md §1.7): 413 `{"error":"BODY_TOO_LARGE", "message": ...}`.
fn expect_body_too_large(r: &Resp) {
    assert_eq!(r.status, 413, "{r}");
    let b = r.json();
    assert_eq!(b["error"], json!("BODY_TOO_LARGE"), "{b}");
    assert!(b["message"].is_string(), "{b}");
}

#[test]
fn huge_bodies_get_413() {
    let mut s = builder().arg("--body-limit-bytes", "65536").start();
    let auth = format!("Bearer {}", s.root());
    let big = format!(r#"{{"sql":"SELECT '{}'"}}"#, "x".repeat(200 * 1024));
    let r = s.post_raw(
        "/v1/api/sql",
        &[
            ("Content-Type", "application/json"),
            ("Authorization", &auth),
        ],
        big.as_bytes(),
    );
    expect_body_too_large(&r);
    // Just under the limit is fine.
    let ok = format!(r#"{{"sql":"SELECT '{}'"}}"#, "x".repeat(30 * 1024));
    let r = s.post_raw(
        "/v1/api/sql",
        &[
            ("Content-Type", "application/json"),
            ("Authorization", &auth),
        ],
        ok.as_bytes(),
    );
    assert_eq!(r.status, 200, "{r}");
    still_healthy(&mut s);
}

#[test]
fn default_body_limits_are_10_mb_and_2_mib_for_typed_bodies() {
    let mut s = start();
    let auth = format!("Bearer {}", s.root());
    let ct = ("Content-Type", "application/json");
    let big = format!(
        r#"{{"sql":"SELECT 1","pad":"{}"}}"#,
        "x".repeat(11 * 1024 * 1024)
    );
    let r = s.post_raw(
        "/v1/api/sql",
        &[ct, ("Authorization", &auth)],
        big.as_bytes(),
    );
    expect_body_too_large(&r);
    let mid = format!(
        r#"{{"sql":"SELECT 1","pad":"{}"}}"#,
        "x".repeat(3 * 1024 * 1024)
    );
    let r = s.post_raw(
        "/v1/api/sql",
        &[ct, ("Authorization", &auth)],
        mid.as_bytes(),
    );
    assert_eq!(r.status, 200, "3 MiB is under the 10 MB request limit: {r}");
    let consume = format!(
        r#"{{"topic_id":"a.b","group_id":"g","pad":"{}"}}"#,
        "x".repeat(3 * 1024 * 1024)
    );
    let r = s.post_raw(
        "/v1/api/topics/consume",
        &[ct, ("Authorization", &auth)],
        consume.as_bytes(),
    );
    assert_eq!(r.status, 413, "typed JSON bodies are limited to 2 MiB: {r}");
    still_healthy(&mut s);
}

#[test]
fn invalid_utf8_is_rejected_cleanly() {
    let mut s = start();
    let auth = format!("Bearer {}", s.root());
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql("CREATE SHARED TABLE app.t (id BIGINT PRIMARY KEY, v TEXT)");
    let ct = ("Content-Type", "application/json");
    let mut body = br#"{"sql":"INSERT INTO app.t (id, v) VALUES (1, '"#.to_vec();
    body.extend_from_slice(&[0xff, 0xfe, 0xc3]);
    body.extend_from_slice(br#"')"}"#);
    let r = s.post_raw("/v1/api/sql", &[ct, ("Authorization", &auth)], &body);
    expect_sql_error(&r, 400, "INVALID_INPUT");
    let mut login = br#"{"user":"root","password":""#.to_vec();
    login.extend_from_slice(&[0xc0, 0x80]);
    login.extend_from_slice(br#""}"#);
    let r = s.post_raw("/v1/api/auth/login", &[ct], &login);
    assert_eq!(r.status, 400, "{r}");
    let mut consume = br#"{"topic_id":"app."#.to_vec();
    consume.push(0xff);
    consume.extend_from_slice(br#"","group_id":"g"}"#);
    let r = s.post_raw(
        "/v1/api/topics/consume",
        &[ct, ("Authorization", &auth)],
        &consume,
    );
    assert_eq!(r.status, 400, "{r}");
    assert_eq!(
        count(&s.root_sql("SELECT COUNT(*) FROM app.t")),
        0,
        "nothing was written"
    );
    still_healthy(&mut s);
}

#[test]
fn garbage_requests_do_not_kill_the_server() {
    let mut s = start();
    let _ = raw_exchange(&s.base, b"GARBAGE\r\n\r\n");
    let _ = raw_exchange(
        &s.base,
        b"POST /v1/api/sql HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"sql\"",
    );
    let _ = raw_exchange(&s.base, &[0u8, 1, 2, 3, 255, 254]);
    let _ = raw_exchange(
        &s.base,
        b"POST /v1/api/sql HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    );
    let r = s.get("/no/such/route", None);
    assert_eq!(r.status, 404, "{r}");
    still_healthy(&mut s);
    expect_sql_ok(&s.sql(&s.root(), "SELECT 1"), "after garbage");
}

#[test]
fn concurrent_writers_lose_no_rows_and_offsets_stay_gapless() {
    let mut s = start();
    let root = s.root();
    s.source_topic(
        "app",
        "CREATE SHARED TABLE app.src (id BIGINT PRIMARY KEY, w INT)",
        "app.src",
        "app.t",
        &["INSERT"],
    );
    s.root_sql("CREATE USER TABLE app.mine (id BIGINT PRIMARY KEY)");
    let writers = 6u64;
    let per = 40u64;
    std::thread::scope(|sc| {
        for w in 0..writers {
            let s = &s;
            let root = &root;
            sc.spawn(move || {
                for i in 0..per {
                    let id = w * 1000 + i;
                    let sql = if i % 4 == 0 {
                        // Multi-row statements interleave with single ones.
                        format!(
                            "INSERT INTO app.src (id, w) VALUES ({id}, {w}), ({}, {w})",
                            id + 500
                        )
                    } else {
                        format!("INSERT INTO app.src (id, w) VALUES ({id}, {w})")
                    };
                    s.sql_ok(root, &sql);
                    s.sql_ok(root, &format!("INSERT INTO app.mine (id) VALUES ({id})"));
                }
            });
        }
    });
    let expected = writers * per + writers * per.div_ceil(4);
    assert_eq!(count(&s.root_sql("SELECT COUNT(*) FROM app.src")), expected);
    assert_eq!(
        count(&s.root_sql("SELECT COUNT(*) FROM app.mine")),
        writers * per
    );
    let msgs = s.drain(&root, "app.t", "g", 0, 500);
    let offsets: Vec<u64> = msgs.iter().map(|m| m.offset).collect();
    assert_eq!(
        offsets,
        (0..expected).collect::<Vec<u64>>(),
        "gapless offsets under concurrency"
    );
    let mut keys: Vec<String> = msgs.iter().map(|m| m.key.clone().unwrap()).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len() as u64, expected, "one message per row");
    // Per-writer order is preserved on the topic.
    for w in 0..writers {
        let mine: Vec<u64> = msgs
            .iter()
            .filter(|m| m.payload["w"] == json!(w))
            .map(|m| m.key.as_ref().unwrap().parse::<u64>().unwrap() % 500)
            .collect();
        let mut sorted = mine.clone();
        sorted.sort();
        assert_eq!(mine, sorted, "writer {w}'s rows appear in write order");
    }
    still_healthy(&mut s);
}

#[test]
fn badly_typed_consume_and_ack_fields_are_400_text() {
    let mut s = start();
    let root = s.root();
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql("CREATE TOPIC app.t");
    for body in [
        json!({"topic_id": "app.t", "group_id": "g", "limit": -1}),
        json!({"topic_id": "app.t", "group_id": "g", "limit": "10"}),
        json!({"topic_id": "app.t", "group_id": "g", "partition_id": -1}),
        json!({"topic_id": "app.t", "group_id": "g", "partition_id": 1.5}),
        json!({"topic_id": "app.t"}),
        json!({"group_id": "g"}),
        json!({"topic_id": 7, "group_id": "g"}),
    ] {
        let r = s.consume_raw(&root, &body);
        assert_eq!(r.status, 400, "consume {body}: {r}");
        assert!(
            r.try_json().map(|v| !v.is_object()).unwrap_or(true),
            "400 text: {r}"
        );
    }
    for body in [
        json!({"topic_id": "app.t", "group_id": "g", "upto_offset": -1}),
        json!({"topic_id": "app.t", "group_id": "g", "upto_offset": "3"}),
        json!({"topic_id": "app.t", "upto_offset": 3}),
    ] {
        let r = s.post("/v1/api/topics/ack", Some(&root), &body);
        assert_eq!(r.status, 400, "ack {body}: {r}");
    }
    still_healthy(&mut s);
}

#[test]
fn stalled_clients_do_not_block_others() {
    let mut s = start();
    let addr = s.base.strip_prefix("http://").unwrap().to_string();
    let mut stalled = Vec::new();
    for i in 0..20 {
        use std::io::Write;
        let mut c = std::net::TcpStream::connect(&addr).unwrap();
        let part: &[u8] = if i % 2 == 0 {
            b"POST /v1/api/sql HTTP/1.1\r\nHost: x\r\nContent-Length: 99\r\n\r\n{"
        } else {
            b"GET /hea"
        };
        c.write_all(part).unwrap();
        stalled.push(c);
    }
    let t0 = std::time::Instant::now();
    still_healthy(&mut s);
    expect_sql_ok(&s.sql(&s.root(), "SELECT 1"), "while 20 clients stall");
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        t0.elapsed()
    );
    drop(stalled);
    still_healthy(&mut s);
}

#[test]
fn extreme_numbers_in_topic_requests_do_not_crash_or_corrupt() {
    let mut s = start();
    let root = s.root();
    s.source_topic(
        "app",
        "CREATE SHARED TABLE app.src (id BIGINT PRIMARY KEY)",
        "app.src",
        "app.t",
        &["INSERT"],
    );
    s.root_sql("INSERT INTO app.src (id) VALUES (1), (2)");
    let max = u64::MAX;
    for body in [
        json!({"topic_id": "app.t", "group_id": "big-limit", "start": "Earliest", "limit": max}),
        json!({"topic_id": "app.t", "group_id": "big-offset", "start": {"Offset": max}, "limit": 10}),
        json!({"topic_id": "app.t", "group_id": "big-part", "start": "Earliest", "partition_id": u32::MAX}),
    ] {
        let r = s.consume_raw(&root, &body);
        assert!(r.status == 200 || r.status == 400, "consume {body}: {r}");
        still_healthy(&mut s);
    }
    let big = s.consume_raw(
        &root,
        &json!({"topic_id": "app.t", "group_id": "big-limit2", "start": "Earliest", "limit": max}),
    );
    assert_eq!(big.status, 200, "limit has no upper cap: {big}");
    assert_eq!(Batch::decode(&big.json()).offsets(), vec![0, 1]);
    for upto in [max, i64::MAX as u64 + 1, i64::MAX as u64] {
        let r = s.ack_raw(&root, "app.t", &format!("g{upto}"), 0, upto);
        assert!(r.status == 200 || r.status == 400, "ack {upto}: {r}");
        if r.status == 200 {
            assert_eq!(r.json()["acknowledged_offset"], json!(upto), "echo");
        }
        still_healthy(&mut s);
    }
    // The offsets table is still readable and the normal path still works.
    s.root_sql("SELECT topic_id, group_id, last_acked_offset FROM system.topic_offsets");
    s.root_sql("INSERT INTO app.src (id) VALUES (3)");
    assert_eq!(
        s.consume_earliest(&root, "app.t", "normal", 10).offsets(),
        vec![0, 1, 2]
    );
    still_healthy(&mut s);
}

#[test]
fn bad_command_lines_exit_with_an_error() {
    let bin = env!("CARGO_BIN_EXE_kalam-devserver");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_port = busy.local_addr().unwrap().port().to_string();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let cases: Vec<(&str, Vec<&str>)> = vec![
        (
            "unknown option",
            vec!["--port", "0", "--data-dir", data, "--no-such-option"],
        ),
        ("bad port", vec!["--port", "notaport", "--data-dir", data]),
        (
            "data dir is a file",
            vec!["--port", "0", "--data-dir", file.to_str().unwrap()],
        ),
        (
            "port in use",
            vec!["--port", &busy_port, "--data-dir", data],
        ),
    ];
    for (what, args) in cases {
        let mut child = std::process::Command::new(bin)
            .args(&args)
            .args(["--root-password", ROOT_PW, "--bcrypt-cost", "4"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let t0 = std::time::Instant::now();
        let status = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break Some(st);
            }
            if t0.elapsed() > std::time::Duration::from_secs(15) {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let status = status.unwrap_or_else(|| panic!("{what}: still running after 15 s"));
        let out = child.wait_with_output().unwrap();
        assert!(!status.success(), "{what}: must exit non-zero");
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("listening on"),
            "{what}: printed a listening line"
        );
        assert!(!out.stderr.is_empty(), "{what}: says why on stderr");
    }
    drop(busy);
}

#[test]
fn chunked_request_bodies_are_read() {
    let mut s = start();
    let auth = format!("Bearer {}", s.root());
    let body = br#"{"sql":"SELECT 41 + 1 AS n"}"#;
    let (a, b) = body.split_at(10);
    let mut raw = format!(
        "POST /v1/api/sql HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nAuthorization: {auth}\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    for part in [a, b] {
        raw.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        raw.extend_from_slice(part);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    let r = parse_response(&raw_exchange_opts(&s.base, &raw, false)).unwrap();
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.json()["results"][0]["rows"], json!([["42"]]));
    still_healthy(&mut s);
}
