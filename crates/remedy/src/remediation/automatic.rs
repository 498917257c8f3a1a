//! Automatic remediation (spec §3.2, §3.4).
//!
//! - A result that becomes NON_COMPLIANT (an `app.compliance_events` event) queues an execution
//!   when the rule's configuration has `Automatic=true`, no unexpired remediation exception
//!   exists for the resource, and none is in flight (the unique index).
//! - Putting a configuration with `Automatic` turned on queues one for every resource the rule
//!   holds NON_COMPLIANT ([`queue_all_non_compliant`]).
//! - A failed automatic run is recorded in the key's failure history; inside
//!   `RetryAttemptSeconds` it is retried (after [`RETRY_BACKOFF_SECONDS`], while the resource is
//!   still NON_COMPLIANT) until `MaximumAutomaticAttempts` failures, then remedy writes a
//!   remediation exception ("Auto-remediation failed N times within S seconds."), which blocks
//!   further automatic runs (not manual ones).
//!
//! The event stream is a hint, not the truth: a listener that falls behind loses events. When that
//! happens it sweeps the stored truth instead — every automatic configuration's NON_COMPLIANT
//! results — so no resource that should be remediated is forgotten (queueing is idempotent: the
//! in-flight constraint and the exception check make a repeated queue a no-op).
//!
//! **One run per finding, across nodes.** Every node listens to its own results and sweeps on
//! its own, so a trigger may be late: an event handled after another node (or a sweep, or
//! turning Automatic on) already remediated the resource and the run ended. A run therefore
//! acts on a *finding*: the stored result, read when the trigger is handled, must still be
//! NON_COMPLIANT ([`findings`]), and the run is queued only if no execution of the key was
//! invoked at or after the finding's ordering timestamp (the evaluated item's capture time) —
//! checked by the store in the transaction that inserts it ([`NewExecution::finding_ordering`]),
//! so a run queued, run and ended by another node a moment earlier is seen. A result of an
//! earlier state is one that execution already acted on; the items its runbook records are
//! evaluated again, and a result of those that is still NON_COMPLIANT is a new finding. Two
//! nodes racing on one key cannot both start a run while one is in flight (the store's unique
//! in-flight index). Retries of a failed automatic run ([`on_automatic_failure`]) are runs for
//! the same finding and skip the check; they are bounded by `MaximumAutomaticAttempts`. The
//! times compared come from the nodes' clocks (capture and invocation times), which are assumed
//! to agree to well under the time a runbook takes.

use std::sync::Arc;

use remedy_wire::config::ComplianceType;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;

use crate::app::App;
use crate::domain::{ExceptionKey, Scope};
use crate::store::evaluations::ResultQuery;
use crate::store::executions::{
    AutomaticFailureOutcome, ExecutionRecord, InsertOutcome, NewExecution,
};
use crate::store::StoreResult;

/// Delay before retrying a failed automatic run.
pub const RETRY_BACKOFF_SECONDS: f64 = 1.0;

/// Why automatic executions are being queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// NON_COMPLIANT results (an event, a sweep, Automatic turned on): each is acted on once.
    NonCompliant,
    /// A retry of the key's failed automatic run, for the same finding.
    Retry,
}

/// Listens for compliance changes until stopped.
pub async fn listen(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    let mut events = app.compliance_events.subscribe();
    loop {
        let event = tokio::select! {
            _ = stop.changed() => break,
            e = events.recv() => e,
        };
        match event {
            Ok(e) if e.new == ComplianceType::NonCompliant => {
                let key = vec![(e.resource_type.clone(), e.resource_id.clone())];
                let now = crate::time::now();
                if let Err(err) =
                    queue_automatic(&app, &e.scope, &e.rule, &key, now, Trigger::NonCompliant).await
                {
                    tracing::warn!(error = %err, rule = %e.rule, "remediation: cannot queue an automatic execution");
                }
            }
            Ok(_) => {}
            Err(RecvError::Lagged(n)) => {
                tracing::info!(
                    missed = n,
                    "remediation: the compliance listener fell behind; sweeping NON_COMPLIANT results"
                );
                if let Err(err) = sweep(&app).await {
                    tracing::warn!(error = %err, "remediation: automatic-remediation sweep failed");
                }
            }
            Err(RecvError::Closed) => break,
        }
    }
}

