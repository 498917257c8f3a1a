//! PutRemediationConfigurations, DescribeRemediationConfigurations and
//! DeleteRemediationConfiguration through the official SDK.

mod common;

use common::config::types::{
    RemediationConfiguration, RemediationParameterValue, RemediationTargetType, ResourceValue,
    ResourceValueType, StaticValue,
};
use common::*;

fn static_value(values: &[&str]) -> RemediationParameterValue {
    RemediationParameterValue::builder()
        .static_value(
            StaticValue::builder()
                .set_values(Some(values.iter().map(|s| s.to_string()).collect()))
                .build()
                .unwrap(),
        )
        .build()
}

/// [`remediation_config`] running `AWS-ConfigureS3BucketVersioning` without
/// `AutomationAssumeRole`: `BucketName` is its one parameter.
fn basic(rule: &str) -> RemediationConfiguration {
    let mut r = remediation_config(rule, "AWS-ConfigureS3BucketVersioning");
    r.parameters
        .as_mut()
        .unwrap()
        .remove("AutomationAssumeRole");
    r
}

/// [`remediation_config`] running `AWS-ConfigureS3BucketVersioning` with every member set.
fn full(rule: &str) -> RemediationConfiguration {
    let mut r = remediation_config(rule, "AWS-ConfigureS3BucketVersioning");
    r.target_version = Some("$DEFAULT".into());
    r.parameters.as_mut().unwrap().insert(
        "VersioningState".into(),
        static_value(&["Enabled", "Suspended"]),
    );
    r.resource_type = Some(BUCKET.into());
    r.automatic = true;
    r.execution_controls = Some(ssm_controls(20, 40));
    r.maximum_automatic_attempts = Some(7);
    r.retry_attempt_seconds = Some(120);
    r
}

async fn create_rule(c: &config::Client, name: &str) {
    c.put_config_rule()
        .config_rule(managed_rule(name))
        .send()
        .await
        .unwrap();
}

async fn describe(c: &config::Client, rule: &str) -> Vec<RemediationConfiguration> {
    c.describe_remediation_configurations()
        .config_rule_names(rule)
        .send()
        .await
        .unwrap()
        .remediation_configurations()
        .to_vec()
}

#[tokio::test]
async fn put_and_describe_round_trip_every_member() {
    let server = Server::start();
    let c = server.client();
    create_rule(&c, "versioning").await;
    create_rule(&c, "second").await;

    let out = c
        .put_remediation_configurations()
        .remediation_configurations(full("versioning"))
        .send()
        .await
        .unwrap();
    assert!(out.failed_batches().is_empty(), "{out:?}");

    let got = describe(&c, "versioning").await;
    assert_eq!(got.len(), 1);
    let g = &got[0];
    let arn = g.arn().expect("Arn returned").to_string();
    assert!(
        arn.starts_with(
            "arn:aws:config:us-east-1:000000000000:remediation-configuration/versioning/"
        ),
        "{arn}"
    );
    // Everything but the ARN is what was put.
    let mut expected = full("versioning");
    expected.arn = Some(arn.clone());
    assert_eq!(g, &expected);
    assert_eq!(g.config_rule_name(), "versioning");
    assert_eq!(g.target_type(), &RemediationTargetType::SsmDocument);
    assert_eq!(g.target_id(), "AWS-ConfigureS3BucketVersioning");
    assert_eq!(g.target_version(), Some("$DEFAULT"));
    assert_eq!(g.resource_type(), Some("AWS::S3::Bucket"));
    assert!(g.automatic());
    assert_eq!(g.maximum_automatic_attempts(), Some(7));
    assert_eq!(g.retry_attempt_seconds(), Some(120));
    let ssm = g.execution_controls().unwrap().ssm_controls().unwrap();
    assert_eq!(
        (
            ssm.concurrent_execution_rate_percentage(),
            ssm.error_percentage()
        ),
        (Some(20), Some(40))
    );
    let params = g.parameters().unwrap();
    assert_eq!(params.len(), 3);
    assert_eq!(
        params["BucketName"].resource_value().unwrap().value(),
        &ResourceValueType::ResourceId
    );
    assert_eq!(
        params["VersioningState"].static_value().unwrap().values(),
        &["Enabled", "Suspended"]
    );
    assert_eq!(g.created_by_service(), None);

    // Update: members not given are gone, the ARN stays.
    let out = c
        .put_remediation_configurations()
        .remediation_configurations({
            let mut b = basic("versioning");
            b.arn = Some(
                "arn:aws:config:us-east-1:000000000000:remediation-configuration/spoofed".into(),
            );
            b.created_by_service = Some("securityhub.amazonaws.com".into());
            b
        })
        .send()
        .await
        .unwrap();
    assert!(out.failed_batches().is_empty());
    let got = describe(&c, "versioning").await;
    let mut expected = basic("versioning");
    expected.arn = Some(arn.clone());
    assert_eq!(got, vec![expected]);

    // Another rule's configuration has another ARN.
    c.put_remediation_configurations()
        .remediation_configurations(basic("second"))
        .send()
        .await
        .unwrap();
    let second = describe(&c, "second").await;
    let second_arn = second[0].arn().unwrap();
    assert_ne!(second_arn, arn);
    assert!(second_arn
        .starts_with("arn:aws:config:us-east-1:000000000000:remediation-configuration/second/"));

    // Both at once, in the order asked.
    let both = c
        .describe_remediation_configurations()
        .config_rule_names("second")
        .config_rule_names("versioning")
        .send()
        .await
        .unwrap();
    let names: Vec<_> = both
        .remediation_configurations()
        .iter()
        .map(|r| r.config_rule_name())
        .collect();
    assert_eq!(names, vec!["second", "versioning"]);

    // Manual configurations may omit the role; the role may also come as `assumeRole`.
    let manual = RemediationConfiguration::builder()
        .config_rule_name("second")
        .target_type(RemediationTargetType::SsmDocument)
        .target_id("AWS-ConfigureS3BucketVersioning")
        .parameters("assumeRole", static_value(&[ROLE]))
        .automatic(false)
        .build()
        .unwrap();
    c.put_remediation_configurations()
        .remediation_configurations(manual.clone())
        .send()
        .await
        .unwrap();
    let got = describe(&c, "second").await;
    assert_eq!(got[0].arn(), Some(second_arn));
    assert!(!got[0].automatic());
    assert!(got[0].parameters().unwrap().contains_key("assumeRole"));
}

