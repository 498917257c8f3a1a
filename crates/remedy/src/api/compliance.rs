//! The compliance queries: GetComplianceDetailsByConfigRule, GetComplianceDetailsByResource,
//! DescribeComplianceByConfigRule, DescribeComplianceByResource,
//! GetComplianceSummaryByConfigRule, GetComplianceSummaryByResourceType.
//!
//! Details return stored results; the Describe and Summary operations roll them up as
//! [`crate::evaluation`] documents (NON_COMPLIANT wins, NOT_APPLICABLE never counts, nothing
//! known is INSUFFICIENT_DATA; contributor counts capped at 100, rule summaries at 25, resource
//! summaries at 100). Paging is keyset-based: rules by name, resources by (type, id), so pages
//! stay stable while results change.

use remedy_wire::config::{
    Compliance, ComplianceByConfigRule, ComplianceByResource, ComplianceSummary,
    ComplianceSummaryByResourceType, ComplianceType, DescribeComplianceByConfigRuleRequest,
    DescribeComplianceByConfigRuleResponse, DescribeComplianceByResourceRequest,
    DescribeComplianceByResourceResponse, EvaluationMode, EvaluationResult,
    EvaluationResultIdentifier, EvaluationResultQualifier, FailedRemediationExceptionBatch,
    GetComplianceDetailsByConfigRuleRequest, GetComplianceDetailsByConfigRuleResponse,
    GetComplianceDetailsByResourceRequest, GetComplianceDetailsByResourceResponse,
    GetComplianceSummaryByConfigRuleResponse, GetComplianceSummaryByResourceTypeRequest,
    GetComplianceSummaryByResourceTypeResponse, RemediationException,
};
use serde::Deserialize;

use super::required;
use crate::app::App;
use crate::domain::{RemediationExceptionRecord, Scope};
use crate::error::{ApiError, ApiResult};
use crate::evaluation::{
    capped, ComplianceCounts, ComplianceFilter, EvaluationRecord, CONTRIBUTOR_CAP,
    RESOURCE_SUMMARY_CAP, RULE_SUMMARY_CAP,
};
use crate::pagination;
use crate::protocol::RequestContext;
use crate::store::evaluations::{ResultQuery, TypeSummary};
use crate::store::RuleSelector;

/// GetComplianceDetailsByConfigRule / DescribeComplianceByResource page size when `Limit` is
/// absent or 0 (AWS: 10).
const DEFAULT_LIMIT: usize = 10;
/// GetComplianceDetailsByResource and DescribeComplianceByConfigRule have no `Limit`; AWS picks
/// the page size. 25 matches the most rule names a request may filter by.
const SERVICE_PAGE: usize = 25;
/// Rows read per store round trip while a filter is applied after the read.
const SCAN_BATCH: usize = 100;

/// The input of GetComplianceSummaryByConfigRule, which has no input shape: `{}` or an empty body.
#[derive(Debug, Default, Deserialize)]
pub struct NoInput {}

