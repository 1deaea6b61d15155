//! bcrypt is slow on purpose. Passwords of CREATE/ALTER USER are hashed before the request
//! takes the engine lock, so user management never stalls consumers and other writers.

use super::kalam_parser::{self, KalamStatement, UserAuth, UserChange};
use super::split::{parse_execute_as, split_statements};
use std::collections::hash_map::Entry;
use std::collections::HashMap;

/// Password → hash for every CREATE USER ... PASSWORD / ALTER USER ... SET PASSWORD in `sql`.
/// Statements that do not parse are skipped; execution reports them.
pub fn prehash_passwords(sql: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    if !sql.to_ascii_uppercase().contains("PASSWORD") {
        return out;
    }
    let Ok(statements) = split_statements(sql) else {
        return out;
    };
    for stmt in statements.iter().take(100) {
        let inner = match parse_execute_as(stmt) {
            Ok(Some(w)) => w.inner,
            Ok(None) => stmt.clone(),
            Err(_) => continue,
        };
        let password = match kalam_parser::parse(&inner) {
            Ok(Some(KalamStatement::CreateUser {
                auth: UserAuth::Password(pw),
                ..
            })) => pw,
            Ok(Some(KalamStatement::AlterUser {
                change: UserChange::Password(pw),
                ..
            })) => pw,
            _ => continue,
        };
        if let Entry::Vacant(slot) = out.entry(password) {
            if let Ok(hash) = crate::auth::password::hash(slot.key()) {
                slot.insert(hash);
            }
        }
    }
    out
}

/// The hash of `password`: precomputed when available, otherwise computed now.
pub fn hash_for(prehashed: &HashMap<String, String>, password: &str) -> Result<String, String> {
    match prehashed.get(password) {
        Some(h) => Ok(h.clone()),
        None => crate::auth::password::hash(password),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_passwords_in_batches_and_wrappers() {
        crate::auth::password::set_cost(4);
        let m = super::prehash_passwords(
            "CREATE USER a WITH PASSWORD 'p1' ROLE service; EXECUTE AS USER x (ALTER USER b SET PASSWORD 'p2'); SELECT 1",
        );
        assert_eq!(m.len(), 2);
        assert!(crate::auth::password::verify("p1", &m["p1"]));
        assert!(super::prehash_passwords("SELECT 1").is_empty());
    }
}
