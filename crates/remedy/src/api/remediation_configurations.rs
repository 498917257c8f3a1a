//! PutRemediationConfigurations, DescribeRemediationConfigurations, DeleteRemediationConfiguration.
//!
//! One configuration per rule, keyed by rule name; its ARN is minted once and survives updates.
//! Malformed requests fail whole (`InvalidParameterValueException`); per-item problems — the rule
//! does not exist, or is service-linked, or the document (`TargetId` at `TargetVersion`) does not
//! exist — come back in `FailedBatches` while the rest are stored.

use std::collections::BTreeMap;

use remedy_wire::config::{
    DeleteRemediationConfigurationRequest, DeleteRemediationConfigurationResponse,
    DescribeRemediationConfigurationsRequest, DescribeRemediationConfigurationsResponse,
    FailedRemediationBatch, PutRemediationConfigurationsRequest,
    PutRemediationConfigurationsResponse, RemediationConfiguration,
};

use super::required;
use crate::app::App;
use crate::domain::RemediationConfigRecord;
use crate::error::{ApiError, ApiResult};
use crate::protocol::RequestContext;
use crate::store::{RuleSelector, StoreError};

/// The parameter through which automatic remediation must pass its role.
const ASSUME_ROLE_PARAMETER: &str = "AutomationAssumeRole";

fn check_parameters(config: &RemediationConfiguration) -> ApiResult<()> {
    let params = config.parameters.clone().unwrap_or_default();
    let invalid = params
        .values()
        .any(|v| v.resource_value.is_some() == v.static_value.is_some());
    if invalid {
        return Err(ApiError::invalid_parameter(
            "There were invalid RemediationParameterValues for configurations for AWS Config Rules. Each parameter must set exactly one of ResourceValue and StaticValue.",
        ));
    }
    let resource_values = params
        .values()
        .filter(|v| v.resource_value.is_some())
        .count();
    if resource_values > 1 {
        return Err(ApiError::invalid_parameter(
            "Only one remediation parameter can take its value from the resource (ResourceValue).",
        ));
    }
    if config.automatic == Some(true) {
        let role = params
            .get(ASSUME_ROLE_PARAMETER)
            .and_then(|v| v.static_value.as_ref())
            .and_then(|s| s.values.as_ref())
            .is_some_and(|v| v.iter().any(|s| !s.is_empty()));
        if !role {
            return Err(ApiError::invalid_parameter(format!(
                "Automatic remediation requires the parameter {ASSUME_ROLE_PARAMETER} with a StaticValue holding the role ARN."
            )));
        }
    }
    Ok(())
}

pub async fn put(
    app: &App,
    ctx: &RequestContext,
    req: PutRemediationConfigurationsRequest,
) -> ApiResult<PutRemediationConfigurationsResponse> {
    let scope = &ctx.scope;
    let configs = required(req.remediation_configurations, "RemediationConfigurations")?;
    for c in &configs {
        check_parameters(c)?;
    }
    let mut failed: BTreeMap<String, Vec<RemediationConfiguration>> = BTreeMap::new();
    let mut records = Vec::new();
    for mut config in configs {
        let rule_name = config.config_rule_name.clone().unwrap_or_default();
        let rule = app
            .store
            .get_rule(scope, &RuleSelector::Name(rule_name.clone()))
            .await?;
        match rule {
            None => {
                failed
                    .entry(format!("The ConfigRule '{rule_name}' does not exist. Create the rule before its remediation configuration."))
                    .or_default()
                    .push(config);
                continue;
            }
            Some(r) if r.rule.created_by.is_some() => {
                failed
                    .entry(format!("The ConfigRule '{rule_name}' is a service-linked rule; its remediation cannot be configured."))
                    .or_default()
                    .push(config);
                continue;
            }
            Some(_) => {}
        }
        // The document (TargetId) must exist, at TargetVersion when one is given: the account's
        // SSM documents or a built-in runbook.
        match crate::remediation::runbook_of(app.runbooks.as_ref(), scope, &config).await {
            Ok(_) => {}
            Err(e) if e.code == "InvalidParameterValueException" => {
                failed.entry(e.message).or_default().push(config);
                continue;
            }
            Err(e) => return Err(e),
        }
        // Output-only members are ignored on input.
        config.arn = None;
        config.created_by_service = None;
        let arn = scope.config_arn(&format!(
            "remediation-configuration/{rule_name}/{}",
            uuid::Uuid::new_v4()
        ));
        records.push(RemediationConfigRecord {
            rule_name,
            arn,
            config,
        });
    }
    // Automatic turned on (it was off or absent before): remediate every NON_COMPLIANT resource.
    let names: Vec<String> = records.iter().map(|r| r.rule_name.clone()).collect();
    let previous = app
        .store
        .get_remediation_configurations(scope, &names)
        .await?;
    let stored = app
        .store
        .put_remediation_configurations(scope, &records)
        .await?;
    for (record, ok) in records.iter().zip(&stored) {
        let was_automatic = previous
            .iter()
            .any(|p| p.rule_name == record.rule_name && p.config.automatic == Some(true));
        if *ok && record.config.automatic == Some(true) && !was_automatic {
            if let Err(e) = crate::remediation::automatic::queue_all_non_compliant(
                app,
                scope,
                &record.rule_name,
            )
            .await
            {
                tracing::warn!(error = %e, rule = %record.rule_name, "remediation: cannot queue automatic executions");
            }
        }
    }
    for (record, ok) in records.into_iter().zip(stored) {
        if !ok {
            // The rule was deleted between the check and the write.
            failed
                .entry(format!("The ConfigRule '{}' does not exist. Create the rule before its remediation configuration.", record.rule_name))
                .or_default()
                .push(record.config);
        }
    }
    let failed_batches: Vec<FailedRemediationBatch> = failed
        .into_iter()
        .map(|(message, items)| FailedRemediationBatch {
            failure_message: Some(message),
            failed_items: Some(items),
        })
        .collect();
    Ok(PutRemediationConfigurationsResponse {
        failed_batches: Some(failed_batches),
    })
}

pub async fn describe(
    app: &App,
    ctx: &RequestContext,
    req: DescribeRemediationConfigurationsRequest,
) -> ApiResult<DescribeRemediationConfigurationsResponse> {
    let scope = &ctx.scope;
    let names = required(req.config_rule_names, "ConfigRuleNames")?;
    super::existing_rules(app, scope, &names).await?;
    let configs = app
        .store
        .get_remediation_configurations(scope, &names)
        .await?;
    Ok(DescribeRemediationConfigurationsResponse {
        remediation_configurations: Some(configs.into_iter().map(|c| c.config).collect()),
    })
}

pub async fn delete(
    app: &App,
    ctx: &RequestContext,
    req: DeleteRemediationConfigurationRequest,
) -> ApiResult<DeleteRemediationConfigurationResponse> {
    let name = required(req.config_rule_name, "ConfigRuleName")?;
    match app
        .store
        .delete_remediation_configuration(&ctx.scope, &name)
        .await
    {
        Ok(()) => Ok(DeleteRemediationConfigurationResponse {}),
        Err(StoreError::NotFound) => Err(ApiError::no_such_remediation_configuration(&name)),
        Err(StoreError::RemediationInProgress) => Err(ApiError::client(
            "RemediationInProgressException",
            format!("Remediation action is in progress for the ConfigRule '{name}'. You can delete the remediation action after the remediation execution completes."),
        )),
        Err(e) => Err(e.into()),
    }
}