/// Queues automatic executions for every resource that an automatic configuration's rule holds
/// NON_COMPLIANT. Returns how many started.
pub async fn sweep(app: &App) -> StoreResult<usize> {
    let mut started = 0;
    for (scope, record) in app
        .store
        .list_automatic_remediation_configurations()
        .await?
    {
        let query = ResultQuery {
            compliance_types: vec![ComplianceType::NonCompliant],
            limit: 100,
        };
        let mut after: Option<(String, String)> = None;
        loop {
            let page = app
                .store
                .list_rule_results(&scope, &record.rule_name, &query, after.as_ref())
                .await?;
            let keys: Vec<(String, String)> = page
                .iter()
                .map(|r| (r.resource_type.clone(), r.resource_id.clone()))
                .collect();
            if keys.is_empty() {
                break;
            }
            started += queue_automatic(
                app,
                &scope,
                &record.rule_name,
                &keys,
                crate::time::now(),
                Trigger::NonCompliant,
            )
            .await?;
            if keys.len() < query.limit {
                break;
            }
            after = keys.last().cloned();
        }
    }
    Ok(started)
}

/// Queues automatic executions of `rule` for `keys` (at most 100) when its configuration is
/// automatic, skipping keys with an unexpired exception and, unless `trigger` is a retry, keys
/// not NON_COMPLIANT or whose finding a run was already queued for. Returns how many started.
pub async fn queue_automatic(
    app: &App,
    scope: &Scope,
    rule: &str,
    keys: &[(String, String)],
    wake_at: f64,
    trigger: Trigger,
) -> StoreResult<usize> {
    let Some(record) = app
        .store
        .get_remediation_configurations(scope, &[rule.to_string()])
        .await?
        .into_iter()
        .next()
    else {
        return Ok(0);
    };
    if record.config.automatic != Some(true) {
        return Ok(0);
    }
    let resolved = match record.config.target_id.as_deref() {
        Some(name) => {
            app.runbooks
                .resolve(scope, name, record.config.target_version.as_deref())
                .await?
        }
        None => None,
    };
    let Some(runbook) = resolved else {
        tracing::warn!(rule, document = ?record.config.target_id, "remediation: automatic remediation names an unknown document");
        return Ok(0);
    };
    let now = crate::time::now();
    let exception_keys: Vec<ExceptionKey> = keys
        .iter()
        .map(|(t, i)| ExceptionKey {
            resource_type: t.clone(),
            resource_id: i.clone(),
        })
        .collect();
    let excepted = app
        .store
        .list_remediation_exceptions(
            scope,
            rule,
            Some(&exception_keys),
            None,
            keys.len() + 1,
            now,
        )
        .await?;
    // Per key, the finding a NonCompliant trigger acts on (`None`: the result is not
    // NON_COMPLIANT, nothing to act on); a retry acts on the finding its failed run did.
    let findings = match trigger {
        Trigger::NonCompliant => findings(app, scope, rule, keys).await?,
        Trigger::Retry => vec![None; keys.len()],
    };
    let batch = uuid::Uuid::new_v4().to_string();
    let mut executions = Vec::new();
    for ((t, i), finding_ordering) in keys.iter().zip(findings) {
        if trigger == Trigger::NonCompliant && finding_ordering.is_none() {
            continue;
        }
        if excepted
            .iter()
            .any(|x| &x.resource_type == t && &x.resource_id == i)
        {
            continue;
        }
        match super::new_execution(rule, &record.config, &runbook, t, i, true, &batch, wake_at) {
            Ok(e) => executions.push(NewExecution {
                finding_ordering,
                ..e
            }),
            Err(e) => {
                tracing::warn!(rule, resource = %i, error = %e.message, "remediation: automatic parameters do not resolve")
            }
        }
    }
    if executions.is_empty() {
        return Ok(0);
    }
    let outcomes = match app
        .store
        .insert_executions(scope, rule, &executions, now)
        .await
    {
        Ok(o) => o,
        Err(crate::store::StoreError::NotFound) => return Ok(0),
        Err(e) => return Err(e),
    };
    let started = outcomes
        .iter()
        .filter(|o| **o == InsertOutcome::Started)
        .count();
    if started > 0 {
        app.remediation_wakeup.notify_one();
    }
    Ok(started)
}

