//! Evaluations and compliance through the official SDK: PutEvaluations with tokens from
//! `remedy result-token`, every compliance query (answers, filters, paging, roll-ups, caps),
//! StartConfigRulesEvaluation's interval, DeleteEvaluationResults, DeleteConfigRule and
//! PutRemediationExceptions' refusal of compliant resources.

mod common;

use std::process::Command;

use aws_smithy_types::DateTime;
use common::config::types::{
    ComplianceType, ConfigRule, Evaluation, EventSource, MessageType, Owner,
    RemediationExceptionResourceKey, Source, SourceDetail,
};
use common::*;

const BUCKET: &str = "AWS::S3::Bucket";
const INSTANCE: &str = "AWS::EC2::Instance";

fn lambda_rule(name: &str) -> ConfigRule {
    ConfigRule::builder()
        .config_rule_name(name)
        .source(
            Source::builder()
                .owner(Owner::CustomLambda)
                .source_identifier("arn:aws:lambda:us-east-1:000000000000:function:check")
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

/// Runs `remedy result-token` against the server's data directory.
fn token_with(server: &Server, rule: &str, extra: &[&str]) -> Result<String, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_remedy"))
        .arg("result-token")
        .arg("--rule")
        .arg(rule)
        .args(server.store_args())
        .args(extra)
        .output()
        .expect("run remedy result-token");
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).unwrap().trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).to_string())
    }
}

fn token(server: &Server, rule: &str) -> String {
    token_with(server, rule, &[]).unwrap()
}

fn eval(resource_type: &str, id: &str, ct: ComplianceType, ts: i64) -> Evaluation {
    Evaluation::builder()
        .compliance_resource_type(resource_type)
        .compliance_resource_id(id)
        .compliance_type(ct)
        .annotation(format!("{id} at {ts}"))
        .ordering_timestamp(DateTime::from_secs(ts))
        .build()
        .unwrap()
}

async fn put(c: &config::Client, token: &str, evals: Vec<Evaluation>) {
    let out = c
        .put_evaluations()
        .result_token(token)
        .set_evaluations(Some(evals))
        .send()
        .await
        .unwrap();
    assert!(out.failed_evaluations().is_empty());
}

/// SDKs classify LimitExceededException as throttling and retry it with backoff, which would
/// outlast a 1-second interval; these tests want to see the first answer.
fn no_retries(server: &Server) -> config::Client {
    let conf = server
        .client()
        .config()
        .to_builder()
        .retry_config(config::config::retry::RetryConfig::disabled())
        .build();
    config::Client::from_conf(conf)
}

async fn rule(c: &config::Client, name: &str) {
    c.put_config_rule()
        .config_rule(lambda_rule(name))
        .send()
        .await
        .unwrap();
}

/// (resource id, compliance) of a rule's results, all pages, as the SDK paginator reads them.
async fn details(
    c: &config::Client,
    rule: &str,
    filter: &[ComplianceType],
) -> Vec<(String, ComplianceType)> {
    let mut out = Vec::new();
    let mut pages = c
        .get_compliance_details_by_config_rule()
        .config_rule_name(rule)
        .set_compliance_types((!filter.is_empty()).then(|| filter.to_vec()))
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
    out
}

/// (rule, compliance, contributor count) of DescribeComplianceByConfigRule.
async fn by_rule(
    c: &config::Client,
    names: &[&str],
    filter: &[ComplianceType],
) -> Vec<(String, ComplianceType, Option<i32>)> {
    let out = c
        .describe_compliance_by_config_rule()
        .set_config_rule_names(
            (!names.is_empty()).then(|| names.iter().map(|s| s.to_string()).collect()),
        )
        .set_compliance_types((!filter.is_empty()).then(|| filter.to_vec()))
        .send()
        .await
        .unwrap();
    out.compliance_by_config_rules()
        .iter()
        .map(|r| {
            let comp = r.compliance().unwrap();
            (
                r.config_rule_name().unwrap().to_string(),
                comp.compliance_type().unwrap().clone(),
                comp.compliance_contributor_count()
                    .map(|n| n.capped_count()),
            )
        })
        .collect()
}

