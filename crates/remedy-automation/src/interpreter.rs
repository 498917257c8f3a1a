//! The step-wise interpreter.
//!
//! [`run_next_step`] runs exactly one step (all of its attempts) and advances a serializable
//! [`ExecutionState`]; the engine commits that state before calling again, so a crash loses at
//! most the step in flight, which then runs again (world effects are idempotent).
//!
//! Nothing here sleeps for long. `aws:sleep` and each poll of `aws:waitForAwsResourceProperty`
//! store their wake-up time in [`ExecutionState::current`] and return [`StepResult::Waiting`];
//! calling again before that time just returns `Waiting` again, so a restart resumes the sleep
//! where it was (the wake-up time is absolute) rather than starting it over. The only in-process
//! wait is [`Clock::sleep_ms`], which bounds one in-flight API call by the step's timeout.
//! While a step sleeps or polls, it and the execution stay `InProgress` (SSM keeps `Waiting`
//! for approvals and pauses, which this runtime does not have).
//!
//! Step semantics follow SSM: `maxAttempts` (a step fails only once every attempt failed;
//! timeouts are retried too), `timeoutSeconds`, `onFailure` (Abort ends the execution Failed /
//! TimedOut; Continue goes on; `step:X` jumps), `isEnd`, `nextStep` (default: the next step in
//! the list), `isCritical` (default true unless `onFailure: Continue`; an execution that reaches
//! its end after a critical step failed is Failed, even if `onFailure: step:X` recovered).
//! Every step started counts towards `ExecutionContext::max_steps_executed`, which turns a
//! `nextStep` / branch loop into a Failed execution instead of a runaway.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::pin;
use std::task::Poll;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::document::{Action, OnFailure, ParameterType, Runbook, Step, MAX_SLEEP_SECONDS};
use crate::interpolate::{interpolate, to_text, Variables};
use crate::jsonpath::JsonPath;
use crate::params::ResolvedParameters;
use crate::time::{parse_iso8601_duration, parse_iso8601_timestamp};
use crate::world::World;

/// Default bound on steps started by one execution.
pub const DEFAULT_MAX_STEPS_EXECUTED: u32 = 1000;
/// AWS: an `aws:executeAwsApi` call runs at most 25 s; used when a step sets no timeoutSeconds.
const DEFAULT_CALL_TIMEOUT_MS: u64 = 25_000;
/// AWS: `aws:waitForAwsResourceProperty` times out after 3600 s by default.
const DEFAULT_WAIT_TIMEOUT_S: u64 = 3600;

/// SSM's AutomationExecutionStatus (the subset this runtime produces).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AutomationExecutionStatus {
    Pending,
    InProgress,
    Waiting,
    Success,
    TimedOut,
    Cancelling,
    Cancelled,
    Failed,
}

/// Step statuses use the same names.
pub type StepExecutionStatus = AutomationExecutionStatus;

impl AutomationExecutionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::InProgress => "InProgress",
            Self::Waiting => "Waiting",
            Self::Success => "Success",
            Self::TimedOut => "TimedOut",
            Self::Cancelling => "Cancelling",
            Self::Cancelled => "Cancelled",
            Self::Failed => "Failed",
        }
    }
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Success | Self::TimedOut | Self::Cancelled | Self::Failed
        )
    }
    /// Config's RemediationExecutionState for an automation in this status (spec §4.7).
    pub fn remediation_execution_state(self) -> &'static str {
        match self {
            Self::Success => "SUCCEEDED",
            Self::Failed | Self::TimedOut | Self::Cancelled => "FAILED",
            _ => "IN_PROGRESS",
        }
    }
    /// Config's RemediationExecutionStepState for a step in this status (spec §4.7).
    pub fn remediation_step_state(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Success => "SUCCEEDED",
            Self::Failed | Self::TimedOut | Self::Cancelled => "FAILED",
            _ => "IN_PROGRESS",
        }
    }
}

/// Time, injectable. Epoch milliseconds.
#[async_trait]
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> i64;
    /// Completes after `ms`; races an in-flight API call to enforce its timeout. The default
    /// never completes (no in-flight bound; the elapsed time is still checked after the call).
    /// The engine should implement it with its runtime's timer.
    async fn sleep_ms(&self, ms: u64) {
        let _ = ms;
        std::future::pending::<()>().await
    }
}

/// The system clock (no in-flight call bound: see [`Clock::sleep_ms`]).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

