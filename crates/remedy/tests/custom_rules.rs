//! Custom rules through the official SDK: Guard policy rules (CUSTOM_POLICY) refused when broken
//! and evaluating recorded resources, and custom Lambda rules (CUSTOM_LAMBDA) run by a real local
//! handler — a stdlib-only Python script (`fixtures/config_rule_handler.py`) that signs its own
//! PutEvaluations call — plus failing and missing handlers showing in
//! DescribeConfigRuleEvaluationStatus.

mod common;

use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use common::config::types::{
    ComplianceType, ConfigRule, CustomPolicyDetails, EventSource, MessageType, Owner, Scope,
    Source, SourceDetail,
};
use common::*;
use serde_json::{json, Value};

const BUCKET: &str = "AWS::S3::Bucket";
const HANDLER_ARN: &str = "arn:aws:lambda:us-east-1:000000000000:function:approved-tag";
const FAILING_ARN: &str = "arn:aws:lambda:us-east-1:000000000000:function:always-fails";
const MISSING_ARN: &str = "arn:aws:lambda:us-east-1:000000000000:function:not-configured";

async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn change_trigger() -> SourceDetail {
    SourceDetail::builder()
        .event_source(EventSource::AwsConfig)
        .message_type(MessageType::ConfigurationItemChangeNotification)
        .build()
}

