//! The remediation engine: a pool of workers that claim queued executions and run their runbooks
//! one step at a time.
//!
//! - **Claiming.** A worker claims due executions under a lease ([`LEASE_SECONDS`]), renewed by
//!   a heartbeat while a step runs, and runs up to [`IN_FLIGHT`] of them at once, claiming more
//!   in one round trip whenever a quarter of its slots are free. Executions run side by side so
//!   their step commits reach the store together and share its group commit (one fsync for
//!   many acknowledged steps; issue 7: one execution at a time per worker meant one fsync per
//!   step and ~260 executions/s). Each claim bumps the
//!   execution's fencing token and every commit names it, so a worker that lost its lease (it
//!   stalled past expiry and another worker took over) cannot overwrite newer state: its commit
//!   is refused and it drops the execution.
//! - **Durable steps.** After every step the new `ExecutionState` is committed before the next
//!   step starts; no database transaction is held while a step runs. A waiting step
//!   (`aws:sleep`, `aws:waitForAwsResourceProperty` between polls) commits its wake-up time and
//!   releases the lease; the execution is claimable again when due.
//! - **Crash recovery.** An execution whose worker died keeps its committed state; once its lease
//!   expires (or at the next start: one process owns a SQLite file, so every lease in it is
//!   released at start) it is claimed again and resumes at its first unfinished step. World writes
//!   are idempotent, so a step interrupted mid-way may safely run again. On PostgreSQL, the
//!   leases of a node that dies are released by the other nodes every [`NODE_RESCUE_INTERVAL`]
//!   ([`crate::store::Store::release_dead_node_execution_leases`]), not only when they expire.
//! - **Store failures** (a refused connection, a lock timeout) never fail an execution: a step
//!   whose world calls met one is dropped and run again from the last committed state, and a
//!   failed read or commit is tried again, the worker keeping its lease meanwhile (`StoreRetry`).
//! - **StopAutomationExecution** on an execution a worker holds marks it; the worker's next
//!   fenced commit ends it Cancelled (the claim does, if the worker died first). Executions no
//!   worker holds are cancelled by the stop itself ([`crate::store::ExecutionStore::stop_execution`]).
//! - **Stopping** (SIGTERM): workers stop claiming; each of a worker's executions inside a step
//!   finishes and commits it, then releases its lease, and the worker waits for all of them.
//! - **ExecutionControls** are enforced by the claim (see
//!   [`crate::store::ExecutionStore::claim_executions`]).
//! - **Automatic failures** feed the retry window ([`super::automatic::on_automatic_failure`]).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use remedy_automation::{
    run_next_step, AutomationExecutionStatus, Clock, ExecutionContext, ExecutionState, StepResult,
};
use serde_json::Value;
use tokio::sync::watch;

use crate::app::App;
use crate::background::Background;
use crate::store::executions::{
    CommitOutcome, ExecutionRecord, StepCommit, STATE_FAILED, STATE_IN_PROGRESS,
};
use crate::store::NODE_RESCUE_INTERVAL;
use crate::world::ConfigWorld;

/// Workers per process.
pub const WORKERS: usize = 4;
/// Executions one worker runs at once. The SQLite writer commits up to 256 writes per
/// transaction, so `WORKERS × IN_FLIGHT` concurrent step commits still share few fsyncs.
pub const IN_FLIGHT: usize = 32;
/// A worker claims again once this many of its slots are free (or it has none running): fewer,
/// larger claims instead of a claim round trip per finished execution.
const CLAIM_AT: usize = IN_FLIGHT / 4;
/// How long a claim holds an execution without a heartbeat.
pub const LEASE_SECONDS: f64 = 30.0;
/// Heartbeat interval while a step runs.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// Idle poll interval (waiting executions become due; the wake-up notify covers new ones).
const POLL: Duration = Duration::from_millis(250);

