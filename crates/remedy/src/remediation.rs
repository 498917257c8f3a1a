//! Remediation executions: what starting one means (shared by StartRemediationExecution and
//! automatic remediation), the engine that runs them ([`engine`]), and the automatic trigger
//! ([`automatic`]).
//!
//! An execution is one SSM Automation run of the configuration's document (`TargetId`) against
//! one resource. Its parameters are built as spec §3.3 says: each StaticValue list as-is, the
//! ResourceValue parameter as `[resourceId]`, then resolved against the document's declarations
//! (`Runbook::resolve_parameters`). Documents are looked up through the app's
//! [`runbooks::RunbookSource`] (stored SSM documents in front of the built-in catalog).

pub mod automatic;
pub mod engine;
pub mod runbooks;
#[cfg(test)]
mod sleep_crash_tests;
#[cfg(test)]
mod store_failure_tests;
#[cfg(test)]
mod sweep_tests;
#[cfg(test)]
mod test_support;

use std::collections::BTreeMap;

use remedy_automation::{ExecutionState, ParameterError};
use remedy_wire::config::RemediationConfiguration;

use crate::domain::Scope;
use crate::error::{ApiError, ApiResult};
use crate::store::executions::NewExecution;

/// AWS's defaults for SsmControls (spec §3.5).
pub const DEFAULT_CONCURRENCY_PERCENTAGE: u32 = 10;
pub const DEFAULT_ERROR_PERCENTAGE: u32 = 50;
/// AWS's defaults for automatic retries (spec §3.4).
pub const DEFAULT_MAXIMUM_AUTOMATIC_ATTEMPTS: usize = 5;
pub const DEFAULT_RETRY_ATTEMPT_SECONDS: f64 = 60.0;

/// The runbook a configuration runs (its `TargetId` at its `TargetVersion`), resolved in `scope`:
/// `InvalidParameterValueException` naming an unknown document or version.
pub async fn runbook_of(
    source: &dyn runbooks::RunbookSource,
    scope: &Scope,
    config: &RemediationConfiguration,
) -> ApiResult<runbooks::ResolvedRunbook> {
    let name = config.target_id.as_deref().unwrap_or_default();
    let version = config.target_version.as_deref();
    if let Some(resolved) = source.resolve(scope, name, version).await? {
        return Ok(resolved);
    }
    // A version the document lacks, or no such document at all.
    let exists = version.is_some() && source.resolve(scope, name, None).await?.is_some();
    Err(match version {
        Some(v) if exists => ApiError::invalid_parameter(format!(
            "The remediation document '{name}' (TargetId) has no version {v} (TargetVersion)."
        )),
        _ => ApiError::invalid_parameter(format!(
            "The remediation document '{name}' (TargetId) does not exist."
        )),
    })
}

/// StartAutomationExecution's parameters for one resource (spec §3.3).
pub fn automation_parameters(
    config: &RemediationConfiguration,
    resource_id: &str,
) -> BTreeMap<String, Vec<String>> {
    config
        .parameters
        .iter()
        .flatten()
        .map(|(name, v)| {
            let values = if v.resource_value.is_some() {
                vec![resource_id.to_string()]
            } else {
                v.static_value
                    .as_ref()
                    .and_then(|s| s.values.clone())
                    .unwrap_or_default()
            };
            (name.clone(), values)
        })
        .collect()
}

/// The configuration's execution controls: (concurrency %, error %).
pub fn controls(config: &RemediationConfiguration) -> (u32, u32) {
    let ssm = config
        .execution_controls
        .as_ref()
        .and_then(|c| c.ssm_controls.as_ref());
    let conc = ssm
        .and_then(|s| s.concurrent_execution_rate_percentage)
        .map(|p| p.clamp(1, 100) as u32)
        .unwrap_or(DEFAULT_CONCURRENCY_PERCENTAGE);
    let err = ssm
        .and_then(|s| s.error_percentage)
        .map(|p| p.clamp(1, 100) as u32)
        .unwrap_or(DEFAULT_ERROR_PERCENTAGE);
    (conc, err)
}

/// A queued execution of `config`'s runbook (resolved to one version) against one resource; the
/// runbook's parameter error when the parameters do not resolve. The execution records the
/// resolved version, so it keeps running that version whatever becomes the default later.
#[allow(clippy::too_many_arguments)]
pub fn new_execution(
    rule_name: &str,
    config: &RemediationConfiguration,
    resolved: &runbooks::ResolvedRunbook,
    resource_type: &str,
    resource_id: &str,
    automatic: bool,
    batch_id: &str,
    wake_at: f64,
) -> Result<NewExecution, ParameterError> {
    let runbook = resolved.runbook.as_ref();
    let params = runbook.resolve_parameters(&automation_parameters(config, resource_id))?;
    let parameters = serde_json::to_string(&params).unwrap_or_else(|_| "{}".into());
    let state = ExecutionState::new(runbook, params);
    let (conc, err) = controls(config);
    Ok(NewExecution {
        id: uuid::Uuid::new_v4().to_string(),
        rule_name: rule_name.to_string(),
        resource_type: resource_type.to_string(),
        resource_id: resource_id.to_string(),
        document_name: resolved.name.clone(),
        document_version: Some(resolved.version.clone()),
        parameters,
        execution_state: serde_json::to_string(&state).unwrap_or_else(|_| "{}".into()),
        automatic,
        concurrency_percentage: conc,
        error_percentage: err,
        batch_id: batch_id.to_string(),
        wake_at,
        finding_ordering: None,
    })
}
