//! [`EvaluationStore`] on PostgreSQL: tables `evaluation_results`, `rule_evaluation_status` and
//! `server_secrets` (migration 0002).

use remedy_wire::config::ComplianceType;

use super::*;
use crate::evaluation::{ComplianceCounts, EvaluationRecord, COUNT_CEILING};
use crate::store::evaluations::*;

const RESULT_COLS: &str = "rule_name, resource_type, resource_id, compliance_type, annotation, \
    ordering_timestamp, result_recorded_time, config_rule_invoked_time";
const TOKEN_SECRET: &str = "result_token";

/// Counts per compliance type, as three columns (NON_COMPLIANT, COMPLIANT, NOT_APPLICABLE).
const COUNTS: &str = "COUNT(*) FILTER (WHERE compliance_type='NON_COMPLIANT'),
    COUNT(*) FILTER (WHERE compliance_type='COMPLIANT'),
    COUNT(*) FILTER (WHERE compliance_type='NOT_APPLICABLE')";

fn result_from_row(row: &Row) -> StoreResult<EvaluationRecord> {
    Ok(EvaluationRecord {
        rule_name: col(row, 0)?,
        resource_type: col(row, 1)?,
        resource_id: col(row, 2)?,
        compliance_type: ComplianceType::from_wire(col::<&str>(row, 3)?),
        annotation: col(row, 4)?,
        ordering_timestamp: col(row, 5)?,
        result_recorded_time: col(row, 6)?,
        config_rule_invoked_time: col(row, 7)?,
    })
}

fn counts(row: &Row, at: usize) -> StoreResult<ComplianceCounts> {
    let clamp = |v: i64| v.clamp(0, u32::MAX as i64) as u32;
    Ok(ComplianceCounts {
        non_compliant: clamp(col(row, at)?),
        compliant: clamp(col(row, at + 1)?),
        not_applicable: clamp(col(row, at + 2)?),
    })
}

/// The compliance types a filter lets through (empty: all), as wire strings.
fn type_filter(types: &[ComplianceType]) -> Vec<String> {
    if types.is_empty() {
        return vec![
            "COMPLIANT".into(),
            "NON_COMPLIANT".into(),
            "NOT_APPLICABLE".into(),
        ];
    }
    types.iter().map(|t| t.as_str().to_string()).collect()
}

fn status_from_row(row: &Row) -> StoreResult<RuleEvaluationStatus> {
    Ok(RuleEvaluationStatus {
        rule_name: col(row, 0)?,
        rule_id: col(row, 1)?,
        rule_arn: col(row, 2)?,
        first_activated_time: col(row, 3)?,
        last_successful_invocation_time: col(row, 4)?,
        last_failed_invocation_time: col(row, 5)?,
        last_successful_evaluation_time: col(row, 6)?,
        last_failed_evaluation_time: col(row, 7)?,
        last_error_code: col(row, 8)?,
        last_error_message: col(row, 9)?,
        first_evaluation_started: col::<Option<bool>>(row, 10)?.unwrap_or(false),
    })
}

const STATUS_SELECT: &str = "SELECT r.name, r.rule_id, r.arn, r.created_at,
        s.last_successful_invocation_time, s.last_failed_invocation_time,
        s.last_successful_evaluation_time, s.last_failed_evaluation_time,
        s.last_error_code, s.last_error_message, s.first_evaluation_started
    FROM config_rules r LEFT JOIN rule_evaluation_status s
      ON s.account=r.account AND s.region=r.region AND s.rule_name=r.name";

