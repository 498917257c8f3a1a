//! [`ExecutionStore`] on SQLite: tables `remediation_executions` and `remediation_failures`
//! (migrations 0004, 0006, 0007, 0009).
//!
//! Claiming runs on the single writer, so selecting candidates and taking their leases is one
//! transaction: each candidate is taken with a guarded `UPDATE … RETURNING` (lease still free),
//! and the per-rule concurrency bound and the batch's error percentage are checked against the
//! current rows, over short index-only ranges (migration 0007), never by scanning the queue.

use super::*;
use crate::store::executions::*;

const COLS: &str =
    "id, account, region, rule_name, resource_type, resource_id, state, document_name,
    document_version, parameters, execution_state, automatic, invocation_time, last_updated, fence,
    wake_at, batch_id, seq, kind, mode, executed_by, tags, parent_id, cancel_requested";

fn record(row: &Row) -> rusqlite::Result<ExecutionRecord> {
    Ok(ExecutionRecord {
        id: row.get(0)?,
        scope: Scope::new(row.get::<_, String>(1)?, row.get::<_, String>(2)?),
        rule_name: row.get(3)?,
        resource_type: row.get(4)?,
        resource_id: row.get(5)?,
        state: row.get(6)?,
        document_name: row.get(7)?,
        document_version: row.get(8)?,
        parameters: row.get(9)?,
        execution_state: row.get(10)?,
        automatic: row.get::<_, i64>(11)? != 0,
        invocation_time: row.get(12)?,
        last_updated: row.get(13)?,
        fence: row.get(14)?,
        wake_at: row.get(15)?,
        batch_id: row.get(16)?,
        seq: row.get(17)?,
        remediation: row.get::<_, String>(18)? == KIND_REMEDIATION,
        mode: row.get(19)?,
        executed_by: row.get(20)?,
        tags: row
            .get::<_, Option<String>>(21)?
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default(),
        parent_id: row.get(22)?,
        cancel_requested: row.get::<_, i64>(23)? != 0,
    })
}

/// What a status shows: the stored summary, or for rows without one the state it is read from.
const STATUS_COLS: &str = "resource_type, resource_id, state, document_name, document_version,
    invocation_time, last_updated, coalesce(status_summary, execution_state)";

fn status_record(row: &Row) -> rusqlite::Result<ExecutionStatusRecord> {
    let summary = row
        .get_ref(7)?
        .as_str()
        .ok()
        .and_then(ExecutionSummary::from_json);
    Ok(ExecutionStatusRecord {
        resource_type: row.get(0)?,
        resource_id: row.get(1)?,
        state: row.get(2)?,
        document_name: row.get(3)?,
        document_version: row.get(4)?,
        invocation_time: row.get(5)?,
        last_updated: row.get(6)?,
        summary,
    })
}

/// The latest execution of each key of a rule (see [`ExecutionStore::latest_executions`]), the
/// columns `cols` mapped by `map`. Named keys are one descent each of the key index to the key's
/// highest `seq`; without keys, a page in key order.
#[allow(clippy::too_many_arguments)]
fn latest<T>(
    c: &Connection,
    cols: &str,
    map: fn(&Row) -> rusqlite::Result<T>,
    scope: &Scope,
    rule: &str,
    keys: Option<&[(String, String)]>,
    after: Option<&(String, String)>,
    limit: usize,
) -> StoreResult<Vec<T>> {
    let mut out = Vec::new();
    match keys {
        Some(keys) => {
            let mut keys: Vec<&(String, String)> = keys.iter().collect();
            keys.sort();
            keys.dedup();
            let mut s = c
                .prepare_cached(&format!(
                    "SELECT {cols} FROM remediation_executions INDEXED BY remediation_executions_key
                     WHERE account=?1 AND region=?2 AND rule_name=?3 AND resource_type=?4 AND resource_id=?5
                     ORDER BY seq DESC LIMIT 1"
                ))
                .map_err(backend)?;
            for (t, i) in keys {
                if after.is_some_and(|a| (t, i) <= (&a.0, &a.1)) {
                    continue;
                }
                if out.len() >= limit {
                    break;
                }
                if let Some(r) = s
                    .query_row(params![scope.account, scope.region, rule, t, i], map)
                    .optional()
                    .map_err(backend)?
                {
                    out.push(r);
                }
            }
        }
        None => {
            let (at, ai) = after.cloned().unwrap_or_default();
            let mut s = c
                .prepare_cached(&format!(
                    "SELECT {cols} FROM remediation_executions e WHERE account=?1 AND region=?2 AND rule_name=?3
                       AND seq = (SELECT max(seq) FROM remediation_executions l WHERE l.account=e.account AND l.region=e.region
                                  AND l.rule_name=e.rule_name AND l.resource_type=e.resource_type AND l.resource_id=e.resource_id)
                       AND (resource_type, resource_id) > (?4, ?5) ORDER BY resource_type, resource_id LIMIT ?6"
                ))
                .map_err(backend)?;
            let rows = s
                .query_map(
                    params![scope.account, scope.region, rule, at, ai, limit as i64],
                    map,
                )
                .map_err(backend)?;
            for r in rows {
                out.push(r.map_err(backend)?);
            }
        }
    }
    Ok(out)
}

