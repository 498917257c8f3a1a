//! Many remedy nodes on one PostgreSQL database (issue 6), when `REMEDY_TEST_DATABASE_URL` names
//! a server (each test on a throwaway database of its own; without it the tests say they were
//! skipped and pass):
//!
//! - work a node held when it died — evaluation jobs it claimed, executions it leased — is
//!   finished by a node that is still running, without a restart and without waiting for the
//!   claim to go stale (600 s) or the lease to expire (an hour here): the running nodes release a
//!   gone node's claims and leases periodically;
//! - automatic remediation starts one run per NON_COMPLIANT finding whichever node the trigger
//!   reaches, and not again for a finding a run already acted on.
//!
//! Deadlines below bound a hang; they are not speed requirements.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_smithy_types::DateTime;
use common::config::types::{
    ComplianceType, ConfigRule, Evaluation, MessageType, Owner, RemediationConfiguration,
    RemediationExecutionState, Scope, Source, SourceDetail,
};
use common::pg::{self, query};
use common::*;
use remedy::store::ExecutionStore;

/// How long a test waits for the surviving node before calling it a hang.
const DEADLINE: Duration = Duration::from_secs(180);

fn database() -> Option<(String, pg::DropDatabase)> {
    pg::database("node_failure")
}

/// Polls `done` until it holds; panics naming `what` after [`DEADLINE`].
async fn eventually<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + DEADLINE;
    while !done().await {
        assert!(Instant::now() < deadline, "still waiting: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn count(url: &str, sql: &str) -> i64 {
    query(url, sql).parse().unwrap()
}

/// A custom Lambda rule over buckets, triggered by changes, for function `arn`.
async fn put_lambda_rule(c: &config::Client, name: &str, arn: &str) {
    c.put_config_rule()
        .config_rule(
            ConfigRule::builder()
                .config_rule_name(name)
                .source(
                    Source::builder()
                        .owner(Owner::CustomLambda)
                        .source_identifier(arn)
                        .source_details(
                            SourceDetail::builder()
                                .event_source("aws.config".into())
                                .message_type(MessageType::ConfigurationItemChangeNotification)
                                .build(),
                        )
                        .build()
                        .unwrap(),
                )
                .scope(Scope::builder().compliance_resource_types(BUCKET).build())
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("put rule: {}", config::error::DisplayErrorContext(e)));
}

// ---- a node dies holding evaluation jobs ------------------------------------------------------

const SLOW_CHECK: &str = "arn:aws:lambda:us-east-1:000000000000:function:slow-check";

/// A handlers file mapping [`SLOW_CHECK`] to `command` (a TOML array).
fn handlers(dir: &Path, name: &str, command: &str) -> PathBuf {
    let file = dir.join(name);
    std::fs::write(
        &file,
        format!(
            "[[handler]]\nfunction_arn = \"{SLOW_CHECK}\"\ncommand = {command}\ntimeout_seconds = 600\n"
        ),
    )
    .unwrap();
    file
}

/// Node A claims a rule's evaluation job and is SIGKILLed while running it (its Lambda handlers
/// never return, so it can neither finish nor give the job back). Node B, started while A was
/// alive (so its start-up release rightly left A's claim alone), runs the job within its rescue
/// interval of A's death.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_nodes_evaluation_jobs_are_run_by_a_live_node() {
    let Some((url, _db)) = database() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // Node A's handler never ends by itself; once A is gone its output pipe breaks and it exits.
    let stuck = handlers(
        dir.path(),
        "stuck.toml",
        r#"["sh", "-c", "cat > /dev/null; while echo waiting; do sleep 1; done"]"#,
    );
    // Node B's handler logs each event and succeeds.
    let log = dir.path().join("events-b.jsonl");
    let quick = handlers(
        dir.path(),
        "quick.toml",
        &format!(
            r#"["sh", "-c", "cat >> '{0}'; echo >> '{0}'"]"#,
            log.display()
        ),
    );
    let mut a = Server::start_with(&[
        "--database-url",
        &url,
        "--lambda-handlers",
        stuck.to_str().unwrap(),
    ]);
    let ca = a.client();
    // More buckets than A runs handlers at once: A's rule job blocks waiting for a free slot.
    let buckets: Vec<String> = (0..remedy::evaluation::engine::LAMBDA_CONCURRENCY + 8)
        .map(|i| format!("bucket-{i:03}"))
        .collect();
    for b in &buckets {
        record_bucket(&ca, b, "Off").await;
    }
    eventually("the change jobs (no rule yet) are done", || async {
        count(&url, "SELECT count(*) FROM evaluation_queue") == 0
    })
    .await;
    put_lambda_rule(&ca, "slow-check", SLOW_CHECK).await;
    eventually("node A claims the rule's job", || async {
        count(
            &url,
            "SELECT count(*) FROM evaluation_queue WHERE claimed_at IS NOT NULL",
        ) == 1
    })
    .await;

    let _b = Server::start_with(&[
        "--database-url",
        &url,
        "--lambda-handlers",
        quick.to_str().unwrap(),
    ]);
    assert_eq!(
        count(
            &url,
            "SELECT count(*) FROM evaluation_queue WHERE claimed_at IS NOT NULL"
        ),
        1,
        "a live node's claim is not released"
    );
    a.kill();
    eventually("node B runs the dead node's job", || async {
        count(&url, "SELECT count(*) FROM evaluation_queue") == 0
    })
    .await;
    let events = std::fs::read_to_string(&log).unwrap();
    for b in &buckets {
        assert!(events.contains(b.as_str()), "node B evaluated {b}");
    }
}