/// The named rules that exist, sorted and deduplicated, after `after`, at most `limit` — or every
/// rule's name after `after` in order.
async fn rule_names(
    store: &PgStore,
    scope: &Scope,
    names: Option<&[String]>,
    after: &str,
    limit: usize,
) -> StoreResult<Vec<String>> {
    let rows = match names {
        Some(names) => store
            .rows(
                "SELECT name FROM config_rules WHERE account=$1 AND region=$2 AND name = ANY($3)
                       AND name > $4 ORDER BY name LIMIT $5",
                &[
                    &scope.account,
                    &scope.region,
                    &names,
                    &after,
                    &(limit as i64),
                ],
            )
            .await?,
        None => {
            store
                .rows(
                    "SELECT name FROM config_rules WHERE account=$1 AND region=$2 AND name > $3
                     ORDER BY name LIMIT $4",
                    &[&scope.account, &scope.region, &after, &(limit as i64)],
                )
                .await?
        }
    };
    map_rows(&rows, |r| col(r, 0))
}

#[async_trait]
impl EvaluationStore for PgStore {
    async fn result_token_secret(&self) -> StoreResult<Vec<u8>> {
        if let Some(row) = self
            .row(
                "SELECT value FROM server_secrets WHERE name=$1",
                &[&TOKEN_SECRET],
            )
            .await?
        {
            return col(&row, 0);
        }
        // First use: the first writer's secret wins, on every node sharing the database.
        let fresh = crate::result_token::new_secret();
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        t.exec(
            "INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            &[&TOKEN_SECRET, &fresh],
        )
        .await
        .map_err(pg)?;
        let row = t
            .q_one(
                "SELECT value FROM server_secrets WHERE name=$1",
                &[&TOKEN_SECRET],
            )
            .await
            .map_err(pg)?;
        t.commit().await.map_err(pg)?;
        col(&row, 0)
    }

    async fn put_evaluation_results(
        &self,
        scope: &Scope,
        rule_name: &str,
        results: &[EvaluationRecord],
        now: f64,
    ) -> StoreResult<Vec<StoredChange>> {
        let mut c = self.client().await?;
        let changes =
            match write_results(&mut c, scope, rule_name, results, Pace::Pipelined).await? {
                Some(changes) => changes,
                // Another writer inserted one of these keys meanwhile: again, a key at a time.
                None => write_results(&mut c, scope, rule_name, results, Pace::OneAtATime)
                    .await?
                    .ok_or_else(|| {
                        StoreError::Backend("results written one at a time gave up".into())
                    })?,
            };
        if let Err(error) = record_successful_evaluation(&mut c, scope, rule_name, now).await {
            // The results are stored; only the time DescribeConfigRuleEvaluationStatus shows lags.
            tracing::warn!(%error, rule = rule_name, "postgres: cannot record the rule's evaluation time");
        }
        Ok(changes)
    }

    async fn list_rule_results(
        &self,
        scope: &Scope,
        rule_name: &str,
        query: &ResultQuery,
        after: Option<&(String, String)>,
    ) -> StoreResult<Vec<EvaluationRecord>> {
        let (after_type, after_id) = after.cloned().unwrap_or_default();
        let rows = self
            .rows(
                &format!(
                    "SELECT {RESULT_COLS} FROM evaluation_results WHERE account=$1 AND region=$2 AND rule_name=$3
                     AND (resource_type, resource_id) > ($4, $5) AND compliance_type = ANY($6)
                     ORDER BY resource_type, resource_id LIMIT $7"
                ),
                &[
                    &scope.account,
                    &scope.region,
                    &rule_name,
                    &after_type,
                    &after_id,
                    &type_filter(&query.compliance_types),
                    &(query.limit as i64),
                ],
            )
            .await?;
        map_rows(&rows, result_from_row)
    }

    async fn list_resource_results(
        &self,
        scope: &Scope,
        resource_type: &str,
        resource_id: &str,
        query: &ResultQuery,
        after: Option<&str>,
    ) -> StoreResult<Vec<EvaluationRecord>> {
        let rows = self
            .rows(
                &format!(
                    "SELECT {RESULT_COLS} FROM evaluation_results WHERE account=$1 AND region=$2 AND resource_type=$3
                     AND resource_id=$4 AND rule_name > $5 AND compliance_type = ANY($6)
                     ORDER BY rule_name LIMIT $7"
                ),
                &[
                    &scope.account,
                    &scope.region,
                    &resource_type,
                    &resource_id,
                    &after.unwrap_or(""),
                    &type_filter(&query.compliance_types),
                    &(query.limit as i64),
                ],
            )
            .await?;
        map_rows(&rows, result_from_row)
    }

