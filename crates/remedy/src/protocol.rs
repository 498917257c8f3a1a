//! AWS JSON 1.1 over HTTP: `POST /` with `X-Amz-Target: <Prefix>.<Operation>`.
//!
//! The order of work per request is fixed and deliberate:
//! request id → method → bounded body read → target prefix (which SigV4 service to expect) →
//! signature (the body hash is part of it) → operation lookup → decode + validate → handler →
//! response.
//! Every outcome, success or failure, carries `x-amzn-RequestId`; failures are AWS-shaped
//! (`__type`, `message`, `x-amzn-ErrorType`); a panic anywhere below becomes `InternalFailure`.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use http::{HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Limited};
use tracing::Instrument;

use crate::api;
use crate::app::App;
use crate::domain::Scope;
use crate::error::ApiError;

pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// The services remedy answers, by `X-Amz-Target` prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Config,
    Ssm,
}

impl Service {
    fn from_prefix(prefix: &str) -> Option<Self> {
        match prefix {
            p if p == remedy_wire::config::TARGET_PREFIX => Some(Service::Config),
            p if p == remedy_wire::ssm::TARGET_PREFIX => Some(Service::Ssm),
            _ => None,
        }
    }

    /// The SigV4 service name a request to this service must be scoped to.
    pub fn signing_name(self) -> &'static str {
        match self {
            Service::Config => remedy_wire::config::SIGNING_NAME,
            Service::Ssm => remedy_wire::ssm::SIGNING_NAME,
        }
    }
}

/// What a handler knows about its caller.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub request_id: String,
    pub scope: Scope,
    pub access_key_id: String,
}

/// The AWS API endpoint: `POST /` (or `POST /<prefix>`, for SDKs configured with an endpoint URL
/// that has a path; the path is part of what the signature covers).
pub async fn handle(State(app): State<Arc<App>>, req: Request<Body>) -> Response {
    // A v4 UUID from the thread-local generator: `Uuid::new_v4` asks the OS for 16 random bytes
    // on every request.
    let request_id = uuid::Builder::from_random_bytes(rand::random())
        .into_uuid()
        .to_string();
    let started = Instant::now();
    // Lossy, so a target with stray bytes is reported as sent rather than as missing.
    let target = req
        .headers()
        .get("x-amz-target")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let span = tracing::info_span!("request", request_id = %request_id, target = %target);

    let work = process(app, request_id.clone(), target, req).instrument(span.clone());
    let outcome = std::panic::AssertUnwindSafe(work).catch_unwind().await;
    let result = match outcome {
        Ok(r) => r,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(span.in_scope(|| ApiError::internal(format!("handler panicked: {what}"))))
        }
    };
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    match result {
        Ok(body) => {
            tracing::info!(parent: &span, status = 200, elapsed_ms, "ok");
            respond(StatusCode::OK, &request_id, None, body)
        }
        Err(err) => {
            if err.status.is_server_error() {
                tracing::error!(parent: &span, status = err.status.as_u16(), code = %err.code, elapsed_ms, "failed");
            } else {
                tracing::info!(parent: &span, status = err.status.as_u16(), code = %err.code, reason = %err.message, elapsed_ms, "rejected");
            }
            error_response(&request_id, &err)
        }
    }
}

async fn process(
    app: Arc<App>,
    request_id: String,
    target: String,
    req: Request<Body>,
) -> Result<Vec<u8>, ApiError> {
    if req.method() != Method::POST {
        return Err(ApiError::new(
            "UnknownOperationException",
            format!(
                "{} {} is not an operation of this endpoint: the AWS API is POST with an X-Amz-Target header",
                req.method(),
                req.uri().path()
            ),
            StatusCode::NOT_FOUND,
        ));
    }
    let (parts, body) = req.into_parts();
    // The body is read (bounded) before anything else is decided, so that every answer goes to a
    // client whose request was consumed: answering early and closing on unread bytes makes the
    // kernel reset the connection, and the client may never see the answer. Only a declared
    // length over the limit is refused unread.
    let limit = app.settings.body_limit;
    if let Some(len) = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len > limit as u64 {
            return Err(body_too_large(limit));
        }
    }
    let body = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                return Err(body_too_large(limit));
            }
            return Err(ApiError::serialization(
                "The request body could not be read",
            ));
        }
    };

    let (prefix, op_name) = target.split_once('.').unwrap_or((target.as_str(), ""));
    let service =
        Service::from_prefix(prefix).ok_or_else(|| ApiError::unknown_operation(&target))?;

    let verified = app.verify(&parts, &body, service.signing_name())?;
    let ctx = RequestContext {
        request_id,
        scope: Scope::new(verified.account_id, verified.region),
        access_key_id: verified.access_key_id,
    };
    match service {
        Service::Config => {
            let op = remedy_wire::config::Operation::from_name(op_name)
                .ok_or_else(|| ApiError::unknown_operation(&target))?;
            api::dispatch_config(&app, &ctx, op, &body).await
        }
        Service::Ssm => {
            let op = remedy_wire::ssm::Operation::from_name(op_name)
                .ok_or_else(|| ApiError::unknown_operation(&target))?;
            api::dispatch_ssm(&app, &ctx, op, &body).await
        }
    }
}

fn body_too_large(limit: usize) -> ApiError {
    ApiError::new(
        "RequestEntityTooLargeException",
        format!("Request body exceeds the {limit}-byte limit"),
        StatusCode::PAYLOAD_TOO_LARGE,
    )
}

fn respond(
    status: StatusCode,
    request_id: &str,
    error_type: Option<&str>,
    body: Vec<u8>,
) -> Response {
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(CONTENT_TYPE),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    if let Some(t) = error_type.and_then(|t| HeaderValue::from_str(t).ok()) {
        h.insert("x-amzn-errortype", t);
    }
    res
}

/// Renders an error the way AWS JSON services do.
pub fn error_response(request_id: &str, err: &ApiError) -> Response {
    respond(err.status, request_id, Some(&err.code), err.body())
}
