//! Account and region isolation: everything created by one (account, region) — rules, remediation
//! configurations and exceptions, tags, configuration items — is invisible to the others, and the
//! same names can exist side by side.

mod common;

use common::config::types::{
    RemediationConfiguration, RemediationExceptionResourceKey, ResourceType, Tag,
};
use common::*;

const KEY_A: &str = "AKIDACCOUNTA";
const SECRET_A: &str = "secret-a";
const ACCOUNT_A: &str = "111111111111";
const KEY_B: &str = "AKIDACCOUNTB";
const SECRET_B: &str = "secret-b";
const ACCOUNT_B: &str = "222222222222";

fn two_account_server() -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials.toml");
    std::fs::write(
        &path,
        format!(
            "[[credential]]\naccess_key_id = \"{KEY_A}\"\nsecret_access_key = \"{SECRET_A}\"\naccount_id = \"{ACCOUNT_A}\"\n\n\
             [[credential]]\naccess_key_id = \"{KEY_B}\"\nsecret_access_key = \"{SECRET_B}\"\naccount_id = \"{ACCOUNT_B}\"\n"
        ),
    )
    .unwrap();
    (
        Server::start_with(&["--credentials", path.to_str().unwrap()]),
        dir,
    )
}

/// [`remediation_config`] without `AutomationAssumeRole`: `BucketName` is its one parameter.
fn remediation(rule: &str, document: &str) -> RemediationConfiguration {
    let mut r = remediation_config(rule, document);
    r.parameters
        .as_mut()
        .unwrap()
        .remove("AutomationAssumeRole");
    r
}

fn exception_key(id: &str) -> RemediationExceptionResourceKey {
    RemediationExceptionResourceKey::builder()
        .resource_type("AWS::S3::Bucket")
        .resource_id(id)
        .build()
}

fn rule_with_description(name: &str, description: &str) -> config::types::ConfigRule {
    let mut rule = managed_rule(name);
    rule.description = Some(description.to_string());
    rule
}

async fn rule_arn(c: &config::Client, name: &str) -> String {
    let out = c
        .describe_config_rules()
        .config_rule_names(name)
        .send()
        .await
        .unwrap();
    out.config_rules()[0].config_rule_arn().unwrap().to_string()
}

/// Creates one of everything as `c`.
async fn populate(c: &config::Client) -> String {
    c.put_config_rule()
        .config_rule(rule_with_description("shared", "owner's"))
        .send()
        .await
        .unwrap();
    c.put_config_rule()
        .config_rule(managed_rule("only-here"))
        .send()
        .await
        .unwrap();
    c.put_remediation_configurations()
        .remediation_configurations(remediation("only-here", "AWS-ConfigureS3BucketVersioning"))
        .send()
        .await
        .unwrap();
    let out = c
        .put_remediation_exceptions()
        .config_rule_name("only-here")
        .resource_keys(exception_key("logs"))
        .message("owner's exception")
        .send()
        .await
        .unwrap();
    assert!(out.failed_batches().is_empty());
    let arn = rule_arn(c, "only-here").await;
    c.tag_resource()
        .resource_arn(&arn)
        .tags(Tag::builder().key("team").value("owner").build())
        .send()
        .await
        .unwrap();
    c.put_resource_config()
        .resource_type("AWS::S3::Bucket")
        .schema_version_id("1")
        .resource_id("owners-bucket")
        .configuration("{\"name\":\"owners-bucket\"}")
        .send()
        .await
        .unwrap();
    arn
}

async fn assert_no_exceptions(c: &config::Client, who: &str) {
    let out = c
        .describe_remediation_exceptions()
        .config_rule_name("only-here")
        .send()
        .await
        .unwrap();
    assert!(
        out.remediation_exceptions().is_empty(),
        "{who} sees remediation exceptions"
    );
    let out = c
        .describe_remediation_exceptions()
        .config_rule_name("only-here")
        .resource_keys(exception_key("logs"))
        .send()
        .await
        .unwrap();
    assert!(
        out.remediation_exceptions().is_empty(),
        "{who} sees remediation exceptions"
    );
}

