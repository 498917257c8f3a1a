//! [`EvaluationStore`] on SQLite: tables `evaluation_results`, `rule_evaluation_status` and
//! `server_secrets` (migration 0002).

use remedy_wire::config::ComplianceType;

use super::*;
use crate::evaluation::{ComplianceCounts, EvaluationRecord, COUNT_CEILING};
use crate::store::evaluations::*;

const RESULT_COLS: &str = "rule_name, resource_type, resource_id, compliance_type, annotation, ordering_timestamp, result_recorded_time, config_rule_invoked_time";
const TOKEN_SECRET: &str = "result_token";

fn result_from_row(row: &Row) -> rusqlite::Result<EvaluationRecord> {
    let t: String = row.get(3)?;
    Ok(EvaluationRecord {
        rule_name: row.get(0)?,
        resource_type: row.get(1)?,
        resource_id: row.get(2)?,
        compliance_type: ComplianceType::from_wire(&t),
        annotation: row.get(4)?,
        ordering_timestamp: row.get(5)?,
        result_recorded_time: row.get(6)?,
        config_rule_invoked_time: row.get(7)?,
    })
}

fn counts(nc: i64, c: i64, na: i64) -> ComplianceCounts {
    let clamp = |v: i64| v.clamp(0, u32::MAX as i64) as u32;
    ComplianceCounts {
        non_compliant: clamp(nc),
        compliant: clamp(c),
        not_applicable: clamp(na),
    }
}

/// Which compliance types a filter lets through, as three booleans for SQL
/// (`COMPLIANT`, `NON_COMPLIANT`, `NOT_APPLICABLE`). Empty lets everything through.
fn type_mask(types: &[ComplianceType]) -> (bool, bool, bool) {
    if types.is_empty() {
        return (true, true, true);
    }
    (
        types.contains(&ComplianceType::Compliant),
        types.contains(&ComplianceType::NonCompliant),
        types.contains(&ComplianceType::NotApplicable),
    )
}

const TYPE_FILTER: &str = "((?{c} AND compliance_type='COMPLIANT') OR (?{nc} AND compliance_type='NON_COMPLIANT') OR (?{na} AND compliance_type='NOT_APPLICABLE'))";

fn type_filter(first: usize) -> String {
    TYPE_FILTER
        .replace("{c}", &first.to_string())
        .replace("{nc}", &(first + 1).to_string())
        .replace("{na}", &(first + 2).to_string())
}

/// Removes everything evaluation-related of a rule; called inside `delete_rule`'s write.
pub(super) fn delete_rule_state(c: &Connection, scope: &Scope, name: &str) -> StoreResult<()> {
    let p = params![scope.account, scope.region, name];
    c.execute(
        "DELETE FROM evaluation_results WHERE account=?1 AND region=?2 AND rule_name=?3",
        p,
    )
    .map_err(backend)?;
    c.execute(
        "DELETE FROM rule_evaluation_status WHERE account=?1 AND region=?2 AND rule_name=?3",
        p,
    )
    .map_err(backend)?;
    Ok(())
}

/// A rule's results of each kind, each counted up to [`COUNT_CEILING`]: at most that many
/// entries of the `(account, region, rule_name, compliance_type)` index per kind, however many
/// resources the rule judged.
fn rule_counts(c: &Connection, scope: &Scope, name: &str) -> rusqlite::Result<ComplianceCounts> {
    let mut stmt = c.prepare_cached(
        "SELECT
           (SELECT count(*) FROM (SELECT 1 FROM evaluation_results WHERE account=?1 AND region=?2
              AND rule_name=?3 AND compliance_type='NON_COMPLIANT' LIMIT ?4)),
           (SELECT count(*) FROM (SELECT 1 FROM evaluation_results WHERE account=?1 AND region=?2
              AND rule_name=?3 AND compliance_type='COMPLIANT' LIMIT ?4)),
           (SELECT count(*) FROM (SELECT 1 FROM evaluation_results WHERE account=?1 AND region=?2
              AND rule_name=?3 AND compliance_type='NOT_APPLICABLE' LIMIT ?4))",
    )?;
    stmt.query_row(
        params![scope.account, scope.region, name, COUNT_CEILING],
        |r| Ok(counts(r.get(0)?, r.get(1)?, r.get(2)?)),
    )
}