const KIND_REMEDIATION: &str = "remediation";
const KIND_AUTOMATION: &str = "automation";

/// Ends an execution Cancelled (remediation state FAILED): lease released, fencing token bumped
/// so no worker's later commit lands.
fn finish_cancelled(c: &Connection, seq: i64, state_json: &str, now: f64) -> StoreResult<()> {
    let cancelled = cancelled_state(state_json, now);
    c.execute(
        "UPDATE remediation_executions SET state='FAILED', execution_state=?2, last_updated=?3,
            lease_owner=NULL, lease_expires=NULL, fence=fence+1, cancel_requested=1,
            status_summary=?4
         WHERE seq=?1",
        params![seq, cancelled, now, summary_column(&cancelled)],
    )
    .map_err(backend)?;
    Ok(())
}

/// Whether executions of a rule are QUEUED or IN_PROGRESS; called inside
/// `delete_remediation_configuration`'s write.
pub(super) fn rule_has_active_executions(
    c: &Connection,
    scope: &Scope,
    rule_name: &str,
) -> StoreResult<bool> {
    Ok(c.query_row(
        "SELECT 1 FROM remediation_executions WHERE account=?1 AND region=?2 AND rule_name=?3
               AND state IN ('QUEUED','IN_PROGRESS') LIMIT 1",
        params![scope.account, scope.region, rule_name],
        |_| Ok(()),
    )
    .optional()
    .map_err(backend)?
    .is_some())
}

/// A rule's [`RuleRoom`] for a claim that may take `limit` more executions, over index-only
/// ranges of `remediation_executions_rule_state`: its IN_PROGRESS executions, then its unfinished
/// ones up to [`RuleRoom::count_limit`], so a claim never walks a long queue.
fn rule_room(
    c: &Connection,
    account: &str,
    region: &str,
    rule: &str,
    pct: i64,
    limit: usize,
) -> StoreResult<RuleRoom> {
    let running: i64 = c
        .prepare_cached(
            "SELECT count(*) FROM remediation_executions INDEXED BY remediation_executions_rule_state
             WHERE account=?1 AND region=?2 AND rule_name=?3
               AND state IN ('QUEUED','IN_PROGRESS') AND state='IN_PROGRESS'",
        )
        .and_then(|mut s| s.query_row(params![account, region, rule], |r| r.get(0)))
        .map_err(backend)?;
    let unfinished: i64 = c
        .prepare_cached(
            "SELECT count(*) FROM (SELECT 1 FROM remediation_executions
               INDEXED BY remediation_executions_rule_state
             WHERE account=?1 AND region=?2 AND rule_name=?3 AND state IN ('QUEUED','IN_PROGRESS')
             LIMIT ?4)",
        )
        .and_then(|mut s| {
            s.query_row(
                params![
                    account,
                    region,
                    rule,
                    RuleRoom::count_limit(running, pct, limit)
                ],
                |r| r.get(0),
            )
        })
        .map_err(backend)?;
    Ok(RuleRoom {
        running,
        unfinished,
        pct,
    })
}

