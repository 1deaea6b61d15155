//! kalam-devserver: a KalamDB-compatible development server. See README.md.
//! Section references ("PROTOCOL §2.5", "§3.4") point into `docs/PROTOCOL.md` at the repository root.

mod auth;
mod bootstrap;
mod catalog;
mod config;
mod http;
mod ids;
mod sql;
mod store;
mod topics;
mod types;
mod users;

use anyhow::Context;
use clap::Parser;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

fn main() -> anyhow::Result<()> {
    let args = config::Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    auth::password::set_cost(args.bcrypt_cost);

    let engine = store::Engine::open(&args.data_dir, args.engine_options())?;
    let secret = {
        let inner = engine.lock();
        bootstrap::ensure_root(&inner, args.root_password.as_deref())?;
        bootstrap::jwt_secret(&inner, args.jwt_secret.as_deref())?
    };
    refuse_weak_secret_on_public_bind(&args.host, &secret)?;
    let state = Arc::new(http::AppState {
        engine: Arc::new(engine),
        jwt: auth::jwt::JwtConfig {
            secret,
            expiry_secs: args.jwt_expiry_secs,
            leeway_secs: args.jwt_leeway_secs,
        },
        auth_limiter: auth::rate_limit::AuthRateLimiter::new(args.auth_rate_limit),
        lockout: auth::lockout::Lockout::default(),
        body_limit: args.body_limit_bytes,
    });

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(args, state))
}

/// Like the real server: a short or placeholder JWT secret is only acceptable on loopback.
fn refuse_weak_secret_on_public_bind(host: &str, secret: &str) -> anyhow::Result<()> {
    let loopback = matches!(host, "127.0.0.1" | "localhost" | "::1")
        || host
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false);
    let weak = secret.len() < 32 || secret == "CHANGE_ME_IN_PRODUCTION";
    if weak && !loopback {
        anyhow::bail!("refusing to bind {host} with a JWT secret shorter than 32 characters; set --jwt-secret");
    }
    Ok(())
}

async fn serve(args: config::Args, state: http::SharedState) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .with_context(|| format!("binding {}:{}", args.host, args.port))?;
    let addr = listener.local_addr()?;
    // The first stdout line is machine-readable: tests and the demo read the port from it.
    let host = if addr.ip().is_ipv6() {
        format!("[{}]", addr.ip())
    } else {
        addr.ip().to_string()
    };
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{host}:{}", addr.port())?;
        out.flush()?;
    }
    tracing::info!(data_dir = %args.data_dir.display(), "kalam-devserver listening on {addr}");
    let app = http::router(state);
    let stopping = Arc::new(tokio::sync::Notify::new());
    let signal_seen = stopping.clone();
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        signal_seen.notify_one();
    });
    // In-flight requests get a short grace period; a client stalled in the middle of a request
    // must not keep the process alive. Committed writes are already durable either way.
    tokio::select! {
        result = server => result?,
        _ = async {
            stopping.notified().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => tracing::warn!("connections still open after {SHUTDOWN_GRACE:?}; stopping anyway"),
    }
    tracing::info!("kalam-devserver stopped");
    Ok(())
}

const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received");
}
