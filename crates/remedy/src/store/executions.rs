//! The store's side of the remediation engine: executions, their leases, and the failure history
//! of automatic runs. Like [`super::Store`], each method is one atomic unit of work.
//!
//! - **A remediation execution is an automation execution**: one table holds both those Config
//!   starts for a rule's resource and those StartAutomationExecution starts directly (no rule, no
//!   resource key; [`ExecutionStore::insert_automation_execution`]), and one engine runs them.
//! - **One in-flight remediation execution per key** is a database constraint: a unique index over
//!   (account, region, rule, resource type, resource id) for remediation rows in
//!   `QUEUED`/`IN_PROGRESS`, so racing starts can never both start a key
//!   ([`ExecutionStore::insert_executions`]).
//! - **Claiming**: a worker claims due executions (lease free or expired, `wake_at` ≤ now); each
//!   claim sets the lease and bumps the execution's fencing token. Every later write by that worker
//!   names the token, and a write with a stale token is refused ([`CommitOutcome::Stale`]), so a
//!   worker whose lease expired (and whose execution another worker now owns, or a stop ended)
//!   cannot overwrite newer state.
//! - **Stopping** ([`ExecutionStore::stop_execution`]): an execution no worker holds is cancelled
//!   at once; one a worker holds is marked, and that worker's next commit ends it Cancelled
//!   ([`CommitOutcome::Cancelled`]), or the next claim does if the worker died. A stop is never
//!   lost and never overwritten.
//! - **Durable steps**: the engine commits the serialized `ExecutionState` after every step.
//! - **Status without the interpreter state**: every write of an execution's state also stores
//!   its [`ExecutionSummary`] (steps' names, states, times and messages; migration 0009), so
//!   DescribeRemediationExecutionStatus reads a few hundred bytes per execution instead of
//!   decoding the whole state with its parameters, inputs and outputs
//!   ([`ExecutionStore::latest_execution_statuses`]).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

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
    /// For an automatic run started by a NON_COMPLIANT result: that result's ordering timestamp
    /// (the capture time of the state it judged). The key is then skipped
    /// ([`InsertOutcome::FindingHandled`]) when an execution of it was invoked at or after that
    /// time: another trigger, on this node or another, already acted on the finding. Checked in
    /// the inserting transaction, so an execution queued, run and ended by another node just
    /// before is seen. `None` for manual starts and retries.
    pub finding_ordering: Option<f64>,
}

/// Per key, what `insert_executions` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertOutcome {
    Started,
    /// An execution for the key is already QUEUED or IN_PROGRESS.
    InFlight,
    /// An execution for the key was invoked after the finding it would act on
    /// ([`NewExecution::finding_ordering`]): nothing was queued.
    FindingHandled,
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
    /// Insertion order (DescribeAutomationExecutions pages by it).
    pub seq: i64,
    /// Started by Config for a rule's resource (`false`: StartAutomationExecution; the rule and
    /// resource fields are empty).
    pub remediation: bool,
    /// SSM ExecutionMode (`Auto`).
    pub mode: String,
    /// The caller who started a direct execution.
    pub executed_by: Option<String>,
    /// Tags given at start, in order.
    pub tags: Vec<(String, String)>,
    pub parent_id: Option<String>,
    /// StopAutomationExecution was asked while a worker held the execution: it ends Cancelled at
    /// the worker's next commit (or the next claim).
    pub cancel_requested: bool,
}

/// What a status shows of an execution's interpreter state (`remedy_automation::ExecutionState`):
/// each step run, and why the execution failed. The field names are the state's own, so the same
/// type reads a stored summary or, for a row written before summaries were stored (and for a
/// queued execution, whose summary is not stored: it has no steps yet), the state itself,
/// skipping everything else in it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionSummary {
    #[serde(default)]
    pub steps: Vec<StepSummary>,
    #[serde(default)]
    pub failure_message: Option<String>,
}

/// One step run (`remedy_automation::StepRecord`'s shown fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepSummary {
    pub step_name: String,
    pub status: remedy_automation::StepExecutionStatus,
    #[serde(default)]
    pub failure_message: Option<String>,
    pub start_time_ms: i64,
    #[serde(default)]
    pub end_time_ms: Option<i64>,
}

impl ExecutionSummary {
    /// Reads a stored summary or an execution state's JSON; `None` when unreadable.
    pub fn from_json(json: &str) -> Option<Self> {
        serde_json::from_str(json).ok()
    }
}