#[async_trait]
impl remedy_automation::World for ConfigWorld {
    async fn call(
        &self,
        service: &str,
        api: &str,
        input: Value,
    ) -> Result<Value, remedy_automation::WorldError> {
        ConfigWorld::call(self, service, api, input)
            .await
            .map_err(|e| remedy_automation::WorldError::new(e.code, e.message))
    }
}

/// The system clock with tokio's timer (bounds in-flight API calls by their step timeout).
struct TokioClock;

#[async_trait]
impl Clock for TokioClock {
    fn now_ms(&self) -> i64 {
        (crate::time::now() * 1000.0) as i64
    }
    async fn sleep_ms(&self, ms: u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await
    }
}

/// Starts the workers and the automatic-remediation listener; stopping them stops claiming, lets
/// running steps finish and commit, and releases leases.
pub fn start(app: Arc<App>) -> Background {
    Background::spawn(|stop| run(app, stop))
}

async fn run(app: Arc<App>, stop: watch::Receiver<bool>) {
    match app.store.release_all_execution_leases().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            executions = n,
            "remediation: resuming unfinished executions"
        ),
        Err(e) => tracing::error!(error = %e, "remediation: cannot release leases"),
    }
    let listener = tokio::spawn(super::automatic::listen(app.clone(), stop.clone()));
    let rescue = tokio::spawn(rescue(app.clone(), stop.clone()));
    let node = uuid::Uuid::new_v4();
    let workers: Vec<_> = (0..WORKERS)
        .map(|i| tokio::spawn(worker(app.clone(), format!("{node}/{i}"), stop.clone())))
        .collect();
    for w in workers {
        let _ = w.await;
    }
    let _ = listener.await;
    let _ = rescue.await;
}

/// Every [`NODE_RESCUE_INTERVAL`], releases the leases of nodes that are gone (PostgreSQL; a
/// no-op on SQLite, where this process is the only one) and wakes a worker to claim them.
async fn rescue(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = tokio::time::sleep(NODE_RESCUE_INTERVAL) => {}
        }
        if *stop.borrow() {
            break;
        }
        match app.store.release_dead_node_execution_leases().await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(
                    executions = n,
                    "remediation: taking over the executions of a node that is gone"
                );
                app.remediation_wakeup.notify_waiters();
            }
            Err(e) => {
                tracing::warn!(error = %e, "remediation: cannot release the leases of nodes that are gone")
            }
        }
    }
}