/// Per-execution facts that are not part of the document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionContext {
    pub execution_id: String,
    pub account_id: String,
    pub region: String,
    pub partition: String,
    /// Bound on steps started (runaway-loop guard).
    pub max_steps_executed: u32,
    /// How long `aws:waitForAwsResourceProperty` waits between polls.
    pub wait_poll_interval_ms: u64,
}

impl ExecutionContext {
    /// A context with the partition derived from the region and default bounds.
    pub fn new(execution_id: &str, account_id: &str, region: &str) -> ExecutionContext {
        let partition = if region.starts_with("cn-") {
            "aws-cn"
        } else if region.starts_with("us-gov-") {
            "aws-us-gov"
        } else {
            "aws"
        };
        ExecutionContext {
            execution_id: execution_id.to_string(),
            account_id: account_id.to_string(),
            region: region.to_string(),
            partition: partition.to_string(),
            max_steps_executed: DEFAULT_MAX_STEPS_EXECUTED,
            wait_poll_interval_ms: 5_000,
        }
    }
}

/// One execution of one step (a step run twice by a loop has two records).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepRecord {
    pub step_name: String,
    pub action: String,
    pub status: StepExecutionStatus,
    /// Inputs after interpolation (empty when interpolation itself failed).
    pub inputs: Map<String, Value>,
    pub outputs: BTreeMap<String, Value>,
    pub failure_message: Option<String>,
    pub start_time_ms: i64,
    pub end_time_ms: Option<i64>,
    /// The attempt running or last run (1-based).
    pub attempt: u32,
    pub max_attempts: u32,
    pub timeout_seconds: Option<u64>,
    pub on_failure: String,
    pub is_critical: bool,
    pub is_end: bool,
    /// Where the execution went after this step (None: it ended here).
    pub next_step: Option<String>,
}

/// A step that is waiting (`aws:sleep`, or `aws:waitForAwsResourceProperty` between polls).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CurrentStep {
    pub step_name: String,
    /// Index into [`ExecutionState::steps`].
    pub record: usize,
    pub attempt: u32,
    pub attempt_started_ms: i64,
    /// Absolute wake-up time: a resumed execution continues from it, not from the restart.
    pub wake_at_ms: i64,
}

/// Everything the engine stores between steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionState {
    pub status: AutomationExecutionStatus,
    pub parameters: ResolvedParameters,
    /// The step to start next (None with a non-terminal status: the end has been reached).
    pub next_step: Option<String>,
    pub current: Option<CurrentStep>,
    /// Outputs of finished steps (the latest run of each).
    pub outputs: BTreeMap<String, BTreeMap<String, Value>>,
    pub steps: Vec<StepRecord>,
    pub steps_executed: u32,
    pub failure_message: Option<String>,
    pub start_time_ms: Option<i64>,
    pub end_time_ms: Option<i64>,
}

/// What [`run_next_step`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepResult {
    /// A step finished; call again for the next one.
    Continue,
    /// Call again at or after `until` (epoch ms).
    Waiting { until: i64 },
    /// The execution is over.
    Ended(AutomationExecutionStatus),
}

impl ExecutionState {
    /// A fresh execution, Pending at the first step.
    pub fn new(runbook: &Runbook, parameters: ResolvedParameters) -> ExecutionState {
        ExecutionState {
            status: AutomationExecutionStatus::Pending,
            parameters,
            next_step: Some(runbook.first_step().name.clone()),
            current: None,
            outputs: BTreeMap::new(),
            steps: Vec::new(),
            steps_executed: 0,
            failure_message: None,
            start_time_ms: None,
            end_time_ms: None,
        }
    }

    /// StopAutomationExecution (Cancel): the waiting step, if any, becomes Cancelled, and so does
    /// the execution. No-op once terminal.
    pub fn cancel(&mut self, now_ms: i64) {
        if self.status.is_terminal() {
            return;
        }
        if let Some(cur) = self.current.take() {
            if let Some(r) = self.steps.get_mut(cur.record) {
                r.status = AutomationExecutionStatus::Cancelled;
                r.end_time_ms = Some(now_ms);
            }
        }
        self.status = AutomationExecutionStatus::Cancelled;
        self.failure_message
            .get_or_insert_with(|| "The automation execution was cancelled.".to_string());
        self.end_time_ms = Some(now_ms);
    }

