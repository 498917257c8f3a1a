//! SSM Automation runbooks (schemaVersion 0.3) for remedy's remediation engine.
//!
//! remedy remediates non-compliant resources the way AWS Config does: by running an SSM Automation
//! runbook against the resource. This crate is the runbook half of that, with no I/O of its own:
//!
//! - [`Runbook`]: parse (JSON or YAML) and validate a document at registration, with the error
//!   names SSM's CreateDocument uses ([`DocumentError`]), so bad documents are refused before they
//!   can fail an execution.
//! - [`Runbook::resolve_parameters`]: StartAutomationExecution's `map<string, list<string>>` turned
//!   into typed values (defaults, required, allowedValues, allowedPattern) with SSM's
//!   `InvalidAutomationExecutionParametersException` messages ([`ParameterError`]).
//! - [`interpolate`]: `{{ Param }}`, `{{ Step.Output }}`, `{{ global:… }}`, `{{ automation:EXECUTION_ID }}`.
//! - [`run_next_step`]: a *step-wise* interpreter. It runs exactly one step and advances a
//!   serializable [`ExecutionState`], so the engine can commit each finished step before the next
//!   starts and resume after a crash at the first unfinished step (DESIGN.md "Durable steps").
//!   Sleeping and polling never block: the interpreter returns [`StepResult::Waiting`] with a
//!   wake-up time that is stored in the state.
//! - [`World`]: the only way a runbook touches resources — a boto3-shaped `(service, api, input)`
//!   call that the `world` room of the `remedy` crate answers from recorded configuration items.
//! - [`builtin`]: the built-in runbook catalog (our own YAML, AWS's document names and parameters),
//!   and [`required_world_apis`], the list of calls the world must emulate for them.
//!
//! How the engine drives an execution (each `state` is committed before the next call):
//!
//! ```no_run
//! use std::collections::BTreeMap;
//! use remedy_automation::*;
//!
//! struct MyWorld;
//! #[async_trait::async_trait]
//! impl World for MyWorld {
//!     async fn call(&self, service: &str, api: &str, input: serde_json::Value)
//!         -> Result<serde_json::Value, WorldError> {
//!         Err(WorldError::new("UnsupportedOperation", format!("{service}:{api} {input}")))
//!     }
//! }
//!
//! # async fn engine() -> Result<(), Box<dyn std::error::Error>> {
//! let runbook = builtin("AWS-ConfigureS3BucketVersioning").expect("built in");
//! let given = BTreeMap::from([("BucketName".to_string(), vec!["my-bucket".to_string()])]);
//! let params = runbook.resolve_parameters(&given)?; // InvalidAutomationExecutionParametersException
//! let mut state = ExecutionState::new(runbook, params);
//! let ctx = ExecutionContext::new("execution-id", "000000000000", "us-east-1");
//! loop {
//!     match run_next_step(runbook, &mut state, &ctx, &MyWorld, &SystemClock).await {
//!         StepResult::Continue => { /* commit `state` */ }
//!         StepResult::Waiting { until } => { /* commit `state`, come back at `until` (epoch ms) */ break }
//!         StepResult::Ended(status) => { /* commit; status.remediation_execution_state() */ break }
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Only the actions the remediation runbooks need are supported: `aws:executeAwsApi`,
//! `aws:assertAwsResourceProperty`, `aws:waitForAwsResourceProperty`, `aws:branch`, `aws:sleep`.
//! Where AWS's own runbook uses `aws:executeScript`, ours expresses the same API calls as
//! `aws:executeAwsApi` steps (see `runbooks/README.md`).

mod catalog;
mod document;
mod interpolate;
mod interpreter;
pub mod jsonpath;
mod params;
mod time;
mod world;
mod yaml;

#[cfg(feature = "test-util")]
pub mod test_util;

pub use catalog::{builtin, builtin_names, builtin_source, required_world_apis};
pub use document::{
    Action, DocumentError, OnFailure, OutputDef, ParameterDef, ParameterType, Runbook, Step,
    SUPPORTED_ACTIONS,
};
pub use interpolate::{interpolate, to_text, InterpolationError, Variables};
pub use interpreter::{
    run_next_step, AutomationExecutionStatus, Clock, CurrentStep, ExecutionContext, ExecutionState,
    StepExecutionStatus, StepRecord, StepResult, SystemClock, DEFAULT_MAX_STEPS_EXECUTED,
};
pub use params::{ParameterError, ResolvedParameters};
pub use time::{format_date, format_date_time, parse_iso8601_duration, parse_iso8601_timestamp};
pub use world::{World, WorldError};
