//! Shared harness for the black-box tests of `kalam-devserver`.
//!
//! Every test starts its own server process on port 0 with its own temporary data directory,
//! reads the `listening on http://127.0.0.1:<port>` line, and talks plain HTTP/1.1 to it over a
//! small hand-written client (so malformed bodies, invalid UTF-8 and dropped connections can be
//! sent and observed exactly). Dropping a [`Server`] kills the process; when the test is
//! panicking, the tail of the server's stderr is printed to help diagnose the failure.
#![allow(dead_code)]

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use serde_json::{json, Value};

pub const ROOT_PW: &str = "root-test-pass";
pub const JWT_SECRET: &str = "kalam-devserver-tests-secret-0123456789abcdef";

/// Environment variables the server reads; removed from the child's environment so a
/// developer's shell cannot change what the tests see.
const SERVER_ENV: &[&str] = &[
    "KALAMDB_ROOT_PASSWORD",
    "KALAMDB_JWT_SECRET",
    "KALAMDB_JWT_EXPIRY_SECS",
    "KALAMDB_JWT_EXPIRY_HOURS",
    "KALAMDB_TOPIC_VISIBILITY_TIMEOUT_SECS",
    "KALAMDB_VISIBILITY_TIMEOUT_SECS",
    "KALAMDB_DATA_DIR",
    "KALAMDB_SERVER_PORT",
    "KALAMDB_SERVER_HOST",
    "KALAMDB_DEFAULT_QUERY_LIMIT",
    "KALAMDB_MAX_QUERY_LIMIT",
    "KALAMDB_UPDATE_RACE_WINDOW_MS",
];

// ------------------------------------------------------------------------------------------
// Builder
// ------------------------------------------------------------------------------------------

pub struct Builder {
    root_password: Option<String>,
    jwt_secret: Option<String>,
    bcrypt_cost: Option<u32>,
    auth_rate_limit: Option<u32>,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    port: u16,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            root_password: Some(ROOT_PW.to_string()),
            jwt_secret: Some(JWT_SECRET.to_string()),
            bcrypt_cost: Some(4),
            auth_rate_limit: Some(10_000),
            args: Vec::new(),
            envs: Vec::new(),
            port: 0,
        }
    }
}

impl Builder {
    /// Do not pass `--root-password` (use `env` to pass it another way, or leave root unset).
    pub fn no_root_password_arg(mut self) -> Self {
        self.root_password = None;
        self
    }
    pub fn no_jwt_secret_arg(mut self) -> Self {
        self.jwt_secret = None;
        self
    }
    pub fn jwt_secret(mut self, s: &str) -> Self {
        self.jwt_secret = Some(s.to_string());
        self
    }
    /// Keep the server's default login rate limit (20/s/IP).
    pub fn default_auth_rate_limit(mut self) -> Self {
        self.auth_rate_limit = None;
        self
    }
    pub fn auth_rate_limit(mut self, per_sec: u32) -> Self {
        self.auth_rate_limit = Some(per_sec);
        self
    }
    pub fn arg(mut self, k: &str, v: &str) -> Self {
        self.args.push(k.to_string());
        self.args.push(v.to_string());
        self
    }
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.envs.push((k.to_string(), v.to_string()));
        self
    }
    /// Listen on a fixed port instead of `--port 0`.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }
    pub fn visibility_timeout(self, secs: u64) -> Self {
        self.arg("--visibility-timeout-secs", &secs.to_string())
    }

    pub fn start(self) -> Server {
        let dir = tempfile::Builder::new()
            .prefix("kalam-devserver-test-")
            .tempdir()
            .expect("tempdir");
        let data_dir = dir.path().join("data");
        std::fs::create_dir_all(&data_dir).expect("create data dir");
        let mut args = Vec::new();
        if let Some(p) = &self.root_password {
            args.push("--root-password".to_string());
            args.push(p.clone());
        }
        if let Some(s) = &self.jwt_secret {
            args.push("--jwt-secret".to_string());
            args.push(s.clone());
        }
        if let Some(c) = self.bcrypt_cost {
            args.push("--bcrypt-cost".to_string());
            args.push(c.to_string());
        }
        if let Some(r) = self.auth_rate_limit {
            args.push("--auth-rate-limit".to_string());
            args.push(r.to_string());
        }
        args.extend(self.args);
        let mut srv = Server {
            child: None,
            base: String::new(),
            port: 0,
            dir,
            data_dir,
            args,
            envs: self.envs,
            root_token: Mutex::new(None),
            starts: 0,
            first_line: String::new(),
            fixed_port: self.port,
        };
        srv.spawn();
        srv
    }
}

