//! Helpers for the in-process remediation tests: calling the API as account 000000000000 in
//! us-east-1 without HTTP or signatures.

use remedy_wire::config::Operation;
use serde_json::Value;

use crate::app::App;
use crate::domain::Scope;
use crate::protocol::RequestContext;

pub fn scope() -> Scope {
    Scope::new("000000000000", "us-east-1")
}

/// Dispatches one Config operation with a JSON body; panics on an API error.
pub async fn call(app: &App, op: Operation, body: Value) -> Value {
    let ctx = RequestContext {
        request_id: "t".into(),
        scope: scope(),
        access_key_id: "test".into(),
    };
    let out = crate::api::dispatch_config(app, &ctx, op, body.to_string().as_bytes())
        .await
        .unwrap_or_else(|e| panic!("{op:?}: {e:?}"));
    serde_json::from_slice(&out).unwrap()
}
