//! Issue 2, point 1 (start, port line, options, clean stop) and point 7 (health, CORS).
mod common;

use common::*;
use serde_json::json;
use std::time::{Duration, Instant};

#[test]
fn first_stdout_line_names_a_free_port_and_the_server_answers_there() {
    let a = start();
    let b = start();
    assert!(
        parse_listening_line(&a.first_line).is_some(),
        "{:?}",
        a.first_line
    );
    assert_eq!(
        a.first_line,
        format!("listening on http://127.0.0.1:{}", a.port)
    );
    assert_ne!(
        a.port, b.port,
        "port 0 must pick a free port for each server"
    );
    for s in [&a, &b] {
        let r = s.get("/health", None);
        assert_eq!(r.status, 200, "{r}");
    }
}

#[test]
fn health_endpoints_report_healthy() {
    let s = start();
    for path in ["/health", "/v1/api/healthcheck"] {
        let r = s.get(path, None);
        assert_eq!(r.status, 200, "{path}: {r}");
        let b = r.json();
        assert_eq!(b["status"], json!("healthy"), "{path}: {b}");
        assert_eq!(b["api_version"], json!("v1"), "{path}: {b}");
        let v = b["version"]
            .as_str()
            .unwrap_or_else(|| panic!("version must be a string: {b}"));
        assert!(
            !v.is_empty() && v.contains('.'),
            "version must look like semver: {b}"
        );
        assert!(
            b["build_date"].is_string(),
            "build_date must be a string: {b}"
        );
    }
}

#[test]
fn root_password_from_option_logs_in_as_system() {
    let s = start();
    let r = s.login("root", ROOT_PW);
    assert_eq!(r.status, 200, "{r}");
    let b = r.json();
    assert_eq!(b["user"]["id"], json!("root"));
    assert_eq!(b["user"]["role"], json!("system"));
    assert_eq!(b["user"]["email"], json!("root@localhost"));
    assert_eq!(b["admin_ui_access"], json!(true));
    expect_auth_error(&s.login("root", "not-the-password"), 401, "unauthorized");
}

#[test]
fn root_password_from_env() {
    let s = builder()
        .no_root_password_arg()
        .env("KALAMDB_ROOT_PASSWORD", "from-env-pass-1")
        .start();
    assert_eq!(s.login("root", "from-env-pass-1").status, 200);
    expect_auth_error(&s.login("root", ROOT_PW), 401, "unauthorized");
}

#[test]
fn root_without_password_cannot_log_in() {
    let s = builder().no_root_password_arg().start();
    // Empty password: 428 setup_required; any other password: 401 (localhost).
    expect_auth_error(&s.login("root", ""), 428, "setup_required");
    expect_auth_error(&s.login("root", "guess"), 401, "unauthorized");
    let st = s.get("/v1/api/auth/status", None);
    assert_eq!(st.status, 200, "{st}");
    assert_eq!(st.json()["needs_setup"], json!(true), "{st}");

    let with_pw = start();
    let st = with_pw.get("/v1/api/auth/status", None);
    assert_eq!(st.status, 200, "{st}");
    assert_eq!(st.json()["needs_setup"], json!(false), "{st}");
}

#[test]
fn jwt_secret_option_and_env_sign_the_tokens() {
    let a = builder()
        .jwt_secret("secret-a-0123456789-0123456789-0123456789")
        .start();
    let b = builder()
        .no_jwt_secret_arg()
        .env(
            "KALAMDB_JWT_SECRET",
            "secret-b-0123456789-0123456789-0123456789",
        )
        .start();
    let ta = a.root();
    let tb = b.root();
    let (h, _) = jwt_parts(&ta);
    assert_eq!(h["alg"], json!("HS256"), "{h}");
    assert!(
        jwt_verifies(&ta, "secret-a-0123456789-0123456789-0123456789"),
        "token of A must be HS256 with --jwt-secret"
    );
    assert!(
        jwt_verifies(&tb, "secret-b-0123456789-0123456789-0123456789"),
        "token of B must be HS256 with KALAMDB_JWT_SECRET"
    );
    // A token of one server is not accepted by the other.
    expect_sql_error(&b.sql(&ta, "SELECT 1"), 401, "INVALID_CREDENTIALS");
    expect_sql_ok(&a.sql(&ta, "SELECT 1"), "SELECT 1");
}

