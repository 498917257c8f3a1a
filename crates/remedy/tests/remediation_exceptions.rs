//! PutRemediationExceptions, DescribeRemediationExceptions and DeleteRemediationExceptions
//! through the official SDK.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_smithy_types::DateTime;
use common::config::types::{RemediationException, RemediationExceptionResourceKey};
use common::*;

const BUCKET: &str = "AWS::S3::Bucket";

fn key(t: &str, id: &str) -> RemediationExceptionResourceKey {
    RemediationExceptionResourceKey::builder()
        .resource_type(t)
        .resource_id(id)
        .build()
}

fn bucket(id: &str) -> RemediationExceptionResourceKey {
    key(BUCKET, id)
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

async fn create_rule(c: &config::Client, name: &str) {
    c.put_config_rule()
        .config_rule(managed_rule(name))
        .send()
        .await
        .unwrap();
}

async fn list_all(c: &config::Client, rule: &str) -> Vec<RemediationException> {
    c.describe_remediation_exceptions()
        .config_rule_name(rule)
        .limit(100)
        .send()
        .await
        .unwrap()
        .remediation_exceptions()
        .to_vec()
}

fn ids(list: &[RemediationException]) -> Vec<String> {
    list.iter().map(|e| e.resource_id().to_string()).collect()
}

#[tokio::test]
async fn put_describe_delete_round_trip() {
    let server = Server::start();
    let c = server.client();
    create_rule(&c, "versioning").await;
    create_rule(&c, "other").await;

    // Whole seconds: the SDK reads epoch-second floats through an f64, so fractions come back
    // a nanosecond off (the raw check below shows the server returns them exactly).
    let expiry = DateTime::from_secs(now_secs() as i64 + 3600);
    let out = c
        .put_remediation_exceptions()
        .config_rule_name("versioning")
        .resource_keys(bucket("logs"))
        .resource_keys(bucket("assets"))
        .resource_keys(key("AWS::EC2::Instance", "i-0123"))
        .message("owned by the data team")
        .expiration_time(expiry)
        .send()
        .await
        .unwrap();
    assert!(out.failed_batches().is_empty(), "{out:?}");

    let got = list_all(&c, "versioning").await;
    // Ordered by type, then id; every field as given.
    assert_eq!(ids(&got), vec!["i-0123", "assets", "logs"]);
    for e in &got {
        assert_eq!(e.config_rule_name(), "versioning");
        assert_eq!(e.message(), Some("owned by the data team"));
        assert_eq!(e.expiration_time(), Some(&expiry));
    }
    assert_eq!(got[0].resource_type(), "AWS::EC2::Instance");
    assert_eq!(got[1].resource_type(), BUCKET);
    // Per rule.
    assert!(list_all(&c, "other").await.is_empty());
    // Fractional seconds are kept exactly on the wire.
    let exact = format!("{:.3}", now_secs() + 7200.0);
    let res = server.call(
        "StarlingDoveService.PutRemediationExceptions",
        &format!(r#"{{"ConfigRuleName": "other", "ResourceKeys": [{{"ResourceType": "T", "ResourceId": "i"}}], "ExpirationTime": {exact}}}"#),
    );
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    let res = server.call(
        "StarlingDoveService.DescribeRemediationExceptions",
        r#"{"ConfigRuleName": "other"}"#,
    );
    let listed = res.json();
    assert_eq!(
        listed["RemediationExceptions"][0]["ExpirationTime"].as_f64(),
        Some(exact.parse::<f64>().unwrap())
    );

    // Upsert: the same key again replaces message and expiry; no duplicate.
    c.put_remediation_exceptions()
        .config_rule_name("versioning")
        .resource_keys(bucket("logs"))
        .message("permanent")
        .send()
        .await
        .unwrap();
    let got = list_all(&c, "versioning").await;
    assert_eq!(got.len(), 3);
    let logs = got.iter().find(|e| e.resource_id() == "logs").unwrap();
    assert_eq!(logs.message(), Some("permanent"));
    assert_eq!(logs.expiration_time(), None);

    // Batch lookup by key: only the existing ones, no token.
    let out = c
        .describe_remediation_exceptions()
        .config_rule_name("versioning")
        .resource_keys(bucket("logs"))
        .resource_keys(bucket("nope"))
        .resource_keys(key("AWS::EC2::Instance", "i-0123"))
        .send()
        .await
        .unwrap();
    let mut found = ids(out.remediation_exceptions());
    found.sort();
    assert_eq!(found, vec!["i-0123", "logs"]);
    assert_eq!(out.next_token(), None);

    // Delete one.
    let out = c
        .delete_remediation_exceptions()
        .config_rule_name("versioning")
        .resource_keys(bucket("assets"))
        .send()
        .await
        .unwrap();
    assert!(out.failed_batches().is_empty());
    assert_eq!(
        ids(&list_all(&c, "versioning").await),
        vec!["i-0123", "logs"]
    );

    // Delete of keys none of which exist.
    let err = c
        .delete_remediation_exceptions()
        .config_rule_name("versioning")
        .resource_keys(bucket("assets"))
        .resource_keys(bucket("never"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "NoSuchRemediationExceptionException");

    // Partial delete: the missing keys come back in FailedBatches, the rest is deleted.
    let out = c
        .delete_remediation_exceptions()
        .config_rule_name("versioning")
        .resource_keys(bucket("logs"))
        .resource_keys(bucket("never"))
        .resource_keys(key("AWS::EC2::Instance", "i-9999"))
        .send()
        .await
        .unwrap();
    let failed = out.failed_batches();
    assert_eq!(failed.len(), 1, "{out:?}");
    assert!(failed[0].failure_message().is_some_and(|m| !m.is_empty()));
    let missing: Vec<_> = failed[0]
        .failed_items()
        .iter()
        .map(|k| (k.resource_type().unwrap(), k.resource_id().unwrap()))
        .collect();
    assert_eq!(
        missing,
        vec![(BUCKET, "never"), ("AWS::EC2::Instance", "i-9999")]
    );
    assert_eq!(ids(&list_all(&c, "versioning").await), vec!["i-0123"]);

    // Exceptions go with their rule.
    c.delete_config_rule()
        .config_rule_name("versioning")
        .send()
        .await
        .unwrap();
    create_rule(&c, "versioning").await;
    assert!(list_all(&c, "versioning").await.is_empty());
}

#[tokio::test]
async fn expired_exceptions_disappear() {
    let server = Server::start();
    let c = server.client();
    create_rule(&c, "r").await;

    let soon = DateTime::from_secs_f64(now_secs() + 2.0);
    c.put_remediation_exceptions()
        .config_rule_name("r")
        .resource_keys(bucket("short"))
        .expiration_time(soon)
        .send()
        .await
        .unwrap();
    c.put_remediation_exceptions()
        .config_rule_name("r")
        .resource_keys(bucket("long"))
        .expiration_time(DateTime::from_secs_f64(now_secs() + 3600.0))
        .send()
        .await
        .unwrap();
    assert_eq!(ids(&list_all(&c, "r").await), vec!["long", "short"]);

    // An expiry already past is refused.
    let err = c
        .put_remediation_exceptions()
        .config_rule_name("r")
        .resource_keys(bucket("past"))
        .expiration_time(DateTime::from_secs_f64(now_secs() - 60.0))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValueException");

    tokio::time::sleep(Duration::from_millis(2300)).await;
    assert_eq!(ids(&list_all(&c, "r").await), vec!["long"]);
    let out = c
        .describe_remediation_exceptions()
        .config_rule_name("r")
        .resource_keys(bucket("short"))
        .send()
        .await
        .unwrap();
    assert!(out.remediation_exceptions().is_empty());
    let err = c
        .delete_remediation_exceptions()
        .config_rule_name("r")
        .resource_keys(bucket("short"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "NoSuchRemediationExceptionException");
    // It can be put again, and lives again.
    c.put_remediation_exceptions()
        .config_rule_name("r")
        .resource_keys(bucket("short"))
        .send()
        .await
        .unwrap();
    assert_eq!(ids(&list_all(&c, "r").await), vec!["long", "short"]);
}

#[tokio::test]
async fn key_limits_and_paging() {
    let server = Server::start();
    let c = server.client();
    create_rule(&c, "r").await;

    let keys = |n: usize| {
        (0..n)
            .map(|i| bucket(&format!("b{i:03}")))
            .collect::<Vec<_>>()
    };
    let err = c
        .put_remediation_exceptions()
        .config_rule_name("r")
        .set_resource_keys(Some(keys(101)))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ValidationException");
    assert!(
        error_message(&err).ends_with("at 'resourceKeys' failed to satisfy constraint: Member must have length less than or equal to 100"),
        "{}",
        error_message(&err)
    );
    assert!(list_all(&c, "r").await.is_empty());
    let err = c
        .put_remediation_exceptions()
        .config_rule_name("r")
        .set_resource_keys(Some(vec![]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ValidationException");

    c.put_remediation_exceptions()
        .config_rule_name("r")
        .set_resource_keys(Some(keys(100)))
        .send()
        .await
        .unwrap();
    let expected: Vec<String> = (0..100).map(|i| format!("b{i:03}")).collect();
    assert_eq!(ids(&list_all(&c, "r").await), expected);

    // Limit 30 pages 30/30/30/10, in key order, with the token gone on the last page.
    let mut sizes = Vec::new();
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = c
            .describe_remediation_exceptions()
            .config_rule_name("r")
            .limit(30)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        sizes.push(out.remediation_exceptions().len());
        seen.extend(ids(out.remediation_exceptions()));
        match out.next_token() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(sizes, vec![30, 30, 30, 10]);
    assert_eq!(seen, expected);

    // No Limit (or 0): pages of 25; the SDK paginator follows the tokens.
    let first = c
        .describe_remediation_exceptions()
        .config_rule_name("r")
        .limit(0)
        .send()
        .await
        .unwrap();
    assert_eq!(first.remediation_exceptions().len(), 25);
    assert!(first.next_token().is_some());
    let pages: Vec<_> = c
        .describe_remediation_exceptions()
        .config_rule_name("r")
        .into_paginator()
        .send()
        .collect()
        .await;
    let pages: Vec<_> = pages.into_iter().map(|p| p.unwrap()).collect();
    assert_eq!(
        pages
            .iter()
            .map(|p| p.remediation_exceptions().len())
            .collect::<Vec<_>>(),
        vec![25, 25, 25, 25]
    );
    assert_eq!(
        pages
            .iter()
            .flat_map(|p| ids(p.remediation_exceptions()))
            .collect::<Vec<_>>(),
        expected
    );

    // Limit above 100.
    let err = c
        .describe_remediation_exceptions()
        .config_rule_name("r")
        .limit(101)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ValidationException");
    assert_eq!(
        error_message(&err),
        "1 validation error detected: Value '101' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100"
    );
    // A bad token.
    let err = c
        .describe_remediation_exceptions()
        .config_rule_name("r")
        .next_token("nonsense")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidNextTokenException");

    // Batch lookup of 100 keys works (no paging), 101 does not.
    let out = c
        .describe_remediation_exceptions()
        .config_rule_name("r")
        .set_resource_keys(Some(keys(100)))
        .limit(5)
        .send()
        .await
        .unwrap();
    assert_eq!(out.remediation_exceptions().len(), 100);
    assert_eq!(out.next_token(), None);
    let err = c
        .describe_remediation_exceptions()
        .config_rule_name("r")
        .set_resource_keys(Some(keys(101)))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ValidationException");

    // Delete all 100 at once; 101 refused.
    let err = c
        .delete_remediation_exceptions()
        .config_rule_name("r")
        .set_resource_keys(Some(keys(101)))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ValidationException");
    let out = c
        .delete_remediation_exceptions()
        .config_rule_name("r")
        .set_resource_keys(Some(keys(100)))
        .send()
        .await
        .unwrap();
    assert!(out.failed_batches().is_empty());
    assert!(list_all(&c, "r").await.is_empty());
}

#[tokio::test]
async fn unknown_rules_and_malformed_keys() {
    let server = Server::start();
    let c = server.client();
    create_rule(&c, "r").await;

    // Putting on a rule that does not exist.
    let err = c
        .put_remediation_exceptions()
        .config_rule_name("ghost")
        .resource_keys(bucket("b"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "NoSuchConfigRuleException");
    assert_eq!(
        error_message(&err),
        "The ConfigRule 'ghost' provided in the request is invalid. Please check the configRule name"
    );
    // Reading: a rule that does not exist has no exceptions.
    let out = c
        .describe_remediation_exceptions()
        .config_rule_name("ghost")
        .send()
        .await
        .unwrap();
    assert!(out.remediation_exceptions().is_empty());
    // Deleting: nothing to delete.
    let err = c
        .delete_remediation_exceptions()
        .config_rule_name("ghost")
        .resource_keys(bucket("b"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "NoSuchRemediationExceptionException");

    // A key without its type or id.
    for k in [
        RemediationExceptionResourceKey::builder()
            .resource_id("b")
            .build(),
        RemediationExceptionResourceKey::builder()
            .resource_type(BUCKET)
            .build(),
    ] {
        let err = c
            .put_remediation_exceptions()
            .config_rule_name("r")
            .resource_keys(k)
            .send()
            .await
            .unwrap_err();
        assert_eq!(error_code(&err), "InvalidParameterValueException");
    }
    assert!(list_all(&c, "r").await.is_empty());

    // Model constraints on the key members and the message.
    let long_id = "x".repeat(1025);
    let err = c
        .put_remediation_exceptions()
        .config_rule_name("r")
        .resource_keys(bucket(&long_id))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ValidationException");
    assert_eq!(
        error_message(&err),
        format!("1 validation error detected: Value '{long_id}' at 'resourceKeys.1.member.resourceId' failed to satisfy constraint: Member must have length less than or equal to 1024")
    );
    let res = server.call(
        "StarlingDoveService.PutRemediationExceptions",
        r#"{"ConfigRuleName": "r", "ResourceKeys": [{"ResourceType": "AWS::S3::Bucket", "ResourceId": "b"}], "Message": ""}"#,
    );
    assert_eq!(res.error_type(), "ValidationException");
    assert_eq!(
        res.message(),
        "1 validation error detected: Value '' at 'message' failed to satisfy constraint: Member must have length greater than or equal to 1"
    );
    let res = server.call(
        "StarlingDoveService.DescribeRemediationExceptions",
        r#"{"ConfigRuleName": "  "}"#,
    );
    assert_eq!(res.error_type(), "ValidationException");
    assert_eq!(
        res.message(),
        r"1 validation error detected: Value '  ' at 'configRuleName' failed to satisfy constraint: Member must satisfy regular expression pattern: .*\S.*"
    );
    // Missing ResourceKeys on put.
    let res = server.call(
        "StarlingDoveService.PutRemediationExceptions",
        r#"{"ConfigRuleName": "r"}"#,
    );
    assert_eq!(res.error_type(), "ValidationException");
    assert_eq!(
        res.message(),
        "1 validation error detected: Value null at 'resourceKeys' failed to satisfy constraint: Member must not be null"
    );
    // The full 1024-character id is accepted.
    let max_id = "y".repeat(1024);
    c.put_remediation_exceptions()
        .config_rule_name("r")
        .resource_keys(bucket(&max_id))
        .send()
        .await
        .unwrap();
    assert_eq!(ids(&list_all(&c, "r").await), vec![max_id]);
}
