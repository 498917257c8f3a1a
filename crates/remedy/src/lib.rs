//! remedy: a self-hosted, AWS Config-compatible compliance and remediation service.
//!
//! Layers, top to bottom (each may use only those below it):
//! `server` (HTTP app, health, shutdown) → `protocol` (AWS JSON 1.1 framing, auth, errors) →
//! `api` (one module per operation family) → `domain` + `store` (durable state).
//! Wire types and their validation are generated into the `remedy-wire` crate; SigV4 verification
//! lives in `remedy-sigv4`.

pub mod api;
pub mod app;
pub mod auth;
pub mod background;
pub mod ci_input;
pub mod cli;
pub mod documents;
pub mod domain;
pub mod error;
pub mod evaluation;
pub mod import;
pub mod managed_rules;
pub mod metrics;
pub mod pagination;
pub mod protocol;
pub mod remediation;
pub mod result_token;
pub mod rule_sets;
pub mod server;
pub mod store;
pub mod time;
pub mod world;