fn status_from_row(row: &Row) -> rusqlite::Result<RuleEvaluationStatus> {
    let started: Option<i64> = row.get(10)?;
    Ok(RuleEvaluationStatus {
        rule_name: row.get(0)?,
        rule_id: row.get(1)?,
        rule_arn: row.get(2)?,
        first_activated_time: row.get(3)?,
        last_successful_invocation_time: row.get(4)?,
        last_failed_invocation_time: row.get(5)?,
        last_successful_evaluation_time: row.get(6)?,
        last_failed_evaluation_time: row.get(7)?,
        last_error_code: row.get(8)?,
        last_error_message: row.get(9)?,
        first_evaluation_started: started.unwrap_or(0) != 0,
    })
}

const STATUS_SELECT: &str = "SELECT r.name, r.rule_id, r.arn, r.created_at,
        s.last_successful_invocation_time, s.last_failed_invocation_time,
        s.last_successful_evaluation_time, s.last_failed_evaluation_time,
        s.last_error_code, s.last_error_message, s.first_evaluation_started
    FROM config_rules r LEFT JOIN rule_evaluation_status s
      ON s.account=r.account AND s.region=r.region AND s.rule_name=r.name";

#[async_trait]
impl EvaluationStore for SqliteStore {
    async fn result_token_secret(&self) -> StoreResult<Vec<u8>> {
        let existing = self
            .read(|c| {
                c.query_row(
                    "SELECT value FROM server_secrets WHERE name=?1",
                    [TOKEN_SECRET],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend)
            })
            .await?;
        if let Some(secret) = existing {
            return Ok(secret);
        }
        // First use: the first writer's secret wins, on every node sharing the database.
        let fresh = crate::result_token::new_secret();
        self.write(move |c| {
            c.execute(
                "INSERT OR IGNORE INTO server_secrets (name, value) VALUES (?1, ?2)",
                params![TOKEN_SECRET, fresh],
            )
            .map_err(backend)?;
            c.query_row(
                "SELECT value FROM server_secrets WHERE name=?1",
                [TOKEN_SECRET],
                |r| r.get(0),
            )
            .map_err(backend)
        })
        .await
    }