pub fn start() -> Server {
    Builder::default().start()
}

pub fn builder() -> Builder {
    Builder::default()
}

// ------------------------------------------------------------------------------------------
// Server process
// ------------------------------------------------------------------------------------------

pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub port: u16,
    dir: tempfile::TempDir,
    data_dir: PathBuf,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    root_token: Mutex<Option<String>>,
    starts: usize,
    /// The first stdout line of the latest start, without its line ending.
    pub first_line: String,
    fixed_port: u16,
}

impl Server {
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server not running").id()
    }

    fn spawn(&mut self) {
        self.starts += 1;
        let log_path = self.dir.path().join(format!("stderr-{}.log", self.starts));
        let log = File::create(&log_path).expect("stderr log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kalam-devserver"));
        for k in SERVER_ENV {
            cmd.env_remove(k);
        }
        cmd.arg("--port")
            .arg(self.fixed_port.to_string())
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(&self.args)
            .envs(self.envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        let mut child = cmd.spawn().expect("spawn kalam-devserver");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            let mut line = String::new();
            let _ = r.read_line(&mut line);
            let _ = tx.send(line);
            // Keep draining so the server never blocks on a full pipe.
            let _ = std::io::copy(&mut r, &mut std::io::sink());
        });
        let line = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "server printed no first line within 60 s; stderr:\n{}",
                    tail(&log_path)
                );
            }
        };
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        let port = parse_listening_line(&line).unwrap_or_else(|| {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "first stdout line must be `listening on http://127.0.0.1:<port>`, got {line:?}; stderr:\n{}",
                tail(&log_path)
            )
        });
        self.first_line = line;
        self.port = port;
        self.base = format!("http://127.0.0.1:{port}");
        self.child = Some(child);
        *self.root_token.lock().unwrap() = None;
    }

    /// SIGKILL the process and wait for it.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGKILL, then start again on the same data directory with the same options.
    pub fn kill9_restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    /// Send `sig` and wait (up to `within`) for the process to exit.
    pub fn signal_and_wait(&mut self, sig: i32, within: Duration) -> Option<ExitStatus> {
        let mut c = self.child.take().expect("server not running");
        unsafe {
            libc::kill(c.id() as libc::pid_t, sig);
        }
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(st)) = c.try_wait() {
                return Some(st);
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Start again after a stop (signal or kill9).
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "server still running");
        self.spawn();
    }

    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    pub fn stderr_tail(&self) -> String {
        tail(&self.dir.path().join(format!("stderr-{}.log", self.starts)))
    }

    // ---------------------------------------------------------------------------- HTTP

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Resp {
        http(&self.base, method, path, headers, body).unwrap_or_else(|e| {
            panic!(
                "{method} {path}: {e}\nserver stderr:\n{}",
                self.stderr_tail()
            )
        })
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> Resp {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut h: Vec<(&str, &str)> = Vec::new();
        if let Some(a) = &auth {
            h.push(("Authorization", a));
        }
        self.request("GET", path, &h, None)
    }

    /// POST a JSON body with `Content-Type: application/json` and, when given, a Bearer token.
    pub fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Resp {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut h: Vec<(&str, &str)> = vec![("Content-Type", "application/json")];
        if let Some(a) = &auth {
            h.push(("Authorization", a));
        }
        let bytes = serde_json::to_vec(body).unwrap();
        self.request("POST", path, &h, Some(&bytes))
    }

    pub fn post_raw(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        self.request("POST", path, headers, Some(body))
    }

    // ---------------------------------------------------------------------------- auth

    pub fn login(&self, user: &str, password: &str) -> Resp {
        self.post(
            "/v1/api/auth/login",
            None,
            &json!({"user": user, "password": password}),
        )
    }

    /// Log in and return the access token (asserts 200).
    pub fn token(&self, user: &str, password: &str) -> String {
        let r = self.login(user, password);
        assert_eq!(r.status, 200, "login {user}: {r}");
        assert_json_content_type(&r);
        r.json()["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    /// The root access token (logged in once per server start).
    pub fn root(&self) -> String {
        let mut g = self.root_token.lock().unwrap();
        if g.is_none() {
            *g = Some(self.token("root", ROOT_PW));
        }
        g.clone().unwrap()
    }

    /// Create a user through root (password `<name>-pw`) and return its access token.
    pub fn user_token(&self, name: &str, role: &str) -> String {
        self.create_user(name, role);
        self.token(name, &format!("{name}-pw"))
    }

    pub fn create_user(&self, name: &str, role: &str) {
        self.sql_ok(
            &self.root(),
            &format!("CREATE USER {name} WITH PASSWORD '{name}-pw' ROLE {role}"),
        );
    }

    // ---------------------------------------------------------------------------- SQL

    pub fn sql(&self, token: &str, sql: &str) -> Resp {
        self.post("/v1/api/sql", Some(token), &json!({ "sql": sql }))
    }

    pub fn sql_body(&self, token: &str, body: &Value) -> Resp {
        self.post("/v1/api/sql", Some(token), body)
    }

    pub fn sql_params(&self, token: &str, sql: &str, params: Value) -> Resp {
        self.post(
            "/v1/api/sql",
            Some(token),
            &json!({ "sql": sql, "params": params }),
        )
    }

    /// Run SQL, assert HTTP 200 and `status: success`, return the body.
    pub fn sql_ok(&self, token: &str, sql: &str) -> Value {
        let r = self.sql(token, sql);
        expect_sql_ok(&r, sql)
    }

    pub fn sql_params_ok(&self, token: &str, sql: &str, params: Value) -> Value {
        let r = self.sql_params(token, sql, params);
        expect_sql_ok(&r, sql)
    }

    /// Run SQL as root, assert success.
    pub fn root_sql(&self, sql: &str) -> Value {
        self.sql_ok(&self.root(), sql)
    }

    /// Run each statement (one request each) as root.
    pub fn root_sql_all(&self, stmts: &[&str]) {
        for s in stmts {
            self.root_sql(s);
        }
    }

    /// Every row of `ordered_select` (a SELECT with an ORDER BY that makes the order total and
    /// no LIMIT), read in pages of 1,000: the server caps each SELECT (PROTOCOL §11).
    pub fn all_rows(&self, token: &str, ordered_select: &str) -> Vec<Value> {
        const PAGE: usize = 1000;
        let mut out = Vec::new();
        loop {
            let sql = format!("{ordered_select} LIMIT {PAGE} OFFSET {}", out.len());
            let page = rows(&self.sql_ok(token, &sql), 0);
            let last = page.len() < PAGE;
            out.extend(page);
            if last {
                return out;
            }
        }
    }

    /// Run SQL and assert it fails with the given HTTP status and SQL-envelope error code.
    pub fn sql_err(&self, token: &str, sql: &str, status: u16, code: &str) -> Value {
        let r = self.sql(token, sql);
        expect_sql_error(&r, status, code)
    }

    // ---------------------------------------------------------------------------- topics

    pub fn consume_raw(&self, token: &str, body: &Value) -> Resp {
        self.post("/v1/api/topics/consume", Some(token), body)
    }

    pub fn consume(
        &self,
        token: &str,
        topic: &str,
        group: &str,
        start: Value,
        limit: u64,
        partition: u32,
    ) -> Batch {
        let body = json!({"topic_id": topic, "group_id": group, "start": start, "limit": limit, "partition_id": partition});
        let r = self.consume_raw(token, &body);
        assert_eq!(r.status, 200, "consume {body}: {r}");
        assert_json_content_type(&r);
        Batch::decode(&r.json())
    }

    /// Consume partition 0 from `Earliest`.
    pub fn consume_earliest(&self, token: &str, topic: &str, group: &str, limit: u64) -> Batch {
        self.consume(token, topic, group, json!("Earliest"), limit, 0)
    }

    pub fn ack_raw(
        &self,
        token: &str,
        topic: &str,
        group: &str,
        partition: u32,
        upto: u64,
    ) -> Resp {
        self.post(
            "/v1/api/topics/ack",
            Some(token),
            &json!({"topic_id": topic, "group_id": group, "partition_id": partition, "upto_offset": upto}),
        )
    }

    pub fn ack(&self, token: &str, topic: &str, group: &str, partition: u32, upto: u64) {
        let r = self.ack_raw(token, topic, group, partition, upto);
        assert_eq!(
            r.status, 200,
            "ack {topic}/{group}/{partition} upto {upto}: {r}"
        );
        let b = r.json();
        assert_eq!(b["success"], json!(true), "{b}");
        assert_eq!(b["acknowledged_offset"], json!(upto), "{b}");
    }

    /// Drain a partition for `group` (limit per poll), acking each batch; returns all messages.
    pub fn drain(
        &self,
        token: &str,
        topic: &str,
        group: &str,
        partition: u32,
        limit: u64,
    ) -> Vec<Msg> {
        let mut out = Vec::new();
        for _ in 0..10_000 {
            let b = self.consume(token, topic, group, json!("Earliest"), limit, partition);
            if b.messages.is_empty() {
                return out;
            }
            let last = b.messages.last().unwrap().offset;
            out.extend(b.messages);
            self.ack(token, topic, group, partition, last);
        }
        panic!("drain did not finish");
    }

    /// Create namespace, table, topic and routes in one go (root).
    /// `table_ddl` is the full CREATE TABLE statement; `ops` e.g. `["INSERT","UPDATE","DELETE"]`.
    pub fn source_topic(
        &self,
        namespace: &str,
        table_ddl: &str,
        table: &str,
        topic: &str,
        ops: &[&str],
    ) {
        self.root_sql(&format!("CREATE NAMESPACE IF NOT EXISTS {namespace}"));
        self.root_sql(table_ddl);
        self.root_sql(&format!("CREATE TOPIC {topic}"));
        for op in ops {
            self.root_sql(&format!("ALTER TOPIC {topic} ADD SOURCE {table} ON {op}"));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "---- kalam-devserver stderr (last start) ----\n{}",
                self.stderr_tail()
            );
        }
    }
}

fn tail(p: &Path) -> String {
    let s = std::fs::read(p).unwrap_or_default();
    let start = s.len().saturating_sub(6000);
    String::from_utf8_lossy(&s[start..]).into_owned()
}

/// `listening on http://127.0.0.1:<port>` -> port (non-zero).
pub fn parse_listening_line(line: &str) -> Option<u16> {
    let rest = line.strip_prefix("listening on http://127.0.0.1:")?;
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let p: u16 = rest.parse().ok()?;
    (p != 0).then_some(p)
}

// ------------------------------------------------------------------------------------------
// Response checks
// ------------------------------------------------------------------------------------------

/// JSON bodies are sent as `application/json` (what actix's `.json()` sets).
pub fn assert_json_content_type(r: &Resp) {
    let ct = r.header("content-type").unwrap_or("");
    assert!(
        ct.starts_with("application/json"),
        "Content-Type must be application/json, got {ct:?}: {r}"
    );
}

pub fn expect_sql_ok(r: &Resp, what: &str) -> Value {
    assert_eq!(r.status, 200, "SQL `{what}` failed: {r}");
    assert_json_content_type(r);
    let b = r.json();
    assert_eq!(b["status"], json!("success"), "SQL `{what}`: {b}");
    assert!(b["results"].is_array(), "results missing: {b}");
    assert!(b["took"].is_number(), "took must be a number: {b}");
    b
}

/// The SQL / extractor envelope: `{status:"error", error:{code,message}, results:[], took}`.
pub fn expect_sql_error(r: &Resp, status: u16, code: &str) -> Value {
    assert_eq!(r.status, status, "expected {status} {code}, got: {r}");
    assert_json_content_type(r);
    let b = r.json();
    assert_eq!(b["status"], json!("error"), "{b}");
    assert_eq!(b["error"]["code"], json!(code), "{b}");
    assert!(
        b["error"]["message"].is_string(),
        "error.message must be a string: {b}"
    );
    assert_eq!(b["results"], json!([]), "results must be []: {b}");
    assert!(b["took"].is_number(), "took must be a number: {b}");
    b
}

/// The auth-endpoint envelope: `{error: "<code>", message: "..."}`.
pub fn expect_auth_error(r: &Resp, status: u16, code: &str) -> Value {
    assert_eq!(r.status, status, "expected {status} {code}, got: {r}");
    assert_json_content_type(r);
    let b = r.json();
    assert_eq!(b["error"], json!(code), "{b}");
    assert!(b["message"].is_string(), "message must be a string: {b}");
    b
}

/// The topic envelope: `{error: "<text>", code: "<CODE>"}`.
pub fn expect_topic_error(r: &Resp, status: u16, code: &str) -> Value {
    assert_eq!(r.status, status, "expected {status} {code}, got: {r}");
    assert_json_content_type(r);
    let b = r.json();
    assert_eq!(b["code"], json!(code), "{b}");
    assert!(b["error"].is_string(), "error must be the human text: {b}");
    b
}

/// Rows of result `i`.
pub fn rows(body: &Value, i: usize) -> Vec<Value> {
    body["results"][i]["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("results[{i}].rows missing: {body}"))
        .clone()
}

/// The single cell of a one-row, one-column first result.
pub fn scalar(body: &Value) -> Value {
    let r = rows(body, 0);
    assert_eq!(r.len(), 1, "expected one row: {body}");
    r[0][0].clone()
}

/// A BIGINT count cell (a JSON string) as a number.
pub fn count(body: &Value) -> u64 {
    let v = scalar(body);
    v.as_str()
        .unwrap_or_else(|| panic!("COUNT(*) must be a BIGINT string, got {v}"))
        .parse()
        .unwrap()
}

pub fn column_names(body: &Value, i: usize) -> Vec<String> {
    body["results"][i]["schema"]
        .as_array()
        .unwrap_or_else(|| panic!("results[{i}].schema missing: {body}"))
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

// ------------------------------------------------------------------------------------------
// Topic batches
// ------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct Msg {
    pub raw: Value,
    pub topic_id: String,
    pub partition: u64,
    pub offset: u64,
    pub key: Option<String>,
    pub user: Option<String>,
    pub op: String,
    pub timestamp_ms: u64,
    pub payload: Value,
}

#[derive(Debug, Clone)]
pub struct Batch {
    pub raw: Value,
    pub messages: Vec<Msg>,
    pub next_offset: u64,
    pub has_more: bool,
}

impl Batch {
    pub fn decode(b: &Value) -> Batch {
        let msgs = b["messages"]
            .as_array()
            .unwrap_or_else(|| panic!("messages must be an array: {b}"));
        let messages = msgs.iter().map(Msg::decode).collect();
        Batch {
            raw: b.clone(),
            messages,
            next_offset: b["next_offset"]
                .as_u64()
                .unwrap_or_else(|| panic!("next_offset must be a number: {b}")),
            has_more: b["has_more"]
                .as_bool()
                .unwrap_or_else(|| panic!("has_more must be a bool: {b}")),
        }
    }

    pub fn offsets(&self) -> Vec<u64> {
        self.messages.iter().map(|m| m.offset).collect()
    }
}

impl Msg {
    pub fn decode(m: &Value) -> Msg {
        let obj = m
            .as_object()
            .unwrap_or_else(|| panic!("message must be an object: {m}"));
        let key = match obj.get("key") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Null) => None,
            other => panic!("`key` must be present as a string or null, got {other:?} in {m}"),
        };
        let user = match obj.get("user") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => panic!("`user` must be a string or omitted, got {other} in {m}"),
        };
        let p64 = m["payload"]
            .as_str()
            .unwrap_or_else(|| panic!("payload must be a base64 string: {m}"));
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(p64)
            .unwrap_or_else(|e| panic!("payload is not standard padded base64 ({e}): {m}"));
        let payload: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "payload is not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        Msg {
            raw: m.clone(),
            topic_id: m["topic_id"]
                .as_str()
                .unwrap_or_else(|| panic!("topic_id missing: {m}"))
                .to_string(),
            partition: m["partition_id"]
                .as_u64()
                .unwrap_or_else(|| panic!("partition_id must be a number: {m}")),
            offset: m["offset"]
                .as_u64()
                .unwrap_or_else(|| panic!("offset must be a number: {m}")),
            key,
            user,
            op: m["op"]
                .as_str()
                .unwrap_or_else(|| panic!("op missing: {m}"))
                .to_string(),
            timestamp_ms: m["timestamp_ms"]
                .as_u64()
                .unwrap_or_else(|| panic!("timestamp_ms must be a number: {m}")),
            payload,
        }
    }
}

