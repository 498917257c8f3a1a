//! StartRemediationExecution and DescribeRemediationExecutionStatus.
//!
//! Start queues one execution per key and returns once they are committed; the engine
//! (`crate::remediation::engine`) runs them. A key is refused, in `FailedItems`, when an execution
//! of it is already QUEUED or IN_PROGRESS (a database constraint, so racing calls cannot both start
//! it) or when the rule's stored result for it is COMPLIANT. One `FailureMessage` covers the call:
//! when keys failed for both reasons it names both. Manual runs ignore remediation exceptions.
//!
//! Describe shows, per key, the latest execution with one StepDetails entry per step run (a step
//! run twice by a loop shows twice), read from the execution's stored summary
//! ([`crate::store::executions::ExecutionSummary`]), not its interpreter state. An execution that ended FAILED before any step ran (its
//! batch exceeded the ErrorPercentage) shows its first step FAILED with the reason.

use std::collections::HashSet;

use remedy_wire::config::{
    ComplianceType, DescribeRemediationExecutionStatusRequest,
    DescribeRemediationExecutionStatusResponse, RemediationExecutionState,
    RemediationExecutionStatus, RemediationExecutionStep, RemediationExecutionStepState,
    ResourceKey, ResourceType, StartRemediationExecutionRequest, StartRemediationExecutionResponse,
};

use super::required;
use crate::app::App;
use crate::domain::{RemediationConfigRecord, Scope};
use crate::error::{ApiError, ApiResult};
use crate::protocol::RequestContext;
use crate::store::executions::{ExecutionStatusRecord, InsertOutcome, STATE_FAILED};
use crate::store::StoreError;

pub const ALREADY_COMPLIANT: &str = "Resource is already compliant.";
pub const ALREADY_IN_PROGRESS: &str =
    "A remediation execution is already in progress for this resource.";
pub const COMPLIANT_OR_IN_PROGRESS: &str =
    "Resource is already compliant, or a remediation execution is already in progress for this resource.";

const DESCRIBE_OP: &str = "DescribeRemediationExecutionStatus";
const MAX_PAGE: usize = 100;

async fn configuration(
    app: &App,
    scope: &Scope,
    rule_name: &str,
) -> ApiResult<RemediationConfigRecord> {
    app.store
        .get_remediation_configurations(scope, &[rule_name.to_string()])
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::no_such_remediation_configuration(rule_name))
}

fn key_of(k: &ResourceKey) -> (String, String) {
    (
        k.resource_type
            .as_ref()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        k.resource_id.clone().unwrap_or_default(),
    )
}

fn wire_key(resource_type: &str, resource_id: &str) -> ResourceKey {
    ResourceKey {
        resource_type: Some(ResourceType::from_wire(resource_type)),
        resource_id: Some(resource_id.to_string()),
    }
}

pub async fn start(
    app: &App,
    ctx: &RequestContext,
    req: StartRemediationExecutionRequest,
) -> ApiResult<StartRemediationExecutionResponse> {
    let scope = &ctx.scope;
    let rule = required(req.config_rule_name, "ConfigRuleName")?;
    // A key named twice is started once (and not reported as failed).
    let given = required(req.resource_keys, "ResourceKeys")?;
    let mut seen = HashSet::with_capacity(given.len());
    let keys: Vec<(String, String)> = given
        .iter()
        .map(key_of)
        .filter(|k| seen.insert(k.clone()))
        .collect();
    let record = configuration(app, scope, &rule).await?;
    let runbook =
        crate::remediation::runbook_of(app.runbooks.as_ref(), scope, &record.config).await?;
    let compliance = app.store.result_compliance(scope, &rule, &keys).await?;

    let now = crate::time::now();
    let batch = uuid::Uuid::new_v4().to_string();
    let mut compliant = Vec::new();
    let mut executions = Vec::new();
    for ((t, i), c) in keys.iter().zip(compliance) {
        if c == Some(ComplianceType::Compliant) {
            compliant.push((t.clone(), i.clone()));
            continue;
        }
        let e = crate::remediation::new_execution(
            &rule,
            &record.config,
            &runbook,
            t,
            i,
            false,
            &batch,
            now,
        )
        .map_err(|e| ApiError::invalid_parameter(e.message))?;
        executions.push(e);
    }
    let outcomes = match app
        .store
        .insert_executions(scope, &rule, &executions, now)
        .await
    {
        Ok(o) => o,
        Err(StoreError::NotFound) => {
            return Err(ApiError::no_such_remediation_configuration(&rule))
        }
        Err(e) => return Err(e.into()),
    };
    let in_flight: Vec<(String, String)> = executions
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| **o == InsertOutcome::InFlight)
        .map(|(e, _)| (e.resource_type.clone(), e.resource_id.clone()))
        .collect();
    if outcomes.contains(&InsertOutcome::Started) {
        app.remediation_wakeup.notify_one();
    }
    let message = match (compliant.is_empty(), in_flight.is_empty()) {
        (true, true) => None,
        (false, true) => Some(ALREADY_COMPLIANT),
        (true, false) => Some(ALREADY_IN_PROGRESS),
        (false, false) => Some(COMPLIANT_OR_IN_PROGRESS),
    };
    // FailedItems in request order.
    let refused: HashSet<&(String, String)> = compliant.iter().chain(&in_flight).collect();
    let failed: Vec<ResourceKey> = keys
        .iter()
        .filter(|k| refused.contains(k))
        .map(|(t, i)| wire_key(t, i))
        .collect();
    Ok(StartRemediationExecutionResponse {
        failure_message: message.map(str::to_string),
        failed_items: (!failed.is_empty()).then_some(failed),
    })
}

fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// The wire status of one execution (spec §4.7), from its stored summary: the interpreter state
/// itself is not read.
async fn status_of(
    runbooks: &dyn crate::remediation::runbooks::RunbookSource,
    scope: &Scope,
    r: &ExecutionStatusRecord,
) -> RemediationExecutionStatus {
    let mut steps: Vec<RemediationExecutionStep> = r
        .summary
        .iter()
        .flat_map(|s| &s.steps)
        .map(|st| RemediationExecutionStep {
            name: Some(st.step_name.clone()),
            state: Some(RemediationExecutionStepState::from_wire(
                st.status.remediation_step_state(),
            )),
            error_message: st.failure_message.clone(),
            start_time: Some(seconds(st.start_time_ms)),
            stop_time: st.end_time_ms.map(seconds),
        })
        .collect();
    // An execution that ended without running a step (its batch exceeded the ErrorPercentage,
    // or its document is gone) shows why as one FAILED step: the step it never started.
    if let Some(message) = r.summary.as_ref().and_then(|s| s.failure_message.as_ref()) {
        if steps.is_empty() && r.state == STATE_FAILED {
            let name = runbooks
                .resolve(scope, &r.document_name, r.document_version.as_deref())
                .await
                .ok()
                .flatten()
                .map(|b| b.runbook.first_step().name.clone())
                .unwrap_or_else(|| r.document_name.clone());
            steps.push(RemediationExecutionStep {
                name: Some(name),
                state: Some(RemediationExecutionStepState::Failed),
                error_message: Some(message.clone()),
                start_time: None,
                stop_time: Some(r.last_updated),
            });
        }
    }
    RemediationExecutionStatus {
        resource_key: Some(wire_key(&r.resource_type, &r.resource_id)),
        state: Some(RemediationExecutionState::from_wire(&r.state)),
        step_details: (!steps.is_empty()).then_some(steps),
        invocation_time: Some(r.invocation_time),
        last_updated_time: Some(r.last_updated),
    }
}

pub async fn describe_status(
    app: &App,
    ctx: &RequestContext,
    req: DescribeRemediationExecutionStatusRequest,
) -> ApiResult<DescribeRemediationExecutionStatusResponse> {
    let scope = &ctx.scope;
    let rule = required(req.config_rule_name, "ConfigRuleName")?;
    configuration(app, scope, &rule).await?;
    let limit = match req.limit {
        None | Some(0) => MAX_PAGE,
        Some(n) => (n.max(0) as usize).min(MAX_PAGE),
    };
    let after: Option<(String, String)> =
        crate::pagination::decode(DESCRIBE_OP, req.next_token.as_deref())?;
    let keys: Option<Vec<(String, String)>> =
        req.resource_keys.map(|k| k.iter().map(key_of).collect());
    let rows = app
        .store
        .latest_execution_statuses(scope, &rule, keys.as_deref(), after.as_ref(), limit + 1)
        .await?;
    let (rows, next) = crate::pagination::page(DESCRIBE_OP, rows, limit, |r| {
        (r.resource_type.clone(), r.resource_id.clone())
    });
    let mut statuses = Vec::with_capacity(rows.len());
    for r in &rows {
        statuses.push(status_of(app.runbooks.as_ref(), scope, r).await);
    }
    Ok(DescribeRemediationExecutionStatusResponse {
        remediation_execution_statuses: Some(statuses),
        next_token: next,
    })
}
