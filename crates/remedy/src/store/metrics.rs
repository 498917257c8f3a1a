//! What `GET /metrics` reads from the store: how much work the database holds and who holds it.
//!
//! One method, one small snapshot, read at scrape time rather than counted on the write paths:
//! the numbers then cannot drift from the tables, and on PostgreSQL every node reports the same
//! cluster-wide counts (a node's own share is the `*_by_node` fields). Every count is an
//! index-only read: executions by state over `remediation_executions_state` (linear in the number
//! of executions, but in index entries, never rows), leases over the partial index of unfinished
//! executions, the evaluation queue over its claim index.

use async_trait::async_trait;

use super::StoreResult;

/// The store's side of a scrape.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreMetrics {
    /// Executions (remediation and direct automation alike) per state column value, in state
    /// order; states with no execution are absent.
    pub executions_by_state: Vec<(String, u64)>,
    /// Executions a worker holds an unexpired lease on, by any node.
    pub executions_leased: u64,
    /// Of those, the ones this node's workers hold (on SQLite, one process owns the file: all).
    pub executions_leased_by_node: u64,
    /// Evaluation jobs waiting to be claimed.
    pub evaluation_jobs_pending: u64,
    /// Evaluation jobs claimed and not yet finished, by any node (a crashed claimer's included
    /// until they are released or go stale).
    pub evaluation_jobs_claimed: u64,
    /// Of those, the ones this node claimed.
    pub evaluation_jobs_claimed_by_node: u64,
    /// This node's id on a shared database (what its claims and leases record); `None` on SQLite.
    pub node: Option<String>,
}

#[async_trait]
pub trait MetricsStore: Send + Sync + 'static {
    /// The counts at `now` (a lease that expired before `now` is not held).
    async fn metrics_snapshot(&self, now: f64) -> StoreResult<StoreMetrics>;
}
