//! `POST /v1/api/auth/setup` (PROTOCOL §1.4): first-run setup from localhost. Sets root's
//! password and creates a DBA user; does not log in.

use super::auth_routes::rate_limited;
use super::body::typed_json;
use super::envelopes::{auth_error, json_response};
use super::SharedState;
use crate::users::{find_user, user_info_json, UserRecord};
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use std::net::SocketAddr;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetupRequest {
    #[serde(alias = "username")]
    user: String,
    password: String,
    root_password: String,
    #[serde(default)]
    email: Option<String>,
}

const COMMON_PASSWORDS: &[&str] = &[
    "password",
    "password1",
    "12345678",
    "123456789",
    "qwertyuiop",
    "iloveyou",
    "admin123",
    "letmein1",
    "welcome1",
];

fn weak_password(pw: &str) -> bool {
    pw.len() < 8 || pw.len() > 72 || COMMON_PASSWORDS.contains(&pw.to_ascii_lowercase().as_str())
}

/// Handler of `POST /v1/api/auth/setup`.
pub async fn setup(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let req: SetupRequest = match typed_json(&headers, body, state.body_limit).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    if !state.auth_limiter.allow(peer.ip()) {
        return rate_limited();
    }
    if !peer.ip().is_loopback() {
        return auth_error(403, "forbidden", "Setup is only available from localhost");
    }
    let configured = state
        .with_engine(|inner, _| {
            find_user(&inner.conn, "root")
                .ok()
                .flatten()
                .map(|u| !u.password_hash.is_empty())
        })
        .await
        .unwrap_or(false);
    if configured {
        return auth_error(409, "already_configured", "Server is already configured");
    }
    if weak_password(&req.password) || weak_password(&req.root_password) {
        return auth_error(
            400,
            "weak_password",
            "Password must be 8 to 72 characters and not a common password",
        );
    }
    let valid_id = !req.user.is_empty()
        && req.user.len() <= 128
        && req
            .user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !valid_id || req.user.eq_ignore_ascii_case("root") {
        return auth_error(400, "invalid_user", "Invalid user name");
    }
    let hashes = tokio::task::spawn_blocking(move || {
        let user_hash = crate::auth::password::hash(&req.password)?;
        let root_hash = crate::auth::password::hash(&req.root_password)?;
        Ok::<_, String>((req.user, req.email, user_hash, root_hash))
    })
    .await;
    let Ok(Ok((user_id, email, user_hash, root_hash))) = hashes else {
        return auth_error(500, "internal_error", "Password hashing failed");
    };
    let result = state
        .with_engine(move |inner, _| -> Result<Option<UserRecord>, rusqlite::Error> {
            if find_user(&inner.conn, &user_id)?.is_some() {
                return Ok(None);
            }
            let now = crate::ids::now_millis();
            inner.conn.execute(
                "INSERT INTO users (user_id, role, email, password_hash, auth_type, created_at, updated_at, deleted_at) \
                 VALUES (?1, 'dba', ?2, ?3, 'internal', ?4, ?4, NULL) ON CONFLICT(user_id) DO UPDATE SET role = 'dba', \
                 email = excluded.email, password_hash = excluded.password_hash, updated_at = excluded.updated_at, deleted_at = NULL",
                rusqlite::params![user_id, email, user_hash, now],
            )?;
            inner.conn.execute(
                "UPDATE users SET password_hash = ?1, updated_at = ?2 WHERE user_id = 'root'",
                rusqlite::params![root_hash, now],
            )?;
            find_user(&inner.conn, &user_id)
        })
        .await;
    match result {
        Ok(Some(user)) => json_response(
            200,
            json!({ "user": user_info_json(&user), "message": "Server setup complete. Log in with the new user." }),
        ),
        Ok(None) => auth_error(409, "user_exists", "User already exists"),
        Err(_) => auth_error(500, "internal_error", "Setup failed"),
    }
}
