//! The automatic-remediation sweep: what the compliance listener falls back on when it misses
//! events. Driven in-process (no listener, no engine), so the only way an execution can be queued
//! here is the sweep itself.

use std::sync::Arc;

use remedy_wire::config::Operation;
use serde_json::{json, Value};

use super::automatic::sweep;
use super::test_support::{call, scope};
use crate::app::{App, Settings};
use crate::auth::StaticCredentials;
use crate::store::sqlite::SqliteStore;

const RULE: &str = "custom-versioning";
const NON_COMPLIANT: usize = 150;

fn evaluation(id: &str, compliance: &str) -> Value {
    json!({"ComplianceResourceType": "AWS::S3::Bucket", "ComplianceResourceId": id,
           "ComplianceType": compliance, "OrderingTimestamp": 1_700_000_000})
}

#[tokio::test]
async fn sweep_queues_every_non_compliant_resource_once_and_honours_exceptions() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("remedy.db")).unwrap();
    let app = Arc::new(App::new(
        Arc::new(store),
        Arc::new(StaticCredentials::local_default()),
        Settings::default(),
    ));
    call(&app, Operation::PutConfigRule, json!({"ConfigRule": {"ConfigRuleName": RULE, "Source": {
        "Owner": "CUSTOM_LAMBDA", "SourceIdentifier": "arn:aws:lambda:us-east-1:000000000000:function:f",
        "SourceDetails": [{"EventSource": "aws.config", "MessageType": "ConfigurationItemChangeNotification"}]}}}))
    .await;
    call(&app, Operation::PutRemediationConfigurations, json!({"RemediationConfigurations": [{
        "ConfigRuleName": RULE, "TargetType": "SSM_DOCUMENT", "TargetId": "AWS-ConfigureS3BucketVersioning",
        "Automatic": true,
        "Parameters": {"BucketName": {"ResourceValue": {"Value": "RESOURCE_ID"}},
                       "AutomationAssumeRole": {"StaticValue": {"Values": ["arn:aws:iam::000000000000:role/r"]}}}}]}))
    .await;

    // Results arrive while nobody listens: the events are lost, as after a lagging listener.
    let token = app.result_tokens().await.unwrap().mint(&scope(), RULE);
    let mut evaluations: Vec<Value> = (0..NON_COMPLIANT)
        .map(|i| evaluation(&format!("bucket-{i:03}"), "NON_COMPLIANT"))
        .collect();
    evaluations.push(evaluation("fine-bucket", "COMPLIANT"));
    for chunk in evaluations.chunks(100) {
        call(
            &app,
            Operation::PutEvaluations,
            json!({"Evaluations": chunk, "ResultToken": token}),
        )
        .await;
    }
    call(
        &app,
        Operation::PutRemediationExceptions,
        json!({"ConfigRuleName": RULE,
        "ResourceKeys": [{"ResourceType": "AWS::S3::Bucket", "ResourceId": "bucket-007"}]}),
    )
    .await;

    assert_eq!(
        sweep(&app).await.unwrap(),
        NON_COMPLIANT - 1,
        "all but the excepted key start"
    );
    assert_eq!(
        sweep(&app).await.unwrap(),
        0,
        "a second sweep finds them all in flight"
    );

    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({"ConfigRuleName": RULE, "Limit": 100});
        if let Some(t) = &token {
            body["NextToken"] = json!(t);
        }
        let page = call(&app, Operation::DescribeRemediationExecutionStatus, body).await;
        for s in page["RemediationExecutionStatuses"].as_array().unwrap() {
            assert_eq!(s["State"], "QUEUED");
            keys.push(s["ResourceKey"]["resourceId"].as_str().unwrap().to_string());
        }
        match page["NextToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    keys.sort();
    assert_eq!(keys.len(), NON_COMPLIANT - 1);
    assert!(!keys.iter().any(|k| k == "bucket-007" || k == "fine-bucket"));
}
