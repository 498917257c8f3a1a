//! StopAutomationExecution in process, in each place an execution can be: queued (no worker
//! yet), waiting (an `aws:sleep` committed, no lease held) and held by a worker (the stop is
//! marked, shown as Cancelling, and honoured at that worker's next fenced commit; a worker with
//! an older token cannot write over it). Config's view of a remediation stays consistent.

use std::sync::Arc;
use std::time::{Duration, Instant};

use remedy_automation::Runbook;
use serde_json::{json, Value};

use crate::app::{App, Settings};
use crate::auth::StaticCredentials;
use crate::domain::Scope;
use crate::protocol::RequestContext;
use crate::remediation::runbooks::{BuiltinRunbooks, ResolvedRunbook, RunbookSource};
use crate::store::executions::{CommitOutcome, StepCommit, STATE_IN_PROGRESS};
use crate::store::sqlite::SqliteStore;
use remedy_wire::config::Operation as ConfigOp;
use remedy_wire::ssm::Operation as Op;

const DOCUMENT: &str = "Test-Napper";

const RUNBOOK: &str = r#"
schemaVersion: '0.3'
parameters:
  BucketName:
    type: String
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
      Duration: PT1H
  - name: After
    action: aws:executeAwsApi
    inputs:
      Service: s3
      Api: GetBucketVersioning
      Bucket: '{{ BucketName }}'
"#;

struct WithNapper(Arc<Runbook>);

#[async_trait::async_trait]
impl RunbookSource for WithNapper {
    async fn resolve(
        &self,
        scope: &Scope,
        name: &str,
        version: Option<&str>,
    ) -> crate::store::StoreResult<Option<ResolvedRunbook>> {
        if name == DOCUMENT {
            return Ok(Some(ResolvedRunbook {
                name: name.to_string(),
                version: "1".into(),
                runbook: self.0.clone(),
            }));
        }
        BuiltinRunbooks.resolve(scope, name, version).await
    }
}

fn app(path: &std::path::Path) -> Arc<App> {
    let mut app = App::new(
        Arc::new(SqliteStore::open(path).unwrap()),
        Arc::new(StaticCredentials::local_default()),
        Settings::default(),
    );
    app.runbooks = Arc::new(WithNapper(Arc::new(Runbook::parse(RUNBOOK).unwrap())));
    Arc::new(app)
}

fn scope() -> Scope {
    Scope::new("000000000000", "us-east-1")
}

fn ctx() -> RequestContext {
    RequestContext {
        request_id: "t".into(),
        scope: scope(),
        access_key_id: "test".into(),
    }
}

async fn call(app: &App, op: ConfigOp, body: Value) -> Value {
    let out = crate::api::dispatch_config(app, &ctx(), op, body.to_string().as_bytes())
        .await
        .unwrap_or_else(|e| panic!("{op:?}: {e:?}"));
    serde_json::from_slice(&out).unwrap()
}

async fn ssm(app: &App, op: Op, body: Value) -> Result<Value, crate::error::ApiError> {
    let out = crate::api::dispatch_ssm(app, &ctx(), op, body.to_string().as_bytes()).await?;
    Ok(serde_json::from_slice(&out).unwrap())
}

async fn start(app: &App, bucket: &str) -> String {
    let out = ssm(
        app,
        Op::StartAutomationExecution,
        json!({"DocumentName": DOCUMENT, "Parameters": {"BucketName": [bucket]}}),
    )
    .await
    .unwrap();
    out["AutomationExecutionId"].as_str().unwrap().to_string()
}

async fn get(app: &App, id: &str) -> Value {
    ssm(
        app,
        Op::GetAutomationExecution,
        json!({"AutomationExecutionId": id}),
    )
    .await
    .unwrap()["AutomationExecution"]
        .clone()
}

async fn stop(app: &App, id: &str) -> Result<Value, crate::error::ApiError> {
    ssm(
        app,
        Op::StopAutomationExecution,
        json!({"AutomationExecutionId": id}),
    )
    .await
}

