//! SSM automation executions: StartAutomationExecution, GetAutomationExecution,
//! DescribeAutomationExecutions, DescribeAutomationStepExecutions, StopAutomationExecution.
//!
//! A remediation execution IS an automation execution: both live in one table and run on one
//! engine (`crate::remediation::engine`). Executions started here have no rule or resource key;
//! remediation executions show here too, under the AutomationExecutionId Config gave them. The
//! two APIs read the same stored row and derive their states from it, so they agree at every
//! moment (spec §4.7):
//!
//! | stored state | SSM AutomationExecutionStatus | Config RemediationExecutionState |
//! |---|---|---|
//! | QUEUED | `Pending` | `QUEUED` |
//! | IN_PROGRESS | `InProgress` (`Waiting`; `Cancelling` once a stop is asked) | `IN_PROGRESS` |
//! | SUCCEEDED | `Success` | `SUCCEEDED` |
//! | FAILED | `Failed`, `TimedOut` or `Cancelled` | `FAILED` |
//!
//! Step executions are the interpreter's step records, the same list Config's StepDetails shows
//! (steps not reached are not listed). One difference is Config's own: an execution that ended
//! before its first step (stopped while queued, or its batch exceeded the ErrorPercentage) has no
//! step executions here, and Config's StepDetails shows the reason as one FAILED step.
//!
//! StopAutomationExecution (Cancel) on an execution no worker holds (queued, or waiting in
//! `aws:sleep` / between `aws:waitForAwsResourceProperty` polls) cancels it at once; on one a
//! worker holds, it is `Cancelling` until that worker's next fenced commit ends it `Cancelled`
//! (`ExecutionStore::stop_execution`, `commit_step`). A user's stop is not an automatic
//! remediation failure: it does not count towards MaximumAutomaticAttempts.
//!
//! Served: `Mode` `Auto`. Refused with `InvalidAutomationExecutionParametersException`:
//! `Interactive` (it is driven step by step with SendAutomationSignal, which remedy does not
//! serve), rate control and multi-account/Region runs (`Targets`, `TargetMaps`,
//! `TargetParameterName`, `MaxConcurrency`, `MaxErrors`, `TargetLocations`,
//! `TargetLocationsURL`) and `AlarmConfiguration`. StopAutomationExecution serves `Cancel`;
//! `Complete` is refused (`InvalidAutomationStatusUpdateException`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use remedy_automation::{
    AutomationExecutionStatus as Status, ExecutionState, ResolvedParameters, Runbook, StepRecord,
};
use remedy_wire::ssm::{
    AutomationExecution, AutomationExecutionFilter, AutomationExecutionFilterKey,
    AutomationExecutionMetadata, AutomationExecutionStatus, AutomationType,
    DescribeAutomationExecutionsRequest, DescribeAutomationExecutionsResult,
    DescribeAutomationStepExecutionsRequest, DescribeAutomationStepExecutionsResult, ExecutionMode,
    FailureDetails, GetAutomationExecutionRequest, GetAutomationExecutionResult,
    StartAutomationExecutionRequest, StartAutomationExecutionResult, StepExecution,
    StepExecutionFilter, StepExecutionFilterKey, StopAutomationExecutionRequest,
    StopAutomationExecutionResult, StopType,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::required;
use crate::app::App;
use crate::domain::Scope;
use crate::error::{ApiError, ApiResult};
use crate::protocol::RequestContext;
use crate::remediation::runbooks::{DEFAULT_VERSION, LATEST_VERSION};
use crate::store::executions::{
    AutomationInsert, ExecutionRecord, NewAutomationExecution, StopOutcome, STATE_FAILED,
    STATE_QUEUED, STATE_SUCCEEDED,
};

const DESCRIBE_OP: &str = "DescribeAutomationExecutions";
const STEPS_OP: &str = "DescribeAutomationStepExecutions";
/// AWS: "You can specify a maximum of five tags for an automation."
pub const MAX_TAGS: usize = 5;
/// AWS: 100 automations run at once by default and 1,000 more may wait in the queue; a start
/// beyond that is refused (AutomationExecutionLimitExceededException).
pub const MAX_ACTIVE_EXECUTIONS: usize = 1100;
/// MaxResults' model maximum, and the page size when it is not given.
const MAX_PAGE: usize = 50;
/// How many stored executions one filtering pass reads at a time.
const SCAN_BATCH: usize = 200;

// ---- errors -------------------------------------------------------------------------------

fn execution_not_found(id: &str) -> ApiError {
    ApiError::client(
        "AutomationExecutionNotFoundException",
        format!("There is no automation execution with ID {id}."),
    )
}

fn invalid_parameters(message: impl Into<String>) -> ApiError {
    ApiError::client("InvalidAutomationExecutionParametersException", message)
}

fn invalid_filter_key(message: impl Into<String>) -> ApiError {
    ApiError::client("InvalidFilterKey", message)
}

fn invalid_filter_value(message: impl Into<String>) -> ApiError {
    ApiError::client("InvalidFilterValue", message)
}

fn invalid_next_token() -> ApiError {
    ApiError::client("InvalidNextToken", "The specified token isn't valid.")
}

fn decode_token<K: serde::de::DeserializeOwned>(
    op: &str,
    token: Option<&str>,
) -> ApiResult<Option<K>> {
    crate::pagination::decode(op, token).map_err(|_| invalid_next_token())
}

// ---- views shared by the operations ---------------------------------------------------------

fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// Who runs remediation executions: Config's service-linked remediation role.
fn config_remediation_role(scope: &Scope) -> String {
    format!(
        "arn:{}:iam::{}:role/aws-service-role/remediation.config.amazonaws.com/AWSServiceRoleForConfigRemediation",
        partition(&scope.region),
        scope.account
    )
}

/// The caller of a direct start. Credentials name an account, not a principal: the account.
fn caller_arn(scope: &Scope) -> String {
    format!(
        "arn:{}:iam::{}:root",
        partition(&scope.region),
        scope.account
    )
}

/// The automation status of a stored execution (see the module table). The stored state and
/// the interpreter state are committed together, so they never disagree about being over.
pub fn automation_status(r: &ExecutionRecord, s: Option<&ExecutionState>) -> Status {
    let json = s.map(|s| s.status);
    match r.state.as_str() {
        STATE_SUCCEEDED => Status::Success,
        STATE_FAILED => match json {
            Some(st @ (Status::Failed | Status::TimedOut | Status::Cancelled)) => st,
            _ => Status::Failed,
        },
        _ if r.cancel_requested => Status::Cancelling,
        STATE_QUEUED => Status::Pending,
        _ => match json {
            Some(Status::Waiting) => Status::Waiting,
            _ => Status::InProgress,
        },
    }
}

fn wire_status(s: Status) -> AutomationExecutionStatus {
    AutomationExecutionStatus::from_wire(s.as_str())
}

/// A stable StepExecutionId per step record: a UUID-shaped digest of (execution, record index).
fn step_execution_id(execution_id: &str, index: usize) -> String {
    let d = Sha256::digest(format!("{execution_id}/step/{index}").as_bytes());
    let h: String = d.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

fn value_list(v: &serde_json::Value) -> Vec<String> {
    match v {
        serde_json::Value::Array(items) => items.iter().map(remedy_automation::to_text).collect(),
        other => vec![remedy_automation::to_text(other)],
    }
}

/// One step record as SSM's StepExecution. Inputs are the resolved values as JSON text.
fn step_execution(execution_id: &str, index: usize, r: &StepRecord) -> StepExecution {
    let failed = matches!(r.status, Status::Failed | Status::TimedOut);
    let failure_details = failed.then(|| FailureDetails {
        failure_stage: Some("Invocation".into()),
        failure_type: Some(
            if r.action == "aws:assertAwsResourceProperty" && r.status == Status::Failed {
                "Verification"
            } else {
                "Action"
            }
            .into(),
        ),
        details: None,
    });
    StepExecution {
        step_name: Some(r.step_name.clone()),
        action: Some(r.action.clone()),
        timeout_seconds: r.timeout_seconds.map(|t| t as i64),
        on_failure: Some(r.on_failure.clone()),
        max_attempts: Some(r.max_attempts as i32),
        execution_start_time: Some(seconds(r.start_time_ms)),
        execution_end_time: r.end_time_ms.map(seconds),
        step_status: Some(wire_status(r.status)),
        inputs: Some(
            r.inputs
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect(),
        ),
        outputs: (!r.outputs.is_empty()).then(|| {
            r.outputs
                .iter()
                .map(|(k, v)| (k.clone(), value_list(v)))
                .collect()
        }),
        failure_message: r.failure_message.clone(),
        failure_details,
        step_execution_id: Some(step_execution_id(execution_id, index)),
        is_end: Some(r.is_end),
        next_step: r.next_step.clone(),
        is_critical: Some(r.is_critical),
        ..Default::default()
    }
}

/// A stored execution with its interpreter state and runbook.
struct View {
    rec: ExecutionRecord,
    state: Option<ExecutionState>,
    runbook: Option<Arc<Runbook>>,
}

impl View {
    fn status(&self) -> Status {
        automation_status(&self.rec, self.state.as_ref())
    }

    fn start_time(&self) -> f64 {
        self.rec.invocation_time
    }

    fn end_time(&self) -> Option<f64> {
        if !self.status().is_terminal() {
            return None;
        }
        Some(
            self.state
                .as_ref()
                .and_then(|s| s.end_time_ms)
                .map(seconds)
                .unwrap_or(self.rec.last_updated),
        )
    }

    fn current_step(&self) -> Option<(String, Option<String>)> {
        if self.status().is_terminal() {
            return None;
        }
        let s = self.state.as_ref()?;
        let name = s.current_step_name()?.to_string();
        let action = match &s.current {
            Some(c) => s.steps.get(c.record).map(|r| r.action.clone()),
            None => self
                .runbook
                .as_ref()
                .and_then(|b| b.step(&name))
                .map(|st| st.action.as_str().to_string()),
        };
        Some((name, action))
    }

    fn outputs(&self) -> BTreeMap<String, Vec<String>> {
        match (&self.state, &self.runbook) {
            (Some(s), Some(b)) => s.document_outputs(b),
            _ => BTreeMap::new(),
        }
    }

    fn parameters(&self) -> BTreeMap<String, Vec<String>> {
        match &self.state {
            Some(s) => s.parameters.to_ssm_strings(),
            None => serde_json::from_str::<ResolvedParameters>(&self.rec.parameters)
                .map(|p| p.to_ssm_strings())
                .unwrap_or_default(),
        }
    }

    fn executed_by(&self) -> String {
        // Remediation executions run as Config's role; direct ones record their caller.
        match (&self.rec.executed_by, self.rec.remediation) {
            (Some(by), false) => by.clone(),
            _ => config_remediation_role(&self.rec.scope),
        }
    }

    fn mode(&self) -> ExecutionMode {
        ExecutionMode::from_wire(&self.rec.mode)
    }

    fn steps(&self) -> Vec<StepExecution> {
        self.state
            .as_ref()
            .map(|s| {
                s.steps
                    .iter()
                    .enumerate()
                    .map(|(i, r)| step_execution(&self.rec.id, i, r))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn failure_message(&self) -> Option<String> {
        if !matches!(
            self.status(),
            Status::Failed | Status::TimedOut | Status::Cancelled
        ) {
            return None;
        }
        self.state.as_ref().and_then(|s| s.failure_message.clone())
    }
}

/// Runbooks resolved once per request.
#[derive(Default)]
struct Runbooks(HashMap<(String, Option<String>), Option<Arc<Runbook>>>);

impl Runbooks {
    async fn view(&mut self, app: &App, rec: ExecutionRecord) -> View {
        let key = (rec.document_name.clone(), rec.document_version.clone());
        let runbook = match self.0.get(&key) {
            Some(r) => r.clone(),
            None => {
                let r = app
                    .runbooks
                    .resolve_for(&rec)
                    .await
                    .ok()
                    .flatten()
                    .map(|r| r.runbook);
                self.0.insert(key, r.clone());
                r
            }
        };
        let state = serde_json::from_str(&rec.execution_state).ok();
        View {
            rec,
            state,
            runbook,
        }
    }
}

async fn execution_in_scope(app: &App, scope: &Scope, id: &str) -> ApiResult<ExecutionRecord> {
    match app.store.get_execution(id).await? {
        Some(r) if &r.scope == scope => Ok(r),
        _ => Err(execution_not_found(id)),
    }
}

// ---- StartAutomationExecution ---------------------------------------------------------------

/// The document name of `DocumentName`, which may be a document ARN
/// (`arn:aws:ssm:<region>:<account>:document/<name>`). `None` for an ARN of another account or
/// Region (shared documents are not served).
fn document_name<'a>(given: &'a str, scope: &Scope) -> Option<&'a str> {
    if !given.starts_with("arn:") {
        return Some(given);
    }
    let (head, name) = given.split_once(":document/")?;
    let parts: Vec<&str> = head.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "ssm", region, account]
            if (region.is_empty() || *region == scope.region)
                && (account.is_empty() || *account == scope.account) =>
        {
            Some(name)
        }
        _ => None,
    }
}

#[derive(Serialize)]
struct RequestDigest<'a> {
    document_name: &'a str,
    document_version: Option<&'a str>,
    parameters: &'a BTreeMap<String, Vec<String>>,
    mode: &'a str,
    tags: &'a [(String, String)],
}

