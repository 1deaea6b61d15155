//! Generated values: SNOWFLAKE_ID(), ULID(), UUID_V7(), NOW(), and the `_seq` of row versions.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

pub fn now_millis() -> i64 {
    now_micros() / 1000
}

/// Time-ordered 64-bit ids: milliseconds in the high bits, a counter in the low 22 bits.
/// Strictly increasing within the process, so `_seq` values order row versions.
static LAST_SNOWFLAKE: AtomicI64 = AtomicI64::new(0);

pub fn snowflake_id() -> i64 {
    let base = now_millis() << 22;
    let mut last = LAST_SNOWFLAKE.load(Ordering::Relaxed);
    loop {
        let next = if base > last { base } else { last + 1 };
        match LAST_SNOWFLAKE.compare_exchange(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

pub fn ulid() -> String {
    ulid::Ulid::new().to_string()
}

pub fn uuid_v7() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// RFC 3339 with millisecond fraction and `+00:00`, the way chrono prints it for KalamDB.
pub fn rfc3339_from_millis(ms: i64) -> String {
    use chrono::{DateTime, SecondsFormat, Utc};
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snowflakes_increase() {
        let a = snowflake_id();
        let b = snowflake_id();
        assert!(b > a);
        assert_eq!(ulid().len(), 26);
        assert_eq!(uuid_v7().len(), 36);
        assert!(rfc3339_from_millis(0).starts_with("1970-01-01T00:00:00.000+00:00"));
    }
}