/// Per key, the ordering timestamp of `rule`'s stored result when that result is NON_COMPLIANT
/// (a trigger may be older than the truth): the finding an automatic run would act on.
async fn findings(
    app: &App,
    scope: &Scope,
    rule: &str,
    keys: &[(String, String)],
) -> StoreResult<Vec<Option<f64>>> {
    let found = app.store.result_states(scope, rule, keys).await?;
    Ok(found
        .into_iter()
        .map(|state| {
            state
                .filter(|s| s.compliance == ComplianceType::NonCompliant)
                .map(|s| s.ordering_timestamp)
        })
        .collect())
}

/// Queues automatic executions for every resource `rule` holds NON_COMPLIANT.
pub async fn queue_all_non_compliant(app: &App, scope: &Scope, rule: &str) -> StoreResult<usize> {
    let query = ResultQuery {
        compliance_types: vec![ComplianceType::NonCompliant],
        limit: 100,
    };
    let mut after: Option<(String, String)> = None;
    let mut started = 0;
    loop {
        let page = app
            .store
            .list_rule_results(scope, rule, &query, after.as_ref())
            .await?;
        if page.is_empty() {
            break;
        }
        let keys: Vec<(String, String)> = page
            .iter()
            .map(|r| (r.resource_type.clone(), r.resource_id.clone()))
            .collect();
        started += queue_automatic(
            app,
            scope,
            rule,
            &keys,
            crate::time::now(),
            Trigger::NonCompliant,
        )
        .await?;
        after = keys.last().cloned();
        if page.len() < query.limit {
            break;
        }
    }
    Ok(started)
}

/// A failed automatic run: record it; retry, or create the exception.
pub async fn on_automatic_failure(app: &App, rec: &ExecutionRecord) {
    let scope = &rec.scope;
    let config = match app
        .store
        .get_remediation_configurations(scope, std::slice::from_ref(&rec.rule_name))
        .await
    {
        Ok(c) => c.into_iter().next(),
        Err(e) => {
            tracing::warn!(error = %e, "remediation: cannot read the configuration");
            return;
        }
    };
    let Some(config) = config.filter(|c| c.config.automatic == Some(true)) else {
        return;
    };
    let max = config
        .config
        .maximum_automatic_attempts
        .map(|n| n.clamp(1, 25) as usize)
        .unwrap_or(super::DEFAULT_MAXIMUM_AUTOMATIC_ATTEMPTS);
    let window = config
        .config
        .retry_attempt_seconds
        .map(|s| s.max(1) as f64)
        .unwrap_or(super::DEFAULT_RETRY_ATTEMPT_SECONDS);
    let now = crate::time::now();
    let outcome = app
        .store
        .record_automatic_failure(
            scope,
            &rec.rule_name,
            &rec.resource_type,
            &rec.resource_id,
            now,
            window,
            max,
        )
        .await;
    match outcome {
        Ok(AutomaticFailureOutcome::Retry { failures }) => {
            let key = vec![(rec.resource_type.clone(), rec.resource_id.clone())];
            let still = app
                .store
                .result_compliance(scope, &rec.rule_name, &key)
                .await
                .ok()
                .and_then(|v| v.into_iter().next().flatten());
            if still == Some(ComplianceType::NonCompliant) {
                tracing::info!(rule = %rec.rule_name, resource = %rec.resource_id, failures, "remediation: retrying a failed automatic remediation");
                if let Err(e) = queue_automatic(
                    app,
                    scope,
                    &rec.rule_name,
                    &key,
                    now + RETRY_BACKOFF_SECONDS,
                    Trigger::Retry,
                )
                .await
                {
                    tracing::warn!(error = %e, "remediation: cannot queue a retry");
                }
            }
        }
        Ok(AutomaticFailureOutcome::ExceptionCreated(x)) => {
            tracing::warn!(rule = %rec.rule_name, resource = %rec.resource_id, message = ?x.message,
                "remediation: automatic remediation keeps failing; remediation exception created");
        }
        Err(e) => tracing::warn!(error = %e, "remediation: cannot record an automatic failure"),
    }
}