#[tokio::test]
async fn put_reports_unknown_rules_in_failed_batches() {
    let server = Server::start();
    let c = server.client();
    create_rule(&c, "exists").await;

    let out = c
        .put_remediation_configurations()
        .remediation_configurations(basic("exists"))
        .remediation_configurations(basic("ghost"))
        .send()
        .await
        .unwrap();
    let failed = out.failed_batches();
    assert_eq!(failed.len(), 1, "{out:?}");
    assert_eq!(
        failed[0].failure_message(),
        Some("The ConfigRule 'ghost' does not exist. Create the rule before its remediation configuration.")
    );
    let items: Vec<_> = failed[0]
        .failed_items()
        .iter()
        .map(|i| i.config_rule_name())
        .collect();
    assert_eq!(items, vec!["ghost"]);
    // The good one was stored anyway.
    assert_eq!(describe(&c, "exists").await.len(), 1);
    let err = c
        .describe_remediation_configurations()
        .config_rule_names("ghost")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "NoSuchConfigRuleException");
    assert_eq!(
        error_message(&err),
        "The ConfigRule 'ghost' provided in the request is invalid. Please check the configRule name"
    );
}

#[tokio::test]
async fn put_request_limits_and_business_rules() {
    let server = Server::start();
    let c = server.client();
    for i in 0..26 {
        create_rule(&c, &format!("r{i:02}")).await;
    }

    // Empty list: accepted, nothing failed.
    let res = server.call(
        "StarlingDoveService.PutRemediationConfigurations",
        r#"{"RemediationConfigurations": []}"#,
    );
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    assert!(res
        .json()
        .get("FailedBatches")
        .is_none_or(|f| f.as_array().is_some_and(|a| a.is_empty())));
    let out = c
        .put_remediation_configurations()
        .set_remediation_configurations(Some(vec![]))
        .send()
        .await
        .unwrap();
    assert!(out.failed_batches().is_empty());

    // 26 configurations in one call: refused whole.
    let all: Vec<_> = (0..26).map(|i| basic(&format!("r{i:02}"))).collect();
    let err = c
        .put_remediation_configurations()
        .set_remediation_configurations(Some(all.clone()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ValidationException");
    assert!(
        error_message(&err).ends_with(
            "at 'remediationConfigurations' failed to satisfy constraint: Member must have length less than or equal to 25"
        ),
        "{}",
        error_message(&err)
    );
    assert!(describe(&c, "r00").await.is_empty());
    // 25 are fine.
    let out = c
        .put_remediation_configurations()
        .set_remediation_configurations(Some(all[..25].to_vec()))
        .send()
        .await
        .unwrap();
    assert!(out.failed_batches().is_empty());
    assert_eq!(describe(&c, "r24").await.len(), 1);
    assert!(describe(&c, "r25").await.is_empty());

    // A parameter with both ResourceValue and StaticValue.
    let both = RemediationParameterValue::builder()
        .resource_value(
            ResourceValue::builder()
                .value(ResourceValueType::ResourceId)
                .build()
                .unwrap(),
        )
        .static_value(StaticValue::builder().values("x").build().unwrap())
        .build();
    let mut bad = basic("r25");
    bad.parameters
        .as_mut()
        .unwrap()
        .insert("BucketName".into(), both);
    let err = c
        .put_remediation_configurations()
        .remediation_configurations(bad)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValueException");
    assert!(
        error_message(&err).starts_with(
            "There were invalid RemediationParameterValues for configurations for AWS Config Rules"
        ),
        "{}",
        error_message(&err)
    );
    // ... or with neither.
    let mut bad = basic("r25");
    bad.parameters
        .as_mut()
        .unwrap()
        .insert("Empty".into(), RemediationParameterValue::builder().build());
    let err = c
        .put_remediation_configurations()
        .remediation_configurations(bad)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValueException");

    // Two parameters both taking the resource id.
    let mut bad = basic("r25");
    bad.parameters
        .as_mut()
        .unwrap()
        .insert("Other".into(), resource_id_value());
    let err = c
        .put_remediation_configurations()
        .remediation_configurations(bad)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValueException");
    assert!(
        error_message(&err).contains("ResourceValue"),
        "{}",
        error_message(&err)
    );

    // 25 parameters are fine, 26 are a model violation.
    let with_params = |n: usize| {
        let mut cfg = basic("r25");
        for i in 1..n {
            cfg.parameters
                .as_mut()
                .unwrap()
                .insert(format!("P{i:02}"), static_value(&["x"]));
        }
        cfg
    };
    c.put_remediation_configurations()
        .remediation_configurations(with_params(25))
        .send()
        .await
        .unwrap();
    assert_eq!(describe(&c, "r25").await[0].parameters().unwrap().len(), 25);
    let err = c
        .put_remediation_configurations()
        .remediation_configurations(with_params(26))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ValidationException");
    assert!(
        error_message(&err).ends_with(
            "at 'remediationConfigurations.1.member.parameters' failed to satisfy constraint: Member must have length less than or equal to 25"
        ),
        "{}",
        error_message(&err)
    );
    c.delete_remediation_configuration()
        .config_rule_name("r25")
        .send()
        .await
        .unwrap();

    // Automatic without AutomationAssumeRole.
    let mut bad = basic("r25");
    bad.automatic = true;
    let err = c
        .put_remediation_configurations()
        .remediation_configurations(bad)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValueException");
    assert!(
        error_message(&err).contains("AutomationAssumeRole"),
        "{}",
        error_message(&err)
    );
    // A bad item fails the whole call, even next to a good one.
    let mut bad = basic("r25");
    bad.automatic = true;
    let err = c
        .put_remediation_configurations()
        .remediation_configurations(basic("r25"))
        .remediation_configurations(bad)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValueException");
    assert!(describe(&c, "r25").await.is_empty());

    // MaximumAutomaticAttempts 1..25.
    let mut ok = basic("r25");
    ok.maximum_automatic_attempts = Some(25);
    c.put_remediation_configurations()
        .remediation_configurations(ok)
        .send()
        .await
        .unwrap();
    assert_eq!(
        describe(&c, "r25").await[0].maximum_automatic_attempts(),
        Some(25)
    );
    let mut bad = basic("r25");
    bad.maximum_automatic_attempts = Some(26);
    let err = c
        .put_remediation_configurations()
        .remediation_configurations(bad)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ValidationException");
    assert_eq!(
        error_message(&err),
        "1 validation error detected: Value '26' at 'remediationConfigurations.1.member.maximumAutomaticAttempts' failed to satisfy constraint: Member must have value less than or equal to 25"
    );

    // RetryAttemptSeconds 1..2678000.
    let mut ok = basic("r25");
    ok.retry_attempt_seconds = Some(2_678_000);
    c.put_remediation_configurations()
        .remediation_configurations(ok)
        .send()
        .await
        .unwrap();
    assert_eq!(
        describe(&c, "r25").await[0].retry_attempt_seconds(),
        Some(2_678_000)
    );
    let mut bad = basic("r25");
    bad.retry_attempt_seconds = Some(2_678_001);
    let err = c
        .put_remediation_configurations()
        .remediation_configurations(basic("r00"))
        .remediation_configurations(bad)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ValidationException");
    assert_eq!(
        error_message(&err),
        "1 validation error detected: Value '2678001' at 'remediationConfigurations.2.member.retryAttemptSeconds' failed to satisfy constraint: Member must have value less than or equal to 2678000"
    );

    // StaticValue values: 25 fine, 26 not.
    let values: Vec<String> = (0..26).map(|i| format!("v{i}")).collect();
    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
    let mut ok = basic("r25");
    ok.parameters
        .as_mut()
        .unwrap()
        .insert("Values".into(), static_value(&refs[..25]));
    c.put_remediation_configurations()
        .remediation_configurations(ok)
        .send()
        .await
        .unwrap();
    let got = describe(&c, "r25").await;
    assert_eq!(
        got[0].parameters().unwrap()["Values"]
            .static_value()
            .unwrap()
            .values()
            .len(),
        25
    );
    let mut bad = basic("r25");
    bad.parameters
        .as_mut()
        .unwrap()
        .insert("Values".into(), static_value(&refs));
    let err = c
        .put_remediation_configurations()
        .remediation_configurations(bad)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ValidationException");
    let msg = error_message(&err);
    assert!(
        msg.starts_with("1 validation error detected: Value '[v0, v1,"),
        "{msg}"
    );
    assert!(
        msg.ends_with("at 'remediationConfigurations.1.member.parameters.Values.member.staticValue.values' failed to satisfy constraint: Member must have length less than or equal to 25"),
        "{msg}"
    );
    // Rejected puts changed nothing.
    assert_eq!(
        describe(&c, "r25").await[0].parameters().unwrap()["Values"]
            .static_value()
            .unwrap()
            .values()
            .len(),
        25
    );

    // TargetType outside the enum (raw: the SDK only knows SSM_DOCUMENT).
    let res = server.call(
        "StarlingDoveService.PutRemediationConfigurations",
        r#"{"RemediationConfigurations": [{"ConfigRuleName": "r25", "TargetType": "LAMBDA", "TargetId": "x"}]}"#,
    );
    assert_eq!(res.error_type(), "ValidationException");
    assert_eq!(
        res.message(),
        "1 validation error detected: Value 'LAMBDA' at 'remediationConfigurations.1.member.targetType' failed to satisfy constraint: Member must satisfy enum value set: [SSM_DOCUMENT]"
    );
}

#[tokio::test]
async fn describe_and_delete() {
    let server = Server::start();
    let c = server.client();
    create_rule(&c, "bare").await;
    create_rule(&c, "configured").await;

    // A rule without a configuration: empty list. No rule: NoSuchConfigRuleException.
    assert!(describe(&c, "bare").await.is_empty());
    let err = c
        .describe_remediation_configurations()
        .config_rule_names("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "NoSuchConfigRuleException");
    // No names at all: nothing.
    let out = c
        .describe_remediation_configurations()
        .set_config_rule_names(Some(vec![]))
        .send()
        .await
        .unwrap();
    assert!(out.remediation_configurations().is_empty());
    // 26 names: refused.
    let names: Vec<String> = (0..26).map(|i| format!("n{i}")).collect();
    let err = c
        .describe_remediation_configurations()
        .set_config_rule_names(Some(names))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ValidationException");

    // Delete without a configuration.
    let err = c
        .delete_remediation_configuration()
        .config_rule_name("bare")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "NoSuchRemediationConfigurationException");
    assert_eq!(
        error_message(&err),
        "No RemediationConfiguration for rule exists: bare"
    );

    c.put_remediation_configurations()
        .remediation_configurations(basic("configured"))
        .send()
        .await
        .unwrap();
    let first_arn = describe(&c, "configured").await[0]
        .arn()
        .unwrap()
        .to_string();
    c.delete_remediation_configuration()
        .config_rule_name("configured")
        .send()
        .await
        .unwrap();
    assert!(describe(&c, "configured").await.is_empty());
    let err = c
        .delete_remediation_configuration()
        .config_rule_name("configured")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "NoSuchRemediationConfigurationException");
    // The rule itself is untouched.
    c.describe_config_rules()
        .config_rule_names("configured")
        .send()
        .await
        .unwrap();
    // Putting it again mints a new configuration (a new ARN).
    c.put_remediation_configurations()
        .remediation_configurations(basic("configured"))
        .send()
        .await
        .unwrap();
    assert_ne!(
        describe(&c, "configured").await[0].arn(),
        Some(first_arn.as_str())
    );

    // Other regions do not see it.
    let west = server.client_as("test", "test", "us-west-2");
    let err = west
        .delete_remediation_configuration()
        .config_rule_name("configured")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "NoSuchRemediationConfigurationException");
}
