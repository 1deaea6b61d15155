//! Command line and environment options.

use crate::sql::limits::QueryLimits;
use crate::store::options::{EngineOptions, DEFAULT_UPDATE_RACE_WINDOW};
use clap::Parser;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "kalam-devserver",
    version,
    about = "A KalamDB-compatible development server (HTTP, auth, SQL subset, CDC topics) on SQLite"
)]
pub struct Args {
    /// Port to listen on; 0 picks a free port (printed on the first stdout line).
    #[arg(long, default_value_t = 2900, env = "KALAMDB_SERVER_PORT")]
    pub port: u16,

    /// Address to bind. Loopback by default.
    #[arg(long, default_value = "127.0.0.1", env = "KALAMDB_SERVER_HOST")]
    pub host: String,

    /// Directory holding kalam.db (created if missing).
    #[arg(long, default_value = "./kalam-data", env = "KALAMDB_DATA_DIR")]
    pub data_dir: PathBuf,

    /// Password of the built-in `root` user (role system). Without it root cannot log in.
    #[arg(long, env = "KALAMDB_ROOT_PASSWORD", hide_env_values = true)]
    pub root_password: Option<String>,

    /// HS256 secret. Default: a random secret generated once and kept in the data directory.
    #[arg(long, env = "KALAMDB_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Access-token lifetime in seconds (refresh tokens live 7 times longer).
    #[arg(long, default_value_t = 86_400, env = "KALAMDB_JWT_EXPIRY_SECS")]
    pub jwt_expiry_secs: i64,

    /// Leeway on `exp` in seconds (the real server uses 60).
    #[arg(long, default_value_t = 60, env = "KALAMDB_JWT_LEEWAY_SECS")]
    pub jwt_leeway_secs: u64,

    /// Consumer-group claim visibility timeout in seconds.
    #[arg(
        long,
        default_value_t = 60,
        env = "KALAMDB_TOPIC_VISIBILITY_TIMEOUT_SECS"
    )]
    pub visibility_timeout_secs: u64,

    /// Login/refresh requests per second per IP (0 = unlimited).
    #[arg(long, default_value_t = 20, env = "KALAMDB_AUTH_RATE_LIMIT")]
    pub auth_rate_limit: u32,

    /// Maximum request body size in bytes (413 above it). Typed JSON bodies (login, consume,
    /// ack) are additionally limited to 2 MiB like actix-web's default.
    #[arg(long, default_value_t = 10 * 1024 * 1024, env = "KALAMDB_BODY_LIMIT_BYTES")]
    pub body_limit_bytes: usize,

    /// bcrypt cost for password hashes (the real server uses 12).
    #[arg(long, default_value_t = 10, env = "KALAMDB_BCRYPT_COST")]
    pub bcrypt_cost: u32,

    /// Most rows a SELECT without LIMIT returns; the rest are dropped silently, like the
    /// real server's `[limits] default_query_limit`.
    #[arg(long, default_value_t = QueryLimits::default().default_rows, env = "KALAMDB_DEFAULT_QUERY_LIMIT")]
    pub default_query_limit: usize,

    /// Most rows any SELECT returns, whatever its LIMIT (`[limits] max_query_limit`).
    #[arg(long, default_value_t = QueryLimits::default().max_rows, env = "KALAMDB_MAX_QUERY_LIMIT")]
    pub max_query_limit: usize,

    /// Milliseconds an UPDATE leaves the engine unlocked between matching its rows and
    /// writing them, so concurrent conditional UPDATEs race like on the real server.
    /// 0 makes every UPDATE atomic (a compare-and-set, which the real server does not give).
    #[arg(
        long,
        default_value_t = DEFAULT_UPDATE_RACE_WINDOW.as_millis() as u64,
        env = "KALAMDB_UPDATE_RACE_WINDOW_MS"
    )]
    pub update_race_window_ms: u64,
}

impl Args {
    pub fn engine_options(&self) -> EngineOptions {
        EngineOptions {
            visibility_timeout: Duration::from_secs(self.visibility_timeout_secs),
            query_limits: QueryLimits {
                default_rows: self.default_query_limit,
                max_rows: self.max_query_limit,
            },
            update_race_window: Duration::from_millis(self.update_race_window_ms),
        }
    }
}