fn refuse_unsupported(req: &StartAutomationExecutionRequest) -> ApiResult<()> {
    if req.mode == Some(ExecutionMode::Interactive) {
        return Err(invalid_parameters(
            "Mode Interactive is not supported by this server: interactive executions are driven step by step with SendAutomationSignal, which it does not serve. Use Mode Auto.",
        ));
    }
    let unsupported: &[(&str, bool)] = &[
        ("TargetParameterName", req.target_parameter_name.is_some()),
        ("Targets", req.targets.is_some()),
        ("TargetMaps", req.target_maps.is_some()),
        ("MaxConcurrency", req.max_concurrency.is_some()),
        ("MaxErrors", req.max_errors.is_some()),
        ("TargetLocations", req.target_locations.is_some()),
        ("TargetLocationsURL", req.target_locations_url.is_some()),
        ("AlarmConfiguration", req.alarm_configuration.is_some()),
    ];
    if let Some((member, _)) = unsupported.iter().find(|(_, given)| *given) {
        return Err(invalid_parameters(format!(
            "{member} is not supported by this server: it runs one automation in the caller's account and Region (no rate control, multi-account or alarm-monitored executions). Start one execution per target instead."
        )));
    }
    Ok(())
}

pub async fn start(
    app: &App,
    ctx: &RequestContext,
    req: StartAutomationExecutionRequest,
) -> ApiResult<StartAutomationExecutionResult> {
    let scope = &ctx.scope;
    refuse_unsupported(&req)?;
    let tags: Vec<(String, String)> = req
        .tags
        .iter()
        .flatten()
        .map(|t| {
            (
                t.key.clone().unwrap_or_default(),
                t.value.clone().unwrap_or_default(),
            )
        })
        .collect();
    if tags.len() > MAX_TAGS {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to {MAX_TAGS} (an automation takes at most {MAX_TAGS} tags; {} given)",
            tags.len()
        )));
    }
    let given_name = required(req.document_name, "DocumentName")?;
    let Some(name) = document_name(&given_name, scope).map(str::to_string) else {
        return Err(ApiError::client(
            "AutomationDefinitionNotFoundException",
            format!(
                "An Automation runbook {given_name} couldn't be found: documents of other accounts or Regions are not served."
            ),
        ));
    };
    let version = req.document_version;
    let resolved = app
        .runbooks
        .resolve(scope, &name, version.as_deref())
        .await?;
    let Some(resolved) = resolved else {
        let named_version = version
            .as_deref()
            .filter(|v| *v != DEFAULT_VERSION && *v != LATEST_VERSION);
        if let Some(v) = named_version {
            if app.runbooks.resolve(scope, &name, None).await?.is_some() {
                return Err(ApiError::client(
                    "AutomationDefinitionVersionNotFoundException",
                    format!("Document {name} has no version {v}."),
                ));
            }
        }
        return Err(ApiError::client(
            "AutomationDefinitionNotFoundException",
            format!("An Automation runbook named {name} couldn't be found."),
        ));
    };
    let given = req.parameters.unwrap_or_default();
    let params = resolved
        .runbook
        .resolve_parameters(&given)
        .map_err(|e| invalid_parameters(e.message))?;
    let mode = req.mode.unwrap_or(ExecutionMode::Auto);
    let digest = serde_json::to_vec(&RequestDigest {
        document_name: &name,
        document_version: version.as_deref(),
        parameters: &given,
        mode: mode.as_str(),
        tags: &tags,
    })
    .map_err(ApiError::internal)?;
    let request_hash: String = Sha256::digest(&digest)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let state = ExecutionState::new(&resolved.runbook, params.clone());
    let new = NewAutomationExecution {
        id: uuid::Uuid::new_v4().to_string(),
        document_name: resolved.name.clone(),
        document_version: resolved.version.clone(),
        parameters: serde_json::to_string(&params).map_err(ApiError::internal)?,
        execution_state: serde_json::to_string(&state).map_err(ApiError::internal)?,
        mode: mode.as_str().to_string(),
        executed_by: caller_arn(scope),
        client_token: req.client_token.map(|t| t.to_ascii_lowercase()),
        request_hash,
        tags,
        parent_id: None,
    };
    let now = crate::time::now();
    let id = match app
        .store
        .insert_automation_execution(scope, &new, now, MAX_ACTIVE_EXECUTIONS)
        .await?
    {
        AutomationInsert::Started => {
            app.remediation_wakeup.notify_one();
            new.id
        }
        AutomationInsert::Existing(id) => id,
        AutomationInsert::LimitExceeded => {
            return Err(ApiError::client(
                "AutomationExecutionLimitExceededException",
                format!(
                    "The account already has {MAX_ACTIVE_EXECUTIONS} automation executions running or queued in this Region; start more once some have ended."
                ),
            ))
        }
        AutomationInsert::TokenMismatch => {
            return Err(ApiError::client(
                "IdempotentParameterMismatch",
                format!(
                    "The ClientToken {} was already used to start an automation with different parameters.",
                    new.client_token.unwrap_or_default()
                ),
            ))
        }
    };
    Ok(StartAutomationExecutionResult {
        automation_execution_id: Some(id),
    })
}

