//! The evaluation engine through the official SDK: change triggers, new-rule evaluation, scope
//! (types, tags, leaving scope), deleted resources, bursts, durability of queued evaluations
//! across SIGKILL, and StartConfigRulesEvaluation re-evaluating data changed behind the store's
//! back.
//!
//! These use the managed rule S3_BUCKET_VERSIONING_ENABLED, so they need its evaluator
//! (`evaluation::managed`).

mod common;

use std::future::Future;
use std::process::Command;
use std::time::{Duration, Instant};

use common::config::types::{ComplianceType, ConfigRule, ConfigRuleState, Owner, Scope, Source};
use common::*;
use serde_json::json;

const BUCKET: &str = "AWS::S3::Bucket";
const VERSIONING: &str = "S3_BUCKET_VERSIONING_ENABLED";

/// Polls `probe` until it returns `Some`, or panics after `timeout` with `what`.
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

fn bucket_item(id: &str, versioning: &str) -> serde_json::Value {
    json!({
        "resourceName": id,
        "arn": format!("arn:aws:s3:::{id}"),
        "availabilityZone": "Regional",
        "configuration": {"name": id},
        "supplementaryConfiguration": {
            "BucketVersioningConfiguration": {"status": versioning, "isMfaDeleteEnabled": null}
        }
    })
}

async fn put_bucket(c: &config::Client, id: &str, versioning: &str, tags: &[(&str, &str)]) {
    let mut req = c
        .put_resource_config()
        .resource_type(BUCKET)
        .schema_version_id("ConfigurationItem")
        .resource_id(id)
        .configuration(bucket_item(id, versioning).to_string());
    for (k, v) in tags {
        req = req.tags(*k, *v);
    }
    req.send()
        .await
        .unwrap_or_else(|e| panic!("put {id}: {}", config::error::DisplayErrorContext(e)));
}

fn managed(name: &str, identifier: &str, scope: Option<Scope>) -> ConfigRule {
    ConfigRule::builder()
        .config_rule_name(name)
        .source(
            Source::builder()
                .owner(Owner::Aws)
                .source_identifier(identifier)
                .build()
                .unwrap(),
        )
        .set_scope(scope)
        .build()
}

async fn put_rule(c: &config::Client, rule: ConfigRule) {
    c.put_config_rule()
        .config_rule(rule)
        .send()
        .await
        .unwrap_or_else(|e| panic!("put rule: {}", config::error::DisplayErrorContext(e)));
}