// ------------------------------------------------------------------------------------------
// Time and JWT helpers
// ------------------------------------------------------------------------------------------

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn b64url_decode(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap_or_else(|e| panic!("JWT segment is not base64url without padding ({e}): {s}"))
}

/// (header, claims) of a JWT, without verifying it.
pub fn jwt_parts(token: &str) -> (Value, Value) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT has three segments: {token}");
    let h = serde_json::from_slice(&b64url_decode(parts[0])).expect("JWT header JSON");
    let c = serde_json::from_slice(&b64url_decode(parts[1])).expect("JWT claims JSON");
    (h, c)
}

pub fn hs256(secret: &str, data: &[u8]) -> Vec<u8> {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// Sign `claims` as an HS256 JWT with `secret`.
pub fn forge_jwt(secret: &str, claims: &Value) -> String {
    let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let h = e.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let c = e.encode(serde_json::to_vec(claims).unwrap());
    let signing = format!("{h}.{c}");
    let sig = e.encode(hs256(secret, signing.as_bytes()));
    format!("{signing}.{sig}")
}

/// Does the token's signature verify with `secret`?
pub fn jwt_verifies(token: &str, secret: &str) -> bool {
    let Some((signing, sig)) = token.rsplit_once('.') else {
        return false;
    };
    let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    match e.decode(sig) {
        Ok(s) => s == hs256(secret, signing.as_bytes()),
        Err(_) => false,
    }
}

// ------------------------------------------------------------------------------------------
// Minimal HTTP/1.1 client
// ------------------------------------------------------------------------------------------

pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// Parse the body as JSON (panics with the body text when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}); status {}: {}",
                self.status,
                self.text()
            )
        })
    }
    pub fn try_json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