// ---- GetAutomationExecution -----------------------------------------------------------------

pub async fn get(
    app: &App,
    ctx: &RequestContext,
    req: GetAutomationExecutionRequest,
) -> ApiResult<GetAutomationExecutionResult> {
    let id = required(req.automation_execution_id, "AutomationExecutionId")?;
    let rec = execution_in_scope(app, &ctx.scope, &id).await?;
    let v = Runbooks::default().view(app, rec).await;
    let current = v.current_step();
    Ok(GetAutomationExecutionResult {
        automation_execution: Some(AutomationExecution {
            automation_execution_id: Some(v.rec.id.clone()),
            document_name: Some(v.rec.document_name.clone()),
            document_version: v.rec.document_version.clone(),
            execution_start_time: Some(v.start_time()),
            execution_end_time: v.end_time(),
            automation_execution_status: Some(wire_status(v.status())),
            step_executions: Some(v.steps()),
            step_executions_truncated: Some(false),
            parameters: Some(v.parameters()),
            outputs: Some(v.outputs()),
            failure_message: v.failure_message(),
            mode: Some(v.mode()),
            parent_automation_execution_id: v.rec.parent_id.clone(),
            executed_by: Some(v.executed_by()),
            current_step_name: current.as_ref().map(|c| c.0.clone()),
            current_action: current.and_then(|c| c.1),
            ..Default::default()
        }),
    })
}

