//! [`EvaluationQueueStore`] on SQLite: tables `evaluation_queue` and `rule_schedules`
//! (migration 0003), plus the outbox helpers the store's own writes call inside their transaction.

use remedy_wire::config::ComplianceType;

use super::*;
use crate::store::evaluation_queue::*;

const KIND_RULE: &str = "rule";

/// Enqueues a re-evaluation of one resource, unless one is already pending. Called inside the
/// write that records the resource's item (the outbox).
pub(super) fn enqueue_resource(
    c: &Connection,
    scope: &Scope,
    resource_type: &str,
    resource_id: &str,
    now: f64,
) -> StoreResult<()> {
    c.prepare_cached(
        "INSERT OR IGNORE INTO evaluation_queue (account, region, kind, origin, resource_type, resource_id, enqueued_at)
         VALUES (?1, ?2, 'resource', 'change', ?3, ?4, ?5)",
    )
    .and_then(|mut s| s.execute(params![scope.account, scope.region, resource_type, resource_id, now]))
    .map_err(backend)?;
    Ok(())
}

/// Enqueues a rule-wide evaluation, unless one is already pending (an on-demand request marks
/// the pending one on-demand). Called inside the write that creates or updates the rule.
pub(super) fn enqueue_rule(
    c: &Connection,
    scope: &Scope,
    rule_name: &str,
    origin: JobOrigin,
    now: f64,
) -> StoreResult<()> {
    c.prepare_cached(
        "INSERT INTO evaluation_queue (account, region, kind, origin, rule_name, enqueued_at)
         VALUES (?1, ?2, 'rule', ?3, ?4, ?5)
         ON CONFLICT (account, region, kind, rule_name, resource_type, resource_id) WHERE claimed_at IS NULL
         DO UPDATE SET origin = CASE WHEN excluded.origin = 'on_demand' THEN 'on_demand' ELSE origin END",
    )
    .and_then(|mut s| s.execute(params![scope.account, scope.region, origin.as_str(), rule_name, now]))
    .map_err(backend)?;
    Ok(())
}

/// Drops a deleted rule's queued jobs and schedule; called inside `delete_rule`'s write.
pub(super) fn delete_rule_queue_state(
    c: &Connection,
    scope: &Scope,
    name: &str,
) -> StoreResult<()> {
    let p = params![scope.account, scope.region, name];
    c.execute(
        "DELETE FROM evaluation_queue WHERE account=?1 AND region=?2 AND kind='rule' AND rule_name=?3",
        p,
    )
    .map_err(backend)?;
    c.execute(
        "DELETE FROM rule_schedules WHERE account=?1 AND region=?2 AND rule_name=?3",
        p,
    )
    .map_err(backend)?;
    Ok(())
}

fn set_rule_state(
    c: &Connection,
    scope: &Scope,
    name: &str,
    from: Option<&str>,
    to: &str,
) -> StoreResult<()> {
    c.prepare_cached(
        "UPDATE config_rules SET body = json_set(body, '$.ConfigRuleState', ?4)
         WHERE account=?1 AND region=?2 AND name=?3 AND (?5 IS NULL OR json_extract(body, '$.ConfigRuleState') = ?5)",
    )
    .and_then(|mut s| s.execute(params![scope.account, scope.region, name, to, from]))
    .map_err(backend)?;
    Ok(())
}

fn job_from_row(row: &Row) -> rusqlite::Result<EvaluationJob> {
    let kind: String = row.get(3)?;
    let origin: String = row.get(4)?;
    let target = if kind == KIND_RULE {
        JobTarget::Rule {
            rule_name: row.get(5)?,
        }
    } else {
        JobTarget::Resource {
            resource_type: row.get(6)?,
            resource_id: row.get(7)?,
        }
    };
    Ok(EvaluationJob {
        id: row.get(0)?,
        scope: Scope::new(row.get::<_, String>(1)?, row.get::<_, String>(2)?),
        target,
        origin: JobOrigin::parse(&origin),
        enqueued_at: row.get(8)?,
    })
}

