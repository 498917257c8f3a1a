//! The remediation engine end to end through the official SDK: StartRemediationExecution runs a
//! built-in runbook against recorded resources, DescribeRemediationExecutionStatus shows its
//! steps, the world's write is a new history version, and the rule re-evaluates COMPLIANT.
//! Also: racing starts of one key, DeleteRemediationConfiguration while executions are in
//! flight, automatic remediation (success, retries, the exception it creates), and a crash.

mod common;

use std::time::{Duration, Instant};

use common::config::types::{
    ComplianceType, ConfigRule, Owner, RemediationConfiguration, RemediationExecutionState,
    RemediationExecutionStatus, RemediationExecutionStepState, RemediationParameterValue,
    ResourceKey, ResourceType, Source, StaticValue,
};
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

fn security_group(id: &str, cidr: &str) -> Value {
    json!({
        "resourceType": SG, "resourceId": id, "resourceName": "web",
        "arn": format!("arn:aws:ec2:us-east-1:000000000000:security-group/{id}"),
        "availabilityZone": "Not Applicable",
        "configuration": json!({"ownerId": "000000000000", "groupName": "web", "groupId": id,
            "description": "web", "vpcId": "vpc-0a1b2c3d", "tags": [],
            "ipPermissions": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": [cidr],
                "ipv4Ranges": [{"cidrIp": cidr}], "ipv6Ranges": [], "prefixListIds": [], "userIdGroupPairs": []}],
            "ipPermissionsEgress": []
        }).to_string(),
        "supplementaryConfiguration": {},
        "relationships": []
    })
}

async fn put_rule(c: &config::Client, name: &str, identifier: &str) {
    c.put_config_rule()
        .config_rule(
            ConfigRule::builder()
                .config_rule_name(name)
                .source(
                    Source::builder()
                        .owner(Owner::Aws)
                        .source_identifier(identifier)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
}

fn static_value(values: &[&str]) -> RemediationParameterValue {
    let mut s = StaticValue::builder();
    for v in values {
        s = s.values(*v);
    }
    RemediationParameterValue::builder()
        .static_value(s.build().unwrap())
        .build()
}

/// [`remediation_config`] passing the resource's id as `param` instead of `BucketName`.
fn with_resource_param(rule: &str, document: &str, param: &str) -> RemediationConfiguration {
    let mut config = remediation_config(rule, document);
    let params = config.parameters.as_mut().unwrap();
    let id = params.remove("BucketName").unwrap();
    params.insert(param.to_string(), id);
    config
}

async fn put_remediation(c: &config::Client, config: RemediationConfiguration) {
    let out = c
        .put_remediation_configurations()
        .remediation_configurations(config)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}", config::error::DisplayErrorContext(e)));
    assert!(out.failed_batches().is_empty(), "{out:?}");
}

fn key(t: &str, id: &str) -> ResourceKey {
    ResourceKey::builder()
        .resource_type(ResourceType::from(t))
        .resource_id(id)
        .build()
        .unwrap()
}

async fn compliance(c: &config::Client, rule: &str, id: &str) -> Option<ComplianceType> {
    let out = c
        .get_compliance_details_by_config_rule()
        .config_rule_name(rule)
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
                == Some(id)
        })
        .and_then(|r| r.compliance_type().cloned())
}