/// A batch's (size, FAILED executions), index-only over `remediation_executions_batch`; the size
/// is counted only when some failed (it is 0 otherwise: the error percentage cannot be exceeded).
fn batch_failures(c: &Connection, batch: &str) -> StoreResult<(i64, i64)> {
    let errors: i64 = c
        .prepare_cached(
            "SELECT count(*) FROM remediation_executions WHERE batch_id=?1 AND state='FAILED'",
        )
        .and_then(|mut s| s.query_row([batch], |r| r.get(0)))
        .map_err(backend)?;
    if errors == 0 {
        return Ok((0, 0));
    }
    let size: i64 = c
        .prepare_cached("SELECT count(*) FROM remediation_executions WHERE batch_id=?1")
        .and_then(|mut s| s.query_row([batch], |r| r.get(0)))
        .map_err(backend)?;
    Ok((size, errors))
}

#[async_trait]
impl ExecutionStore for SqliteStore {
    async fn insert_executions(
        &self,
        scope: &Scope,
        rule_name: &str,
        executions: &[NewExecution],
        now: f64,
    ) -> StoreResult<Vec<InsertOutcome>> {
        let scope = scope.clone();
        let rule = rule_name.to_string();
        let executions = executions.to_vec();
        self.write(move |c| {
            let configured = c
                .query_row(
                    "SELECT 1 FROM remediation_configurations WHERE account=?1 AND region=?2 AND rule_name=?3",
                    params![scope.account, scope.region, rule],
                    |_| Ok(()),
                )
                .optional()
                .map_err(backend)?
                .is_some();
            if !configured {
                return Err(StoreError::NotFound);
            }
            let mut insert = c
                .prepare_cached(
                    "INSERT INTO remediation_executions (id, account, region, rule_name, resource_type, resource_id,
                        state, document_name, document_version, parameters, execution_state, automatic,
                        concurrency_pct, error_pct, batch_id, invocation_time, last_updated, wake_at)
                     VALUES (?1,?2,?3,?4,?5,?6,'QUEUED',?7,?8,?9,?10,?11,?12,?13,?14,?15,?15,?16)
                     ON CONFLICT DO NOTHING",
                )
                .map_err(backend)?;
            // The single writer makes this check and the insert one atomic step.
            let mut invoked_since = c
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM remediation_executions INDEXED BY remediation_executions_key
                      WHERE account=?1 AND region=?2 AND rule_name=?3 AND resource_type=?4
                        AND resource_id=?5 AND invocation_time >= ?6)",
                )
                .map_err(backend)?;
            let mut out = Vec::with_capacity(executions.len());
            for e in &executions {
                if let Some(finding) = e.finding_ordering {
                    let handled: bool = invoked_since
                        .query_row(
                            params![
                                scope.account,
                                scope.region,
                                rule,
                                e.resource_type,
                                e.resource_id,
                                finding
                            ],
                            |r| r.get(0),
                        )
                        .map_err(backend)?;
                    if handled {
                        out.push(InsertOutcome::FindingHandled);
                        continue;
                    }
                }
                let n = insert
                    .execute(params![
                        e.id,
                        scope.account,
                        scope.region,
                        rule,
                        e.resource_type,
                        e.resource_id,
                        e.document_name,
                        e.document_version,
                        e.parameters,
                        e.execution_state,
                        e.automatic as i64,
                        e.concurrency_percentage as i64,
                        e.error_percentage as i64,
                        e.batch_id,
                        now,
                        e.wake_at,
                    ])
                    .map_err(backend)?;
                out.push(if n == 1 {
                    InsertOutcome::Started
                } else {
                    InsertOutcome::InFlight
                });
            }
            Ok(out)
        })
        .await
    }

    async fn latest_executions(
        &self,
        scope: &Scope,
        rule_name: &str,
        keys: Option<&[(String, String)]>,
        after: Option<&(String, String)>,
        limit: usize,
    ) -> StoreResult<Vec<ExecutionRecord>> {
        let scope = scope.clone();
        let rule = rule_name.to_string();
        let keys = keys.map(|k| k.to_vec());
        let after = after.cloned();
        self.read(move |c| {
            latest(
                c,
                COLS,
                record,
                &scope,
                &rule,
                keys.as_deref(),
                after.as_ref(),
                limit,
            )
        })
        .await
    }

    async fn latest_execution_statuses(
        &self,
        scope: &Scope,
        rule_name: &str,
        keys: Option<&[(String, String)]>,
        after: Option<&(String, String)>,
        limit: usize,
    ) -> StoreResult<Vec<ExecutionStatusRecord>> {
        // At most a page of index lookups: on the calling thread (see `read_inline`).
        self.read_inline(|c| {
            latest(
                c,
                STATUS_COLS,
                status_record,
                scope,
                rule_name,
                keys,
                after,
                limit,
            )
        })
    }

    async fn get_execution(&self, id: &str) -> StoreResult<Option<ExecutionRecord>> {
        let id = id.to_string();
        self.read(move |c| {
            c.query_row(
                &format!("SELECT {COLS} FROM remediation_executions WHERE id=?1"),
                [id],
                record,
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn claim_executions(
        &self,
        owner: &str,
        now: f64,
        lease_seconds: f64,
        limit: usize,
    ) -> StoreResult<Vec<ExecutionRecord>> {
        let owner = owner.to_string();
        self.write(move |c| {
            // Stops asked while a worker held the execution, whose worker is gone (lease released
            // or expired) before its next commit: they end Cancelled instead of being claimed.
            let stopped: Vec<(i64, String)> = {
                let mut s = c
                    .prepare_cached(
                        "SELECT seq, execution_state FROM remediation_executions
                           INDEXED BY remediation_executions_cancel
                         WHERE cancel_requested = 1 AND state IN ('QUEUED','IN_PROGRESS')
                           AND (lease_expires IS NULL OR lease_expires < ?1)",
                    )
                    .map_err(backend)?;
                let rows = s
                    .query_map([now], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(backend)?;
                rows.collect::<rusqlite::Result<_>>().map_err(backend)?
            };
            for (seq, state_json) in stopped {
                finish_cancelled(c, seq, &state_json, now)?;
            }
            // Candidates: due, lease free or expired. IN_PROGRESS first (resuming never waits for
            // the concurrency bound), then QUEUED; oldest first within each. One index-ordered
            // range per state (remediation_executions_due_state), so nothing is sorted.
            let wanted = limit * 4 + 16;
            let mut candidates: Vec<(i64, String, String, String, String, i64, i64, String)> =
                Vec::new();
            for st in [STATE_IN_PROGRESS, STATE_QUEUED] {
                if candidates.len() >= wanted {
                    break;
                }
                // The state is spelled in the SQL, one cached statement per state: bound as a
                // parameter, SQLite re-planned the statement whenever its value changed (the plan
                // depends on it through the partial index), ~90k instructions twice per claim.
                let mut s = c
                    .prepare_cached(&format!(
                        "SELECT seq, account, region, rule_name, state, concurrency_pct, error_pct, batch_id
                         FROM remediation_executions INDEXED BY remediation_executions_due_state
                         WHERE state IN ('QUEUED','IN_PROGRESS') AND state = '{st}' AND wake_at <= ?1
                           AND (lease_expires IS NULL OR lease_expires < ?1)
                         ORDER BY wake_at, seq LIMIT ?2"
                    ))
                    .map_err(backend)?;
                let rows = s
                    .query_map(
                        params![now, (wanted - candidates.len()) as i64],
                        |r| {
                            Ok((
                                r.get(0)?,
                                r.get(1)?,
                                r.get(2)?,
                                r.get(3)?,
                                r.get(4)?,
                                r.get(5)?,
                                r.get(6)?,
                                r.get(7)?,
                            ))
                        },
                    )
                    .map_err(backend)?;
                for row in rows {
                    candidates.push(row.map_err(backend)?);
                }
            }
            let mut take = c
                .prepare_cached(&format!(
                    "UPDATE remediation_executions
                     SET lease_owner=?2, lease_expires=?3, fence=fence+1, state='IN_PROGRESS',
                         last_updated = CASE WHEN state='QUEUED' THEN ?4 ELSE last_updated END
                     WHERE seq=?1 AND (lease_expires IS NULL OR lease_expires < ?4)
                     RETURNING {COLS}"
                ))
                .map_err(backend)?;
            let mut out = Vec::new();
            let mut rooms = RuleRooms::default();
            for (seq, account, region, rule, state, conc, err, batch) in candidates {
                if out.len() >= limit {
                    break;
                }
                let queued = state == STATE_QUEUED;
                let key = (account, region, rule);
                if queued {
                    // ErrorPercentage: the batch stops starting executions once exceeded.
                    let (size, errors) = batch_failures(c, &batch)?;
                    if errors > 0 && errors > size * err / 100 {
                        let message = format!(
                            "The remediation was not started: {errors} of the {size} executions started together failed, more than the configuration's ErrorPercentage ({err}%) allows."
                        );
                        let state_json = c
                            .query_row(
                                "SELECT execution_state FROM remediation_executions WHERE seq=?1",
                                [seq],
                                |r| r.get::<_, String>(0),
                            )
                            .map_err(backend)?;
                        let failed = not_started_state(&state_json, &message, now);
                        c.execute(
                            "UPDATE remediation_executions SET state='FAILED', execution_state=?2, last_updated=?3,
                               lease_owner=NULL, lease_expires=NULL, status_summary=?4 WHERE seq=?1",
                            params![seq, failed, now, summary_column(&failed)],
                        )
                        .map_err(backend)?;
                        rooms.ended(&key);
                        continue;
                    }
                    let room = match rooms.get(&key, conc) {
                        Some(room) => room,
                        None => {
                            let (account, region, rule) = &key;
                            let room =
                                rule_room(c, account, region, rule, conc, limit - out.len())?;
                            rooms.insert(&key, conc, room);
                            room
                        }
                    };
                    if !room.has_room() {
                        continue;
                    }
                }
                let taken = take
                    .query_row(params![seq, owner, now + lease_seconds, now], record)
                    .optional()
                    .map_err(backend)?;
                if let Some(r) = taken {
                    out.push(r);
                    if queued {
                        rooms.took(&key);
                    }
                }
            }
            Ok(out)
        })
        .await
    }

    async fn renew_execution_lease(&self, id: &str, fence: i64, until: f64) -> StoreResult<bool> {
        let id = id.to_string();
        self.write(move |c| {
            let n = c
                .execute(
                    "UPDATE remediation_executions SET lease_expires=?3
                     WHERE id=?1 AND fence=?2 AND state IN ('QUEUED','IN_PROGRESS')",
                    params![id, fence, until],
                )
                .map_err(backend)?;
            Ok(n == 1)
        })
        .await
    }

    async fn commit_step(&self, commit: &StepCommit) -> StoreResult<CommitOutcome> {
        let commit = commit.clone();
        // Derived on the caller's thread, not the single writer's.
        let summary = summary_column(&commit.execution_state);
        self.write(move |c| {
            let terminal = commit.state == STATE_SUCCEEDED || commit.state == STATE_FAILED;
            // A stop asked meanwhile: the step the worker finished counts, then the execution
            // ends Cancelled (unless the step ended it anyway).
            let held = c
                .prepare_cached(
                    "SELECT seq, cancel_requested FROM remediation_executions
                     WHERE id=?1 AND fence=?2 AND state IN ('QUEUED','IN_PROGRESS')",
                )
                .and_then(|mut s| {
                    s.query_row(params![commit.id, commit.fence], |r| {
                        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)? != 0))
                    })
                    .optional()
                })
                .map_err(backend)?;
            let Some((seq, cancel_requested)) = held else {
                return Ok(CommitOutcome::Stale);
            };
            if cancel_requested && !terminal {
                finish_cancelled(c, seq, &commit.execution_state, commit.now)?;
                return Ok(CommitOutcome::Cancelled);
            }
            let release = terminal || commit.wake_at.is_some();
            let n = c
                .prepare_cached(
                    "UPDATE remediation_executions SET state=?3, execution_state=?4, last_updated=?5,
                        wake_at = coalesce(?6, wake_at),
                        lease_owner = CASE WHEN ?7 THEN NULL ELSE lease_owner END,
                        lease_expires = CASE WHEN ?7 THEN NULL ELSE lease_expires END,
                        status_summary = ?8
                     WHERE seq=?1 AND fence=?2",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        seq,
                        commit.fence,
                        commit.state,
                        commit.execution_state,
                        commit.now,
                        commit.wake_at,
                        release,
                        summary,
                    ])
                })
                .map_err(backend)?;
            Ok(if n == 1 {
                CommitOutcome::Committed
            } else {
                CommitOutcome::Stale
            })
        })
        .await
    }

    async fn release_execution(&self, id: &str, fence: i64) -> StoreResult<bool> {
        let id = id.to_string();
        self.write(move |c| {
            let n = c
                .execute(
                    "UPDATE remediation_executions SET lease_owner=NULL, lease_expires=NULL WHERE id=?1 AND fence=?2",
                    params![id, fence],
                )
                .map_err(backend)?;
            Ok(n == 1)
        })
        .await
    }

    async fn release_all_execution_leases(&self) -> StoreResult<usize> {
        self.write(|c| {
            c.execute(
                "UPDATE remediation_executions SET lease_owner=NULL, lease_expires=NULL WHERE lease_owner IS NOT NULL",
                [],
            )
            .map_err(backend)
        })
        .await
    }

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
    ) -> StoreResult<AutomaticFailureOutcome> {
        let scope = scope.clone();
        let (rule, t, i) = (
            rule_name.to_string(),
            resource_type.to_string(),
            resource_id.to_string(),
        );
        self.write(move |c| {
            let key = params![scope.account, scope.region, rule, t, i];
            c.execute(
                "INSERT INTO remediation_failures (account, region, rule_name, resource_type, resource_id, failed_at)
                 VALUES (?1,?2,?3,?4,?5,?6)",
                params![scope.account, scope.region, rule, t, i, now],
            )
            .map_err(backend)?;
            c.execute(
                "DELETE FROM remediation_failures WHERE account=?1 AND region=?2 AND rule_name=?3
                   AND resource_type=?4 AND resource_id=?5 AND failed_at < ?6",
                params![scope.account, scope.region, rule, t, i, now - window_seconds],
            )
            .map_err(backend)?;
            let failures: i64 = c
                .query_row(
                    "SELECT count(*) FROM remediation_failures WHERE account=?1 AND region=?2 AND rule_name=?3
                       AND resource_type=?4 AND resource_id=?5",
                    key,
                    |r| r.get(0),
                )
                .map_err(backend)?;
            if (failures as usize) < max_attempts {
                return Ok(AutomaticFailureOutcome::Retry {
                    failures: failures as usize,
                });
            }
            let message = format!(
                "Auto-remediation failed {failures} times within {} seconds.",
                window_seconds as i64
            );
            c.execute(
                "INSERT INTO remediation_exceptions (account, region, rule_name, resource_type, resource_id, message, expiration_time)
                 VALUES (?1,?2,?3,?4,?5,?6,NULL)
                 ON CONFLICT (account, region, rule_name, resource_type, resource_id)
                 DO UPDATE SET message=excluded.message, expiration_time=NULL",
                params![scope.account, scope.region, rule, t, i, message],
            )
            .map_err(backend)?;
            c.execute(
                "DELETE FROM remediation_failures WHERE account=?1 AND region=?2 AND rule_name=?3
                   AND resource_type=?4 AND resource_id=?5",
                key,
            )
            .map_err(backend)?;
            Ok(AutomaticFailureOutcome::ExceptionCreated(
                RemediationExceptionRecord {
                    rule_name: rule.clone(),
                    resource_type: t.clone(),
                    resource_id: i.clone(),
                    message: Some(message),
                    expiration_time: None,
                },
            ))
        })
        .await
    }

    async fn active_executions(&self) -> StoreResult<usize> {
        self.read(|c| {
            c.query_row(
                "SELECT count(*) FROM remediation_executions WHERE state IN ('QUEUED','IN_PROGRESS')",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as usize)
            .map_err(backend)
        })
        .await
    }

    async fn insert_automation_execution(
        &self,
        scope: &Scope,
        execution: &NewAutomationExecution,
        now: f64,
        max_active: usize,
    ) -> StoreResult<AutomationInsert> {
        let scope = scope.clone();
        let e = execution.clone();
        self.write(move |c| {
            if let Some(token) = &e.client_token {
                let used = c
                    .query_row(
                        "SELECT id, request_hash FROM remediation_executions
                         WHERE account=?1 AND region=?2 AND client_token=?3",
                        params![scope.account, scope.region, token],
                        |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?)),
                    )
                    .optional()
                    .map_err(backend)?;
                if let Some((id, hash)) = used {
                    return Ok(if hash.as_deref() == Some(e.request_hash.as_str()) {
                        AutomationInsert::Existing(id)
                    } else {
                        AutomationInsert::TokenMismatch
                    });
                }
            }
            let active: i64 = c
                .query_row(
                    "SELECT count(*) FROM remediation_executions
                     WHERE account=?1 AND region=?2 AND state IN ('QUEUED','IN_PROGRESS')",
                    params![scope.account, scope.region],
                    |r| r.get(0),
                )
                .map_err(backend)?;
            if active as usize >= max_active {
                return Ok(AutomationInsert::LimitExceeded);
            }
            let tags = (!e.tags.is_empty())
                .then(|| serde_json::to_string(&e.tags).unwrap_or_else(|_| "[]".into()));
            c.execute(
                "INSERT INTO remediation_executions (id, account, region, rule_name, resource_type, resource_id,
                    state, document_name, document_version, parameters, execution_state, automatic,
                    concurrency_pct, error_pct, batch_id, invocation_time, last_updated, wake_at,
                    kind, mode, executed_by, client_token, request_hash, tags, parent_id)
                 VALUES (?1,?2,?3,'','','','QUEUED',?4,?5,?6,?7,0,100,100,?1,?8,?8,?8,?9,?10,?11,?12,?13,?14,?15)",
                params![
                    e.id,
                    scope.account,
                    scope.region,
                    e.document_name,
                    e.document_version,
                    e.parameters,
                    e.execution_state,
                    now,
                    KIND_AUTOMATION,
                    e.mode,
                    e.executed_by,
                    e.client_token,
                    e.request_hash,
                    tags,
                    e.parent_id,
                ],
            )
            .map_err(backend)?;
            Ok(AutomationInsert::Started)
        })
        .await
    }

    async fn list_executions(
        &self,
        scope: &Scope,
        before: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<ExecutionRecord>> {
        let scope = scope.clone();
        self.read(move |c| {
            let mut s = c
                .prepare_cached(&format!(
                    "SELECT {COLS} FROM remediation_executions WHERE account=?1 AND region=?2 AND seq < ?3
                     ORDER BY seq DESC LIMIT ?4"
                ))
                .map_err(backend)?;
            let rows = s
                .query_map(
                    params![
                        scope.account,
                        scope.region,
                        before.unwrap_or(i64::MAX),
                        limit as i64
                    ],
                    record,
                )
                .map_err(backend)?;
            rows.collect::<rusqlite::Result<_>>().map_err(backend)
        })
        .await
    }

    async fn stop_execution(&self, scope: &Scope, id: &str, now: f64) -> StoreResult<StopOutcome> {
        let scope = scope.clone();
        let id = id.to_string();
        self.write(move |c| {
            let row = c
                .query_row(
                    "SELECT seq, state, lease_expires, execution_state FROM remediation_executions
                     WHERE id=?1 AND account=?2 AND region=?3",
                    params![id, scope.account, scope.region],
                    |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, Option<f64>>(2)?,
                            r.get::<_, String>(3)?,
                        ))
                    },
                )
                .optional()
                .map_err(backend)?;
            let Some((seq, state, lease_expires, state_json)) = row else {
                return Ok(StopOutcome::NotFound);
            };
            if state != STATE_QUEUED && state != STATE_IN_PROGRESS {
                return Ok(StopOutcome::Terminal);
            }
            if lease_expires.is_some_and(|t| t >= now) {
                c.execute(
                    "UPDATE remediation_executions SET cancel_requested=1, last_updated=?2 WHERE seq=?1",
                    params![seq, now],
                )
                .map_err(backend)?;
                return Ok(StopOutcome::CancelRequested);
            }
            finish_cancelled(c, seq, &state_json, now)?;
            Ok(StopOutcome::Cancelled)
        })
        .await
    }
}
