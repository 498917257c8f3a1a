//! Store failures in the middle of executions. Under overload a PostgreSQL node had a new
//! connection refused inside a runbook step; the world answered `InternalFailure`, the step
//! failed, and executions whose runbooks had done nothing wrong ended FAILED (issue 6). Here a
//! SQLite trigger makes the store refuse one kind of write while a switch row exists — the
//! same `StoreError` a refused connection or a lock timeout gives — and the engine must wait it
//! out: no execution fails, each ends SUCCEEDED once the store answers, and each bucket is
//! written once.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use remedy_automation::ExecutionState;
use rusqlite::Connection;

use super::test_support::{bucket_versions, scope, start_bucket_remediations};
use crate::app::{App, Settings};
use crate::auth::StaticCredentials;
use crate::store::executions::{ExecutionRecord, STATE_IN_PROGRESS, STATE_SUCCEEDED};
use crate::store::sqlite::SqliteStore;

const RULE: &str = "versioning";
const DOCUMENT: &str = "AWS-ConfigureS3BucketVersioning";
const BUCKETS: usize = 20;
/// How long the store goes on refusing writes once every execution is claimed: long enough for
/// each to meet the failure (they fail at once without the engine's retry).
const OUTAGE: Duration = Duration::from_millis(1500);

/// A connection of the test's own to the store's file, installing the triggers that refuse
/// recording configuration items (the world's writes) and committing execution steps while
/// the matching row is in `injected_faults`.
fn fault_switch(path: &Path) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.execute_batch(
        "CREATE TABLE injected_faults (refuse TEXT PRIMARY KEY);
         CREATE TRIGGER refuse_world_writes BEFORE INSERT ON configuration_items
         WHEN EXISTS (SELECT 1 FROM injected_faults WHERE refuse = 'world writes')
         BEGIN SELECT RAISE(ABORT, 'injected fault: configuration items refused'); END;
         CREATE TRIGGER refuse_step_commits BEFORE UPDATE OF execution_state ON remediation_executions
         WHEN EXISTS (SELECT 1 FROM injected_faults WHERE refuse = 'step commits')
         BEGIN SELECT RAISE(ABORT, 'injected fault: step commit refused'); END;",
    )
    .unwrap();
    conn
}

fn set_fault(switch: &Connection, refuse: &str, on: bool) {
    let sql = if on {
        "INSERT INTO injected_faults (refuse) VALUES (?1)"
    } else {
        "DELETE FROM injected_faults WHERE refuse = ?1"
    };
    switch.execute(sql, [refuse]).unwrap();
}

fn app(path: &Path) -> Arc<App> {
    Arc::new(App::new(
        Arc::new(SqliteStore::open(path).unwrap()),
        Arc::new(StaticCredentials::local_default()),
        Settings::default(),
    ))
}

fn bucket_names() -> Vec<String> {
    (0..BUCKETS)
        .map(|i| format!("flaky-store-{i:02}"))
        .collect()
}

async fn executions(app: &App) -> Vec<ExecutionRecord> {
    let all = app
        .store
        .latest_executions(&scope(), RULE, None, None, BUCKETS + 1)
        .await
        .unwrap();
    assert_eq!(all.len(), BUCKETS);
    all
}

/// Runs the engine through an outage of `refuse`, then checks what a user sees: every
/// execution SUCCEEDED with both steps successful, each bucket written once, and each execution
/// finished by the worker that claimed it during the outage (its fence unchanged: it was not
/// abandoned to a lease expiry and claimed again).
async fn survives_an_outage_of(refuse: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("remedy.db");
    let app = app(&path);
    let buckets = bucket_names();
    start_bucket_remediations(&app, RULE, DOCUMENT, &buckets).await;
    let switch = fault_switch(&path);
    set_fault(&switch, refuse, true);

    let engine = super::engine::start(app.clone());
    // Every execution claimed (the claims themselves are not refused), then the outage goes on.
    let claimed = Instant::now();
    loop {
        let all = executions(&app).await;
        if all.iter().all(|r| r.state == STATE_IN_PROGRESS) {
            break;
        }
        assert!(
            claimed.elapsed() < Duration::from_secs(30),
            "not every execution was claimed and in progress: {:?}",
            all.iter()
                .map(|r| (&r.resource_id, &r.state))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(OUTAGE).await;
    let during = executions(&app).await;
    for rec in &during {
        assert_eq!(
            rec.state, STATE_IN_PROGRESS,
            "{} during the outage: {}",
            rec.resource_id, rec.execution_state
        );
    }
    set_fault(&switch, refuse, false);

    let started = Instant::now();
    let done = loop {
        let all = executions(&app).await;
        if all.iter().all(|r| r.state == STATE_SUCCEEDED) {
            break all;
        }
        assert!(
            all.iter()
                .all(|r| r.state == STATE_IN_PROGRESS || r.state == STATE_SUCCEEDED),
            "an execution ended otherwise: {:?}",
            all.iter()
                .map(|r| (&r.resource_id, &r.state))
                .collect::<Vec<_>>()
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "executions did not finish after the outage"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    engine.stop().await;

    for rec in &done {
        let state: ExecutionState = serde_json::from_str(&rec.execution_state).unwrap();
        let steps: Vec<(&str, &str)> = state
            .steps
            .iter()
            .map(|s| (s.step_name.as_str(), s.status.as_str()))
            .collect();
        assert_eq!(
            steps,
            [
                ("ConfigureVersioning", "Success"),
                ("VerifyVersioning", "Success")
            ],
            "{}",
            rec.resource_id
        );
        let claimed = during.iter().find(|d| d.id == rec.id).unwrap();
        assert_eq!(
            rec.fence, claimed.fence,
            "{} was claimed again",
            rec.resource_id
        );
    }
    for name in &buckets {
        assert_eq!(bucket_versions(&app, name).await, 2, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_refusing_world_writes_delays_executions_but_fails_none() {
    survives_an_outage_of("world writes").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_refusing_step_commits_delays_executions_but_fails_none() {
    survives_an_outage_of("step commits").await;
}