/// The summary column written beside an execution state (`None`: the state is unreadable, and
/// readers fall back to it, finding nothing either). Both backends call it wherever they write a
/// state, so the two never disagree.
pub(crate) fn summary_column(state_json: &str) -> Option<String> {
    ExecutionSummary::from_json(state_json).and_then(|s| serde_json::to_string(&s).ok())
}

/// The latest execution of a key as DescribeRemediationExecutionStatus shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionStatusRecord {
    pub resource_type: String,
    pub resource_id: String,
    /// QUEUED | IN_PROGRESS | SUCCEEDED | FAILED
    pub state: String,
    pub document_name: String,
    pub document_version: Option<String>,
    pub invocation_time: f64,
    pub last_updated: f64,
    /// `None` when neither the summary nor the state could be read.
    pub summary: Option<ExecutionSummary>,
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

/// An execution started directly by StartAutomationExecution (no rule, no resource key).
#[derive(Debug, Clone, PartialEq)]
pub struct NewAutomationExecution {
    pub id: String,
    pub document_name: String,
    /// The resolved (concrete) version.
    pub document_version: String,
    /// The resolved parameters, JSON.
    pub parameters: String,
    /// The serialized `remedy_automation::ExecutionState`.
    pub execution_state: String,
    pub mode: String,
    pub executed_by: String,
    /// The ClientToken, lower-cased (tokens are case-insensitive).
    pub client_token: Option<String>,
    /// A digest of the request the token was used for (IdempotentParameterMismatch).
    pub request_hash: String,
    pub tags: Vec<(String, String)>,
    pub parent_id: Option<String>,
}

/// What `insert_automation_execution` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutomationInsert {
    Started,
    /// The ClientToken was used before for the same request: that execution's id.
    Existing(String),
    /// The ClientToken was used before for a different request.
    TokenMismatch,
    /// The scope already has `max_active` unfinished executions.
    LimitExceeded,
}

/// What `stop_execution` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopOutcome {
    /// No such execution in the scope.
    NotFound,
    /// Already over (its state: SUCCEEDED or FAILED).
    Terminal,
    /// Not held by a worker: cancelled now.
    Cancelled,
    /// A worker holds it: it ends Cancelled at the worker's next fenced commit.
    CancelRequested,
}

/// What `commit_step` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    Committed,
    /// Committed, and a stop requested meanwhile was applied: the execution is over.
    Cancelled,
    /// The fencing token is stale (another worker owns the execution, or it ended): nothing was
    /// written.
    Stale,
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
    /// Queues executions atomically: per key `Started`, `InFlight` (the unique in-flight index
    /// refused it) or `FindingHandled` (see [`NewExecution::finding_ordering`]). `NotFound`
    /// (nothing written) when the rule has no remediation configuration.
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

    /// [`Self::latest_executions`] as DescribeRemediationExecutionStatus shows them: each
    /// execution's summary instead of its interpreter state.
    async fn latest_execution_statuses(
        &self,
        scope: &Scope,
        rule_name: &str,
        keys: Option<&[(String, String)]>,
        after: Option<&(String, String)>,
        limit: usize,
    ) -> StoreResult<Vec<ExecutionStatusRecord>>;

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

    /// Commits a step's state (fenced). A terminal or waiting commit releases the lease. `Stale`:
    /// the token is stale (another worker owns the execution, or it ended); nothing was written.
    /// `Cancelled`: a stop was asked while the worker held the execution; the step is committed
    /// and the execution ended Cancelled.
    async fn commit_step(&self, commit: &StepCommit) -> StoreResult<CommitOutcome>;

    /// Gives the lease back (fenced) so the execution is claimable again at once.
    async fn release_execution(&self, id: &str, fence: i64) -> StoreResult<bool>;

    /// Releases the leases of processes that are gone, at start. SQLite: every lease (a single
    /// process owns the file, so leases held by a previous process are dead). PostgreSQL: only
    /// the leases of nodes that are gone, and expired ones; a live node's never. Returns how many
    /// were released.
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

    /// Queues a direct (StartAutomationExecution) execution. With a ClientToken already used in
    /// the scope, nothing is written: `Existing` when the request is the same, else
    /// `TokenMismatch`. `LimitExceeded` when the scope already has `max_active` executions
    /// (remediation ones included) QUEUED or IN_PROGRESS.
    async fn insert_automation_execution(
        &self,
        scope: &Scope,
        execution: &NewAutomationExecution,
        now: f64,
        max_active: usize,
    ) -> StoreResult<AutomationInsert>;

    /// The scope's executions (remediation and direct), newest first, those with `seq` below
    /// `before`, at most `limit`.
    async fn list_executions(
        &self,
        scope: &Scope,
        before: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<ExecutionRecord>>;

    /// StopAutomationExecution (Cancel), atomically: an execution no worker holds (queued,
    /// waiting, or its worker's lease expired) is cancelled at once, its fencing token bumped; one
    /// a worker holds is marked, and ends at that worker's next commit.
    async fn stop_execution(&self, scope: &Scope, id: &str, now: f64) -> StoreResult<StopOutcome>;
}

