//! The HTTP surface (PROTOCOL §0): routes, shared state, CORS.

pub mod auth_routes;
pub mod bearer;
pub mod body;
pub mod envelopes;
pub mod health;
pub mod setup_route;
pub mod sql_route;
pub mod topic_routes;

use crate::auth::jwt::JwtConfig;
use crate::auth::rate_limit::AuthRateLimiter;
use crate::store::session::Session;
use crate::store::{Engine, Inner};
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method};
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

pub struct AppState {
    pub engine: Arc<Engine>,
    pub jwt: JwtConfig,
    pub auth_limiter: AuthRateLimiter,
    pub lockout: crate::auth::lockout::Lockout,
    /// Limit for every request body (413 `BODY_TOO_LARGE`), like the real middleware.
    pub body_limit: usize,
}

pub type SharedState = Arc<AppState>;

impl AppState {
    /// Runs `f` with the engine locked, on a blocking thread (SQLite calls block).
    pub async fn with_engine<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Inner, &AppState) -> T + Send + 'static,
    ) -> T {
        self.blocking(move |state| f(&mut state.engine.lock(), state))
            .await
    }

    /// Like `with_engine`, for SQL statements that may give the lock up for a moment.
    pub async fn with_session<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Session) -> T + Send + 'static,
    ) -> T {
        self.blocking(move |state| f(&mut state.engine.session()))
            .await
    }

    async fn blocking<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&AppState) -> T + Send + 'static,
    ) -> T {
        let state = self.clone();
        match tokio::task::spawn_blocking(move || f(&state)).await {
            Ok(v) => v,
            // A panic in a request must not take the server down; re-raise in this task only.
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
}

pub fn router(state: SharedState) -> Router {
    Router::new()
        .route("/health", get(health::health))
        .route("/v1/api/healthcheck", get(health::health))
        .route("/v1/api/sql", post(sql_route::sql))
        .route("/v1/api/auth/login", post(auth_routes::login))
        .route("/v1/api/auth/refresh", post(auth_routes::refresh))
        .route("/v1/api/auth/logout", post(auth_routes::logout))
        .route("/v1/api/auth/me", get(auth_routes::me))
        .route("/v1/api/auth/status", get(auth_routes::status))
        .route("/v1/api/auth/setup", post(setup_route::setup))
        .route("/v1/api/topics/consume", post(topic_routes::consume))
        .route("/v1/api/topics/ack", post(topic_routes::ack))
        .layer(DefaultBodyLimit::disable())
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(cors())
        .with_state(state)
}

/// A bug must never take the server down or leave a client without an answer.
fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    tracing::error!("request handler panicked");
    envelopes::json_response(
        500,
        serde_json::json!({ "status": "error", "error": { "code": "INTERNAL_ERROR", "message": "Internal server error" }, "results": [], "took": 0.0 }),
    )
}

/// Any localhost origin may call the dev server from a browser (the real server's CORS is
/// configured separately, in its server.toml).
fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(|origin: &HeaderValue, _| {
            is_localhost_origin(origin)
        }))
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers(AllowHeaders::mirror_request())
        .allow_credentials(true)
}

pub fn is_localhost_origin(origin: &HeaderValue) -> bool {
    let Ok(s) = origin.to_str() else { return false };
    let Some(rest) = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"))
    else {
        return false;
    };
    let host = if let Some(v6) = rest.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        rest.split(':').next().unwrap_or("")
    };
    matches!(host, "localhost" | "127.0.0.1" | "::1") || host.ends_with(".localhost")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_origins() {
        for ok in [
            "http://localhost:5173",
            "http://127.0.0.1:3000",
            "https://localhost",
            "http://[::1]:8080",
        ] {
            assert!(is_localhost_origin(&HeaderValue::from_static(ok)), "{ok}");
        }
        for bad in ["http://example.com", "http://localhost.evil.com", "null"] {
            assert!(
                !is_localhost_origin(&HeaderValue::from_static(bad)),
                "{bad}"
            );
        }
    }
}