    /// GetAutomationExecution's `CurrentStepName`: the waiting step, else the next to start.
    pub fn current_step_name(&self) -> Option<&str> {
        match &self.current {
            Some(c) => Some(&c.step_name),
            None if !self.status.is_terminal() => self.next_step.as_deref(),
            None => None,
        }
    }

    /// The document's `outputs` as GetAutomationExecution shows them.
    pub fn document_outputs(&self, runbook: &Runbook) -> BTreeMap<String, Vec<String>> {
        let mut out = BTreeMap::new();
        for o in runbook.outputs() {
            if let Some((s, n)) = o.split_once('.') {
                if let Some(v) = self.outputs.get(s).and_then(|m| m.get(n)) {
                    let list = match v {
                        Value::Array(a) => a.iter().map(to_text).collect(),
                        other => vec![to_text(other)],
                    };
                    out.insert(o.clone(), list);
                }
            }
        }
        out
    }

    /// The role the execution runs as: the document's `assumeRole`, interpolated.
    pub fn assume_role(
        &self,
        runbook: &Runbook,
        ctx: &ExecutionContext,
        now_ms: i64,
    ) -> Option<String> {
        let expr = runbook.assume_role()?;
        let v = interpolate(&Value::String(expr.to_string()), &self.vars(ctx, now_ms)).ok()?;
        let s = to_text(&v);
        (!s.is_empty()).then_some(s)
    }

    fn vars<'a>(&'a self, ctx: &'a ExecutionContext, now_ms: i64) -> Variables<'a> {
        Variables {
            parameters: &self.parameters,
            step_outputs: &self.outputs,
            account_id: &ctx.account_id,
            region: &ctx.region,
            partition: &ctx.partition,
            execution_id: &ctx.execution_id,
            now_ms,
        }
    }

    fn finish(
        &mut self,
        status: AutomationExecutionStatus,
        message: Option<String>,
        now: i64,
    ) -> StepResult {
        self.status = status;
        if message.is_some() {
            self.failure_message = message;
        }
        self.next_step = None;
        self.current = None;
        self.end_time_ms = Some(now);
        StepResult::Ended(status)
    }

    /// The end was reached normally: Failed if a critical step failed on the way.
    fn reach_end(&mut self, now: i64) -> StepResult {
        let critical = self.steps.iter().find(|r| {
            r.is_critical
                && matches!(
                    r.status,
                    AutomationExecutionStatus::Failed | AutomationExecutionStatus::TimedOut
                )
        });
        match critical {
            Some(r) => {
                let msg = format!(
                    "Step {} failed and is critical: {}",
                    r.step_name,
                    r.failure_message.clone().unwrap_or_default()
                );
                self.finish(AutomationExecutionStatus::Failed, Some(msg), now)
            }
            None => self.finish(AutomationExecutionStatus::Success, None, now),
        }
    }
}

/// How one attempt went.
enum Attempt {
    Done(BTreeMap<String, Value>, Option<String>),
    Failed(String),
    TimedOut(String),
    /// waitFor: not yet; poll again at this time.
    NotYet,
}

