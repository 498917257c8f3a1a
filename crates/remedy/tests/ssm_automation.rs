//! SSM automation executions through the official SDK (aws-sdk-ssm, and aws-sdk-config for the
//! remediation side): StartAutomationExecution runs a runbook directly against a recorded
//! resource; GetAutomationExecution, DescribeAutomationExecutions and
//! DescribeAutomationStepExecutions show it (filters, paging); StopAutomationExecution; a
//! remediation execution seen consistently through both APIs; every operation's errors and
//! constraints at the boundary and one past it.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::config::types::{
    ComplianceType, RemediationExecutionState, RemediationExecutionStepState, ResourceType,
};
use common::ssm::types::{
    AutomationExecution, AutomationExecutionFilter, AutomationExecutionFilterKey,
    AutomationExecutionStatus, AutomationType, ExecutionMode, StepExecutionFilter,
    StepExecutionFilterKey, StopType, Tag, Target,
};
use common::*;
use serde_json::{json, Value};

const VERSIONING: &str = "AWS-ConfigureS3BucketVersioning";
const UNKNOWN_ID: &str = "00000000-0000-4000-8000-000000000000";

/// The recorded bucket's latest versioning status.
async fn versioning_of(c: &config::Client, name: &str) -> String {
    let h = c
        .get_resource_config_history()
        .resource_type(ResourceType::from(BUCKET))
        .resource_id(name)
        .limit(1)
        .send()
        .await
        .unwrap();
    let v = h.configuration_items()[0]
        .supplementary_configuration()
        .unwrap()
        .get("BucketVersioningConfiguration")
        .unwrap()
        .clone();
    serde_json::from_str::<Value>(&v).unwrap()["status"]
        .as_str()
        .unwrap()
        .to_string()
}

fn params(pairs: &[(&str, &str)]) -> HashMap<String, Vec<String>> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), vec![v.to_string()]))
        .collect()
}

async fn start_versioning(s: &ssm::Client, bucket: &str) -> String {
    s.start_automation_execution()
        .document_name(VERSIONING)
        .set_parameters(Some(params(&[("BucketName", bucket)])))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}", ssm::error::DisplayErrorContext(e)))
        .automation_execution_id()
        .unwrap()
        .to_string()
}

async fn get(s: &ssm::Client, id: &str) -> AutomationExecution {
    s.get_automation_execution()
        .automation_execution_id(id)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}", ssm::error::DisplayErrorContext(e)))
        .automation_execution()
        .unwrap()
        .clone()
}

fn is_terminal(s: Option<&AutomationExecutionStatus>) -> bool {
    matches!(
        s,
        Some(
            AutomationExecutionStatus::Success
                | AutomationExecutionStatus::Failed
                | AutomationExecutionStatus::Timedout
                | AutomationExecutionStatus::Cancelled
        )
    )
}