// ---- a node dies holding execution leases -----------------------------------------------------

/// A node leases executions for an hour and dies (its store, in this process, closes its
/// connections: to PostgreSQL that is what a SIGKILLed node's closed sockets are). The running
/// server releases the dead node's leases and runs the executions to the end — it does not wait
/// for the hour.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn executions_leased_by_a_dead_node_are_run_by_a_live_node() {
    let Some((url, _db)) = database() else {
        return;
    };
    let server = Server::start_with(&["--database-url", &url]);
    let (c, s) = (server.client(), server.ssm_client());
    create_runbook(&s, NAP_THEN_ENABLE, &nap_then_enable("PT5S")).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let name = format!("napper-{i}");
        record_bucket(&c, &name, "Off").await;
        let id = s
            .start_automation_execution()
            .document_name(NAP_THEN_ENABLE)
            .parameters("BucketName", vec![name])
            .send()
            .await
            .unwrap()
            .automation_execution_id()
            .unwrap()
            .to_string();
        ids.push(id);
    }
    // The server runs each to its sleep and sets it aside (no lease) until it wakes.
    let parked = "SELECT count(*) FROM remediation_executions
                  WHERE lease_owner IS NULL AND state = 'IN_PROGRESS'
                    AND wake_at > extract(epoch FROM clock_timestamp())";
    eventually("every execution sleeps", || async {
        count(&url, parked) == 3
    })
    .await;

    // Another node takes them as they wake (a claim at their wake-up time) for an hour.
    let doomed = remedy::store::postgres::PgStore::connect(&url)
        .await
        .unwrap();
    let wake: f64 = query(&url, "SELECT max(wake_at) FROM remediation_executions")
        .parse()
        .unwrap();
    let held = doomed
        .claim_executions("doomed/0", wake + 1.0, 3600.0, 10)
        .await
        .unwrap();
    assert_eq!(held.len(), 3, "the sleeping executions were claimable");
    drop(doomed);

    for id in &ids {
        let s = s.clone();
        eventually("the live node runs the dead node's executions", || {
            let s = s.clone();
            async move {
                let e = s
                    .get_automation_execution()
                    .automation_execution_id(id)
                    .send()
                    .await
                    .unwrap();
                let status = e
                    .automation_execution()
                    .and_then(|e| e.automation_execution_status())
                    .cloned();
                assert_ne!(
                    status,
                    Some(ssm::types::AutomationExecutionStatus::Failed),
                    "{e:?}"
                );
                status == Some(ssm::types::AutomationExecutionStatus::Success)
            }
        })
        .await;
    }
}

// ---- automatic remediation across nodes ---------------------------------------------------------

const PUSHED: &str = "arn:aws:lambda:us-east-1:000000000000:function:pushed";

