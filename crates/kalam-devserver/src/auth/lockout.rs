//! Account lock after repeated failed logins (PROTOCOL §1.1: 5 failures → 15 minutes).
//! In memory only; a restart unlocks every account.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const MAX_FAILURES: u32 = 5;
pub const LOCK_DURATION: Duration = Duration::from_secs(15 * 60);

#[derive(Default)]
pub struct Lockout {
    entries: Mutex<HashMap<String, (u32, Option<Instant>)>>,
}

impl Lockout {
    /// Remaining lock time, if the account is locked now.
    pub fn locked_for(&self, user: &str) -> Option<Duration> {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let (_, until) = map.get(user)?;
        let until = (*until)?;
        let now = Instant::now();
        if until > now {
            Some(until - now)
        } else {
            map.remove(user);
            None
        }
    }

    pub fn record_failure(&self, user: &str) {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let entry = map.entry(user.to_string()).or_insert((0, None));
        entry.0 += 1;
        if entry.0 >= MAX_FAILURES {
            entry.1 = Some(Instant::now() + LOCK_DURATION);
        }
    }

    pub fn record_success(&self, user: &str) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_five_failures() {
        let l = Lockout::default();
        for _ in 0..4 {
            l.record_failure("a");
        }
        assert!(l.locked_for("a").is_none());
        l.record_failure("a");
        assert!(l.locked_for("a").is_some());
        assert!(l.locked_for("b").is_none());
    }
}