    async fn result_states(
        &self,
        scope: &Scope,
        rule_name: &str,
        keys: &[(String, String)],
    ) -> StoreResult<Vec<Option<ResultState>>> {
        let types: Vec<&str> = keys.iter().map(|(t, _)| t.as_str()).collect();
        let ids: Vec<&str> = keys.iter().map(|(_, i)| i.as_str()).collect();
        let rows = self
            .rows(
                "SELECT k.ord, e.compliance_type, e.ordering_timestamp
                   FROM unnest($4::text[], $5::text[]) WITH ORDINALITY AS k(t, i, ord)
                   JOIN evaluation_results e ON e.account=$1 AND e.region=$2 AND e.rule_name=$3
                                            AND e.resource_type = k.t AND e.resource_id = k.i",
                &[&scope.account, &scope.region, &rule_name, &types, &ids],
            )
            .await?;
        let mut out = vec![None; keys.len()];
        for r in &rows {
            let ord: i64 = col(r, 0)?;
            out[(ord - 1) as usize] = Some(ResultState {
                compliance: ComplianceType::from_wire(col::<&str>(r, 1)?),
                ordering_timestamp: col(r, 2)?,
            });
        }
        Ok(out)
    }

    async fn list_rule_compliance(
        &self,
        scope: &Scope,
        names: Option<&[String]>,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<RuleCompliance>> {
        let names = rule_names(self, scope, names, after.unwrap_or(""), limit).await?;
        // Each kind counted up to COUNT_CEILING per rule: at most that many entries of the
        // (account, region, rule_name, compliance_type) index, however many resources it judged.
        let rows = self
            .rows(
                "SELECT n.name,
                   (SELECT count(*) FROM (SELECT 1 FROM evaluation_results e WHERE e.account=$1
                      AND e.region=$2 AND e.rule_name=n.name AND e.compliance_type='NON_COMPLIANT'
                      LIMIT $4) x),
                   (SELECT count(*) FROM (SELECT 1 FROM evaluation_results e WHERE e.account=$1
                      AND e.region=$2 AND e.rule_name=n.name AND e.compliance_type='COMPLIANT'
                      LIMIT $4) x),
                   (SELECT count(*) FROM (SELECT 1 FROM evaluation_results e WHERE e.account=$1
                      AND e.region=$2 AND e.rule_name=n.name AND e.compliance_type='NOT_APPLICABLE'
                      LIMIT $4) x)
                 FROM unnest($3::text[]) AS n(name)",
                &[
                    &scope.account,
                    &scope.region,
                    &names,
                    &i64::from(COUNT_CEILING),
                ],
            )
            .await?;
        let found: Vec<(String, ComplianceCounts)> =
            map_rows(&rows, |r| Ok((col(r, 0)?, counts(r, 1)?)))?;
        Ok(names
            .into_iter()
            .map(|name| {
                let counts = found
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, c)| *c)
                    .unwrap_or_default();
                RuleCompliance {
                    rule_name: name,
                    counts,
                }
            })
            .collect())
    }

    async fn list_resource_compliance(
        &self,
        scope: &Scope,
        resource_type: Option<&str>,
        resource_id: Option<&str>,
        after: Option<&(String, String)>,
        limit: usize,
    ) -> StoreResult<Vec<ResourceCompliance>> {
        let (after_type, after_id) = after.cloned().unwrap_or_default();
        let rows = self
            .rows(
                &format!(
                    "SELECT resource_type, resource_id, {COUNTS} FROM evaluation_results
                     WHERE account=$1 AND region=$2 AND ($3::text IS NULL OR resource_type=$3)
                       AND ($4::text IS NULL OR resource_id=$4) AND (resource_type, resource_id) > ($5, $6)
                     GROUP BY resource_type, resource_id ORDER BY resource_type, resource_id LIMIT $7"
                ),
                &[
                    &scope.account,
                    &scope.region,
                    &resource_type,
                    &resource_id,
                    &after_type,
                    &after_id,
                    &(limit as i64),
                ],
            )
            .await?;
        map_rows(&rows, |r| {
            Ok(ResourceCompliance {
                resource_type: col(r, 0)?,
                resource_id: col(r, 1)?,
                counts: counts(r, 2)?,
            })
        })
    }

    async fn rule_compliance_summary(&self, scope: &Scope) -> StoreResult<TypeSummary> {
        let row = self
            .row(
                "SELECT COUNT(*) FILTER (WHERE nc = 0 AND cc > 0), COUNT(*) FILTER (WHERE nc > 0) FROM (
                    SELECT COUNT(*) FILTER (WHERE compliance_type='NON_COMPLIANT') AS nc,
                           COUNT(*) FILTER (WHERE compliance_type='COMPLIANT') AS cc
                    FROM evaluation_results WHERE account=$1 AND region=$2 GROUP BY rule_name) s",
                &[&scope.account, &scope.region],
            )
            .await?
            .ok_or_else(|| backend("an aggregate returned no row"))?;
        summary(&row)
    }

    async fn resource_compliance_summary(
        &self,
        scope: &Scope,
        resource_types: Option<&[String]>,
    ) -> StoreResult<Vec<(String, TypeSummary)>> {
        let keys: Vec<Option<&str>> = match resource_types {
            Some(types) => types.iter().map(|t| Some(t.as_str())).collect(),
            None => vec![None],
        };
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "SELECT COUNT(*) FILTER (WHERE nc = 0 AND cc > 0), COUNT(*) FILTER (WHERE nc > 0) FROM (
                    SELECT COUNT(*) FILTER (WHERE compliance_type='NON_COMPLIANT') AS nc,
                           COUNT(*) FILTER (WHERE compliance_type='COMPLIANT') AS cc
                    FROM evaluation_results WHERE account=$1 AND region=$2 AND ($3::text IS NULL OR resource_type=$3)
                    GROUP BY resource_type, resource_id) s",
            )
            .await
            .map_err(pg)?;
        let mut out = Vec::with_capacity(keys.len());
        for t in keys {
            let row = c
                .query_one(&stmt, &[&scope.account, &scope.region, &t])
                .await
                .map_err(pg)?;
            out.push((t.unwrap_or_default().to_string(), summary(&row)?));
        }
        Ok(out)
    }

    async fn list_rule_evaluation_status(
        &self,
        scope: &Scope,
        names: Option<&[String]>,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<RuleEvaluationStatus>> {
        let after = after.unwrap_or("");
        let rows = match names {
            Some(names) => {
                self.rows(
                    &format!(
                        "{STATUS_SELECT} WHERE r.account=$1 AND r.region=$2 AND r.name = ANY($3) AND r.name > $4
                         ORDER BY r.name LIMIT $5"
                    ),
                    &[&scope.account, &scope.region, &names, &after, &(limit as i64)],
                )
                .await?
            }
            None => {
                self.rows(
                    &format!(
                        "{STATUS_SELECT} WHERE r.account=$1 AND r.region=$2 AND r.name > $3 ORDER BY r.name LIMIT $4"
                    ),
                    &[&scope.account, &scope.region, &after, &(limit as i64)],
                )
                .await?
            }
        };
        map_rows(&rows, status_from_row)
    }

    async fn delete_evaluation_results(
        &self,
        scope: &Scope,
        rule_name: &str,
    ) -> StoreResult<usize> {
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        lock_scopes(&t, [scope]).await?;
        // The rule's row, locked against result writers' key-share lock: they finish first (or
        // start after), so this delete and their row locks never wait on each other in a cycle.
        if !lock_rule(&t, scope, rule_name, RuleRowLock::Update).await? {
            return Err(StoreError::NotFound);
        }
        let n = t
            .exec(
                "DELETE FROM evaluation_results WHERE account=$1 AND region=$2 AND rule_name=$3",
                &[&scope.account, &scope.region, &rule_name],
            )
            .await
            .map_err(pg)?;
        t.commit().await.map_err(pg)?;
        Ok(n as usize)
    }
}