impl std::fmt::Display for Resp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = self.text();
        let t = if t.len() > 3000 {
            format!("{}...", &t[..3000])
        } else {
            t
        };
        write!(f, "HTTP {} {}", self.status, t)
    }
}

impl std::fmt::Debug for Resp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// One request on a fresh connection (`Connection: close`), the whole response read to EOF.
/// A write error (the server answering early, e.g. 413) does not abort: the response is
/// still read.
pub fn http(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Resp, String> {
    let addr = base
        .strip_prefix("http://")
        .ok_or("base must start with http://")?;
    let mut s = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(60))).unwrap();
    let _ = s.set_nodelay(true);
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        head.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    head.push_str("\r\n");
    let mut write_err = None;
    if let Err(e) = s.write_all(head.as_bytes()) {
        write_err = Some(e);
    }
    if write_err.is_none() {
        if let Some(b) = body {
            for chunk in b.chunks(64 * 1024) {
                if let Err(e) = s.write_all(chunk) {
                    write_err = Some(e);
                    break;
                }
            }
        }
    }
    let _ = s.flush();
    let mut buf = Vec::new();
    let read_res = s.read_to_end(&mut buf);
    if buf.is_empty() {
        return Err(format!(
            "no response (write error: {write_err:?}, read result: {read_res:?})"
        ));
    }
    parse_response(&buf)
}

