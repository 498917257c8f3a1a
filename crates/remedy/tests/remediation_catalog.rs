//! One built-in runbook per service of the catalogue, end to end through the official SDK on one
//! server: a non-compliant item is recorded, the managed rule finds it NON_COMPLIANT, the
//! remediation configuration is put, StartRemediationExecution runs the runbook against the
//! emulated world, the execution SUCCEEDS, the resource's history shows the change as a new
//! version, and the rule re-evaluates COMPLIANT (periodic rules after StartConfigRulesEvaluation,
//! as in AWS).

mod common;

use std::time::{Duration, Instant};

use common::config::types::{
    ComplianceType, ConfigRule, ConfigurationItem, Owner, RemediationConfiguration,
    RemediationExecutionState, RemediationExecutionStatus, ResourceKey, ResourceType, Source,
};
use common::*;
use serde_json::{json, Value};

const ACCOUNT: &str = "000000000000";
const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

/// One catalogue entry: the item, the rule, the runbook and what the fix looks like.
struct Case {
    rule: &'static str,
    identifier: &'static str,
    resource_type: &'static str,
    resource_id: &'static str,
    configuration: Value,
    supplementary: Value,
    document: &'static str,
    /// The runbook parameter that receives RESOURCE_ID, if any.
    resource_param: Option<&'static str>,
    /// Checks the latest history version (configuration, supplementary configuration).
    fixed: fn(&Value, &Value),
}