/// How [`write_results`] sends its statements.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pace {
    /// All keys' statements sent at once (one round trip per phase, not two per result); gives
    /// up (`None`, nothing written) if another writer inserts one of the keys meanwhile.
    Pipelined,
    /// A statement at a time, each waiting for the one before.
    OneAtATime,
}

/// Writes `results` of `rule_name` in one transaction and returns the compliance changes.
///
/// Not the scope's lock: results of one account's rules are written side by side on every node.
/// The rule's row, key-share locked, holds off its deletion (which deletes the row before its
/// results) until these results are committed, or shows it gone; rule puts and other writers of
/// results do not wait on it. Each result row is then locked in key order — as every writer of
/// several result rows does, so none waits on another in a cycle — and an older event never
/// replaces a newer result. Pipelined statements run in the order sent, so the order holds.
async fn write_results(
    c: &mut deadpool_postgres::Client,
    scope: &Scope,
    rule_name: &str,
    results: &[EvaluationRecord],
    pace: Pace,
) -> StoreResult<Option<Vec<StoredChange>>> {
    let t = c.transaction().await.map_err(pg)?;
    if !lock_rule(&t, scope, rule_name, RuleRowLock::KeyShare).await? {
        return Err(StoreError::NotFound);
    }
    let lock_row = t
        .prepare_cached(
            "SELECT compliance_type, ordering_timestamp FROM evaluation_results
             WHERE account=$1 AND region=$2 AND rule_name=$3 AND resource_type=$4 AND resource_id=$5
             FOR UPDATE",
        )
        .await
        .map_err(pg)?;
    let insert = t
        .prepare_cached(
            "INSERT INTO evaluation_results (account, region, rule_name, resource_type, resource_id, compliance_type,
                annotation, ordering_timestamp, result_recorded_time, config_rule_invoked_time)
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)
             ON CONFLICT DO NOTHING",
        )
        .await
        .map_err(pg)?;
    let update = t
        .prepare_cached(
            "UPDATE evaluation_results SET compliance_type=$6, annotation=$7, ordering_timestamp=$8,
                result_recorded_time=$9, config_rule_invoked_time=$10
             WHERE account=$1 AND region=$2 AND rule_name=$3 AND resource_type=$4 AND resource_id=$5",
        )
        .await
        .map_err(pg)?;
    let mut in_key_order: Vec<&EvaluationRecord> = results.iter().collect();
    in_key_order.sort_by(|a, b| {
        (&a.resource_type, &a.resource_id).cmp(&(&b.resource_type, &b.resource_id))
    });
    let compliance: Vec<&str> = in_key_order
        .iter()
        .map(|r| r.compliance_type.as_str())
        .collect();
    let params: Vec<[&(dyn ToSql + Sync); 10]> = in_key_order
        .iter()
        .zip(&compliance)
        .map(|(r, compliance)| {
            [
                &scope.account as &(dyn ToSql + Sync),
                &scope.region,
                &rule_name,
                &r.resource_type,
                &r.resource_id,
                compliance,
                &r.annotation,
                &r.ordering_timestamp,
                &r.result_recorded_time,
                &r.config_rule_invoked_time,
            ]
        })
        .collect();
    // The same key twice: each must see the one before, so one at a time.
    let distinct = in_key_order.windows(2).all(|w| {
        (&w[0].resource_type, &w[0].resource_id) != (&w[1].resource_type, &w[1].resource_id)
    });
    let pipelined = pace == Pace::Pipelined && distinct;

    // Per key in order: lock the stored row, and insert this result in case there is none (on a
    // row this transaction holds, the insert does nothing at once).
    let mut stored: Vec<Option<(String, f64)>> = Vec::with_capacity(params.len());
    if pipelined {
        let steps = params.iter().map(|values| {
            futures_util::future::try_join(
                t.query_opt(&lock_row, &values[..5]),
                t.execute(&insert, values),
            )
        });
        for (row, inserted) in futures_util::future::try_join_all(steps)
            .await
            .map_err(pg)?
        {
            match (row, inserted) {
                (Some(row), _) => stored.push(Some((col(&row, 0)?, col(&row, 1)?))),
                (None, 1) => stored.push(None),
                // Another writer inserted it between the two: locking theirs now could break
                // the key order. Give up; the transaction rolls back.
                (None, _) => return Ok(None),
            }
        }
    }
    let mut updates = Vec::new();
    let mut changes = Vec::new();
    for (i, (r, values)) in in_key_order.iter().zip(&params).enumerate() {
        let prev = if pipelined {
            stored[i].take()
        } else {
            loop {
                if let Some(row) = t.query_opt(&lock_row, &values[..5]).await.map_err(pg)? {
                    break Some((col::<String>(&row, 0)?, col::<f64>(&row, 1)?));
                }
                if t.execute(&insert, values).await.map_err(pg)? == 1 {
                    break None;
                }
            }
        };
        if let Some((_, ts)) = &prev {
            if r.ordering_timestamp < *ts {
                continue; // an older event never replaces a newer result
            }
            if pipelined {
                updates.push(values);
            } else {
                t.execute(&update, values).await.map_err(pg)?;
            }
        }
        let old = prev.map(|(t, _)| ComplianceType::from_wire(&t));
        if old.as_ref() != Some(&r.compliance_type) {
            changes.push(StoredChange {
                resource_type: r.resource_type.clone(),
                resource_id: r.resource_id.clone(),
                old,
                new: r.compliance_type.clone(),
            });
        }
    }
    // Rows this transaction holds: nothing waits.
    futures_util::future::try_join_all(
        updates.into_iter().map(|values| t.execute(&update, values)),
    )
    .await
    .map_err(pg)?;
    t.commit().await.map_err(pg)?;
    Ok(Some(changes))
}