/// Asserts that `c` sees none of what `populate` created elsewhere (`arn` is the owner's rule).
async fn assert_sees_nothing(c: &config::Client, arn: &str, who: &str) {
    let rules = c.describe_config_rules().send().await.unwrap();
    assert!(
        rules.config_rules().is_empty(),
        "{who} sees rules: {rules:?}"
    );
    let err = c
        .describe_config_rules()
        .config_rule_names("only-here")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "NoSuchConfigRuleException", "{who}");

    let err = c
        .describe_remediation_configurations()
        .config_rule_names("only-here")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "NoSuchConfigRuleException", "{who}");
    assert_no_exceptions(c, who).await;

    let err = c
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException", "{who}");
    let err = c
        .tag_resource()
        .resource_arn(arn)
        .tags(Tag::builder().key("intruder").value("yes").build())
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException", "{who}");
    let err = c
        .untag_resource()
        .resource_arn(arn)
        .tag_keys("team")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException", "{who}");

    let err = c
        .get_resource_config_history()
        .resource_type(ResourceType::from("AWS::S3::Bucket"))
        .resource_id("owners-bucket")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotDiscoveredException", "{who}");
    let out = c
        .batch_get_resource_config()
        .resource_keys(bucket_key("owners-bucket"))
        .send()
        .await
        .unwrap();
    assert!(
        out.base_configuration_items().is_empty(),
        "{who} sees a configuration item"
    );
    let out = c
        .list_discovered_resources()
        .resource_type(ResourceType::from("AWS::S3::Bucket"))
        .send()
        .await
        .unwrap();
    assert!(
        out.resource_identifiers().is_empty(),
        "{who} sees discovered resources"
    );

    // Nor can it change or delete the owner's objects.
    let err = c
        .delete_config_rule()
        .config_rule_name("only-here")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "NoSuchConfigRuleException", "{who}");
    let err = c
        .delete_remediation_configuration()
        .config_rule_name("only-here")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_code(&err),
        "NoSuchRemediationConfigurationException",
        "{who}"
    );
    let err = c
        .delete_resource_config()
        .resource_type("AWS::S3::Bucket")
        .resource_id("owners-bucket")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotDiscoveredException", "{who}");
}

