//! Issue 2, point 3: login, refresh, me, JWT claims, Basic rejection, error envelopes, roles.
mod common;

use common::*;
use serde_json::json;
use std::time::Duration;

fn is_rfc3339_utc(s: &str) -> bool {
    // 2026-03-01T10:00:00.123+00:00
    s.len() >= 25 && s.as_bytes()[4] == b'-' && s.as_bytes()[10] == b'T' && s.ends_with("+00:00")
}

#[test]
fn login_response_has_protocol_fields_and_cookies() {
    let s = start();
    s.create_user("worker1", "service");
    let r = s.login("worker1", "worker1-pw");
    assert_eq!(r.status, 200, "{r}");
    let b = r.json();
    assert_eq!(
        b["user"]["id"],
        json!("worker1"),
        "user.id is the user name: {b}"
    );
    assert_eq!(b["user"]["role"], json!("service"));
    assert!(
        b["user"].as_object().unwrap().contains_key("email"),
        "email always present: {b}"
    );
    assert_eq!(b["user"]["email"], json!(null));
    for k in ["created_at", "updated_at"] {
        let v = b["user"][k]
            .as_str()
            .unwrap_or_else(|| panic!("user.{k}: {b}"));
        assert!(is_rfc3339_utc(v), "user.{k} = {v}");
    }
    for k in ["expires_at", "refresh_expires_at"] {
        let v = b[k].as_str().unwrap_or_else(|| panic!("{k}: {b}"));
        assert!(is_rfc3339_utc(v), "{k} = {v}");
    }
    assert_eq!(b["admin_ui_access"], json!(false));
    let access = b["access_token"].as_str().unwrap();
    let refresh = b["refresh_token"].as_str().unwrap();
    assert_ne!(access, refresh);

    let cookies = r.header_all("set-cookie");
    let auth_c = cookies
        .iter()
        .find(|c| c.starts_with("kalamdb_auth="))
        .unwrap_or_else(|| panic!("{cookies:?}"));
    let ref_c = cookies
        .iter()
        .find(|c| c.starts_with("kalamdb_refresh="))
        .unwrap_or_else(|| panic!("{cookies:?}"));
    assert!(
        auth_c.starts_with(&format!("kalamdb_auth={access}")),
        "{auth_c}"
    );
    assert!(
        ref_c.starts_with(&format!("kalamdb_refresh={refresh}")),
        "{ref_c}"
    );
    for c in [auth_c, ref_c] {
        let l = c.to_ascii_lowercase();
        assert!(l.contains("httponly"), "{c}");
        assert!(l.contains("samesite=strict"), "{c}");
        assert!(l.contains("path=/"), "{c}");
        assert!(
            !l.contains("secure;") && !l.ends_with("secure"),
            "no Secure over plain http: {c}"
        );
    }
}

#[test]
fn jwt_claims_match_the_real_server() {
    let s = start();
    s.sql_ok(
        &s.root(),
        "CREATE USER mail1 WITH PASSWORD 'mail1-pw' ROLE dba EMAIL 'm@example.com'",
    );
    let b = s.login("mail1", "mail1-pw").json();
    assert_eq!(b["user"]["email"], json!("m@example.com"));
    assert_eq!(
        b["admin_ui_access"],
        json!(true),
        "dba gets admin_ui_access"
    );
    let (h, c) = jwt_parts(b["access_token"].as_str().unwrap());
    assert_eq!(h["alg"], json!("HS256"));
    assert_eq!(c["sub"], json!("mail1"));
    assert_eq!(c["iss"], json!("kalamdb"));
    assert_eq!(c["role"], json!("dba"));
    assert_eq!(c["token_type"], json!("access"));
    assert_eq!(c["email"], json!("m@example.com"));
    assert!(c["iat"].is_u64() && c["exp"].is_u64(), "{c}");
    let (_, rc) = jwt_parts(b["refresh_token"].as_str().unwrap());
    assert_eq!(rc["token_type"], json!("refresh"));
    assert_eq!(rc["sub"], json!("mail1"));
    // Default expiry: 24 h access, 7 x 24 h refresh.
    assert_eq!(
        c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(),
        24 * 3600
    );
    assert_eq!(
        rc["exp"].as_u64().unwrap() - rc["iat"].as_u64().unwrap(),
        7 * 24 * 3600
    );
    assert!(jwt_verifies(
        b["access_token"].as_str().unwrap(),
        JWT_SECRET
    ));
    // A service user without email has `email: null` in the token.
    s.create_user("plain1", "service");
    let (_, pc) = jwt_parts(&s.token("plain1", "plain1-pw"));
    assert!(
        pc.as_object().unwrap().contains_key("email") && pc["email"].is_null(),
        "{pc}"
    );
}

