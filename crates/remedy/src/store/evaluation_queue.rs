//! The store's side of the evaluation engine: a durable queue of evaluation work, periodic
//! schedules, and the batch reads and writes the engine needs. Like [`super::Store`], each method
//! is one atomic unit of work.
//!
//! The queue is a transactional outbox: the store's own writes that call for evaluation
//! (`record_configuration_item`, `import_configuration_items`, `insert_rule`, `update_rule`)
//! enqueue in the same transaction, so an acknowledged change is never left unevaluated, even
//! after `kill -9`. One engine per process consumes the queue: on SQLite one process owns the
//! database; on PostgreSQL every node's engine claims from the shared queue, and the claims of a
//! node that dies are released by the others ([`EvaluationQueueStore::release_dead_node_evaluation_claims`]).

use std::sync::Arc;

use async_trait::async_trait;
use remedy_wire::config::ComplianceType;
use tokio::sync::Notify;

use super::StoreResult;
use crate::domain::{ConfigurationItem, Scope};

/// What a job asks the engine to do.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum JobTarget {
    /// Re-evaluate one resource (its latest item) against every change-triggered rule in scope.
    Resource {
        resource_type: String,
        resource_id: String,
    },
    /// Evaluate one rule against every resource in its scope.
    Rule { rule_name: String },
}

/// Why a job was enqueued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOrigin {
    /// A configuration item was recorded.
    Change,
    /// The rule was created or updated.
    RulePut,
    /// StartConfigRulesEvaluation (the rule shows EVALUATING until the job finishes).
    OnDemand,
    /// The rule's periodic timer fired.
    Periodic,
}

impl JobOrigin {
    pub fn as_str(&self) -> &'static str {
        match self {
            JobOrigin::Change => "change",
            JobOrigin::RulePut => "rule_put",
            JobOrigin::OnDemand => "on_demand",
            JobOrigin::Periodic => "periodic",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "rule_put" => JobOrigin::RulePut,
            "on_demand" => JobOrigin::OnDemand,
            "periodic" => JobOrigin::Periodic,
            _ => JobOrigin::Change,
        }
    }
}

/// A claimed job.
#[derive(Debug, Clone, PartialEq)]
pub struct EvaluationJob {
    pub id: i64,
    pub scope: Scope,
    pub target: JobTarget,
    pub origin: JobOrigin,
    pub enqueued_at: f64,
}

/// What the engine learned running a rule-wide job, applied when the job is finished.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleJobOutcome {
    pub scope: Scope,
    pub rule_name: String,
    /// The rule's period when it is periodic (its schedule is kept or created), `None` when it
    /// is not (any schedule is dropped).
    pub period_seconds: Option<f64>,
}

/// A stored result of one rule on one resource, as the engine reads them back.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultKey {
    pub rule_name: String,
    pub resource_type: String,
    pub resource_id: String,
    pub compliance_type: ComplianceType,
}

/// Why `start_rule_evaluations` refused.
pub const ALREADY_RUNNING: &str = "an on-demand evaluation of the rule is queued or running";

#[async_trait]
pub trait EvaluationQueueStore: Send + Sync + 'static {
    /// Notified after every commit that enqueued work (the engine's wake-up).
    fn evaluation_signal(&self) -> Arc<Notify>;

    /// Makes every claimed job pending again (a claimed job whose target already has a pending
    /// job is dropped). Called once when the engine starts: claims of a previous process that
    /// died are its unfinished work. On PostgreSQL, where nodes share the queue, only the claims
    /// of nodes that are gone are released; a live node's never.
    async fn release_evaluation_claims(&self) -> StoreResult<usize>;

    /// Releases, while this node runs, the claims of *other* nodes that are gone, as
    /// [`EvaluationQueueStore::release_evaluation_claims`] does at start; the engine calls it every
    /// [`super::NODE_RESCUE_INTERVAL`], so a node that dies mid-job holds its jobs for about
    /// that long, not for the claim staleness. Never releases this node's claims (its engine is
    /// running them) nor a live node's. SQLite: a single process owns the file, so there is no
    /// other node and nothing is released — releasing every claim, as at start, would hand the
    /// running engine's jobs out a second time.
    async fn release_dead_node_evaluation_claims(&self) -> StoreResult<usize>;

    /// Claims up to `limit` jobs, oldest first, at `now`: pending ones, and ones claimed before
    /// `stale_before` (a claimer that never finished).
    async fn claim_evaluation_jobs(
        &self,
        now: f64,
        limit: usize,
        stale_before: f64,
    ) -> StoreResult<Vec<EvaluationJob>>;

    /// Deletes finished jobs and applies what their rule-wide jobs learned: a rule's periodic
    /// schedule is created, kept or dropped, and a rule whose on-demand evaluation is done goes
    /// back from EVALUATING to ACTIVE.
    async fn finish_evaluation_jobs(
        &self,
        ids: &[i64],
        outcomes: &[RuleJobOutcome],
        now: f64,
    ) -> StoreResult<()>;

    /// StartConfigRulesEvaluation, atomically for all names: `NotFound` when a rule does not
    /// exist; `AlreadyExists` when an on-demand evaluation of one is queued or running;
    /// `LimitExceeded` when one was requested less than `min_interval` seconds ago. Otherwise
    /// records the request (invocation time, as DescribeConfigRuleEvaluationStatus shows it),
    /// marks each rule EVALUATING and enqueues a rule-wide job for it.
    async fn start_rule_evaluations(
        &self,
        scope: &Scope,
        names: &[String],
        now: f64,
        min_interval: f64,
    ) -> StoreResult<()>;

    /// Enqueues a rule-wide job for every periodic rule due at `now` and advances its schedule
    /// by whole periods past `now`. Returns how many rules were due.
    async fn enqueue_due_periodic(&self, now: f64) -> StoreResult<usize>;

    /// Jobs not yet finished (pending or claimed).
    async fn queued_evaluation_jobs(&self) -> StoreResult<usize>;

    /// The latest item of each resource that has one (deleted ones included), in input order.
    async fn latest_configuration_items(
        &self,
        scope: &Scope,
        keys: &[(String, String)],
    ) -> StoreResult<Vec<ConfigurationItem>>;

    /// Resources not deleted, optionally of one type, in (type, id) order after `after`.
    async fn current_configuration_items(
        &self,
        scope: &Scope,
        resource_type: Option<&str>,
        after: Option<&(String, String)>,
        limit: usize,
    ) -> StoreResult<Vec<ConfigurationItem>>;

    /// Every stored result of the given resources, across rules.
    async fn resource_rule_results(
        &self,
        scope: &Scope,
        keys: &[(String, String)],
    ) -> StoreResult<Vec<ResultKey>>;

    /// Deletes every result of the given resources (they were deleted); returns what was removed.
    async fn delete_resource_results(
        &self,
        scope: &Scope,
        keys: &[(String, String)],
    ) -> StoreResult<Vec<ResultKey>>;

    /// Records how invoking a rule went at `now`: success sets LastSuccessfulInvocationTime; a
    /// failure `(code, message)` sets LastFailedInvocationTime, LastFailedEvaluationTime and the
    /// error. Nothing happens for a rule that no longer exists.
    async fn record_rule_invocation(
        &self,
        scope: &Scope,
        rule_name: &str,
        now: f64,
        failure: Option<(String, String)>,
    ) -> StoreResult<()>;
}