impl remedy_wire::Validate for NoInput {
    fn validate_members(&self, _path: &remedy_wire::rt::Path<'_>, _errors: &mut Vec<String>) {}
}

fn limit_or_default(limit: Option<i32>) -> usize {
    match limit {
        None | Some(0) => DEFAULT_LIMIT,
        Some(n) => n.max(1) as usize,
    }
}

/// The details operations cannot filter by INSUFFICIENT_DATA (AWS documents this).
fn details_filter(types: Option<Vec<ComplianceType>>) -> ApiResult<Vec<ComplianceType>> {
    let types = types.unwrap_or_default();
    if types.contains(&ComplianceType::InsufficientData) {
        return Err(ApiError::invalid_parameter(
            "INSUFFICIENT_DATA cannot be used as a ComplianceType for filtering evaluation results; use COMPLIANT, NON_COMPLIANT or NOT_APPLICABLE.",
        ));
    }
    Ok(types)
}

fn result_to_wire(r: EvaluationRecord) -> EvaluationResult {
    EvaluationResult {
        evaluation_result_identifier: Some(EvaluationResultIdentifier {
            evaluation_result_qualifier: Some(EvaluationResultQualifier {
                config_rule_name: Some(r.rule_name),
                resource_type: Some(r.resource_type),
                resource_id: Some(r.resource_id),
                evaluation_mode: Some(EvaluationMode::Detective),
            }),
            ordering_timestamp: Some(r.ordering_timestamp),
            resource_evaluation_id: None,
        }),
        compliance_type: Some(r.compliance_type),
        result_recorded_time: Some(r.result_recorded_time),
        config_rule_invoked_time: Some(r.config_rule_invoked_time),
        annotation: r.annotation,
        result_token: None,
    }
}

fn compliance(shown: ComplianceType, contributors: Option<u32>) -> Compliance {
    Compliance {
        compliance_type: Some(shown),
        compliance_contributor_count: contributors.map(|n| capped(n, CONTRIBUTOR_CAP)),
    }
}

pub async fn get_details_by_config_rule(
    app: &App,
    ctx: &RequestContext,
    req: GetComplianceDetailsByConfigRuleRequest,
) -> ApiResult<GetComplianceDetailsByConfigRuleResponse> {
    const OP: &str = "GetComplianceDetailsByConfigRule";
    let scope = &ctx.scope;
    let name = required(req.config_rule_name, "ConfigRuleName")?;
    let types = details_filter(req.compliance_types)?;
    let limit = limit_or_default(req.limit);
    let after: Option<(String, String)> = pagination::decode(OP, req.next_token.as_deref())?;
    if app
        .store
        .get_rule(scope, &RuleSelector::Name(name.clone()))
        .await?
        .is_none()
    {
        return Err(ApiError::no_such_config_rule(&name));
    }
    let query = ResultQuery {
        compliance_types: types,
        limit: limit + 1,
    };
    let rows = app
        .store
        .list_rule_results(scope, &name, &query, after.as_ref())
        .await?;
    let (rows, next_token) = pagination::page(OP, rows, limit, |r| {
        (r.resource_type.clone(), r.resource_id.clone())
    });
    Ok(GetComplianceDetailsByConfigRuleResponse {
        evaluation_results: Some(rows.into_iter().map(result_to_wire).collect()),
        next_token,
    })
}

pub async fn get_details_by_resource(
    app: &App,
    ctx: &RequestContext,
    req: GetComplianceDetailsByResourceRequest,
) -> ApiResult<GetComplianceDetailsByResourceResponse> {
    const OP: &str = "GetComplianceDetailsByResource";
    if req.resource_evaluation_id.is_some() {
        return Err(ApiError::invalid_parameter(
            "ResourceEvaluationId names a proactive evaluation, which remedy does not support; give ResourceType and ResourceId instead.",
        ));
    }
    let (Some(resource_type), Some(resource_id)) = (req.resource_type, req.resource_id) else {
        return Err(ApiError::invalid_parameter(
            "Either ResourceEvaluationId or both ResourceType and ResourceId must be provided.",
        ));
    };
    let types = details_filter(req.compliance_types)?;
    let after: Option<String> = pagination::decode(OP, req.next_token.as_deref())?;
    let query = ResultQuery {
        compliance_types: types,
        limit: SERVICE_PAGE + 1,
    };
    let rows = app
        .store
        .list_resource_results(
            &ctx.scope,
            &resource_type,
            &resource_id,
            &query,
            after.as_deref(),
        )
        .await?;
    let (rows, next_token) = pagination::page(OP, rows, SERVICE_PAGE, |r| r.rule_name.clone());
    Ok(GetComplianceDetailsByResourceResponse {
        evaluation_results: Some(rows.into_iter().map(result_to_wire).collect()),
        next_token,
    })
}

pub async fn describe_by_config_rule(
    app: &App,
    ctx: &RequestContext,
    req: DescribeComplianceByConfigRuleRequest,
) -> ApiResult<DescribeComplianceByConfigRuleResponse> {
    const OP: &str = "DescribeComplianceByConfigRule";
    let scope = &ctx.scope;
    let filter = ComplianceFilter::new(req.compliance_types);
    let mut names = req.config_rule_names.unwrap_or_default();
    names.sort();
    names.dedup();
    super::existing_rules(app, scope, &names).await?;
    let named = (!names.is_empty()).then_some(names.as_slice());
    let mut after: Option<String> = pagination::decode(OP, req.next_token.as_deref())?;
    let mut matched = Vec::new();
    // The filter applies to roll-ups, after the keyset read: read on until one more than a page.
    loop {
        let batch = app
            .store
            .list_rule_compliance(scope, named, after.as_deref(), SCAN_BATCH)
            .await?;
        let exhausted = batch.len() < SCAN_BATCH;
        for rule in batch {
            after = Some(rule.rule_name.clone());
            if let Some((shown, n)) = filter.present(rule.counts.roll_up(), false) {
                matched.push(ComplianceByConfigRule {
                    config_rule_name: Some(rule.rule_name),
                    compliance: Some(compliance(shown, n)),
                });
            }
            if matched.len() > SERVICE_PAGE {
                break;
            }
        }
        if exhausted || matched.len() > SERVICE_PAGE {
            break;
        }
    }
    let (rows, next_token) = pagination::page(OP, matched, SERVICE_PAGE, |r| {
        r.config_rule_name.clone().unwrap_or_default()
    });
    Ok(DescribeComplianceByConfigRuleResponse {
        compliance_by_config_rules: Some(rows),
        next_token,
    })
}

pub async fn describe_by_resource(
    app: &App,
    ctx: &RequestContext,
    req: DescribeComplianceByResourceRequest,
) -> ApiResult<DescribeComplianceByResourceResponse> {
    const OP: &str = "DescribeComplianceByResource";
    let scope = &ctx.scope;
    if req.resource_id.is_some() && req.resource_type.is_none() {
        return Err(ApiError::invalid_parameter(
            "A ResourceId requires a ResourceType: specify the type of the resource as well.",
        ));
    }
    let filter = ComplianceFilter::new(req.compliance_types);
    let limit = limit_or_default(req.limit);
    let mut after: Option<(String, String)> = pagination::decode(OP, req.next_token.as_deref())?;

    // One named resource: always answered, INSUFFICIENT_DATA when nothing is known of it.
    if let (Some(t), Some(i)) = (&req.resource_type, &req.resource_id) {
        if after.is_some() {
            return Ok(DescribeComplianceByResourceResponse {
                compliance_by_resources: Some(Vec::new()),
                next_token: None,
            });
        }
        let found = app
            .store
            .list_resource_compliance(scope, Some(t), Some(i), None, 1)
            .await?;
        let counts = found
            .first()
            .map(|r| r.counts)
            .unwrap_or(ComplianceCounts::default());
        let rows = filter
            .present(counts.roll_up(), false)
            .map(|(shown, n)| ComplianceByResource {
                resource_type: Some(t.clone()),
                resource_id: Some(i.clone()),
                compliance: Some(compliance(shown, n)),
            })
            .into_iter()
            .collect();
        return Ok(DescribeComplianceByResourceResponse {
            compliance_by_resources: Some(rows),
            next_token: None,
        });
    }

    let mut matched = Vec::new();
    loop {
        let batch = app
            .store
            .list_resource_compliance(
                scope,
                req.resource_type.as_deref(),
                None,
                after.as_ref(),
                SCAN_BATCH,
            )
            .await?;
        let exhausted = batch.len() < SCAN_BATCH;
        for r in batch {
            after = Some((r.resource_type.clone(), r.resource_id.clone()));
            if let Some((shown, n)) = filter.present(r.counts.roll_up(), true) {
                matched.push(ComplianceByResource {
                    resource_type: Some(r.resource_type),
                    resource_id: Some(r.resource_id),
                    compliance: Some(compliance(shown, n)),
                });
            }
            if matched.len() > limit {
                break;
            }
        }
        if exhausted || matched.len() > limit {
            break;
        }
    }
    let (rows, next_token) = pagination::page(OP, matched, limit, |r| {
        (
            r.resource_type.clone().unwrap_or_default(),
            r.resource_id.clone().unwrap_or_default(),
        )
    });
    Ok(DescribeComplianceByResourceResponse {
        compliance_by_resources: Some(rows),
        next_token,
    })
}

fn summary(s: &TypeSummary, cap: u32) -> ComplianceSummary {
    ComplianceSummary {
        compliant_resource_count: Some(capped(s.compliant, cap)),
        non_compliant_resource_count: Some(capped(s.non_compliant, cap)),
        compliance_summary_timestamp: Some(crate::time::now()),
    }
}

pub async fn get_summary_by_config_rule(
    app: &App,
    ctx: &RequestContext,
    _req: NoInput,
) -> ApiResult<GetComplianceSummaryByConfigRuleResponse> {
    let s = app.store.rule_compliance_summary(&ctx.scope).await?;
    Ok(GetComplianceSummaryByConfigRuleResponse {
        compliance_summary: Some(summary(&s, RULE_SUMMARY_CAP)),
    })
}

pub async fn get_summary_by_resource_type(
    app: &App,
    ctx: &RequestContext,
    req: GetComplianceSummaryByResourceTypeRequest,
) -> ApiResult<GetComplianceSummaryByResourceTypeResponse> {
    let mut types = req.resource_types.unwrap_or_default();
    let mut seen = std::collections::BTreeSet::new();
    types.retain(|t| seen.insert(t.clone()));
    let by_type = !types.is_empty();
    let rows = app
        .store
        .resource_compliance_summary(&ctx.scope, by_type.then_some(types.as_slice()))
        .await?;
    Ok(GetComplianceSummaryByResourceTypeResponse {
        compliance_summaries_by_resource_type: Some(
            rows.into_iter()
                .map(|(t, s)| ComplianceSummaryByResourceType {
                    // Without a type filter AWS answers one summary over every type, untyped.
                    resource_type: by_type.then_some(t),
                    compliance_summary: Some(summary(&s, RESOURCE_SUMMARY_CAP)),
                })
                .collect(),
        ),
    })
}

/// Most items AWS puts in one `FailedRemediationExceptionBatch` (the model's list maximum).
const FAILED_BATCH_MAX: usize = 25;

/// PutRemediationExceptions: an exception is only for a resource the rule holds NON_COMPLIANT
/// (or has not judged yet). Splits the candidates (all of one rule) into those to store and,
/// for the ones the rule holds COMPLIANT or NOT_APPLICABLE, failed batches that say why.
pub(super) async fn exception_candidates(
    app: &App,
    scope: &Scope,
    records: Vec<RemediationExceptionRecord>,
) -> ApiResult<(
    Vec<RemediationExceptionRecord>,
    Vec<FailedRemediationExceptionBatch>,
)> {
    let Some(rule) = records.first().map(|r| r.rule_name.clone()) else {
        return Ok((records, Vec::new()));
    };
    let keys: Vec<(String, String)> = records
        .iter()
        .map(|r| (r.resource_type.clone(), r.resource_id.clone()))
        .collect();
    let states = app.store.result_compliance(scope, &rule, &keys).await?;
    let mut accepted = Vec::new();
    let mut refused: Vec<(ComplianceType, RemediationException)> = Vec::new();
    for (r, state) in records.into_iter().zip(states) {
        match state {
            Some(t @ (ComplianceType::Compliant | ComplianceType::NotApplicable)) => {
                refused.push((
                    t,
                    RemediationException {
                        config_rule_name: Some(r.rule_name),
                        resource_type: Some(r.resource_type),
                        resource_id: Some(r.resource_id),
                        message: r.message,
                        expiration_time: r.expiration_time,
                    },
                ))
            }
            _ => accepted.push(r),
        }
    }
    let mut batches = Vec::new();
    for kind in [ComplianceType::Compliant, ComplianceType::NotApplicable] {
        let items: Vec<RemediationException> = refused
            .iter()
            .filter(|(t, _)| *t == kind)
            .map(|(_, e)| e.clone())
            .collect();
        for chunk in items.chunks(FAILED_BATCH_MAX) {
            batches.push(FailedRemediationExceptionBatch {
                failure_message: Some(format!(
                    "The rule {rule} evaluates these resources as {kind}; remediation exceptions can be added only for NON_COMPLIANT resources."
                )),
                failed_items: Some(chunk.to_vec()),
            });
        }
    }
    Ok((accepted, batches))
}