async fn wait_terminal(s: &ssm::Client, id: &str) -> AutomationExecution {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let e = get(s, id).await;
        if is_terminal(e.automation_execution_status()) {
            return e;
        }
        assert!(
            Instant::now() < deadline,
            "{id} not terminal in 30 s: {e:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn filter(key: AutomationExecutionFilterKey, values: &[&str]) -> AutomationExecutionFilter {
    AutomationExecutionFilter::builder()
        .key(key)
        .set_values(Some(values.iter().map(|v| v.to_string()).collect()))
        .build()
        .unwrap()
}

fn step_filter(key: StepExecutionFilterKey, values: &[&str]) -> StepExecutionFilter {
    StepExecutionFilter::builder()
        .key(key)
        .set_values(Some(values.iter().map(|v| v.to_string()).collect()))
        .build()
        .unwrap()
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build().unwrap()
}

#[tokio::test]
async fn start_runs_a_builtin_runbook_directly_and_every_view_shows_it() {
    let server = Server::start();
    let c = server.client();
    let s = server.ssm_client();
    record_bucket(&c, "direct-bucket", "Off").await;

    let id = s
        .start_automation_execution()
        .document_name(VERSIONING)
        .set_parameters(Some(params(&[("BucketName", "direct-bucket")])))
        .tags(tag("team", "platform"))
        .send()
        .await
        .unwrap()
        .automation_execution_id()
        .unwrap()
        .to_string();
    assert_eq!(id.len(), 36);
    let e = wait_terminal(&s, &id).await;
    assert_eq!(
        e.automation_execution_status(),
        Some(&AutomationExecutionStatus::Success),
        "{e:?}"
    );
    // The world changed: the recorded bucket has a new version with versioning Enabled.
    assert_eq!(versioning_of(&c, "direct-bucket").await, "Enabled");

    assert_eq!(e.automation_execution_id(), Some(id.as_str()));
    assert_eq!(e.document_name(), Some(VERSIONING));
    assert_eq!(e.document_version(), Some("1"));
    assert_eq!(e.mode(), Some(&ExecutionMode::Auto));
    assert_eq!(e.executed_by(), Some("arn:aws:iam::000000000000:root"));
    assert!(e.failure_message().is_none());
    assert!(e.current_step_name().is_none() && e.current_action().is_none());
    let start = e.execution_start_time().unwrap().as_secs_f64();
    let end = e.execution_end_time().unwrap().as_secs_f64();
    assert!(end >= start);
    let p = e.parameters().unwrap();
    assert_eq!(p["BucketName"], vec!["direct-bucket".to_string()]);
    assert_eq!(p["VersioningState"], vec!["Enabled".to_string()]);
    assert!(!e.step_executions_truncated());

    let steps = e.step_executions();
    let names: Vec<_> = steps.iter().map(|s| s.step_name().unwrap()).collect();
    assert_eq!(names, ["ConfigureVersioning", "VerifyVersioning"]);
    let first = &steps[0];
    assert_eq!(first.action(), Some("aws:executeAwsApi"));
    assert_eq!(
        first.step_status(),
        Some(&AutomationExecutionStatus::Success)
    );
    assert_eq!(first.on_failure(), Some("Abort"));
    assert_eq!(first.max_attempts(), Some(1));
    assert_eq!(first.is_end(), Some(false));
    assert_eq!(first.is_critical(), Some(true));
    assert_eq!(first.next_step(), Some("VerifyVersioning"));
    assert_eq!(first.step_execution_id().map(str::len), Some(36));
    // Inputs, fully resolved, as JSON text.
    let inputs = first.inputs().unwrap();
    assert_eq!(inputs["Bucket"], "\"direct-bucket\"");
    assert_eq!(inputs["Api"], "\"PutBucketVersioning\"");
    let vc: Value = serde_json::from_str(&inputs["VersioningConfiguration"]).unwrap();
    assert_eq!(vc, json!({"Status": "Enabled"}));
    let second = &steps[1];
    assert_eq!(second.action(), Some("aws:assertAwsResourceProperty"));
    assert!(second.next_step().is_none());
    assert!(
        second.execution_start_time().unwrap().as_secs_f64()
            >= first.execution_end_time().unwrap().as_secs_f64()
    );

    // DescribeAutomationExecutions: the execution's metadata, by id and by tag key.
    for f in [
        filter(AutomationExecutionFilterKey::ExecutionId, &[&id]),
        filter(AutomationExecutionFilterKey::TagKey, &["team"]),
        filter(
            AutomationExecutionFilterKey::DocumentNamePrefix,
            &["AWS-Config"],
        ),
        filter(AutomationExecutionFilterKey::ExecutionStatus, &["Success"]),
        filter(AutomationExecutionFilterKey::AutomationType, &["Local"]),
    ] {
        let out = s
            .describe_automation_executions()
            .filters(f.clone())
            .send()
            .await
            .unwrap();
        let list = out.automation_execution_metadata_list();
        assert_eq!(list.len(), 1, "{f:?}: {list:?}");
        let m = &list[0];
        assert_eq!(m.automation_execution_id(), Some(id.as_str()));
        assert_eq!(m.document_name(), Some(VERSIONING));
        assert_eq!(m.document_version(), Some("1"));
        assert_eq!(
            m.automation_execution_status(),
            Some(&AutomationExecutionStatus::Success)
        );
        assert_eq!(m.automation_type(), Some(&AutomationType::Local));
        assert_eq!(m.mode(), Some(&ExecutionMode::Auto));
        assert_eq!(m.execution_start_time(), e.execution_start_time());
        assert_eq!(m.execution_end_time(), e.execution_end_time());
    }
    for f in [
        filter(AutomationExecutionFilterKey::TagKey, &["other"]),
        filter(
            AutomationExecutionFilterKey::DocumentNamePrefix,
            &["Custom"],
        ),
        filter(
            AutomationExecutionFilterKey::ExecutionStatus,
            &["Failed", "InProgress"],
        ),
        filter(
            AutomationExecutionFilterKey::AutomationType,
            &["CrossAccount"],
        ),
        filter(AutomationExecutionFilterKey::ParentExecutionId, &[&id]),
        filter(
            AutomationExecutionFilterKey::StartTimeBefore,
            &["2020-01-01T00:00:00Z"],
        ),
        filter(
            AutomationExecutionFilterKey::StartTimeAfter,
            &["2999-01-01"],
        ),
    ] {
        let out = s
            .describe_automation_executions()
            .filters(f.clone())
            .send()
            .await
            .unwrap();
        assert!(
            out.automation_execution_metadata_list().is_empty(),
            "{f:?}: {out:?}"
        );
    }
    let out = s
        .describe_automation_executions()
        .filters(filter(
            AutomationExecutionFilterKey::StartTimeAfter,
            &["2020-01-01T00:00:00Z"],
        ))
        .filters(filter(
            AutomationExecutionFilterKey::StartTimeBefore,
            &["2999-01-01T00:00:00Z"],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(out.automation_execution_metadata_list().len(), 1);

    // DescribeAutomationStepExecutions: order, reverse order, filters, paging.
    let all = s
        .describe_automation_step_executions()
        .automation_execution_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(all.step_executions(), steps);
    let rev = s
        .describe_automation_step_executions()
        .automation_execution_id(&id)
        .reverse_order(true)
        .send()
        .await
        .unwrap();
    let rev_names: Vec<_> = rev
        .step_executions()
        .iter()
        .map(|s| s.step_name().unwrap())
        .collect();
    assert_eq!(rev_names, ["VerifyVersioning", "ConfigureVersioning"]);
    for reverse in [false, true] {
        let mut token: Option<String> = None;
        let mut seen = Vec::new();
        loop {
            let page = s
                .describe_automation_step_executions()
                .automation_execution_id(&id)
                .reverse_order(reverse)
                .max_results(1)
                .set_next_token(token.clone())
                .send()
                .await
                .unwrap();
            assert!(page.step_executions().len() <= 1);
            seen.extend(
                page.step_executions()
                    .iter()
                    .map(|s| s.step_name().unwrap().to_string()),
            );
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        let want: Vec<_> = if reverse { &rev_names } else { &names }
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(seen, want);
    }
    let second_id = second.step_execution_id().unwrap();
    for (f, want) in [
        (
            step_filter(StepExecutionFilterKey::StepName, &["VerifyVersioning"]),
            vec!["VerifyVersioning"],
        ),
        (
            step_filter(StepExecutionFilterKey::Action, &["aws:executeAwsApi"]),
            vec!["ConfigureVersioning"],
        ),
        (
            step_filter(StepExecutionFilterKey::StepExecutionId, &[second_id]),
            vec!["VerifyVersioning"],
        ),
        (
            step_filter(StepExecutionFilterKey::StepExecutionStatus, &["Success"]),
            vec!["ConfigureVersioning", "VerifyVersioning"],
        ),
        (
            step_filter(
                StepExecutionFilterKey::StepExecutionStatus,
                &["Failed", "Cancelled"],
            ),
            vec![],
        ),
        (
            step_filter(
                StepExecutionFilterKey::StartTimeAfter,
                &["2999-01-01T00:00:00Z"],
            ),
            vec![],
        ),
        (
            step_filter(
                StepExecutionFilterKey::StartTimeBefore,
                &["2999-01-01T00:00:00Z"],
            ),
            vec!["ConfigureVersioning", "VerifyVersioning"],
        ),
    ] {
        let out = s
            .describe_automation_step_executions()
            .automation_execution_id(&id)
            .filters(f.clone())
            .send()
            .await
            .unwrap();
        let got: Vec<_> = out
            .step_executions()
            .iter()
            .map(|s| s.step_name().unwrap())
            .collect();
        assert_eq!(got, want, "{f:?}");
    }

    // A finished execution cannot be stopped.
    let err = s
        .stop_automation_execution()
        .automation_execution_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidAutomationStatusUpdateException");
    // Another Region of the same account does not see it.
    let elsewhere = server.ssm_client_as("test", "test", "eu-west-1");
    let err = elsewhere
        .get_automation_execution()
        .automation_execution_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "AutomationExecutionNotFoundException");
    assert!(elsewhere
        .describe_automation_executions()
        .send()
        .await
        .unwrap()
        .automation_execution_metadata_list()
        .is_empty());
}

#[tokio::test]
async fn failures_client_tokens_and_paging() {
    let server = Server::start();
    let s = server.ssm_client();

    // A bucket that was never recorded: the first step fails, the execution is Failed.
    let id = start_versioning(&s, "never-recorded").await;
    let e = wait_terminal(&s, &id).await;
    assert_eq!(
        e.automation_execution_status(),
        Some(&AutomationExecutionStatus::Failed)
    );
    assert!(e.failure_message().is_some_and(|m| !m.is_empty()), "{e:?}");
    let step = &e.step_executions()[0];
    assert_eq!(step.step_status(), Some(&AutomationExecutionStatus::Failed));
    assert!(step.failure_message().is_some());
    let details = step.failure_details().unwrap();
    assert_eq!(details.failure_stage(), Some("Invocation"));
    assert_eq!(details.failure_type(), Some("Action"));
    let failed = s
        .describe_automation_step_executions()
        .automation_execution_id(&id)
        .filters(step_filter(
            StepExecutionFilterKey::StepExecutionStatus,
            &["Failed"],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(failed.step_executions().len(), 1);

    // ClientToken: the same request again is the same execution (tokens are case-insensitive);
    // a different request with it is IdempotentParameterMismatch.
    let token = "6f1c1c2e-61a4-4bd0-9c8e-3d1e1f0a2b3c";
    let mut ids = Vec::new();
    for t in [token.to_string(), token.to_uppercase()] {
        let out = s
            .start_automation_execution()
            .document_name(VERSIONING)
            .set_parameters(Some(params(&[("BucketName", "token-bucket")])))
            .client_token(t)
            .send()
            .await
            .unwrap();
        ids.push(out.automation_execution_id().unwrap().to_string());
    }
    assert_eq!(ids[0], ids[1]);
    let err = s
        .start_automation_execution()
        .document_name(VERSIONING)
        .set_parameters(Some(params(&[("BucketName", "other-bucket")])))
        .client_token(token)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "IdempotentParameterMismatch");

    // Paging: every execution exactly once, newest first.
    let mut started = vec![id.clone(), ids[0].clone()];
    for i in 0..3 {
        started.push(start_versioning(&s, &format!("paged-{i}")).await);
    }
    for size in [1, 2, 50] {
        let mut token: Option<String> = None;
        let mut seen = Vec::new();
        loop {
            let page = s
                .describe_automation_executions()
                .max_results(size)
                .set_next_token(token.clone())
                .send()
                .await
                .unwrap();
            assert!(page.automation_execution_metadata_list().len() <= size as usize);
            seen.extend(
                page.automation_execution_metadata_list()
                    .iter()
                    .map(|m| m.automation_execution_id().unwrap().to_string()),
            );
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        let mut want = started.clone();
        want.reverse();
        assert_eq!(seen, want, "page size {size}");
    }
    // Paging with a filter that skips some.
    let out = s
        .describe_automation_executions()
        .filters(filter(
            AutomationExecutionFilterKey::ExecutionId,
            &[&started[0], &started[2], &started[4]],
        ))
        .max_results(2)
        .send()
        .await
        .unwrap();
    let got: Vec<_> = out
        .automation_execution_metadata_list()
        .iter()
        .map(|m| m.automation_execution_id().unwrap())
        .collect();
    assert_eq!(got, [started[4].as_str(), started[2].as_str()]);
    let rest = s
        .describe_automation_executions()
        .filters(filter(
            AutomationExecutionFilterKey::ExecutionId,
            &[&started[0], &started[2], &started[4]],
        ))
        .max_results(2)
        .next_token(out.next_token().unwrap())
        .send()
        .await
        .unwrap();
    let got: Vec<_> = rest
        .automation_execution_metadata_list()
        .iter()
        .map(|m| m.automation_execution_id().unwrap())
        .collect();
    assert_eq!(got, [started[0].as_str()]);
    assert!(rest.next_token().is_none());
}

/// Error code of a raw SSM call, and its status.
fn raw(server: &Server, op: &str, body: &Value) -> (u16, String, String) {
    let r = server.call_signed(
        &format!("AmazonSSM.{op}"),
        body.to_string().as_bytes(),
        "test",
        "test",
        REGION,
        "ssm",
    );
    if r.status == 200 {
        return (200, String::new(), String::new());
    }
    (r.status, r.error_type(), r.message())
}

#[tokio::test]
async fn errors_and_constraints_at_the_boundary_and_one_past_it() {
    let server = Server::start();
    let s = server.ssm_client();
    let bucket = json!({"BucketName": ["bounds-bucket"]});

    // Ids: exactly 36 characters.
    for op in [
        "GetAutomationExecution",
        "StopAutomationExecution",
        "DescribeAutomationStepExecutions",
    ] {
        let (status, code, _) = raw(&server, op, &json!({"AutomationExecutionId": UNKNOWN_ID}));
        assert_eq!(
            (status, code.as_str()),
            (400, "AutomationExecutionNotFoundException"),
            "{op}"
        );
        for bad in [&UNKNOWN_ID[1..], &format!("{UNKNOWN_ID}0")] {
            let (_, code, _) = raw(&server, op, &json!({"AutomationExecutionId": bad}));
            assert_eq!(code, "ValidationException", "{op} {bad}");
        }
        let (_, code, _) = raw(&server, op, &json!({}));
        assert_eq!(code, "ValidationException", "{op} without an id");
    }
    let (_, code, _) = raw(
        &server,
        "StopAutomationExecution",
        &json!({"AutomationExecutionId": UNKNOWN_ID, "Type": "Pause"}),
    );
    assert_eq!(code, "ValidationException");

    // Documents and versions.
    let start = |body: Value| raw(&server, "StartAutomationExecution", &body);
    let (_, code, _) = start(json!({"DocumentName": "No-Such-Runbook", "Parameters": bucket}));
    assert_eq!(code, "AutomationDefinitionNotFoundException");
    let (_, code, _) =
        start(json!({"DocumentName": VERSIONING, "DocumentVersion": "2", "Parameters": bucket}));
    assert_eq!(code, "AutomationDefinitionVersionNotFoundException");
    for v in ["1", "$LATEST", "$DEFAULT"] {
        let (status, code, msg) =
            start(json!({"DocumentName": VERSIONING, "DocumentVersion": v, "Parameters": bucket}));
        assert_eq!(status, 200, "{v}: {code} {msg}");
    }
    let (status, _, _) = start(json!({
        "DocumentName": format!("arn:aws:ssm:us-east-1:000000000000:document/{VERSIONING}"),
        "Parameters": bucket}));
    assert_eq!(status, 200, "a document ARN names the document");
    let (_, code, _) = start(json!({
        "DocumentName": format!("arn:aws:ssm:us-east-1:111122223333:document/{VERSIONING}"),
        "Parameters": bucket}));
    assert_eq!(
        code, "AutomationDefinitionNotFoundException",
        "another account's document"
    );
    let (_, code, _) =
        start(json!({"DocumentName": VERSIONING, "DocumentVersion": "0", "Parameters": bucket}));
    assert_eq!(code, "ValidationException");
    // DocumentName: 3..128 characters of the model's pattern.
    let (_, code, _) = start(json!({"DocumentName": "abc", "Parameters": bucket}));
    assert_eq!(code, "AutomationDefinitionNotFoundException");
    let (_, code, _) = start(json!({"DocumentName": "ab", "Parameters": bucket}));
    assert_eq!(code, "ValidationException");
    let (_, code, _) = start(json!({"DocumentName": "a".repeat(128), "Parameters": bucket}));
    assert_eq!(code, "AutomationDefinitionNotFoundException");
    let (_, code, _) = start(json!({"DocumentName": "a".repeat(129), "Parameters": bucket}));
    assert_eq!(code, "ValidationException");

    // Parameters: validated against the document.
    for (p, why) in [
        (json!({}), "missing required BucketName"),
        (
            json!({"BucketName": ["ok-bucket"], "Nope": ["x"]}),
            "undefined parameter",
        ),
        (json!({"BucketName": ["Not_A_Bucket!"]}), "allowedPattern"),
        (
            json!({"BucketName": ["ok-bucket"], "VersioningState": ["Sometimes"]}),
            "allowedValues",
        ),
        (
            json!({"BucketName": ["a-bucket", "two"]}),
            "a String takes one value",
        ),
    ] {
        let body = if p == json!({}) {
            json!({"DocumentName": VERSIONING})
        } else {
            json!({"DocumentName": VERSIONING, "Parameters": p})
        };
        let (_, code, msg) = start(body);
        assert_eq!(
            code, "InvalidAutomationExecutionParametersException",
            "{why}: {msg}"
        );
    }
    // Parameters map bounds: 1..200 keys of 1..50 characters, 0..50 values of 1..512 characters.
    // At the bound the model accepts (and the document refuses the undefined names); past it,
    // ValidationException.
    let keys = |n: usize| -> Value {
        let mut m = serde_json::Map::new();
        for i in 0..n {
            m.insert(format!("P{i}"), json!(["v"]));
        }
        Value::Object(m)
    };
    let doc = |p: Value| json!({"DocumentName": VERSIONING, "Parameters": p});
    assert_eq!(
        start(doc(keys(200))).1,
        "InvalidAutomationExecutionParametersException"
    );
    assert_eq!(start(doc(keys(201))).1, "ValidationException");
    assert_eq!(start(doc(json!({}))).1, "ValidationException");
    let k50 = "K".repeat(50);
    assert_eq!(
        start(doc(json!({k50: ["v"]}))).1,
        "InvalidAutomationExecutionParametersException"
    );
    let k51 = "K".repeat(51);
    assert_eq!(start(doc(json!({k51: ["v"]}))).1, "ValidationException");
    let fifty: Vec<String> = (0..50).map(|i| format!("v{i}")).collect();
    let mut fifty_one = fifty.clone();
    fifty_one.push("v50".into());
    assert_eq!(
        start(doc(json!({"BucketName": fifty}))).1,
        "InvalidAutomationExecutionParametersException"
    );
    assert_eq!(
        start(doc(json!({"BucketName": fifty_one}))).1,
        "ValidationException"
    );
    assert_eq!(
        start(doc(json!({"BucketName": ["x".repeat(512)]}))).1,
        "InvalidAutomationExecutionParametersException"
    );
    assert_eq!(
        start(doc(json!({"BucketName": ["x".repeat(513)]}))).1,
        "ValidationException"
    );
    assert_eq!(
        start(doc(json!({"BucketName": [""]}))).1,
        "ValidationException"
    );

    // Tags: at most 5 for an automation.
    let tags = |n: usize| -> Vec<Tag> { (0..n).map(|i| tag(&format!("k{i}"), "v")).collect() };
    let ok = s
        .start_automation_execution()
        .document_name(VERSIONING)
        .set_parameters(Some(params(&[("BucketName", "tagged-bucket")])))
        .set_tags(Some(tags(5)))
        .send()
        .await;
    assert!(ok.is_ok(), "{ok:?}");
    let err = s
        .start_automation_execution()
        .document_name(VERSIONING)
        .set_parameters(Some(params(&[("BucketName", "tagged-bucket")])))
        .set_tags(Some(tags(6)))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ValidationException");

    // ClientToken: a 36-character UUID.
    let (_, code, _) = start(json!({"DocumentName": VERSIONING, "Parameters": bucket,
        "ClientToken": "not-a-uuid-but-exactly-36-characters"}));
    assert_eq!(code, "ValidationException");
    let (status, code, _) = start(json!({"DocumentName": VERSIONING, "Parameters": bucket,
        "ClientToken": "0b0e6a4c-1d2f-4e5a-9b8c-7d6e5f4a3b2c"}));
    assert_eq!((status, code.as_str()), (200, ""));
    let (_, code, _) = start(json!({"DocumentName": VERSIONING, "Parameters": bucket,
        "ClientToken": "0b0e6a4c-1d2f-4e5a-9b8c-7d6e5f4a3b2cd"}));
    assert_eq!(code, "ValidationException");
    // Tag keys: 1..128 characters; values 0..256.
    for (k, v, ok) in [
        ("k".repeat(128), "v".repeat(256), true),
        ("k".repeat(129), "v".to_string(), false),
        ("k".to_string(), "v".repeat(257), false),
        (String::new(), "v".to_string(), false),
    ] {
        let (status, code, _) = start(json!({"DocumentName": VERSIONING, "Parameters": bucket,
            "Tags": [{"Key": k, "Value": v}]}));
        assert_eq!(status == 200, ok, "tag {}/{}: {code}", k.len(), v.len());
    }

    // What this server does not serve is refused, clearly.
    let err = s
        .start_automation_execution()
        .document_name(VERSIONING)
        .set_parameters(Some(params(&[("BucketName", "b-bucket")])))
        .mode(ExecutionMode::Interactive)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_code(&err),
        "InvalidAutomationExecutionParametersException"
    );
    assert!(error_message(&err).contains("Interactive"));
    let err = s
        .start_automation_execution()
        .document_name(VERSIONING)
        .target_parameter_name("BucketName")
        .targets(
            Target::builder()
                .key("ParameterValues")
                .values("b-bucket")
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_code(&err),
        "InvalidAutomationExecutionParametersException"
    );
    for (member, value) in [("MaxConcurrency", "10"), ("MaxErrors", "1")] {
        let (_, code, msg) =
            start(json!({"DocumentName": VERSIONING, "Parameters": bucket, member: value}));
        assert_eq!(
            code, "InvalidAutomationExecutionParametersException",
            "{member}"
        );
        assert!(msg.contains(member), "{msg}");
    }
    let (_, code, _) =
        start(json!({"DocumentName": VERSIONING, "Parameters": bucket, "MaxConcurrency": "0"}));
    assert_eq!(code, "ValidationException");
    let (_, code, _) = start(json!({"DocumentName": VERSIONING, "Parameters": bucket,
        "Targets": [{"Key": "ParameterValues", "Values": ["a"]}, {"Key": "ParameterValues", "Values": ["b"]}]}));
    assert_eq!(code, "ValidationException", "Targets: at most 1");

    // DescribeAutomationExecutions: MaxResults 1..50, filters 1..10 with 1..10 values of
    // 1..150 characters.
    let describe = |body: Value| raw(&server, "DescribeAutomationExecutions", &body);
    for (n, ok) in [(0, false), (1, true), (50, true), (51, false)] {
        let (status, code, _) = describe(json!({"MaxResults": n}));
        assert_eq!(status == 200, ok, "MaxResults {n}: {code}");
    }
    let prefix = |v: &str| json!({"Key": "DocumentNamePrefix", "Values": [v]});
    for (n, ok) in [(0, false), (1, true), (10, true), (11, false)] {
        let filters: Vec<Value> = (0..n).map(|_| prefix("AWS")).collect();
        let (status, code, _) = describe(json!({"Filters": filters}));
        assert_eq!(status == 200, ok, "{n} filters: {code}");
    }
    for (n, ok) in [(0, false), (1, true), (10, true), (11, false)] {
        let values: Vec<String> = (0..n).map(|i| format!("AWS{i}")).collect();
        let (status, code, _) =
            describe(json!({"Filters": [{"Key": "DocumentNamePrefix", "Values": values}]}));
        assert_eq!(status == 200, ok, "{n} values: {code}");
    }
    for (len, ok) in [(150, true), (151, false)] {
        let (status, code, _) = describe(json!({"Filters": [prefix(&"A".repeat(len))]}));
        assert_eq!(status == 200, ok, "value of {len}: {code}");
    }
    let (_, code, _) = describe(json!({"Filters": [{"Key": "Colour", "Values": ["x"]}]}));
    assert_eq!(code, "ValidationException");
    let (_, code, _) =
        describe(json!({"Filters": [{"Key": "ExecutionStatus", "Values": ["Sleeping"]}]}));
    assert_eq!(code, "InvalidFilterValue");
    let (_, code, _) =
        describe(json!({"Filters": [{"Key": "StartTimeBefore", "Values": ["yesterday"]}]}));
    assert_eq!(code, "InvalidFilterValue");
    let (_, code, _) = describe(
        json!({"Filters": [{"Key": "StartTimeBefore", "Values": ["2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z"]}]}),
    );
    assert_eq!(code, "InvalidFilterValue");
    let (_, code, _) =
        describe(json!({"Filters": [{"Key": "AutomationType", "Values": ["Remote"]}]}));
    assert_eq!(code, "InvalidFilterValue");
    let (_, code, _) = describe(json!({"NextToken": "garbage"}));
    assert_eq!(code, "InvalidNextToken");

    // DescribeAutomationStepExecutions: the same bounds, at most 6 filters; a token is for the
    // order it was minted in.
    record_bucket(&server.client(), "steps-bucket", "Off").await;
    let id = start_versioning(&s, "steps-bucket").await;
    wait_terminal(&s, &id).await;
    let steps = |extra: Value| {
        let mut body = json!({"AutomationExecutionId": id});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        raw(&server, "DescribeAutomationStepExecutions", &body)
    };
    for (n, ok) in [(0, false), (1, true), (50, true), (51, false)] {
        let (status, code, _) = steps(json!({"MaxResults": n}));
        assert_eq!(status == 200, ok, "MaxResults {n}: {code}");
    }
    let name = json!({"Key": "StepName", "Values": ["VerifyVersioning"]});
    for (n, ok) in [(6, true), (7, false)] {
        let filters: Vec<Value> = (0..n).map(|_| name.clone()).collect();
        let (status, code, _) = steps(json!({"Filters": filters}));
        assert_eq!(status == 200, ok, "{n} filters: {code}");
    }
    for (n, ok) in [(10, true), (11, false)] {
        let values: Vec<String> = (0..n).map(|i| format!("S{i}")).collect();
        let (status, code, _) = steps(json!({"Filters": [{"Key": "StepName", "Values": values}]}));
        assert_eq!(status == 200, ok, "{n} values: {code}");
    }
    let (_, code, _) =
        steps(json!({"Filters": [{"Key": "StepExecutionStatus", "Values": ["Done"]}]}));
    assert_eq!(code, "InvalidFilterValue");
    let (_, code, _) = steps(json!({"NextToken": "garbage"}));
    assert_eq!(code, "InvalidNextToken");
    let first = s
        .describe_automation_step_executions()
        .automation_execution_id(&id)
        .max_results(1)
        .send()
        .await
        .unwrap();
    let err = s
        .describe_automation_step_executions()
        .automation_execution_id(&id)
        .max_results(1)
        .reverse_order(true)
        .next_token(first.next_token().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidNextToken");

    // Stop: Complete does not apply to a plain automation; unknown ids are not found.
    let err = s
        .stop_automation_execution()
        .automation_execution_id(UNKNOWN_ID)
        .r#type(StopType::Cancel)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "AutomationExecutionNotFoundException");
    let err = s
        .stop_automation_execution()
        .automation_execution_id(&id)
        .r#type(StopType::Complete)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidAutomationStatusUpdateException");
}

// ---- a remediation execution through both APIs ------------------------------------------------

async fn put_versioning_rule(c: &config::Client, rule: &str) {
    c.put_config_rule()
        .config_rule(managed_rule(rule))
        .send()
        .await
        .unwrap();
}

async fn wait_non_compliant(c: &config::Client, rule: &str, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = c
            .get_compliance_details_by_config_rule()
            .config_rule_name(rule)
            .send()
            .await
            .unwrap();
        let found = out.evaluation_results().iter().any(|r| {
            r.compliance_type() == Some(&ComplianceType::NonCompliant)
                && r.evaluation_result_identifier()
                    .and_then(|i| i.evaluation_result_qualifier())
                    .and_then(|q| q.resource_id())
                    == Some(id)
        });
        if found {
            return;
        }
        assert!(Instant::now() < deadline, "{rule}/{id} not NON_COMPLIANT");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The Config state an automation status maps to (spec §4.7, and the stored-state table in
/// `api/ssm_automation.rs`).
fn config_state(s: &AutomationExecutionStatus) -> RemediationExecutionState {
    match s {
        AutomationExecutionStatus::Pending => RemediationExecutionState::Queued,
        AutomationExecutionStatus::Success => RemediationExecutionState::Succeeded,
        AutomationExecutionStatus::Failed
        | AutomationExecutionStatus::Timedout
        | AutomationExecutionStatus::Cancelled => RemediationExecutionState::Failed,
        _ => RemediationExecutionState::InProgress,
    }
}

fn config_step_state(s: &AutomationExecutionStatus) -> RemediationExecutionStepState {
    match s {
        AutomationExecutionStatus::Pending => RemediationExecutionStepState::Pending,
        AutomationExecutionStatus::Success => RemediationExecutionStepState::Succeeded,
        AutomationExecutionStatus::Failed
        | AutomationExecutionStatus::Timedout
        | AutomationExecutionStatus::Cancelled => RemediationExecutionStepState::Failed,
        _ => RemediationExecutionStepState::InProgress,
    }
}

/// Config's status of the key and SSM's view of the same execution agree: state, step names,
/// step states and times.
async fn assert_consistent(
    c: &config::Client,
    s: &ssm::Client,
    rule: &str,
    resource: &str,
    id: &str,
) -> AutomationExecution {
    let status = c
        .describe_remediation_execution_status()
        .config_rule_name(rule)
        .resource_keys(bucket_key(resource))
        .send()
        .await
        .unwrap()
        .remediation_execution_statuses()[0]
        .clone();
    let e = get(s, id).await;
    let again = c
        .describe_remediation_execution_status()
        .config_rule_name(rule)
        .resource_keys(bucket_key(resource))
        .send()
        .await
        .unwrap()
        .remediation_execution_statuses()[0]
        .clone();
    // Only compare a moment when nothing moved between the two Config reads.
    if status != again {
        return e;
    }
    assert_eq!(
        status.state(),
        Some(&config_state(e.automation_execution_status().unwrap())),
        "{status:?} / {e:?}"
    );
    let config_steps = status.step_details();
    let ssm_steps = e.step_executions();
    assert_eq!(config_steps.len(), ssm_steps.len(), "{status:?} / {e:?}");
    for (a, b) in config_steps.iter().zip(ssm_steps) {
        assert_eq!(a.name(), b.step_name());
        assert_eq!(
            a.state(),
            Some(&config_step_state(b.step_status().unwrap()))
        );
        assert_eq!(a.start_time(), b.execution_start_time());
        assert_eq!(a.stop_time(), b.execution_end_time());
        assert_eq!(a.error_message(), b.failure_message());
    }
    assert_eq!(status.invocation_time(), e.execution_start_time());
    e
}

#[tokio::test]
async fn a_remediation_execution_is_an_automation_execution() {
    let server = Server::start();
    let c = server.client();
    let s = server.ssm_client();
    record_bucket(&c, "remediated", "Off").await;
    put_versioning_rule(&c, "versioning").await;
    wait_non_compliant(&c, "versioning", "remediated").await;
    c.put_remediation_configurations()
        .remediation_configurations(remediation_config("versioning", VERSIONING))
        .send()
        .await
        .unwrap();
    let out = c
        .start_remediation_execution()
        .config_rule_name("versioning")
        .resource_keys(bucket_key("remediated"))
        .send()
        .await
        .unwrap();
    assert!(out.failed_items().is_empty(), "{out:?}");

    // The execution Config started is listed by SSM.
    let listed = s
        .describe_automation_executions()
        .filters(filter(
            AutomationExecutionFilterKey::DocumentNamePrefix,
            &[VERSIONING],
        ))
        .send()
        .await
        .unwrap();
    let list = listed.automation_execution_metadata_list();
    assert_eq!(list.len(), 1, "{list:?}");
    let id = list[0].automation_execution_id().unwrap().to_string();
    assert_eq!(
        list[0].executed_by(),
        Some("arn:aws:iam::000000000000:role/aws-service-role/remediation.config.amazonaws.com/AWSServiceRoleForConfigRemediation")
    );
    // Every moment until it ends, both APIs agree.
    let deadline = Instant::now() + Duration::from_secs(30);
    let e = loop {
        let e = assert_consistent(&c, &s, "versioning", "remediated", &id).await;
        if is_terminal(e.automation_execution_status()) {
            break e;
        }
        assert!(Instant::now() < deadline, "not terminal: {e:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        e.automation_execution_status(),
        Some(&AutomationExecutionStatus::Success)
    );
    assert_consistent(&c, &s, "versioning", "remediated", &id).await;
    let p = e.parameters().unwrap();
    assert_eq!(p["BucketName"], vec!["remediated".to_string()]);
    assert_eq!(p["AutomationAssumeRole"], vec![ROLE.to_string()]);
    assert_eq!(versioning_of(&c, "remediated").await, "Enabled");

    // A remediation's automation, once over, cannot be stopped either.
    let err = s
        .stop_automation_execution()
        .automation_execution_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidAutomationStatusUpdateException");
}

// ---- custom runbooks (CreateDocument) ---------------------------------------------------------

/// Reads the bucket's versioning, branches on it, probes for Enabled (2 attempts; on failure
/// jumps to Enable), enables, verifies, and reads it back; document outputs from two steps.
const CUSTOM: &str = r#"
schemaVersion: '0.3'
description: Enables versioning on a suspended bucket, the long way round.
assumeRole: '{{ AutomationAssumeRole }}'
parameters:
  BucketName:
    type: String
    allowedPattern: '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$'
  AutomationAssumeRole:
    type: String
    default: ''
outputs:
  - ReadVersioning.Status
  - Final.Status
mainSteps:
  - name: ReadVersioning
    action: aws:executeAwsApi
    inputs:
      Service: s3
      Api: GetBucketVersioning
      Bucket: '{{ BucketName }}'
    outputs:
      - Name: Status
        Selector: $.Status
        Type: String
  - name: Choose
    action: aws:branch
    inputs:
      Choices:
        - NextStep: Probe
          Variable: '{{ ReadVersioning.Status }}'
          StringEquals: Suspended
      Default: Final
  - name: Probe
    action: aws:assertAwsResourceProperty
    maxAttempts: 2
    onFailure: step:Enable
    isCritical: false
    inputs:
      Service: s3
      Api: GetBucketVersioning
      Bucket: '{{ BucketName }}'
      PropertySelector: $.Status
      DesiredValues:
        - Enabled
    nextStep: Final
  - name: Enable
    action: aws:executeAwsApi
    inputs:
      Service: s3
      Api: PutBucketVersioning
      Bucket: '{{ BucketName }}'
      VersioningConfiguration:
        Status: Enabled
  - name: Verify
    action: aws:assertAwsResourceProperty
    inputs:
      Service: s3
      Api: GetBucketVersioning
      Bucket: '{{ BucketName }}'
      PropertySelector: $.Status
      DesiredValues:
        - Enabled
  - name: Final
    action: aws:executeAwsApi
    isEnd: true
    inputs:
      Service: s3
      Api: GetBucketVersioning
      Bucket: '{{ BucketName }}'
    outputs:
      - Name: Status
        Selector: $.Status
        Type: String
"#;

const NAPPER: &str = r#"
schemaVersion: '0.3'
parameters:
  BucketName:
    type: String
  Nap:
    type: String
    default: PT1H
mainSteps:
  - name: Touch
    action: aws:executeAwsApi
    inputs:
      Service: s3
      Api: PutBucketVersioning
      Bucket: '{{ BucketName }}'
      VersioningConfiguration:
        Status: Enabled
  - name: Nap
    action: aws:sleep
    inputs:
      Duration: '{{ Nap }}'
  - name: After
    action: aws:executeAwsApi
    inputs:
      Service: s3
      Api: GetBucketVersioning
      Bucket: '{{ BucketName }}'
    outputs:
      - Name: Status
        Selector: $.Status
        Type: String
outputs:
  - After.Status
"#;

fn names(e: &AutomationExecution) -> Vec<&str> {
    e.step_executions()
        .iter()
        .map(|s| s.step_name().unwrap())
        .collect()
}

const CUSTOM_STEPS: [&str; 6] = [
    "ReadVersioning",
    "Choose",
    "Probe",
    "Enable",
    "Verify",
    "Final",
];

/// What the custom runbook's run over a suspended bucket shows through SSM.
fn assert_custom_run(e: &AutomationExecution) {
    assert_eq!(
        e.automation_execution_status(),
        Some(&AutomationExecutionStatus::Success),
        "{e:?}"
    );
    assert_eq!(names(e), CUSTOM_STEPS);
    let steps = e.step_executions();
    for (i, st) in steps.iter().enumerate() {
        let want = if i == 2 {
            AutomationExecutionStatus::Failed
        } else {
            AutomationExecutionStatus::Success
        };
        assert_eq!(st.step_status(), Some(&want), "{st:?}");
    }
    let probe = &steps[2];
    assert_eq!(probe.max_attempts(), Some(2));
    assert_eq!(probe.on_failure(), Some("step:Enable"));
    assert_eq!(probe.is_critical(), Some(false));
    assert_eq!(probe.next_step(), Some("Enable"));
    assert!(probe.failure_message().is_some());
    assert_eq!(
        probe.failure_details().and_then(|d| d.failure_type()),
        Some("Verification")
    );
    assert_eq!(steps[1].action(), Some("aws:branch"));
    assert_eq!(steps[1].next_step(), Some("Probe"));
    assert_eq!(steps[0].outputs().unwrap()["Status"], vec!["Suspended"]);
    assert_eq!(steps[5].is_end(), Some(true));
    let outputs = e.outputs().unwrap();
    assert_eq!(outputs["ReadVersioning.Status"], vec!["Suspended"]);
    assert_eq!(outputs["Final.Status"], vec!["Enabled"]);
}

#[tokio::test]
async fn a_custom_runbook_through_remediation_and_directly() {
    let server = Server::start();
    let c = server.client();
    let s = server.ssm_client();
    create_runbook(&s, "Team-SuspendedToEnabled", CUSTOM).await;
    record_bucket(&c, "suspended-one", "Suspended").await;
    record_bucket(&c, "suspended-two", "Suspended").await;
    put_versioning_rule(&c, "versioning").await;
    wait_non_compliant(&c, "versioning", "suspended-one").await;

    // Used in a remediation configuration and started by Config.
    c.put_remediation_configurations()
        .remediation_configurations(remediation_config("versioning", "Team-SuspendedToEnabled"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}", config::error::DisplayErrorContext(e)));
    let out = c
        .start_remediation_execution()
        .config_rule_name("versioning")
        .resource_keys(bucket_key("suspended-one"))
        .send()
        .await
        .unwrap();
    assert!(out.failed_items().is_empty(), "{out:?}");
    let listed = s
        .describe_automation_executions()
        .filters(filter(
            AutomationExecutionFilterKey::DocumentNamePrefix,
            &["Team-"],
        ))
        .send()
        .await
        .unwrap();
    let id = listed.automation_execution_metadata_list()[0]
        .automation_execution_id()
        .unwrap()
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    let e = loop {
        let e = assert_consistent(&c, &s, "versioning", "suspended-one", &id).await;
        if is_terminal(e.automation_execution_status()) {
            break e;
        }
        assert!(Instant::now() < deadline, "not terminal: {e:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_custom_run(&e);
    assert_eq!(e.document_name(), Some("Team-SuspendedToEnabled"));
    assert_eq!(e.document_version(), Some("1"));
    // Config's side of the same run.
    let e = assert_consistent(&c, &s, "versioning", "suspended-one", &id).await;
    assert_custom_run(&e);
    let status = c
        .describe_remediation_execution_status()
        .config_rule_name("versioning")
        .send()
        .await
        .unwrap()
        .remediation_execution_statuses()[0]
        .clone();
    assert_eq!(status.state(), Some(&RemediationExecutionState::Succeeded));
    let config_names: Vec<_> = status
        .step_details()
        .iter()
        .map(|d| d.name().unwrap())
        .collect();
    assert_eq!(config_names, CUSTOM_STEPS);
    assert_eq!(
        status.step_details()[2].state(),
        Some(&RemediationExecutionStepState::Failed)
    );
    assert_eq!(versioning_of(&c, "suspended-one").await, "Enabled");
    // DescribeAutomationStepExecutions: the failed probe, by status and by name.
    let failed = s
        .describe_automation_step_executions()
        .automation_execution_id(&id)
        .filters(step_filter(
            StepExecutionFilterKey::StepExecutionStatus,
            &["Failed"],
        ))
        .send()
        .await
        .unwrap();
    let failed_names: Vec<_> = failed
        .step_executions()
        .iter()
        .map(|s| s.step_name().unwrap())
        .collect();
    assert_eq!(failed_names, ["Probe"]);

    // The same document started directly.
    let direct = s
        .start_automation_execution()
        .document_name("Team-SuspendedToEnabled")
        .parameters("BucketName", vec!["suspended-two".into()])
        .send()
        .await
        .unwrap()
        .automation_execution_id()
        .unwrap()
        .to_string();
    let e = wait_terminal(&s, &direct).await;
    assert_custom_run(&e);
    assert_eq!(versioning_of(&c, "suspended-two").await, "Enabled");

    // Versions: an execution records the version it resolved to.
    s.update_document()
        .name("Team-SuspendedToEnabled")
        .content(CUSTOM.replace("the long way round", "version two"))
        .document_format(ssm::types::DocumentFormat::Yaml)
        .document_version("$LATEST")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}", ssm::error::DisplayErrorContext(e)));
    record_bucket(&c, "suspended-three", "Suspended").await;
    for (asked, resolved) in [(None, "1"), (Some("$LATEST"), "2"), (Some("2"), "2")] {
        let id = s
            .start_automation_execution()
            .document_name("Team-SuspendedToEnabled")
            .set_document_version(asked.map(str::to_string))
            .parameters("BucketName", vec!["suspended-three".into()])
            .send()
            .await
            .unwrap()
            .automation_execution_id()
            .unwrap()
            .to_string();
        let e = wait_terminal(&s, &id).await;
        assert_eq!(e.document_version(), Some(resolved), "{asked:?}");
    }
    let err = s
        .start_automation_execution()
        .document_name("Team-SuspendedToEnabled")
        .document_version("3")
        .parameters("BucketName", vec!["suspended-three".into()])
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_code(&err),
        "AutomationDefinitionVersionNotFoundException"
    );
}

#[tokio::test]
async fn stop_cancels_a_sleeping_execution() {
    let server = Server::start();
    let c = server.client();
    let s = server.ssm_client();
    create_runbook(&s, "Team-Napper", NAPPER).await;
    record_bucket(&c, "napping", "Off").await;
    let id = s
        .start_automation_execution()
        .document_name("Team-Napper")
        .parameters("BucketName", vec!["napping".into()])
        .send()
        .await
        .unwrap()
        .automation_execution_id()
        .unwrap()
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let e = get(&s, &id).await;
        if e.current_action() == Some("aws:sleep") && names(&e) == ["Touch", "Nap"] {
            assert_eq!(
                e.automation_execution_status(),
                Some(&AutomationExecutionStatus::Inprogress)
            );
            assert_eq!(e.current_step_name(), Some("Nap"));
            break;
        }
        assert!(Instant::now() < deadline, "never slept: {e:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    s.stop_automation_execution()
        .automation_execution_id(&id)
        .r#type(StopType::Cancel)
        .send()
        .await
        .unwrap();
    let e = get(&s, &id).await;
    assert_eq!(
        e.automation_execution_status(),
        Some(&AutomationExecutionStatus::Cancelled),
        "{e:?}"
    );
    assert_eq!(names(&e), ["Touch", "Nap"]);
    assert_eq!(
        e.step_executions()[1].step_status(),
        Some(&AutomationExecutionStatus::Cancelled)
    );
    assert!(e.execution_end_time().is_some());
    assert!(e.outputs().unwrap().is_empty());
    let listed = s
        .describe_automation_executions()
        .filters(filter(
            AutomationExecutionFilterKey::ExecutionStatus,
            &["Cancelled"],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.automation_execution_metadata_list().len(), 1);
    let err = s
        .stop_automation_execution()
        .automation_execution_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidAutomationStatusUpdateException");
}

/// The server is killed (SIGKILL) while an execution sleeps; after the restart it resumes at its
/// stored wake-up time and completes, each step once.
#[tokio::test]
async fn a_sleeping_execution_survives_a_kill() {
    let mut server = Server::start();
    let s = server.ssm_client();
    create_runbook(&s, "Team-Napper", NAPPER).await;
    record_bucket(&server.client(), "crash-nap", "Off").await;
    let id = s
        .start_automation_execution()
        .document_name("Team-Napper")
        .parameters("BucketName", vec!["crash-nap".into()])
        .parameters("Nap", vec!["PT3S".into()])
        .send()
        .await
        .unwrap()
        .automation_execution_id()
        .unwrap()
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let e = get(&s, &id).await;
        if e.current_action() == Some("aws:sleep") {
            break;
        }
        assert!(
            !is_terminal(e.automation_execution_status()),
            "ended before its sleep: {e:?}"
        );
        assert!(Instant::now() < deadline, "never slept: {e:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.restart();
    let s = server.ssm_client();
    let e = wait_terminal(&s, &id).await;
    assert_eq!(
        e.automation_execution_status(),
        Some(&AutomationExecutionStatus::Success),
        "{e:?}"
    );
    assert_eq!(names(&e), ["Touch", "Nap", "After"]);
    assert_eq!(e.outputs().unwrap()["After.Status"], vec!["Enabled"]);
    let nap = &e.step_executions()[1];
    let slept = nap.execution_end_time().unwrap().as_secs_f64()
        - nap.execution_start_time().unwrap().as_secs_f64();
    assert!(slept >= 3.0, "slept {slept} s");
    assert_eq!(
        versioning_of(&server.client(), "crash-nap").await,
        "Enabled"
    );
}
