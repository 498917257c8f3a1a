//! [`ExecutionStore`] on PostgreSQL: tables `remediation_executions` and `remediation_failures`
//! (migrations 0004, 0006, 0007, 0009).
//!
//! - The one-in-flight-per-key rule is the partial unique index: racing inserts on any nodes
//!   block on each other's index entry and the loser's `ON CONFLICT DO NOTHING` reports
//!   `InFlight`. A start inserts its whole batch in one statement (`unnest` of per-column
//!   arrays) under the remediation configuration's row lock (`FOR SHARE`), not the scope's
//!   advisory lock: starts do not queue behind every other write of the account and region, and
//!   the configuration's deletion, which locks that row first, still sees their executions.
//! - Claims take candidate rows `FOR UPDATE SKIP LOCKED` (two claimers never take one row, and
//!   never wait for each other) and bump the fencing token; every later write names the token.
//! - The per-rule concurrency bound is counted under a transaction-scoped advisory lock on the
//!   rule, taken with `pg_try_advisory_xact_lock`: a claimer that finds another node counting the
//!   same rule leaves that rule's queued executions for its next poll rather than overshoot the
//!   bound (and never waits while holding row locks). The bound and the batch's error
//!   percentage are checked against the current rows over short index ranges (migration 0007),
//!   never by counting the whole queue.

use std::collections::HashMap;

use super::*;
use crate::store::executions::*;

const COLS: &str =
    "id, account, region, rule_name, resource_type, resource_id, state, document_name,
    document_version, parameters, execution_state, automatic, invocation_time, last_updated, fence,
    wake_at, batch_id, seq, kind, mode, executed_by, tags, parent_id, cancel_requested";

const KIND_REMEDIATION: &str = "remediation";
const KIND_AUTOMATION: &str = "automation";

fn record(row: &Row) -> StoreResult<ExecutionRecord> {
    Ok(ExecutionRecord {
        id: col(row, 0)?,
        scope: Scope::new(col::<String>(row, 1)?, col::<String>(row, 2)?),
        rule_name: col(row, 3)?,
        resource_type: col(row, 4)?,
        resource_id: col(row, 5)?,
        state: col(row, 6)?,
        document_name: col(row, 7)?,
        document_version: col(row, 8)?,
        parameters: col(row, 9)?,
        execution_state: col(row, 10)?,
        automatic: col(row, 11)?,
        invocation_time: col(row, 12)?,
        last_updated: col(row, 13)?,
        fence: col(row, 14)?,
        wake_at: col(row, 15)?,
        batch_id: col(row, 16)?,
        seq: col(row, 17)?,
        remediation: col::<&str>(row, 18)? == KIND_REMEDIATION,
        mode: col(row, 19)?,
        executed_by: col(row, 20)?,
        tags: col::<Option<&str>>(row, 21)?
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default(),
        parent_id: col(row, 22)?,
        cancel_requested: col(row, 23)?,
    })
}

/// What a status shows: the stored summary, or for rows without one the state it is read from.
const STATUS_COLS: &str = "resource_type, resource_id, state, document_name, document_version,
    invocation_time, last_updated, coalesce(status_summary, execution_state)";

fn status_record(row: &Row) -> StoreResult<ExecutionStatusRecord> {
    Ok(ExecutionStatusRecord {
        resource_type: col(row, 0)?,
        resource_id: col(row, 1)?,
        state: col(row, 2)?,
        document_name: col(row, 3)?,
        document_version: col(row, 4)?,
        invocation_time: col(row, 5)?,
        last_updated: col(row, 6)?,
        summary: ExecutionSummary::from_json(col(row, 7)?),
    })
}