fn guard_rule(name: &str, policy: &str, params: Option<&str>) -> ConfigRule {
    ConfigRule::builder()
        .config_rule_name(name)
        .source(
            Source::builder()
                .owner(Owner::CustomPolicy)
                .source_details(change_trigger())
                .custom_policy_details(
                    CustomPolicyDetails::builder()
                        .policy_runtime("guard-2.x.x")
                        .policy_text(policy)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .set_input_parameters(params.map(str::to_string))
        .build()
}

fn lambda_rule(name: &str, arn: &str) -> ConfigRule {
    ConfigRule::builder()
        .config_rule_name(name)
        .source(
            Source::builder()
                .owner(Owner::CustomLambda)
                .source_identifier(arn)
                .source_details(change_trigger())
                .build()
                .unwrap(),
        )
        .scope(Scope::builder().compliance_resource_types(BUCKET).build())
        .input_parameters(r#"{"tag":"approved"}"#)
        .build()
}

async fn put_rule(c: &config::Client, rule: ConfigRule) {
    c.put_config_rule()
        .config_rule(rule)
        .send()
        .await
        .unwrap_or_else(|e| panic!("put rule: {}", config::error::DisplayErrorContext(e)));
}

async fn put_resource(
    c: &config::Client,
    resource_type: &str,
    id: &str,
    configuration: Value,
    tags: &[(&str, &str)],
) {
    let mut req = c
        .put_resource_config()
        .resource_type(resource_type)
        .schema_version_id("ConfigurationItem")
        .resource_id(id)
        .configuration(configuration.to_string());
    for (k, v) in tags {
        req = req.tags(*k, *v);
    }
    req.send()
        .await
        .unwrap_or_else(|e| panic!("put {id}: {}", config::error::DisplayErrorContext(e)));
}

async fn put_bucket(c: &config::Client, id: &str, tags: &[(&str, &str)]) {
    let configuration = json!({"name": id, "supplementaryConfiguration": {}});
    put_resource(c, BUCKET, id, configuration, tags).await;
}

/// (resource id, compliance, annotation) of every result of a rule, NOT_APPLICABLE included.
async fn results(c: &config::Client, rule: &str) -> Vec<(String, ComplianceType, Option<String>)> {
    let page = c
        .get_compliance_details_by_config_rule()
        .config_rule_name(rule)
        .compliance_types(ComplianceType::Compliant)
        .compliance_types(ComplianceType::NonCompliant)
        .compliance_types(ComplianceType::NotApplicable)
        .limit(100)
        .send()
        .await
        .unwrap();
    let mut out: Vec<_> = page
        .evaluation_results()
        .iter()
        .map(|r| {
            let q = r
                .evaluation_result_identifier()
                .unwrap()
                .evaluation_result_qualifier()
                .unwrap();
            (
                q.resource_id().unwrap().to_string(),
                r.compliance_type().unwrap().clone(),
                r.annotation().map(str::to_string),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Waits until the rule's (id, compliance) results are exactly `want`; returns them in full.
async fn expect_results(
    c: &config::Client,
    rule: &str,
    want: &[(&str, ComplianceType)],
) -> Vec<(String, ComplianceType, Option<String>)> {
    let mut last = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        last = results(c, rule).await;
        let seen: Vec<(&str, &ComplianceType)> =
            last.iter().map(|(i, t, _)| (i.as_str(), t)).collect();
        let wanted: Vec<(&str, &ComplianceType)> = want.iter().map(|(i, t)| (*i, t)).collect();
        if seen == wanted {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{rule}: expected {want:?}, last saw {last:?}");
}

#[tokio::test]
async fn a_broken_guard_policy_is_refused() {
    let server = Server::start();
    let c = server.client();
    let err = c
        .put_config_rule()
        .config_rule(guard_rule(
            "broken",
            "rule needs_versioning when resourceType == {",
            None,
        ))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValueException");
    let message = error_message(&err);
    assert!(
        message.starts_with("The policy text is invalid: "),
        "{message}"
    );
    // Nothing was created.
    let rules = c.describe_config_rules().send().await.unwrap();
    assert!(rules.config_rules().is_empty());

    // A valid one is accepted and returned verbatim.
    let policy = "rule ok { configuration.name exists }";
    put_rule(&c, guard_rule("fine", policy, None)).await;
    let rules = c.describe_config_rules().send().await.unwrap();
    let details = rules.config_rules()[0]
        .source()
        .unwrap()
        .custom_policy_details()
        .unwrap();
    assert_eq!(details.policy_text(), policy);
}

#[tokio::test]
async fn a_guard_rule_evaluates_recorded_resources() {
    let server = Server::start();
    let c = server.client();
    put_bucket(&c, "b-prod", &[("env", "prod")]).await;
    put_bucket(&c, "b-dev", &[("env", "dev")]).await;
    put_resource(
        &c,
        "AWS::EC2::Volume",
        "vol-1",
        json!({"volumeId": "vol-1", "encrypted": true}),
        &[],
    )
    .await;

    // The rule's InputParameters are visible to the policy as `ruleParameters`.
    let policy = r#"
let wanted = ruleParameters.env
rule bucket_env when resourceType == "AWS::S3::Bucket" {
    tags.env == %wanted <<buckets must be tagged with the wanted env>>
}
"#;
    put_rule(
        &c,
        guard_rule("bucket-env", policy, Some(r#"{"env":"prod"}"#)),
    )
    .await;
    let seen = expect_results(
        &c,
        "bucket-env",
        &[
            ("b-dev", ComplianceType::NonCompliant),
            ("b-prod", ComplianceType::Compliant),
            ("vol-1", ComplianceType::NotApplicable),
        ],
    )
    .await;
    let annotation = seen[0].2.clone().unwrap();
    assert!(annotation.contains("bucket_env"), "{annotation}");
    assert!(
        annotation.contains("buckets must be tagged with the wanted env"),
        "{annotation}"
    );

    // A change re-evaluates the resource.
    put_bucket(&c, "b-dev", &[("env", "prod")]).await;
    expect_results(
        &c,
        "bucket-env",
        &[
            ("b-dev", ComplianceType::Compliant),
            ("b-prod", ComplianceType::Compliant),
            ("vol-1", ComplianceType::NotApplicable),
        ],
    )
    .await;
}

fn write_handlers(dir: &Path) -> std::path::PathBuf {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config_rule_handler.py");
    let log = dir.join("events.jsonl");
    let file = dir.join("handlers.toml");
    let toml = format!(
        r#"
[[handler]]
function_arn = "{HANDLER_ARN}"
command = ["python3", {script:?}, {log:?}]
timeout_seconds = 20
env = {{ AWS_ACCESS_KEY_ID = "test", AWS_SECRET_ACCESS_KEY = "test" }}

[[handler]]
function_arn = "{FAILING_ARN}"
command = ["sh", "-c", "cat > /dev/null; echo 'handler crashed: KeyError' >&2; exit 3"]
"#,
        script = script.display().to_string(),
        log = log.display().to_string(),
    );
    std::fs::write(&file, toml).unwrap();
    file
}

fn python3_available() -> bool {
    std::process::Command::new("python3")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[tokio::test]
async fn a_lambda_rule_runs_its_local_handler() {
    if !python3_available() {
        eprintln!("skipped: python3 is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let handlers = write_handlers(dir.path());
    let server = Server::start_with(&["--lambda-handlers", handlers.to_str().unwrap()]);
    let c = server.client();
    put_bucket(&c, "approved", &[("approved", "yes")]).await;
    put_bucket(&c, "unapproved", &[]).await;

    // A new rule evaluates every resource in scope: the handler is invoked per bucket and
    // reports through PutEvaluations with the event's result token.
    put_rule(&c, lambda_rule("approved-tag", HANDLER_ARN)).await;
    let seen = expect_results(
        &c,
        "approved-tag",
        &[
            ("approved", ComplianceType::Compliant),
            ("unapproved", ComplianceType::NonCompliant),
        ],
    )
    .await;
    assert_eq!(
        seen[1].2.as_deref(),
        Some("the resource is not tagged approved=yes")
    );

    // The event the handler got is AWS's.
    let log = std::fs::read_to_string(dir.path().join("events.jsonl")).unwrap();
    let first: Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    assert_eq!(first["endpoint"], server.endpoint().trim_end_matches('/'));
    let event = &first["event"];
    let mut keys: Vec<&str> = event
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "accountId",
            "configRuleArn",
            "configRuleId",
            "configRuleName",
            "evaluationMode",
            "eventLeftScope",
            "executionRoleArn",
            "invokingEvent",
            "resultToken",
            "ruleParameters",
            "version"
        ]
    );
    assert_eq!(event["configRuleName"], "approved-tag");
    assert_eq!(event["accountId"], "000000000000");
    assert_eq!(event["ruleParameters"], r#"{"tag":"approved"}"#);
    let invoking: Value = serde_json::from_str(event["invokingEvent"].as_str().unwrap()).unwrap();
    assert_eq!(
        invoking["messageType"],
        "ConfigurationItemChangeNotification"
    );
    assert_eq!(invoking["configurationItem"]["resourceType"], BUCKET);
    assert_eq!(
        invoking["configurationItem"]["awsAccountId"],
        "000000000000"
    );

    // A change is re-evaluated by the handler.
    put_bucket(&c, "unapproved", &[("approved", "yes")]).await;
    expect_results(
        &c,
        "approved-tag",
        &[
            ("approved", ComplianceType::Compliant),
            ("unapproved", ComplianceType::Compliant),
        ],
    )
    .await;

    // On demand: results deleted, then StartConfigRulesEvaluation runs the handler again.
    c.delete_evaluation_results()
        .config_rule_name("approved-tag")
        .send()
        .await
        .unwrap();
    assert!(results(&c, "approved-tag").await.is_empty());
    c.start_config_rules_evaluation()
        .config_rule_names("approved-tag")
        .send()
        .await
        .unwrap();
    expect_results(
        &c,
        "approved-tag",
        &[
            ("approved", ComplianceType::Compliant),
            ("unapproved", ComplianceType::Compliant),
        ],
    )
    .await;

    // The rule's status shows successful invocations and no error.
    let status = c
        .describe_config_rule_evaluation_status()
        .config_rule_names("approved-tag")
        .send()
        .await
        .unwrap();
    let s = &status.config_rules_evaluation_status()[0];
    assert!(s.last_successful_invocation_time().is_some());
    assert!(s.last_error_code().is_none(), "{s:?}");
}

#[tokio::test]
async fn failing_and_missing_handlers_show_in_the_evaluation_status() {
    let dir = tempfile::tempdir().unwrap();
    let handlers = write_handlers(dir.path());
    let server = Server::start_with(&["--lambda-handlers", handlers.to_str().unwrap()]);
    let c = server.client();
    put_bucket(&c, "b1", &[]).await;
    put_rule(&c, lambda_rule("fails", FAILING_ARN)).await;
    put_rule(&c, lambda_rule("missing", MISSING_ARN)).await;

    for (rule, expected) in [
        ("fails", "exited with status 3: handler crashed: KeyError"),
        ("missing", "No local handler is configured"),
    ] {
        let s = eventually(Duration::from_secs(30), rule, || async {
            let out = c
                .describe_config_rule_evaluation_status()
                .config_rule_names(rule)
                .send()
                .await
                .unwrap();
            let s = out.config_rules_evaluation_status()[0].clone();
            s.last_error_code().is_some().then_some(s)
        })
        .await;
        assert!(s.last_failed_invocation_time().is_some(), "{s:?}");
        assert!(!s.last_error_code().unwrap().is_empty());
        let message = s.last_error_message().unwrap_or_default();
        assert!(message.contains(expected), "{rule}: {message}");
        // No result was reported.
        assert!(results(&c, rule).await.is_empty());
    }
}

#[test]
fn a_bad_handlers_file_stops_the_server_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("handlers.toml");
    std::fs::write(
        &file,
        "[[handler]]\nfunction_arn = \"arn:aws:lambda:us-east-1:000000000000:function:x\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_remedy"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .arg("--lambda-handlers")
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("exactly one of url and command"),
        "{stderr}"
    );
}
