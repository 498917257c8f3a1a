//! Helpers for the in-process remediation tests: calling the API as account 000000000000 in
//! us-east-1 without HTTP or signatures, and a fleet of S3 buckets to remediate.

use remedy_wire::config::Operation;
use serde_json::{json, Value};

use crate::app::App;
use crate::domain::Scope;
use crate::protocol::RequestContext;

pub fn scope() -> Scope {
    Scope::new("000000000000", "us-east-1")
}

/// Dispatches one Config operation with a JSON body; panics on an API error.
pub async fn call(app: &App, op: Operation, body: Value) -> Value {
    let ctx = RequestContext {
        request_id: "t".into(),
        scope: scope(),
        access_key_id: "test".into(),
    };
    let out = crate::api::dispatch_config(app, &ctx, op, body.to_string().as_bytes())
        .await
        .unwrap_or_else(|e| panic!("{op:?}: {e:?}"));
    serde_json::from_slice(&out).unwrap()
}

/// The configuration item of a bucket whose versioning is Suspended.
pub fn suspended_bucket(name: &str) -> Value {
    json!({
        "version": "1.3", "configurationItemStatus": "OK",
        "arn": format!("arn:aws:s3:::{name}"), "resourceType": "AWS::S3::Bucket", "resourceId": name,
        "resourceName": name, "availabilityZone": "Regional", "resourceCreationTime": 1690000000.0,
        "tags": {}, "relatedEvents": [], "relationships": [],
        "configuration": json!({"name": name, "owner": {"displayName": null, "id": "abc123"},
            "creationDate": "2023-07-22T04:26:40.000Z"}).to_string(),
        "supplementaryConfiguration": {
            "BucketVersioningConfiguration": json!({"status": "Suspended", "isMfaDeleteEnabled": null}).to_string(),
            "IsRequesterPaysEnabled": "false"
        }
    })
}

/// Records `buckets` (versioning Suspended), a rule `rule` checking
/// S3_BUCKET_VERSIONING_ENABLED, remediated by `document` with `BucketName` = the resource id
/// and no concurrency or error bound, and starts one execution per bucket.
pub async fn start_bucket_remediations(app: &App, rule: &str, document: &str, buckets: &[String]) {
    call(
        app,
        Operation::PutConfigRule,
        json!({"ConfigRule": {"ConfigRuleName": rule,
            "Source": {"Owner": "AWS", "SourceIdentifier": "S3_BUCKET_VERSIONING_ENABLED"}}}),
    )
    .await;
    for name in buckets {
        call(
            app,
            Operation::PutResourceConfig,
            json!({"ResourceType": "AWS::S3::Bucket", "SchemaVersionId": "ConfigurationItem",
                "ResourceId": name, "Configuration": suspended_bucket(name).to_string()}),
        )
        .await;
    }
    call(
        app,
        Operation::PutRemediationConfigurations,
        json!({"RemediationConfigurations": [{
            "ConfigRuleName": rule, "TargetType": "SSM_DOCUMENT", "TargetId": document,
            "Parameters": {
                "AutomationAssumeRole": {"StaticValue": {"Values": ["arn:aws:iam::000000000000:role/remediation"]}},
                "BucketName": {"ResourceValue": {"Value": "RESOURCE_ID"}}
            },
            "ExecutionControls": {"SsmControls": {
                "ConcurrentExecutionRatePercentage": 100, "ErrorPercentage": 100}}
        }]}),
    )
    .await;
    for chunk in buckets.chunks(100) {
        let keys: Vec<Value> = chunk
            .iter()
            .map(|name| json!({"resourceType": "AWS::S3::Bucket", "resourceId": name}))
            .collect();
        let out = call(
            app,
            Operation::StartRemediationExecution,
            json!({"ConfigRuleName": rule, "ResourceKeys": keys}),
        )
        .await;
        let failed = out["FailedItems"].as_array().map_or(0, Vec::len);
        assert_eq!(failed, 0, "{out}");
    }
}

/// How many versions of a bucket are recorded.
pub async fn bucket_versions(app: &App, name: &str) -> usize {
    let query = crate::store::HistoryQuery {
        resource_type: "AWS::S3::Bucket".into(),
        resource_id: name.to_string(),
        earlier_time: None,
        later_time: None,
        forward: true,
        after_state_id: None,
        limit: 10,
    };
    app.store
        .configuration_history(&scope(), &query)
        .await
        .unwrap()
        .len()
}
