//! First-start and every-start setup: the `root` user (PROTOCOL §1.4) and the JWT secret.

use crate::store::Inner;
use rand::Rng;
use rusqlite::params;

/// Creates `root` (role system, email root@localhost) if missing; sets its password when one
/// is configured (the configured password wins on every start, like the env var does).
pub fn ensure_root(inner: &Inner, root_password: Option<&str>) -> anyhow::Result<()> {
    let now = crate::ids::now_millis();
    inner.conn.execute(
        "INSERT OR IGNORE INTO users (user_id, role, email, password_hash, auth_type, created_at, updated_at) \
         VALUES ('root', 'system', 'root@localhost', '', 'internal', ?1, ?1)",
        params![now],
    )?;
    inner.conn.execute(
        "UPDATE users SET deleted_at = NULL, role = 'system' WHERE user_id = 'root'",
        [],
    )?;
    if let Some(pw) = root_password.filter(|p| !p.is_empty()) {
        let current: String = inner.conn.query_row(
            "SELECT password_hash FROM users WHERE user_id = 'root'",
            [],
            |r| r.get(0),
        )?;
        if !crate::auth::password::verify(pw, &current) {
            let hash = crate::auth::password::hash(pw).map_err(anyhow::Error::msg)?;
            inner.conn.execute(
                "UPDATE users SET password_hash = ?1, updated_at = ?2 WHERE user_id = 'root'",
                params![hash, now],
            )?;
        }
    }
    Ok(())
}

/// The configured secret, or one generated on first start and kept in `meta`, so tokens
/// survive restarts of the same data directory.
pub fn jwt_secret(inner: &Inner, configured: Option<&str>) -> anyhow::Result<String> {
    if let Some(s) = configured.filter(|s| !s.is_empty()) {
        return Ok(s.to_string());
    }
    if let Some(s) = inner.meta_get("jwt_secret")? {
        return Ok(s);
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill(&mut bytes);
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    inner.meta_set("jwt_secret", &secret)?;
    Ok(secret)
}