/// A rule's concurrency bound during one claim: a QUEUED execution may start while the rule's
/// running (IN_PROGRESS) executions are fewer than `max(1, ceil(N·pct/100))` of its N unfinished
/// ones. Counted once per rule per claim, then kept current as the claim goes: taking a QUEUED
/// execution moves it to IN_PROGRESS (running + 1, N unchanged); ending one FAILED before it
/// starts lowers N. (Counting again for every candidate walked up to `100·running/pct` index
/// entries each time: a tenth of StartRemediationExecution's cost once the engine claimed in
/// batches, issue 7.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RuleRoom {
    pub running: i64,
    /// N, counted no further than [`RuleRoom::count_limit`]: beyond it every check this claim
    /// can make is decided.
    pub unfinished: i64,
    pub pct: i64,
}

impl RuleRoom {
    /// How far to count N for a claim that may take `limit` more of the rule's executions: for
    /// running ≥ 1, `running < ceil(N·pct/100)` exactly when `N > floor(100·running/pct)`, and
    /// running grows to at most `running + limit` within the claim.
    pub(crate) fn count_limit(running: i64, pct: i64, limit: usize) -> i64 {
        if pct <= 0 {
            return 0;
        }
        running.saturating_add(limit as i64).saturating_mul(100) / pct + 1
    }

    pub(crate) fn has_room(&self) -> bool {
        self.running == 0
            || (self.pct > 0 && self.unfinished > self.running.saturating_mul(100) / self.pct)
    }
}

/// The [`RuleRoom`]s of one claim, per rule and concurrency percentage (executions queued under
/// different configurations may carry different ones), kept current as the claim takes or ends
/// the rule's executions.
#[derive(Debug, Default)]
pub(crate) struct RuleRooms(Vec<((String, String, String), i64, RuleRoom)>);

impl RuleRooms {
    pub(crate) fn get(&self, rule: &(String, String, String), pct: i64) -> Option<RuleRoom> {
        self.0
            .iter()
            .find(|(r, p, _)| r == rule && *p == pct)
            .map(|(_, _, room)| *room)
    }

    pub(crate) fn insert(&mut self, rule: &(String, String, String), pct: i64, room: RuleRoom) {
        self.0.push((rule.clone(), pct, room));
    }

    /// One of the rule's QUEUED executions was taken: it runs now.
    pub(crate) fn took(&mut self, rule: &(String, String, String)) {
        self.each(rule, |room| room.running += 1);
    }

    /// One of the rule's QUEUED executions ended before it started.
    pub(crate) fn ended(&mut self, rule: &(String, String, String)) {
        self.each(rule, |room| room.unfinished -= 1);
    }

    fn each(&mut self, rule: &(String, String, String), f: impl Fn(&mut RuleRoom)) {
        for (r, _, room) in &mut self.0 {
            if r == rule {
                f(room);
            }
        }
    }
}

/// The stored execution-state JSON after StopAutomationExecution (Cancel): the waiting step and
/// the execution Cancelled. Both backends write it when a stop lands. Unreadable JSON is kept.
pub(crate) fn cancelled_state(state_json: &str, now: f64) -> String {
    edit_state(state_json, |s| s.cancel((now * 1000.0).round() as i64))
}

/// The stored execution-state JSON of an execution ended before it started (its batch exceeded
/// the error percentage): Failed with `message`.
pub(crate) fn not_started_state(state_json: &str, message: &str, now: f64) -> String {
    edit_state(state_json, |s| {
        s.status = remedy_automation::AutomationExecutionStatus::Failed;
        s.failure_message = Some(message.to_string());
        s.next_step = None;
        s.current = None;
        s.end_time_ms = Some((now * 1000.0) as i64);
    })
}

fn edit_state(
    state_json: &str,
    edit: impl FnOnce(&mut remedy_automation::ExecutionState),
) -> String {
    match serde_json::from_str::<remedy_automation::ExecutionState>(state_json) {
        Ok(mut s) => {
            edit(&mut s);
            serde_json::to_string(&s).unwrap_or_else(|_| state_json.to_string())
        }
        Err(_) => state_json.to_string(),
    }
}
