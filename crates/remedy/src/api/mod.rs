//! The operations: one module per family, each handler taking a decoded, validated wire request and
//! the caller's context and returning a wire response.
//!
//! `dispatch_config` is the only place that knows which handler serves which `X-Amz-Target`;
//! the generic [`call`] does the decode → validate → handle → encode sequence for all of them.

mod compliance;
mod evaluations;
mod remediation_configurations;
mod remediation_exceptions;
mod remediation_executions;
mod resources;
mod rules;
mod ssm_automation;
mod ssm_documents;
mod tags;

use std::future::Future;

use remedy_wire::config::Operation;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::protocol::RequestContext;

/// The `{}` body of operations that have no output shape.
#[derive(Debug, Default, Serialize)]
pub struct Empty {}

async fn call<I, O, F, Fut>(body: &[u8], handler: F) -> ApiResult<Vec<u8>>
where
    I: DeserializeOwned + remedy_wire::Validate,
    O: Serialize,
    F: FnOnce(I) -> Fut,
    Fut: Future<Output = ApiResult<O>>,
{
    let input = remedy_wire::decode::<I>(body)?;
    let output = handler(input).await?;
    Ok(remedy_wire::encode(&output))
}

pub async fn dispatch_config(
    app: &App,
    ctx: &RequestContext,
    op: Operation,
    body: &[u8],
) -> ApiResult<Vec<u8>> {
    use Operation as Op;
    match op {
        Op::PutConfigRule => call(body, |r| rules::put_config_rule(app, ctx, r)).await,
        Op::DescribeConfigRules => rules::describe_config_rules_encoded(app, ctx, body).await,
        Op::DeleteConfigRule => call(body, |r| rules::delete_config_rule(app, ctx, r)).await,
        Op::PutRemediationConfigurations => {
            call(body, |r| remediation_configurations::put(app, ctx, r)).await
        }
        Op::DescribeRemediationConfigurations => {
            call(body, |r| remediation_configurations::describe(app, ctx, r)).await
        }
        Op::DeleteRemediationConfiguration => {
            call(body, |r| remediation_configurations::delete(app, ctx, r)).await
        }
        Op::PutRemediationExceptions => {
            call(body, |r| remediation_exceptions::put(app, ctx, r)).await
        }
        Op::DescribeRemediationExceptions => {
            call(body, |r| remediation_exceptions::describe(app, ctx, r)).await
        }
        Op::DeleteRemediationExceptions => {
            call(body, |r| remediation_exceptions::delete(app, ctx, r)).await
        }
        Op::StartRemediationExecution => {
            call(body, |r| remediation_executions::start(app, ctx, r)).await
        }
        Op::DescribeRemediationExecutionStatus => {
            call(body, |r| {
                remediation_executions::describe_status(app, ctx, r)
            })
            .await
        }
        Op::PutResourceConfig => call(body, |r| resources::put_resource_config(app, ctx, r)).await,
        Op::DeleteResourceConfig => {
            call(body, |r| resources::delete_resource_config(app, ctx, r)).await
        }
        Op::GetResourceConfigHistory => call(body, |r| resources::get_history(app, ctx, r)).await,
        Op::BatchGetResourceConfig => call(body, |r| resources::batch_get(app, ctx, r)).await,
        Op::ListDiscoveredResources => {
            call(body, |r| resources::list_discovered(app, ctx, r)).await
        }
        Op::TagResource => call(body, |r| tags::tag_resource(app, ctx, r)).await,
        Op::UntagResource => call(body, |r| tags::untag_resource(app, ctx, r)).await,
        Op::ListTagsForResource => call(body, |r| tags::list_tags_for_resource(app, ctx, r)).await,
        Op::PutEvaluations => call(body, |r| evaluations::put_evaluations(app, ctx, r)).await,
        Op::StartConfigRulesEvaluation => {
            call(body, |r| {
                evaluations::start_config_rules_evaluation(app, ctx, r)
            })
            .await
        }
        Op::DeleteEvaluationResults => {
            call(body, |r| {
                evaluations::delete_evaluation_results(app, ctx, r)
            })
            .await
        }
        Op::DescribeConfigRuleEvaluationStatus => {
            call(body, |r| {
                evaluations::describe_config_rule_evaluation_status(app, ctx, r)
            })
            .await
        }
        Op::GetComplianceDetailsByConfigRule => {
            call(body, |r| {
                compliance::get_details_by_config_rule(app, ctx, r)
            })
            .await
        }
        Op::GetComplianceDetailsByResource => {
            call(body, |r| compliance::get_details_by_resource(app, ctx, r)).await
        }
        Op::DescribeComplianceByConfigRule => {
            call(body, |r| compliance::describe_by_config_rule(app, ctx, r)).await
        }
        Op::DescribeComplianceByResource => {
            call(body, |r| compliance::describe_by_resource(app, ctx, r)).await
        }
        Op::GetComplianceSummaryByConfigRule => {
            call(body, |r| {
                compliance::get_summary_by_config_rule(app, ctx, r)
            })
            .await
        }
        Op::GetComplianceSummaryByResourceType => {
            call(body, |r| {
                compliance::get_summary_by_resource_type(app, ctx, r)
            })
            .await
        }
    }
}