// ---- DescribeAutomationExecutions -----------------------------------------------------------

/// A parsed filter timestamp (ISO-8601 date-time, or a date), epoch seconds.
fn filter_time(key: &str, values: &[String]) -> ApiResult<f64> {
    let [v] = values else {
        return Err(invalid_filter_value(format!(
            "The {key} filter takes exactly one value, a timestamp such as 2024-01-31T00:00:00Z."
        )));
    };
    let text = if v.len() == 10 {
        format!("{v}T00:00:00Z")
    } else {
        v.clone()
    };
    remedy_automation::parse_iso8601_timestamp(&text)
        .map(seconds)
        .ok_or_else(|| {
            invalid_filter_value(format!(
                "{v} is not a valid {key} value: give a timestamp such as 2024-01-31T00:00:00Z."
            ))
        })
}

fn statuses(key: &str, values: &[String]) -> ApiResult<Vec<String>> {
    for v in values {
        if !AutomationExecutionStatus::VALUES.contains(&v.as_str()) {
            return Err(invalid_filter_value(format!(
                "{v} is not a valid {key} value. Valid values: {}.",
                AutomationExecutionStatus::VALUES.join(", ")
            )));
        }
    }
    Ok(values.to_vec())
}

enum ExecutionFilter {
    NamePrefix(Vec<String>),
    Status(Vec<String>),
    Id(Vec<String>),
    Parent(Vec<String>),
    CurrentAction(Vec<String>),
    StartBefore(f64),
    StartAfter(f64),
    AutomationType(Vec<String>),
    TagKey(Vec<String>),
    /// Keys naming what no execution here has (rate-control resource groups, change-request
    /// subtypes, OpsItems): nothing matches.
    Nothing,
}

