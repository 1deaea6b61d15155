//! Authentication: password hashes, JWTs, the per-IP login rate limit (PROTOCOL §1).

pub mod jwt;
pub mod lockout;
pub mod password;
pub mod rate_limit;
