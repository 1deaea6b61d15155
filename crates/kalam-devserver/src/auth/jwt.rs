//! HS256 tokens with KalamDB's claims (PROTOCOL §1.5).

use jsonwebtoken::{
    decode, encode, errors::ErrorKind, Algorithm, DecodingKey, EncodingKey, Header, Validation,
};
use serde::{Deserialize, Serialize};

pub const ISSUER: &str = "kalamdb";

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
    pub email: Option<String>,
    pub role: Option<String>,
    pub token_type: Option<String>,
}

#[derive(Clone)]
pub struct JwtConfig {
    pub secret: String,
    pub expiry_secs: i64,
    pub leeway_secs: u64,
}

#[derive(Debug, PartialEq)]
pub enum TokenError {
    Expired,
    Invalid,
}

pub struct Issued {
    pub token: String,
    pub expires_at_ms: i64,
}

pub fn issue(
    cfg: &JwtConfig,
    user: &str,
    role: &str,
    email: Option<&str>,
    refresh: bool,
) -> Result<Issued, String> {
    let now = crate::ids::now_millis() / 1000;
    let lifetime = if refresh {
        cfg.expiry_secs.saturating_mul(7)
    } else {
        cfg.expiry_secs
    };
    let claims = Claims {
        sub: user.to_string(),
        iss: ISSUER.to_string(),
        iat: now,
        exp: now + lifetime,
        email: email.map(str::to_string),
        role: Some(role.to_string()),
        token_type: Some(if refresh { "refresh" } else { "access" }.to_string()),
    };
    let token = encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(cfg.secret.as_bytes()),
    )
    .map_err(|e| e.to_string())?;
    Ok(Issued {
        token,
        expires_at_ms: (now + lifetime) * 1000,
    })
}

/// Signature, issuer, `exp` (with leeway), `iat` not in the future, non-empty `sub`.
/// The token type and the user lookup are checked by the caller.
pub fn validate(cfg: &JwtConfig, token: &str) -> Result<Claims, TokenError> {
    let mut v = Validation::new(Algorithm::HS256);
    v.leeway = cfg.leeway_secs;
    v.validate_nbf = true;
    v.set_issuer(&[ISSUER]);
    v.set_required_spec_claims(&["exp", "sub", "iss"]);
    let data = decode::<Claims>(token, &DecodingKey::from_secret(cfg.secret.as_bytes()), &v)
        .map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => TokenError::Expired,
            _ => TokenError::Invalid,
        })?;
    let claims = data.claims;
    let now = crate::ids::now_millis() / 1000;
    if claims.sub.is_empty() || claims.iat > now + 60 {
        return Err(TokenError::Invalid);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(expiry: i64, leeway: u64) -> JwtConfig {
        JwtConfig {
            secret: "test-secret-test-secret-test-secret".into(),
            expiry_secs: expiry,
            leeway_secs: leeway,
        }
    }

    #[test]
    fn round_trip_and_expiry() {
        let c = cfg(3600, 60);
        let t = issue(&c, "alice", "service", None, false).unwrap();
        let claims = validate(&c, &t.token).unwrap();
        assert_eq!(claims.sub, "alice");
        assert_eq!(claims.token_type.as_deref(), Some("access"));
        let expired = issue(&cfg(-10, 0), "alice", "service", None, false).unwrap();
        assert_eq!(
            validate(&cfg(-10, 0), &expired.token).unwrap_err(),
            TokenError::Expired
        );
        assert_eq!(validate(&c, "garbage").unwrap_err(), TokenError::Invalid);
        let other = JwtConfig {
            secret: "another-secret-another-secret-xx".into(),
            ..c.clone()
        };
        assert_eq!(validate(&other, &t.token).unwrap_err(), TokenError::Invalid);
    }
}