/// Send raw bytes, half-close, and return whatever comes back (for garbage-request tests).
pub fn raw_exchange(base: &str, bytes: &[u8]) -> Vec<u8> {
    raw_exchange_opts(base, bytes, true)
}

/// Send raw bytes and read until the server closes (or 10 s pass); `half_close` shuts the
/// write side down after sending.
pub fn raw_exchange_opts(base: &str, bytes: &[u8], half_close: bool) -> Vec<u8> {
    let addr = base.strip_prefix("http://").unwrap();
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(bytes);
    if half_close {
        let _ = s.shutdown(std::net::Shutdown::Write);
    }
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    buf
}

fn find(h: &[u8], needle: &[u8]) -> Option<usize> {
    h.windows(needle.len()).position(|w| w == needle)
}

pub fn parse_response(buf: &[u8]) -> Result<Resp, String> {
    let end = find(buf, b"\r\n\r\n")
        .ok_or_else(|| format!("no header end in {:?}", String::from_utf8_lossy(buf)))?;
    let head = std::str::from_utf8(&buf[..end]).map_err(|e| format!("header not UTF-8: {e}"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut sp = status_line.splitn(3, ' ');
    let proto = sp.next().unwrap_or("");
    if !proto.starts_with("HTTP/1.") {
        return Err(format!("bad status line {status_line:?}"));
    }
    let status: u16 = sp
        .next()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut headers = Vec::new();
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let rest = &buf[end + 4..];
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.to_ascii_lowercase().contains("chunked")
    });
    let body = if chunked {
        dechunk(rest)?
    } else if let Some((_, v)) = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
    {
        let n: usize = v.parse().map_err(|_| format!("bad content-length {v}"))?;
        if rest.len() < n {
            return Err(format!("body truncated: {} of {n} bytes", rest.len()));
        }
        rest[..n].to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Resp {
        status,
        headers,
        body,
    })
}