#[test]
fn username_alias_is_accepted() {
    let s = start();
    let r = s.post(
        "/v1/api/auth/login",
        None,
        &json!({"username": "root", "password": ROOT_PW}),
    );
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.json()["user"]["id"], json!("root"));
}

#[test]
fn login_body_errors_are_plain_text_400() {
    let s = start();
    let unknown = s.post(
        "/v1/api/auth/login",
        None,
        &json!({"user": "root", "password": ROOT_PW, "remember": true}),
    );
    assert_eq!(unknown.status, 400, "{unknown}");
    assert!(
        unknown.try_json().map(|v| !v.is_object()).unwrap_or(true),
        "400 text, not a JSON envelope: {unknown}"
    );
    assert!(unknown.text().contains("unknown field"), "{unknown}");
    let ct = unknown.header("content-type").unwrap_or("");
    assert!(ct.starts_with("text/plain"), "content-type {ct}");

    let missing = s.post("/v1/api/auth/login", None, &json!({"user": "root"}));
    assert_eq!(missing.status, 400, "{missing}");
    assert!(missing.text().contains("missing field"), "{missing}");

    let no_ct = s.post_raw(
        "/v1/api/auth/login",
        &[],
        format!(r#"{{"user":"root","password":"{ROOT_PW}"}}"#).as_bytes(),
    );
    assert_eq!(no_ct.status, 400, "Content-Type is required: {no_ct}");
}

#[test]
fn wrong_password_and_unknown_user_are_401_unauthorized_with_the_same_message() {
    let s = start();
    s.create_user("w1", "service");
    let a = expect_auth_error(&s.login("w1", "nope"), 401, "unauthorized");
    let b = expect_auth_error(&s.login("ghost", "nope"), 401, "unauthorized");
    assert_eq!(a["message"], b["message"], "generic message for both");
    // The right password still works after one failure.
    assert_eq!(s.login("w1", "w1-pw").status, 200);
}

#[test]
fn five_failed_logins_lock_the_account() {
    let s = start();
    s.create_user("locky", "service");
    s.create_user("other", "service");
    for _ in 0..5 {
        assert_eq!(s.login("locky", "wrong").status, 401);
    }
    let r = s.login("locky", "locky-pw");
    expect_auth_error(&r, 401, "account_locked");
    // Other accounts are unaffected.
    assert_eq!(s.login("other", "other-pw").status, 200);
}

#[test]
fn login_rate_limit_defaults_to_20_per_second() {
    let s = builder().default_auth_rate_limit().start();
    let mut codes = Vec::new();
    for _ in 0..60 {
        let r = s.login("root", ROOT_PW);
        if r.status == 429 {
            expect_auth_error(&r, 429, "rate_limited");
        } else {
            assert_eq!(r.status, 200, "{r}");
        }
        codes.push(r.status);
    }
    let limited = codes.iter().filter(|c| **c == 429).count();
    assert!(
        limited > 0,
        "60 fast logins from one IP must hit the 20/s limit: {codes:?}"
    );
    assert!(
        codes[..10].iter().all(|c| *c == 200),
        "the first logins pass: {codes:?}"
    );
    // Recovers after the window.
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(s.login("root", ROOT_PW).status, 200);
}

#[test]
fn auth_rate_limit_zero_is_unlimited() {
    let s = builder().auth_rate_limit(0).start();
    for i in 0..45 {
        let r = s.login("root", ROOT_PW);
        assert_eq!(r.status, 200, "login #{i}: {r}");
    }
}

#[test]
fn refresh_with_refresh_token_and_rejection_of_access_token() {
    let s = start();
    s.create_user("r1", "service");
    let b = s.login("r1", "r1-pw").json();
    let access = b["access_token"].as_str().unwrap().to_string();
    let refresh = b["refresh_token"].as_str().unwrap().to_string();

    let ok = s.post_raw(
        "/v1/api/auth/refresh",
        &[("Authorization", &format!("Bearer {refresh}"))],
        b"",
    );
    assert_eq!(ok.status, 200, "{ok}");
    let nb = ok.json();
    assert_eq!(nb["user"]["id"], json!("r1"));
    let new_access = nb["access_token"].as_str().expect("new access_token");
    assert!(
        nb["refresh_token"].is_string()
            && nb["expires_at"].is_string()
            && nb["refresh_expires_at"].is_string(),
        "{nb}"
    );
    assert_eq!(jwt_parts(new_access).1["token_type"], json!("access"));
    expect_sql_ok(
        &s.sql(new_access, "SELECT 1"),
        "SELECT 1 with refreshed token",
    );

    let bad = s.post_raw(
        "/v1/api/auth/refresh",
        &[("Authorization", &format!("Bearer {access}"))],
        b"",
    );
    let e = expect_auth_error(&bad, 401, "unauthorized");
    assert_eq!(
        e["message"],
        json!("Refresh endpoint requires a refresh token")
    );

    let none = s.post_raw("/v1/api/auth/refresh", &[], b"");
    expect_auth_error(&none, 401, "unauthorized");

    // Refresh through the cookie also works.
    let ck = s.post_raw(
        "/v1/api/auth/refresh",
        &[("Cookie", &format!("kalamdb_refresh={refresh}"))],
        b"",
    );
    assert_eq!(ck.status, 200, "{ck}");
}

#[test]
fn refresh_token_is_not_an_access_token() {
    let s = start();
    let b = s.login("root", ROOT_PW).json();
    let refresh = b["refresh_token"].as_str().unwrap();
    expect_sql_error(&s.sql(refresh, "SELECT 1"), 401, "INVALID_CREDENTIALS");
}

#[test]
fn me_returns_the_user_and_admin_flag() {
    let s = start();
    let r = s.get("/v1/api/auth/me", Some(&s.root()));
    assert_eq!(r.status, 200, "{r}");
    let b = r.json();
    assert_eq!(b["user"]["id"], json!("root"));
    assert_eq!(b["user"]["role"], json!("system"));
    assert_eq!(b["admin_ui_access"], json!(true));

    let svc = s.user_token("svc", "service");
    let b = s.get("/v1/api/auth/me", Some(&svc)).json();
    assert_eq!(b["user"]["id"], json!("svc"));
    assert_eq!(b["admin_ui_access"], json!(false));

    expect_auth_error(&s.get("/v1/api/auth/me", None), 401, "unauthorized");
    let basic = s.request(
        "GET",
        "/v1/api/auth/me",
        &[("Authorization", "Basic cm9vdDpyb290LXRlc3QtcGFzcw==")],
        None,
    );
    expect_auth_error(&basic, 401, "unauthorized");
    // Cookie auth on /me.
    let ck = s.request(
        "GET",
        "/v1/api/auth/me",
        &[("Cookie", &format!("kalamdb_auth={}", s.root()))],
        None,
    );
    assert_eq!(ck.status, 200, "{ck}");
}

#[test]
fn logout_always_succeeds() {
    let s = start();
    let r = s.post_raw("/v1/api/auth/logout", &[], b"");
    assert_eq!(r.status, 200, "{r}");
    assert!(r.json()["message"].is_string(), "{r}");
}

#[test]
fn basic_auth_is_rejected_on_protected_endpoints() {
    let s = start();
    use base64::Engine;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("root:{ROOT_PW}"))
    );
    let ct = ("Content-Type", "application/json");
    let r = s.post_raw(
        "/v1/api/sql",
        &[ct, ("Authorization", &basic)],
        br#"{"sql":"SELECT 1"}"#,
    );
    let e = expect_sql_error(&r, 401, "INVALID_CREDENTIALS");
    assert_eq!(e["error"]["message"], json!("Invalid credentials"));
    let r = s.post_raw(
        "/v1/api/topics/consume",
        &[ct, ("Authorization", &basic)],
        br#"{"topic_id":"a.b","group_id":"g"}"#,
    );
    expect_sql_error(&r, 401, "INVALID_CREDENTIALS");
    let r = s.post_raw(
        "/v1/api/topics/ack",
        &[ct, ("Authorization", &basic)],
        br#"{"topic_id":"a.b","group_id":"g","upto_offset":0}"#,
    );
    expect_sql_error(&r, 401, "INVALID_CREDENTIALS");
}

