//! The store's side of the remediation engine: remediation executions, their leases, and the
//! failure history of automatic runs. Like [`super::Store`], each method is one atomic unit of work.
//!
//! - **One in-flight execution per key** is a database constraint: a unique index over (account,
//!   region, rule, resource type, resource id) for rows in `QUEUED`/`IN_PROGRESS`, so racing
//!   starts can never both start a key ([`ExecutionStore::insert_executions`]).
//! - **Claiming**: a worker claims due executions (lease free or expired, `wake_at` ≤ now); each
//!   claim sets the lease and bumps the execution's fencing token. Every later write by that worker
//!   names the token, and a write with a stale token is refused (`Ok(false)`), so a worker whose
//!   lease expired (and whose execution another worker now owns) cannot overwrite newer state.
//! - **Durable steps**: the engine commits the serialized `ExecutionState` after every step.

use async_trait::async_trait;

use super::StoreResult;
use crate::domain::{RemediationExceptionRecord, Scope};

pub const STATE_QUEUED: &str = "QUEUED";
pub const STATE_IN_PROGRESS: &str = "IN_PROGRESS";
pub const STATE_SUCCEEDED: &str = "SUCCEEDED";
pub const STATE_FAILED: &str = "FAILED";

/// A new execution to queue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewExecution {
    /// The AutomationExecutionId (a UUID).
    pub id: String,
    pub rule_name: String,
    pub resource_type: String,
    pub resource_id: String,
    pub document_name: String,
    pub document_version: Option<String>,
    /// The resolved parameters, JSON.
    pub parameters: String,
    /// The serialized `remedy_automation::ExecutionState`.
    pub execution_state: String,
    pub automatic: bool,
    /// ExecutionControls.SsmControls.ConcurrentExecutionRatePercentage (AWS default 10).
    pub concurrency_percentage: u32,
    /// ExecutionControls.SsmControls.ErrorPercentage (AWS default 50).
    pub error_percentage: u32,
    /// The executions started by one call (or one automatic trigger) share a batch: the error
    /// percentage is counted over it.
    pub batch_id: String,
    /// Not claimable before this time (a retry's backoff); usually the invocation time.
    pub wake_at: f64,
}

/// Per key, what `insert_executions` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertOutcome {
    Started,
    /// An execution for the key is already QUEUED or IN_PROGRESS.
    InFlight,
}

/// A stored execution.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionRecord {
    pub id: String,
    pub scope: Scope,
    pub rule_name: String,
    pub resource_type: String,
    pub resource_id: String,
    /// QUEUED | IN_PROGRESS | SUCCEEDED | FAILED
    pub state: String,
    pub document_name: String,
    pub document_version: Option<String>,
    pub parameters: String,
    pub execution_state: String,
    pub automatic: bool,
    pub invocation_time: f64,
    pub last_updated: f64,
    /// The fencing token of the current (or last) claim.
    pub fence: i64,
    pub wake_at: f64,
    pub batch_id: String,
}

/// What the engine commits after a step.
#[derive(Debug, Clone, PartialEq)]
pub struct StepCommit {
    pub id: String,
    pub fence: i64,
    /// The new execution state (IN_PROGRESS, or terminal).
    pub state: String,
    pub execution_state: String,
    pub now: f64,
    /// The execution waits until then; the lease is released.
    pub wake_at: Option<f64>,
}

/// What recording an automatic failure led to.
#[derive(Debug, Clone, PartialEq)]
pub enum AutomaticFailureOutcome {
    /// Fewer than MaximumAutomaticAttempts failures within the window: retry may follow.
    Retry { failures: usize },
    /// The limit was reached: this exception was written (the failure history is cleared).
    ExceptionCreated(RemediationExceptionRecord),
}

#[async_trait]
pub trait ExecutionStore: Send + Sync + 'static {
    /// Queues executions atomically: per key `Started` or `InFlight` (the unique in-flight index
    /// refused it). `NotFound` (nothing written) when the rule has no remediation configuration.
    async fn insert_executions(
        &self,
        scope: &Scope,
        rule_name: &str,
        executions: &[NewExecution],
        now: f64,
    ) -> StoreResult<Vec<InsertOutcome>>;

    /// The latest execution of each key of a rule, ordered by (resource type, resource id), only
    /// the given keys when `keys` is set, after `after`, at most `limit`.
    async fn latest_executions(
        &self,
        scope: &Scope,
        rule_name: &str,
        keys: Option<&[(String, String)]>,
        after: Option<&(String, String)>,
        limit: usize,
    ) -> StoreResult<Vec<ExecutionRecord>>;

    async fn get_execution(&self, id: &str) -> StoreResult<Option<ExecutionRecord>>;

    /// Claims up to `limit` due executions for `owner` (lease until `now + lease_seconds`),
    /// bumping each one's fencing token. A QUEUED execution is claimed only while fewer of its
    /// rule's executions are IN_PROGRESS than its concurrency percentage allows
    /// (`max(1, ceil(N·rate/100))` of the rule's N non-terminal executions), and becomes
    /// IN_PROGRESS. A QUEUED execution whose batch has exceeded its error percentage is ended
    /// FAILED instead (`errors > floor(N·err/100)` of the batch's N executions).
    async fn claim_executions(
        &self,
        owner: &str,
        now: f64,
        lease_seconds: f64,
        limit: usize,
    ) -> StoreResult<Vec<ExecutionRecord>>;

    /// Extends the lease; `false` when the fencing token is stale or the execution is terminal.
    async fn renew_execution_lease(&self, id: &str, fence: i64, until: f64) -> StoreResult<bool>;

    /// Commits a step's state (fenced). A terminal or waiting commit releases the lease.
    /// `false`: the token is stale (another worker owns the execution); nothing was written.
    async fn commit_execution_step(&self, commit: &StepCommit) -> StoreResult<bool>;

    /// Gives the lease back (fenced) so the execution is claimable again at once.
    async fn release_execution(&self, id: &str, fence: i64) -> StoreResult<bool>;

    /// Releases every lease (a single process owns a SQLite file: at start, leases held by a
    /// previous process are dead). Returns how many were released.
    async fn release_all_execution_leases(&self) -> StoreResult<usize>;

    /// Records a failed automatic run of a key at `now`, forgets failures older than
    /// `now - window_seconds`, and when `max_attempts` failures remain, creates a remediation
    /// exception for the key (and clears the history), atomically.
    #[allow(clippy::too_many_arguments)]
    async fn record_automatic_failure(
        &self,
        scope: &Scope,
        rule_name: &str,
        resource_type: &str,
        resource_id: &str,
        now: f64,
        window_seconds: f64,
        max_attempts: usize,
    ) -> StoreResult<AutomaticFailureOutcome>;

    /// Executions not yet terminal.
    async fn active_executions(&self) -> StoreResult<usize>;
}
