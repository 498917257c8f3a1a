//! Managed rules end to end through the official SDK: resources recorded with PutResourceConfig's
//! envelope form (spec §6 shapes, API form), two AWS managed rules created with PutConfigRule,
//! and the evaluation engine's results read back with GetComplianceDetailsByConfigRule.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::config::types::{ComplianceType, ConfigRule, Owner, Source};
use common::*;
use serde_json::{json, Value};

const SG: &str = "AWS::EC2::SecurityGroup";

async fn put_envelope(c: &config::Client, t: &str, id: &str, item: &Value) {
    c.put_resource_config()
        .resource_type(t)
        .schema_version_id("ConfigurationItem")
        .resource_id(id)
        .configuration(item.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {t} {id}: {}", config::error::DisplayErrorContext(e)));
}

/// An S3 bucket in the API form of spec §6.2 (configuration and supplementary values as JSON
/// strings; the ACL encoded twice): [`common::bucket`] with a full supplementary configuration.
fn bucket(name: &str, versioning: &str) -> Value {
    let acl = json!({"grantSet": null, "grantList": [
        {"grantee": {"id": "abc123", "displayName": null}, "permission": "FullControl"}],
        "owner": {"displayName": null, "id": "abc123"}});
    let mut b = common::bucket(name, versioning);
    b["supplementaryConfiguration"] = json!({
        "AccessControlList": Value::String(acl.to_string()).to_string(),
        "BucketPolicy": json!({"policyText": null}).to_string(),
        "BucketVersioningConfiguration": json!({"status": versioning, "isMfaDeleteEnabled": null}).to_string(),
        "BucketLoggingConfiguration": json!({"destinationBucketName": null, "logFilePrefix": null}).to_string(),
        "IsRequesterPaysEnabled": "false"
    });
    b
}

/// A security group in the spec §6.3 shape with one inbound TCP 22 rule from `cidr`.
fn security_group(id: &str, cidr: &str) -> Value {
    json!({
        "resourceType": SG, "resourceId": id, "resourceName": "web",
        "arn": format!("arn:aws:ec2:us-east-1:000000000000:security-group/{id}"),
        "availabilityZone": "Not Applicable",
        "configuration": json!({"ownerId": "000000000000", "groupName": "web", "groupId": id,
            "description": "web", "vpcId": "vpc-0a1b2c3d", "tags": [],
            "ipPermissions": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": [cidr],
                "ipv4Ranges": [{"cidrIp": cidr}], "ipv6Ranges": [], "prefixListIds": [], "userIdGroupPairs": []}],
            "ipPermissionsEgress": [{"ipProtocol": "-1", "ipRanges": ["0.0.0.0/0"],
                "ipv4Ranges": [{"cidrIp": "0.0.0.0/0"}], "ipv6Ranges": [], "prefixListIds": [], "userIdGroupPairs": []}]
        }).to_string(),
        "supplementaryConfiguration": {},
        "relationships": [{"resourceType": "AWS::EC2::VPC", "resourceId": "vpc-0a1b2c3d",
            "relationshipName": "Is contained in Vpc"}]
    })
}

fn aws_rule(name: &str, identifier: &str) -> ConfigRule {
    ConfigRule::builder()
        .config_rule_name(name)
        .source(
            Source::builder()
                .owner(Owner::Aws)
                .source_identifier(identifier)
                .build()
                .unwrap(),
        )
        .build()
}

/// resource id → (compliance, annotation) of a rule's results.
async fn results(
    c: &config::Client,
    rule: &str,
) -> BTreeMap<String, (ComplianceType, Option<String>)> {
    let mut out = BTreeMap::new();
    let mut pages = c
        .get_compliance_details_by_config_rule()
        .config_rule_name(rule)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for r in page.unwrap().evaluation_results() {
            let q = r
                .evaluation_result_identifier()
                .unwrap()
                .evaluation_result_qualifier()
                .unwrap();
            out.insert(
                q.resource_id().unwrap().to_string(),
                (
                    r.compliance_type().unwrap().clone(),
                    r.annotation().map(str::to_string),
                ),
            );
        }
    }
    out
}

/// Polls (up to 20 s) until the rule has a result for each of `ids`.
async fn wait_for(
    c: &config::Client,
    rule: &str,
    ids: &[&str],
) -> BTreeMap<String, (ComplianceType, Option<String>)> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = results(c, rule).await;
        if ids.iter().all(|id| got.contains_key(*id)) {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "rule {rule}: no results for all of {ids:?} within 20 s; have {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn managed_rules_evaluate_recorded_buckets_and_security_groups() {
    let server = Server::start();
    let c = server.client();

    put_envelope(&c, BUCKET, "versioned", &bucket("versioned", "Enabled")).await;
    put_envelope(&c, BUCKET, "unversioned", &bucket("unversioned", "Off")).await;
    put_envelope(
        &c,
        SG,
        "sg-00000000000000001",
        &security_group("sg-00000000000000001", "0.0.0.0/0"),
    )
    .await;
    put_envelope(
        &c,
        SG,
        "sg-00000000000000002",
        &security_group("sg-00000000000000002", "10.0.0.0/8"),
    )
    .await;

    for (name, identifier) in [
        (
            "s3-bucket-versioning-enabled",
            "S3_BUCKET_VERSIONING_ENABLED",
        ),
        ("restricted-ssh", "INCOMING_SSH_DISABLED"),
    ] {
        c.put_config_rule()
            .config_rule(aws_rule(name, identifier))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{name}: {}", config::error::DisplayErrorContext(e)));
    }

    let versioning = wait_for(
        &c,
        "s3-bucket-versioning-enabled",
        &["versioned", "unversioned"],
    )
    .await;
    assert_eq!(versioning["versioned"].0, ComplianceType::Compliant);
    assert_eq!(versioning["unversioned"].0, ComplianceType::NonCompliant);
    let why = versioning["unversioned"].1.as_deref().unwrap_or_default();
    assert!(why.contains("Off"), "annotation {why:?}");
    // The bucket rule does not judge security groups (they are out of its scope).
    assert!(!versioning.keys().any(|k| k.starts_with("sg-")));

    let ssh = wait_for(
        &c,
        "restricted-ssh",
        &["sg-00000000000000001", "sg-00000000000000002"],
    )
    .await;
    assert_eq!(ssh["sg-00000000000000001"].0, ComplianceType::NonCompliant);
    assert_eq!(ssh["sg-00000000000000002"].0, ComplianceType::Compliant);
    assert!(!ssh.contains_key("versioned"));

    // Fixing the bucket re-evaluates it.
    put_envelope(&c, BUCKET, "unversioned", &bucket("unversioned", "Enabled")).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = results(&c, "s3-bucket-versioning-enabled").await;
        if got["unversioned"].0 == ComplianceType::Compliant {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the re-recorded bucket was not re-evaluated COMPLIANT within 20 s: {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