impl ExecutionFilter {
    fn parse(f: &AutomationExecutionFilter) -> ApiResult<Self> {
        use AutomationExecutionFilterKey as K;
        let values = f.values.clone().unwrap_or_default();
        let key = f.key.clone().unwrap_or(K::Unrecognized(String::new()));
        Ok(match key {
            K::DocumentNamePrefix => Self::NamePrefix(values),
            K::ExecutionStatus => Self::Status(statuses("ExecutionStatus", &values)?),
            K::ExecutionId => Self::Id(values),
            K::ParentExecutionId => Self::Parent(values),
            K::CurrentAction => Self::CurrentAction(values),
            K::StartTimeBefore => Self::StartBefore(filter_time("StartTimeBefore", &values)?),
            K::StartTimeAfter => Self::StartAfter(filter_time("StartTimeAfter", &values)?),
            K::AutomationType => {
                for v in &values {
                    if !AutomationType::VALUES.contains(&v.as_str()) {
                        return Err(invalid_filter_value(format!(
                            "{v} is not a valid AutomationType value. Valid values: {}.",
                            AutomationType::VALUES.join(", ")
                        )));
                    }
                }
                Self::AutomationType(values)
            }
            K::TagKey => Self::TagKey(values),
            K::TargetResourceGroup | K::AutomationSubtype | K::OpsItemId => Self::Nothing,
            K::Unrecognized(k) => {
                return Err(invalid_filter_key(format!(
                    "{k} is not a valid filter key."
                )))
            }
        })
    }

