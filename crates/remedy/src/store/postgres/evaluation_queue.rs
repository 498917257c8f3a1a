//! [`EvaluationQueueStore`] on PostgreSQL: tables `evaluation_queue` and `rule_schedules`
//! (migration 0003), plus the outbox helpers the store's own writes call inside their
//! transaction.
//!
//! Several nodes share the queue: jobs and due schedules are taken `FOR UPDATE SKIP LOCKED`, so
//! no two nodes claim one job and each period of a periodic rule fires once.

use remedy_wire::config::ComplianceType;

use super::*;
pub(super) use crate::store::evaluation_queue::JobOrigin;
use crate::store::evaluation_queue::*;

const KIND_RULE: &str = "rule";

/// Enqueues a re-evaluation of one resource, unless one is already pending.
pub(super) async fn enqueue_resource(
    c: &impl GenericClient,
    scope: &Scope,
    resource_type: &str,
    resource_id: &str,
    now: f64,
) -> StoreResult<()> {
    c.exec(
        "INSERT INTO evaluation_queue (account, region, kind, origin, resource_type, resource_id, enqueued_at)
         VALUES ($1, $2, 'resource', 'change', $3, $4, $5)
         ON CONFLICT (account, region, kind, rule_name, resource_type, resource_id) WHERE claimed_at IS NULL
         DO NOTHING",
        &[&scope.account, &scope.region, &resource_type, &resource_id, &now],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

/// Enqueues a rule-wide evaluation, unless one is already pending (an on-demand request marks
/// the pending one on-demand).
pub(super) async fn enqueue_rule(
    c: &impl GenericClient,
    scope: &Scope,
    rule_name: &str,
    origin: JobOrigin,
    now: f64,
) -> StoreResult<()> {
    c.exec(
        "INSERT INTO evaluation_queue (account, region, kind, origin, rule_name, enqueued_at)
         VALUES ($1, $2, 'rule', $3, $4, $5)
         ON CONFLICT (account, region, kind, rule_name, resource_type, resource_id) WHERE claimed_at IS NULL
         DO UPDATE SET origin = CASE WHEN excluded.origin = 'on_demand' THEN 'on_demand'
                                     ELSE evaluation_queue.origin END",
        &[&scope.account, &scope.region, &origin.as_str(), &rule_name, &now],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

/// Sets a rule's ConfigRuleState inside its stored body (only when it is `from`, if given).
async fn set_rule_state(
    c: &impl GenericClient,
    scope: &Scope,
    name: &str,
    from: Option<&str>,
    to: &str,
) -> StoreResult<()> {
    c.exec(
        "UPDATE config_rules SET body = jsonb_set(body::jsonb, '{ConfigRuleState}', to_jsonb($4::text))::text
         WHERE account=$1 AND region=$2 AND name=$3
           AND ($5::text IS NULL OR body::jsonb ->> 'ConfigRuleState' = $5)",
        &[&scope.account, &scope.region, &name, &to, &from],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

fn job_from_row(row: &Row) -> StoreResult<EvaluationJob> {
    let kind: &str = col(row, 3)?;
    let origin: &str = col(row, 4)?;
    let target = if kind == KIND_RULE {
        JobTarget::Rule {
            rule_name: col(row, 5)?,
        }
    } else {
        JobTarget::Resource {
            resource_type: col(row, 6)?,
            resource_id: col(row, 7)?,
        }
    };
    Ok(EvaluationJob {
        id: col(row, 0)?,
        scope: Scope::new(col::<String>(row, 1)?, col::<String>(row, 2)?),
        target,
        origin: JobOrigin::parse(origin),
        enqueued_at: col(row, 8)?,
    })
}

fn result_key(row: &Row) -> StoreResult<ResultKey> {
    Ok(ResultKey {
        rule_name: col(row, 0)?,
        resource_type: col(row, 1)?,
        resource_id: col(row, 2)?,
        compliance_type: ComplianceType::from_wire(col::<&str>(row, 3)?),
    })
}

async fn on_demand_queued(c: &impl GenericClient, scope: &Scope, rule: &str) -> StoreResult<bool> {
    Ok(c.q_opt(
        "SELECT 1 FROM evaluation_queue WHERE account=$1 AND region=$2 AND rule_name=$3
               AND kind='rule' AND origin='on_demand' LIMIT 1",
        &[&scope.account, &scope.region, &rule],
    )
    .await
    .map_err(pg)?
    .is_some())
}

#[async_trait]
impl EvaluationQueueStore for PgStore {
    fn evaluation_signal(&self) -> Arc<tokio::sync::Notify> {
        self.queue_signal.clone()
    }

    /// On a shared database the claims in the queue may be other nodes' running jobs: only the
    /// claims of nodes that are gone (their liveness lock is free) are released — merged into a
    /// pending job of the same target, else made pending again. A live node's claims stay.
    async fn release_evaluation_claims(&self) -> StoreResult<usize> {
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        let nodes = t
            .q_all(
                "SELECT DISTINCT claimed_by FROM evaluation_queue
                 WHERE claimed_at IS NOT NULL AND claimed_by IS NOT NULL AND claimed_by <> $1",
                &[&self.node],
            )
            .await
            .map_err(pg)?;
        let nodes = map_rows(&nodes, |r| col::<String>(r, 0))?;
        let gone = gone_nodes(&t, nodes).await?;
        // One statement: each released job goes back in as pending under its own id (its place
        // in the queue), or does nothing where its target already has a pending job — one
        // enqueued meanwhile by any node included, which ON CONFLICT waits for. (Deleting the
        // duplicates and then updating the rest let a job enqueued between the two break the
        // one-pending-job-per-target index, and the release failed.)
        let row = t
            .q_one(
                "WITH released AS (
                    DELETE FROM evaluation_queue WHERE claimed_by = ANY($1)
                    RETURNING id, account, region, kind, origin, rule_name, resource_type, resource_id,
                              enqueued_at),
                 pending AS (
                    INSERT INTO evaluation_queue (id, account, region, kind, origin, rule_name,
                                                  resource_type, resource_id, enqueued_at)
                    SELECT * FROM released ORDER BY id
                    ON CONFLICT DO NOTHING
                    RETURNING 1)
                 SELECT count(*) FROM pending",
                &[&gone],
            )
            .await
            .map_err(pg)?;
        let n: i64 = col(&row, 0)?;
        t.commit().await.map_err(pg)?;
        Ok(n as usize)
    }

    /// The release at start already leaves this node's and live nodes' claims alone.
    async fn release_dead_node_evaluation_claims(&self) -> StoreResult<usize> {
        self.release_evaluation_claims().await
    }

    async fn claim_evaluation_jobs(
        &self,
        now: f64,
        limit: usize,
        stale_before: f64,
    ) -> StoreResult<Vec<EvaluationJob>> {
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        // Pending jobs first, then stale claims, each oldest first; rows another node is
        // claiming right now are skipped, not waited for.
        let rows = t
            .q_all(
                "WITH c AS MATERIALIZED (
                    SELECT id, claimed_at IS NULL AS pending FROM evaluation_queue
                     WHERE claimed_at IS NULL OR claimed_at < $2
                     ORDER BY claimed_at IS NOT NULL, id LIMIT $3
                     FOR UPDATE SKIP LOCKED)
                 UPDATE evaluation_queue q SET claimed_at = $1, claimed_by = $4 FROM c WHERE q.id = c.id
                 RETURNING q.id, q.account, q.region, q.kind, q.origin, q.rule_name, q.resource_type,
                           q.resource_id, q.enqueued_at, c.pending",
                &[&now, &stale_before, &(limit as i64), &self.node],
            )
            .await
            .map_err(pg)?;
        t.commit().await.map_err(pg)?;
        let mut jobs = rows
            .iter()
            .map(|r| Ok((!col::<bool>(r, 9)?, job_from_row(r)?)))
            .collect::<StoreResult<Vec<_>>>()?;
        jobs.sort_by_key(|(stale, j)| (*stale, j.id));
        Ok(jobs.into_iter().map(|(_, j)| j).collect())
    }

    async fn finish_evaluation_jobs(
        &self,
        ids: &[i64],
        outcomes: &[RuleJobOutcome],
        now: f64,
    ) -> StoreResult<()> {
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        // A rule being deleted meanwhile must not keep (or regain) a schedule.
        lock_scopes(&t, outcomes.iter().map(|o| &o.scope)).await?;
        t.exec("DELETE FROM evaluation_queue WHERE id = ANY($1)", &[&ids])
            .await
            .map_err(pg)?;
        for o in outcomes {
            let scope = &o.scope;
            if !rule_exists(&t, scope, &o.rule_name).await? {
                continue;
            }
            match o.period_seconds {
                Some(period) => {
                    t.exec(
                        "INSERT INTO rule_schedules (account, region, rule_name, period_seconds, next_at)
                         VALUES ($1,$2,$3,$4,$5)
                         ON CONFLICT (account, region, rule_name) DO UPDATE SET
                           next_at = CASE WHEN rule_schedules.period_seconds = excluded.period_seconds
                                          THEN rule_schedules.next_at ELSE excluded.next_at END,
                           period_seconds = excluded.period_seconds",
                        &[&scope.account, &scope.region, &o.rule_name, &period, &(now + period)],
                    )
                    .await
                    .map_err(pg)?;
                }
                None => {
                    t.exec(
                        "DELETE FROM rule_schedules WHERE account=$1 AND region=$2 AND rule_name=$3",
                        &[&scope.account, &scope.region, &o.rule_name],
                    )
                    .await
                    .map_err(pg)?;
                }
            }
            if !on_demand_queued(&t, scope, &o.rule_name).await? {
                set_rule_state(&t, scope, &o.rule_name, Some("EVALUATING"), "ACTIVE").await?;
            }
        }
        t.commit().await.map_err(pg)
    }

    async fn start_rule_evaluations(
        &self,
        scope: &Scope,
        names: &[String],
        now: f64,
        min_interval: f64,
    ) -> StoreResult<()> {
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        lock_scopes(&t, [scope]).await?;
        for n in names {
            if !rule_exists(&t, scope, n).await? {
                return Err(StoreError::NotFound);
            }
            if on_demand_queued(&t, scope, n).await? {
                return Err(StoreError::AlreadyExists);
            }
            let last: Option<f64> = match t
                .q_opt(
                    "SELECT last_requested_time FROM rule_evaluation_status
                     WHERE account=$1 AND region=$2 AND rule_name=$3",
                    &[&scope.account, &scope.region, n],
                )
                .await
                .map_err(pg)?
            {
                Some(r) => col(&r, 0)?,
                None => None,
            };
            if last.is_some_and(|t| now - t < min_interval) {
                return Err(StoreError::LimitExceeded(min_interval.ceil() as usize));
            }
        }
        for n in names {
            t.exec(
                "INSERT INTO rule_evaluation_status (account, region, rule_name, last_requested_time, last_successful_invocation_time)
                 VALUES ($1,$2,$3,$4,$4)
                 ON CONFLICT (account, region, rule_name) DO UPDATE SET
                    last_requested_time=excluded.last_requested_time,
                    last_successful_invocation_time=excluded.last_successful_invocation_time",
                &[&scope.account, &scope.region, n, &now],
            )
            .await
            .map_err(pg)?;
            set_rule_state(&t, scope, n, None, "EVALUATING").await?;
            enqueue_rule(&t, scope, n, JobOrigin::OnDemand, now).await?;
        }
        t.commit().await.map_err(pg)?;
        self.work_committed();
        Ok(())
    }

    async fn enqueue_due_periodic(&self, now: f64) -> StoreResult<usize> {
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        // Another node enqueueing the same period holds its rows: skip them, it enqueues them.
        let due = t
            .q_all(
                "SELECT account, region, rule_name, period_seconds, next_at FROM rule_schedules
                 WHERE next_at <= $1 FOR UPDATE SKIP LOCKED",
                &[&now],
            )
            .await
            .map_err(pg)?;
        for r in &due {
            let (account, region, rule): (String, String, String) =
                (col(r, 0)?, col(r, 1)?, col(r, 2)?);
            let (period, next_at): (f64, f64) = (col(r, 3)?, col(r, 4)?);
            let scope = Scope::new(account, region);
            enqueue_rule(&t, &scope, &rule, JobOrigin::Periodic, now).await?;
            // The next whole period after now: a cluster that was down for several periods runs
            // once, not once per missed period.
            let period = period.max(1.0);
            let missed = ((now - next_at) / period).floor().max(0.0) + 1.0;
            t.exec(
                "UPDATE rule_schedules SET next_at=$4 WHERE account=$1 AND region=$2 AND rule_name=$3",
                &[&scope.account, &scope.region, &rule, &(next_at + missed * period)],
            )
            .await
            .map_err(pg)?;
        }
        t.commit().await.map_err(pg)?;
        if !due.is_empty() {
            self.work_committed();
        }
        Ok(due.len())
    }

    async fn queued_evaluation_jobs(&self) -> StoreResult<usize> {
        let row = self
            .row("SELECT COUNT(*) FROM evaluation_queue", &[])
            .await?
            .ok_or_else(|| backend("COUNT returned no row"))?;
        Ok(col::<i64>(&row, 0)? as usize)
    }

    async fn latest_configuration_items(
        &self,
        scope: &Scope,
        keys: &[(String, String)],
    ) -> StoreResult<Vec<ConfigurationItem>> {
        let types: Vec<&str> = keys.iter().map(|(t, _)| t.as_str()).collect();
        let ids: Vec<&str> = keys.iter().map(|(_, i)| i.as_str()).collect();
        // In input order (`ord`), one row per key that has an item.
        let rows = self
            .rows(
                "SELECT r.body FROM unnest($3::text[], $4::text[]) WITH ORDINALITY AS k(t, i, ord)
                   JOIN resources r ON r.account=$1 AND r.region=$2
                                   AND r.resource_type = k.t AND r.resource_id = k.i
                  ORDER BY k.ord",
                &[&scope.account, &scope.region, &types, &ids],
            )
            .await?;
        map_rows(&rows, item_from_row)
    }

    async fn current_configuration_items(
        &self,
        scope: &Scope,
        resource_type: Option<&str>,
        after: Option<&(String, String)>,
        limit: usize,
    ) -> StoreResult<Vec<ConfigurationItem>> {
        let (after_type, after_id) = after.cloned().unwrap_or_default();
        let rows = self
            .rows(
                "SELECT body FROM resources WHERE account=$1 AND region=$2 AND ($3::text IS NULL OR resource_type=$3)
                   AND (resource_type, resource_id) > ($4, $5) AND status NOT IN ($6, $7)
                 ORDER BY resource_type, resource_id LIMIT $8",
                &[
                    &scope.account,
                    &scope.region,
                    &resource_type,
                    &after_type,
                    &after_id,
                    &STATUS_DELETED,
                    &STATUS_DELETED_NOT_RECORDED,
                    &(limit as i64),
                ],
            )
            .await?;
        map_rows(&rows, item_from_row)
    }

    async fn resource_rule_results(
        &self,
        scope: &Scope,
        keys: &[(String, String)],
    ) -> StoreResult<Vec<ResultKey>> {
        let types: Vec<&str> = keys.iter().map(|(t, _)| t.as_str()).collect();
        let ids: Vec<&str> = keys.iter().map(|(_, i)| i.as_str()).collect();
        let rows = self
            .rows(
                "SELECT e.rule_name, e.resource_type, e.resource_id, e.compliance_type
                   FROM unnest($3::text[], $4::text[]) WITH ORDINALITY AS k(t, i, ord)
                   JOIN evaluation_results e ON e.account=$1 AND e.region=$2
                                            AND e.resource_type = k.t AND e.resource_id = k.i
                  ORDER BY k.ord, e.rule_name",
                &[&scope.account, &scope.region, &types, &ids],
            )
            .await?;
        map_rows(&rows, result_key)
    }

    async fn delete_resource_results(
        &self,
        scope: &Scope,
        keys: &[(String, String)],
    ) -> StoreResult<Vec<ResultKey>> {
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        lock_scopes(&t, [scope]).await?;
        // Resources in key order, each one's rows in rule order: the order result writers lock
        // rows in, so this never waits on one of them in a cycle.
        let mut in_key_order: Vec<&(String, String)> = keys.iter().collect();
        in_key_order.sort();
        in_key_order.dedup();
        let mut out = Vec::new();
        for (rt, ri) in in_key_order {
            let rows = t
                .q_all(
                    "DELETE FROM evaluation_results
                     WHERE account=$1 AND region=$2 AND resource_type=$3 AND resource_id=$4
                     RETURNING rule_name, resource_type, resource_id, compliance_type",
                    &[&scope.account, &scope.region, rt, ri],
                )
                .await
                .map_err(pg)?;
            let mut removed = map_rows(&rows, result_key)?;
            removed.sort_by(|a, b| a.rule_name.cmp(&b.rule_name));
            out.extend(removed);
        }
        t.commit().await.map_err(pg)?;
        Ok(out)
    }

    async fn record_rule_invocation(
        &self,
        scope: &Scope,
        rule_name: &str,
        now: f64,
        failure: Option<(String, String)>,
    ) -> StoreResult<()> {
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        lock_scopes(&t, [scope]).await?;
        if !rule_exists(&t, scope, rule_name).await? {
            return Ok(());
        }
        match failure {
            None => t.exec(
                "INSERT INTO rule_evaluation_status (account, region, rule_name, last_successful_invocation_time, first_evaluation_started)
                 VALUES ($1,$2,$3,$4,TRUE)
                 ON CONFLICT (account, region, rule_name) DO UPDATE SET
                    last_successful_invocation_time=excluded.last_successful_invocation_time, first_evaluation_started=TRUE",
                &[&scope.account, &scope.region, &rule_name, &now],
            )
            .await,
            Some((code, message)) => t.exec(
                "INSERT INTO rule_evaluation_status (account, region, rule_name, last_failed_invocation_time,
                    last_failed_evaluation_time, last_error_code, last_error_message, first_evaluation_started)
                 VALUES ($1,$2,$3,$4,$4,$5,$6,TRUE)
                 ON CONFLICT (account, region, rule_name) DO UPDATE SET
                    last_failed_invocation_time=excluded.last_failed_invocation_time,
                    last_failed_evaluation_time=excluded.last_failed_evaluation_time,
                    last_error_code=excluded.last_error_code, last_error_message=excluded.last_error_message,
                    first_evaluation_started=TRUE",
                &[&scope.account, &scope.region, &rule_name, &now, &code, &message],
            )
            .await,
        }
        .map_err(pg)?;
        t.commit().await.map_err(pg)
    }
}