/// (type, id, compliance, contributor count) of DescribeComplianceByResource.
async fn by_resource(
    c: &config::Client,
    resource_type: Option<&str>,
    id: Option<&str>,
    filter: &[ComplianceType],
) -> Vec<(String, String, ComplianceType, Option<i32>)> {
    let out = c
        .describe_compliance_by_resource()
        .set_resource_type(resource_type.map(str::to_string))
        .set_resource_id(id.map(str::to_string))
        .set_compliance_types((!filter.is_empty()).then(|| filter.to_vec()))
        .limit(100)
        .send()
        .await
        .unwrap();
    out.compliance_by_resources()
        .iter()
        .map(|r| {
            let comp = r.compliance().unwrap();
            (
                r.resource_type().unwrap().to_string(),
                r.resource_id().unwrap().to_string(),
                comp.compliance_type().unwrap().clone(),
                comp.compliance_contributor_count()
                    .map(|n| n.capped_count()),
            )
        })
        .collect()
}

use ComplianceType::{
    Compliant as C, InsufficientData as ID, NonCompliant as NC, NotApplicable as NA,
};

fn s(v: &str) -> String {
    v.to_string()
}

/// r1: a NC, b C, c NA — r2: a C, b C — r3: nothing — r4: c NA.
async fn seed(server: &Server, c: &config::Client) {
    for r in ["r1", "r2", "r3", "r4"] {
        rule(c, r).await;
    }
    put(
        c,
        &token(server, "r1"),
        vec![
            eval(BUCKET, "a", NC, 100),
            eval(BUCKET, "b", C, 100),
            eval(BUCKET, "c", NA, 100),
        ],
    )
    .await;
    put(
        c,
        &token(server, "r2"),
        vec![eval(BUCKET, "a", C, 100), eval(BUCKET, "b", C, 100)],
    )
    .await;
    put(c, &token(server, "r4"), vec![eval(BUCKET, "c", NA, 100)]).await;
}