/// Ends an execution Cancelled (remediation state FAILED): lease released, fencing token bumped.
async fn finish_cancelled(
    c: &impl GenericClient,
    seq: i64,
    state_json: &str,
    now: f64,
) -> StoreResult<()> {
    let cancelled = cancelled_state(state_json, now);
    c.exec(
        "UPDATE remediation_executions SET state='FAILED', execution_state=$2, last_updated=$3,
            lease_owner=NULL, lease_expires=NULL, fence=fence+1, cancel_requested=TRUE,
            status_summary=$4
         WHERE seq=$1",
        &[&seq, &cancelled, &now, &summary_column(&cancelled)],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

/// Whether executions of a rule are QUEUED or IN_PROGRESS.
pub(super) async fn rule_has_active_executions(
    c: &impl GenericClient,
    scope: &Scope,
    rule_name: &str,
) -> StoreResult<bool> {
    Ok(c.q_opt(
        "SELECT 1 FROM remediation_executions WHERE account=$1 AND region=$2 AND rule_name=$3
               AND state IN ('QUEUED','IN_PROGRESS') LIMIT 1",
        &[&scope.account, &scope.region, &rule_name],
    )
    .await
    .map_err(pg)?
    .is_some())
}

/// A rule's [`RuleRoom`] for a claim that may take `limit` more executions, over short ranges of
/// `remediation_executions_rule_state` (migration 0007): its IN_PROGRESS executions, then its
/// unfinished ones up to [`RuleRoom::count_limit`].
async fn rule_room(
    c: &impl GenericClient,
    account: &str,
    region: &str,
    rule: &str,
    pct: i64,
    limit: usize,
) -> StoreResult<RuleRoom> {
    let running: i64 = col(
        &c.q_one(
            "SELECT count(*) FROM remediation_executions
             WHERE account=$1 AND region=$2 AND rule_name=$3
               AND state IN ('QUEUED','IN_PROGRESS') AND state='IN_PROGRESS'",
            &[&account, &region, &rule],
        )
        .await
        .map_err(pg)?,
        0,
    )?;
    let unfinished: i64 = col(
        &c.q_one(
            "SELECT count(*) FROM (SELECT 1 FROM remediation_executions
               WHERE account=$1 AND region=$2 AND rule_name=$3
                 AND state IN ('QUEUED','IN_PROGRESS')
               LIMIT $4) AS n",
            &[
                &account,
                &region,
                &rule,
                &RuleRoom::count_limit(running, pct, limit),
            ],
        )
        .await
        .map_err(pg)?,
        0,
    )?;
    Ok(RuleRoom {
        running,
        unfinished,
        pct,
    })
}

/// A batch's (size, FAILED executions) over `remediation_executions_batch`; the size is counted
/// only when some failed (it is 0 otherwise: the error percentage cannot be exceeded).
async fn batch_failures(c: &impl GenericClient, batch: &str) -> StoreResult<(i64, i64)> {
    let errors: i64 = col(
        &c.q_one(
            "SELECT count(*) FROM remediation_executions WHERE batch_id=$1 AND state='FAILED'",
            &[&batch],
        )
        .await
        .map_err(pg)?,
        0,
    )?;
    if errors == 0 {
        return Ok((0, 0));
    }
    let size: i64 = col(
        &c.q_one(
            "SELECT count(*) FROM remediation_executions WHERE batch_id=$1",
            &[&batch],
        )
        .await
        .map_err(pg)?,
        0,
    )?;
    Ok((size, errors))
}

impl PgStore {
    /// The latest execution of each key of a rule (see [`ExecutionStore::latest_executions`]),
    /// the columns `cols`.
    async fn latest_rows(
        &self,
        cols: &str,
        scope: &Scope,
        rule_name: &str,
        keys: Option<&[(String, String)]>,
        after: Option<&(String, String)>,
        limit: usize,
    ) -> StoreResult<Vec<Row>> {
        let latest = format!(
            "SELECT {cols} FROM remediation_executions e WHERE account=$1 AND region=$2 AND rule_name=$3
               AND seq = (SELECT max(seq) FROM remediation_executions l WHERE l.account=e.account
                          AND l.region=e.region AND l.rule_name=e.rule_name
                          AND l.resource_type=e.resource_type AND l.resource_id=e.resource_id)"
        );
        let (at, ai) = after.cloned().unwrap_or_default();
        let rows = match keys {
            Some(keys) => {
                let types: Vec<&str> = keys.iter().map(|(t, _)| t.as_str()).collect();
                let ids: Vec<&str> = keys.iter().map(|(_, i)| i.as_str()).collect();
                self.rows(
                    &format!(
                        "{latest} AND (resource_type, resource_id) IN (SELECT * FROM unnest($4::text[], $5::text[]))
                           AND (resource_type, resource_id) > ($6, $7)
                         ORDER BY resource_type, resource_id LIMIT $8"
                    ),
                    &[
                        &scope.account,
                        &scope.region,
                        &rule_name,
                        &types,
                        &ids,
                        &at,
                        &ai,
                        &(limit as i64),
                    ],
                )
                .await?
            }
            None => {
                self.rows(
                    &format!(
                        "{latest} AND (resource_type, resource_id) > ($4, $5)
                         ORDER BY resource_type, resource_id LIMIT $6"
                    ),
                    &[
                        &scope.account,
                        &scope.region,
                        &rule_name,
                        &at,
                        &ai,
                        &(limit as i64),
                    ],
                )
                .await?
            }
        };
        Ok(rows)
    }
}

#[async_trait]
impl ExecutionStore for PgStore {
    async fn insert_executions(
        &self,
        scope: &Scope,
        rule_name: &str,
        executions: &[NewExecution],
        now: f64,
    ) -> StoreResult<Vec<InsertOutcome>> {
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        // The configuration's row lock (not the scope's lock, which every write in the account
        // and region queues on) holds off its deletion until these executions are committed;
        // the deletion locks the row before it looks for active executions, so it sees them.
        let configured = t
            .q_opt(
                "SELECT 1 FROM remediation_configurations WHERE account=$1 AND region=$2 AND rule_name=$3
                 FOR SHARE",
                &[&scope.account, &scope.region, &rule_name],
            )
            .await
            .map_err(pg)?
            .is_some();
        if !configured {
            return Err(StoreError::NotFound);
        }
        // One statement for the whole batch (one round trip, not one per key); rows go in in the
        // caller's order. A key already in flight (or twice in the batch) is skipped by the
        // one-in-flight index; a finding an execution was invoked after (committed before this
        // statement began, or racing it in flight: then the index waits for it) is skipped too.
        let column = |f: fn(&NewExecution) -> String| executions.iter().map(f).collect::<Vec<_>>();
        let ids = column(|e| e.id.clone());
        let resource_types = column(|e| e.resource_type.clone());
        let resource_ids = column(|e| e.resource_id.clone());
        let document_names = column(|e| e.document_name.clone());
        let parameters = column(|e| e.parameters.clone());
        let states = column(|e| e.execution_state.clone());
        let batch_ids = column(|e| e.batch_id.clone());
        let document_versions: Vec<Option<String>> = executions
            .iter()
            .map(|e| e.document_version.clone())
            .collect();
        let automatic: Vec<bool> = executions.iter().map(|e| e.automatic).collect();
        let concurrency: Vec<i64> = executions
            .iter()
            .map(|e| e.concurrency_percentage as i64)
            .collect();
        let errors: Vec<i64> = executions
            .iter()
            .map(|e| e.error_percentage as i64)
            .collect();
        let wake_at: Vec<f64> = executions.iter().map(|e| e.wake_at).collect();
        let findings: Vec<Option<f64>> = executions.iter().map(|e| e.finding_ordering).collect();
        let rows = t
            .q_all(
                "WITH n AS (
                    SELECT * FROM unnest($5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                                         $11::text[], $12::bool[], $13::int8[], $14::int8[], $15::text[],
                                         $16::float8[], $17::float8[])
                         WITH ORDINALITY AS n(id, resource_type, resource_id, document_name, document_version,
                                              parameters, execution_state, automatic, concurrency_pct, error_pct,
                                              batch_id, wake_at, finding, ord)),
                 handled AS (
                    SELECT n.id FROM n WHERE n.finding IS NOT NULL AND EXISTS (
                        SELECT 1 FROM remediation_executions x
                         WHERE x.account=$1 AND x.region=$2 AND x.rule_name=$3
                           AND x.resource_type=n.resource_type AND x.resource_id=n.resource_id
                           AND x.invocation_time >= n.finding)),
                 started AS (
                    INSERT INTO remediation_executions (id, account, region, rule_name, resource_type, resource_id,
                        state, document_name, document_version, parameters, execution_state, automatic,
                        concurrency_pct, error_pct, batch_id, invocation_time, last_updated, wake_at)
                    SELECT n.id, $1, $2, $3, n.resource_type, n.resource_id, 'QUEUED', n.document_name,
                           n.document_version, n.parameters, n.execution_state, n.automatic,
                           n.concurrency_pct, n.error_pct, n.batch_id, $4, $4, n.wake_at
                    FROM n WHERE n.id NOT IN (SELECT id FROM handled)
                    ORDER BY n.ord
                    ON CONFLICT DO NOTHING
                    RETURNING id)
                 SELECT id, TRUE FROM started UNION ALL SELECT id, FALSE FROM handled",
                &[
                    &scope.account,
                    &scope.region,
                    &rule_name,
                    &now,
                    &ids,
                    &resource_types,
                    &resource_ids,
                    &document_names,
                    &document_versions,
                    &parameters,
                    &states,
                    &automatic,
                    &concurrency,
                    &errors,
                    &batch_ids,
                    &wake_at,
                    &findings,
                ],
            )
            .await
            .map_err(pg)?;
        let mut decided = std::collections::HashMap::with_capacity(rows.len());
        for r in &rows {
            let outcome = if col::<bool>(r, 1)? {
                InsertOutcome::Started
            } else {
                InsertOutcome::FindingHandled
            };
            decided.insert(col::<String>(r, 0)?, outcome);
        }
        let out = executions
            .iter()
            .map(|e| {
                decided
                    .get(&e.id)
                    .copied()
                    .unwrap_or(InsertOutcome::InFlight)
            })
            .collect();
        t.commit().await.map_err(pg)?;
        Ok(out)
    }

    async fn latest_executions(
        &self,
        scope: &Scope,
        rule_name: &str,
        keys: Option<&[(String, String)]>,
        after: Option<&(String, String)>,
        limit: usize,
    ) -> StoreResult<Vec<ExecutionRecord>> {
        let rows = self
            .latest_rows(COLS, scope, rule_name, keys, after, limit)
            .await?;
        map_rows(&rows, record)
    }

    async fn latest_execution_statuses(
        &self,
        scope: &Scope,
        rule_name: &str,
        keys: Option<&[(String, String)]>,
        after: Option<&(String, String)>,
        limit: usize,
    ) -> StoreResult<Vec<ExecutionStatusRecord>> {
        let rows = self
            .latest_rows(STATUS_COLS, scope, rule_name, keys, after, limit)
            .await?;
        map_rows(&rows, status_record)
    }

    async fn get_execution(&self, id: &str) -> StoreResult<Option<ExecutionRecord>> {
        self.row(
            &format!("SELECT {COLS} FROM remediation_executions WHERE id=$1"),
            &[&id],
        )
        .await?
        .map(|r| record(&r))
        .transpose()
    }

    async fn claim_executions(
        &self,
        owner: &str,
        now: f64,
        lease_seconds: f64,
        limit: usize,
    ) -> StoreResult<Vec<ExecutionRecord>> {
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        // Stops asked while a worker held the execution, whose worker is gone (lease released or
        // expired) before its next commit: they end Cancelled instead of being claimed.
        let stopped = t
            .q_all(
                "SELECT seq, execution_state FROM remediation_executions
                 WHERE cancel_requested AND state IN ('QUEUED','IN_PROGRESS')
                   AND (lease_expires IS NULL OR lease_expires < $1)
                 FOR UPDATE SKIP LOCKED",
                &[&now],
            )
            .await
            .map_err(pg)?;
        for r in &stopped {
            finish_cancelled(&t, col(r, 0)?, col::<&str>(r, 1)?, now).await?;
        }
        // Candidates: due, lease free or expired, not being claimed by another node right now.
        // IN_PROGRESS first (resuming never waits for the concurrency bound), then QUEUED; oldest
        // first within each. One index-ordered range per state (remediation_executions_due_state),
        // so nothing is sorted.
        let wanted = (limit * 4 + 16) as i64;
        let mut candidates = Vec::new();
        for st in [STATE_IN_PROGRESS, STATE_QUEUED] {
            let left = wanted - candidates.len() as i64;
            if left <= 0 {
                break;
            }
            candidates.extend(
                t.q_all(
                    "SELECT seq, account, region, rule_name, state, concurrency_pct, error_pct, batch_id
                     FROM remediation_executions
                     WHERE state IN ('QUEUED','IN_PROGRESS') AND state = $3 AND wake_at <= $1
                       AND (lease_expires IS NULL OR lease_expires < $1)
                     ORDER BY wake_at, seq LIMIT $2
                     FOR UPDATE SKIP LOCKED",
                    &[&now, &left, &st],
                )
                .await
                .map_err(pg)?,
            );
        }
        let take = t
            .prepare_cached(&format!(
                "UPDATE remediation_executions
                 SET lease_owner=$2, lease_expires=$3, lease_node=$5, fence=fence+1, state='IN_PROGRESS',
                     last_updated = CASE WHEN state='QUEUED' THEN $4 ELSE last_updated END
                 WHERE seq=$1
                 RETURNING {COLS}"
            ))
            .await
            .map_err(pg)?;
        // Per rule: whether this claimer holds the rule's counting lock (None: another does).
        let mut rule_locked: HashMap<(String, String, String), bool> = HashMap::new();
        let mut rooms = RuleRooms::default();
        // Per batch: (size, failed), counted once per claim (a claim's candidates mostly come from
        // a few batches; failures only grow, so a count read earlier in the claim decides alike).
        let mut batches: HashMap<String, (i64, i64)> = HashMap::new();
        let mut to_take: Vec<i64> = Vec::new();
        for cand in &candidates {
            if to_take.len() >= limit {
                break;
            }
            let seq: i64 = col(cand, 0)?;
            let (account, region, rule): (String, String, String) =
                (col(cand, 1)?, col(cand, 2)?, col(cand, 3)?);
            let state: &str = col(cand, 4)?;
            let (conc, err): (i64, i64) = (col(cand, 5)?, col(cand, 6)?);
            let batch: &str = col(cand, 7)?;
            let key = (account.clone(), region.clone(), rule.clone());
            if state == STATE_QUEUED {
                if !rule_locked.contains_key(&key) {
                    let lock_key = format!("rule/{account}/{region}/{rule}");
                    let locked: bool = col(
                        &t.q_one(
                            "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))",
                            &[&lock_key],
                        )
                        .await
                        .map_err(pg)?,
                        0,
                    )?;
                    rule_locked.insert(key.clone(), locked);
                }
                if !rule_locked[&key] {
                    continue;
                }
                // ErrorPercentage: the batch stops starting executions once exceeded.
                let (size, errors) = match batches.get(batch) {
                    Some(counted) => *counted,
                    None => {
                        let counted = batch_failures(&t, batch).await?;
                        batches.insert(batch.to_string(), counted);
                        counted
                    }
                };
                if errors > 0 && errors > size * err / 100 {
                    let message = format!(
                        "The remediation was not started: {errors} of the {size} executions started together failed, more than the configuration's ErrorPercentage ({err}%) allows."
                    );
                    let queued: String = col(
                        &t.q_one(
                            "SELECT execution_state FROM remediation_executions WHERE seq=$1",
                            &[&seq],
                        )
                        .await
                        .map_err(pg)?,
                        0,
                    )?;
                    let failed = not_started_state(&queued, &message, now);
                    t.exec(
                        "UPDATE remediation_executions SET state='FAILED', execution_state=$2, last_updated=$3,
                           lease_owner=NULL, lease_expires=NULL, status_summary=$4 WHERE seq=$1",
                        &[&seq, &failed, &now, &summary_column(&failed)],
                    )
                    .await
                    .map_err(pg)?;
                    rooms.ended(&key);
                    continue;
                }
                let room = match rooms.get(&key, conc) {
                    Some(room) => room,
                    None => {
                        let room =
                            rule_room(&t, &account, &region, &rule, conc, limit - to_take.len())
                                .await?;
                        rooms.insert(&key, conc, room);
                        room
                    }
                };
                if !room.has_room() {
                    continue;
                }
                rooms.took(&key);
            }
            to_take.push(seq);
        }
        // The takes pipelined (rows this claim holds, so none waits): one round trip, not one
        // per execution — the claim's row locks, which may include rows other nodes have just
        // claimed and are committing steps of, are held for as short a time as can be.
        let lease_expires = now + lease_seconds;
        let params: Vec<[&(dyn ToSql + Sync); 5]> = to_take
            .iter()
            .map(|seq| {
                [
                    seq as &(dyn ToSql + Sync),
                    &owner,
                    &lease_expires,
                    &now,
                    &self.node,
                ]
            })
            .collect();
        let taken =
            futures_util::future::try_join_all(params.iter().map(|p| t.query_one(&take, p)))
                .await
                .map_err(pg)?;
        let out = taken.iter().map(record).collect::<StoreResult<Vec<_>>>()?;
        t.commit().await.map_err(pg)?;
        Ok(out)
    }

    async fn renew_execution_lease(&self, id: &str, fence: i64, until: f64) -> StoreResult<bool> {
        let c = self.client().await?;
        let n = c
            .exec(
                "UPDATE remediation_executions SET lease_expires=$3
                 WHERE id=$1 AND fence=$2 AND state IN ('QUEUED','IN_PROGRESS')",
                &[&id, &fence, &until],
            )
            .await
            .map_err(pg)?;
        Ok(n == 1)
    }

    async fn commit_step(&self, commit: &StepCommit) -> StoreResult<CommitOutcome> {
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        let terminal = commit.state == STATE_SUCCEEDED || commit.state == STATE_FAILED;
        // The row lock orders this commit against a concurrent stop or claim.
        let held = t
            .q_opt(
                "SELECT seq, cancel_requested FROM remediation_executions
                 WHERE id=$1 AND fence=$2 AND state IN ('QUEUED','IN_PROGRESS') FOR UPDATE",
                &[&commit.id, &commit.fence],
            )
            .await
            .map_err(pg)?;
        let Some(held) = held else {
            return Ok(CommitOutcome::Stale);
        };
        let (seq, cancel_requested): (i64, bool) = (col(&held, 0)?, col(&held, 1)?);
        if cancel_requested && !terminal {
            finish_cancelled(&t, seq, &commit.execution_state, commit.now).await?;
            t.commit().await.map_err(pg)?;
            return Ok(CommitOutcome::Cancelled);
        }
        let release = terminal || commit.wake_at.is_some();
        let n = t
            .exec(
                "UPDATE remediation_executions SET state=$3, execution_state=$4, last_updated=$5,
                    wake_at = coalesce($6, wake_at),
                    lease_owner = CASE WHEN $7 THEN NULL ELSE lease_owner END,
                    lease_expires = CASE WHEN $7 THEN NULL ELSE lease_expires END,
                    status_summary = $8
                 WHERE id=$1 AND fence=$2 AND state IN ('QUEUED','IN_PROGRESS')",
                &[
                    &commit.id,
                    &commit.fence,
                    &commit.state,
                    &commit.execution_state,
                    &commit.now,
                    &commit.wake_at,
                    &release,
                    &summary_column(&commit.execution_state),
                ],
            )
            .await
            .map_err(pg)?;
        t.commit().await.map_err(pg)?;
        Ok(if n == 1 {
            CommitOutcome::Committed
        } else {
            CommitOutcome::Stale
        })
    }

    async fn release_execution(&self, id: &str, fence: i64) -> StoreResult<bool> {
        let c = self.client().await?;
        let n = c
            .exec(
                "UPDATE remediation_executions SET lease_owner=NULL, lease_expires=NULL
                 WHERE id=$1 AND fence=$2",
                &[&id, &fence],
            )
            .await
            .map_err(pg)?;
        Ok(n == 1)
    }

    /// On a shared database a lease may belong to a live node, and is never taken from it: only
    /// the leases of nodes that are gone (their liveness lock is free, see the module docs of
    /// `postgres`) and leases already expired are released.
    async fn release_all_execution_leases(&self) -> StoreResult<usize> {
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        // Every node runs this every few seconds: only unfinished executions hold leases, so
        // both statements stay within the partial indexes over them (migration 0007) instead of
        // reading every execution ever stored.
        let nodes = t
            .q_all(
                "SELECT DISTINCT lease_node FROM remediation_executions
                 WHERE state IN ('QUEUED','IN_PROGRESS')
                   AND lease_owner IS NOT NULL AND lease_node IS NOT NULL AND lease_node <> $1",
                &[&self.node],
            )
            .await
            .map_err(pg)?;
        let nodes = map_rows(&nodes, |r| col::<String>(r, 0))?;
        let gone = gone_nodes(&t, nodes).await?;
        let n = t
            .exec(
                "UPDATE remediation_executions SET lease_owner=NULL, lease_expires=NULL, lease_node=NULL
                 WHERE state IN ('QUEUED','IN_PROGRESS') AND lease_owner IS NOT NULL
                   AND (lease_node = ANY($1) OR lease_expires < $2)",
                &[&gone, &crate::time::now()],
            )
            .await
            .map_err(pg)?;
        t.commit().await.map_err(pg)?;
        Ok(n as usize)
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
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        lock_scopes(&t, [scope]).await?;
        let key: &Params = &[
            &scope.account,
            &scope.region,
            &rule_name,
            &resource_type,
            &resource_id,
        ];
        t.exec(
            "INSERT INTO remediation_failures (account, region, rule_name, resource_type, resource_id, failed_at)
             VALUES ($1,$2,$3,$4,$5,$6)",
            &[&scope.account, &scope.region, &rule_name, &resource_type, &resource_id, &now],
        )
        .await
        .map_err(pg)?;
        t.exec(
            "DELETE FROM remediation_failures WHERE account=$1 AND region=$2 AND rule_name=$3
               AND resource_type=$4 AND resource_id=$5 AND failed_at < $6",
            &[
                &scope.account,
                &scope.region,
                &rule_name,
                &resource_type,
                &resource_id,
                &(now - window_seconds),
            ],
        )
        .await
        .map_err(pg)?;
        let failures: i64 = col(
            &t.q_one(
                "SELECT count(*) FROM remediation_failures WHERE account=$1 AND region=$2 AND rule_name=$3
                   AND resource_type=$4 AND resource_id=$5",
                key,
            )
            .await
            .map_err(pg)?,
            0,
        )?;
        if (failures as usize) < max_attempts {
            t.commit().await.map_err(pg)?;
            return Ok(AutomaticFailureOutcome::Retry {
                failures: failures as usize,
            });
        }
        let message = format!(
            "Auto-remediation failed {failures} times within {} seconds.",
            window_seconds as i64
        );
        t.exec(
            "INSERT INTO remediation_exceptions (account, region, rule_name, resource_type, resource_id, message, expiration_time)
             VALUES ($1,$2,$3,$4,$5,$6,NULL)
             ON CONFLICT (account, region, rule_name, resource_type, resource_id)
             DO UPDATE SET message=excluded.message, expiration_time=NULL",
            &[&scope.account, &scope.region, &rule_name, &resource_type, &resource_id, &message],
        )
        .await
        .map_err(pg)?;
        t.exec(
            "DELETE FROM remediation_failures WHERE account=$1 AND region=$2 AND rule_name=$3
               AND resource_type=$4 AND resource_id=$5",
            key,
        )
        .await
        .map_err(pg)?;
        t.commit().await.map_err(pg)?;
        Ok(AutomaticFailureOutcome::ExceptionCreated(
            RemediationExceptionRecord {
                rule_name: rule_name.to_string(),
                resource_type: resource_type.to_string(),
                resource_id: resource_id.to_string(),
                message: Some(message),
                expiration_time: None,
            },
        ))
    }

    async fn active_executions(&self) -> StoreResult<usize> {
        let row = self
            .row(
                "SELECT count(*) FROM remediation_executions WHERE state IN ('QUEUED','IN_PROGRESS')",
                &[],
            )
            .await?
            .ok_or_else(|| backend("COUNT returned no row"))?;
        Ok(col::<i64>(&row, 0)? as usize)
    }

    async fn insert_automation_execution(
        &self,
        scope: &Scope,
        e: &NewAutomationExecution,
        now: f64,
        max_active: usize,
    ) -> StoreResult<AutomationInsert> {
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        lock_scopes(&t, [scope]).await?;
        if let Some(token) = &e.client_token {
            if let Some(used) = t
                .q_opt(
                    "SELECT id, request_hash FROM remediation_executions
                     WHERE account=$1 AND region=$2 AND client_token=$3",
                    &[&scope.account, &scope.region, token],
                )
                .await
                .map_err(pg)?
            {
                let id: String = col(&used, 0)?;
                let hash: Option<&str> = col(&used, 1)?;
                return Ok(if hash == Some(e.request_hash.as_str()) {
                    AutomationInsert::Existing(id)
                } else {
                    AutomationInsert::TokenMismatch
                });
            }
        }
        let active: i64 = col(
            &t.q_one(
                "SELECT count(*) FROM remediation_executions
                 WHERE account=$1 AND region=$2 AND state IN ('QUEUED','IN_PROGRESS')",
                &[&scope.account, &scope.region],
            )
            .await
            .map_err(pg)?,
            0,
        )?;
        if active as usize >= max_active {
            return Ok(AutomationInsert::LimitExceeded);
        }
        let tags = (!e.tags.is_empty())
            .then(|| serde_json::to_string(&e.tags).unwrap_or_else(|_| "[]".into()));
        t.exec(
            "INSERT INTO remediation_executions (id, account, region, rule_name, resource_type, resource_id,
                state, document_name, document_version, parameters, execution_state, automatic,
                concurrency_pct, error_pct, batch_id, invocation_time, last_updated, wake_at,
                kind, mode, executed_by, client_token, request_hash, tags, parent_id)
             VALUES ($1,$2,$3,'','','','QUEUED',$4,$5,$6,$7,FALSE,100,100,$1,$8,$8,$8,$9,$10,$11,$12,$13,$14,$15)",
            &[
                &e.id,
                &scope.account,
                &scope.region,
                &e.document_name,
                &e.document_version,
                &e.parameters,
                &e.execution_state,
                &now,
                &KIND_AUTOMATION,
                &e.mode,
                &e.executed_by,
                &e.client_token,
                &e.request_hash,
                &tags,
                &e.parent_id,
            ],
        )
        .await
        .map_err(pg)?;
        t.commit().await.map_err(pg)?;
        Ok(AutomationInsert::Started)
    }

    async fn list_executions(
        &self,
        scope: &Scope,
        before: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<ExecutionRecord>> {
        let rows = self
            .rows(
                &format!(
                    "SELECT {COLS} FROM remediation_executions WHERE account=$1 AND region=$2 AND seq < $3
                     ORDER BY seq DESC LIMIT $4"
                ),
                &[
                    &scope.account,
                    &scope.region,
                    &before.unwrap_or(i64::MAX),
                    &(limit as i64),
                ],
            )
            .await?;
        map_rows(&rows, record)
    }

    async fn stop_execution(&self, scope: &Scope, id: &str, now: f64) -> StoreResult<StopOutcome> {
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        let row = t
            .q_opt(
                "SELECT seq, state, lease_expires, execution_state FROM remediation_executions
                 WHERE id=$1 AND account=$2 AND region=$3 FOR UPDATE",
                &[&id, &scope.account, &scope.region],
            )
            .await
            .map_err(pg)?;
        let Some(row) = row else {
            return Ok(StopOutcome::NotFound);
        };
        let seq: i64 = col(&row, 0)?;
        let state: &str = col(&row, 1)?;
        let lease_expires: Option<f64> = col(&row, 2)?;
        if state != STATE_QUEUED && state != STATE_IN_PROGRESS {
            return Ok(StopOutcome::Terminal);
        }
        let outcome = if lease_expires.is_some_and(|t| t >= now) {
            t.exec(
                "UPDATE remediation_executions SET cancel_requested=TRUE, last_updated=$2 WHERE seq=$1",
                &[&seq, &now],
            )
            .await
            .map_err(pg)?;
            StopOutcome::CancelRequested
        } else {
            finish_cancelled(&t, seq, col::<&str>(&row, 3)?, now).await?;
            StopOutcome::Cancelled
        };
        t.commit().await.map_err(pg)?;
        Ok(outcome)
    }
}