async fn wait_compliance(c: &config::Client, rule: &str, id: &str, want: ComplianceType) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = compliance(c, rule, id).await;
        if got.as_ref() == Some(&want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{rule}/{id}: {got:?}, want {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn status(
    c: &config::Client,
    rule: &str,
    t: &str,
    id: &str,
) -> Option<RemediationExecutionStatus> {
    c.describe_remediation_execution_status()
        .config_rule_name(rule)
        .resource_keys(key(t, id))
        .send()
        .await
        .unwrap()
        .remediation_execution_statuses()
        .first()
        .cloned()
}

/// Polls until the key's latest execution is terminal.
async fn wait_terminal(
    c: &config::Client,
    rule: &str,
    t: &str,
    id: &str,
) -> RemediationExecutionStatus {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(s) = status(c, rule, t, id).await {
            if matches!(
                s.state(),
                Some(RemediationExecutionState::Succeeded | RemediationExecutionState::Failed)
            ) {
                return s;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{rule}/{id}: not terminal in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn start(
    c: &config::Client,
    rule: &str,
    keys: Vec<ResourceKey>,
) -> (Vec<ResourceKey>, Option<String>) {
    let out = c
        .start_remediation_execution()
        .config_rule_name(rule)
        .set_resource_keys(Some(keys))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}", config::error::DisplayErrorContext(e)));
    (
        out.failed_items().to_vec(),
        out.failure_message().map(str::to_string),
    )
}

#[tokio::test]
async fn manual_remediation_of_an_unversioned_bucket() {
    let server = Server::start();
    let c = server.client();
    put_envelope(&c, BUCKET, "unversioned", &bucket("unversioned", "Off")).await;
    put_rule(&c, "versioning", "S3_BUCKET_VERSIONING_ENABLED").await;
    wait_compliance(
        &c,
        "versioning",
        "unversioned",
        ComplianceType::NonCompliant,
    )
    .await;

    // No configuration yet (and an unknown rule): NoSuchRemediationConfigurationException.
    for rule in ["versioning", "no-such-rule"] {
        let err = c
            .start_remediation_execution()
            .config_rule_name(rule)
            .resource_keys(key(BUCKET, "unversioned"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(error_code(&err), "NoSuchRemediationConfigurationException");
    }
    let err = c
        .describe_remediation_execution_status()
        .config_rule_name("versioning")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "NoSuchRemediationConfigurationException");

    put_remediation(
        &c,
        remediation_config("versioning", "AWS-ConfigureS3BucketVersioning"),
    )
    .await;
    let (failed, message) = start(&c, "versioning", vec![key(BUCKET, "unversioned")]).await;
    assert!(
        failed.is_empty() && message.is_none(),
        "{failed:?} {message:?}"
    );

    let s = wait_terminal(&c, "versioning", BUCKET, "unversioned").await;
    assert_eq!(
        s.state(),
        Some(&RemediationExecutionState::Succeeded),
        "{s:?}"
    );
    let steps = s.step_details();
    let names: Vec<_> = steps.iter().map(|s| s.name().unwrap()).collect();
    assert_eq!(names, ["ConfigureVersioning", "VerifyVersioning"]);
    for st in steps {
        assert_eq!(st.state(), Some(&RemediationExecutionStepState::Succeeded));
        assert!(st.start_time().is_some() && st.stop_time().is_some());
        assert!(st.error_message().is_none());
    }
    assert!(s.invocation_time().is_some() && s.last_updated_time().is_some());
    assert!(s.last_updated_time().unwrap() >= s.invocation_time().unwrap());

    // The world's write is a new history version with versioning Enabled.
    let history = c
        .get_resource_config_history()
        .resource_type(ResourceType::from(BUCKET))
        .resource_id("unversioned")
        .send()
        .await
        .unwrap();
    let items = history.configuration_items();
    assert_eq!(items.len(), 2, "{items:?}");
    let latest = &items[0];
    let v = latest
        .supplementary_configuration()
        .unwrap()
        .get("BucketVersioningConfiguration")
        .unwrap();
    assert!(v.contains("Enabled"), "{v}");

    // The rule re-evaluates; a second start is refused: already compliant.
    wait_compliance(&c, "versioning", "unversioned", ComplianceType::Compliant).await;
    let (failed, message) = start(&c, "versioning", vec![key(BUCKET, "unversioned")]).await;
    assert_eq!(failed, vec![key(BUCKET, "unversioned")]);
    assert_eq!(message.as_deref(), Some("Resource is already compliant."));

    // Without ResourceKeys, every key with an execution; paging by Limit.
    put_envelope(&c, BUCKET, "another", &bucket("another", "Off")).await;
    wait_compliance(&c, "versioning", "another", ComplianceType::NonCompliant).await;
    // A key named twice starts once and is not reported failed.
    let (failed, _) = start(
        &c,
        "versioning",
        vec![key(BUCKET, "another"), key(BUCKET, "another")],
    )
    .await;
    assert!(failed.is_empty(), "{failed:?}");
    wait_terminal(&c, "versioning", BUCKET, "another").await;
    let page = c
        .describe_remediation_execution_status()
        .config_rule_name("versioning")
        .limit(1)
        .send()
        .await
        .unwrap();
    assert_eq!(page.remediation_execution_statuses().len(), 1);
    let next = page.next_token().unwrap().to_string();
    let page2 = c
        .describe_remediation_execution_status()
        .config_rule_name("versioning")
        .next_token(next)
        .send()
        .await
        .unwrap();
    assert_eq!(page2.remediation_execution_statuses().len(), 1);
    assert!(page2.next_token().is_none());

    // An unknown document is refused when the configuration is put (FailedBatches); parameters
    // the runbook refuses fail the start: InvalidParameterValueException.
    put_envelope(&c, BUCKET, "third", &bucket("third", "Off")).await;
    let out = c
        .put_remediation_configurations()
        .remediation_configurations(remediation_config("versioning", "No-Such-Document"))
        .send()
        .await
        .unwrap();
    let batches = out.failed_batches();
    assert_eq!(batches.len(), 1, "{out:?}");
    assert!(
        batches[0]
            .failure_message()
            .is_some_and(|m| m.contains("No-Such-Document")),
        "{out:?}"
    );
    put_remediation(
        &c,
        with_resource_param(
            "versioning",
            "AWS-ConfigureS3BucketVersioning",
            "NotAParameter",
        ),
    )
    .await;
    let err = c
        .start_remediation_execution()
        .config_rule_name("versioning")
        .resource_keys(key(BUCKET, "third"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValueException");
}

#[tokio::test]
async fn racing_starts_start_one_execution_and_delete_waits_for_them() {
    let server = Server::start();
    let c = server.client();
    create_runbook(
        &server.ssm_client(),
        NAP_THEN_ENABLE,
        &nap_then_enable("PT1S"),
    )
    .await;
    put_rule(&c, "versioning", "S3_BUCKET_VERSIONING_ENABLED").await;
    // One execution of the rule at a time (1 % of at most 11 unfinished), errors never stop the
    // batch: 10 executions of a runbook that naps a second (of buckets that are not recorded:
    // each then fails NoSuchBucket) hold the rule for ten seconds, so the raced key's execution
    // is still queued when the last of the racing starts arrives, however slowly they are served.
    let mut config = remediation_config("versioning", NAP_THEN_ENABLE);
    config.execution_controls = Some(ssm_controls(1, 100));
    put_remediation(&c, config).await;
    let busy: Vec<_> = (0..10)
        .map(|i| key(BUCKET, &format!("missing-{i:03}")))
        .collect();
    let (failed, _) = start(&c, "versioning", busy).await;
    assert!(failed.is_empty());

    // Executions are queued or running: the configuration cannot be deleted.
    let err = c
        .delete_remediation_configuration()
        .config_rule_name("versioning")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "RemediationInProgressException");

    // 20 concurrent starts of one key: exactly one starts.
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            start(&c, "versioning", vec![key(BUCKET, "raced")]).await
        }));
    }
    let mut started = 0;
    for t in tasks {
        let (failed, message) = t.await.unwrap();
        if failed.is_empty() {
            started += 1;
        } else {
            assert_eq!(failed, vec![key(BUCKET, "raced")]);
            assert_eq!(
                message.as_deref(),
                Some("A remediation execution is already in progress for this resource.")
            );
        }
    }
    assert_eq!(started, 1);

    // All end (FAILED: the buckets do not exist); then the configuration can go.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let all = all_statuses(&c, "versioning").await;
        assert_eq!(all.len(), 11);
        if all
            .iter()
            .all(|s| s.state() == Some(&RemediationExecutionState::Failed))
        {
            let s = all
                .iter()
                .find(|s| s.resource_key().unwrap().resource_id() == "raced")
                .unwrap();
            let steps = s.step_details();
            assert_eq!(steps.len(), 2, "{steps:?}");
            assert_eq!(
                steps[0].state(),
                Some(&RemediationExecutionStepState::Succeeded)
            );
            let step = &steps[1];
            assert_eq!(step.state(), Some(&RemediationExecutionStepState::Failed));
            assert!(
                step.error_message().unwrap().contains("NoSuchBucket"),
                "{step:?}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "not all terminal: {all:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    c.delete_remediation_configuration()
        .config_rule_name("versioning")
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn automatic_remediation_fixes_new_non_compliant_resources() {
    let server = Server::start();
    let c = server.client();
    put_envelope(&c, BUCKET, "before", &bucket("before", "Off")).await;
    put_rule(&c, "versioning", "S3_BUCKET_VERSIONING_ENABLED").await;
    wait_compliance(&c, "versioning", "before", ComplianceType::NonCompliant).await;

    // Turning Automatic on remediates what the rule already holds NON_COMPLIANT.
    let mut config = remediation_config("versioning", "AWS-ConfigureS3BucketVersioning");
    config.automatic = true;
    put_remediation(&c, config).await;
    wait_compliance(&c, "versioning", "before", ComplianceType::Compliant).await;
    let s = wait_terminal(&c, "versioning", BUCKET, "before").await;
    assert_eq!(s.state(), Some(&RemediationExecutionState::Succeeded));

    // A resource that becomes NON_COMPLIANT later is remediated by itself.
    put_envelope(&c, BUCKET, "after", &bucket("after", "Suspended")).await;
    wait_compliance(&c, "versioning", "after", ComplianceType::Compliant).await;
    let s = wait_terminal(&c, "versioning", BUCKET, "after").await;
    assert_eq!(s.state(), Some(&RemediationExecutionState::Succeeded));
}

#[tokio::test]
async fn failing_automatic_remediation_retries_then_creates_an_exception() {
    let server = Server::start();
    let c = server.client();
    put_rule(&c, "versioning", "S3_BUCKET_VERSIONING_ENABLED").await;
    // A remediation that always fails: it names a bucket that does not exist.
    let mut config = remediation_config("versioning", "AWS-ConfigureS3BucketVersioning");
    config
        .parameters
        .get_or_insert_with(Default::default)
        .insert("BucketName".into(), static_value(&["no-such-bucket"]));
    config.automatic = true;
    config.maximum_automatic_attempts = Some(3);
    config.retry_attempt_seconds = Some(600);
    put_remediation(&c, config.clone()).await;
    put_envelope(&c, BUCKET, "stubborn", &bucket("stubborn", "Off")).await;

    let deadline = Instant::now() + Duration::from_secs(30);
    let exception = loop {
        let out = c
            .describe_remediation_exceptions()
            .config_rule_name("versioning")
            .send()
            .await
            .unwrap();
        if let Some(x) = out.remediation_exceptions().first() {
            break x.clone();
        }
        assert!(Instant::now() < deadline, "no exception after 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(exception.resource_id(), "stubborn");
    assert_eq!(
        exception.message(),
        Some("Auto-remediation failed 3 times within 600 seconds.")
    );
    assert!(exception.expiration_time().is_none());
    let last = wait_terminal(&c, "versioning", BUCKET, "stubborn").await;
    assert_eq!(last.state(), Some(&RemediationExecutionState::Failed));
    assert!(last.step_details()[0]
        .error_message()
        .unwrap()
        .contains("NoSuchBucket"));

    // The exception blocks automatic runs: turning Automatic off and on again starts nothing.
    let mut manual = config.clone();
    manual.automatic = false;
    put_remediation(&c, manual).await;
    put_remediation(&c, config).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let again = status(&c, "versioning", BUCKET, "stubborn").await.unwrap();
    assert_eq!(again.invocation_time(), last.invocation_time());
    // ... but not manual ones.
    let (failed, _) = start(&c, "versioning", vec![key(BUCKET, "stubborn")]).await;
    assert!(failed.is_empty());
    let manual_run = wait_terminal(&c, "versioning", BUCKET, "stubborn").await;
    assert!(manual_run.invocation_time() > last.invocation_time());
}

#[tokio::test]
async fn remediating_a_security_group_open_to_the_world() {
    let server = Server::start();
    let c = server.client();
    let id = "sg-00000000000000001";
    put_envelope(&c, SG, id, &security_group(id, "0.0.0.0/0")).await;
    put_rule(&c, "restricted-ssh", "INCOMING_SSH_DISABLED").await;
    wait_compliance(&c, "restricted-ssh", id, ComplianceType::NonCompliant).await;
    put_remediation(
        &c,
        with_resource_param(
            "restricted-ssh",
            "AWS-DisableIncomingSSHOnPort22",
            "SecurityGroupIds",
        ),
    )
    .await;
    let (failed, _) = start(&c, "restricted-ssh", vec![key(SG, id)]).await;
    assert!(failed.is_empty());
    let s = wait_terminal(&c, "restricted-ssh", SG, id).await;
    assert_eq!(
        s.state(),
        Some(&RemediationExecutionState::Succeeded),
        "{s:?}"
    );
    wait_compliance(&c, "restricted-ssh", id, ComplianceType::Compliant).await;
    let history = c
        .get_resource_config_history()
        .resource_type(ResourceType::from(SG))
        .resource_id(id)
        .send()
        .await
        .unwrap();
    let items = history.configuration_items();
    assert_eq!(items.len(), 2, "{items:?}");
    let conf: Value = serde_json::from_str(items[0].configuration().unwrap()).unwrap();
    assert_eq!(conf["ipPermissions"], json!([]), "{conf}");
}

/// Polls until at least `n` of the rule's executions succeeded; returns how many.
async fn wait_succeeded(c: &config::Client, n: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let done = all_statuses(c, "versioning")
            .await
            .iter()
            .filter(|s| s.state() == Some(&RemediationExecutionState::Succeeded))
            .count();
        if done >= n || Instant::now() > deadline {
            return done;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// How many executions the crash test runs.
const EXECUTIONS: usize = 1000;

#[tokio::test]
async fn executions_survive_sigkill_and_sigterm() {
    let mut server = Server::start();
    let c = server.client();
    put_rule(&c, "versioning", "S3_BUCKET_VERSIONING_ENABLED").await;
    let mut config = remediation_config("versioning", "AWS-ConfigureS3BucketVersioning");
    config.execution_controls = Some(ssm_controls(100, 100));
    put_remediation(&c, config).await;
    let names: Vec<String> = (0..EXECUTIONS).map(|i| format!("bucket-{i:04}")).collect();
    for n in &names {
        put_envelope(&c, BUCKET, n, &bucket(n, "Off")).await;
    }
    for chunk in names.chunks(100) {
        let keys = chunk.iter().map(|n| key(BUCKET, n)).collect();
        let (failed, message) = start(&c, "versioning", keys).await;
        assert!(failed.is_empty(), "{message:?}");
    }
    // Crash mid-flight, then a graceful stop mid-flight.
    let done = wait_succeeded(&c, EXECUTIONS / 10).await;
    eprintln!("before SIGKILL: {done} of {EXECUTIONS} succeeded");
    server.kill();
    server.restart();
    let c = server.client();
    let done = wait_succeeded(&c, done + EXECUTIONS / 10).await;
    eprintln!("before SIGTERM: {done} of {EXECUTIONS} succeeded");
    assert!(server.terminate().success());
    server.restart();
    let c2 = server.client();
    let _ = c;

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let all = all_statuses(&c2, "versioning").await;
        assert_eq!(all.len(), EXECUTIONS, "no execution lost");
        if all
            .iter()
            .all(|s| s.state() == Some(&RemediationExecutionState::Succeeded))
        {
            break;
        }
        assert!(
            !all.iter()
                .any(|s| s.state() == Some(&RemediationExecutionState::Failed)),
            "{all:?}"
        );
        assert!(Instant::now() < deadline, "not all terminal after 60 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Each bucket changed exactly once (a step run again after the crash changes nothing).
    for n in names.iter().step_by(83) {
        let h = c2
            .get_resource_config_history()
            .resource_type(ResourceType::from(BUCKET))
            .resource_id(n)
            .send()
            .await
            .unwrap();
        assert_eq!(h.configuration_items().len(), 2, "{n}");
    }
}

#[tokio::test]
async fn execution_controls_bound_concurrency_and_stop_after_too_many_errors() {
    let server = Server::start();
    let c = server.client();
    put_rule(&c, "versioning", "S3_BUCKET_VERSIONING_ENABLED").await;
    // 10 % of 10 executions: one at a time. 40 % errors of 10: the 5th error stops the rest.
    let mut config = remediation_config("versioning", "AWS-ConfigureS3BucketVersioning");
    config.execution_controls = Some(ssm_controls(10, 40));
    put_remediation(&c, config).await;
    let keys: Vec<_> = (0..10).map(|i| key(BUCKET, &format!("gone-{i}"))).collect();
    let (failed, _) = start(&c, "versioning", keys).await;
    assert!(failed.is_empty());
    let deadline = Instant::now() + Duration::from_secs(30);
    let all = loop {
        let all = all_statuses(&c, "versioning").await;
        if all.len() == 10
            && all
                .iter()
                .all(|s| s.state() == Some(&RemediationExecutionState::Failed))
        {
            break all;
        }
        assert!(Instant::now() < deadline, "{all:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (ran, stopped): (Vec<_>, Vec<_>) = all
        .iter()
        .partition(|s| s.step_details()[0].start_time().is_some());
    assert_eq!(ran.len(), 5, "{all:?}");
    for s in &stopped {
        let m = s.step_details()[0].error_message().unwrap();
        assert!(m.contains("ErrorPercentage (40%)"), "{m}");
    }
    // The five that ran never overlapped.
    let mut spans: Vec<(f64, f64)> = ran
        .iter()
        .map(|s| {
            let d = s.step_details();
            (
                d[0].start_time().unwrap().as_secs_f64(),
                d.last().unwrap().stop_time().unwrap().as_secs_f64(),
            )
        })
        .collect();
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    for w in spans.windows(2) {
        assert!(w[0].1 <= w[1].0, "overlapping executions: {spans:?}");
    }
}