const JOB_COLS: &str =
    "id, account, region, kind, origin, rule_name, resource_type, resource_id, enqueued_at";

fn result_key(row: &Row) -> rusqlite::Result<ResultKey> {
    let t: String = row.get(3)?;
    Ok(ResultKey {
        rule_name: row.get(0)?,
        resource_type: row.get(1)?,
        resource_id: row.get(2)?,
        compliance_type: ComplianceType::from_wire(&t),
    })
}

#[async_trait]
impl EvaluationQueueStore for SqliteStore {
    fn evaluation_signal(&self) -> Arc<tokio::sync::Notify> {
        self.queue_signal.clone()
    }

    async fn release_evaluation_claims(&self) -> StoreResult<usize> {
        self.write(|c| {
            c.execute(
                "DELETE FROM evaluation_queue AS q WHERE q.claimed_at IS NOT NULL AND EXISTS (
                    SELECT 1 FROM evaluation_queue p WHERE p.claimed_at IS NULL AND p.account=q.account AND p.region=q.region
                      AND p.kind=q.kind AND p.rule_name=q.rule_name AND p.resource_type=q.resource_type AND p.resource_id=q.resource_id)",
                [],
            )
            .map_err(backend)?;
            c.execute("UPDATE evaluation_queue SET claimed_at = NULL WHERE claimed_at IS NOT NULL", [])
                .map_err(backend)
        })
        .await
    }

    /// One process owns the file: no other node can have died holding claims. (Its own
    /// previous life's claims were released at start.)
    async fn release_dead_node_evaluation_claims(&self) -> StoreResult<usize> {
        Ok(0)
    }

    async fn claim_evaluation_jobs(
        &self,
        now: f64,
        limit: usize,
        stale_before: f64,
    ) -> StoreResult<Vec<EvaluationJob>> {
        self.write(move |c| {
            let mut jobs = Vec::new();
            {
                let mut pending = c
                    .prepare_cached(&format!(
                        "SELECT {JOB_COLS} FROM evaluation_queue WHERE claimed_at IS NULL ORDER BY id LIMIT ?1"
                    ))
                    .map_err(backend)?;
                let rows = pending.query_map(params![limit as i64], job_from_row).map_err(backend)?;
                for r in rows {
                    jobs.push(r.map_err(backend)?);
                }
            }
            if jobs.len() < limit {
                let mut stale = c
                    .prepare_cached(&format!(
                        "SELECT {JOB_COLS} FROM evaluation_queue WHERE claimed_at IS NOT NULL AND claimed_at < ?1 ORDER BY id LIMIT ?2"
                    ))
                    .map_err(backend)?;
                let rows = stale
                    .query_map(params![stale_before, (limit - jobs.len()) as i64], job_from_row)
                    .map_err(backend)?;
                for r in rows {
                    jobs.push(r.map_err(backend)?);
                }
            }
            let mut claim = c
                .prepare_cached("UPDATE evaluation_queue SET claimed_at=?2 WHERE id=?1")
                .map_err(backend)?;
            for j in &jobs {
                claim.execute(params![j.id, now]).map_err(backend)?;
            }
            Ok(jobs)
        })
        .await
    }

    async fn finish_evaluation_jobs(
        &self,
        ids: &[i64],
        outcomes: &[RuleJobOutcome],
        now: f64,
    ) -> StoreResult<()> {
        let ids = ids.to_vec();
        let outcomes = outcomes.to_vec();
        self.write(move |c| {
            let mut delete = c
                .prepare_cached("DELETE FROM evaluation_queue WHERE id=?1")
                .map_err(backend)?;
            for id in &ids {
                delete.execute([id]).map_err(backend)?;
            }
            for o in &outcomes {
                let scope = &o.scope;
                if !rule_exists(c, scope, &o.rule_name).map_err(backend)? {
                    continue;
                }
                match o.period_seconds {
                    Some(period) => {
                        c.execute(
                            "INSERT INTO rule_schedules (account, region, rule_name, period_seconds, next_at) VALUES (?1,?2,?3,?4,?5)
                             ON CONFLICT (account, region, rule_name) DO UPDATE SET
                               next_at = CASE WHEN period_seconds = excluded.period_seconds THEN next_at ELSE excluded.next_at END,
                               period_seconds = excluded.period_seconds",
                            params![scope.account, scope.region, o.rule_name, period, now + period],
                        )
                        .map_err(backend)?;
                    }
                    None => {
                        c.execute(
                            "DELETE FROM rule_schedules WHERE account=?1 AND region=?2 AND rule_name=?3",
                            params![scope.account, scope.region, o.rule_name],
                        )
                        .map_err(backend)?;
                    }
                }
                let on_demand_left: bool = c
                    .query_row(
                        "SELECT 1 FROM evaluation_queue WHERE account=?1 AND region=?2 AND rule_name=?3 AND kind='rule' AND origin='on_demand'",
                        params![scope.account, scope.region, o.rule_name],
                        |_| Ok(()),
                    )
                    .optional()
                    .map_err(backend)?
                    .is_some();
                if !on_demand_left {
                    set_rule_state(c, scope, &o.rule_name, Some("EVALUATING"), "ACTIVE")?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn start_rule_evaluations(
        &self,
        scope: &Scope,
        names: &[String],
        now: f64,
        min_interval: f64,
    ) -> StoreResult<()> {
        let scope = scope.clone();
        let names = names.to_vec();
        let result = self
            .write(move |c| {
                for n in &names {
                    if !rule_exists(c, &scope, n).map_err(backend)? {
                        return Err(StoreError::NotFound);
                    }
                    let running = c
                        .query_row(
                            "SELECT 1 FROM evaluation_queue WHERE account=?1 AND region=?2 AND rule_name=?3 AND kind='rule' AND origin='on_demand'",
                            params![scope.account, scope.region, n],
                            |_| Ok(()),
                        )
                        .optional()
                        .map_err(backend)?
                        .is_some();
                    if running {
                        return Err(StoreError::AlreadyExists);
                    }
                    let last: Option<f64> = c
                        .query_row(
                            "SELECT last_requested_time FROM rule_evaluation_status WHERE account=?1 AND region=?2 AND rule_name=?3",
                            params![scope.account, scope.region, n],
                            |r| r.get(0),
                        )
                        .optional()
                        .map_err(backend)?
                        .flatten();
                    if last.is_some_and(|t| now - t < min_interval) {
                        return Err(StoreError::LimitExceeded(min_interval.ceil() as usize));
                    }
                }
                for n in &names {
                    c.execute(
                        "INSERT INTO rule_evaluation_status (account, region, rule_name, last_requested_time, last_successful_invocation_time)
                         VALUES (?1,?2,?3,?4,?4)
                         ON CONFLICT (account, region, rule_name) DO UPDATE SET
                            last_requested_time=excluded.last_requested_time,
                            last_successful_invocation_time=excluded.last_successful_invocation_time",
                        params![scope.account, scope.region, n, now],
                    )
                    .map_err(backend)?;
                    set_rule_state(c, &scope, n, None, "EVALUATING")?;
                    enqueue_rule(c, &scope, n, JobOrigin::OnDemand, now)?;
                }
                Ok(())
            })
            .await;
        if result.is_ok() {
            self.queue_signal.notify_one();
        }
        result
    }

    async fn enqueue_due_periodic(&self, now: f64) -> StoreResult<usize> {
        let n = self
            .write(move |c| {
                let due: Vec<(String, String, String, f64, f64)> = {
                    let mut stmt = c
                        .prepare_cached(
                            "SELECT account, region, rule_name, period_seconds, next_at FROM rule_schedules WHERE next_at <= ?1",
                        )
                        .map_err(backend)?;
                    let rows = stmt
                        .query_map([now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
                        .map_err(backend)?;
                    rows.collect::<Result<_, _>>().map_err(backend)?
                };
                for (account, region, rule, period, next_at) in &due {
                    let scope = Scope::new(account.clone(), region.clone());
                    enqueue_rule(c, &scope, rule, JobOrigin::Periodic, now)?;
                    // The next whole period after now: a server that was down for several
                    // periods runs once, not once per missed period.
                    let period = period.max(1.0);
                    let missed = ((now - next_at) / period).floor().max(0.0) + 1.0;
                    c.execute(
                        "UPDATE rule_schedules SET next_at=?4 WHERE account=?1 AND region=?2 AND rule_name=?3",
                        params![account, region, rule, next_at + missed * period],
                    )
                    .map_err(backend)?;
                }
                Ok(due.len())
            })
            .await?;
        if n > 0 {
            self.queue_signal.notify_one();
        }
        Ok(n)
    }

    async fn queued_evaluation_jobs(&self) -> StoreResult<usize> {
        self.read(|c| {
            c.query_row("SELECT COUNT(*) FROM evaluation_queue", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as usize)
            .map_err(backend)
        })
        .await
    }

    async fn latest_configuration_items(
        &self,
        scope: &Scope,
        keys: &[(String, String)],
    ) -> StoreResult<Vec<ConfigurationItem>> {
        let scope = scope.clone();
        let keys = keys.to_vec();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT body FROM resources WHERE account=?1 AND region=?2 AND resource_type=?3 AND resource_id=?4",
                )
                .map_err(backend)?;
            let mut out = Vec::with_capacity(keys.len());
            for (t, i) in keys {
                if let Some(ci) = stmt
                    .query_row(params![scope.account, scope.region, t, i], item_from_row)
                    .optional()
                    .map_err(backend)?
                {
                    out.push(ci);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn current_configuration_items(
        &self,
        scope: &Scope,
        resource_type: Option<&str>,
        after: Option<&(String, String)>,
        limit: usize,
    ) -> StoreResult<Vec<ConfigurationItem>> {
        let scope = scope.clone();
        let t = resource_type.map(str::to_string);
        let (after_type, after_id) = after.cloned().unwrap_or_default();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT body FROM resources WHERE account=?1 AND region=?2 AND (?3 IS NULL OR resource_type=?3)
                       AND (resource_type, resource_id) > (?4, ?5) AND status NOT IN (?6, ?7)
                     ORDER BY resource_type, resource_id LIMIT ?8",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map(
                    params![
                        scope.account,
                        scope.region,
                        t,
                        after_type,
                        after_id,
                        STATUS_DELETED,
                        STATUS_DELETED_NOT_RECORDED,
                        limit as i64
                    ],
                    item_from_row,
                )
                .map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)
        })
        .await
    }

    async fn resource_rule_results(
        &self,
        scope: &Scope,
        keys: &[(String, String)],
    ) -> StoreResult<Vec<ResultKey>> {
        let scope = scope.clone();
        let keys = keys.to_vec();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT rule_name, resource_type, resource_id, compliance_type FROM evaluation_results
                     WHERE account=?1 AND region=?2 AND resource_type=?3 AND resource_id=?4",
                )
                .map_err(backend)?;
            let mut out = Vec::new();
            for (t, i) in keys {
                let rows = stmt
                    .query_map(params![scope.account, scope.region, t, i], result_key)
                    .map_err(backend)?;
                for r in rows {
                    out.push(r.map_err(backend)?);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn delete_resource_results(
        &self,
        scope: &Scope,
        keys: &[(String, String)],
    ) -> StoreResult<Vec<ResultKey>> {
        let scope = scope.clone();
        let keys = keys.to_vec();
        self.write(move |c| {
            let mut select = c
                .prepare_cached(
                    "SELECT rule_name, resource_type, resource_id, compliance_type FROM evaluation_results
                     WHERE account=?1 AND region=?2 AND resource_type=?3 AND resource_id=?4",
                )
                .map_err(backend)?;
            let mut delete = c
                .prepare_cached(
                    "DELETE FROM evaluation_results WHERE account=?1 AND region=?2 AND resource_type=?3 AND resource_id=?4",
                )
                .map_err(backend)?;
            let mut out = Vec::new();
            for (t, i) in keys {
                let rows = select
                    .query_map(params![scope.account, scope.region, t, i], result_key)
                    .map_err(backend)?;
                for r in rows {
                    out.push(r.map_err(backend)?);
                }
                delete
                    .execute(params![scope.account, scope.region, t, i])
                    .map_err(backend)?;
            }
            Ok(out)
        })
        .await
    }

    async fn record_rule_invocation(
        &self,
        scope: &Scope,
        rule_name: &str,
        now: f64,
        failure: Option<(String, String)>,
    ) -> StoreResult<()> {
        let scope = scope.clone();
        let rule = rule_name.to_string();
        self.write(move |c| {
            if !rule_exists(c, &scope, &rule).map_err(backend)? {
                return Ok(());
            }
            match failure {
                None => c.execute(
                    "INSERT INTO rule_evaluation_status (account, region, rule_name, last_successful_invocation_time, first_evaluation_started)
                     VALUES (?1,?2,?3,?4,1)
                     ON CONFLICT (account, region, rule_name) DO UPDATE SET
                        last_successful_invocation_time=excluded.last_successful_invocation_time, first_evaluation_started=1",
                    params![scope.account, scope.region, rule, now],
                ),
                Some((code, message)) => c.execute(
                    "INSERT INTO rule_evaluation_status (account, region, rule_name, last_failed_invocation_time,
                        last_failed_evaluation_time, last_error_code, last_error_message, first_evaluation_started)
                     VALUES (?1,?2,?3,?4,?4,?5,?6,1)
                     ON CONFLICT (account, region, rule_name) DO UPDATE SET
                        last_failed_invocation_time=excluded.last_failed_invocation_time,
                        last_failed_evaluation_time=excluded.last_failed_evaluation_time,
                        last_error_code=excluded.last_error_code, last_error_message=excluded.last_error_message,
                        first_evaluation_started=1",
                    params![scope.account, scope.region, rule, now, code, message],
                ),
            }
            .map_err(backend)?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{NewConfigurationItem, RuleRecord};

    fn item(id: &str) -> NewConfigurationItem {
        NewConfigurationItem {
            resource_type: "AWS::S3::Bucket".into(),
            resource_id: id.into(),
            resource_name: None,
            arn: None,
            availability_zone: None,
            resource_creation_time: None,
            capture_time: None,
            status: None,
            configuration: serde_json::json!({}),
            supplementary_configuration: Default::default(),
            tags: Default::default(),
            relationships: vec![],
        }
    }

    async fn state(s: &SqliteStore, scope: &Scope) -> String {
        let r = s
            .get_rule(scope, &RuleSelector::Name("r".into()))
            .await
            .unwrap()
            .unwrap();
        r.rule.config_rule_state.unwrap().as_str().to_string()
    }

    fn open() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("remedy.db")).unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn outbox_dedups_pending_jobs_and_claims_survive_a_restart() {
        let (dir, store) = open();
        let scope = Scope::new("000000000000", "us-east-1");
        for _ in 0..3 {
            store
                .record_configuration_item(&scope, item("a"), None)
                .await
                .unwrap();
        }
        store
            .import_configuration_items(vec![
                (scope.clone(), item("a")),
                (scope.clone(), item("b")),
            ])
            .await
            .unwrap();
        store
            .insert_rule(&scope, &RuleRecord::active(&scope, "r"), &[], 10)
            .await
            .unwrap();
        store
            .update_rule(&scope, &RuleRecord::active(&scope, "r"))
            .await
            .unwrap();
        // a, b, and one rule job.
        assert_eq!(store.queued_evaluation_jobs().await.unwrap(), 3);

        let claimed = store.claim_evaluation_jobs(10.0, 2, 0.0).await.unwrap();
        assert_eq!(claimed.len(), 2);
        // A claimed (running) job does not absorb a new change: it may have read the old item.
        store
            .record_configuration_item(&scope, item("a"), None)
            .await
            .unwrap();
        assert_eq!(store.queued_evaluation_jobs().await.unwrap(), 4);
        drop(store);

        // "Restart": the claims are released; the claimed `a` merges into the pending `a`.
        let store = SqliteStore::open(&dir.path().join("remedy.db")).unwrap();
        store.release_evaluation_claims().await.unwrap();
        let all = store.claim_evaluation_jobs(20.0, 100, 0.0).await.unwrap();
        assert_eq!(all.len(), 3, "{all:?}");
        let ids: Vec<i64> = all.iter().map(|j| j.id).collect();
        store.finish_evaluation_jobs(&ids, &[], 21.0).await.unwrap();
        assert_eq!(store.queued_evaluation_jobs().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn on_demand_requests_and_periodic_schedules() {
        let (_dir, store) = open();
        let scope = Scope::new("000000000000", "us-east-1");
        store
            .insert_rule(&scope, &RuleRecord::active(&scope, "r"), &[], 10)
            .await
            .unwrap();
        let names = vec!["r".to_string()];
        // The creation job is not on-demand: a request is accepted and merges into it.
        store
            .start_rule_evaluations(&scope, &names, 100.0, 0.0)
            .await
            .unwrap();
        assert_eq!(store.queued_evaluation_jobs().await.unwrap(), 1);
        assert!(matches!(
            store
                .start_rule_evaluations(&scope, &names, 101.0, 0.0)
                .await,
            Err(StoreError::AlreadyExists)
        ));
        assert!(matches!(
            store
                .start_rule_evaluations(&scope, &["nope".to_string()], 101.0, 0.0)
                .await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(state(&store, &scope).await, "EVALUATING");
        let jobs = store.claim_evaluation_jobs(102.0, 10, 0.0).await.unwrap();
        assert_eq!(jobs[0].origin, JobOrigin::OnDemand);
        let outcome = RuleJobOutcome {
            scope: scope.clone(),
            rule_name: "r".into(),
            period_seconds: Some(3600.0),
        };
        store
            .finish_evaluation_jobs(&[jobs[0].id], std::slice::from_ref(&outcome), 1000.0)
            .await
            .unwrap();
        assert_eq!(state(&store, &scope).await, "ACTIVE");
        // Within the interval: refused.
        assert!(matches!(
            store
                .start_rule_evaluations(&scope, &names, 130.0, 60.0)
                .await,
            Err(StoreError::LimitExceeded(_))
        ));

        // Scheduled for 1000 + 3600. Not due before; due once after, even when checked twice.
        assert_eq!(store.enqueue_due_periodic(4599.0).await.unwrap(), 0);
        assert_eq!(store.enqueue_due_periodic(4600.0).await.unwrap(), 1);
        assert_eq!(store.enqueue_due_periodic(4601.0).await.unwrap(), 0);
        // Down for three periods: one run, then the next whole period.
        assert_eq!(
            store
                .enqueue_due_periodic(4600.0 + 3.5 * 3600.0)
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            store
                .enqueue_due_periodic(4600.0 + 3.9 * 3600.0)
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            store
                .enqueue_due_periodic(4600.0 + 4.0 * 3600.0)
                .await
                .unwrap(),
            1
        );
        // A job finishing again keeps the schedule; a rule no longer periodic loses it.
        store
            .finish_evaluation_jobs(&[], &[outcome], 9e9)
            .await
            .unwrap();
        assert_eq!(
            store
                .enqueue_due_periodic(4600.0 + 4.5 * 3600.0)
                .await
                .unwrap(),
            0
        );
        let not_periodic = RuleJobOutcome {
            scope: scope.clone(),
            rule_name: "r".into(),
            period_seconds: None,
        };
        store
            .finish_evaluation_jobs(&[], &[not_periodic], 9e9)
            .await
            .unwrap();
        assert_eq!(store.enqueue_due_periodic(1e12).await.unwrap(), 0);

        // Deleting the rule drops its jobs.
        store.delete_rule(&scope, "r").await.unwrap();
        assert_eq!(store.queued_evaluation_jobs().await.unwrap(), 0);
    }
}