#[test]
fn missing_authorization_header() {
    let s = start();
    let ct = ("Content-Type", "application/json");
    for (path, body) in [
        ("/v1/api/sql", &br#"{"sql":"SELECT 1"}"#[..]),
        (
            "/v1/api/topics/consume",
            &br#"{"topic_id":"a.b","group_id":"g"}"#[..],
        ),
        (
            "/v1/api/topics/ack",
            &br#"{"topic_id":"a.b","group_id":"g","upto_offset":0}"#[..],
        ),
    ] {
        let r = s.post_raw(path, &[ct], body);
        let e = expect_sql_error(&r, 401, "MISSING_AUTHORIZATION");
        assert_eq!(
            e["error"]["message"],
            json!("Authentication required"),
            "{path}"
        );
    }
}

#[test]
fn bad_tokens_are_invalid_credentials() {
    let s = start();
    let good = s.root();
    // Tampered signature.
    let mut t = good.clone();
    let last = t.pop().unwrap();
    t.push(if last == 'A' { 'B' } else { 'A' });
    let cases = vec![
        ("garbage", "not-a-jwt".to_string()),
        ("tampered", t),
        (
            "wrong secret",
            forge_jwt(
                "another-secret-another-secret-another",
                &root_claims("access", 0),
            ),
        ),
        (
            "no token_type",
            forge_jwt(JWT_SECRET, &{
                let mut c = root_claims("access", 0);
                c.as_object_mut().unwrap().remove("token_type");
                c
            }),
        ),
        (
            "refresh type",
            forge_jwt(JWT_SECRET, &root_claims("refresh", 0)),
        ),
        (
            "untrusted issuer",
            forge_jwt(JWT_SECRET, &{
                let mut c = root_claims("access", 0);
                c["iss"] = json!("someone-else");
                c
            }),
        ),
        (
            "role mismatch",
            forge_jwt(JWT_SECRET, &{
                let mut c = root_claims("access", 0);
                c["role"] = json!("user");
                c
            }),
        ),
        (
            "unknown user",
            forge_jwt(JWT_SECRET, &{
                let mut c = root_claims("access", 0);
                c["sub"] = json!("nobody-here");
                c
            }),
        ),
        (
            "empty sub",
            forge_jwt(JWT_SECRET, &{
                let mut c = root_claims("access", 0);
                c["sub"] = json!("");
                c
            }),
        ),
        (
            "iat in the future",
            forge_jwt(JWT_SECRET, &root_claims("access", 600)),
        ),
        ("alg none", {
            let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
            use base64::Engine;
            format!(
                "{}.{}.",
                e.encode(br#"{"alg":"none","typ":"JWT"}"#),
                e.encode(root_claims("access", 0).to_string())
            )
        }),
        (
            "nbf in the future",
            forge_jwt(JWT_SECRET, &{
                let mut c = root_claims("access", 0);
                c["nbf"] = json!(now_secs() + 600);
                c
            }),
        ),
    ];
    for (what, tok) in cases {
        let r = s.sql(&tok, "SELECT 1");
        assert_eq!(r.status, 401, "{what}: {r}");
        assert_eq!(
            r.json()["error"]["code"],
            json!("INVALID_CREDENTIALS"),
            "{what}: {r}"
        );
        expect_sql_error(&r, 401, "INVALID_CREDENTIALS");
    }
    // Unknown scheme.
    let r = s.post_raw(
        "/v1/api/sql",
        &[
            ("Content-Type", "application/json"),
            ("Authorization", "Token abc"),
        ],
        br#"{"sql":"SELECT 1"}"#,
    );
    expect_sql_error(&r, 401, "INVALID_CREDENTIALS");
    // iat a little in the future (inside the 60 s allowance) is fine.
    expect_sql_ok(
        &s.sql(
            &forge_jwt(JWT_SECRET, &root_claims("access", 20)),
            "SELECT 1",
        ),
        "iat +20 s",
    );
    // A correctly forged token is accepted: the server really checks HS256 with the secret.
    let ok = forge_jwt(JWT_SECRET, &root_claims("access", 0));
    let b = expect_sql_ok(&s.sql(&ok, "SELECT 1"), "forged valid token");
    assert_eq!(b["results"][0]["as_user"], json!("root"));
}

fn root_claims(token_type: &str, iat_shift: u64) -> serde_json::Value {
    let now = now_secs() + iat_shift;
    json!({"sub": "root", "iss": "kalamdb", "iat": now, "exp": now + 3600, "email": "root@localhost",
           "role": "system", "token_type": token_type})
}

#[test]
fn expired_token_is_token_expired() {
    let s = builder()
        .arg("--jwt-expiry-secs", "2")
        .arg("--jwt-leeway-secs", "0")
        .start();
    let tok = s.root();
    expect_sql_ok(&s.sql(&tok, "SELECT 1"), "fresh token");
    std::thread::sleep(Duration::from_millis(3500));
    let e = expect_sql_error(&s.sql(&tok, "SELECT 1"), 401, "TOKEN_EXPIRED");
    assert_eq!(e["error"]["message"], json!("Invalid credentials"));
    // Same envelope on topic endpoints.
    let r = s.consume_raw(&tok, &json!({"topic_id": "a.b", "group_id": "g"}));
    expect_sql_error(&r, 401, "TOKEN_EXPIRED");
    // A forged token long past exp, too.
    let old = now_secs() - 7200;
    let forged = forge_jwt(
        JWT_SECRET,
        &json!({"sub":"root","iss":"kalamdb","iat":old,"exp":old + 60,
        "email":"root@localhost","role":"system","token_type":"access"}),
    );
    expect_sql_error(&s.sql(&forged, "SELECT 1"), 401, "TOKEN_EXPIRED");
}

#[test]
fn default_leeway_is_60_seconds() {
    let s = builder().arg("--jwt-expiry-secs", "1").start();
    let now = now_secs();
    // exp 30 s ago: still inside the 60 s leeway.
    let within = forge_jwt(
        JWT_SECRET,
        &json!({"sub":"root","iss":"kalamdb","iat":now - 40,"exp":now - 30,
        "email":"root@localhost","role":"system","token_type":"access"}),
    );
    expect_sql_ok(&s.sql(&within, "SELECT 1"), "token inside leeway");
    let beyond = forge_jwt(
        JWT_SECRET,
        &json!({"sub":"root","iss":"kalamdb","iat":now - 200,"exp":now - 90,
        "email":"root@localhost","role":"system","token_type":"access"}),
    );
    expect_sql_error(&s.sql(&beyond, "SELECT 1"), 401, "TOKEN_EXPIRED");
    // A real 1 s token keeps working 2.5 s later thanks to the leeway.
    let tok = s.root();
    std::thread::sleep(Duration::from_millis(2500));
    expect_sql_ok(&s.sql(&tok, "SELECT 1"), "1 s token within default leeway");
}

#[test]
fn role_user_is_forbidden_on_topic_endpoints() {
    let s = start();
    s.root_sql("CREATE NAMESPACE app");
    s.root_sql("CREATE TOPIC app.ev");
    let u = s.user_token("plainuser", "user");
    let r = s.consume_raw(
        &u,
        &json!({"topic_id": "app.ev", "group_id": "g", "start": "Earliest"}),
    );
    expect_topic_error(&r, 403, "FORBIDDEN");
    let r = s.ack_raw(&u, "app.ev", "g", 0, 0);
    expect_topic_error(&r, 403, "FORBIDDEN");
    // service, dba and system may consume.
    for (name, role) in [("svc", "service"), ("adm", "dba")] {
        let t = s.user_token(name, role);
        let r = s.consume_raw(
            &t,
            &json!({"topic_id": "app.ev", "group_id": "g2", "start": "Earliest"}),
        );
        assert_eq!(r.status, 200, "{role}: {r}");
    }
    let r = s.consume_raw(&s.root(), &json!({"topic_id": "app.ev", "group_id": "g3"}));
    assert_eq!(r.status, 200, "{r}");
}

#[test]
fn role_change_and_drop_invalidate_tokens() {
    let s = start();
    let t = s.user_token("changing", "service");
    expect_sql_ok(&s.sql(&t, "SELECT 1"), "before");
    s.root_sql("ALTER USER changing SET ROLE user");
    assert!(
        eventually(Duration::from_secs(8), || s.sql(&t, "SELECT 1").status
            == 401),
        "a role change must invalidate the old token"
    );
    expect_sql_error(&s.sql(&t, "SELECT 1"), 401, "INVALID_CREDENTIALS");
    let t2 = s.token("changing", "changing-pw");
    assert_eq!(jwt_parts(&t2).1["role"], json!("user"));
    s.root_sql("DROP USER changing");
    assert!(
        eventually(Duration::from_secs(8), || s.sql(&t2, "SELECT 1").status
            == 401),
        "a dropped user's token must stop working"
    );
    expect_auth_error(&s.login("changing", "changing-pw"), 401, "unauthorized");
}

#[test]
fn refresh_is_rejected_after_a_role_change_or_drop() {
    let s = start();
    s.create_user("rr", "service");
    let refresh = s.login("rr", "rr-pw").json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    s.root_sql("ALTER USER rr SET ROLE user");
    let hdr = format!("Bearer {refresh}");
    assert!(
        eventually(Duration::from_secs(8), || s
            .post_raw("/v1/api/auth/refresh", &[("Authorization", &hdr)], b"")
            .status
            == 401),
        "role claim must match the current role"
    );
    expect_auth_error(
        &s.post_raw("/v1/api/auth/refresh", &[("Authorization", &hdr)], b""),
        401,
        "unauthorized",
    );
    let refresh2 = s.login("rr", "rr-pw").json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    s.root_sql("DROP USER rr");
    let hdr2 = format!("Bearer {refresh2}");
    assert!(
        eventually(Duration::from_secs(8), || s
            .post_raw("/v1/api/auth/refresh", &[("Authorization", &hdr2)], b"")
            .status
            == 401),
        "a dropped user cannot refresh"
    );
}

#[test]
fn refresh_and_logout_set_cookies() {
    let s = start();
    let refresh = s.login("root", ROOT_PW).json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = s.post_raw(
        "/v1/api/auth/refresh",
        &[("Authorization", &format!("Bearer {refresh}"))],
        b"",
    );
    assert_eq!(r.status, 200, "{r}");
    let cookies = r.header_all("set-cookie");
    assert!(
        cookies.iter().any(|c| c.starts_with("kalamdb_auth=")),
        "{cookies:?}"
    );
    assert!(
        cookies.iter().any(|c| c.starts_with("kalamdb_refresh=")),
        "{cookies:?}"
    );
    let out = s.post_raw("/v1/api/auth/logout", &[], b"");
    let cookies = out.header_all("set-cookie");
    for name in ["kalamdb_auth=", "kalamdb_refresh="] {
        let c = cookies
            .iter()
            .find(|c| c.starts_with(name))
            .unwrap_or_else(|| panic!("logout must expire {name}: {cookies:?}"));
        let l = c.to_ascii_lowercase();
        assert!(
            l.contains("max-age=0") || l.contains("expires="),
            "cookie is expired: {c}"
        );
    }
}

#[test]
fn json_content_type_with_charset_is_accepted() {
    let s = start();
    let body = format!(r#"{{"user":"root","password":"{ROOT_PW}"}}"#);
    let r = s.post_raw(
        "/v1/api/auth/login",
        &[("Content-Type", "application/json; charset=utf-8")],
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "{r}");
}

#[test]
fn first_run_setup_sets_root_password_and_creates_a_dba() {
    let s = builder().no_root_password_arg().start();
    let setup = |body: serde_json::Value| s.post("/v1/api/auth/setup", None, &body);
    expect_auth_error(
        &setup(json!({"user": "admin", "password": "short", "root_password": "root-pass-123"})),
        400,
        "weak_password",
    );
    expect_auth_error(
        &setup(
            json!({"user": "root", "password": "admin-pass-123", "root_password": "root-pass-123"}),
        ),
        400,
        "invalid_user",
    );
    let r = setup(
        json!({"user": "admin", "password": "admin-pass-123", "root_password": "root-pass-123", "extra": 1}),
    );
    assert_eq!(r.status, 400, "unknown field -> 400 text: {r}");
    let r = setup(
        json!({"username": "admin", "password": "admin-pass-123", "root_password": "root-pass-123", "email": "a@b.c"}),
    );
    assert_eq!(r.status, 200, "{r}");
    let b = r.json();
    assert_eq!(b["user"]["id"], json!("admin"));
    assert_eq!(b["user"]["role"], json!("dba"));
    assert!(b["message"].is_string());
    assert!(
        b.get("access_token").is_none(),
        "setup does not log in: {b}"
    );
    assert_eq!(s.login("root", "root-pass-123").status, 200);
    assert_eq!(
        s.login("admin", "admin-pass-123").json()["user"]["role"],
        json!("dba")
    );
    expect_auth_error(
        &setup(
            json!({"user": "admin2", "password": "admin-pass-123", "root_password": "x-pass-12345"}),
        ),
        409,
        "already_configured",
    );
    assert_eq!(
        s.get("/v1/api/auth/status", None).json()["needs_setup"],
        json!(false)
    );
}

#[test]
fn auth_rate_limit_option_is_honoured() {
    let s = builder().auth_rate_limit(5).start();
    let codes: Vec<u16> = (0..12).map(|_| s.login("root", ROOT_PW).status).collect();
    assert!(
        codes.contains(&429),
        "12 fast logins with --auth-rate-limit 5: {codes:?}"
    );
    assert!(codes[..3].iter().all(|c| *c == 200), "{codes:?}");
}

#[test]
fn expired_refresh_token_and_me_with_expired_token() {
    let s = builder()
        .arg("--jwt-expiry-secs", "1")
        .arg("--jwt-leeway-secs", "0")
        .start();
    let b = s.login("root", ROOT_PW).json();
    let access = b["access_token"].as_str().unwrap().to_string();
    let refresh = b["refresh_token"].as_str().unwrap().to_string();
    let (_, rc) = jwt_parts(&refresh);
    assert_eq!(rc["exp"].as_u64().unwrap() - rc["iat"].as_u64().unwrap(), 7);
    std::thread::sleep(Duration::from_millis(2500));
    // Access expired, refresh (7 s) still fine.
    expect_auth_error(
        &s.get("/v1/api/auth/me", Some(&access)),
        401,
        "unauthorized",
    );
    let ok = s.post_raw(
        "/v1/api/auth/refresh",
        &[("Authorization", &format!("Bearer {refresh}"))],
        b"",
    );
    assert_eq!(ok.status, 200, "{ok}");
    std::thread::sleep(Duration::from_millis(6500));
    let r = s.post_raw(
        "/v1/api/auth/refresh",
        &[("Authorization", &format!("Bearer {refresh}"))],
        b"",
    );
    expect_auth_error(&r, 401, "unauthorized");
}
