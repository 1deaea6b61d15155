//! Users and roles (PROTOCOL §1.1, §1.4, §1.8, §5.4). The user id *is* the user name.

use rusqlite::{params, Connection, OptionalExtension};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    User,
    Service,
    Dba,
    System,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Service => "service",
            Role::Dba => "dba",
            Role::System => "system",
        }
    }

    pub fn parse_stored(s: &str) -> Role {
        Role::from_sql_word(s).unwrap_or(Role::User)
    }

    /// Role words and aliases accepted by CREATE/ALTER USER.
    pub fn from_sql_word(word: &str) -> Option<Role> {
        match word.to_ascii_lowercase().as_str() {
            "user" | "viewer" | "readonly" => Some(Role::User),
            "service" | "developer" | "analyst" => Some(Role::Service),
            "dba" | "admin" => Some(Role::Dba),
            "system" => Some(Role::System),
            _ => None,
        }
    }

    pub fn is_admin(self) -> bool {
        matches!(self, Role::Dba | Role::System)
    }

    /// May this role consume/ack topics over HTTP or SQL?
    pub fn may_consume(self) -> bool {
        !matches!(self, Role::User)
    }

    /// The `EXECUTE AS USER` matrix of PROTOCOL §2.6 (target == caller is checked separately).
    pub fn may_impersonate(self, target: Role) -> bool {
        match self {
            Role::System => true,
            Role::Dba => matches!(target, Role::Dba | Role::Service | Role::User),
            Role::Service => matches!(target, Role::Service | Role::User),
            Role::User => false,
        }
    }
}

#[derive(Clone, Debug)]
pub struct UserRecord {
    pub user_id: String,
    pub role: Role,
    pub email: Option<String>,
    pub password_hash: String,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

pub fn find_user(conn: &Connection, user_id: &str) -> rusqlite::Result<Option<UserRecord>> {
    conn.prepare_cached(
        "SELECT user_id, role, email, password_hash, created_at, updated_at FROM users \
         WHERE user_id = ?1 AND deleted_at IS NULL",
    )?
    .query_row(params![user_id], |r| {
        Ok(UserRecord {
            user_id: r.get(0)?,
            role: Role::parse_stored(&r.get::<_, String>(1)?),
            email: r.get(2)?,
            password_hash: r.get(3)?,
            created_at_ms: r.get(4)?,
            updated_at_ms: r.get(5)?,
        })
    })
    .optional()
}

pub fn user_exists(conn: &Connection, user_id: &str) -> rusqlite::Result<bool> {
    Ok(find_user(conn, user_id)?.is_some())
}

/// The `user` object of login/me responses.
pub fn user_info_json(u: &UserRecord) -> serde_json::Value {
    serde_json::json!({
        "id": u.user_id,
        "role": u.role.as_str(),
        "email": u.email,
        "created_at": crate::ids::rfc3339_from_millis(u.created_at_ms),
        "updated_at": crate::ids::rfc3339_from_millis(u.updated_at_ms),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impersonation_matrix() {
        assert!(Role::System.may_impersonate(Role::System));
        assert!(Role::Dba.may_impersonate(Role::Service));
        assert!(!Role::Dba.may_impersonate(Role::System));
        assert!(Role::Service.may_impersonate(Role::User));
        assert!(!Role::Service.may_impersonate(Role::Dba));
        assert!(!Role::User.may_impersonate(Role::User));
        assert_eq!(Role::from_sql_word("Developer"), Some(Role::Service));
    }
}