fn supp_json(supp: &Value, key: &str) -> Value {
    match supp.get(key) {
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::String(s.clone())),
        Some(v) => v.clone(),
        None => Value::Null,
    }
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            rule: "kms-rotation",
            identifier: "CMK_BACKING_KEY_ROTATION_ENABLED",
            resource_type: "AWS::KMS::Key",
            resource_id: KEY_ID,
            configuration: json!({"awsaccountId": ACCOUNT, "keyId": KEY_ID, "enabled": true,
                "arn": format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}"),
                "keyUsage": "ENCRYPT_DECRYPT", "keyState": "Enabled", "origin": "AWS_KMS",
                "keyManager": "CUSTOMER", "keySpec": "SYMMETRIC_DEFAULT",
                "customerMasterKeySpec": "SYMMETRIC_DEFAULT", "multiRegion": false}),
            supplementary: json!({"KeyRotationStatus": "false"}),
            document: "AWSConfigRemediation-EnableKeyRotation",
            resource_param: Some("KeyId"),
            fixed: |_, supp| assert_eq!(supp_json(supp, "KeyRotationStatus"), json!(true)),
        },
        Case {
            rule: "trail-validation",
            identifier: "CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED",
            resource_type: "AWS::CloudTrail::Trail",
            resource_id: "management-events",
            configuration: json!({"name": "management-events",
                "trailARN": format!("arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/management-events"),
                "homeRegion": REGION, "s3BucketName": "ct-logs", "includeGlobalServiceEvents": true,
                "isMultiRegionTrail": true, "isOrganizationTrail": false,
                "logFileValidationEnabled": false, "hasCustomEventSelectors": false,
                "hasInsightSelectors": false}),
            supplementary: json!({"TrailStatus": json!({"isLogging": true}).to_string()}),
            document: "AWSConfigRemediation-EnableCloudTrailLogFileValidation",
            resource_param: Some("TrailName"),
            fixed: |conf, _| assert_eq!(conf["logFileValidationEnabled"], json!(true), "{conf}"),
        },
        Case {
            rule: "dynamodb-pitr",
            identifier: "DYNAMODB_PITR_ENABLED",
            resource_type: "AWS::DynamoDB::Table",
            resource_id: "orders",
            configuration: json!({"tableName": "orders",
                "tableArn": format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders"),
                "tableStatus": "ACTIVE",
                "keySchema": [{"attributeName": "pk", "keyType": "HASH"}],
                "attributeDefinitions": [{"attributeName": "pk", "attributeType": "S"}],
                "billingModeSummary": {"billingMode": "PAY_PER_REQUEST"}}),
            supplementary: json!({"ContinuousBackupsDescription": json!({
                "continuousBackupsStatus": "ENABLED",
                "pointInTimeRecoveryDescription": {"pointInTimeRecoveryStatus": "DISABLED"}}).to_string()}),
            document: "AWSConfigRemediation-EnablePITRForDynamoDbTable",
            resource_param: Some("TableName"),
            fixed: |_, supp| {
                let d = supp_json(supp, "ContinuousBackupsDescription");
                assert_eq!(
                    d["pointInTimeRecoveryDescription"]["pointInTimeRecoveryStatus"],
                    json!("ENABLED"),
                    "{d}"
                );
            },
        },
        Case {
            rule: "ebs-default-encryption",
            identifier: "EC2_EBS_ENCRYPTION_BY_DEFAULT",
            resource_type: "AWS::::Account",
            resource_id: ACCOUNT,
            configuration: json!({"ebsEncryptionByDefault": false}),
            supplementary: json!({}),
            document: "AWSConfigRemediation-EnableEbsEncryptionByDefault",
            resource_param: None,
            fixed: |conf, _| assert_eq!(conf["ebsEncryptionByDefault"], json!(true), "{conf}"),
        },
        Case {
            rule: "s3-public-access",
            identifier: "S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED",
            resource_type: "AWS::S3::Bucket",
            resource_id: "public-bucket",
            configuration: json!({"name": "public-bucket",
                "owner": {"displayName": null, "id": "abc123"},
                "creationDate": "2023-07-22T04:26:40.000Z"}),
            supplementary: json!({
                "BucketVersioningConfiguration": json!({"status": "Off", "isMfaDeleteEnabled": null}).to_string(),
                "IsRequesterPaysEnabled": "false"}),
            document: "AWSConfigRemediation-ConfigureS3BucketPublicAccessBlock",
            resource_param: Some("BucketName"),
            fixed: |_, supp| {
                assert_eq!(
                    supp_json(supp, "PublicAccessBlockConfiguration"),
                    json!({"blockPublicAcls": true, "ignorePublicAcls": true,
                        "blockPublicPolicy": true, "restrictPublicBuckets": true})
                );
            },
        },
        Case {
            rule: "restricted-common-ports",
            identifier: "RESTRICTED_INCOMING_TRAFFIC",
            resource_type: "AWS::EC2::SecurityGroup",
            resource_id: "sg-0000000000000000e",
            configuration: json!({"ownerId": ACCOUNT, "groupName": "db",
                "groupId": "sg-0000000000000000e", "description": "db", "vpcId": "vpc-0a1b2c3d",
                "tags": [],
                "ipPermissions": [{"ipProtocol": "tcp", "fromPort": 3306, "toPort": 3306,
                    "ipRanges": ["0.0.0.0/0", "10.0.0.0/8"],
                    "ipv4Ranges": [{"cidrIp": "0.0.0.0/0"}, {"cidrIp": "10.0.0.0/8"}],
                    "ipv6Ranges": [{"cidrIpv6": "::/0"}], "prefixListIds": [],
                    "userIdGroupPairs": []}],
                "ipPermissionsEgress": []}),
            supplementary: json!({}),
            document: "AWSConfigRemediation-RemoveUnrestrictedSourceIngressRules",
            resource_param: Some("SecurityGroupId"),
            // Only the world-open sources go; the office range stays.
            fixed: |conf, _| {
                assert_eq!(
                    conf["ipPermissions"],
                    json!([{"ipProtocol": "tcp", "fromPort": 3306, "toPort": 3306,
                        "ipRanges": ["10.0.0.0/8"], "ipv4Ranges": [{"cidrIp": "10.0.0.0/8"}],
                        "ipv6Ranges": [], "prefixListIds": [], "userIdGroupPairs": []}]),
                    "{conf}"
                );
            },
        },
        Case {
            rule: "default-sg-closed",
            identifier: "VPC_DEFAULT_SECURITY_GROUP_CLOSED",
            resource_type: "AWS::EC2::SecurityGroup",
            resource_id: "sg-0000000000000000d",
            configuration: json!({"ownerId": ACCOUNT, "groupName": "default",
                "groupId": "sg-0000000000000000d", "description": "default VPC security group",
                "vpcId": "vpc-0a1b2c3d", "tags": [],
                "ipPermissions": [{"ipProtocol": "-1", "ipRanges": [], "ipv4Ranges": [],
                    "ipv6Ranges": [], "prefixListIds": [],
                    "userIdGroupPairs": [{"groupId": "sg-0000000000000000d", "userId": ACCOUNT}]}],
                "ipPermissionsEgress": [{"ipProtocol": "-1", "ipRanges": ["0.0.0.0/0"],
                    "ipv4Ranges": [{"cidrIp": "0.0.0.0/0"}], "ipv6Ranges": [],
                    "prefixListIds": [], "userIdGroupPairs": []}]}),
            supplementary: json!({}),
            document: "AWSConfigRemediation-RemoveVPCDefaultSecurityGroupRules",
            resource_param: Some("GroupId"),
            fixed: |conf, _| {
                assert_eq!(conf["ipPermissions"], json!([]), "{conf}");
                assert_eq!(conf["ipPermissionsEgress"], json!([]), "{conf}");
            },
        },
    ]
}