/// (resource id, compliance) of every result of a rule.
async fn results(c: &config::Client, rule: &str) -> Vec<(String, ComplianceType)> {
    let mut out = Vec::new();
    let mut pages = c
        .get_compliance_details_by_config_rule()
        .config_rule_name(rule)
        .limit(100)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for r in page.unwrap().evaluation_results() {
            let q = r
                .evaluation_result_identifier()
                .unwrap()
                .evaluation_result_qualifier()
                .unwrap();
            out.push((
                q.resource_id().unwrap().to_string(),
                r.compliance_type().unwrap().clone(),
            ));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Waits until the rule's results are exactly `want` (sorted by id).
async fn expect_results(c: &config::Client, rule: &str, want: &[(&str, ComplianceType)]) {
    let want: Vec<(String, ComplianceType)> = want
        .iter()
        .map(|(i, t)| (i.to_string(), t.clone()))
        .collect();
    let mut last = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        last = results(c, rule).await;
        if last == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{rule}: expected {want:?}, last saw {last:?}");
}

async fn last_successful_evaluation(c: &config::Client, rule: &str) -> Option<f64> {
    let st = c
        .describe_config_rule_evaluation_status()
        .config_rule_names(rule)
        .send()
        .await
        .unwrap();
    st.config_rules_evaluation_status()[0]
        .last_successful_evaluation_time()
        .map(|t| t.as_secs_f64())
}

async fn rule_state(c: &config::Client, rule: &str) -> ConfigRuleState {
    c.describe_config_rules()
        .config_rule_names(rule)
        .send()
        .await
        .unwrap()
        .config_rules()[0]
        .config_rule_state()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn new_rule_then_changes_re_evaluate_only_rules_in_scope() {
    let server = Server::start();
    let c = server.client();
    put_bucket(&c, "b1", "Off", &[]).await;

    // A new rule evaluates every resource in scope.
    put_rule(&c, managed("versioning", VERSIONING, None)).await;
    expect_results(&c, "versioning", &[("b1", ComplianceType::NonCompliant)]).await;
    let first = eventually(Duration::from_secs(10), "the evaluation status", || async {
        last_successful_evaluation(&c, "versioning").await
    })
    .await;
    assert!(first > 1.7e9);
    let details = c
        .get_compliance_details_by_resource()
        .resource_type(BUCKET)
        .resource_id("b1")
        .send()
        .await
        .unwrap();
    let r = &details.evaluation_results()[0];
    assert!(r.annotation().is_some_and(|a| !a.is_empty()));
    // OrderingTimestamp is the item's capture time: invoked/recorded come after it.
    assert!(r.config_rule_invoked_time().unwrap().as_secs_f64() > 1.7e9);

    // A rule scoped to another type is not touched by bucket changes.
    put_rule(
        &c,
        managed(
            "sg-only",
            VERSIONING,
            Some(
                Scope::builder()
                    .compliance_resource_types("AWS::EC2::SecurityGroup")
                    .build(),
            ),
        ),
    )
    .await;

    // A change re-evaluates: versioning enabled → COMPLIANT; a new bucket is judged too.
    put_bucket(&c, "b1", "Enabled", &[]).await;
    put_bucket(&c, "b2", "Suspended", &[]).await;
    expect_results(
        &c,
        "versioning",
        &[
            ("b1", ComplianceType::Compliant),
            ("b2", ComplianceType::NonCompliant),
        ],
    )
    .await;
    assert!(results(&c, "sg-only").await.is_empty());
    let summary = c
        .get_compliance_summary_by_config_rule()
        .send()
        .await
        .unwrap();
    let s = summary.compliance_summary().unwrap();
    assert_eq!(s.non_compliant_resource_count().unwrap().capped_count(), 1);
}

#[tokio::test]
async fn tag_scope_and_leaving_it() {
    let server = Server::start();
    let c = server.client();
    put_rule(
        &c,
        managed(
            "prod-versioning",
            VERSIONING,
            Some(Scope::builder().tag_key("env").tag_value("prod").build()),
        ),
    )
    .await;
    put_rule(
        &c,
        managed(
            "owned-versioning",
            VERSIONING,
            Some(Scope::builder().tag_key("owner").build()),
        ),
    )
    .await;
    put_bucket(&c, "prod", "Off", &[("env", "prod")]).await;
    put_bucket(&c, "dev", "Off", &[("env", "dev"), ("owner", "ana")]).await;
    put_bucket(&c, "untagged", "Off", &[]).await;
    expect_results(
        &c,
        "prod-versioning",
        &[("prod", ComplianceType::NonCompliant)],
    )
    .await;
    expect_results(
        &c,
        "owned-versioning",
        &[("dev", ComplianceType::NonCompliant)],
    )
    .await;

    // The prod bucket is retagged: it left the rule's scope, so its result becomes
    // NOT_APPLICABLE (and no longer counts as non-compliant).
    put_bucket(&c, "prod", "Off", &[("env", "staging")]).await;
    expect_results(
        &c,
        "prod-versioning",
        &[("prod", ComplianceType::NotApplicable)],
    )
    .await;
    let by_rule = c
        .describe_compliance_by_config_rule()
        .config_rule_names("prod-versioning")
        .send()
        .await
        .unwrap();
    assert_eq!(
        by_rule.compliance_by_config_rules()[0]
            .compliance()
            .unwrap()
            .compliance_type(),
        Some(&ComplianceType::InsufficientData)
    );
}

/// The engine keeps each account's decoded rules between batches (issue 7); a changed rule is
/// what the very next change is judged by.
#[tokio::test]
async fn a_changed_rule_judges_the_next_change() {
    let server = Server::start();
    let c = server.client();
    let tagged = |value: &str| Some(Scope::builder().tag_key("env").tag_value(value).build());
    put_rule(&c, managed("versioning", VERSIONING, tagged("prod"))).await;
    put_bucket(&c, "prod", "Off", &[("env", "prod")]).await;
    expect_results(&c, "versioning", &[("prod", ComplianceType::NonCompliant)]).await;

    // The rule now covers staging buckets only.
    put_rule(&c, managed("versioning", VERSIONING, tagged("staging"))).await;
    put_bucket(&c, "staging", "Off", &[("env", "staging")]).await;
    put_bucket(&c, "prod", "Enabled", &[("env", "prod")]).await;
    expect_results(
        &c,
        "versioning",
        &[
            ("prod", ComplianceType::NotApplicable),
            ("staging", ComplianceType::NonCompliant),
        ],
    )
    .await;

    // Deleted and created again, unscoped: every bucket's next change is judged.
    c.delete_config_rule()
        .config_rule_name("versioning")
        .send()
        .await
        .unwrap();
    put_rule(&c, managed("versioning", VERSIONING, None)).await;
    put_bucket(&c, "new", "Off", &[]).await;
    put_bucket(&c, "staging", "Enabled", &[("env", "staging")]).await;
    expect_results(
        &c,
        "versioning",
        &[
            ("new", ComplianceType::NonCompliant),
            ("prod", ComplianceType::Compliant),
            ("staging", ComplianceType::Compliant),
        ],
    )
    .await;
}

#[tokio::test]
async fn deleting_a_resource_removes_its_results() {
    let server = Server::start();
    let c = server.client();
    put_rule(&c, managed("versioning", VERSIONING, None)).await;
    put_bucket(&c, "gone", "Off", &[]).await;
    put_bucket(&c, "kept", "Enabled", &[]).await;
    expect_results(
        &c,
        "versioning",
        &[
            ("gone", ComplianceType::NonCompliant),
            ("kept", ComplianceType::Compliant),
        ],
    )
    .await;

    c.delete_resource_config()
        .resource_type(BUCKET)
        .resource_id("gone")
        .send()
        .await
        .unwrap();
    expect_results(&c, "versioning", &[("kept", ComplianceType::Compliant)]).await;
    let details = c
        .get_compliance_details_by_resource()
        .resource_type(BUCKET)
        .resource_id("gone")
        .send()
        .await
        .unwrap();
    assert!(details.evaluation_results().is_empty());
    let by_rule = c
        .describe_compliance_by_config_rule()
        .config_rule_names("versioning")
        .send()
        .await
        .unwrap();
    assert_eq!(
        by_rule.compliance_by_config_rules()[0]
            .compliance()
            .unwrap()
            .compliance_type(),
        Some(&ComplianceType::Compliant)
    );

    // Recorded again: judged again.
    put_bucket(&c, "gone", "Off", &[]).await;
    expect_results(
        &c,
        "versioning",
        &[
            ("gone", ComplianceType::NonCompliant),
            ("kept", ComplianceType::Compliant),
        ],
    )
    .await;
}

/// Puts `n` buckets (`prefix-i`, versioning Off) with `workers` concurrent clients.
async fn burst(c: &config::Client, prefix: &str, n: usize, workers: usize) {
    let mut tasks = Vec::new();
    for w in 0..workers {
        let c = c.clone();
        let prefix = prefix.to_string();
        tasks.push(tokio::spawn(async move {
            for i in (w..n).step_by(workers) {
                put_bucket(&c, &format!("{prefix}-{i:05}"), "Off", &[]).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

async fn wait_for_count(c: &config::Client, rule: &str, n: usize, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let mut last = 0;
    while Instant::now() < deadline {
        let r = results(c, rule).await;
        last = r.len();
        if last == n {
            assert!(r.iter().all(|(_, t)| *t == ComplianceType::NonCompliant));
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{rule}: {last} of {n} resources evaluated");
}

#[tokio::test]
async fn a_burst_of_changes_is_all_evaluated() {
    let server = Server::start();
    let c = server.client();
    put_rule(&c, managed("versioning", VERSIONING, None)).await;
    let started = Instant::now();
    burst(&c, "burst", 2000, 16).await;
    wait_for_count(&c, "versioning", 2000, Duration::from_secs(60)).await;
    eprintln!(
        "2000 changes recorded and evaluated in {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn queued_evaluations_survive_sigkill() {
    let mut server = Server::start();
    let c = server.client();
    put_rule(&c, managed("versioning", VERSIONING, None)).await;
    burst(&c, "kill", 1000, 16).await;
    // Every put was acknowledged, so its evaluation is queued durably: kill right away.
    server.kill();
    server.restart();
    let c = server.client();
    wait_for_count(&c, "versioning", 1000, Duration::from_secs(60)).await;
}

#[tokio::test]
async fn start_evaluation_re_evaluates_data_changed_behind_the_stores_back() {
    let server = Server::start_with(&["--rule-evaluation-interval-seconds", "0"]);
    let c = server.client();
    put_bucket(&c, "b", "Off", &[]).await;
    put_rule(&c, managed("versioning", VERSIONING, None)).await;
    expect_results(&c, "versioning", &[("b", ComplianceType::NonCompliant)]).await;
    let before = eventually(Duration::from_secs(10), "the first evaluation", || async {
        last_successful_evaluation(&c, "versioning").await
    })
    .await;

    // `remedy import` from another process: its items are evaluated like any change.
    let file = server.data_dir.join("items.json");
    let mut imported = bucket_item("imported", "Off");
    imported["resourceType"] = json!(BUCKET);
    imported["resourceId"] = json!("imported");
    std::fs::write(&file, imported.to_string()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_remedy"))
        .arg("import")
        .arg(&file)
        .arg("--data-dir")
        .arg(&server.data_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    expect_results(
        &c,
        "versioning",
        &[
            ("b", ComplianceType::NonCompliant),
            ("imported", ComplianceType::NonCompliant),
        ],
    )
    .await;

    // Now change the stored item directly in the database: no change trigger fires.
    let db = rusqlite::Connection::open(server.data_dir.join("remedy.db")).unwrap();
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    let n = db
        .execute(
            "UPDATE resources SET body = json_set(body, '$.supplementary_configuration.BucketVersioningConfiguration.status', 'Enabled')
             WHERE resource_type = ?1 AND resource_id = 'b'",
            [BUCKET],
        )
        .unwrap();
    assert_eq!(n, 1);
    drop(db);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        results(&c, "versioning").await[0],
        ("b".to_string(), ComplianceType::NonCompliant)
    );

    // StartConfigRulesEvaluation re-runs the rule over the stored state.
    tokio::time::sleep(Duration::from_millis(20)).await;
    c.start_config_rules_evaluation()
        .config_rule_names("versioning")
        .send()
        .await
        .unwrap();
    expect_results(
        &c,
        "versioning",
        &[
            ("b", ComplianceType::Compliant),
            ("imported", ComplianceType::NonCompliant),
        ],
    )
    .await;
    let after = eventually(Duration::from_secs(10), "the status to advance", || async {
        last_successful_evaluation(&c, "versioning")
            .await
            .filter(|t| *t > before)
    })
    .await;
    assert!(after > before);
    eventually(
        Duration::from_secs(10),
        "the rule to be ACTIVE again",
        || async { (rule_state(&c, "versioning").await == ConfigRuleState::Active).then_some(()) },
    )
    .await;
}

#[tokio::test]
async fn a_rule_evaluated_on_demand_shows_evaluating_and_refuses_a_second_request() {
    // A thousand resources keep the rule-wide evaluation busy long enough to observe.
    let server = Server::start_with(&["--rule-evaluation-interval-seconds", "0"]);
    let c = no_retries(&server);
    put_rule(&c, managed("versioning", VERSIONING, None)).await;
    burst(&c, "many", 1000, 16).await;
    wait_for_count(&c, "versioning", 1000, Duration::from_secs(60)).await;
    c.start_config_rules_evaluation()
        .config_rule_names("versioning")
        .send()
        .await
        .unwrap();
    match c
        .start_config_rules_evaluation()
        .config_rule_names("versioning")
        .send()
        .await
    {
        // Still queued or running.
        Err(e) => {
            assert_eq!(error_code(&e), "LimitExceededException");
            assert!(
                error_message(&e).contains("in progress"),
                "{}",
                error_message(&e)
            );
        }
        // The engine was faster than this client: the first one had already finished.
        Ok(_) => eprintln!("the first evaluation finished before the second request"),
    }
    eventually(
        Duration::from_secs(30),
        "the rule to be ACTIVE again",
        || async { (rule_state(&c, "versioning").await == ConfigRuleState::Active).then_some(()) },
    )
    .await;
}

fn no_retries(server: &Server) -> config::Client {
    let conf = server
        .client()
        .config()
        .to_builder()
        .retry_config(config::config::retry::RetryConfig::disabled())
        .build();
    config::Client::from_conf(conf)
}

#[tokio::test]
async fn guard_policy_rules_evaluate_changes_and_record_failures() {
    use common::config::types::CustomPolicyDetails;
    let server = Server::start();
    let c = server.client();
    let policy_rule = |name: &str, policy: &str| {
        ConfigRule::builder()
            .config_rule_name(name)
            .scope(Scope::builder().compliance_resource_types(BUCKET).build())
            .source(
                Source::builder()
                    .owner(Owner::CustomPolicy)
                    .source_details(
                        common::config::types::SourceDetail::builder()
                            .event_source(common::config::types::EventSource::AwsConfig)
                            .message_type(
                                common::config::types::MessageType::ConfigurationItemChangeNotification,
                            )
                            .build(),
                    )
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
            .build()
    };
    put_bucket(&c, "g1", "Off", &[]).await;
    put_rule(
        &c,
        policy_rule(
            "guard-versioning",
            "rule versioning_enabled {\n  supplementaryConfiguration.BucketVersioningConfiguration.status == \"Enabled\"\n}\n",
        ),
    )
    .await;
    expect_results(
        &c,
        "guard-versioning",
        &[("g1", ComplianceType::NonCompliant)],
    )
    .await;
    put_bucket(&c, "g1", "Enabled", &[]).await;
    expect_results(&c, "guard-versioning", &[("g1", ComplianceType::Compliant)]).await;

    // A policy that parses but fails at run time: no result, the failure is in the status.
    put_rule(
        &c,
        policy_rule(
            "guard-broken",
            "rule uses_unknown {\n  configuration.name == %undefined_variable\n}\n",
        ),
    )
    .await;
    let (code, message) = eventually(Duration::from_secs(10), "a recorded failure", || async {
        let st = c
            .describe_config_rule_evaluation_status()
            .config_rule_names("guard-broken")
            .send()
            .await
            .unwrap();
        let s = &st.config_rules_evaluation_status()[0];
        s.last_error_code().map(|code| {
            (
                code.to_string(),
                s.last_error_message().unwrap_or_default().to_string(),
            )
        })
    })
    .await;
    assert_eq!(code, "CustomPolicyEvaluationFailed");
    assert!(message.contains("g1"), "{message}");
    assert!(results(&c, "guard-broken").await.is_empty());
}

fn lambda_rule(name: &str, function: &str, scope: Option<Scope>) -> ConfigRule {
    use common::config::types::{EventSource, MessageType, SourceDetail};
    ConfigRule::builder()
        .config_rule_name(name)
        .set_scope(scope)
        .source(
            Source::builder()
                .owner(Owner::CustomLambda)
                .source_identifier(format!(
                    "arn:aws:lambda:us-east-1:000000000000:function:{function}"
                ))
                .source_details(
                    SourceDetail::builder()
                        .event_source(EventSource::AwsConfig)
                        .message_type(MessageType::ConfigurationItemChangeNotification)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .build()
}

/// The events a recording handler has written so far.
fn recorded_events(dir: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
        .filter_map(|t| serde_json::from_str(&t).ok())
        .collect()
}

#[tokio::test]
async fn lambda_rules_are_invoked_on_change_and_when_a_resource_leaves_scope() {
    let events = tempfile::tempdir().unwrap();
    let config_dir = tempfile::tempdir().unwrap();
    let handlers = config_dir.path().join("handlers.toml");
    std::fs::write(
        &handlers,
        format!(
            r#"
[[handler]]
function_arn = "arn:aws:lambda:us-east-1:000000000000:function:record"
command = ["sh", "-c", "cat > \"$0/$$.json.tmp\" && mv \"$0/$$.json.tmp\" \"$0/$$.json\"", "{}"]

[[handler]]
function_arn = "arn:aws:lambda:us-east-1:000000000000:function:fail"
command = ["sh", "-c", "echo boom >&2; exit 3"]
"#,
            events.path().display()
        ),
    )
    .unwrap();
    let server = Server::start_with(&["--lambda-handlers", handlers.to_str().unwrap()]);
    let c = server.client();
    put_rule(
        &c,
        lambda_rule(
            "team-buckets",
            "record",
            Some(Scope::builder().tag_key("team").build()),
        ),
    )
    .await;
    put_rule(&c, lambda_rule("failing", "fail", None)).await;
    put_bucket(&c, "lb", "Off", &[("team", "data")]).await;

    let first = eventually(Duration::from_secs(20), "the change event", || async {
        recorded_events(events.path()).into_iter().next()
    })
    .await;
    assert_eq!(first["configRuleName"], "team-buckets");
    assert_eq!(first["eventLeftScope"], false);
    let invoking: serde_json::Value =
        serde_json::from_str(first["invokingEvent"].as_str().unwrap()).unwrap();
    assert_eq!(
        invoking["messageType"],
        "ConfigurationItemChangeNotification"
    );
    assert_eq!(invoking["configurationItem"]["resourceId"], "lb");

    // The failing handler shows in the evaluation status.
    let code = eventually(Duration::from_secs(20), "the failure", || async {
        let st = c
            .describe_config_rule_evaluation_status()
            .config_rule_names("failing")
            .send()
            .await
            .unwrap();
        st.config_rules_evaluation_status()[0]
            .last_error_code()
            .map(str::to_string)
    })
    .await;
    assert_eq!(code, "LambdaInvocationFailed");

    // The handler would report through PutEvaluations; do it for it.
    let token = Command::new(env!("CARGO_BIN_EXE_remedy"))
        .args(["result-token", "--rule", "team-buckets", "--data-dir"])
        .arg(&server.data_dir)
        .output()
        .unwrap();
    let token = String::from_utf8(token.stdout).unwrap().trim().to_string();
    c.put_evaluations()
        .result_token(token)
        .evaluations(
            common::config::types::Evaluation::builder()
                .compliance_resource_type(BUCKET)
                .compliance_resource_id("lb")
                .compliance_type(ComplianceType::NonCompliant)
                .ordering_timestamp(aws_smithy_types::DateTime::from_secs(1_700_000_000))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    expect_results(&c, "team-buckets", &[("lb", ComplianceType::NonCompliant)]).await;

    // Untagged: the bucket left the rule's scope.
    put_bucket(&c, "lb", "Off", &[]).await;
    expect_results(&c, "team-buckets", &[("lb", ComplianceType::NotApplicable)]).await;
    eventually(
        Duration::from_secs(20),
        "the eventLeftScope event",
        || async {
            recorded_events(events.path())
                .into_iter()
                .any(|e| e["eventLeftScope"] == true)
                .then_some(())
        },
    )
    .await;
}