#[tokio::test]
async fn results_and_roll_ups() {
    let server = Server::start();
    let c = server.client();
    seed(&server, &c).await;

    // Details by rule: every result in (type, id) order; filters.
    assert_eq!(
        details(&c, "r1", &[]).await,
        vec![(s("a"), NC), (s("b"), C), (s("c"), NA)]
    );
    assert_eq!(details(&c, "r1", &[NC]).await, vec![(s("a"), NC)]);
    assert_eq!(
        details(&c, "r1", &[C, NA]).await,
        vec![(s("b"), C), (s("c"), NA)]
    );
    assert!(details(&c, "r3", &[]).await.is_empty());

    // A full result: qualifier, annotation, timestamps.
    let out = c
        .get_compliance_details_by_config_rule()
        .config_rule_name("r1")
        .limit(1)
        .send()
        .await
        .unwrap();
    let r = &out.evaluation_results()[0];
    let id = r.evaluation_result_identifier().unwrap();
    let q = id.evaluation_result_qualifier().unwrap();
    assert_eq!(
        (q.config_rule_name(), q.resource_type(), q.resource_id()),
        (Some("r1"), Some(BUCKET), Some("a"))
    );
    assert_eq!(id.ordering_timestamp().unwrap().secs(), 100);
    assert_eq!(r.annotation(), Some("a at 100"));
    let invoked = r.config_rule_invoked_time().unwrap().as_secs_f64();
    let recorded = r.result_recorded_time().unwrap().as_secs_f64();
    assert!(
        invoked <= recorded && recorded > 1.7e9,
        "{invoked} {recorded}"
    );
    assert!(out.next_token().is_some());

    // Per rule: NON_COMPLIANT wins; COMPLIANT; nothing known and all-NOT_APPLICABLE are INSUFFICIENT_DATA.
    assert_eq!(
        by_rule(&c, &[], &[]).await,
        vec![
            (s("r1"), NC, Some(1)),
            (s("r2"), C, None),
            (s("r3"), ID, None),
            (s("r4"), ID, None)
        ]
    );
    assert_eq!(by_rule(&c, &[], &[C]).await, vec![(s("r2"), C, None)]);
    assert_eq!(
        by_rule(&c, &["r4", "r3"], &[ID]).await,
        vec![(s("r3"), ID, None), (s("r4"), ID, None)]
    );
    assert_eq!(by_rule(&c, &["r4"], &[NA]).await, vec![(s("r4"), NA, None)]);

    // Per resource: a is NON_COMPLIANT (1 of 2 rules), b COMPLIANT, c (only NOT_APPLICABLE) left out unless asked.
    assert_eq!(
        by_resource(&c, Some(BUCKET), None, &[]).await,
        vec![
            (s(BUCKET), s("a"), NC, Some(1)),
            (s(BUCKET), s("b"), C, None)
        ]
    );
    assert_eq!(
        by_resource(&c, None, None, &[NC]).await,
        vec![(s(BUCKET), s("a"), NC, Some(1))]
    );
    assert_eq!(
        by_resource(&c, Some(BUCKET), None, &[NA]).await,
        vec![(s(BUCKET), s("c"), NA, None)]
    );
    assert!(by_resource(&c, Some(INSTANCE), None, &[]).await.is_empty());
    // A named resource is always answered.
    assert_eq!(
        by_resource(&c, Some(BUCKET), Some("zzz"), &[]).await,
        vec![(s(BUCKET), s("zzz"), ID, None)]
    );
    assert_eq!(
        by_resource(&c, Some(BUCKET), Some("c"), &[]).await,
        vec![(s(BUCKET), s("c"), ID, None)]
    );
    assert_eq!(
        by_resource(&c, Some(BUCKET), Some("b"), &[]).await,
        vec![(s(BUCKET), s("b"), C, None)]
    );
    assert!(by_resource(&c, Some(BUCKET), Some("b"), &[NC])
        .await
        .is_empty());

    // Details by resource: one result per rule, in rule order; filters.
    let out = c
        .get_compliance_details_by_resource()
        .resource_type(BUCKET)
        .resource_id("a")
        .send()
        .await
        .unwrap();
    let got: Vec<(String, ComplianceType)> = out
        .evaluation_results()
        .iter()
        .map(|r| {
            let q = r
                .evaluation_result_identifier()
                .unwrap()
                .evaluation_result_qualifier()
                .unwrap();
            (
                q.config_rule_name().unwrap().to_string(),
                r.compliance_type().unwrap().clone(),
            )
        })
        .collect();
    assert_eq!(got, vec![(s("r1"), NC), (s("r2"), C)]);
    let out = c
        .get_compliance_details_by_resource()
        .resource_type(BUCKET)
        .resource_id("a")
        .compliance_types(C)
        .send()
        .await
        .unwrap();
    assert_eq!(out.evaluation_results().len(), 1);
    assert!(out.next_token().is_none());

    // Summaries.
    let sum = c
        .get_compliance_summary_by_config_rule()
        .send()
        .await
        .unwrap();
    let sum = sum.compliance_summary().unwrap();
    assert_eq!(sum.compliant_resource_count().unwrap().capped_count(), 1);
    assert_eq!(
        sum.non_compliant_resource_count().unwrap().capped_count(),
        1
    );
    assert!(!sum.non_compliant_resource_count().unwrap().cap_exceeded());
    assert!(sum.compliance_summary_timestamp().is_some());

    let out = c
        .get_compliance_summary_by_resource_type()
        .resource_types(BUCKET)
        .resource_types(INSTANCE)
        .send()
        .await
        .unwrap();
    let rows: Vec<(String, i32, i32)> = out
        .compliance_summaries_by_resource_type()
        .iter()
        .map(|r| {
            let s = r.compliance_summary().unwrap();
            (
                r.resource_type().unwrap().to_string(),
                s.compliant_resource_count().unwrap().capped_count(),
                s.non_compliant_resource_count().unwrap().capped_count(),
            )
        })
        .collect();
    assert_eq!(rows, vec![(s(BUCKET), 1, 1), (s(INSTANCE), 0, 0)]);
    let out = c
        .get_compliance_summary_by_resource_type()
        .send()
        .await
        .unwrap();
    let all = &out.compliance_summaries_by_resource_type();
    assert_eq!(all.len(), 1);
    assert!(all[0].resource_type().is_none());
    assert_eq!(
        all[0]
            .compliance_summary()
            .unwrap()
            .non_compliant_resource_count()
            .unwrap()
            .capped_count(),
        1
    );

    // Another account sees none of it.
    let other = server.call_signed(
        "StarlingDoveService.DescribeComplianceByResource",
        b"{}",
        "test",
        "test",
        "eu-west-1",
        "config",
    );
    assert_eq!(other.status, 200);
    assert_eq!(other.json()["ComplianceByResources"], serde_json::json!([]));
}

