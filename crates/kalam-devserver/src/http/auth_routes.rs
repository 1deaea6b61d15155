//! `/v1/api/auth/*` (PROTOCOL §1.1-§1.4): login, refresh, me, logout, status.

use super::body::typed_json;
use super::envelopes::{auth_error, json_response};
use super::SharedState;
use crate::auth::jwt::{self, TokenError};
use crate::users::{find_user, user_info_json, UserRecord};
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use std::net::SocketAddr;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[serde(alias = "username")]
    user: String,
    password: String,
}

const INVALID_CREDENTIALS: &str = "Invalid username or password";

pub(super) fn rate_limited() -> Response {
    auth_error(
        429,
        "rate_limited",
        "Too many authentication requests. Please try again later.",
    )
}

pub async fn login(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let req: LoginRequest = match typed_json(&headers, body, state.body_limit).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    if !state.auth_limiter.allow(peer.ip()) {
        return rate_limited();
    }
    if req.user.len() > 128 || req.password.len() > 256 {
        return auth_error(401, "unauthorized", INVALID_CREDENTIALS);
    }
    let user_id = req.user.clone();
    let user = state
        .with_engine(move |inner, _| find_user(&inner.conn, &user_id))
        .await;
    let user = match user {
        Ok(Some(u)) => u,
        Ok(None) => return auth_error(401, "unauthorized", INVALID_CREDENTIALS),
        Err(_) => return auth_error(500, "internal_error", "Authentication failed"),
    };
    if let Some(left) = state.lockout.locked_for(&user.user_id) {
        let minutes = left.as_secs().div_ceil(60).max(1);
        return auth_error(
            401,
            "account_locked",
            &format!("Account is locked. Try again in {minutes} minute(s)"),
        );
    }
    if user.password_hash.is_empty() {
        if user.user_id == "root" && req.password.is_empty() {
            return auth_error(
                428,
                "setup_required",
                "Server setup required: set a root password first",
            );
        }
        return auth_error(401, "unauthorized", INVALID_CREDENTIALS);
    }
    // bcrypt is slow by design: verify off the async threads and without the engine lock.
    let (password, hash) = (req.password, user.password_hash.clone());
    let ok = tokio::task::spawn_blocking(move || crate::auth::password::verify(&password, &hash))
        .await
        .unwrap_or(false);
    if !ok {
        state.lockout.record_failure(&user.user_id);
        return auth_error(401, "unauthorized", INVALID_CREDENTIALS);
    }
    state.lockout.record_success(&user.user_id);
    token_response(&state, &user)
}

/// The login/refresh body plus both cookies.
fn token_response(state: &SharedState, user: &UserRecord) -> Response {
    let role = user.role.as_str();
    let access = jwt::issue(
        &state.jwt,
        &user.user_id,
        role,
        user.email.as_deref(),
        false,
    );
    let refresh = jwt::issue(&state.jwt, &user.user_id, role, user.email.as_deref(), true);
    let (Ok(access), Ok(refresh)) = (access, refresh) else {
        return auth_error(500, "internal_error", "Failed to issue tokens");
    };
    let body = json!({
        "user": user_info_json(user),
        "admin_ui_access": user.role.is_admin(),
        "expires_at": crate::ids::rfc3339_from_millis(access.expires_at_ms),
        "access_token": access.token,
        "refresh_token": refresh.token,
        "refresh_expires_at": crate::ids::rfc3339_from_millis(refresh.expires_at_ms),
    });
    let mut resp = json_response(200, body);
    let access_age = state.jwt.expiry_secs.max(0);
    for cookie in [
        format!(
            "kalamdb_auth={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={access_age}",
            access.token
        ),
        format!(
            "kalamdb_refresh={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
            refresh.token,
            access_age * 7
        ),
    ] {
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|line| {
            line.split(';').find_map(|pair| {
                let (k, v) = pair.trim().split_once('=')?;
                (k == name).then(|| v.to_string())
            })
        })
}

/// None: no Authorization header. Some(Err): a header that is not `Bearer ...`.
fn bearer(headers: &HeaderMap) -> Option<Result<String, ()>> {
    let v = headers.get(header::AUTHORIZATION)?;
    let s = String::from_utf8_lossy(v.as_bytes()).into_owned();
    Some(match s.trim().split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            Ok(token.trim().to_string())
        }
        _ => Err(()),
    })
}

pub async fn refresh(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if !state.auth_limiter.allow(peer.ip()) {
        return rate_limited();
    }
    let token = match cookie(&headers, "kalamdb_refresh") {
        Some(t) => t,
        None => match bearer(&headers) {
            Some(Ok(t)) => t,
            Some(Err(())) => {
                return auth_error(401, "unauthorized", "Invalid authorization scheme")
            }
            None => return auth_error(401, "unauthorized", "Missing refresh token"),
        },
    };
    let claims = match jwt::validate(&state.jwt, &token) {
        Ok(c) => c,
        Err(TokenError::Expired) => {
            return auth_error(401, "unauthorized", "Refresh token expired")
        }
        Err(TokenError::Invalid) => {
            return auth_error(401, "unauthorized", "Invalid refresh token")
        }
    };
    if claims.token_type.as_deref() != Some("refresh") {
        return auth_error(
            401,
            "unauthorized",
            "Refresh endpoint requires a refresh token",
        );
    }
    let sub = claims.sub.clone();
    let user = match state
        .with_engine(move |inner, _| find_user(&inner.conn, &sub))
        .await
    {
        Ok(Some(u)) => u,
        Ok(None) => return auth_error(401, "unauthorized", "User not found"),
        Err(_) => return auth_error(500, "internal_error", "Authentication failed"),
    };
    if claims
        .role
        .as_deref()
        .map(|r| r != user.role.as_str())
        .unwrap_or(false)
    {
        return auth_error(401, "unauthorized", "Role changed; please log in again");
    }
    token_response(&state, &user)
}

pub async fn me(State(state): State<SharedState>, headers: HeaderMap) -> Response {
    let token = match bearer(&headers) {
        Some(Ok(t)) => t,
        Some(Err(())) => return auth_error(401, "unauthorized", "Invalid authorization scheme"),
        None => match cookie(&headers, "kalamdb_auth") {
            Some(t) => t,
            None => return auth_error(401, "unauthorized", "Not authenticated"),
        },
    };
    let result = state
        .with_engine(move |inner, st| {
            let id = super::bearer::access_identity(inner, &st.jwt, &token).ok()?;
            find_user(&inner.conn, &id.user_id).ok().flatten()
        })
        .await;
    match result {
        Some(user) => json_response(
            200,
            json!({ "user": user_info_json(&user), "admin_ui_access": user.role.is_admin() }),
        ),
        None => auth_error(401, "unauthorized", "Invalid or expired token"),
    }
}

pub async fn logout() -> Response {
    let mut resp = json_response(200, json!({ "message": "Logged out successfully" }));
    for name in ["kalamdb_auth", "kalamdb_refresh"] {
        if let Ok(v) = HeaderValue::from_str(&format!(
            "{name}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"
        )) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

pub async fn status(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    if !peer.ip().is_loopback() {
        return auth_error(
            403,
            "forbidden",
            "Setup status is only available from localhost",
        );
    }
    let needs_setup = state
        .with_engine(|inner, _| {
            find_user(&inner.conn, "root")
                .ok()
                .flatten()
                .map(|u| u.password_hash.is_empty())
        })
        .await
        .unwrap_or(true);
    let message = if needs_setup {
        "Server requires initial setup"
    } else {
        "Server is configured"
    };
    json_response(
        200,
        json!({ "needs_setup": needs_setup, "message": message }),
    )
}
