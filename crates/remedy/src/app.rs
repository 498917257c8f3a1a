//! The shared application state every request handler sees: the store, the credentials, the
//! managed-rule catalog and the limits in force.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use remedy_sigv4::{CredentialStore, Verified, VerifyOptions};

use crate::error::ApiError;
use crate::managed_rules::ManagedRuleCatalog;
use crate::store::Store;

/// Limits and knobs. Defaults are AWS's documented values where AWS has one.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Largest request body accepted, in bytes (refused before it is read whole).
    pub body_limit: usize,
    /// Allowed difference between a request's signing time and the server clock.
    pub max_clock_skew: Duration,
    /// Config rules per account and region (`MaxNumberOfConfigRulesExceededException`).
    pub max_rules: usize,
    /// Active custom (non-`AWS::`) resources per account and region (`MaxActiveResourcesExceededException`).
    pub max_custom_resources: usize,
}

/// 1 MiB: the largest legitimate Config request (100 evaluations, or a 64 KB custom configuration
/// item with its envelope) is far below it.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

impl Default for Settings {
    fn default() -> Self {
        Self {
            body_limit: DEFAULT_BODY_LIMIT,
            max_clock_skew: Duration::from_secs(15 * 60),
            max_rules: 1000,
            max_custom_resources: 100_000,
        }
    }
}

pub struct App {
    pub store: Arc<dyn Store>,
    pub credentials: Arc<dyn CredentialStore>,
    pub settings: Settings,
    pub managed_rules: ManagedRuleCatalog,
}

impl App {
    pub fn new(store: Arc<dyn Store>, credentials: Arc<dyn CredentialStore>, settings: Settings) -> Self {
        Self {
            store,
            credentials,
            settings,
            managed_rules: ManagedRuleCatalog::builtin(),
        }
    }

    /// Verifies the request's SigV4 signature against the credential store.
    pub fn verify(&self, parts: &http::request::Parts, body: &[u8], service: &str) -> Result<Verified, ApiError> {
        let opts = VerifyOptions {
            expected_service: service.to_string(),
            max_skew: self.settings.max_clock_skew,
            now: SystemTime::now(),
        };
        remedy_sigv4::verify(parts, body, self.credentials.as_ref(), &opts).map_err(|e| {
            let status = http::StatusCode::from_u16(e.status()).unwrap_or(http::StatusCode::FORBIDDEN);
            ApiError::new(e.code(), e.message(), status)
        })
    }
}