#[tokio::test]
async fn newer_ordering_timestamp_wins_older_is_ignored() {
    let server = Server::start();
    let c = server.client();
    rule(&c, "r").await;
    let t = token(&server, "r");
    put(&c, &t, vec![eval(BUCKET, "a", NC, 200)]).await;
    put(&c, &t, vec![eval(BUCKET, "a", C, 100)]).await; // older: ignored
    assert_eq!(details(&c, "r", &[]).await, vec![(s("a"), NC)]);
    put(&c, &t, vec![eval(BUCKET, "a", C, 300)]).await; // newer: replaces
    assert_eq!(details(&c, "r", &[]).await, vec![(s("a"), C)]);
    let out = c
        .get_compliance_details_by_config_rule()
        .config_rule_name("r")
        .send()
        .await
        .unwrap();
    let r = &out.evaluation_results()[0];
    assert_eq!(
        r.evaluation_result_identifier()
            .unwrap()
            .ordering_timestamp()
            .unwrap()
            .secs(),
        300
    );
    assert_eq!(r.annotation(), Some("a at 300"));
    // Within one call, order of arrival with the same rule.
    put(
        &c,
        &t,
        vec![eval(BUCKET, "b", C, 500), eval(BUCKET, "b", NC, 400)],
    )
    .await;
    assert_eq!(
        details(&c, "r", &[NC]).await,
        Vec::<(String, ComplianceType)>::new()
    );
}

#[tokio::test]
async fn result_tokens_are_checked() {
    let server = Server::start();
    let c = server.client();
    rule(&c, "r").await;
    rule(&c, "other").await;
    let good = token(&server, "r");
    let try_put = |t: String| {
        let c = c.clone();
        async move {
            c.put_evaluations()
                .result_token(t)
                .evaluations(eval(BUCKET, "a", NC, 1))
                .send()
                .await
        }
    };

    for bad in [
        "garbage".to_string(),
        String::new(),
        format!("{good}x"),
        good.replacen("rt1.", "rt1.A", 1),
        token_with(&server, "r", &["--valid-for-seconds", "0"]).unwrap(),
    ] {
        let err = try_put(bad.clone()).await.unwrap_err();
        assert_eq!(error_code(&err), "InvalidResultTokenException", "{bad}");
    }
    // A token minted for the same rule name in another region is refused here.
    let eu = server.client_as("test", "test", "eu-west-1");
    eu.put_config_rule()
        .config_rule(lambda_rule("r"))
        .send()
        .await
        .unwrap();
    let eu_token = token_with(&server, "r", &["--region", "eu-west-1"]).unwrap();
    let err = try_put(eu_token.clone()).await.unwrap_err();
    assert_eq!(error_code(&err), "InvalidResultTokenException");
    // ...and accepted there.
    eu.put_evaluations()
        .result_token(eu_token)
        .evaluations(eval(BUCKET, "z", C, 1))
        .send()
        .await
        .unwrap();

    // Nothing was stored by the refused calls; a token writes only its own rule.
    assert!(details(&c, "r", &[]).await.is_empty());
    try_put(good.clone()).await.unwrap();
    assert_eq!(details(&c, "r", &[]).await, vec![(s("a"), NC)]);
    assert!(details(&c, "other", &[]).await.is_empty());

    // The token of a rule deleted since names no rule.
    c.delete_config_rule()
        .config_rule_name("r")
        .send()
        .await
        .unwrap();
    let err = try_put(good).await.unwrap_err();
    assert_eq!(error_code(&err), "NoSuchConfigRuleException");

    // The command refuses rules that do not exist.
    assert!(token_with(&server, "nope", &[])
        .unwrap_err()
        .contains("nope"));
}

#[tokio::test]
async fn tokens_survive_a_restart() {
    let mut server = Server::start();
    let c = server.client();
    rule(&c, "r").await;
    let t = token(&server, "r");
    server.restart();
    let c = server.client();
    put(&c, &t, vec![eval(BUCKET, "a", C, 1)]).await;
    assert_eq!(details(&c, "r", &[]).await, vec![(s("a"), C)]);
}