fn dechunk(mut b: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let le = find(b, b"\r\n").ok_or("chunk size line missing")?;
        let size_str = std::str::from_utf8(&b[..le]).map_err(|_| "chunk size not text")?;
        let size_str = size_str.split(';').next().unwrap().trim();
        let size = usize::from_str_radix(size_str, 16)
            .map_err(|_| format!("bad chunk size {size_str:?}"))?;
        b = &b[le + 2..];
        if size == 0 {
            return Ok(out);
        }
        if b.len() < size + 2 {
            return Err("chunk truncated".into());
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

/// Poll `f` until it returns true or `within` passes.
pub fn eventually(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A persistent HTTP/1.1 connection (keep-alive), one request at a time, like browsers and
/// Node's fetch use.
pub struct Conn {
    s: TcpStream,
    host: String,
}

impl Conn {
    pub fn open(base: &str) -> Conn {
        let host = base.strip_prefix("http://").unwrap().to_string();
        let s = TcpStream::connect(&host).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let _ = s.set_nodelay(true);
        Conn { s, host }
    }

    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Resp {
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
            self.host,
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body);
        self.s
            .write_all(&bytes)
            .expect("write on keep-alive connection");
        let mut buf = Vec::new();
        let mut chunk = [0u8; 64 * 1024];
        loop {
            if let Some(end) = find(&buf, b"\r\n\r\n") {
                if let Some(r) = complete_response(&buf, end) {
                    return r;
                }
            }
            let n = self
                .s
                .read(&mut chunk)
                .expect("read on keep-alive connection");
            assert!(
                n > 0,
                "server closed a keep-alive connection after {} bytes",
                buf.len()
            );
            buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// A full response when `buf` holds one completely, else None.
fn complete_response(buf: &[u8], header_end: usize) -> Option<Resp> {
    let head = String::from_utf8_lossy(&buf[..header_end]).to_ascii_lowercase();
    let rest = &buf[header_end + 4..];
    if head.contains("transfer-encoding: chunked") {
        dechunk(rest).ok()?;
        return parse_response(buf).ok();
    }
    let len = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("content-length:")
                .map(|v| v.trim().parse::<usize>().unwrap())
        })
        .unwrap_or(0);
    if rest.len() >= len {
        parse_response(&buf[..header_end + 4 + len]).ok()
    } else {
        None
    }
}
