//! bcrypt password hashes. The cost is process-wide (`--bcrypt-cost`): the real server
//! defaults to 12, the dev server to 10 so test suites creating many users stay fast.

use std::sync::atomic::{AtomicU32, Ordering};

static COST: AtomicU32 = AtomicU32::new(10);

pub fn set_cost(cost: u32) {
    COST.store(cost.clamp(4, 31), Ordering::Relaxed);
}

pub fn hash(password: &str) -> Result<String, String> {
    bcrypt::hash(password, COST.load(Ordering::Relaxed))
        .map_err(|e| format!("password hashing failed: {e}"))
}

/// False for an empty stored hash (users that cannot log in) and for malformed hashes.
pub fn verify(password: &str, stored_hash: &str) -> bool {
    !stored_hash.is_empty() && bcrypt::verify(password, stored_hash).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    #[test]
    fn hashes_verify() {
        super::set_cost(4);
        let h = super::hash("s3cret").unwrap();
        assert!(super::verify("s3cret", &h));
        assert!(!super::verify("nope", &h));
        assert!(!super::verify("", ""));
    }
}
