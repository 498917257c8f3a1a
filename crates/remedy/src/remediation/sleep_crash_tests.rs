//! Waiting executions across a crash, in process: 200 executions of a runbook that sleeps
//! (`aws:sleep` PT2S between an s3 PutBucketVersioning and a GetBucketVersioning) are queued on a
//! SQLite store; the engine runs on its own runtime, which is torn down while the executions
//! sleep (its tasks are dropped mid-flight and release no lease: a SIGKILL as far as the store
//! can tell); a second engine on a freshly opened store finishes them. Every execution ends
//! SUCCEEDED, each bucket was written once, and the sleeps resumed at their stored wake-up time
//! rather than starting over.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use remedy_automation::{ExecutionState, Runbook};
use serde_json::json;

use super::runbooks::{BuiltinRunbooks, ResolvedRunbook, RunbookSource};
use super::test_support::{bucket_versions, scope, start_bucket_remediations};
use crate::app::{App, Settings};
use crate::auth::StaticCredentials;
use crate::store::executions::{ExecutionRecord, STATE_SUCCEEDED};
use crate::store::sqlite::SqliteStore;

const DOCUMENT: &str = "Test-SleepingVersioning";
const RULE: &str = "versioning";
const BUCKETS: usize = 200;
const SLEEP_MS: i64 = 2000;

const RUNBOOK: &str = r#"
schemaVersion: '0.3'
description: Enables versioning, sleeps, reads it back.
assumeRole: '{{ AutomationAssumeRole }}'
parameters:
  BucketName:
    type: String
  AutomationAssumeRole:
    type: String
    default: ''
mainSteps:
  - name: EnableVersioning
    action: aws:executeAwsApi
    inputs:
      Service: s3
      Api: PutBucketVersioning
      Bucket: '{{ BucketName }}'
      VersioningConfiguration:
        Status: Enabled
  - name: Pause
    action: aws:sleep
    inputs:
      Duration: PT2S
  - name: ReadVersioning
    action: aws:executeAwsApi
    inputs:
      Service: s3
      Api: GetBucketVersioning
      Bucket: '{{ BucketName }}'
    outputs:
      - Name: Status
        Selector: $.Status
        Type: String
"#;

/// The built-in catalog plus the test's sleeping runbook.
struct WithSleeper(Arc<Runbook>);

#[async_trait::async_trait]
impl RunbookSource for WithSleeper {
    async fn resolve(
        &self,
        scope: &crate::domain::Scope,
        name: &str,
        version: Option<&str>,
    ) -> crate::store::StoreResult<Option<ResolvedRunbook>> {
        if name == DOCUMENT {
            return Ok(Some(ResolvedRunbook {
                name: name.to_string(),
                version: "1".into(),
                runbook: self.0.clone(),
            }));
        }
        BuiltinRunbooks.resolve(scope, name, version).await
    }
}

fn app(path: &std::path::Path) -> Arc<App> {
    let store = SqliteStore::open(path).unwrap();
    let mut app = App::new(
        Arc::new(store),
        Arc::new(StaticCredentials::local_default()),
        Settings::default(),
    );
    app.runbooks = Arc::new(WithSleeper(Arc::new(Runbook::parse(RUNBOOK).unwrap())));
    Arc::new(app)
}

fn bucket_name(i: usize) -> String {
    format!("sleepy-bucket-{i:03}")
}

async fn executions(app: &App) -> Vec<ExecutionRecord> {
    app.store
        .latest_executions(&scope(), RULE, None, None, BUCKETS + 1)
        .await
        .unwrap()
}

fn state(rec: &ExecutionRecord) -> ExecutionState {
    serde_json::from_str(&rec.execution_state).unwrap()
}

/// Committed its sleep: the stored wake-up time is ahead of the first step's end.
fn sleeping(rec: &ExecutionRecord) -> bool {
    let s = state(rec);
    rec.state != STATE_SUCCEEDED
        && s.steps.len() == 2
        && s.steps[1].step_name == "Pause"
        && rec.wake_at * 1000.0 > s.steps[1].start_time_ms as f64 + 1000.0
}

