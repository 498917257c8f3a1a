//! PutConfigRule, DescribeConfigRules and DeleteConfigRule through the official SDK (raw signed
//! requests only where the exact ValidationException text matters or the SDK cannot express it).

mod common;

use common::config::types::{
    ConfigRule, ConfigRuleState, CustomPolicyDetails, DescribeConfigRulesFilters, EvaluationMode,
    EvaluationModeConfiguration, MaximumExecutionFrequency, MessageType, Owner,
    RemediationConfiguration, RemediationTargetType, Scope, Source, SourceDetail, Tag,
};
use common::*;

const ACCOUNT: &str = "000000000000";

fn source(owner: Owner, identifier: &str) -> Source {
    Source::builder()
        .owner(owner)
        .source_identifier(identifier)
        .build()
        .unwrap()
}

fn managed(name: &str, identifier: &str) -> ConfigRule {
    ConfigRule::builder()
        .config_rule_name(name)
        .source(source(Owner::Aws, identifier))
        .build()
}

fn remediation(rule: &str) -> RemediationConfiguration {
    RemediationConfiguration::builder()
        .config_rule_name(rule)
        .target_type(RemediationTargetType::SsmDocument)
        .target_id("AWS-ConfigureS3BucketVersioning")
        .build()
        .unwrap()
}

async fn describe_one(c: &config::Client, name: &str) -> ConfigRule {
    let out = c
        .describe_config_rules()
        .config_rule_names(name)
        .send()
        .await
        .unwrap();
    assert_eq!(out.config_rules().len(), 1, "{out:?}");
    out.config_rules()[0].clone()
}