#[tokio::test]
async fn test_mode_validates_and_stores_nothing() {
    let server = Server::start();
    let c = server.client();
    rule(&c, "r").await;
    let out = c
        .put_evaluations()
        .result_token("not-a-token")
        .test_mode(true)
        .evaluations(eval(BUCKET, "a", NC, 1))
        .send()
        .await
        .unwrap();
    assert!(out.failed_evaluations().is_empty());
    // Even with a valid token, TestMode stores nothing.
    c.put_evaluations()
        .result_token(token(&server, "r"))
        .test_mode(true)
        .evaluations(eval(BUCKET, "b", NC, 1))
        .send()
        .await
        .unwrap();
    assert!(details(&c, "r", &[]).await.is_empty());
    assert_eq!(by_rule(&c, &["r"], &[]).await, vec![(s("r"), ID, None)]);
    // It still validates: INSUFFICIENT_DATA is refused.
    let err = c
        .put_evaluations()
        .result_token("x")
        .test_mode(true)
        .evaluations(eval(BUCKET, "a", ID, 1))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValueException");
}

#[tokio::test]
async fn evaluation_limits_and_insufficient_data() {
    let server = Server::start();
    let c = server.client();
    rule(&c, "r").await;
    let t = token(&server, "r");
    let many = |n: usize| {
        (0..n)
            .map(|i| eval(BUCKET, &format!("b{i:03}"), NC, 1))
            .collect::<Vec<_>>()
    };
    put(&c, &t, many(100)).await;
    let err = c
        .put_evaluations()
        .result_token(&t)
        .set_evaluations(Some(many(101)))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ValidationException");
    assert!(
        error_message(&err).contains("less than or equal to 100"),
        "{}",
        error_message(&err)
    );

    let err = c
        .put_evaluations()
        .result_token(&t)
        .evaluations(eval(BUCKET, "x", ID, 1))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValueException");

    // A missing required member of an Evaluation is a ValidationException.
    let r = server.call(
        "StarlingDoveService.PutEvaluations",
        &serde_json::json!({"ResultToken": t, "Evaluations": [{"ComplianceResourceType": BUCKET, "ComplianceResourceId": "x", "ComplianceType": "COMPLIANT"}]}).to_string(),
    );
    assert_eq!(
        (r.status, r.error_type().as_str()),
        (400, "ValidationException"),
        "{}",
        r.message()
    );
    assert!(r.message().contains("orderingTimestamp"), "{}", r.message());

    // Zero evaluations are fine, and an empty FailedEvaluations list comes back.
    let r = server.call(
        "StarlingDoveService.PutEvaluations",
        &serde_json::json!({"ResultToken": t, "Evaluations": []}).to_string(),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["FailedEvaluations"], serde_json::json!([]));

    // Contributor counts cap at 100: 100 non-compliant resources are counted exactly, the 101st
    // exceeds the cap.
    let contributors = |out: &config::operation::describe_compliance_by_config_rule::DescribeComplianceByConfigRuleOutput| {
        let n = out.compliance_by_config_rules()[0]
            .compliance()
            .unwrap()
            .compliance_contributor_count()
            .unwrap();
        (n.capped_count(), n.cap_exceeded())
    };
    let out = c
        .describe_compliance_by_config_rule()
        .config_rule_names("r")
        .send()
        .await
        .unwrap();
    assert_eq!(contributors(&out), (100, false));
    put(&c, &t, vec![eval(BUCKET, "b100", NC, 1)]).await;
    let out = c
        .describe_compliance_by_config_rule()
        .config_rule_names("r")
        .send()
        .await
        .unwrap();
    assert_eq!(contributors(&out), (100, true));
    // So do resource summaries.
    let out = c
        .get_compliance_summary_by_resource_type()
        .resource_types(BUCKET)
        .send()
        .await
        .unwrap();
    let n = out.compliance_summaries_by_resource_type()[0]
        .compliance_summary()
        .unwrap()
        .non_compliant_resource_count()
        .unwrap()
        .clone();
    assert_eq!((n.capped_count(), n.cap_exceeded()), (100, true));
}

