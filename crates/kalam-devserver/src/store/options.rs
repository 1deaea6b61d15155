//! Behaviour knobs of the engine that come from the command line (see `config.rs`).

use crate::sql::limits::QueryLimits;
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
pub struct EngineOptions {
    /// Consumer-group claim visibility timeout (PROTOCOL §3.4).
    pub visibility_timeout: Duration,
    /// Silent row caps of SELECT results (PROTOCOL §11).
    pub query_limits: QueryLimits,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            visibility_timeout: Duration::from_secs(60),
            query_limits: QueryLimits::default(),
        }
    }
}