fn envelope(c: &Case) -> Value {
    json!({
        "version": "1.3", "configurationItemStatus": "OK",
        "resourceType": c.resource_type, "resourceId": c.resource_id,
        "resourceName": c.resource_id, "awsRegion": REGION,
        "availabilityZone": "Regional", "resourceCreationTime": 1690000000.0,
        "tags": {}, "relatedEvents": [], "relationships": [],
        "configuration": c.configuration.to_string(),
        "supplementaryConfiguration": c.supplementary,
    })
}

fn key(c: &Case) -> ResourceKey {
    ResourceKey::builder()
        .resource_type(ResourceType::from(c.resource_type))
        .resource_id(c.resource_id)
        .build()
        .unwrap()
}

/// [`remediation_config`] for the case's rule, runbook and resource type, RESOURCE_ID going to
/// the case's `resource_param` (to none without one).
fn remediation(c: &Case) -> RemediationConfiguration {
    let mut r = remediation_config(c.rule, c.document);
    r.resource_type = Some(c.resource_type.to_string());
    let params = r.parameters.as_mut().unwrap();
    let resource_id = params.remove("BucketName").unwrap();
    if let Some(p) = c.resource_param {
        params.insert(p.to_string(), resource_id);
    }
    r
}

async fn compliance(client: &config::Client, c: &Case) -> Option<ComplianceType> {
    let out = client
        .get_compliance_details_by_config_rule()
        .config_rule_name(c.rule)
        .limit(100)
        .send()
        .await
        .unwrap();
    out.evaluation_results()
        .iter()
        .find(|r| {
            r.evaluation_result_identifier()
                .and_then(|i| i.evaluation_result_qualifier())
                .and_then(|q| q.resource_id())
                == Some(c.resource_id)
        })
        .and_then(|r| r.compliance_type().cloned())
}

async fn wait_compliance(client: &config::Client, cases: &[Case], want: ComplianceType) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut wrong = Vec::new();
        for c in cases {
            let got = compliance(client, c).await;
            if got.as_ref() != Some(&want) {
                wrong.push(format!("{}/{}: {got:?}", c.rule, c.resource_id));
            }
        }
        if wrong.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "want {want:?}: {wrong:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn status(client: &config::Client, c: &Case) -> Option<RemediationExecutionStatus> {
    client
        .describe_remediation_execution_status()
        .config_rule_name(c.rule)
        .resource_keys(key(c))
        .send()
        .await
        .unwrap()
        .remediation_execution_statuses()
        .first()
        .cloned()
}