    fn matches(&self, v: &View) -> bool {
        match self {
            Self::NamePrefix(p) => p
                .iter()
                .any(|p| v.rec.document_name.starts_with(p.as_str())),
            Self::Status(s) => s.iter().any(|s| s == v.status().as_str()),
            Self::Id(ids) => ids.contains(&v.rec.id),
            Self::Parent(ids) => v.rec.parent_id.as_ref().is_some_and(|p| ids.contains(p)),
            Self::CurrentAction(a) => v
                .current_step()
                .and_then(|c| c.1)
                .is_some_and(|action| a.contains(&action)),
            Self::StartBefore(t) => v.start_time() < *t,
            Self::StartAfter(t) => v.start_time() > *t,
            Self::AutomationType(t) => t.iter().any(|t| t == "Local"),
            Self::TagKey(keys) => v.rec.tags.iter().any(|(k, _)| keys.contains(k)),
            Self::Nothing => false,
        }
    }
}

fn metadata(v: &View) -> AutomationExecutionMetadata {
    let current = v.current_step();
    AutomationExecutionMetadata {
        automation_execution_id: Some(v.rec.id.clone()),
        document_name: Some(v.rec.document_name.clone()),
        document_version: v.rec.document_version.clone(),
        automation_execution_status: Some(wire_status(v.status())),
        execution_start_time: Some(v.start_time()),
        execution_end_time: v.end_time(),
        executed_by: Some(v.executed_by()),
        outputs: Some(v.outputs()),
        mode: Some(v.mode()),
        parent_automation_execution_id: v.rec.parent_id.clone(),
        current_step_name: current.as_ref().map(|c| c.0.clone()),
        current_action: current.and_then(|c| c.1),
        failure_message: v.failure_message(),
        automation_type: Some(AutomationType::Local),
        ..Default::default()
    }
}

fn page_size(max_results: Option<i32>) -> usize {
    match max_results {
        Some(n) if n > 0 => (n as usize).min(MAX_PAGE),
        _ => MAX_PAGE,
    }
}

