//! Bearer authentication of SQL and topic requests (PROTOCOL §1.5-§1.7). Failures always use
//! the extractor envelope, even on topic endpoints.

use super::envelopes::extractor_error;
use crate::auth::jwt::{self, JwtConfig, TokenError};
use crate::sql::Identity;
use crate::store::Inner;
use crate::users::find_user;
use axum::http::{header, HeaderMap};
use axum::response::Response;

pub enum AuthFailure {
    Missing,
    Expired,
    Invalid,
    Internal,
}

impl AuthFailure {
    pub fn response(&self) -> Response {
        match self {
            AuthFailure::Missing => {
                extractor_error(401, "MISSING_AUTHORIZATION", "Authentication required")
            }
            AuthFailure::Expired => extractor_error(401, "TOKEN_EXPIRED", "Invalid credentials"),
            AuthFailure::Invalid => {
                extractor_error(401, "INVALID_CREDENTIALS", "Invalid credentials")
            }
            AuthFailure::Internal => {
                extractor_error(500, "AUTHENTICATION_ERROR", "Authentication failed")
            }
        }
    }
}

/// The raw Authorization header (None when absent or not valid text).
pub fn authorization_header(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// Validates `Authorization: Bearer <access token>` and looks the user up.
pub fn authenticate(
    inner: &Inner,
    cfg: &JwtConfig,
    authorization: Option<&str>,
) -> Result<Identity, AuthFailure> {
    let Some(value) = authorization else {
        return Err(AuthFailure::Missing);
    };
    let value = value.trim();
    let token = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => return Err(AuthFailure::Invalid),
    };
    access_identity(inner, cfg, token)
}

/// An access token's identity: type `access`, user exists, role claim matches.
pub fn access_identity(
    inner: &Inner,
    cfg: &JwtConfig,
    token: &str,
) -> Result<Identity, AuthFailure> {
    let claims = jwt::validate(cfg, token).map_err(|e| match e {
        TokenError::Expired => AuthFailure::Expired,
        TokenError::Invalid => AuthFailure::Invalid,
    })?;
    if claims.token_type.as_deref() != Some("access") {
        return Err(AuthFailure::Invalid);
    }
    let user = find_user(&inner.conn, &claims.sub)
        .map_err(|_| AuthFailure::Internal)?
        .ok_or(AuthFailure::Invalid)?;
    if let Some(role) = &claims.role {
        if role != user.role.as_str() {
            return Err(AuthFailure::Invalid);
        }
    }
    Ok(Identity {
        user_id: user.user_id,
        role: user.role,
    })
}