    async fn put_evaluation_results(
        &self,
        scope: &Scope,
        rule_name: &str,
        results: &[EvaluationRecord],
        now: f64,
    ) -> StoreResult<Vec<StoredChange>> {
        let scope = scope.clone();
        let rule = rule_name.to_string();
        let results = results.to_vec();
        self.write(move |c| {
            if !rule_exists(c, &scope, &rule).map_err(backend)? {
                return Err(StoreError::NotFound);
            }
            let mut changes = Vec::new();
            for r in results {
                let prev: Option<(String, f64)> = c
                    .prepare_cached(
                        "SELECT compliance_type, ordering_timestamp FROM evaluation_results
                         WHERE account=?1 AND region=?2 AND rule_name=?3 AND resource_type=?4 AND resource_id=?5",
                    )
                    .and_then(|mut s| {
                        s.query_row(
                            params![scope.account, scope.region, rule, r.resource_type, r.resource_id],
                            |row| Ok((row.get(0)?, row.get(1)?)),
                        )
                        .optional()
                    })
                    .map_err(backend)?;
                if prev.as_ref().is_some_and(|(_, ts)| r.ordering_timestamp < *ts) {
                    continue; // an older event never replaces a newer result
                }
                c.prepare_cached(
                    "INSERT INTO evaluation_results (account, region, rule_name, resource_type, resource_id, compliance_type,
                        annotation, ordering_timestamp, result_recorded_time, config_rule_invoked_time)
                     VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)
                     ON CONFLICT (account, region, rule_name, resource_type, resource_id) DO UPDATE SET
                        compliance_type=excluded.compliance_type, annotation=excluded.annotation,
                        ordering_timestamp=excluded.ordering_timestamp, result_recorded_time=excluded.result_recorded_time,
                        config_rule_invoked_time=excluded.config_rule_invoked_time",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        scope.account,
                        scope.region,
                        rule,
                        r.resource_type,
                        r.resource_id,
                        r.compliance_type.as_str(),
                        r.annotation,
                        r.ordering_timestamp,
                        r.result_recorded_time,
                        r.config_rule_invoked_time
                    ])
                })
                .map_err(backend)?;
                let old = prev.map(|(t, _)| ComplianceType::from_wire(&t));
                if old.as_ref() != Some(&r.compliance_type) {
                    changes.push(StoredChange {
                        resource_type: r.resource_type,
                        resource_id: r.resource_id,
                        old,
                        new: r.compliance_type,
                    });
                }
            }
            c.execute(
                "INSERT INTO rule_evaluation_status (account, region, rule_name, last_successful_evaluation_time, first_evaluation_started)
                 VALUES (?1,?2,?3,?4,1)
                 ON CONFLICT (account, region, rule_name) DO UPDATE SET
                    last_successful_evaluation_time=max(coalesce(last_successful_evaluation_time, excluded.last_successful_evaluation_time),
                                                        excluded.last_successful_evaluation_time),
                    first_evaluation_started=1",
                params![scope.account, scope.region, rule, now],
            )
            .map_err(backend)?;
            Ok(changes)
        })
        .await
    }

    async fn list_rule_results(
        &self,
        scope: &Scope,
        rule_name: &str,
        query: &ResultQuery,
        after: Option<&(String, String)>,
    ) -> StoreResult<Vec<EvaluationRecord>> {
        let scope = scope.clone();
        let rule = rule_name.to_string();
        let (tc, tnc, tna) = type_mask(&query.compliance_types);
        let limit = query.limit as i64;
        let (after_type, after_id) = after.cloned().unwrap_or_default();
        self.read(move |c| {
            let sql = format!(
                "SELECT {RESULT_COLS} FROM evaluation_results WHERE account=?1 AND region=?2 AND rule_name=?3
                 AND (resource_type, resource_id) > (?4, ?5) AND {}
                 ORDER BY resource_type, resource_id LIMIT ?9",
                type_filter(6)
            );
            let mut stmt = c.prepare_cached(&sql).map_err(backend)?;
            let rows = stmt
                .query_map(
                    params![scope.account, scope.region, rule, after_type, after_id, tc, tnc, tna, limit],
                    result_from_row,
                )
                .map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)
        })
        .await
    }

    async fn list_resource_results(
        &self,
        scope: &Scope,
        resource_type: &str,
        resource_id: &str,
        query: &ResultQuery,
        after: Option<&str>,
    ) -> StoreResult<Vec<EvaluationRecord>> {
        let scope = scope.clone();
        let (t, i) = (resource_type.to_string(), resource_id.to_string());
        let (tc, tnc, tna) = type_mask(&query.compliance_types);
        let limit = query.limit as i64;
        let after = after.unwrap_or("").to_string();
        self.read(move |c| {
            let sql = format!(
                "SELECT {RESULT_COLS} FROM evaluation_results WHERE account=?1 AND region=?2 AND resource_type=?3
                 AND resource_id=?4 AND rule_name > ?5 AND {}
                 ORDER BY rule_name LIMIT ?9",
                type_filter(6)
            );
            let mut stmt = c.prepare_cached(&sql).map_err(backend)?;
            let rows = stmt
                .query_map(
                    params![scope.account, scope.region, t, i, after, tc, tnc, tna, limit],
                    result_from_row,
                )
                .map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)
        })
        .await
    }

    async fn result_states(
        &self,
        scope: &Scope,
        rule_name: &str,
        keys: &[(String, String)],
    ) -> StoreResult<Vec<Option<ResultState>>> {
        let scope = scope.clone();
        let rule = rule_name.to_string();
        let keys = keys.to_vec();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT compliance_type, ordering_timestamp FROM evaluation_results
                     WHERE account=?1 AND region=?2 AND rule_name=?3 AND resource_type=?4 AND resource_id=?5",
                )
                .map_err(backend)?;
            keys.iter()
                .map(|(t, i)| {
                    stmt.query_row(params![scope.account, scope.region, rule, t, i], |r| {
                        Ok(ResultState {
                            compliance: ComplianceType::from_wire(&r.get::<_, String>(0)?),
                            ordering_timestamp: r.get(1)?,
                        })
                    })
                    .optional()
                    .map_err(backend)
                })
                .collect()
        })
        .await
    }

    async fn list_rule_compliance(
        &self,
        scope: &Scope,
        names: Option<&[String]>,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<RuleCompliance>> {
        let scope = scope.clone();
        let names = names.map(|n| n.to_vec());
        let after = after.unwrap_or("").to_string();
        self.read(move |c| {
            let rule_names: Vec<String> = match names {
                Some(mut names) => {
                    names.sort();
                    names.dedup();
                    let mut existing = Vec::new();
                    for n in names {
                        if n.as_str() > after.as_str() && rule_exists(c, &scope, &n).map_err(backend)? {
                            existing.push(n);
                        }
                        if existing.len() >= limit {
                            break;
                        }
                    }
                    existing
                }
                None => {
                    let mut stmt = c
                        .prepare_cached(
                            "SELECT name FROM config_rules WHERE account=?1 AND region=?2 AND name > ?3 ORDER BY name LIMIT ?4",
                        )
                        .map_err(backend)?;
                    let rows = stmt
                        .query_map(params![scope.account, scope.region, after, limit as i64], |r| r.get(0))
                        .map_err(backend)?;
                    rows.collect::<Result<Vec<_>, _>>().map_err(backend)?
                }
            };
            rule_names
                .into_iter()
                .map(|name| {
                    let counts = rule_counts(c, &scope, &name).map_err(backend)?;
                    Ok(RuleCompliance { rule_name: name, counts })
                })
                .collect()
        })
        .await
    }

    async fn list_resource_compliance(
        &self,
        scope: &Scope,
        resource_type: Option<&str>,
        resource_id: Option<&str>,
        after: Option<&(String, String)>,
        limit: usize,
    ) -> StoreResult<Vec<ResourceCompliance>> {
        let scope = scope.clone();
        let t = resource_type.map(str::to_string);
        let i = resource_id.map(str::to_string);
        let (after_type, after_id) = after.cloned().unwrap_or_default();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT resource_type, resource_id, SUM(compliance_type='NON_COMPLIANT'), SUM(compliance_type='COMPLIANT'),
                            SUM(compliance_type='NOT_APPLICABLE')
                     FROM evaluation_results
                     WHERE account=?1 AND region=?2 AND (?3 IS NULL OR resource_type=?3) AND (?4 IS NULL OR resource_id=?4)
                       AND (resource_type, resource_id) > (?5, ?6)
                     GROUP BY resource_type, resource_id ORDER BY resource_type, resource_id LIMIT ?7",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map(
                    params![scope.account, scope.region, t, i, after_type, after_id, limit as i64],
                    |r| {
                        Ok(ResourceCompliance {
                            resource_type: r.get(0)?,
                            resource_id: r.get(1)?,
                            counts: counts(r.get(2)?, r.get(3)?, r.get(4)?),
                        })
                    },
                )
                .map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)
        })
        .await
    }

    async fn rule_compliance_summary(&self, scope: &Scope) -> StoreResult<TypeSummary> {
        let scope = scope.clone();
        self.read(move |c| {
            c.query_row(
                "SELECT COALESCE(SUM(nc = 0 AND cc > 0), 0), COALESCE(SUM(nc > 0), 0) FROM (
                    SELECT SUM(compliance_type='NON_COMPLIANT') AS nc, SUM(compliance_type='COMPLIANT') AS cc
                    FROM evaluation_results WHERE account=?1 AND region=?2 GROUP BY rule_name)",
                params![scope.account, scope.region],
                |r| {
                    let s = counts(r.get(1)?, r.get(0)?, 0);
                    Ok(TypeSummary {
                        compliant: s.compliant,
                        non_compliant: s.non_compliant,
                    })
                },
            )
            .map_err(backend)
        })
        .await
    }

    async fn resource_compliance_summary(
        &self,
        scope: &Scope,
        resource_types: Option<&[String]>,
    ) -> StoreResult<Vec<(String, TypeSummary)>> {
        let scope = scope.clone();
        let types = resource_types.map(|t| t.to_vec());
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT COALESCE(SUM(nc = 0 AND cc > 0), 0), COALESCE(SUM(nc > 0), 0) FROM (
                        SELECT SUM(compliance_type='NON_COMPLIANT') AS nc, SUM(compliance_type='COMPLIANT') AS cc
                        FROM evaluation_results WHERE account=?1 AND region=?2 AND (?3 IS NULL OR resource_type=?3)
                        GROUP BY resource_type, resource_id)",
                )
                .map_err(backend)?;
            let keys: Vec<Option<String>> = match types {
                Some(types) => types.into_iter().map(Some).collect(),
                None => vec![None],
            };
            keys.into_iter()
                .map(|t| {
                    let summary = stmt
                        .query_row(params![scope.account, scope.region, t], |r| {
                            let s = counts(r.get(1)?, r.get(0)?, 0);
                            Ok(TypeSummary {
                                compliant: s.compliant,
                                non_compliant: s.non_compliant,
                            })
                        })
                        .map_err(backend)?;
                    Ok((t.unwrap_or_default(), summary))
                })
                .collect()
        })
        .await
    }

    async fn list_rule_evaluation_status(
        &self,
        scope: &Scope,
        names: Option<&[String]>,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<RuleEvaluationStatus>> {
        let scope = scope.clone();
        let names = names.map(|n| n.to_vec());
        let after = after.unwrap_or("").to_string();
        self.read(move |c| {
            match names {
                Some(mut names) => {
                    names.sort();
                    names.dedup();
                    let mut stmt = c
                        .prepare_cached(&format!("{STATUS_SELECT} WHERE r.account=?1 AND r.region=?2 AND r.name=?3"))
                        .map_err(backend)?;
                    let mut out = Vec::new();
                    for n in names.into_iter().filter(|n| n.as_str() > after.as_str()) {
                        if let Some(s) = stmt
                            .query_row(params![scope.account, scope.region, n], status_from_row)
                            .optional()
                            .map_err(backend)?
                        {
                            out.push(s);
                        }
                        if out.len() >= limit {
                            break;
                        }
                    }
                    Ok(out)
                }
                None => {
                    let mut stmt = c
                        .prepare_cached(&format!(
                            "{STATUS_SELECT} WHERE r.account=?1 AND r.region=?2 AND r.name > ?3 ORDER BY r.name LIMIT ?4"
                        ))
                        .map_err(backend)?;
                    let rows = stmt
                        .query_map(params![scope.account, scope.region, after, limit as i64], status_from_row)
                        .map_err(backend)?;
                    rows.collect::<Result<Vec<_>, _>>().map_err(backend)
                }
            }
        })
        .await
    }

    async fn delete_evaluation_results(
        &self,
        scope: &Scope,
        rule_name: &str,
    ) -> StoreResult<usize> {
        let scope = scope.clone();
        let rule = rule_name.to_string();
        self.write(move |c| {
            if !rule_exists(c, &scope, &rule).map_err(backend)? {
                return Err(StoreError::NotFound);
            }
            c.execute(
                "DELETE FROM evaluation_results WHERE account=?1 AND region=?2 AND rule_name=?3",
                params![scope.account, scope.region, rule],
            )
            .map_err(backend)
        })
        .await
    }
}
