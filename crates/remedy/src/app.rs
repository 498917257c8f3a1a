//! The shared application state every request handler sees: the store, the credentials, the
//! managed-rule catalog and the limits in force.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use remedy_sigv4::{CredentialStore, Verified, VerifyOptions};
use tokio::sync::{broadcast, Notify, OnceCell};

use crate::error::ApiError;
use crate::evaluation::ComplianceChanged;
use crate::managed_rules::ManagedRuleCatalog;
use crate::remediation::runbooks::RunbookSource;
use crate::result_token::ResultTokenKey;
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
    /// How long a minted result token is accepted by PutEvaluations.
    pub result_token_ttl: Duration,
    /// StartConfigRulesEvaluation accepts a rule at most once per this interval (AWS: a minute).
    pub evaluation_request_interval: Duration,
    /// Local handlers of custom Lambda rules, by function ARN (`--lambda-handlers`).
    pub lambda_handlers: crate::evaluation::lambda::LambdaHandlers,
    /// The endpoint command handlers are told to call back (`AWS_ENDPOINT_URL`), e.g.
    /// `http://127.0.0.1:4599`; `None` leaves their environment's own.
    pub handler_endpoint: Option<String>,
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
            result_token_ttl: crate::result_token::DEFAULT_TTL,
            evaluation_request_interval: Duration::from_secs(60),
            lambda_handlers: Default::default(),
            handler_endpoint: None,
        }
    }
}

pub struct App {
    pub store: Arc<dyn Store>,
    pub credentials: Arc<dyn CredentialStore>,
    pub settings: Settings,
    pub managed_rules: ManagedRuleCatalog,
    /// The runbooks remediation runs, by document name: the account's SSM documents beside the
    /// built-in catalog (`crate::documents::StoredRunbooks`).
    pub runbooks: Arc<dyn RunbookSource>,
    /// Compliance changes of stored results, after they are durable: the hook automatic
    /// remediation subscribes to (`compliance_events.subscribe()`). See [`ComplianceChanged`].
    pub compliance_events: broadcast::Sender<ComplianceChanged>,
    /// Wakes the evaluation engine: notified by the store after each commit that enqueued
    /// evaluation work (the engine also polls the queue every second).
    pub evaluation_wakeup: Arc<Notify>,
    /// Wakes the remediation engine after executions are queued (it also polls).
    pub remediation_wakeup: Arc<Notify>,
    /// Each account's rules as DescribeConfigRules answers them, kept while they are unchanged
    /// ([`crate::rule_sets`]).
    pub rule_bodies: crate::rule_sets::RuleSets<crate::rule_sets::RuleBodies>,
    /// The result-token key, loaded from the store on first use.
    result_tokens: OnceCell<ResultTokenKey>,
}

/// How many compliance events a slow subscriber may lag behind before it loses the oldest.
const COMPLIANCE_EVENT_BUFFER: usize = 4096;

impl App {
    pub fn new(
        store: Arc<dyn Store>,
        credentials: Arc<dyn CredentialStore>,
        settings: Settings,
    ) -> Self {
        let runbooks: Arc<dyn RunbookSource> =
            Arc::new(crate::documents::StoredRunbooks::new(store.clone()));
        Self {
            evaluation_wakeup: store.evaluation_signal(),
            remediation_wakeup: Arc::new(Notify::new()),
            store,
            credentials,
            settings,
            managed_rules: ManagedRuleCatalog::builtin(),
            runbooks,
            compliance_events: broadcast::channel(COMPLIANCE_EVENT_BUFFER).0,
            rule_bodies: Default::default(),
            result_tokens: OnceCell::new(),
        }
    }

    /// The key that mints and verifies result tokens (its secret lives in the store, shared by
    /// every node on the same database). The Lambda invoker calls `.mint(scope, rule)` on it.
    pub async fn result_tokens(&self) -> Result<&ResultTokenKey, ApiError> {
        self.result_tokens
            .get_or_try_init(|| async {
                let secret = self.store.result_token_secret().await?;
                Ok::<_, ApiError>(ResultTokenKey::new(secret, self.settings.result_token_ttl))
            })
            .await
    }

    /// Verifies the request's SigV4 signature against the credential store.
    pub fn verify(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
        service: &str,
    ) -> Result<Verified, ApiError> {
        let opts = VerifyOptions {
            expected_service: service.to_string(),
            max_skew: self.settings.max_clock_skew,
            now: SystemTime::now(),
            must_sign: vec!["x-amz-target".to_string()],
        };
        remedy_sigv4::verify(parts, body, self.credentials.as_ref(), &opts).map_err(|e| {
            let status =
                http::StatusCode::from_u16(e.status()).unwrap_or(http::StatusCode::FORBIDDEN);
            ApiError::new(e.code(), e.message(), status)
        })
    }
}
