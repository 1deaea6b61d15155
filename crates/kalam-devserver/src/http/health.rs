//! `GET /health` and `GET /v1/api/healthcheck` (PROTOCOL §6): loopback peers only.

use super::envelopes::json_response;
use axum::extract::ConnectInfo;
use axum::response::Response;
use serde_json::json;
use std::net::SocketAddr;

pub async fn health(ConnectInfo(peer): ConnectInfo<SocketAddr>) -> Response {
    if !peer.ip().is_loopback() {
        return json_response(
            403,
            json!({ "error": "Health endpoint is only available from localhost" }),
        );
    }
    json_response(
        200,
        json!({
            "status": "healthy",
            "version": env!("CARGO_PKG_VERSION"),
            "api_version": "v1",
            "build_date": "kalam-devserver",
        }),
    )
}
