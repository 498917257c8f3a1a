//! PutEvaluations, StartConfigRulesEvaluation, DeleteEvaluationResults,
//! DescribeConfigRuleEvaluationStatus.
//!
//! PutEvaluations is how custom rules report: the handler gets a result token (see
//! [`crate::result_token`]) with its invocation and hands it back with its verdicts. Without a
//! handler, `remedy result-token --rule NAME` prints a token. `TestMode: true` validates the
//! evaluations and stores nothing; its token need not be valid (AWS semantics).
//!
//! StartConfigRulesEvaluation records the request (the once-per-interval limit and the invocation
//! time DescribeConfigRuleEvaluationStatus reports) and enqueues a rule-wide evaluation that the
//! engine ([`crate::evaluation::engine`]) runs in the background; the rule is `EVALUATING` until
//! it finishes, and a second request meanwhile is refused.

use std::collections::BTreeSet;

use remedy_wire::config::{
    ComplianceType, ConfigRuleEvaluationStatus, DeleteEvaluationResultsRequest,
    DeleteEvaluationResultsResponse, DescribeConfigRuleEvaluationStatusRequest,
    DescribeConfigRuleEvaluationStatusResponse, Evaluation, PutEvaluationsRequest,
    PutEvaluationsResponse, StartConfigRulesEvaluationRequest, StartConfigRulesEvaluationResponse,
};

use super::required;
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::evaluation::{ComplianceChanged, EvaluationRecord};
use crate::pagination;
use crate::protocol::RequestContext;
use crate::store::evaluations::RuleEvaluationStatus;
use crate::store::StoreError;

/// DescribeConfigRuleEvaluationStatus page size when `Limit` is absent or 0 (its maximum).
const STATUS_PAGE: usize = 50;

fn invalid_token(reason: impl std::fmt::Display) -> ApiError {
    ApiError::client(
        "InvalidResultTokenException",
        format!("The resultToken provided is invalid: {reason}"),
    )
}

/// Checks what the model cannot: AWS refuses INSUFFICIENT_DATA from PutEvaluations.
fn check_evaluations(evaluations: &[Evaluation]) -> ApiResult<()> {
    for (i, e) in evaluations.iter().enumerate() {
        if e.compliance_type == Some(ComplianceType::InsufficientData) {
            return Err(ApiError::invalid_parameter(format!(
                "The ComplianceType INSUFFICIENT_DATA of evaluation {} is not allowed: PutEvaluations accepts only COMPLIANT, NON_COMPLIANT and NOT_APPLICABLE.",
                i + 1
            )));
        }
    }
    Ok(())
}

