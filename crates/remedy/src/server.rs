//! Builds the HTTP application and runs it until a shutdown signal.
//!
//! `POST /` is the AWS API (see `protocol`); `GET /health` answers while the process lives;
//! `GET /ready` answers 200 only when the store does; `GET /metrics` is the Prometheus exposition
//! (see `metrics`). Those three are unauthenticated, for load balancers and scrapers. Every API
//! request is counted and timed here, around the whole of `protocol::handle`, so rejected ones
//! (unsigned, unknown target, oversized body) count too. Shutdown is graceful: on SIGTERM or
//! SIGINT the listener stops accepting and in-flight requests finish.

use std::future::Future;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRef, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::{HeaderValue, Request, StatusCode};
use tokio::net::TcpListener;

use crate::app::App;
use crate::metrics::RequestMetrics;
use crate::protocol;

/// What the routes share: the application, and this node's request counters.
#[derive(Clone)]
struct ServerState {
    app: Arc<App>,
    requests: Arc<RequestMetrics>,
}

impl FromRef<ServerState> for Arc<App> {
    fn from_ref(s: &ServerState) -> Self {
        s.app.clone()
    }
}

pub fn router(app: Arc<App>) -> Router {
    let state = ServerState {
        app,
        requests: Arc::new(RequestMetrics::default()),
    };
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        // Everything else is the AWS API: `POST /`, or `POST /<prefix>` when an SDK's endpoint
        // URL has a path. Other methods get an AWS-shaped error from the same place.
        .fallback(api)
        .with_state(state)
}

/// The AWS API, counted: the target is read before the request is handed on, the status and
/// the time after the response is built.
async fn api(State(state): State<ServerState>, req: Request<Body>) -> Response {
    let started = std::time::Instant::now();
    let operation = crate::metrics::Operation::of_target(
        req.headers().get("x-amz-target").map(HeaderValue::as_bytes),
    );
    let response = protocol::handle(State(state.app), req).await;
    state
        .requests
        .record(operation, response.status().as_u16(), started.elapsed());
    response
}

async fn metrics(State(state): State<ServerState>) -> impl IntoResponse {
    let body = crate::metrics::render(&state.requests, state.app.store.as_ref()).await;
    (
        [(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
        )],
        body,
    )
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
