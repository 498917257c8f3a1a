//! Builds the HTTP application and runs it until a shutdown signal.
//!
//! `POST /` is the AWS API (see `protocol`); `GET /health` answers while the process lives;
//! `GET /ready` answers 200 only when the store does. Shutdown is graceful: on SIGTERM or SIGINT
//! the listener stops accepting and in-flight requests finish.

use std::future::Future;
use std::sync::Arc;

use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use http::StatusCode;
use tokio::net::TcpListener;

use crate::app::App;
use crate::protocol;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        // Everything else is the AWS API: `POST /`, or `POST /<prefix>` when an SDK's endpoint
        // URL has a path. Other methods get an AWS-shaped error from the same place.
        .fallback(protocol::handle)
        .with_state(app)
}

async fn health() -> impl IntoResponse {
    Json(
        serde_json::json!({"status": "ok", "service": "remedy", "version": env!("CARGO_PKG_VERSION")}),
    )
}

async fn ready(State(app): State<Arc<App>>) -> impl IntoResponse {
    match app.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(serde_json::json!({"status": "ready"}))),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(
                    serde_json::json!({"status": "unavailable", "reason": "the store does not answer"}),
                ),
            )
        }
    }
}

/// Serves until `shutdown` resolves, then drains in-flight requests.
pub async fn run(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(app))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
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
    tracing::info!("shutdown signal received; draining in-flight requests");
}