fn automatic(on: bool) -> RemediationConfiguration {
    let mut config = remediation_config("pushed", "AWS-ConfigureS3BucketVersioning");
    config.automatic = on;
    config
}

async fn put_config(c: &config::Client, config: RemediationConfiguration) {
    c.put_remediation_configurations()
        .remediation_configurations(config)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}", config::error::DisplayErrorContext(e)));
}

fn result_token(url: &str, data_dir: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_remedy"))
        .args(["result-token", "--rule", "pushed", "--database-url", url])
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .expect("run remedy result-token");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

async fn push(c: &config::Client, token: &str, id: &str, t: ComplianceType, at: f64) {
    c.put_evaluations()
        .result_token(token)
        .evaluations(
            Evaluation::builder()
                .compliance_resource_type(BUCKET)
                .compliance_resource_id(id)
                .compliance_type(t)
                .ordering_timestamp(DateTime::from_secs_f64(at))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}", config::error::DisplayErrorContext(e)));
}

/// (state, invocation time) of the key's latest execution.
async fn latest(c: &config::Client, id: &str) -> Option<(RemediationExecutionState, DateTime)> {
    let out = c
        .describe_remediation_execution_status()
        .config_rule_name("pushed")
        .resource_keys(bucket_key(id))
        .send()
        .await
        .unwrap();
    out.remediation_execution_statuses()
        .first()
        .map(|s| (s.state().cloned().unwrap(), *s.invocation_time().unwrap()))
}

/// A finding reported through node A is remediated once. Node B turning Automatic off and on
/// (which sweeps the rule's NON_COMPLIANT results) starts nothing for findings already acted
/// on — their stored results predate the runs. A new finding reported through B is remediated,
/// once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_finding_is_remediated_once_whichever_node_sees_it() {
    let Some((url, _db)) = database() else {
        return;
    };
    let a = Server::start_with(&["--database-url", &url]);
    let b = Server::start_with(&["--database-url", &url]);
    let (ca, cb) = (a.client(), b.client());
    // Results of this rule are only ever pushed (it has no handler): they change when pushed.
    put_lambda_rule(&ca, "pushed", PUSHED).await;
    put_config(&ca, automatic(true)).await;
    let keys: Vec<String> = (0..5).map(|i| format!("finding-{i}")).collect();
    for k in &keys {
        record_bucket(&ca, k, "Off").await;
    }
    let token = result_token(&url, &a.data_dir);
    let found = now();
    for k in &keys {
        push(&ca, &token, k, ComplianceType::NonCompliant, found).await;
    }
    let mut first = Vec::new();
    for k in &keys {
        eventually("the finding is remediated", || async {
            matches!(
                latest(&cb, k).await,
                Some((RemediationExecutionState::Succeeded, _))
            )
        })
        .await;
        first.push(latest(&cb, k).await.unwrap().1);
    }
    assert_eq!(
        count(&url, "SELECT count(*) FROM remediation_executions"),
        5
    );

    // Automatic off and on through node B: its sweep sees five NON_COMPLIANT results, each one
    // a run already acted on. (The sweep runs inside the request: whatever it starts exists
    // when the call returns.)
    put_config(&cb, automatic(false)).await;
    put_config(&cb, automatic(true)).await;
    for (k, at) in keys.iter().zip(&first) {
        assert_eq!(latest(&ca, k).await.unwrap().1, *at, "{k} ran once");
    }
    assert_eq!(
        count(&url, "SELECT count(*) FROM remediation_executions"),
        5
    );

    // A new finding for one key (COMPLIANT, then NON_COMPLIANT again), through node B.
    let later = now();
    push(&cb, &token, &keys[0], ComplianceType::Compliant, later).await;
    push(
        &cb,
        &token,
        &keys[0],
        ComplianceType::NonCompliant,
        later + 1.0,
    )
    .await;
    eventually("the new finding is remediated", || async {
        matches!(latest(&ca, &keys[0]).await,
            Some((RemediationExecutionState::Succeeded, at)) if at != first[0])
    })
    .await;
    assert_eq!(
        count(&url, "SELECT count(*) FROM remediation_executions"),
        6
    );
}