#[tokio::test]
async fn accounts_and_regions_are_isolated() {
    let (server, _creds) = two_account_server();
    let a_east = server.client_as(KEY_A, SECRET_A, "us-east-1");
    let a_west = server.client_as(KEY_A, SECRET_A, "us-west-2");
    let b_east = server.client_as(KEY_B, SECRET_B, "us-east-1");

    // The default test/test credential is not accepted once a credentials file is given.
    let err = server
        .client()
        .describe_config_rules()
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error().is_some(),
        "test/test must be refused by the service: {err:?}"
    );

    let arn = populate(&a_east).await;
    assert!(
        arn.starts_with(&format!(
            "arn:aws:config:us-east-1:{ACCOUNT_A}:config-rule/"
        )),
        "{arn}"
    );

    assert_sees_nothing(&a_west, &arn, "account A in us-west-2").await;
    assert_sees_nothing(&b_east, &arn, "account B in us-east-1").await;

    // A rule of the same name elsewhere does not expose the owner's remediation configuration,
    // exceptions or tags.
    for (c, who) in [
        (&a_west, "account A in us-west-2"),
        (&b_east, "account B in us-east-1"),
    ] {
        c.put_config_rule()
            .config_rule(managed_rule("only-here"))
            .send()
            .await
            .unwrap();
        let out = c
            .describe_remediation_configurations()
            .config_rule_names("only-here")
            .send()
            .await
            .unwrap();
        assert!(
            out.remediation_configurations().is_empty(),
            "{who} sees a remediation configuration"
        );
        assert_no_exceptions(c, who).await;
        let own_arn = rule_arn(c, "only-here").await;
        assert_ne!(own_arn, arn);
        assert!(
            c.list_tags_for_resource()
                .resource_arn(&own_arn)
                .send()
                .await
                .unwrap()
                .tags()
                .is_empty(),
            "{who}"
        );
        let err = c
            .delete_remediation_configuration()
            .config_rule_name("only-here")
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            error_code(&err),
            "NoSuchRemediationConfigurationException",
            "{who}"
        );
        c.delete_config_rule()
            .config_rule_name("only-here")
            .send()
            .await
            .unwrap();
    }

    // The owner still has everything, unchanged by the others' attempts.
    let rules = a_east.describe_config_rules().send().await.unwrap();
    let mut names: Vec<_> = rules
        .config_rules()
        .iter()
        .filter_map(|r| r.config_rule_name())
        .collect();
    names.sort();
    assert_eq!(names, ["only-here", "shared"]);
    let rc = a_east
        .describe_remediation_configurations()
        .config_rule_names("only-here")
        .send()
        .await
        .unwrap();
    assert_eq!(rc.remediation_configurations().len(), 1);
    let ex = a_east
        .describe_remediation_exceptions()
        .config_rule_name("only-here")
        .send()
        .await
        .unwrap();
    assert_eq!(ex.remediation_exceptions().len(), 1);
    let tags = a_east
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    let tags: Vec<_> = tags.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(tags, [(Some("team"), Some("owner"))]);
    let items = a_east
        .get_resource_config_history()
        .resource_type(ResourceType::from("AWS::S3::Bucket"))
        .resource_id("owners-bucket")
        .send()
        .await
        .unwrap();
    assert_eq!(items.configuration_items().len(), 1);
    assert_eq!(items.configuration_items()[0].account_id(), Some(ACCOUNT_A));
    assert_eq!(
        items.configuration_items()[0].aws_region(),
        Some("us-east-1")
    );

    // The same names in each (account, region), each with its own body, ARN and id.
    a_west
        .put_config_rule()
        .config_rule(rule_with_description("shared", "west's"))
        .send()
        .await
        .unwrap();
    b_east
        .put_config_rule()
        .config_rule(rule_with_description("shared", "b's"))
        .send()
        .await
        .unwrap();
    let mut seen_ids = Vec::new();
    for (c, description, prefix) in [
        (
            &a_east,
            "owner's",
            format!("arn:aws:config:us-east-1:{ACCOUNT_A}:"),
        ),
        (
            &a_west,
            "west's",
            format!("arn:aws:config:us-west-2:{ACCOUNT_A}:"),
        ),
        (
            &b_east,
            "b's",
            format!("arn:aws:config:us-east-1:{ACCOUNT_B}:"),
        ),
    ] {
        let out = c
            .describe_config_rules()
            .config_rule_names("shared")
            .send()
            .await
            .unwrap();
        assert_eq!(out.config_rules().len(), 1);
        let rule = &out.config_rules()[0];
        assert_eq!(rule.description(), Some(description));
        assert!(
            rule.config_rule_arn().unwrap().starts_with(&prefix),
            "{:?}",
            rule.config_rule_arn()
        );
        seen_ids.push(rule.config_rule_id().unwrap().to_string());
    }
    seen_ids.sort();
    seen_ids.dedup();
    assert_eq!(seen_ids.len(), 3, "rule ids must differ");

    // Same resource id recorded in B: each reads its own item.
    b_east
        .put_resource_config()
        .resource_type("AWS::S3::Bucket")
        .schema_version_id("1")
        .resource_id("owners-bucket")
        .configuration("{\"name\":\"b's bucket\"}")
        .send()
        .await
        .unwrap();
    for (c, account, name) in [
        (&a_east, ACCOUNT_A, "owners-bucket"),
        (&b_east, ACCOUNT_B, "b's bucket"),
    ] {
        let out = c
            .get_resource_config_history()
            .resource_type(ResourceType::from("AWS::S3::Bucket"))
            .resource_id("owners-bucket")
            .send()
            .await
            .unwrap();
        assert_eq!(out.configuration_items().len(), 1, "{account}");
        let ci = &out.configuration_items()[0];
        assert_eq!(ci.account_id(), Some(account));
        let doc: serde_json::Value = serde_json::from_str(ci.configuration().unwrap()).unwrap();
        assert_eq!(doc["name"], name);
    }

    // Deleting in one place leaves the others.
    a_west
        .delete_config_rule()
        .config_rule_name("shared")
        .send()
        .await
        .unwrap();
    assert_eq!(
        a_east
            .describe_config_rules()
            .config_rule_names("shared")
            .send()
            .await
            .unwrap()
            .config_rules()
            .len(),
        1
    );
    assert_eq!(
        b_east
            .describe_config_rules()
            .config_rule_names("shared")
            .send()
            .await
            .unwrap()
            .config_rules()
            .len(),
        1
    );
}