#[test]
fn jwt_expiry_option_sets_exp_and_expires_at() {
    let s = builder().arg("--jwt-expiry-secs", "120").start();
    let before = now_secs();
    let b = s.login("root", ROOT_PW).json();
    let (_, access) = jwt_parts(b["access_token"].as_str().unwrap());
    let (_, refresh) = jwt_parts(b["refresh_token"].as_str().unwrap());
    let iat = access["iat"].as_u64().unwrap();
    assert!(
        iat + 1 >= before && iat <= now_secs() + 1,
        "iat {iat} not now"
    );
    assert_eq!(access["exp"].as_u64().unwrap() - iat, 120, "{access}");
    assert_eq!(
        refresh["exp"].as_u64().unwrap() - refresh["iat"].as_u64().unwrap(),
        7 * 120,
        "{refresh}"
    );
    // expires_at is an RFC 3339 string; its date must be today-ish (no parser here: check shape).
    let ea = b["expires_at"].as_str().unwrap();
    assert!(
        ea.contains('T') && ea.ends_with("+00:00"),
        "expires_at {ea}"
    );

    let e = builder().env("KALAMDB_JWT_EXPIRY_SECS", "300").start();
    let (_, c) = jwt_parts(&e.root());
    assert_eq!(
        c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(),
        300,
        "{c}"
    );
}

fn stop_with(sig: i32) {
    let mut s = start();
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql("CREATE SHARED TABLE app.kv (k TEXT PRIMARY KEY, v TEXT)");
    s.root_sql("INSERT INTO app.kv (k, v) VALUES ('a', 'one')");
    let t0 = Instant::now();
    let st = s
        .signal_and_wait(sig, Duration::from_secs(15))
        .expect("server did not stop within 15 s");
    assert!(
        st.success(),
        "clean stop must exit with status 0, got {st:?}"
    );
    eprintln!("stopped by signal {sig} in {:?}", t0.elapsed());
    s.start_again();
    let b = s.root_sql("SELECT v FROM app.kv WHERE k = 'a'");
    assert_eq!(rows(&b, 0), vec![json!(["one"])]);
}

#[test]
fn sigterm_stops_cleanly_and_keeps_data() {
    stop_with(libc::SIGTERM);
}

#[test]
fn sigint_stops_cleanly_and_keeps_data() {
    stop_with(libc::SIGINT);
}

#[test]
fn cors_preflight_from_another_localhost_origin() {
    let s = start();
    for origin in ["http://localhost:5173", "http://127.0.0.1:3000"] {
        for path in [
            "/v1/api/sql",
            "/v1/api/topics/consume",
            "/v1/api/auth/login",
        ] {
            let r = s.request(
                "OPTIONS",
                path,
                &[
                    ("Origin", origin),
                    ("Access-Control-Request-Method", "POST"),
                    (
                        "Access-Control-Request-Headers",
                        "authorization,content-type",
                    ),
                ],
                None,
            );
            assert!(
                r.status == 200 || r.status == 204,
                "preflight {path} from {origin}: {r}"
            );
            let allow_origin = r
                .header("access-control-allow-origin")
                .unwrap_or_else(|| panic!("no allow-origin: {:?}", r.headers));
            assert!(
                allow_origin == origin || allow_origin == "*",
                "allow-origin {allow_origin} for {origin}"
            );
            let methods = r
                .header("access-control-allow-methods")
                .unwrap_or("")
                .to_ascii_uppercase();
            assert!(
                methods.contains("POST") || methods == "*",
                "allow-methods {methods:?}"
            );
            // `*` does not cover Authorization for browsers: it must be named.
            let hdrs = r
                .header("access-control-allow-headers")
                .unwrap_or("")
                .to_ascii_lowercase();
            assert!(
                hdrs.contains("authorization"),
                "allow-headers must name authorization: {hdrs:?}"
            );
            assert!(
                hdrs.contains("content-type") || hdrs.contains('*'),
                "allow-headers {hdrs:?}"
            );
        }
    }
    // The actual request carries the CORS header too.
    let tok = s.root();
    let auth = format!("Bearer {tok}");
    let r = s.post_raw(
        "/v1/api/sql",
        &[
            ("Origin", "http://localhost:5173"),
            ("Content-Type", "application/json"),
            ("Authorization", &auth),
        ],
        br#"{"sql":"SELECT 1"}"#,
    );
    assert_eq!(r.status, 200, "{r}");
    let ao = r
        .header("access-control-allow-origin")
        .expect("allow-origin on the actual response");
    assert!(ao == "http://localhost:5173" || ao == "*", "{ao}");
}

