//! [`MetricsStore`] on SQLite: three index-only reads in one read transaction (one snapshot).
//!
//! One process owns a SQLite file, so this node's leases and claims are all of them.

use super::*;
use crate::store::metrics::*;

#[async_trait]
impl MetricsStore for SqliteStore {
    async fn metrics_snapshot(&self, now: f64) -> StoreResult<StoreMetrics> {
        self.read(move |c| {
            let t = c.unchecked_transaction().map_err(backend)?;
            // Index-only over remediation_executions_state (migration 0008): no row is read.
            let executions_by_state = {
                let mut s = t
                    .prepare_cached(
                        "SELECT state, count(*) FROM remediation_executions
                           INDEXED BY remediation_executions_state GROUP BY state ORDER BY state",
                    )
                    .map_err(backend)?;
                let rows = s
                    .query_map([], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
                    })
                    .map_err(backend)?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(backend)?
            };
            // A lease is only ever held on an unfinished execution: the partial index bounds the
            // read by the work in flight, not by the history.
            let leased: i64 = t
                .prepare_cached(
                    "SELECT count(*) FROM remediation_executions
                       INDEXED BY remediation_executions_due_state
                     WHERE state IN ('QUEUED','IN_PROGRESS')
                       AND lease_owner IS NOT NULL AND lease_expires >= ?1",
                )
                .and_then(|mut s| s.query_row([now], |r| r.get(0)))
                .map_err(backend)?;
            let (pending, claimed): (i64, i64) = t
                .prepare_cached(
                    "SELECT count(*) - count(claimed_at), count(claimed_at) FROM evaluation_queue
                       INDEXED BY evaluation_queue_claim",
                )
                .and_then(|mut s| s.query_row([], |r| Ok((r.get(0)?, r.get(1)?))))
                .map_err(backend)?;
            Ok(StoreMetrics {
                executions_by_state,
                executions_leased: leased as u64,
                executions_leased_by_node: leased as u64,
                evaluation_jobs_pending: pending as u64,
                evaluation_jobs_claimed: claimed as u64,
                evaluation_jobs_claimed_by_node: claimed as u64,
                node: None,
            })
        })
        .await
    }
}