async fn history(client: &config::Client, c: &Case) -> Vec<ConfigurationItem> {
    client
        .get_resource_config_history()
        .resource_type(ResourceType::from(c.resource_type))
        .resource_id(c.resource_id)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}", config::error::DisplayErrorContext(e)))
        .configuration_items()
        .to_vec()
}

#[tokio::test]
async fn one_runbook_per_service_remediates_end_to_end() {
    let server = Server::start();
    let client = server.client();
    let cases = cases();

    // The runbooks take the parameters the configurations give them.
    for c in &cases {
        let params = remedy_automation::builtin(c.document)
            .unwrap_or_else(|| panic!("no built-in {}", c.document))
            .parameters();
        let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
        assert!(names.contains(&"AutomationAssumeRole"), "{names:?}");
        if let Some(p) = c.resource_param {
            assert!(names.contains(&p), "{}: {names:?}", c.document);
        }
    }

    for c in &cases {
        client
            .put_resource_config()
            .resource_type(c.resource_type)
            .schema_version_id("ConfigurationItem")
            .resource_id(c.resource_id)
            .configuration(envelope(c).to_string())
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "put {} {}: {}",
                    c.resource_type,
                    c.resource_id,
                    config::error::DisplayErrorContext(e)
                )
            });
    }
    for c in &cases {
        client
            .put_config_rule()
            .config_rule(
                ConfigRule::builder()
                    .config_rule_name(c.rule)
                    .source(
                        Source::builder()
                            .owner(Owner::Aws)
                            .source_identifier(c.identifier)
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}", config::error::DisplayErrorContext(e)));
    }
    wait_compliance(&client, &cases, ComplianceType::NonCompliant).await;

    for c in &cases {
        let out = client
            .put_remediation_configurations()
            .remediation_configurations(remediation(c))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}", config::error::DisplayErrorContext(e)));
        assert!(out.failed_batches().is_empty(), "{}: {out:?}", c.rule);
    }
    for c in &cases {
        let out = client
            .start_remediation_execution()
            .config_rule_name(c.rule)
            .resource_keys(key(c))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}: {}", c.rule, config::error::DisplayErrorContext(e)));
        assert!(out.failed_items().is_empty(), "{}: {out:?}", c.rule);
    }

    let deadline = Instant::now() + Duration::from_secs(30);
    for c in &cases {
        let s = loop {
            if let Some(s) = status(&client, c).await {
                if matches!(
                    s.state(),
                    Some(RemediationExecutionState::Succeeded | RemediationExecutionState::Failed)
                ) {
                    break s;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{}: not terminal in 30 s",
                c.rule
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(
            s.state(),
            Some(&RemediationExecutionState::Succeeded),
            "{} ({}): {s:?}",
            c.rule,
            c.document
        );
        assert!(!s.step_details().is_empty(), "{}: {s:?}", c.rule);
    }
    for c in &cases {
        let items = history(&client, c).await;
        // One new version per write (closing the default group revokes ingress, then egress).
        let writes = if c.identifier == "VPC_DEFAULT_SECURITY_GROUP_CLOSED" {
            2
        } else {
            1
        };
        assert_eq!(items.len(), 1 + writes, "{}: {items:?}", c.rule);
        let latest = &items[0];
        let conf: Value = serde_json::from_str(latest.configuration().unwrap_or("null")).unwrap();
        let supp: Value = latest
            .supplementary_configuration()
            .map(|m| {
                Value::Object(
                    m.iter()
                        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                        .collect(),
                )
            })
            .unwrap_or(json!({}));
        (c.fixed)(&conf, &supp);
    }
    // Change-triggered rules re-evaluate on the world's new version by themselves; the periodic
    // ones (KMS rotation, CloudTrail validation, EBS default encryption — spec §5) do so at their
    // next run, as in AWS, so ask for it the way a user would.
    client
        .start_config_rules_evaluation()
        .set_config_rule_names(Some(cases.iter().map(|c| c.rule.to_string()).collect()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}", config::error::DisplayErrorContext(e)));
    wait_compliance(&client, &cases, ComplianceType::Compliant).await;
}