fn step_names(e: &Value) -> Vec<&str> {
    e["StepExecutions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["StepName"].as_str().unwrap())
        .collect()
}

fn bucket(name: &str) -> Value {
    json!({
        "resourceType": "AWS::S3::Bucket", "resourceId": name, "resourceName": name,
        "arn": format!("arn:aws:s3:::{name}"), "availabilityZone": "Regional",
        "configuration": json!({"name": name}).to_string(),
        "supplementaryConfiguration": {
            "BucketVersioningConfiguration": json!({"status": "Off", "isMfaDeleteEnabled": null}).to_string()
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_reaches_queued_waiting_and_held_executions() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir.path().join("remedy.db"));
    call(
        &app,
        ConfigOp::PutResourceConfig,
        json!({"ResourceType": "AWS::S3::Bucket", "SchemaVersionId": "ConfigurationItem",
            "ResourceId": "napping-bucket", "Configuration": bucket("napping-bucket").to_string()}),
    )
    .await;

    // Queued (no engine yet): Pending, then cancelled by the stop itself, before any step.
    let queued = start(&app, "napping-bucket").await;
    assert_eq!(
        get(&app, &queued).await["AutomationExecutionStatus"],
        "Pending"
    );
    assert_eq!(get(&app, &queued).await["CurrentStepName"], "Touch");
    stop(&app, &queued).await.unwrap();
    let e = get(&app, &queued).await;
    assert_eq!(e["AutomationExecutionStatus"], "Cancelled", "{e}");
    assert!(step_names(&e).is_empty());
    assert!(e["ExecutionEndTime"].is_number());
    let again = stop(&app, &queued).await.unwrap_err();
    assert_eq!(again.code, "InvalidAutomationStatusUpdateException");

    // Held by a worker: the stop is marked (Cancelling); the worker's next commit ends it; a
    // commit with the token it held before is refused.
    let held = start(&app, "napping-bucket").await;
    let claimed = app
        .store
        .claim_executions("test-worker", crate::time::now(), 30.0, 10)
        .await
        .unwrap();
    let rec = claimed.into_iter().find(|r| r.id == held).unwrap();
    assert_eq!(
        get(&app, &held).await["AutomationExecutionStatus"],
        "InProgress"
    );
    stop(&app, &held).await.unwrap();
    let e = get(&app, &held).await;
    assert_eq!(e["AutomationExecutionStatus"], "Cancelling", "{e}");
    let commit = StepCommit {
        id: held.clone(),
        fence: rec.fence,
        state: STATE_IN_PROGRESS.into(),
        execution_state: rec.execution_state.clone(),
        now: crate::time::now(),
        wake_at: None,
    };
    assert_eq!(
        app.store.commit_step(&commit).await.unwrap(),
        CommitOutcome::Cancelled
    );
    assert_eq!(
        get(&app, &held).await["AutomationExecutionStatus"],
        "Cancelled"
    );
    assert_eq!(
        app.store.commit_step(&commit).await.unwrap(),
        CommitOutcome::Stale
    );

    // Waiting: the engine runs the first step and commits the sleep; the stop cancels the
    // sleeping step and the execution; the step after it never runs.
    let engine = crate::remediation::engine::start(app.clone());
    let waiting = start(&app, "napping-bucket").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let e = get(&app, &waiting).await;
        if step_names(&e) == ["Touch", "Nap"] {
            assert_eq!(e["AutomationExecutionStatus"], "InProgress", "{e}");
            assert_eq!(e["CurrentStepName"], "Nap");
            assert_eq!(e["CurrentAction"], "aws:sleep");
            assert_eq!(e["StepExecutions"][1]["StepStatus"], "InProgress");
            break;
        }
        assert!(Instant::now() < deadline, "never reached its sleep: {e}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let running = ssm(
        &app,
        Op::DescribeAutomationExecutions,
        json!({"Filters": [{"Key": "CurrentAction", "Values": ["aws:sleep"]}]}),
    )
    .await
    .unwrap();
    let list = running["AutomationExecutionMetadataList"]
        .as_array()
        .unwrap();
    assert_eq!(list.len(), 1, "{running}");
    assert_eq!(list[0]["AutomationExecutionId"], waiting.as_str());
    stop(&app, &waiting).await.unwrap();
    engine.stop().await;
    let e = get(&app, &waiting).await;
    assert_eq!(e["AutomationExecutionStatus"], "Cancelled", "{e}");
    assert_eq!(step_names(&e), ["Touch", "Nap"]);
    assert_eq!(e["StepExecutions"][0]["StepStatus"], "Success");
    assert_eq!(e["StepExecutions"][1]["StepStatus"], "Cancelled");
    assert!(e["StepExecutions"][1]["ExecutionEndTime"].is_number());
    assert!(e.get("CurrentStepName").is_none());
    assert!(e["FailureMessage"].as_str().is_some_and(|m| !m.is_empty()));
    let rec = app.store.get_execution(&waiting).await.unwrap().unwrap();
    assert_eq!(rec.state, "FAILED");
}

/// Config's status of the one key, and SSM's view of its execution.
async fn both(app: &App, id: &str) -> (Value, Value) {
    let status = call(
        app,
        ConfigOp::DescribeRemediationExecutionStatus,
        json!({"ConfigRuleName": "versioning"}),
    )
    .await["RemediationExecutionStatuses"][0]
        .clone();
    (status, get(app, id).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_a_remediations_automation_ends_the_remediation_failed() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir.path().join("remedy.db"));
    call(
        &app,
        ConfigOp::PutResourceConfig,
        json!({"ResourceType": "AWS::S3::Bucket", "SchemaVersionId": "ConfigurationItem",
            "ResourceId": "napping-bucket", "Configuration": bucket("napping-bucket").to_string()}),
    )
    .await;
    call(
        &app,
        ConfigOp::PutConfigRule,
        json!({"ConfigRule": {"ConfigRuleName": "versioning",
            "Source": {"Owner": "AWS", "SourceIdentifier": "S3_BUCKET_VERSIONING_ENABLED"}}}),
    )
    .await;
    call(
        &app,
        ConfigOp::PutRemediationConfigurations,
        json!({"RemediationConfigurations": [{
            "ConfigRuleName": "versioning", "TargetType": "SSM_DOCUMENT", "TargetId": DOCUMENT,
            "Parameters": {"BucketName": {"ResourceValue": {"Value": "RESOURCE_ID"}}}}]}),
    )
    .await;
    let out = call(
        &app,
        ConfigOp::StartRemediationExecution,
        json!({"ConfigRuleName": "versioning",
            "ResourceKeys": [{"resourceType": "AWS::S3::Bucket", "resourceId": "napping-bucket"}]}),
    )
    .await;
    assert!(out.get("FailedItems").is_none(), "{out}");
    let listed = ssm(&app, Op::DescribeAutomationExecutions, json!({}))
        .await
        .unwrap();
    let id = listed["AutomationExecutionMetadataList"][0]["AutomationExecutionId"]
        .as_str()
        .unwrap()
        .to_string();

    // Queued: QUEUED and Pending.
    let (status, e) = both(&app, &id).await;
    assert_eq!(status["State"], "QUEUED");
    assert_eq!(e["AutomationExecutionStatus"], "Pending");
    assert_eq!(status["InvocationTime"], e["ExecutionStartTime"]);

    // Asleep: IN_PROGRESS and InProgress, the same steps with the same states and times.
    let engine = crate::remediation::engine::start(app.clone());
    let deadline = Instant::now() + Duration::from_secs(30);
    let (status, e) = loop {
        let (status, e) = both(&app, &id).await;
        if step_names(&e) == ["Touch", "Nap"] {
            break (status, e);
        }
        assert!(Instant::now() < deadline, "never reached its sleep: {e}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status["State"], "IN_PROGRESS");
    assert_eq!(e["AutomationExecutionStatus"], "InProgress");
    let config_steps = status["StepDetails"].as_array().unwrap();
    assert_eq!(config_steps.len(), 2, "{status}");
    for (c, s) in config_steps
        .iter()
        .zip(e["StepExecutions"].as_array().unwrap())
    {
        assert_eq!(c["Name"], s["StepName"]);
        assert_eq!(c["StartTime"], s["ExecutionStartTime"]);
        assert_eq!(c.get("StopTime"), s.get("ExecutionEndTime"));
    }
    assert_eq!(config_steps[0]["State"], "SUCCEEDED");
    assert_eq!(config_steps[1]["State"], "IN_PROGRESS");

    // Stopped through SSM: Cancelled there, FAILED for Config, the sleeping step FAILED.
    stop(&app, &id).await.unwrap();
    engine.stop().await;
    let (status, e) = both(&app, &id).await;
    assert_eq!(e["AutomationExecutionStatus"], "Cancelled");
    assert_eq!(status["State"], "FAILED", "{status}");
    let config_steps = status["StepDetails"].as_array().unwrap();
    assert_eq!(config_steps[1]["State"], "FAILED");
    assert_eq!(
        config_steps[1]["StopTime"],
        e["StepExecutions"][1]["ExecutionEndTime"]
    );
    assert_eq!(status["LastUpdatedTime"], e["ExecutionEndTime"]);
    // The key is free again: a new remediation can start.
    let out = call(
        &app,
        ConfigOp::StartRemediationExecution,
        json!({"ConfigRuleName": "versioning",
            "ResourceKeys": [{"resourceType": "AWS::S3::Bucket", "resourceId": "napping-bucket"}]}),
    )
    .await;
    assert!(out.get("FailedItems").is_none(), "{out}");
}

/// DescribeAutomationExecutions reads the store in batches: filters and pages hold across them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describing_reads_past_many_batches() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir.path().join("remedy.db"));
    const N: usize = 2 * super::SCAN_BATCH + 50;
    let mut ids = Vec::with_capacity(N);
    for _ in 0..N {
        ids.push(start(&app, "batch-bucket").await);
    }
    // The oldest, found past two full batches; and one from each batch.
    let wanted = [&ids[0], &ids[super::SCAN_BATCH + 1], &ids[N - 1]];
    let out = ssm(
        &app,
        Op::DescribeAutomationExecutions,
        json!({"Filters": [{"Key": "ExecutionId", "Values": wanted}]}),
    )
    .await
    .unwrap();
    let got: Vec<&str> = out["AutomationExecutionMetadataList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["AutomationExecutionId"].as_str().unwrap())
        .collect();
    assert_eq!(got, [wanted[2], wanted[1], wanted[0]]);
    assert!(out.get("NextToken").is_none());
    // Every execution once, newest first, in pages of 50.
    let mut seen: Vec<String> = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({"MaxResults": 50});
        if let Some(t) = &token {
            body["NextToken"] = json!(t);
        }
        let page = ssm(&app, Op::DescribeAutomationExecutions, body)
            .await
            .unwrap();
        let list = page["AutomationExecutionMetadataList"].as_array().unwrap();
        assert!(list.len() <= 50);
        seen.extend(
            list.iter()
                .map(|m| m["AutomationExecutionId"].as_str().unwrap().to_string()),
        );
        match page["NextToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first);
    // Not one matches: the scan ends at the oldest without a token.
    let none = ssm(
        &app,
        Op::DescribeAutomationExecutions,
        json!({"Filters": [{"Key": "ExecutionStatus", "Values": ["Success"]}], "MaxResults": 1}),
    )
    .await
    .unwrap();
    assert_eq!(none["AutomationExecutionMetadataList"], json!([]));
    assert!(none.get("NextToken").is_none());
}