pub async fn put_evaluations(
    app: &App,
    ctx: &RequestContext,
    req: PutEvaluationsRequest,
) -> ApiResult<PutEvaluationsResponse> {
    let scope = &ctx.scope;
    let token = required(req.result_token, "ResultToken")?;
    let evaluations = req.evaluations.unwrap_or_default();
    check_evaluations(&evaluations)?;
    if req.test_mode == Some(true) {
        return Ok(PutEvaluationsResponse {
            failed_evaluations: Some(Vec::new()),
        });
    }
    let claims = app
        .result_tokens()
        .await?
        .verify(&token, scope)
        .map_err(invalid_token)?;
    let now = crate::time::now();
    let records = evaluations
        .into_iter()
        .map(|e| {
            Ok(EvaluationRecord {
                rule_name: claims.rule.clone(),
                resource_type: required(e.compliance_resource_type, "ComplianceResourceType")?,
                resource_id: required(e.compliance_resource_id, "ComplianceResourceId")?,
                compliance_type: required(e.compliance_type, "ComplianceType")?,
                annotation: e.annotation,
                ordering_timestamp: required(e.ordering_timestamp, "OrderingTimestamp")?,
                result_recorded_time: now,
                config_rule_invoked_time: claims.issued_at(),
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let changes = app
        .store
        .put_evaluation_results(scope, &claims.rule, &records, now)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::no_such_config_rule(&claims.rule),
            e => e.into(),
        })?;
    for c in changes {
        // No subscriber is not an error: the hook is optional.
        let _ = app.compliance_events.send(ComplianceChanged {
            scope: scope.clone(),
            rule: claims.rule.clone(),
            resource_type: c.resource_type,
            resource_id: c.resource_id,
            old: c.old,
            new: c.new,
        });
    }
    Ok(PutEvaluationsResponse {
        failed_evaluations: Some(Vec::new()),
    })
}

fn dedup(names: Vec<String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    names
        .into_iter()
        .filter(|n| seen.insert(n.clone()))
        .collect()
}

pub async fn start_config_rules_evaluation(
    app: &App,
    ctx: &RequestContext,
    req: StartConfigRulesEvaluationRequest,
) -> ApiResult<StartConfigRulesEvaluationResponse> {
    let names = dedup(req.config_rule_names.unwrap_or_default());
    if names.is_empty() {
        return Err(ApiError::invalid_parameter(
            "ConfigRuleNames must name between 1 and 25 config rules.",
        ));
    }
    super::existing_rules(app, &ctx.scope, &names).await?;
    let interval = app.settings.evaluation_request_interval.as_secs_f64();
    // Records the request, marks the rules EVALUATING and enqueues a rule-wide evaluation of
    // each, atomically; the engine runs them in the background.
    match app
        .store
        .start_rule_evaluations(&ctx.scope, &names, crate::time::now(), interval)
        .await
    {
        Ok(()) => Ok(StartConfigRulesEvaluationResponse {}),
        Err(StoreError::AlreadyExists) => Err(ApiError::client(
            "LimitExceededException",
            "An evaluation of one of these rules is already in progress; wait for it to finish (DescribeConfigRuleEvaluationStatus) and try again.",
        )),
        Err(StoreError::LimitExceeded(_)) => Err(ApiError::client(
            "LimitExceededException",
            format!(
                "An evaluation of these rules was started less than {} seconds ago; StartConfigRulesEvaluation accepts a rule at most once per interval. Try again later.",
                app.settings.evaluation_request_interval.as_secs()
            ),
        )),
        Err(StoreError::NotFound) => Err(ApiError::no_such_config_rule(&names.join(", "))),
        Err(e) => Err(e.into()),
    }
}

pub async fn delete_evaluation_results(
    app: &App,
    ctx: &RequestContext,
    req: DeleteEvaluationResultsRequest,
) -> ApiResult<DeleteEvaluationResultsResponse> {
    let name = required(req.config_rule_name, "ConfigRuleName")?;
    // Synchronous here: the rule is never seen in AWS's DELETING_RESULTS state.
    match app.store.delete_evaluation_results(&ctx.scope, &name).await {
        Ok(_) => Ok(DeleteEvaluationResultsResponse {}),
        Err(StoreError::NotFound) => Err(ApiError::no_such_config_rule(&name)),
        Err(e) => Err(e.into()),
    }
}

fn status_to_wire(s: RuleEvaluationStatus) -> ConfigRuleEvaluationStatus {
    ConfigRuleEvaluationStatus {
        config_rule_name: Some(s.rule_name),
        config_rule_arn: Some(s.rule_arn),
        config_rule_id: Some(s.rule_id),
        last_successful_invocation_time: s.last_successful_invocation_time,
        last_failed_invocation_time: s.last_failed_invocation_time,
        last_successful_evaluation_time: s.last_successful_evaluation_time,
        last_failed_evaluation_time: s.last_failed_evaluation_time,
        first_activated_time: Some(s.first_activated_time),
        last_error_code: s.last_error_code,
        last_error_message: s.last_error_message,
        first_evaluation_started: Some(s.first_evaluation_started),
        ..Default::default()
    }
}

pub async fn describe_config_rule_evaluation_status(
    app: &App,
    ctx: &RequestContext,
    req: DescribeConfigRuleEvaluationStatusRequest,
) -> ApiResult<DescribeConfigRuleEvaluationStatusResponse> {
    const OP: &str = "DescribeConfigRuleEvaluationStatus";
    let scope = &ctx.scope;
    let names = dedup(req.config_rule_names.unwrap_or_default());
    super::existing_rules(app, scope, &names).await?;
    let limit = match req.limit {
        None | Some(0) => STATUS_PAGE,
        Some(n) => n.clamp(1, STATUS_PAGE as i32) as usize,
    };
    let after: Option<String> = pagination::decode(OP, req.next_token.as_deref())?;
    let filter = (!names.is_empty()).then_some(names.as_slice());
    let rows = app
        .store
        .list_rule_evaluation_status(scope, filter, after.as_deref(), limit + 1)
        .await?;
    let (rows, next_token) = pagination::page(OP, rows, limit, |r| r.rule_name.clone());
    Ok(DescribeConfigRuleEvaluationStatusResponse {
        config_rules_evaluation_status: Some(rows.into_iter().map(status_to_wire).collect()),
        next_token,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::app::Settings;
    use crate::auth::StaticCredentials;
    use crate::domain::RuleRecord;
    use crate::domain::Scope;
    use crate::store::sqlite::SqliteStore;

    fn evaluation(id: &str, t: ComplianceType, ts: f64) -> Evaluation {
        Evaluation {
            compliance_resource_type: Some("AWS::S3::Bucket".into()),
            compliance_resource_id: Some(id.into()),
            compliance_type: Some(t),
            annotation: None,
            ordering_timestamp: Some(ts),
        }
    }

    #[tokio::test]
    async fn compliance_changes_are_broadcast() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("remedy.db")).unwrap();
        let app = App::new(
            Arc::new(store),
            Arc::new(StaticCredentials::local_default()),
            Settings::default(),
        );
        let scope = Scope::new("000000000000", "us-east-1");
        let rule = RuleRecord {
            name: "r".into(),
            id: "config-rule-abc123".into(),
            arn: scope.config_arn("config-rule/config-rule-abc123"),
            rule: Default::default(),
        };
        app.store.insert_rule(&scope, &rule, &[], 10).await.unwrap();
        let ctx = RequestContext {
            request_id: "t".into(),
            scope: scope.clone(),
            access_key_id: "test".into(),
        };
        let token = app.result_tokens().await.unwrap().mint(&scope, "r");
        let mut events = app.compliance_events.subscribe();
        let put = |evals: Vec<Evaluation>| PutEvaluationsRequest {
            evaluations: Some(evals),
            result_token: Some(token.clone()),
            test_mode: None,
        };
        put_evaluations(
            &app,
            &ctx,
            put(vec![evaluation("a", ComplianceType::NonCompliant, 1.0)]),
        )
        .await
        .unwrap();
        // Same verdict again, and an older contrary one: no change, no event.
        put_evaluations(
            &app,
            &ctx,
            put(vec![evaluation("a", ComplianceType::NonCompliant, 2.0)]),
        )
        .await
        .unwrap();
        put_evaluations(
            &app,
            &ctx,
            put(vec![evaluation("a", ComplianceType::Compliant, 0.5)]),
        )
        .await
        .unwrap();
        put_evaluations(
            &app,
            &ctx,
            put(vec![evaluation("a", ComplianceType::Compliant, 3.0)]),
        )
        .await
        .unwrap();
        let first = events.try_recv().unwrap();
        assert_eq!(
            (
                first.rule.as_str(),
                first.resource_id.as_str(),
                first.old,
                first.new
            ),
            ("r", "a", None, ComplianceType::NonCompliant)
        );
        let second = events.try_recv().unwrap();
        assert_eq!(
            (second.old, second.new),
            (
                Some(ComplianceType::NonCompliant),
                ComplianceType::Compliant
            )
        );
        assert!(events.try_recv().is_err());
    }
}
