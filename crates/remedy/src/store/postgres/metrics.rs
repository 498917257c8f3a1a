//! [`MetricsStore`] on PostgreSQL: two index-only statements in one read-only REPEATABLE READ
//! transaction (one snapshot). The database is shared, so the counts are the cluster's; leases
//! (`lease_node`) and claims (`claimed_by`) recorded with this node's id are its own share.

use super::*;
use crate::store::metrics::*;

#[async_trait]
impl MetricsStore for PgStore {
    async fn metrics_snapshot(&self, now: f64) -> StoreResult<StoreMetrics> {
        let mut c = self.client().await?;
        let t = c
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(pg)?;
        // Index-only over remediation_executions_state (migration 0008).
        let by_state = t
            .q_all(
                "SELECT state, count(*) FROM remediation_executions GROUP BY state ORDER BY state",
                &[],
            )
            .await
            .map_err(pg)?;
        let executions_by_state = by_state
            .iter()
            .map(|r| Ok((col::<String>(r, 0)?, col::<i64>(r, 1)? as u64)))
            .collect::<StoreResult<Vec<_>>>()?;
        // A lease is only ever held on an unfinished execution: the partial indexes bound the
        // read by the work in flight, not by the history.
        let row = t
            .q_one(
                "SELECT
                   (SELECT count(*) FROM remediation_executions
                     WHERE state IN ('QUEUED','IN_PROGRESS') AND lease_owner IS NOT NULL
                       AND lease_expires >= $1),
                   (SELECT count(*) FROM remediation_executions
                     WHERE state IN ('QUEUED','IN_PROGRESS') AND lease_owner IS NOT NULL
                       AND lease_expires >= $1 AND lease_node = $2),
                   (SELECT count(*) FROM evaluation_queue WHERE claimed_at IS NULL),
                   (SELECT count(*) FROM evaluation_queue WHERE claimed_at IS NOT NULL),
                   (SELECT count(*) FROM evaluation_queue
                     WHERE claimed_at IS NOT NULL AND claimed_by = $2)",
                &[&now, &self.node],
            )
            .await
            .map_err(pg)?;
        let count = |i| col::<i64>(&row, i).map(|n| n as u64);
        let snapshot = StoreMetrics {
            executions_by_state,
            executions_leased: count(0)?,
            executions_leased_by_node: count(1)?,
            evaluation_jobs_pending: count(2)?,
            evaluation_jobs_claimed: count(3)?,
            evaluation_jobs_claimed_by_node: count(4)?,
            node: Some(self.node.clone()),
        };
        t.commit().await.map_err(pg)?;
        Ok(snapshot)
    }
}