/// Records that `rule_name` was evaluated successfully at `now` (the latest such time is kept),
/// once the results are committed, in a transaction of its own that does not wait for the WAL
/// flush. Every writer of the rule's results updates this one row: inside the results'
/// transaction its lock was held through their commit, so the writers of one rule committed one
/// at a time. The time is advisory (a crash can lose its last few milliseconds; the results
/// are durable). The rule's row, key-share locked, keeps a deleted rule from regaining a status.
async fn record_successful_evaluation(
    c: &mut deadpool_postgres::Client,
    scope: &Scope,
    rule_name: &str,
    now: f64,
) -> StoreResult<()> {
    let t = c.transaction().await.map_err(pg)?;
    // Sent together (pipelined): the setting is in force before the insert runs.
    let params: &Params = &[&scope.account, &scope.region, &rule_name, &now];
    let no_flush_wait = t.batch_execute("SET LOCAL synchronous_commit = off");
    let record = t.exec(
        "INSERT INTO rule_evaluation_status (account, region, rule_name, last_successful_evaluation_time, first_evaluation_started)
         SELECT $1, $2, $3, $4, TRUE FROM config_rules
          WHERE account=$1 AND region=$2 AND name=$3 FOR KEY SHARE
         ON CONFLICT (account, region, rule_name) DO UPDATE SET
            last_successful_evaluation_time = GREATEST(rule_evaluation_status.last_successful_evaluation_time,
                                                       excluded.last_successful_evaluation_time),
            first_evaluation_started = TRUE",
        params,
    );
    futures_util::future::try_join(no_flush_wait, record)
        .await
        .map_err(pg)?;
    t.commit().await.map_err(pg)
}

fn summary(row: &Row) -> StoreResult<TypeSummary> {
    let clamp = |v: i64| v.clamp(0, u32::MAX as i64) as u32;
    Ok(TypeSummary {
        compliant: clamp(col(row, 0)?),
        non_compliant: clamp(col(row, 1)?),
    })
}