/// Runs exactly one step of `state` (or resumes its waiting step) and advances it.
pub async fn run_next_step(
    runbook: &Runbook,
    state: &mut ExecutionState,
    ctx: &ExecutionContext,
    world: &dyn World,
    clock: &dyn Clock,
) -> StepResult {
    if state.status.is_terminal() {
        return StepResult::Ended(state.status);
    }
    let now = clock.now_ms();
    if state.start_time_ms.is_none() {
        state.start_time_ms = Some(now);
    }
    state.status = AutomationExecutionStatus::InProgress;

    // Resume a waiting step.
    if let Some(cur) = state.current.clone() {
        if now < cur.wake_at_ms {
            return StepResult::Waiting {
                until: cur.wake_at_ms,
            };
        }
        let Some(step) = runbook.step(&cur.step_name) else {
            let msg = format!(
                "Step {} is no longer in the runbook; the execution cannot resume.",
                cur.step_name
            );
            return state.finish(AutomationExecutionStatus::Failed, Some(msg), now);
        };
        state.current = None;
        return match step.action {
            Action::WaitForAwsResourceProperty => {
                let inputs = state.steps[cur.record].inputs.clone();
                run_wait(
                    runbook,
                    step,
                    state,
                    ctx,
                    world,
                    clock,
                    cur.record,
                    cur.attempt,
                    cur.attempt_started_ms,
                    &inputs,
                )
                .await
            }
            // aws:sleep: its time has come.
            _ => complete_step(runbook, step, state, cur.record, BTreeMap::new(), None, now),
        };
    }

    let Some(name) = state.next_step.clone() else {
        return state.reach_end(now);
    };
    if state.steps_executed >= ctx.max_steps_executed {
        let msg = format!(
            "The automation started {} steps, the maximum for one execution; a loop through nextStep, onFailure or aws:branch never reached an end.",
            state.steps_executed
        );
        return state.finish(AutomationExecutionStatus::Failed, Some(msg), now);
    }
    let Some(step) = runbook.step(&name) else {
        let msg = format!("Step {name} does not exist in the runbook.");
        return state.finish(AutomationExecutionStatus::Failed, Some(msg), now);
    };
    state.steps_executed += 1;
    let record = state.steps.len();
    state.steps.push(StepRecord {
        step_name: step.name.clone(),
        action: step.action.as_str().to_string(),
        status: AutomationExecutionStatus::InProgress,
        inputs: Map::new(),
        outputs: BTreeMap::new(),
        failure_message: None,
        start_time_ms: now,
        end_time_ms: None,
        attempt: 1,
        max_attempts: step.max_attempts,
        timeout_seconds: step.timeout_seconds,
        on_failure: step.on_failure.to_string(),
        is_critical: step.is_critical,
        is_end: step.is_end,
        next_step: None,
    });

    let inputs = match interpolate(&Value::Object(step.inputs.clone()), &state.vars(ctx, now)) {
        Ok(Value::Object(m)) => m,
        Ok(_) => Map::new(),
        Err(e) => {
            return fail_step(
                runbook,
                step,
                state,
                record,
                AutomationExecutionStatus::Failed,
                e.0,
                now,
            );
        }
    };
    state.steps[record].inputs = inputs.clone();

    match step.action {
        Action::ExecuteAwsApi | Action::AssertAwsResourceProperty | Action::Branch => {
            let mut attempt = 1;
            loop {
                state.steps[record].attempt = attempt;
                let result = match step.action {
                    Action::Branch => branch(step, &inputs),
                    _ => call_once(step, &inputs, world, clock).await,
                };
                match result {
                    Attempt::Done(outputs, next) => {
                        let now = clock.now_ms();
                        return complete_step(runbook, step, state, record, outputs, next, now);
                    }
                    Attempt::Failed(m) | Attempt::TimedOut(m) if attempt < step.max_attempts => {
                        let _ = m;
                        attempt += 1;
                    }
                    Attempt::Failed(m) => {
                        let now = clock.now_ms();
                        return fail_step(
                            runbook,
                            step,
                            state,
                            record,
                            AutomationExecutionStatus::Failed,
                            m,
                            now,
                        );
                    }
                    Attempt::TimedOut(m) => {
                        let now = clock.now_ms();
                        return fail_step(
                            runbook,
                            step,
                            state,
                            record,
                            AutomationExecutionStatus::TimedOut,
                            m,
                            now,
                        );
                    }
                    Attempt::NotYet => unreachable!("only waitFor polls"),
                }
            }
        }
        Action::WaitForAwsResourceProperty => {
            run_wait(
                runbook, step, state, ctx, world, clock, record, 1, now, &inputs,
            )
            .await
        }
        Action::Sleep => {
            let wake = if let Some(d) = inputs.get("Duration") {
                match parse_iso8601_duration(&to_text(d)) {
                    Some(ms) if ms <= MAX_SLEEP_SECONDS * 1000 => now + ms as i64,
                    _ => {
                        let msg = format!(
                            "Duration {} is not an ISO-8601 duration of at most {MAX_SLEEP_SECONDS} seconds.",
                            to_text(d)
                        );
                        return fail_step(
                            runbook,
                            step,
                            state,
                            record,
                            AutomationExecutionStatus::Failed,
                            msg,
                            now,
                        );
                    }
                }
            } else {
                let t = inputs.get("Timestamp").map(to_text).unwrap_or_default();
                match parse_iso8601_timestamp(&t) {
                    Some(ms) => ms.min(now + (MAX_SLEEP_SECONDS * 1000) as i64),
                    None => {
                        let msg = format!("Timestamp {t} is not an ISO-8601 timestamp.");
                        return fail_step(
                            runbook,
                            step,
                            state,
                            record,
                            AutomationExecutionStatus::Failed,
                            msg,
                            now,
                        );
                    }
                }
            };
            if wake <= now {
                return complete_step(runbook, step, state, record, BTreeMap::new(), None, now);
            }
            state.current = Some(CurrentStep {
                step_name: step.name.clone(),
                record,
                attempt: 1,
                attempt_started_ms: now,
                wake_at_ms: wake,
            });
            StepResult::Waiting { until: wake }
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_wait(
    runbook: &Runbook,
    step: &Step,
    state: &mut ExecutionState,
    ctx: &ExecutionContext,
    world: &dyn World,
    clock: &dyn Clock,
    record: usize,
    mut attempt: u32,
    mut attempt_started: i64,
    inputs: &Map<String, Value>,
) -> StepResult {
    let timeout_ms = (step.timeout_seconds.unwrap_or(DEFAULT_WAIT_TIMEOUT_S) * 1000) as i64;
    loop {
        state.steps[record].attempt = attempt;
        let result = call_once(step, inputs, world, clock).await;
        let now = clock.now_ms();
        let deadline = attempt_started + timeout_ms;
        let failure = match result {
            Attempt::Done(outputs, _) => return complete_step(runbook, step, state, record, outputs, None, now),
            Attempt::NotYet if now < deadline => {
                let wake = (now + ctx.wait_poll_interval_ms as i64).min(deadline);
                state.current = Some(CurrentStep {
                    step_name: step.name.clone(),
                    record,
                    attempt,
                    attempt_started_ms: attempt_started,
                    wake_at_ms: wake,
                });
                return StepResult::Waiting { until: wake };
            }
            Attempt::NotYet => (
                AutomationExecutionStatus::TimedOut,
                format!(
                    "Step timed out after {} seconds waiting for {} to be one of the desired values.",
                    timeout_ms / 1000,
                    inputs.get("PropertySelector").map(to_text).unwrap_or_default()
                ),
            ),
            Attempt::Failed(m) => (AutomationExecutionStatus::Failed, m),
            Attempt::TimedOut(m) => (AutomationExecutionStatus::TimedOut, m),
        };
        if attempt < step.max_attempts {
            attempt += 1;
            attempt_started = now;
            continue;
        }
        return fail_step(runbook, step, state, record, failure.0, failure.1, now);
    }
}

/// Where to go after `step` ends (successfully, or failed with Continue).
fn advance(
    runbook: &Runbook,
    step: &Step,
    state: &mut ExecutionState,
    record: usize,
    chosen: Option<String>,
    now: i64,
) -> StepResult {
    // A branch's chosen target wins; otherwise isEnd ends here (so a branch with isEnd and no
    // Default ends when no choice matches), then nextStep, then the following step.
    let next = match chosen {
        Some(target) => Some(target),
        None if step.is_end => None,
        None => step
            .next_step
            .clone()
            .or_else(|| runbook.following_step(&step.name).map(|s| s.name.clone())),
    };
    state.steps[record].next_step = next.clone();
    state.next_step = next;
    if state.next_step.is_none() {
        return state.reach_end(now);
    }
    StepResult::Continue
}

fn complete_step(
    runbook: &Runbook,
    step: &Step,
    state: &mut ExecutionState,
    record: usize,
    outputs: BTreeMap<String, Value>,
    chosen: Option<String>,
    now: i64,
) -> StepResult {
    let r = &mut state.steps[record];
    r.status = AutomationExecutionStatus::Success;
    r.end_time_ms = Some(now);
    r.outputs = outputs.clone();
    state.outputs.insert(step.name.clone(), outputs);
    advance(runbook, step, state, record, chosen, now)
}

fn fail_step(
    runbook: &Runbook,
    step: &Step,
    state: &mut ExecutionState,
    record: usize,
    status: AutomationExecutionStatus,
    message: String,
    now: i64,
) -> StepResult {
    let r = &mut state.steps[record];
    r.status = status;
    r.end_time_ms = Some(now);
    r.failure_message = Some(message.clone());
    match &step.on_failure {
        OnFailure::Abort => {
            let msg = format!("Step {} failed ({}): {message}", step.name, status.as_str());
            state.finish(status, Some(msg), now)
        }
        OnFailure::Continue => advance(runbook, step, state, record, None, now),
        OnFailure::Step(target) => {
            if step.is_end {
                return advance(runbook, step, state, record, None, now);
            }
            state.steps[record].next_step = Some(target.clone());
            state.next_step = Some(target.clone());
            StepResult::Continue
        }
    }
}

/// Polls `a`; if it is not ready, polls `b`; returns `None` if `b` finished first.
async fn race<A: Future, B: Future>(a: A, b: B) -> Option<A::Output> {
    let mut a = pin!(a);
    let mut b = pin!(b);
    std::future::poll_fn(move |cx| {
        if let Poll::Ready(v) = a.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        if b.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

const CONTROL_INPUTS: [&str; 4] = ["Service", "Api", "PropertySelector", "DesiredValues"];

/// One world call for executeAwsApi / assert / waitFor, with the attempt's timeout.
async fn call_once(
    step: &Step,
    inputs: &Map<String, Value>,
    world: &dyn World,
    clock: &dyn Clock,
) -> Attempt {
    let service = inputs
        .get("Service")
        .map(to_text)
        .unwrap_or_default()
        .to_ascii_lowercase();
    let api = inputs.get("Api").map(to_text).unwrap_or_default();
    let request: Map<String, Value> = inputs
        .iter()
        .filter(|(k, _)| !CONTROL_INPUTS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let timeout_ms = step
        .timeout_seconds
        .map_or(DEFAULT_CALL_TIMEOUT_MS, |s| s * 1000);
    let started = clock.now_ms();
    let outcome = race(
        world.call(&service, &api, Value::Object(request)),
        clock.sleep_ms(timeout_ms),
    )
    .await;
    let elapsed = clock.now_ms() - started;
    let timed_out = || {
        Attempt::TimedOut(format!(
            "Step timed out: {service}:{api} did not complete within {} seconds.",
            timeout_ms / 1000
        ))
    };
    let response = match outcome {
        None => return timed_out(),
        Some(_) if elapsed > timeout_ms as i64 => return timed_out(),
        Some(Err(e)) => return Attempt::Failed(e.step_message(&api)),
        Some(Ok(r)) => r,
    };
    match step.action {
        Action::ExecuteAwsApi => {
            let mut outputs = BTreeMap::new();
            for o in &step.outputs {
                let Some(v) = o.path.select(&response) else {
                    continue;
                };
                match convert_output(&v, o.output_type) {
                    Ok(v) => {
                        outputs.insert(o.name.clone(), v);
                    }
                    Err(why) => {
                        return Attempt::Failed(format!(
                            "Output {} (selector {}) could not be converted to {}: {why}",
                            o.name, o.selector, o.output_type
                        ))
                    }
                }
            }
            Attempt::Done(outputs, None)
        }
        _ => match check_property(inputs, &response) {
            Ok(()) => Attempt::Done(BTreeMap::new(), None),
            Err(m) if step.action == Action::WaitForAwsResourceProperty => {
                let _ = m;
                Attempt::NotYet
            }
            Err(m) => Attempt::Failed(m),
        },
    }
}

/// assert / waitFor: the selected value (every selected value, for a list selection) must be
/// one of `DesiredValues`, both compared in text form (so JSON `true` matches `"True"`).
fn check_property(inputs: &Map<String, Value>, response: &Value) -> Result<(), String> {
    let selector = inputs
        .get("PropertySelector")
        .map(to_text)
        .unwrap_or_default();
    let path = JsonPath::parse(&selector)
        .map_err(|e| format!("PropertySelector {selector} is invalid: {e}"))?;
    let desired: BTreeSet<String> = match inputs.get("DesiredValues") {
        Some(Value::Array(a)) => a.iter().map(to_text).collect(),
        Some(other) => [to_text(other)].into(),
        None => BTreeSet::new(),
    };
    let desired_list = || desired.iter().cloned().collect::<Vec<_>>().join(", ");
    let actual: Vec<String> = match path.select(response) {
        None => {
            return Err(format!(
                "The property {selector} was not found in the response; expected one of [{}].",
                desired_list()
            ))
        }
        Some(Value::Array(a)) if !path.is_definite() => a.iter().map(to_text).collect(),
        Some(v) => vec![to_text(&v)],
    };
    if actual.is_empty() || actual.iter().any(|a| !desired.contains(a)) {
        return Err(format!(
            "The property {selector} has value [{}], which is not one of the desired values [{}].",
            actual.join(", "),
            desired_list()
        ));
    }
    Ok(())
}

fn convert_output(v: &Value, t: ParameterType) -> Result<Value, String> {
    Ok(match t {
        ParameterType::String => Value::String(to_text(v)),
        ParameterType::Integer => match v {
            Value::Number(n) if n.is_i64() || n.is_u64() => v.clone(),
            Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => {
                Value::from(n.as_f64().unwrap_or_default() as i64)
            }
            Value::String(s) => Value::from(
                s.trim()
                    .parse::<i64>()
                    .map_err(|_| format!("{s} is not an integer"))?,
            ),
            other => return Err(format!("{other} is not an integer")),
        },
        ParameterType::Boolean => match v {
            Value::Bool(_) => v.clone(),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Value::Bool(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Value::Bool(false),
            other => return Err(format!("{other} is not a boolean")),
        },
        ParameterType::StringList => match v {
            Value::Array(a) if a.iter().all(|x| !x.is_array() && !x.is_object()) => {
                Value::Array(a.iter().map(|x| Value::String(to_text(x))).collect())
            }
            other => return Err(format!("{other} is not a list of scalars")),
        },
        ParameterType::MapList => match v {
            Value::Array(a) if a.iter().all(Value::is_object) => v.clone(),
            other => return Err(format!("{other} is not a list of maps")),
        },
        ParameterType::StringMap => match v {
            Value::Object(_) => v.clone(),
            other => return Err(format!("{other} is not a map")),
        },
    })
}

/// aws:branch: the first matching choice's NextStep, else Default, else the following step.
fn branch(_step: &Step, inputs: &Map<String, Value>) -> Attempt {
    let choices = inputs
        .get("Choices")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for c in &choices {
        match condition(c) {
            Ok(true) => return Attempt::Done(BTreeMap::new(), c.get("NextStep").map(to_text)),
            Ok(false) => {}
            Err(m) => return Attempt::Failed(m),
        }
    }
    Attempt::Done(BTreeMap::new(), inputs.get("Default").map(to_text))
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn boolean(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn condition(c: &Value) -> Result<bool, String> {
    let Value::Object(m) = c else {
        return Err("a branch condition must be a map".to_string());
    };
    for (op, arg) in m {
        let subs = || -> Vec<Value> {
            match arg {
                Value::Array(a) => a.clone(),
                other => vec![other.clone()],
            }
        };
        match op.as_str() {
            "Variable" | "NextStep" => continue,
            "And" => {
                for s in subs() {
                    if !condition(&s)? {
                        return Ok(false);
                    }
                }
                return Ok(true);
            }
            "Or" => {
                for s in subs() {
                    if condition(&s)? {
                        return Ok(true);
                    }
                }
                return Ok(false);
            }
            "Not" => return Ok(!condition(subs().first().unwrap_or(&Value::Null))?),
            _ => {}
        }
        let var = m.get("Variable").cloned().unwrap_or(Value::Null);
        let (vt, at) = (to_text(&var), to_text(arg));
        let numeric = |f: fn(f64, f64) -> bool| -> Result<bool, String> {
            match (number(&var), number(arg)) {
                (Some(a), Some(b)) => Ok(f(a, b)),
                _ => Err(format!("{op} compares numbers, but got {vt} and {at}")),
            }
        };
        return match op.as_str() {
            "StringEquals" => Ok(vt == at),
            "EqualsIgnoreCase" => Ok(vt.to_lowercase() == at.to_lowercase()),
            "StartsWith" => Ok(vt.starts_with(&at)),
            "EndsWith" => Ok(vt.ends_with(&at)),
            "Contains" => Ok(match &var {
                Value::Array(a) => a.iter().any(|x| to_text(x) == at),
                _ => vt.contains(&at),
            }),
            "NumericEquals" => numeric(|a, b| a == b),
            "NumericGreater" => numeric(|a, b| a > b),
            "NumericLesser" => numeric(|a, b| a < b),
            "NumericGreaterOrEquals" => numeric(|a, b| a >= b),
            "NumericLesserOrEquals" => numeric(|a, b| a <= b),
            "BooleanEquals" => match (boolean(&var), boolean(arg)) {
                (Some(a), Some(b)) => Ok(a == b),
                _ => Err(format!(
                    "BooleanEquals compares booleans, but got {vt} and {at}"
                )),
            },
            other => Err(format!("unknown branch operator {other}")),
        };
    }
    Err("a branch condition has no operator".to_string())
}