async fn all_rule_names(c: &config::Client) -> Vec<String> {
    let pages: Vec<_> = c
        .describe_config_rules()
        .into_paginator()
        .send()
        .collect()
        .await;
    pages
        .into_iter()
        .flat_map(|p| p.unwrap().config_rules().to_vec())
        .map(|r| r.config_rule_name().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn put_config_rule_creates_then_updates_by_name_id_and_arn() {
    let server = Server::start();
    let c = server.client();

    c.put_config_rule()
        .config_rule(managed("versioning", "S3_BUCKET_VERSIONING_ENABLED"))
        .send()
        .await
        .unwrap();
    let created = describe_one(&c, "versioning").await;
    let id = created.config_rule_id().unwrap().to_string();
    let arn = created.config_rule_arn().unwrap().to_string();
    let suffix = id
        .strip_prefix("config-rule-")
        .expect("id starts with config-rule-");
    assert_eq!(suffix.len(), 6, "{id}");
    assert!(
        suffix
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit()),
        "{id}"
    );
    assert_eq!(
        arn,
        format!("arn:aws:config:us-east-1:{ACCOUNT}:config-rule/{id}")
    );
    assert_eq!(created.config_rule_state(), Some(&ConfigRuleState::Active));
    assert_eq!(
        created.evaluation_modes(),
        &[EvaluationModeConfiguration::builder()
            .mode(EvaluationMode::Detective)
            .build()]
    );
    assert_eq!(created.source().unwrap().owner(), &Owner::Aws);
    assert_eq!(
        created.source().unwrap().source_identifier(),
        Some("S3_BUCKET_VERSIONING_ENABLED")
    );
    assert_eq!(created.created_by(), None);

    // A second rule gets its own identity.
    c.put_config_rule()
        .config_rule(managed("other", "S3_BUCKET_VERSIONING_ENABLED"))
        .send()
        .await
        .unwrap();
    let other = describe_one(&c, "other").await;
    assert_ne!(other.config_rule_id(), Some(id.as_str()));

    // Update by name.
    let mut by_name = managed("versioning", "S3_BUCKET_VERSIONING_ENABLED");
    by_name.description = Some("by name".into());
    c.put_config_rule()
        .config_rule(by_name)
        .send()
        .await
        .unwrap();
    let r = describe_one(&c, "versioning").await;
    assert_eq!(r.description(), Some("by name"));
    assert_eq!(
        (r.config_rule_id(), r.config_rule_arn()),
        (Some(id.as_str()), Some(arn.as_str()))
    );

    // Update by id (no name given).
    let by_id = ConfigRule::builder()
        .config_rule_id(&id)
        .description("by id")
        .input_parameters(r#"{"isMfaDeleteEnabled":"true"}"#)
        .source(source(Owner::Aws, "S3_BUCKET_VERSIONING_ENABLED"))
        .build();
    c.put_config_rule().config_rule(by_id).send().await.unwrap();
    let r = describe_one(&c, "versioning").await;
    assert_eq!(r.description(), Some("by id"));
    assert_eq!(
        r.input_parameters(),
        Some(r#"{"isMfaDeleteEnabled":"true"}"#)
    );
    assert_eq!(
        (r.config_rule_id(), r.config_rule_arn()),
        (Some(id.as_str()), Some(arn.as_str()))
    );

    // Update by ARN.
    let by_arn = ConfigRule::builder()
        .config_rule_arn(&arn)
        .description("by arn")
        .source(source(Owner::Aws, "S3_BUCKET_VERSIONING_ENABLED"))
        .build();
    c.put_config_rule()
        .config_rule(by_arn)
        .send()
        .await
        .unwrap();
    let r = describe_one(&c, "versioning").await;
    assert_eq!(r.description(), Some("by arn"));
    assert_eq!(r.config_rule_name(), Some("versioning"));
    assert_eq!(
        (r.config_rule_id(), r.config_rule_arn()),
        (Some(id.as_str()), Some(arn.as_str()))
    );
    assert_eq!(all_rule_names(&c).await, vec!["other", "versioning"]);

    // An id can not rename a rule.
    let rename = ConfigRule::builder()
        .config_rule_id(&id)
        .config_rule_name("renamed")
        .source(source(Owner::Aws, "S3_BUCKET_VERSIONING_ENABLED"))
        .build();
    let err = c
        .put_config_rule()
        .config_rule(rename)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValueException");

    // ARN or id on a rule that does not exist: they can not be chosen at creation.
    for rule in [
        ConfigRule::builder()
            .config_rule_name("fresh")
            .config_rule_id("config-rule-abcdef")
            .source(source(Owner::Aws, "S3_BUCKET_VERSIONING_ENABLED"))
            .build(),
        ConfigRule::builder()
            .config_rule_name("fresh")
            .config_rule_arn(format!(
                "arn:aws:config:us-east-1:{ACCOUNT}:config-rule/config-rule-abcdef"
            ))
            .source(source(Owner::Aws, "S3_BUCKET_VERSIONING_ENABLED"))
            .build(),
    ] {
        let err = c
            .put_config_rule()
            .config_rule(rule)
            .send()
            .await
            .unwrap_err();
        assert_eq!(error_code(&err), "InvalidParameterValueException");
        assert!(
            error_message(&err).starts_with(
                "ConfigRule Arn and Id can not be specified when creating a new ConfigRule"
            ),
            "{}",
            error_message(&err)
        );
    }
    assert_eq!(all_rule_names(&c).await, vec!["other", "versioning"]);

    // Another account's view is empty, and the same name there is a different rule.
    let c2 = server.client_as("test", "test", "eu-west-1");
    assert!(all_rule_names(&c2).await.is_empty());
    c2.put_config_rule()
        .config_rule(managed("versioning", "S3_BUCKET_VERSIONING_ENABLED"))
        .send()
        .await
        .unwrap();
    let eu = describe_one(&c2, "versioning").await;
    assert!(eu
        .config_rule_arn()
        .unwrap()
        .starts_with("arn:aws:config:eu-west-1:"));
    assert_ne!(eu.config_rule_id(), Some(id.as_str()));
}

#[tokio::test]
async fn put_config_rule_rejects_invalid_rules() {
    let server = Server::start();
    let c = server.client();

    let lambda_arn = "arn:aws:lambda:us-east-1:000000000000:function:check";
    let change_detail = SourceDetail::builder()
        .event_source(common::config::types::EventSource::AwsConfig)
        .message_type(MessageType::ConfigurationItemChangeNotification)
        .build();
    let cases: Vec<(&str, ConfigRule, &str)> = vec![
        (
            "unknown managed identifier",
            managed("r", "NOT_A_MANAGED_RULE"),
            "The sourceIdentifier NOT_A_MANAGED_RULE is invalid.",
        ),
        (
            "SourceDetails with owner AWS",
            ConfigRule::builder()
                .config_rule_name("r")
                .source(
                    Source::builder()
                        .owner(Owner::Aws)
                        .source_identifier("S3_BUCKET_VERSIONING_ENABLED")
                        .source_details(change_detail.clone())
                        .build()
                        .unwrap(),
                )
                .build(),
            "SourceDetails should be null/empty if the owner is AWS.",
        ),
        (
            "unknown InputParameters key",
            ConfigRule::builder()
                .config_rule_name("r")
                .input_parameters(r#"{"isMfaDeleteEnabled":"true","bogusKey":"1"}"#)
                .source(source(Owner::Aws, "S3_BUCKET_VERSIONING_ENABLED"))
                .build(),
            "Unknown parameters provided in the inputParameters: bogusKey.",
        ),
        (
            "InputParameters not JSON",
            ConfigRule::builder()
                .config_rule_name("r")
                .input_parameters("{not json")
                .source(source(Owner::Aws, "S3_BUCKET_VERSIONING_ENABLED"))
                .build(),
            "Invalid json {not json passed in the InputParameters field",
        ),
        (
            "InputParameters a JSON array",
            ConfigRule::builder()
                .config_rule_name("r")
                .input_parameters("[1]")
                .source(source(Owner::Aws, "S3_BUCKET_VERSIONING_ENABLED"))
                .build(),
            "Invalid json [1] passed in the InputParameters field",
        ),
        (
            "required managed parameter missing",
            managed("r", "DESIRED_INSTANCE_TYPE"),
            "The required parameter [instanceType] is not present in the inputParameters",
        ),
        (
            "frequency on a change-triggered managed rule",
            ConfigRule::builder()
                .config_rule_name("r")
                .maximum_execution_frequency(MaximumExecutionFrequency::OneHour)
                .source(source(Owner::Aws, "S3_BUCKET_VERSIONING_ENABLED"))
                .build(),
            "A maximum execution frequency for this rule is not allowed because only a change in resources triggers this managed rule.",
        ),
        (
            "CUSTOM_LAMBDA without SourceDetails",
            ConfigRule::builder().config_rule_name("r").source(source(Owner::CustomLambda, lambda_arn)).build(),
            "SourceDetails should be provided if the owner is CUSTOM_LAMBDA.",
        ),
        (
            "CUSTOM_POLICY without CustomPolicyDetails",
            ConfigRule::builder()
                .config_rule_name("r")
                .source(
                    Source::builder()
                        .owner(Owner::CustomPolicy)
                        .source_details(change_detail.clone())
                        .build()
                        .unwrap(),
                )
                .build(),
            "CustomPolicyDetails is required when the owner is CUSTOM_POLICY.",
        ),
        (
            "Scope TagValue without TagKey",
            ConfigRule::builder()
                .config_rule_name("r")
                .scope(Scope::builder().tag_value("prod").build())
                .source(source(Owner::Aws, "S3_BUCKET_VERSIONING_ENABLED"))
                .build(),
            "Scope TagValue cannot be specified without a TagKey.",
        ),
        (
            "Scope TagKey together with resource types",
            ConfigRule::builder()
                .config_rule_name("r")
                .scope(Scope::builder().tag_key("env").compliance_resource_types("AWS::S3::Bucket").build())
                .source(source(Owner::Aws, "S3_BUCKET_VERSIONING_ENABLED"))
                .build(),
            "Scope cannot combine ComplianceResourceTypes with TagKey/TagValue",
        ),
        (
            "Scope ComplianceResourceId without a resource type",
            ConfigRule::builder()
                .config_rule_name("r")
                .scope(Scope::builder().compliance_resource_id("my-bucket").build())
                .source(source(Owner::Aws, "S3_BUCKET_VERSIONING_ENABLED"))
                .build(),
            "A ComplianceResourceId in the Scope requires exactly one ComplianceResourceTypes entry.",
        ),
        (
            "Scope on a periodic-only managed rule",
            ConfigRule::builder()
                .config_rule_name("r")
                .scope(Scope::builder().compliance_resource_types("AWS::IAM::User").build())
                .source(source(Owner::Aws, "IAM_PASSWORD_POLICY"))
                .build(),
            "Scope is not supported for this managed rule because it is triggered only periodically.",
        ),
        (
            "SourceDetail frequency on a change notification",
            ConfigRule::builder()
                .config_rule_name("r")
                .source(
                    Source::builder()
                        .owner(Owner::CustomLambda)
                        .source_identifier(lambda_arn)
                        .source_details(
                            SourceDetail::builder()
                                .event_source(common::config::types::EventSource::AwsConfig)
                                .message_type(MessageType::ConfigurationItemChangeNotification)
                                .maximum_execution_frequency(MaximumExecutionFrequency::OneHour)
                                .build(),
                        )
                        .build()
                        .unwrap(),
                )
                .build(),
            "A MaximumExecutionFrequency can be set only on a SourceDetail whose MessageType is ScheduledNotification.",
        ),
        (
            "ConfigRuleState DELETING on input",
            ConfigRule::builder()
                .config_rule_name("r")
                .config_rule_state(ConfigRuleState::Deleting)
                .source(source(Owner::Aws, "S3_BUCKET_VERSIONING_ENABLED"))
                .build(),
            "The ConfigRuleState DELETING is invalid. Only the following values are permitted: ACTIVE",
        ),
        (
            "CreatedBy on input",
            ConfigRule::builder()
                .config_rule_name("r")
                .created_by("securityhub.amazonaws.com")
                .source(source(Owner::Aws, "S3_BUCKET_VERSIONING_ENABLED"))
                .build(),
            "AWS Config populates the CreatedBy field automatically",
        ),
    ];
    for (what, rule, message) in cases {
        let err = c
            .put_config_rule()
            .config_rule(rule)
            .send()
            .await
            .unwrap_err();
        assert_eq!(error_code(&err), "InvalidParameterValueException", "{what}");
        assert!(
            error_message(&err).starts_with(message),
            "{what}: {}",
            error_message(&err)
        );
    }
    // None of them was stored.
    assert!(all_rule_names(&c).await.is_empty());

    // The valid counterparts are accepted.
    c.put_config_rule()
        .config_rule(
            ConfigRule::builder()
                .config_rule_name("lambda")
                .source(
                    Source::builder()
                        .owner(Owner::CustomLambda)
                        .source_identifier(lambda_arn)
                        .source_details(change_detail.clone())
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    c.put_config_rule()
        .config_rule(
            ConfigRule::builder()
                .config_rule_name("policy")
                .source(
                    Source::builder()
                        .owner(Owner::CustomPolicy)
                        .source_details(change_detail)
                        .custom_policy_details(
                            CustomPolicyDetails::builder()
                                .policy_runtime("guard-2.x.x")
                                .policy_text("rule r { configuration exists }")
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    c.put_config_rule()
        .config_rule(
            ConfigRule::builder()
                .config_rule_name("tagged-scope")
                .config_rule_state(ConfigRuleState::Active)
                .scope(Scope::builder().tag_key("env").tag_value("prod").build())
                .input_parameters(r#"{"instanceType":"t3.micro"}"#)
                .source(source(Owner::Aws, "DESIRED_INSTANCE_TYPE"))
                .build(),
        )
        .send()
        .await
        .unwrap();
    // A periodic custom rule keeps its frequency on the SourceDetail; no rule-level default is
    // invented that would contradict it.
    c.put_config_rule()
        .config_rule(
            ConfigRule::builder()
                .config_rule_name("lambda-hourly")
                .source(
                    Source::builder()
                        .owner(Owner::CustomLambda)
                        .source_identifier(lambda_arn)
                        .source_details(
                            SourceDetail::builder()
                                .event_source(common::config::types::EventSource::AwsConfig)
                                .message_type(MessageType::ScheduledNotification)
                                .maximum_execution_frequency(MaximumExecutionFrequency::OneHour)
                                .build(),
                        )
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let hourly = describe_one(&c, "lambda-hourly").await;
    assert_eq!(hourly.maximum_execution_frequency(), None);
    assert_eq!(
        hourly.source().unwrap().source_details()[0].maximum_execution_frequency(),
        Some(&MaximumExecutionFrequency::OneHour)
    );
    // A periodic managed rule gets the documented default frequency; a change-triggered one none.
    c.put_config_rule()
        .config_rule(managed("periodic", "IAM_PASSWORD_POLICY"))
        .send()
        .await
        .unwrap();
    let periodic = describe_one(&c, "periodic").await;
    assert_eq!(
        periodic.maximum_execution_frequency(),
        Some(&MaximumExecutionFrequency::TwentyFourHours)
    );
    assert_eq!(
        describe_one(&c, "tagged-scope")
            .await
            .maximum_execution_frequency(),
        None
    );
    // An explicit frequency on a periodic managed rule is kept.
    let mut six = managed("periodic", "IAM_PASSWORD_POLICY");
    six.maximum_execution_frequency = Some(MaximumExecutionFrequency::SixHours);
    c.put_config_rule().config_rule(six).send().await.unwrap();
    assert_eq!(
        describe_one(&c, "periodic")
            .await
            .maximum_execution_frequency(),
        Some(&MaximumExecutionFrequency::SixHours)
    );
    let policy = describe_one(&c, "policy").await;
    assert_eq!(
        policy
            .source()
            .unwrap()
            .custom_policy_details()
            .unwrap()
            .policy_text(),
        "rule r { configuration exists }"
    );
    assert_eq!(
        all_rule_names(&c).await,
        vec![
            "lambda",
            "lambda-hourly",
            "periodic",
            "policy",
            "tagged-scope"
        ]
    );
}

#[tokio::test]
async fn put_config_rule_model_constraints() {
    let server = Server::start();
    let c = server.client();

    let ok = "n".repeat(128);
    c.put_config_rule()
        .config_rule(managed(&ok, "S3_BUCKET_VERSIONING_ENABLED"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        describe_one(&c, &ok).await.config_rule_name(),
        Some(ok.as_str())
    );

    let long = "n".repeat(129);
    let body = serde_json::json!({
        "ConfigRule": {"ConfigRuleName": long, "Source": {"Owner": "AWS", "SourceIdentifier": "S3_BUCKET_VERSIONING_ENABLED"}}
    });
    let res = server.call("StarlingDoveService.PutConfigRule", &body.to_string());
    assert_eq!(res.status, 400);
    assert_eq!(res.error_type(), "ValidationException");
    assert_eq!(
        res.message(),
        format!("1 validation error detected: Value '{long}' at 'configRule.configRuleName' failed to satisfy constraint: Member must have length less than or equal to 128")
    );
    // The SDK sends it too and sees the same error.
    let err = c
        .put_config_rule()
        .config_rule(managed(&long, "S3_BUCKET_VERSIONING_ENABLED"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ValidationException");

    let res = server.call(
        "StarlingDoveService.PutConfigRule",
        r#"{"ConfigRule": {"ConfigRuleName": "   ", "Source": {"Owner": "AWS", "SourceIdentifier": "S3_BUCKET_VERSIONING_ENABLED"}}}"#,
    );
    assert_eq!(res.error_type(), "ValidationException");
    assert_eq!(
        res.message(),
        r"1 validation error detected: Value '   ' at 'configRule.configRuleName' failed to satisfy constraint: Member must satisfy regular expression pattern: .*\S.*"
    );

    // Missing Source (required in the model).
    let res = server.call(
        "StarlingDoveService.PutConfigRule",
        r#"{"ConfigRule": {"ConfigRuleName": "x"}}"#,
    );
    assert_eq!(res.error_type(), "ValidationException");
    assert_eq!(
        res.message(),
        "1 validation error detected: Value null at 'configRule.source' failed to satisfy constraint: Member must not be null"
    );

    // Tags: 50 accepted, 51 refused by the model constraint.
    let tags = |n: usize| {
        (0..n)
            .map(|i| Tag::builder().key(format!("k{i:02}")).value("v").build())
            .collect::<Vec<_>>()
    };
    c.put_config_rule()
        .config_rule(managed("fifty", "S3_BUCKET_VERSIONING_ENABLED"))
        .set_tags(Some(tags(50)))
        .send()
        .await
        .unwrap();
    let err = c
        .put_config_rule()
        .config_rule(managed("fifty-one", "S3_BUCKET_VERSIONING_ENABLED"))
        .set_tags(Some(tags(51)))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ValidationException");
    let msg = error_message(&err);
    assert!(
        msg.starts_with("1 validation error detected: Value '"),
        "{msg}"
    );
    assert!(msg.ends_with("' at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50"), "{msg}");
    let mut names = all_rule_names(&c).await;
    names.sort();
    assert_eq!(names, vec!["fifty".to_string(), ok]);
}

#[tokio::test]
async fn rule_limit_is_enforced() {
    let server = Server::start_with(&["--max-rules", "3"]);
    let c = server.client();
    for name in ["a", "b", "c"] {
        c.put_config_rule()
            .config_rule(managed(name, "S3_BUCKET_VERSIONING_ENABLED"))
            .send()
            .await
            .unwrap();
    }
    let err = c
        .put_config_rule()
        .config_rule(managed("d", "S3_BUCKET_VERSIONING_ENABLED"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "MaxNumberOfConfigRulesExceededException");
    assert_eq!(
        error_message(&err),
        "Failed to put config rule 'd' because the maximum number of config rules: 3 is reached."
    );
    // Updates of existing rules are still allowed at the limit.
    let mut update = managed("c", "S3_BUCKET_VERSIONING_ENABLED");
    update.description = Some("updated".into());
    c.put_config_rule()
        .config_rule(update)
        .send()
        .await
        .unwrap();
    assert_eq!(describe_one(&c, "c").await.description(), Some("updated"));
    // The limit is per account and region.
    let other_region = server.client_as("test", "test", "us-west-2");
    other_region
        .put_config_rule()
        .config_rule(managed("d", "S3_BUCKET_VERSIONING_ENABLED"))
        .send()
        .await
        .unwrap();
    // Deleting one frees a slot.
    c.delete_config_rule()
        .config_rule_name("a")
        .send()
        .await
        .unwrap();
    c.put_config_rule()
        .config_rule(managed("d", "S3_BUCKET_VERSIONING_ENABLED"))
        .send()
        .await
        .unwrap();
    assert_eq!(all_rule_names(&c).await, vec!["b", "c", "d"]);

    // Racing creates never overshoot the limit.
    let racer = server.client_as("test", "test", "eu-central-1");
    let mut tasks = Vec::new();
    for i in 0..12 {
        let racer = racer.clone();
        tasks.push(tokio::spawn(async move {
            racer
                .put_config_rule()
                .config_rule(managed(
                    &format!("race-{i:02}"),
                    "S3_BUCKET_VERSIONING_ENABLED",
                ))
                .send()
                .await
                .map_err(|e| error_code(&e))
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(code) => assert_eq!(code, "MaxNumberOfConfigRulesExceededException"),
        }
    }
    assert_eq!(ok, 3);
    assert_eq!(all_rule_names(&racer).await.len(), 3);
}

#[tokio::test]
async fn racing_creates_of_one_name_make_one_rule() {
    let server = Server::start();
    let c = server.client();
    let mut tasks = Vec::new();
    for i in 0..10 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let mut rule = managed("contended", "S3_BUCKET_VERSIONING_ENABLED");
            rule.description = Some(format!("writer {i}"));
            c.put_config_rule().config_rule(rule).send().await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let out = c.describe_config_rules().send().await.unwrap();
    assert_eq!(out.config_rules().len(), 1);
    let rule = &out.config_rules()[0];
    assert!(rule.description().unwrap().starts_with("writer "));
    assert!(rule.config_rule_id().unwrap().starts_with("config-rule-"));
}

#[tokio::test]
async fn default_rule_limit_is_1000() {
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_remedy"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout).to_string();
    let flag = help.find("--max-rules").expect("--max-rules documented");
    let rest = &help[flag..];
    let next_flag = rest[2..].find("--").map(|i| i + 2).unwrap_or(rest.len());
    assert!(
        rest[..next_flag].contains("[default: 1000]"),
        "{}",
        &rest[..next_flag]
    );

    // And the running default really is 1000.
    let server = Server::start();
    let c = server.client();
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            for i in (worker..1000).step_by(8) {
                c.put_config_rule()
                    .config_rule(managed(
                        &format!("rule-{i:04}"),
                        "S3_BUCKET_VERSIONING_ENABLED",
                    ))
                    .send()
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let err = c
        .put_config_rule()
        .config_rule(managed("rule-1000", "S3_BUCKET_VERSIONING_ENABLED"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "MaxNumberOfConfigRulesExceededException");
    assert!(
        error_message(&err).contains("maximum number of config rules: 1000"),
        "{}",
        error_message(&err)
    );
    assert_eq!(all_rule_names(&c).await.len(), 1000);
}

#[tokio::test]
async fn describe_config_rules_pages_names_and_filters() {
    let server = Server::start();
    let c = server.client();
    for i in 0..60 {
        let mut rule = managed(&format!("rule-{i:02}"), "S3_BUCKET_VERSIONING_ENABLED");
        if i % 10 == 0 {
            rule.evaluation_modes = Some(vec![
                EvaluationModeConfiguration::builder()
                    .mode(EvaluationMode::Detective)
                    .build(),
                EvaluationModeConfiguration::builder()
                    .mode(EvaluationMode::Proactive)
                    .build(),
            ]);
        }
        c.put_config_rule().config_rule(rule).send().await.unwrap();
    }

    // Manual paging: 25 / 25 / 10, names in order, token absent on the last page.
    let mut sizes = Vec::new();
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = c
            .describe_config_rules()
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        sizes.push(out.config_rules().len());
        names.extend(
            out.config_rules()
                .iter()
                .map(|r| r.config_rule_name().unwrap().to_string()),
        );
        match out.next_token() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(sizes, vec![25, 25, 10]);
    let expected: Vec<String> = (0..60).map(|i| format!("rule-{i:02}")).collect();
    assert_eq!(names, expected);

    // The SDK paginator walks the same pages.
    let pages: Vec<_> = c
        .describe_config_rules()
        .into_paginator()
        .send()
        .collect()
        .await;
    let pages: Vec<_> = pages.into_iter().map(|p| p.unwrap()).collect();
    assert_eq!(
        pages
            .iter()
            .map(|p| p.config_rules().len())
            .collect::<Vec<_>>(),
        vec![25, 25, 10]
    );
    assert_eq!(all_rule_names(&c).await, expected);

    // Named rules, in the order asked.
    let out = c
        .describe_config_rules()
        .config_rule_names("rule-07")
        .config_rule_names("rule-03")
        .send()
        .await
        .unwrap();
    let got: Vec<_> = out
        .config_rules()
        .iter()
        .map(|r| r.config_rule_name().unwrap())
        .collect();
    assert_eq!(got, vec!["rule-07", "rule-03"]);
    assert_eq!(out.next_token(), None);

    // One unknown name fails the whole call.
    let err = c
        .describe_config_rules()
        .config_rule_names("rule-01")
        .config_rule_names("missing")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "NoSuchConfigRuleException");
    assert_eq!(
        error_message(&err),
        "The ConfigRule 'missing' provided in the request is invalid. Please check the configRule name"
    );

    // 25 names are fine, 26 are not.
    let names25: Vec<String> = (0..25).map(|i| format!("rule-{i:02}")).collect();
    let out = c
        .describe_config_rules()
        .set_config_rule_names(Some(names25))
        .send()
        .await
        .unwrap();
    assert_eq!(out.config_rules().len(), 25);
    let names26: Vec<String> = (0..26).map(|i| format!("rule-{i:02}")).collect();
    let err = c
        .describe_config_rules()
        .set_config_rule_names(Some(names26))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ValidationException");
    assert!(
        error_message(&err).ends_with("at 'configRuleNames' failed to satisfy constraint: Member must have length less than or equal to 25"),
        "{}",
        error_message(&err)
    );

    // Bad tokens.
    for bad in [
        "garbage",
        "eyJvcCI6Ikxpc3RUYWdzRm9yUmVzb3VyY2UiLCJhZnRlciI6IngifQ",
    ] {
        let err = c
            .describe_config_rules()
            .next_token(bad)
            .send()
            .await
            .unwrap_err();
        assert_eq!(error_code(&err), "InvalidNextTokenException", "{bad}");
        assert_eq!(error_message(&err), "The nextToken provided is invalid");
    }

    // Filter by evaluation mode: the 6 proactive rules; all 60 are detective.
    let proactive: Vec<_> = c
        .describe_config_rules()
        .filters(
            DescribeConfigRulesFilters::builder()
                .evaluation_mode(EvaluationMode::Proactive)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .config_rules()
        .iter()
        .map(|r| r.config_rule_name().unwrap().to_string())
        .collect();
    assert_eq!(
        proactive,
        vec!["rule-00", "rule-10", "rule-20", "rule-30", "rule-40", "rule-50"]
    );
    let detective: Vec<_> = c
        .describe_config_rules()
        .filters(
            DescribeConfigRulesFilters::builder()
                .evaluation_mode(EvaluationMode::Detective)
                .build(),
        )
        .into_paginator()
        .send()
        .collect()
        .await;
    let detective: usize = detective
        .into_iter()
        .map(|p| p.unwrap().config_rules().len())
        .sum();
    assert_eq!(detective, 60);
}

#[tokio::test]
async fn delete_config_rule_is_blocked_by_a_remediation_configuration() {
    let server = Server::start();
    let c = server.client();

    let err = c
        .delete_config_rule()
        .config_rule_name("missing")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "NoSuchConfigRuleException");
    assert_eq!(
        error_message(&err),
        "The ConfigRule 'missing' provided in the request is invalid. Please check the configRule name"
    );

    c.put_config_rule()
        .config_rule(managed("guarded", "S3_BUCKET_VERSIONING_ENABLED"))
        .tags(Tag::builder().key("team").value("sec").build())
        .send()
        .await
        .unwrap();
    let arn = describe_one(&c, "guarded")
        .await
        .config_rule_arn()
        .unwrap()
        .to_string();
    let out = c
        .put_remediation_configurations()
        .remediation_configurations(remediation("guarded"))
        .send()
        .await
        .unwrap();
    assert!(out.failed_batches().is_empty());

    let err = c
        .delete_config_rule()
        .config_rule_name("guarded")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceInUseException");
    assert_eq!(
        error_message(&err),
        "The rule guarded currently has a RemediationConfiguration. Please delete the RemediationConfiguration and try again."
    );
    // Still there.
    assert_eq!(
        describe_one(&c, "guarded").await.config_rule_arn(),
        Some(arn.as_str())
    );

    c.delete_remediation_configuration()
        .config_rule_name("guarded")
        .send()
        .await
        .unwrap();
    c.delete_config_rule()
        .config_rule_name("guarded")
        .send()
        .await
        .unwrap();
    let err = c
        .describe_config_rules()
        .config_rule_names("guarded")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "NoSuchConfigRuleException");
    // Its tags went with it.
    let err = c
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");
    // Deleting again: gone.
    let err = c
        .delete_config_rule()
        .config_rule_name("guarded")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "NoSuchConfigRuleException");

    // The name can be reused, with a new identity.
    c.put_config_rule()
        .config_rule(managed("guarded", "S3_BUCKET_VERSIONING_ENABLED"))
        .send()
        .await
        .unwrap();
    assert_ne!(
        describe_one(&c, "guarded").await.config_rule_arn(),
        Some(arn.as_str())
    );

    // Whitespace-only name on delete: pattern violation.
    let res = server.call(
        "StarlingDoveService.DeleteConfigRule",
        r#"{"ConfigRuleName": " "}"#,
    );
    assert_eq!(res.error_type(), "ValidationException");
    assert_eq!(
        res.message(),
        r"1 validation error detected: Value ' ' at 'configRuleName' failed to satisfy constraint: Member must satisfy regular expression pattern: .*\S.*"
    );
}
