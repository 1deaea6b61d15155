//! Login/refresh rate limit per client IP (PROTOCOL §1.1: 20/s, not exempt for localhost).
//! A fixed one-second window is close enough to the real limiter for tests to observe 429s.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

pub struct AuthRateLimiter {
    per_second: u32,
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl AuthRateLimiter {
    pub fn new(per_second: u32) -> Self {
        AuthRateLimiter {
            per_second,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Records a request; false when it exceeds the limit. 0 means unlimited.
    pub fn allow(&self, ip: IpAddr) -> bool {
        if self.per_second == 0 {
            return true;
        }
        let now = Instant::now();
        let mut map = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 10_000 {
            map.retain(|_, (start, _)| now.duration_since(*start).as_secs() < 1);
        }
        let entry = map.entry(ip).or_insert((now, 0));
        if now.duration_since(entry.0).as_millis() >= 1000 {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= self.per_second
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_ip() {
        let l = AuthRateLimiter::new(2);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(l.allow(ip));
        assert!(l.allow(ip));
        assert!(!l.allow(ip));
        assert!(l.allow("127.0.0.2".parse().unwrap()));
        assert!(AuthRateLimiter::new(0).allow(ip));
    }
}