#[test]
fn keep_alive_connections_serve_many_requests() {
    let s = start();
    s.source_topic(
        "app",
        "CREATE SHARED TABLE app.src (id BIGINT PRIMARY KEY)",
        "app.src",
        "app.t",
        &["INSERT"],
    );
    let mut c = Conn::open(&s.base);
    let ct = ("Content-Type", "application/json");
    let login = c.send(
        "POST",
        "/v1/api/auth/login",
        &[ct],
        format!(r#"{{"user":"root","password":"{ROOT_PW}"}}"#).as_bytes(),
    );
    assert_eq!(login.status, 200, "{login}");
    let auth = format!("Bearer {}", login.json()["access_token"].as_str().unwrap());
    let h = [ct, ("Authorization", auth.as_str())];
    for i in 0..20 {
        let r = c.send(
            "POST",
            "/v1/api/sql",
            &h,
            format!(r#"{{"sql":"INSERT INTO app.src (id) VALUES ({i})"}}"#).as_bytes(),
        );
        assert_eq!(r.status, 200, "request {i}: {r}");
    }
    let r = c.send(
        "POST",
        "/v1/api/sql",
        &h,
        br#"{"sql":"SELECT COUNT(*) AS n FROM app.src"}"#,
    );
    assert_eq!(r.json()["results"][0]["rows"], json!([["20"]]), "{r}");
    let r = c.send(
        "POST",
        "/v1/api/topics/consume",
        &h,
        br#"{"topic_id":"app.t","group_id":"g","start":"Earliest","limit":100}"#,
    );
    assert_eq!(Batch::decode(&r.json()).messages.len(), 20);
    let r = c.send(
        "POST",
        "/v1/api/topics/ack",
        &h,
        br#"{"topic_id":"app.t","group_id":"g","upto_offset":19}"#,
    );
    assert_eq!(
        r.json(),
        json!({"success": true, "acknowledged_offset": 19})
    );
    // Errors do not close the connection either.
    let r = c.send("POST", "/v1/api/sql", &h, br#"{"sql":"SELEC"}"#);
    assert_eq!(r.status, 400);
    let r = c.send(
        "POST",
        "/v1/api/topics/consume",
        &h,
        br#"{"topic_id":"app.none","group_id":"g"}"#,
    );
    assert_eq!(r.status, 404);
    let r = c.send("GET", "/health", &[], b"");
    assert_eq!(r.status, 200);
}

#[test]
fn a_fixed_port_is_used_and_printed() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let s = builder().port(port).start();
    assert_eq!(s.port, port);
    assert_eq!(
        s.first_line,
        format!("listening on http://127.0.0.1:{port}")
    );
    assert_eq!(s.get("/health", None).status, 200);
}

#[test]
fn binds_loopback_only_and_logs_to_stderr() {
    let s = start();
    assert_eq!(s.get("/health", None).status, 200);
    // Find this machine's outward-facing address (no packet is sent by a UDP connect).
    let ip = std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|u| u.connect("10.255.255.254:9").map(|_| u))
        .and_then(|u| u.local_addr())
        .map(|a| a.ip());
    match ip {
        Ok(ip) if !ip.is_loopback() && !ip.is_unspecified() => {
            let r = std::net::TcpStream::connect_timeout(
                &std::net::SocketAddr::new(ip, s.port),
                Duration::from_secs(2),
            );
            assert!(r.is_err(), "the server must not listen on {ip}");
        }
        _ => eprintln!("no non-loopback address on this machine; loopback-only check skipped"),
    }
    assert!(
        !s.stderr_tail().trim().is_empty(),
        "the server logs to stderr"
    );
}

fn sigterm_with_connection(open: impl FnOnce(&Server) -> Box<dyn std::any::Any>) {
    let mut s = start();
    let conn = open(&s);
    std::thread::sleep(Duration::from_millis(200));
    let t0 = Instant::now();
    // actix-web (the real server) force-closes connections 30 s after the signal at the latest.
    let st = s.signal_and_wait(libc::SIGTERM, Duration::from_secs(35));
    let st = st.unwrap_or_else(|| {
        panic!("server still running 35 s after SIGTERM with an open client connection")
    });
    assert!(st.success(), "{st:?}");
    eprintln!("stopped in {:?} with an open connection", t0.elapsed());
    drop(conn);
}

#[test]
fn sigterm_stops_promptly_with_an_idle_keep_alive_connection() {
    // Like the connection pool of Node's fetch keeps.
    sigterm_with_connection(|s| {
        let mut idle = Conn::open(&s.base);
        assert_eq!(idle.send("GET", "/health", &[], b"").status, 200);
        Box::new(idle)
    });
}

#[test]
fn sigterm_stops_promptly_with_a_stalled_half_request() {
    sigterm_with_connection(|s| {
        use std::io::Write;
        let mut half =
            std::net::TcpStream::connect(s.base.strip_prefix("http://").unwrap()).unwrap();
        half.write_all(
            b"POST /v1/api/sql HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{\"sql\"",
        )
        .unwrap();
        Box::new(half)
    });
}