#[test]
fn sleeping_executions_resume_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("remedy.db");
    let driver = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    // Setup: a rule, 200 recorded buckets, a configuration running the sleeping runbook with
    // no concurrency or error bound, and 200 queued executions.
    let first = app(&path);
    let buckets: Vec<String> = (0..BUCKETS).map(bucket_name).collect();
    driver.block_on(async {
        start_bucket_remediations(&first, RULE, DOCUMENT, &buckets).await;
        assert_eq!(executions(&first).await.len(), BUCKETS);
    });

    // The first engine, on a runtime of its own, until every execution sleeps.
    let doomed = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let _engine = {
        let _in = doomed.enter();
        super::engine::start(first.clone())
    };
    let wake_at: BTreeMap<String, f64> = driver.block_on(async {
        loop {
            let all = executions(&first).await;
            if all.iter().all(sleeping) {
                break all.iter().map(|r| (r.id.clone(), r.wake_at)).collect();
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "executions did not reach their sleep"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let reached_sleep = started.elapsed();
    assert!(
        reached_sleep < Duration::from_millis(SLEEP_MS as u64),
        "too slow to crash while they all sleep: {reached_sleep:?}"
    );

    // Kill: drop every task of the first engine where it stands (no lease released, nothing
    // committed past this point), then the store. Restart a second later.
    doomed.shutdown_timeout(Duration::from_secs(5));
    drop(_engine);
    drop(first);
    std::thread::sleep(Duration::from_secs(1));

    let second = app(&path);
    // The crash caught them all asleep: none ended before it.
    driver.block_on(async {
        let all = executions(&second).await;
        assert_eq!(all.len(), BUCKETS);
        assert!(
            all.iter().all(sleeping),
            "an execution ended before the crash"
        );
    });
    let resumed = Instant::now();
    let engine = {
        let _in = driver.enter();
        super::engine::start(second.clone())
    };
    let done = driver.block_on(async {
        loop {
            let all = executions(&second).await;
            if all.iter().all(|r| r.state == STATE_SUCCEEDED) {
                break all;
            }
            assert!(
                resumed.elapsed() < Duration::from_secs(60),
                "not all executions ended: {:?}",
                all.iter()
                    .filter(|r| r.state != STATE_SUCCEEDED)
                    .map(|r| (&r.resource_id, &r.state))
                    .take(5)
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });

    // None lost, none new: the same 200 executions, each SUCCEEDED.
    assert_eq!(done.len(), BUCKETS);
    for rec in &done {
        let before = wake_at
            .get(&rec.id)
            .unwrap_or_else(|| panic!("execution {} is new", rec.id));
        let s = state(rec);
        let names: Vec<&str> = s.steps.iter().map(|st| st.step_name.as_str()).collect();
        assert_eq!(
            names,
            ["EnableVersioning", "Pause", "ReadVersioning"],
            "{}",
            rec.resource_id
        );
        assert_eq!(
            s.outputs["ReadVersioning"]["Status"],
            json!("Enabled"),
            "{}",
            rec.resource_id
        );
        // The sleep ended at the wake-up time it stored before the crash (plus the engine's
        // poll), not 2 s after the restart.
        let before_ms = (before * 1000.0) as i64;
        let pause = &s.steps[1];
        let pause_end = pause.end_time_ms.expect("the sleep ended");
        assert!(
            pause_end >= before_ms && pause_end < before_ms + 1000,
            "{}: slept until {pause_end}, stored wake-up {before_ms}",
            rec.resource_id
        );
        assert!(pause_end - pause.start_time_ms >= SLEEP_MS);
        let total = s.end_time_ms.unwrap() - s.start_time_ms.unwrap();
        assert!(
            total < 2 * SLEEP_MS,
            "{}: ran {total} ms (the sleep restarted?)",
            rec.resource_id
        );
    }

    // Each bucket written once: its recorded item plus one new version, versioning Enabled.
    driver.block_on(async {
        for name in &buckets {
            assert_eq!(bucket_versions(&second, name).await, 2, "{name}");
        }
        engine.stop().await;
    });
}