pub async fn describe(
    app: &App,
    ctx: &RequestContext,
    req: DescribeAutomationExecutionsRequest,
) -> ApiResult<DescribeAutomationExecutionsResult> {
    let filters = req
        .filters
        .iter()
        .flatten()
        .map(ExecutionFilter::parse)
        .collect::<ApiResult<Vec<_>>>()?;
    let limit = page_size(req.max_results);
    let mut before: Option<i64> = decode_token(DESCRIBE_OP, req.next_token.as_deref())?;
    let mut runbooks = Runbooks::default();
    let mut found: Vec<View> = Vec::new();
    // Newest first; read in batches until the page (plus one, to know there is more) is full.
    'scan: loop {
        let rows = app
            .store
            .list_executions(&ctx.scope, before, SCAN_BATCH)
            .await?;
        let exhausted = rows.len() < SCAN_BATCH;
        for rec in rows {
            before = Some(rec.seq);
            let v = runbooks.view(app, rec).await;
            if filters.iter().all(|f| f.matches(&v)) {
                found.push(v);
                if found.len() > limit {
                    break 'scan;
                }
            }
        }
        if exhausted {
            break;
        }
    }
    let (page, next) = crate::pagination::page(DESCRIBE_OP, found, limit, |v| v.rec.seq);
    Ok(DescribeAutomationExecutionsResult {
        automation_execution_metadata_list: Some(page.iter().map(metadata).collect()),
        next_token: next,
    })
}

// ---- DescribeAutomationStepExecutions -------------------------------------------------------

enum StepFilter {
    StartBefore(f64),
    StartAfter(f64),
    Status(Vec<String>),
    Id(Vec<String>),
    Name(Vec<String>),
    Action(Vec<String>),
    /// Parent-step keys (aws:loop iterations, which this runtime does not have): nothing matches.
    Nothing,
}

impl StepFilter {
    fn parse(f: &StepExecutionFilter) -> ApiResult<Self> {
        use StepExecutionFilterKey as K;
        let values = f.values.clone().unwrap_or_default();
        let key = f.key.clone().unwrap_or(K::Unrecognized(String::new()));
        Ok(match key {
            K::StartTimeBefore => Self::StartBefore(filter_time("StartTimeBefore", &values)?),
            K::StartTimeAfter => Self::StartAfter(filter_time("StartTimeAfter", &values)?),
            K::StepExecutionStatus => Self::Status(statuses("StepExecutionStatus", &values)?),
            K::StepExecutionId => Self::Id(values),
            K::StepName => Self::Name(values),
            K::Action => Self::Action(values),
            K::ParentStepExecutionId | K::ParentStepIteration | K::ParentStepIteratorValue => {
                Self::Nothing
            }
            K::Unrecognized(k) => {
                return Err(invalid_filter_key(format!(
                    "{k} is not a valid filter key."
                )))
            }
        })
    }

    fn matches(&self, s: &StepExecution) -> bool {
        let has = |field: &Option<String>, values: &[String]| {
            field.as_ref().is_some_and(|f| values.contains(f))
        };
        match self {
            Self::StartBefore(t) => s.execution_start_time.is_some_and(|x| x < *t),
            Self::StartAfter(t) => s.execution_start_time.is_some_and(|x| x > *t),
            Self::Status(v) => s
                .step_status
                .as_ref()
                .is_some_and(|st| v.iter().any(|x| x == st.as_str())),
            Self::Id(v) => has(&s.step_execution_id, v),
            Self::Name(v) => has(&s.step_name, v),
            Self::Action(v) => has(&s.action, v),
            Self::Nothing => false,
        }
    }
}

