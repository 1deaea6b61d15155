//! Behaviour knobs of the engine that come from the command line (see `config.rs`).

use crate::sql::limits::QueryLimits;
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
pub struct EngineOptions {
    /// Consumer-group claim visibility timeout (PROTOCOL §3.4).
    pub visibility_timeout: Duration,
    /// Silent row caps of SELECT results (PROTOCOL §11).
    pub query_limits: QueryLimits,
    /// How long an UPDATE leaves the engine unlocked between reading the rows its WHERE
    /// matches and writing them, so concurrent UPDATEs can act on the same old row as on the
    /// real server (PROTOCOL §11). Zero keeps the whole UPDATE in one critical section.
    pub update_race_window: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            visibility_timeout: Duration::from_secs(60),
            query_limits: QueryLimits::default(),
            update_race_window: DEFAULT_UPDATE_RACE_WINDOW,
        }
    }
}

/// Long enough that UPDATEs sent together over loopback really overlap (measured: 4 to 16 of
/// 16 report the row, the real server 2 to 4); short enough that thousands of sequential
/// UPDATEs stay quick.
pub const DEFAULT_UPDATE_RACE_WINDOW: Duration = Duration::from_millis(1);