pub async fn dispatch_ssm(
    app: &App,
    ctx: &RequestContext,
    op: remedy_wire::ssm::Operation,
    body: &[u8],
) -> ApiResult<Vec<u8>> {
    use remedy_wire::ssm::Operation as Op;
    match op {
        Op::StartAutomationExecution => call(body, |r| ssm_automation::start(app, ctx, r)).await,
        Op::GetAutomationExecution => call(body, |r| ssm_automation::get(app, ctx, r)).await,
        Op::DescribeAutomationExecutions => {
            call(body, |r| ssm_automation::describe(app, ctx, r)).await
        }
        Op::DescribeAutomationStepExecutions => {
            call(body, |r| ssm_automation::describe_steps(app, ctx, r)).await
        }
        Op::StopAutomationExecution => call(body, |r| ssm_automation::stop(app, ctx, r)).await,
        Op::CreateDocument => call(body, |r| ssm_documents::create(app, ctx, r)).await,
        Op::UpdateDocument => call(body, |r| ssm_documents::update(app, ctx, r)).await,
        Op::UpdateDocumentDefaultVersion => {
            call(body, |r| ssm_documents::update_default_version(app, ctx, r)).await
        }
        Op::DeleteDocument => call(body, |r| ssm_documents::delete(app, ctx, r)).await,
        Op::GetDocument => call(body, |r| ssm_documents::get(app, ctx, r)).await,
        Op::DescribeDocument => call(body, |r| ssm_documents::describe(app, ctx, r)).await,
        Op::ListDocuments => call(body, |r| ssm_documents::list(app, ctx, r)).await,
        Op::ListDocumentVersions => call(body, |r| ssm_documents::list_versions(app, ctx, r)).await,
    }
}

/// A required member after validation. Validation guarantees presence, so a miss is a bug.
fn required<T>(value: Option<T>, member: &str) -> ApiResult<T> {
    value.ok_or_else(|| {
        ApiError::internal(format!("validated request lacks required member {member}"))
    })
}

/// The named rules, in the order asked; NoSuchConfigRuleException for the first name that is not
/// a rule (what every operation taking a list of rule names answers).
async fn existing_rules(
    app: &App,
    scope: &crate::domain::Scope,
    names: &[String],
) -> ApiResult<Vec<crate::domain::RuleRecord>> {
    let found = app.store.get_rules_by_name(scope, names).await?;
    names
        .iter()
        .zip(found)
        .map(|(name, rule)| rule.ok_or_else(|| ApiError::no_such_config_rule(name)))
        .collect()
}