async fn worker(app: Arc<App>, owner: String, mut stop: watch::Receiver<bool>) {
    let mut running = tokio::task::JoinSet::new();
    loop {
        while let Some(done) = running.try_join_next() {
            log_panic(done);
        }
        if *stop.borrow() {
            break;
        }
        let free = IN_FLIGHT - running.len();
        if free >= CLAIM_AT || running.is_empty() {
            let now = crate::time::now();
            match app
                .store
                .claim_executions(&owner, now, LEASE_SECONDS, free)
                .await
            {
                Ok(claimed) => {
                    let full = claimed.len() == free;
                    for rec in claimed {
                        running.spawn(run_execution(app.clone(), rec, stop.clone()));
                    }
                    if full {
                        // Every slot taken: wait for one to free up.
                        if let Some(done) = running.join_next().await {
                            log_panic(done);
                        }
                        continue;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "remediation: cannot claim executions"),
            }
        }
        // Nothing more is due (or the slots are mostly busy): wait for an execution to finish,
        // a new one to be queued, or a waiting one to come due.
        tokio::select! {
            _ = stop.changed() => {}
            Some(done) = running.join_next(), if !running.is_empty() => log_panic(done),
            _ = app.remediation_wakeup.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
    // Stopping: each running execution commits its current step and releases its lease.
    while let Some(done) = running.join_next().await {
        log_panic(done);
    }
}

fn log_panic(done: Result<(), tokio::task::JoinError>) {
    if let Err(e) = done {
        // The execution's lease expires and another claim resumes it from its last commit.
        tracing::error!(error = %e, "remediation: an execution task failed");
    }
}

/// Ends an execution that cannot run (unknown document, unreadable state).
async fn fail_unrunnable(app: &App, rec: &ExecutionRecord, message: String) {
    let mut state: Option<ExecutionState> = serde_json::from_str(&rec.execution_state).ok();
    let json = match state.as_mut() {
        Some(s) => {
            s.status = AutomationExecutionStatus::Failed;
            s.failure_message = Some(message.clone());
            serde_json::to_string(s).unwrap_or_default()
        }
        None => rec.execution_state.clone(),
    };
    tracing::warn!(execution = %rec.id, %message, "remediation: execution cannot run");
    let commit = StepCommit {
        id: rec.id.clone(),
        fence: rec.fence,
        state: STATE_FAILED.into(),
        execution_state: json,
        now: crate::time::now(),
        wake_at: None,
    };
    if let Err(e) = app.store.commit_step(&commit).await {
        tracing::warn!(error = %e, "remediation: cannot commit");
    }
}

async fn run_execution(app: Arc<App>, rec: ExecutionRecord, mut stop: watch::Receiver<bool>) {
    let app = &app;
    let mut retry = StoreRetry::new();
    let resolved = loop {
        match app.runbooks.resolve_for(&rec).await {
            Ok(r) => break r,
            Err(e) => {
                tracing::warn!(execution = %rec.id, error = %e, "remediation: cannot read the document; retrying");
                if !retry.wait(app, &rec, &mut stop).await {
                    return;
                }
            }
        }
    };
    let Some(runbook) = resolved.map(|r| r.runbook) else {
        let msg = match &rec.document_version {
            Some(v) => format!(
                "The document {} (version {v}) does not exist.",
                rec.document_name
            ),
            None => format!("The document {} does not exist.", rec.document_name),
        };
        fail_unrunnable(app, &rec, msg).await;
        return;
    };
    let mut state: ExecutionState = match serde_json::from_str(&rec.execution_state) {
        Ok(s) => s,
        Err(e) => {
            let msg = format!("The execution's stored state cannot be read: {e}");
            fail_unrunnable(app, &rec, msg).await;
            return;
        }
    };
    // The state as last committed: a step the store failed during starts over from it.
    let mut committed = rec.execution_state.clone();
    let ctx = ExecutionContext::new(&rec.id, &rec.scope.account, &rec.scope.region);
    let world = ConfigWorld::new(app.store.clone(), rec.scope.clone());
    let clock = TokioClock;
    loop {
        if *stop.borrow() {
            let _ = app.store.release_execution(&rec.id, rec.fence).await;
            return;
        }
        let result = {
            let step = run_next_step(&runbook, &mut state, &ctx, &world, &clock);
            tokio::pin!(step);
            let mut beat = tokio::time::interval(HEARTBEAT);
            beat.tick().await;
            loop {
                tokio::select! {
                    r = &mut step => break Some(r),
                    _ = beat.tick() => {
                        let until = crate::time::now() + LEASE_SECONDS;
                        match app.store.renew_execution_lease(&rec.id, rec.fence, until).await {
                            Ok(true) => {}
                            Ok(false) => break None,
                            Err(e) => tracing::warn!(error = %e, "remediation: heartbeat failed"),
                        }
                    }
                }
            }
        };
        let Some(result) = result else {
            tracing::warn!(execution = %rec.id, "remediation: lease lost; another worker owns the execution");
            return;
        };
        if let Some(failure) = world.take_store_failure() {
            // The step's calls met remedy's own store failing (a refused connection, a lock
            // timeout), not the emulated service: the InternalFailure they answered says nothing
            // about the runbook, so the step's outcome is dropped and the step runs again from
            // the last committed state once the store answers (world writes are idempotent).
            tracing::warn!(execution = %rec.id, error = %failure,
                "remediation: the store failed during a step; running the step again");
            if !retry.wait(app, &rec, &mut stop).await {
                return;
            }
            match serde_json::from_str(&committed) {
                Ok(s) => state = s,
                Err(e) => {
                    let msg = format!("The execution's stored state cannot be read: {e}");
                    fail_unrunnable(app, &rec, msg).await;
                    return;
                }
            }
            continue;
        }
        let (db_state, wake_at, ended) = match result {
            StepResult::Continue => (STATE_IN_PROGRESS, None, None),
            StepResult::Waiting { until } => (STATE_IN_PROGRESS, Some(until as f64 / 1000.0), None),
            StepResult::Ended(status) => (status.remediation_execution_state(), None, Some(status)),
        };
        let commit = StepCommit {
            id: rec.id.clone(),
            fence: rec.fence,
            state: db_state.to_string(),
            execution_state: serde_json::to_string(&state).unwrap_or_default(),
            now: crate::time::now(),
            wake_at,
        };
        // A commit the store failed is tried again with the same fence: if another worker took
        // the execution meanwhile, the fence refuses it.
        let outcome = loop {
            match app.store.commit_step(&commit).await {
                Ok(outcome) => break outcome,
                Err(e) => {
                    tracing::warn!(execution = %rec.id, error = %e, "remediation: cannot commit a step; retrying");
                    if !retry.wait(app, &rec, &mut stop).await {
                        return;
                    }
                }
            }
        };
        retry.reset();
        match outcome {
            CommitOutcome::Committed => {}
            CommitOutcome::Cancelled => {
                // StopAutomationExecution while this worker held it: the step is committed and
                // the execution ended Cancelled (a user's stop, not an automatic failure).
                tracing::info!(execution = %rec.id, "remediation: execution cancelled");
                app.remediation_wakeup.notify_one();
                return;
            }
            CommitOutcome::Stale => {
                tracing::warn!(execution = %rec.id, "remediation: stale fencing token; dropping the execution");
                return;
            }
        }
        committed = commit.execution_state;
        if let Some(status) = ended {
            tracing::info!(execution = %rec.id, rule = %rec.rule_name, resource = %rec.resource_id,
                status = status.as_str(), "remediation: execution ended");
            app.remediation_wakeup.notify_one();
            if rec.automatic && db_state == STATE_FAILED {
                super::automatic::on_automatic_failure(app, &rec).await;
            }
            return;
        }
        if wake_at.is_some() {
            return;
        }
    }
}

/// First wait after the store fails an execution's read, step or commit.
const STORE_RETRY_FIRST: Duration = Duration::from_millis(100);
/// Longest wait between attempts: well inside [`LEASE_SECONDS`], so a recovered store finds the
/// execution still leased to its worker.
const STORE_RETRY_MAX: Duration = Duration::from_secs(5);

/// Waiting out a store failure in the middle of an execution (issue 6: a refused connection
/// under overload failed executions whose runbooks had done nothing wrong). The execution keeps
/// its worker and lease: the wait doubles from [`STORE_RETRY_FIRST`] to [`STORE_RETRY_MAX`],
/// and each one ends by renewing the lease, which also asks whether the store answers again.
struct StoreRetry {
    delay: Duration,
}

impl StoreRetry {
    fn new() -> Self {
        Self {
            delay: STORE_RETRY_FIRST,
        }
    }

    fn reset(&mut self) {
        self.delay = STORE_RETRY_FIRST;
    }

    /// Waits before the next attempt. `false` means leave the execution: the process is
    /// stopping (the lease is released, best effort) or another worker holds the execution.
    async fn wait(
        &mut self,
        app: &App,
        rec: &ExecutionRecord,
        stop: &mut watch::Receiver<bool>,
    ) -> bool {
        let stopping = *stop.borrow()
            || tokio::select! {
                _ = stop.changed() => true,
                _ = tokio::time::sleep(self.delay) => false,
            };
        if stopping {
            let _ = app.store.release_execution(&rec.id, rec.fence).await;
            return false;
        }
        self.delay = (self.delay * 2).min(STORE_RETRY_MAX);
        let until = crate::time::now() + LEASE_SECONDS;
        // A renewal the store fails still lets the next attempt go ahead: it fails fast and
        // waits longer.
        app.store
            .renew_execution_lease(&rec.id, rec.fence, until)
            .await
            .unwrap_or(true)
    }
}