pub async fn describe_steps(
    app: &App,
    ctx: &RequestContext,
    req: DescribeAutomationStepExecutionsRequest,
) -> ApiResult<DescribeAutomationStepExecutionsResult> {
    let id = required(req.automation_execution_id, "AutomationExecutionId")?;
    let filters = req
        .filters
        .iter()
        .flatten()
        .map(StepFilter::parse)
        .collect::<ApiResult<Vec<_>>>()?;
    let reverse = req.reverse_order.unwrap_or(false);
    let limit = page_size(req.max_results);
    // The token remembers the direction it was minted for.
    let after: Option<(bool, usize)> = decode_token(STEPS_OP, req.next_token.as_deref())?;
    if after.is_some_and(|(r, _)| r != reverse) {
        return Err(invalid_next_token());
    }
    let rec = execution_in_scope(app, &ctx.scope, &id).await?;
    let v = Runbooks::default().view(app, rec).await;
    // Records are in start order (a step runs only after the one before it ended).
    let mut steps: Vec<(usize, StepExecution)> = v.steps().into_iter().enumerate().collect();
    if reverse {
        steps.reverse();
    }
    let rows: Vec<(usize, StepExecution)> = steps
        .into_iter()
        .filter(|(i, _)| match after {
            Some((_, a)) if reverse => *i < a,
            Some((_, a)) => *i > a,
            None => true,
        })
        .filter(|(_, s)| filters.iter().all(|f| f.matches(s)))
        .take(limit + 1)
        .collect();
    let (page, next) = crate::pagination::page(STEPS_OP, rows, limit, |(i, _)| (reverse, *i));
    Ok(DescribeAutomationStepExecutionsResult {
        step_executions: Some(page.into_iter().map(|(_, s)| s).collect()),
        next_token: next,
    })
}

// ---- StopAutomationExecution ----------------------------------------------------------------

pub async fn stop(
    app: &App,
    ctx: &RequestContext,
    req: StopAutomationExecutionRequest,
) -> ApiResult<StopAutomationExecutionResult> {
    let id = required(req.automation_execution_id, "AutomationExecutionId")?;
    if req.r#type == Some(StopType::Complete) {
        // Say "not found" first, as for any stop of an unknown id.
        execution_in_scope(app, &ctx.scope, &id).await?;
        return Err(ApiError::client(
            "InvalidAutomationStatusUpdateException",
            format!(
                "Stop type Complete does not apply to automation execution {id}: it is not a change request or runbook workflow. Use Cancel."
            ),
        ));
    }
    let now = crate::time::now();
    match app.store.stop_execution(&ctx.scope, &id, now).await? {
        StopOutcome::NotFound => Err(execution_not_found(&id)),
        StopOutcome::Terminal => {
            let rec = execution_in_scope(app, &ctx.scope, &id).await?;
            let v = Runbooks::default().view(app, rec).await;
            Err(ApiError::client(
                "InvalidAutomationStatusUpdateException",
                format!(
                    "Automation execution {id} is already {}; only a running execution can be stopped.",
                    v.status().as_str()
                ),
            ))
        }
        StopOutcome::Cancelled | StopOutcome::CancelRequested => {
            app.remediation_wakeup.notify_one();
            Ok(StopAutomationExecutionResult {})
        }
    }
}

#[cfg(test)]
#[path = "ssm_automation_tests.rs"]
mod stop_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_execution_ids_are_stable_uuid_shaped_and_distinct() {
        let a = step_execution_id("0f0e0d0c-0b0a-4909-8807-060504030201", 0);
        let b = step_execution_id("0f0e0d0c-0b0a-4909-8807-060504030201", 1);
        assert_eq!(a.len(), 36);
        assert_ne!(a, b);
        assert_eq!(
            a,
            step_execution_id("0f0e0d0c-0b0a-4909-8807-060504030201", 0)
        );
        assert!(uuid::Uuid::parse_str(&a).is_ok(), "{a}");
    }

    #[test]
    fn document_arns_name_the_document() {
        let scope = Scope::new("000000000000", "us-east-1");
        for (given, want) in [
            (
                "arn:aws:ssm:us-east-1:000000000000:document/MyRunbook",
                Some("MyRunbook"),
            ),
            (
                "arn:aws:ssm:us-east-1::document/MyRunbook",
                Some("MyRunbook"),
            ),
            (
                "AWS-ConfigureS3BucketVersioning",
                Some("AWS-ConfigureS3BucketVersioning"),
            ),
            (
                "arn:aws:ssm:us-east-1:111111111111:document/MyRunbook",
                None,
            ),
            (
                "arn:aws:ssm:eu-west-1:000000000000:document/MyRunbook",
                None,
            ),
            ("arn:aws:s3:us-east-1:000000000000:document/MyRunbook", None),
        ] {
            assert_eq!(document_name(given, &scope), want, "{given}");
        }
    }
}