#[tokio::test]
async fn paging() {
    let server = Server::start();
    let c = server.client();
    // 27 rules, each judging resource "x" NON_COMPLIANT; rule "p00" also judges 25 buckets.
    for i in 0..27 {
        let name = format!("p{i:02}");
        rule(&c, &name).await;
        put(&c, &token(&server, &name), vec![eval(INSTANCE, "x", NC, 1)]).await;
    }
    let t = token(&server, "p00");
    put(
        &c,
        &t,
        (0..25)
            .map(|i| {
                eval(
                    BUCKET,
                    &format!("b{i:02}"),
                    if i % 2 == 0 { C } else { NC },
                    1,
                )
            })
            .collect(),
    )
    .await;

    // GetComplianceDetailsByConfigRule: Limit 10 → 10, 10, 6 (26 results with "x").
    let mut sizes = Vec::new();
    let mut next: Option<String> = None;
    let mut seen = Vec::new();
    loop {
        let out = c
            .get_compliance_details_by_config_rule()
            .config_rule_name("p00")
            .limit(10)
            .set_next_token(next.clone())
            .send()
            .await
            .unwrap();
        sizes.push(out.evaluation_results().len());
        for r in out.evaluation_results() {
            seen.push(
                r.evaluation_result_identifier()
                    .unwrap()
                    .evaluation_result_qualifier()
                    .unwrap()
                    .resource_id()
                    .unwrap()
                    .to_string(),
            );
        }
        next = out.next_token().map(str::to_string);
        if next.is_none() {
            break;
        }
    }
    assert_eq!(sizes, vec![10, 10, 6]);
    let mut sorted = seen.clone();
    sorted.dedup();
    assert_eq!(sorted.len(), 26);
    // Default page is 10; a filter pages too.
    let out = c
        .get_compliance_details_by_config_rule()
        .config_rule_name("p00")
        .send()
        .await
        .unwrap();
    assert_eq!(out.evaluation_results().len(), 10);
    assert_eq!(details(&c, "p00", &[NC]).await.len(), 13);

    // DescribeComplianceByConfigRule: 25 per page.
    let first = c.describe_compliance_by_config_rule().send().await.unwrap();
    assert_eq!(first.compliance_by_config_rules().len(), 25);
    let second = c
        .describe_compliance_by_config_rule()
        .next_token(first.next_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(second.compliance_by_config_rules().len(), 2);
    assert!(second.next_token().is_none());
    assert_eq!(
        second.compliance_by_config_rules()[1].config_rule_name(),
        Some("p26")
    );

    // GetComplianceDetailsByResource: 25 per page.
    let first = c
        .get_compliance_details_by_resource()
        .resource_type(INSTANCE)
        .resource_id("x")
        .send()
        .await
        .unwrap();
    assert_eq!(first.evaluation_results().len(), 25);
    let second = c
        .get_compliance_details_by_resource()
        .resource_type(INSTANCE)
        .resource_id("x")
        .next_token(first.next_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(second.evaluation_results().len(), 2);
    assert!(second.next_token().is_none());

    // DescribeComplianceByResource: Limit 7 over 26 resources, filter applied across pages.
    let mut total = 0;
    let mut next: Option<String> = None;
    let mut pages = 0;
    loop {
        let out = c
            .describe_compliance_by_resource()
            .compliance_types(NC)
            .limit(7)
            .set_next_token(next.clone())
            .send()
            .await
            .unwrap();
        assert!(out.compliance_by_resources().iter().all(|r| r
            .compliance()
            .unwrap()
            .compliance_type()
            == Some(&NC)));
        total += out.compliance_by_resources().len();
        pages += 1;
        next = out.next_token().map(str::to_string);
        if next.is_none() {
            break;
        }
    }
    assert_eq!((total, pages), (13, 2)); // 12 odd buckets + x
                                         // The instance is NON_COMPLIANT by all 27 rules.
    assert_eq!(
        by_resource(&c, Some(INSTANCE), Some("x"), &[]).await,
        vec![(s(INSTANCE), s("x"), NC, Some(27))]
    );

    // The rule summary caps at 25.
    let out = c
        .get_compliance_summary_by_config_rule()
        .send()
        .await
        .unwrap();
    let n = out
        .compliance_summary()
        .unwrap()
        .non_compliant_resource_count()
        .unwrap()
        .clone();
    assert_eq!((n.capped_count(), n.cap_exceeded()), (25, true));

    // DescribeConfigRuleEvaluationStatus pages by Limit.
    let out = c
        .describe_config_rule_evaluation_status()
        .limit(20)
        .send()
        .await
        .unwrap();
    assert_eq!(out.config_rules_evaluation_status().len(), 20);
    let out = c
        .describe_config_rule_evaluation_status()
        .limit(20)
        .next_token(out.next_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(out.config_rules_evaluation_status().len(), 7);
    assert!(out.next_token().is_none());

    // Tokens are checked.
    let err = c
        .get_compliance_details_by_config_rule()
        .config_rule_name("p00")
        .next_token("bogus")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidNextTokenException");
    let err = c
        .describe_compliance_by_config_rule()
        .next_token("bogus")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidNextTokenException");
}

#[tokio::test]
async fn invalid_requests() {
    let server = Server::start();
    let c = server.client();
    rule(&c, "r").await;

    let err = c
        .get_compliance_details_by_config_rule()
        .config_rule_name("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "NoSuchConfigRuleException");
    let err = c
        .get_compliance_details_by_config_rule()
        .config_rule_name("x".repeat(65))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ValidationException");
    let err = c
        .get_compliance_details_by_config_rule()
        .config_rule_name("r")
        .compliance_types(ID)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValueException");
    let err = c
        .get_compliance_details_by_config_rule()
        .config_rule_name("r")
        .limit(101)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ValidationException");

    let err = c
        .get_compliance_details_by_resource()
        .resource_evaluation_id("e-1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValueException");
    assert!(error_message(&err).contains("proactive"));
    let err = c
        .get_compliance_details_by_resource()
        .resource_type(BUCKET)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValueException");

    let err = c
        .describe_compliance_by_resource()
        .resource_id("a")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValueException");
    let err = c
        .describe_compliance_by_config_rule()
        .config_rule_names("r")
        .config_rule_names("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "NoSuchConfigRuleException");
    let err = c
        .describe_config_rule_evaluation_status()
        .config_rule_names("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "NoSuchConfigRuleException");
    let err = c
        .describe_config_rule_evaluation_status()
        .limit(51)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ValidationException");
    let err = c
        .delete_evaluation_results()
        .config_rule_name("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "NoSuchConfigRuleException");

    // GetComplianceSummaryByConfigRule has no input: an empty body is fine.
    let r = server.call("StarlingDoveService.GetComplianceSummaryByConfigRule", "");
    assert_eq!(r.status, 200, "{}", r.message());
    assert_eq!(
        r.json()["ComplianceSummary"]["CompliantResourceCount"]["CappedCount"],
        0
    );
}

#[tokio::test]
async fn start_evaluation_interval_and_status() {
    let server = Server::start_with(&["--rule-evaluation-interval-seconds", "1"]);
    let c = no_retries(&server);
    rule(&c, "a").await;
    rule(&c, "b").await;

    let st = c
        .describe_config_rule_evaluation_status()
        .config_rule_names("a")
        .send()
        .await
        .unwrap();
    let a = &st.config_rules_evaluation_status()[0];
    assert_eq!(a.config_rule_name(), Some("a"));
    assert!(a
        .config_rule_arn()
        .unwrap()
        .starts_with("arn:aws:config:us-east-1:000000000000:config-rule/"));
    assert!(a.first_activated_time().is_some());
    assert!(a.last_successful_invocation_time().is_none());
    assert!(!a.first_evaluation_started());

    c.start_config_rules_evaluation()
        .config_rule_names("a")
        .send()
        .await
        .unwrap();
    let err = c
        .start_config_rules_evaluation()
        .config_rule_names("b")
        .config_rule_names("a")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "LimitExceededException");
    // Refused as a whole: b was not recorded, so it can start alone.
    c.start_config_rules_evaluation()
        .config_rule_names("b")
        .send()
        .await
        .unwrap();
    let err = c
        .start_config_rules_evaluation()
        .config_rule_names("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "NoSuchConfigRuleException");
    let err = c
        .start_config_rules_evaluation()
        .set_config_rule_names(Some((0..26).map(|i| format!("r{i}")).collect()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ValidationException");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    c.start_config_rules_evaluation()
        .config_rule_names("a")
        .config_rule_names("b")
        .send()
        .await
        .unwrap();

    let st = c
        .describe_config_rule_evaluation_status()
        .send()
        .await
        .unwrap();
    let all = st.config_rules_evaluation_status();
    assert_eq!(all.len(), 2);
    assert!(all
        .iter()
        .all(|s| s.last_successful_invocation_time().is_some()));

    // After results arrive, the status says the rule has evaluated.
    put(&c, &token(&server, "a"), vec![eval(BUCKET, "x", C, 1)]).await;
    let st = c
        .describe_config_rule_evaluation_status()
        .config_rule_names("a")
        .send()
        .await
        .unwrap();
    let a = &st.config_rules_evaluation_status()[0];
    assert!(a.first_evaluation_started());
    assert!(a.last_successful_evaluation_time().is_some());
}

#[tokio::test]
async fn start_evaluation_default_interval_is_a_minute() {
    let server = Server::start();
    let c = no_retries(&server);
    rule(&c, "a").await;
    c.start_config_rules_evaluation()
        .config_rule_names("a")
        .send()
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let err = c
        .start_config_rules_evaluation()
        .config_rule_names("a")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "LimitExceededException");
}

#[tokio::test]
async fn delete_evaluation_results_and_delete_rule() {
    let server = Server::start();
    let c = server.client();
    seed(&server, &c).await;

    c.delete_evaluation_results()
        .config_rule_name("r1")
        .send()
        .await
        .unwrap();
    assert!(details(&c, "r1", &[]).await.is_empty());
    assert_eq!(by_rule(&c, &["r1"], &[]).await, vec![(s("r1"), ID, None)]);
    // r2's results are untouched; a is now COMPLIANT (only r2 judges it).
    assert_eq!(details(&c, "r2", &[]).await.len(), 2);
    assert_eq!(
        by_resource(&c, Some(BUCKET), Some("a"), &[]).await,
        vec![(s(BUCKET), s("a"), C, None)]
    );
    // The rule still exists and takes new results.
    put(&c, &token(&server, "r1"), vec![eval(BUCKET, "a", NC, 1)]).await;
    assert_eq!(details(&c, "r1", &[]).await, vec![(s("a"), NC)]);

    // Deleting a rule deletes its results: a re-created rule of that name starts empty.
    c.delete_config_rule()
        .config_rule_name("r1")
        .send()
        .await
        .unwrap();
    let out = c
        .get_compliance_details_by_resource()
        .resource_type(BUCKET)
        .resource_id("a")
        .send()
        .await
        .unwrap();
    assert_eq!(out.evaluation_results().len(), 1); // r2 only
    rule(&c, "r1").await;
    assert!(details(&c, "r1", &[]).await.is_empty());
    let st = c
        .describe_config_rule_evaluation_status()
        .config_rule_names("r1")
        .send()
        .await
        .unwrap();
    assert!(!st.config_rules_evaluation_status()[0].first_evaluation_started());
}

#[tokio::test]
async fn remediation_exceptions_only_for_non_compliant_or_unknown() {
    let server = Server::start();
    let c = server.client();
    seed(&server, &c).await;
    let key = |id: &str| {
        RemediationExceptionResourceKey::builder()
            .resource_type(BUCKET)
            .resource_id(id)
            .build()
    };
    let out = c
        .put_remediation_exceptions()
        .config_rule_name("r1")
        .resource_keys(key("a")) // NON_COMPLIANT
        .resource_keys(key("b")) // COMPLIANT
        .resource_keys(key("c")) // NOT_APPLICABLE
        .resource_keys(key("d")) // no result
        .message("waived")
        .send()
        .await
        .unwrap();
    let failed: Vec<&str> = out
        .failed_batches()
        .iter()
        .flat_map(|b| b.failed_items().iter().map(|i| i.resource_id()))
        .collect();
    assert_eq!(failed, vec!["b", "c"]);
    assert!(out
        .failed_batches()
        .iter()
        .all(|b| b.failure_message().is_some_and(|m| !m.is_empty())));
    let stored = c
        .describe_remediation_exceptions()
        .config_rule_name("r1")
        .send()
        .await
        .unwrap();
    let ids: Vec<&str> = stored
        .remediation_exceptions()
        .iter()
        .map(|e| e.resource_id())
        .collect();
    assert_eq!(ids, vec!["a", "d"]);
}
