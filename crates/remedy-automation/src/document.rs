//! The runbook model and its validation at registration.
//!
//! SSM refuses a broken Automation document at CreateDocument time (`InvalidDocumentContent`,
//! `InvalidDocumentSchemaVersion`) rather than letting an execution stumble on it; remedy does the
//! same, so every [`Runbook`] value is known good: step names unique, actions supported, every
//! `nextStep` / `onFailure: step:X` / branch target present, branch operators known, parameter
//! types known, document `outputs` pointing at declared step outputs. What can only be known at
//! run time (the value behind `{{ … }}`, the shape of an API response) is checked by the
//! interpreter and fails the step instead.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use regex::Regex;
use serde_json::{Map, Value};

use crate::jsonpath::JsonPath;
use crate::time::{parse_iso8601_duration, parse_iso8601_timestamp};

/// Why a document was refused. The variant names are SSM's CreateDocument error codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    /// The content is not a valid Automation document (parse error, missing field, bad target…).
    #[error("{0}")]
    InvalidDocumentContent(String),
    /// `schemaVersion` is not `0.3`.
    #[error("{0}")]
    InvalidDocumentSchemaVersion(String),
}

impl DocumentError {
    /// The AWS error code (`__type`) for this error.
    pub fn code(&self) -> &'static str {
        match self {
            DocumentError::InvalidDocumentContent(_) => "InvalidDocumentContent",
            DocumentError::InvalidDocumentSchemaVersion(_) => "InvalidDocumentSchemaVersion",
        }
    }
    /// The human message.
    pub fn message(&self) -> &str {
        match self {
            DocumentError::InvalidDocumentContent(m)
            | DocumentError::InvalidDocumentSchemaVersion(m) => m,
        }
    }
}

fn content(msg: impl Into<String>) -> DocumentError {
    DocumentError::InvalidDocumentContent(msg.into())
}

/// A parameter or output type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ParameterType {
    String,
    StringList,
    Integer,
    Boolean,
    MapList,
    StringMap,
}

impl ParameterType {
    pub const ALL: [ParameterType; 6] = [
        ParameterType::String,
        ParameterType::StringList,
        ParameterType::Integer,
        ParameterType::Boolean,
        ParameterType::MapList,
        ParameterType::StringMap,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            ParameterType::String => "String",
            ParameterType::StringList => "StringList",
            ParameterType::Integer => "Integer",
            ParameterType::Boolean => "Boolean",
            ParameterType::MapList => "MapList",
            ParameterType::StringMap => "StringMap",
        }
    }
    pub fn parse(s: &str) -> Option<ParameterType> {
        ParameterType::ALL.into_iter().find(|t| t.as_str() == s)
    }
    /// Whether a JSON value has this type (a document default, a converted output).
    pub fn matches(self, v: &Value) -> bool {
        match self {
            ParameterType::String => v.is_string(),
            ParameterType::StringList => {
                v.as_array().is_some_and(|a| a.iter().all(Value::is_string))
            }
            ParameterType::Integer => v.is_i64() || v.is_u64(),
            ParameterType::Boolean => v.is_boolean(),
            ParameterType::MapList => v.as_array().is_some_and(|a| a.iter().all(Value::is_object)),
            ParameterType::StringMap => v.is_object(),
        }
    }
}

impl std::fmt::Display for ParameterType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of the document's `parameters`.
#[derive(Debug, Clone)]
pub struct ParameterDef {
    pub name: String,
    pub param_type: ParameterType,
    pub description: Option<String>,
    /// The literal default; a parameter without one is required.
    pub default: Option<Value>,
    /// Allowed values, compared with the string form of the value.
    pub allowed_values: Option<Vec<String>>,
    pub allowed_pattern: Option<String>,
    pub min_items: Option<usize>,
    pub max_items: Option<usize>,
    pub min_chars: Option<usize>,
    pub max_chars: Option<usize>,
    pub(crate) pattern: Option<Regex>,
}

impl ParameterDef {
    pub fn is_required(&self) -> bool {
        self.default.is_none()
    }
}

/// The actions this runtime executes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    ExecuteAwsApi,
    AssertAwsResourceProperty,
    WaitForAwsResourceProperty,
    Branch,
    Sleep,
}

/// Every supported action name, in the order error messages list them.
pub const SUPPORTED_ACTIONS: [&str; 5] = [
    "aws:executeAwsApi",
    "aws:assertAwsResourceProperty",
    "aws:waitForAwsResourceProperty",
    "aws:branch",
    "aws:sleep",
];

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::ExecuteAwsApi => SUPPORTED_ACTIONS[0],
            Action::AssertAwsResourceProperty => SUPPORTED_ACTIONS[1],
            Action::WaitForAwsResourceProperty => SUPPORTED_ACTIONS[2],
            Action::Branch => SUPPORTED_ACTIONS[3],
            Action::Sleep => SUPPORTED_ACTIONS[4],
        }
    }
    pub fn parse(s: &str) -> Option<Action> {
        [
            Action::ExecuteAwsApi,
            Action::AssertAwsResourceProperty,
            Action::WaitForAwsResourceProperty,
            Action::Branch,
            Action::Sleep,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }
    /// Whether the action calls the world (`Service` / `Api` inputs).
    pub fn calls_api(self) -> bool {
        matches!(
            self,
            Action::ExecuteAwsApi
                | Action::AssertAwsResourceProperty
                | Action::WaitForAwsResourceProperty
        )
    }
}

/// What happens when a step fails (after all its attempts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnFailure {
    Abort,
    Continue,
    Step(String),
}

impl std::fmt::Display for OnFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OnFailure::Abort => f.write_str("Abort"),
            OnFailure::Continue => f.write_str("Continue"),
            OnFailure::Step(s) => write!(f, "step:{s}"),
        }
    }
}

/// A user output of an `aws:executeAwsApi` step.
#[derive(Debug, Clone)]
pub struct OutputDef {
    pub name: String,
    pub selector: String,
    pub output_type: ParameterType,
    pub(crate) path: JsonPath,
}

/// One entry of `mainSteps`.
#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub action: Action,
    pub description: Option<String>,
    /// The raw (uninterpolated) inputs.
    pub inputs: Map<String, Value>,
    pub outputs: Vec<OutputDef>,
    pub max_attempts: u32,
    pub timeout_seconds: Option<u64>,
    pub on_failure: OnFailure,
    /// Parsed and target-checked, but not acted on: cancellation ends the execution at once.
    pub on_cancel: Option<OnFailure>,
    pub is_end: bool,
    pub next_step: Option<String>,
    pub is_critical: bool,
}

/// A validated schemaVersion 0.3 Automation document.
#[derive(Debug, Clone)]
pub struct Runbook {
    description: Option<String>,
    assume_role: Option<String>,
    parameters: Vec<ParameterDef>,
    steps: Vec<Step>,
    outputs: Vec<String>,
    index: BTreeMap<String, usize>,
    content: Value,
}

/// The branch operators accepted in `aws:branch` choices.
pub(crate) const BRANCH_OPERATORS: [&str; 11] = [
    "StringEquals",
    "EqualsIgnoreCase",
    "StartsWith",
    "EndsWith",
    "Contains",
    "NumericEquals",
    "NumericGreater",
    "NumericLesser",
    "NumericGreaterOrEquals",
    "NumericLesserOrEquals",
    "BooleanEquals",
];

const TOP_LEVEL_KEYS: [&str; 7] = [
    "schemaVersion",
    "description",
    "assumeRole",
    "parameters",
    "mainSteps",
    "outputs",
    "files",
];
const STEP_KEYS: [&str; 12] = [
    "name",
    "action",
    "description",
    "inputs",
    "outputs",
    "maxAttempts",
    "timeoutSeconds",
    "onFailure",
    "onCancel",
    "isEnd",
    "nextStep",
    "isCritical",
];
const PARAMETER_KEYS: [&str; 10] = [
    "type",
    "description",
    "default",
    "allowedValues",
    "allowedPattern",
    "displayType",
    "minItems",
    "maxItems",
    "minChars",
    "maxChars",
];

/// Longest `aws:sleep` SSM allows.
pub(crate) const MAX_SLEEP_SECONDS: u64 = 604_799;

fn name_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^[a-zA-Z0-9_]+$").expect("valid regex"))
}
fn param_name_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^[a-zA-Z0-9_.\-]{1,50}$").expect("valid regex"))
}
fn action_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^aws:[a-zA-Z]{3,40}$").expect("valid regex"))
}

fn has_interpolation(s: &str) -> bool {
    s.contains("{{")
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn opt_usize(
    def: &Map<String, Value>,
    key: &str,
    pname: &str,
) -> Result<Option<usize>, DocumentError> {
    match def.get(key) {
        None => Ok(None),
        Some(v) => v.as_u64().map(|n| Some(n as usize)).ok_or_else(|| {
            content(format!(
                "Parameter {pname}: {key} must be a non-negative integer."
            ))
        }),
    }
}

impl Runbook {
    /// Parses a JSON or YAML document (JSON when the first non-blank character is `{`) and
    /// validates it.
    pub fn parse(text: &str) -> Result<Runbook, DocumentError> {
        let value = if text.trim_start().starts_with('{') {
            serde_json::from_str::<Value>(text)
                .map_err(|e| content(format!("The document is not valid JSON: {e}")))?
        } else {
            crate::yaml::yaml_to_json(text)
                .map_err(|e| content(format!("The document is not valid YAML: {e}")))?
        };
        Runbook::from_value(value)
    }

    /// Validates an already-parsed document.
    pub fn from_value(content_value: Value) -> Result<Runbook, DocumentError> {
        let Value::Object(top) = &content_value else {
            return Err(content(
                "The document must be a JSON object / YAML mapping.",
            ));
        };
        // Schema version first: a document for another schema is refused for that reason alone.
        let version = match top.get("schemaVersion") {
            None => return Err(content("schemaVersion is required.")),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(_) => return Err(content("schemaVersion must be a string.")),
        };
        if version != "0.3" {
            return Err(DocumentError::InvalidDocumentSchemaVersion(format!(
                "Document schema version, {version}, is not supported for Automation documents. The supported schema version is 0.3."
            )));
        }
        for key in top.keys() {
            if !TOP_LEVEL_KEYS.contains(&key.as_str()) {
                return Err(content(format!(
                    "Unknown top-level key {key}. Allowed keys: {}.",
                    TOP_LEVEL_KEYS.join(", ")
                )));
            }
        }
        let description = match top.get("description") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(content("description must be a string.")),
        };
        let assume_role = match top.get("assumeRole") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                if s.contains("{{ssm:") || s.contains("{{ ssm:") {
                    return Err(content("assumeRole cannot be a Parameter Store reference."));
                }
                Some(s.clone())
            }
            Some(_) => return Err(content("assumeRole must be a string.")),
        };
        let parameters = parse_parameters(top.get("parameters"))?;

        let steps_value = match top.get("mainSteps") {
            Some(Value::Array(a)) if !a.is_empty() => a,
            Some(Value::Array(_)) => {
                return Err(content("mainSteps must contain at least one step."))
            }
            None => return Err(content("mainSteps is required.")),
            Some(_) => return Err(content("mainSteps must be a list of steps.")),
        };
        let mut steps = Vec::with_capacity(steps_value.len());
        let mut index = BTreeMap::new();
        for (i, sv) in steps_value.iter().enumerate() {
            let step = parse_step(i, sv)?;
            if index.insert(step.name.clone(), i).is_some() {
                return Err(content(format!(
                    "Step name {} is used more than once; step names must be unique.",
                    step.name
                )));
            }
            steps.push(step);
        }
        // Targets.
        let check = |from: &str, what: &str, target: &str| -> Result<(), DocumentError> {
            if index.contains_key(target) {
                Ok(())
            } else {
                Err(content(format!(
                    "Step {from}: {what} refers to step {target}, which does not exist in mainSteps."
                )))
            }
        };
        for step in &steps {
            if let Some(n) = &step.next_step {
                check(&step.name, "nextStep", n)?;
            }
            if let OnFailure::Step(n) = &step.on_failure {
                check(&step.name, "onFailure", n)?;
            }
            if let Some(OnFailure::Step(n)) = &step.on_cancel {
                check(&step.name, "onCancel", n)?;
            }
            if step.action == Action::Branch {
                if let Some(Value::Array(choices)) = step.inputs.get("Choices") {
                    for c in choices {
                        if let Some(Value::String(n)) = c.get("NextStep") {
                            check(&step.name, "a Choice's NextStep", n)?;
                        }
                    }
                }
                if let Some(Value::String(n)) = step.inputs.get("Default") {
                    check(&step.name, "Default", n)?;
                }
            }
        }
        // Document outputs.
        let outputs = match top.get("outputs") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => {
                let mut out = Vec::new();
                for item in items {
                    let Some(s) = item.as_str() else {
                        return Err(content(
                            "outputs must be a list of \"StepName.OutputName\" strings.",
                        ));
                    };
                    let Some((sname, oname)) = s.split_once('.') else {
                        return Err(content(format!(
                            "Output {s} must have the form StepName.OutputName."
                        )));
                    };
                    let Some(&si) = index.get(sname) else {
                        return Err(content(format!(
                            "Output {s} refers to step {sname}, which does not exist in mainSteps."
                        )));
                    };
                    if !steps[si].outputs.iter().any(|o| o.name == oname) {
                        return Err(content(format!(
                            "Output {s} refers to output {oname}, which step {sname} does not declare."
                        )));
                    }
                    out.push(s.to_string());
                }
                out
            }
            Some(_) => return Err(content("outputs must be a list of strings.")),
        };
        Ok(Runbook {
            description,
            assume_role,
            parameters,
            steps,
            outputs,
            index,
            content: content_value,
        })
    }

    /// Parameters, in document order.
    pub fn parameters(&self) -> &[ParameterDef] {
        &self.parameters
    }
    pub fn parameter(&self, name: &str) -> Option<&ParameterDef> {
        self.parameters.iter().find(|p| p.name == name)
    }
    /// The `assumeRole` expression, uninterpolated (usually `{{ AutomationAssumeRole }}`).
    pub fn assume_role(&self) -> Option<&str> {
        self.assume_role.as_deref()
    }
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }
    pub fn step(&self, name: &str) -> Option<&Step> {
        self.index.get(name).map(|&i| &self.steps[i])
    }
    /// Position of a step in `mainSteps`.
    pub fn step_position(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }
    pub fn first_step(&self) -> &Step {
        &self.steps[0]
    }
    /// The step after `name` in list order, if any.
    pub fn following_step(&self, name: &str) -> Option<&Step> {
        self.index.get(name).and_then(|&i| self.steps.get(i + 1))
    }
    /// The document's `outputs` (`"Step.Output"` strings).
    pub fn outputs(&self) -> &[String] {
        &self.outputs
    }
    /// The document as JSON (what GetDocument would show, in JSON form).
    pub fn content(&self) -> &Value {
        &self.content
    }
    /// Every `(service, api)` with literal `Service` and `Api` inputs, service lower-cased.
    pub fn api_calls(&self) -> BTreeSet<(String, String)> {
        self.steps
            .iter()
            .filter(|s| s.action.calls_api())
            .filter_map(|s| {
                let svc = s.inputs.get("Service")?.as_str()?;
                let api = s.inputs.get("Api")?.as_str()?;
                (!has_interpolation(svc) && !has_interpolation(api))
                    .then(|| (svc.to_ascii_lowercase(), api.to_string()))
            })
            .collect()
    }
}

fn parse_parameters(v: Option<&Value>) -> Result<Vec<ParameterDef>, DocumentError> {
    let map = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(content(
                "parameters must be a map of parameter name to definition.",
            ))
        }
    };
    let mut out = Vec::new();
    for (name, def) in map {
        if !param_name_re().is_match(name) {
            return Err(content(format!(
                "Parameter name {name} is invalid: use 1 to 50 characters a-z, A-Z, 0-9, '_', '.', '-'."
            )));
        }
        let Value::Object(def) = def else {
            return Err(content(format!(
                "Parameter {name}: the definition must be a map."
            )));
        };
        for k in def.keys() {
            if !PARAMETER_KEYS.contains(&k.as_str()) {
                return Err(content(format!(
                    "Parameter {name}: unknown property {k}. Allowed: {}.",
                    PARAMETER_KEYS.join(", ")
                )));
            }
        }
        let type_names = || ParameterType::ALL.map(|t| t.as_str()).join(", ");
        let param_type = match def.get("type") {
            None => return Err(content(format!("Parameter {name}: type is required."))),
            Some(Value::String(t)) => ParameterType::parse(t).ok_or_else(|| {
                content(format!(
                    "Parameter {name}: type {t} is not supported. Supported types: {}.",
                    type_names()
                ))
            })?,
            Some(_) => return Err(content(format!("Parameter {name}: type must be a string."))),
        };
        let description = def
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_string);
        let default = match def.get("default") {
            None => None,
            Some(d) => {
                let ok = param_type.matches(d)
                    // YAML authors often write numbers/booleans for String parameters and
                    // strings for Integer/Boolean ones; SSM accepts what converts.
                    || (param_type == ParameterType::String && (d.is_number() || d.is_boolean()))
                    || (param_type == ParameterType::Integer
                        && d.as_str().is_some_and(|s| s.trim().parse::<i64>().is_ok()))
                    || (param_type == ParameterType::Boolean
                        && d.as_str().is_some_and(|s| s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false")));
                if !ok {
                    return Err(content(format!(
                        "Parameter {name}: the default value {d} is not of type {param_type}."
                    )));
                }
                Some(d.clone())
            }
        };
        let allowed_values = match def.get("allowedValues") {
            None => None,
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .map(|i| {
                        scalar_text(i).ok_or_else(|| {
                            content(format!(
                                "Parameter {name}: allowedValues must be a list of scalars."
                            ))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(_) => {
                return Err(content(format!(
                    "Parameter {name}: allowedValues must be a list."
                )))
            }
        };
        let (allowed_pattern, pattern) = match def.get("allowedPattern") {
            None => (None, None),
            Some(Value::String(p)) => {
                let re = Regex::new(p).map_err(|e| {
                    content(format!("Parameter {name}: allowedPattern {p} is not a valid regular expression: {e}"))
                })?;
                (Some(p.clone()), Some(re))
            }
            Some(_) => {
                return Err(content(format!(
                    "Parameter {name}: allowedPattern must be a string."
                )))
            }
        };
        out.push(ParameterDef {
            name: name.clone(),
            param_type,
            description,
            default,
            allowed_values,
            allowed_pattern,
            min_items: opt_usize(def, "minItems", name)?,
            max_items: opt_usize(def, "maxItems", name)?,
            min_chars: opt_usize(def, "minChars", name)?,
            max_chars: opt_usize(def, "maxChars", name)?,
            pattern,
        });
    }
    // Name order, whatever order the JSON map iterates in (serde_json's `preserve_order` may be
    // switched on by another crate in the same build).
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn parse_on_failure(
    step: &str,
    key: &str,
    v: &Value,
    allow_continue: bool,
) -> Result<OnFailure, DocumentError> {
    let s = v
        .as_str()
        .ok_or_else(|| content(format!("Step {step}: {key} must be a string.")))?;
    match s {
        "Abort" => Ok(OnFailure::Abort),
        "Continue" if allow_continue => Ok(OnFailure::Continue),
        _ => match s.strip_prefix("step:") {
            Some(t) if !t.trim().is_empty() => Ok(OnFailure::Step(t.trim().to_string())),
            _ => Err(content(format!(
                "Step {step}: {key} value {s} is invalid; use Abort{}, or step:<StepName>.",
                if allow_continue { ", Continue" } else { "" }
            ))),
        },
    }
}

fn parse_step(i: usize, v: &Value) -> Result<Step, DocumentError> {
    let Value::Object(m) = v else {
        return Err(content(format!("mainSteps[{i}] must be a map.")));
    };
    let name = match m.get("name") {
        Some(Value::String(s)) => s.clone(),
        _ => {
            return Err(content(format!(
                "mainSteps[{i}]: name is required and must be a string."
            )))
        }
    };
    if !name_re().is_match(&name) {
        return Err(content(format!(
            "Step name {name} is invalid: use only a-z, A-Z, 0-9 and '_'."
        )));
    }
    for k in m.keys() {
        if !STEP_KEYS.contains(&k.as_str()) {
            return Err(content(format!(
                "Step {name}: unknown property {k}. Allowed: {}.",
                STEP_KEYS.join(", ")
            )));
        }
    }
    let action_name = match m.get("action") {
        Some(Value::String(s)) => s.clone(),
        _ => {
            return Err(content(format!(
                "Step {name}: action is required and must be a string."
            )))
        }
    };
    if !action_re().is_match(&action_name) {
        return Err(content(format!(
            "Step {name}: action {action_name} is not a valid action name (aws:<name>)."
        )));
    }
    let action = Action::parse(&action_name).ok_or_else(|| {
        content(format!(
            "Step {name}: action {action_name} is not supported. Supported actions: {}.",
            SUPPORTED_ACTIONS.join(", ")
        ))
    })?;
    let inputs = match m.get("inputs") {
        Some(Value::Object(i)) => i.clone(),
        None => return Err(content(format!("Step {name}: inputs is required."))),
        Some(_) => return Err(content(format!("Step {name}: inputs must be a map."))),
    };
    let int_field = |key: &str, min: u64| -> Result<Option<u64>, DocumentError> {
        match m.get(key) {
            None => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if n >= min => Ok(Some(n)),
                _ => Err(content(format!(
                    "Step {name}: {key} must be an integer of at least {min}."
                ))),
            },
        }
    };
    let bool_field = |key: &str| -> Result<Option<bool>, DocumentError> {
        match m.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(content(format!("Step {name}: {key} must be a boolean."))),
        }
    };
    let max_attempts = int_field("maxAttempts", 1)?
        .unwrap_or(1)
        .min(u64::from(u32::MAX)) as u32;
    let timeout_seconds = int_field("timeoutSeconds", 1)?;
    let on_failure = match m.get("onFailure") {
        None => OnFailure::Abort,
        Some(v) => parse_on_failure(&name, "onFailure", v, true)?,
    };
    let on_cancel = m
        .get("onCancel")
        .map(|v| parse_on_failure(&name, "onCancel", v, false))
        .transpose()?;
    let is_end = bool_field("isEnd")?.unwrap_or(false);
    let is_critical = bool_field("isCritical")?.unwrap_or(on_failure != OnFailure::Continue);
    let next_step = match m.get("nextStep") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(content(format!(
                "Step {name}: nextStep must be a step name."
            )))
        }
    };
    let description = m
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_string);

    // No Parameter Store references in step inputs (SSM: only in parameter defaults).
    if contains_ssm_reference(&Value::Object(inputs.clone())) {
        return Err(content(format!(
            "Step {name}: Parameter Store references ({{{{ssm:…}}}}) are only allowed in parameter defaults, not in step inputs."
        )));
    }

    let outputs = match m.get("outputs") {
        None | Some(Value::Null) => Vec::new(),
        Some(_) if action != Action::ExecuteAwsApi => {
            return Err(content(format!(
                "Step {name}: action {action_name} does not accept user outputs."
            )))
        }
        Some(Value::Array(items)) => {
            let mut outs: Vec<OutputDef> = Vec::new();
            for item in items {
                let o = item.as_object().ok_or_else(|| {
                    content(format!(
                        "Step {name}: each output must be a map of Name, Selector, Type."
                    ))
                })?;
                let oname = o
                    .get("Name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| content(format!("Step {name}: an output has no Name.")))?;
                if outs.iter().any(|x| x.name == oname) {
                    return Err(content(format!(
                        "Step {name}: output {oname} is declared more than once."
                    )));
                }
                let selector = o.get("Selector").and_then(Value::as_str).ok_or_else(|| {
                    content(format!("Step {name}: output {oname} has no Selector."))
                })?;
                let path = JsonPath::parse(selector).map_err(|e| {
                    content(format!(
                        "Step {name}: output {oname} has an invalid Selector {selector}: {e}"
                    ))
                })?;
                let tname = o
                    .get("Type")
                    .and_then(Value::as_str)
                    .ok_or_else(|| content(format!("Step {name}: output {oname} has no Type.")))?;
                let output_type = ParameterType::parse(tname).ok_or_else(|| {
                    content(format!(
                        "Step {name}: output {oname} has type {tname}, which is not supported. Supported types: {}.",
                        ParameterType::ALL.map(|t| t.as_str()).join(", ")
                    ))
                })?;
                outs.push(OutputDef {
                    name: oname.to_string(),
                    selector: selector.to_string(),
                    output_type,
                    path,
                });
            }
            outs
        }
        Some(_) => return Err(content(format!("Step {name}: outputs must be a list."))),
    };

    validate_inputs(&name, action, &inputs)?;
    Ok(Step {
        name,
        action,
        description,
        inputs,
        outputs,
        max_attempts,
        timeout_seconds,
        on_failure,
        on_cancel,
        is_end,
        next_step,
        is_critical,
    })
}

fn contains_ssm_reference(v: &Value) -> bool {
    match v {
        Value::String(s) => {
            let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
            compact.contains("{{ssm:")
        }
        Value::Array(a) => a.iter().any(contains_ssm_reference),
        Value::Object(m) => m.values().any(contains_ssm_reference),
        _ => false,
    }
}

fn require_string(step: &str, inputs: &Map<String, Value>, key: &str) -> Result<(), DocumentError> {
    match inputs.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(()),
        _ => Err(content(format!(
            "Step {step}: input {key} is required and must be a non-empty string."
        ))),
    }
}

fn validate_inputs(
    step: &str,
    action: Action,
    inputs: &Map<String, Value>,
) -> Result<(), DocumentError> {
    match action {
        Action::ExecuteAwsApi => {
            require_string(step, inputs, "Service")?;
            require_string(step, inputs, "Api")?;
        }
        Action::AssertAwsResourceProperty | Action::WaitForAwsResourceProperty => {
            require_string(step, inputs, "Service")?;
            require_string(step, inputs, "Api")?;
            require_string(step, inputs, "PropertySelector")?;
            let sel = inputs["PropertySelector"].as_str().unwrap_or_default();
            if !has_interpolation(sel) {
                JsonPath::parse(sel).map_err(|e| {
                    content(format!(
                        "Step {step}: PropertySelector {sel} is invalid: {e}"
                    ))
                })?;
            }
            match inputs.get("DesiredValues") {
                Some(Value::Array(a)) if !a.is_empty() => {}
                Some(Value::String(s)) if has_interpolation(s) => {}
                _ => {
                    return Err(content(format!(
                        "Step {step}: input DesiredValues is required and must be a non-empty list."
                    )))
                }
            }
        }
        Action::Branch => {
            let choices = match inputs.get("Choices") {
                Some(Value::Array(a)) if !a.is_empty() => a,
                _ => {
                    return Err(content(format!(
                        "Step {step}: input Choices is required and must be a non-empty list."
                    )))
                }
            };
            for (i, c) in choices.iter().enumerate() {
                let Value::Object(c) = c else {
                    return Err(content(format!("Step {step}: Choices[{i}] must be a map.")));
                };
                match c.get("NextStep") {
                    Some(Value::String(_)) => {}
                    _ => {
                        return Err(content(format!(
                            "Step {step}: Choices[{i}] has no NextStep."
                        )))
                    }
                }
                let mut cond = c.clone();
                cond.remove("NextStep");
                validate_condition(step, i, &cond)?;
            }
            if let Some(d) = inputs.get("Default") {
                if !d.is_string() {
                    return Err(content(format!(
                        "Step {step}: Default must be a step name."
                    )));
                }
            }
        }
        Action::Sleep => {
            match (inputs.get("Duration"), inputs.get("Timestamp")) {
                (Some(_), Some(_)) | (None, None) => {
                    return Err(content(format!(
                        "Step {step}: aws:sleep takes exactly one of Duration or Timestamp."
                    )))
                }
                (Some(Value::String(d)), None) => {
                    if !has_interpolation(d) {
                        let ms = parse_iso8601_duration(d).ok_or_else(|| {
                        content(format!("Step {step}: Duration {d} is not an ISO-8601 duration such as PT10M."))
                    })?;
                        if ms > MAX_SLEEP_SECONDS * 1000 {
                            return Err(content(format!(
                            "Step {step}: Duration {d} exceeds the maximum of {MAX_SLEEP_SECONDS} seconds."
                        )));
                        }
                    }
                }
                (None, Some(Value::String(t))) => {
                    if !has_interpolation(t) && parse_iso8601_timestamp(t).is_none() {
                        return Err(content(format!(
                        "Step {step}: Timestamp {t} is not an ISO-8601 timestamp such as 2024-01-01T00:00:00Z."
                    )));
                    }
                }
                _ => {
                    return Err(content(format!(
                        "Step {step}: Duration / Timestamp must be a string."
                    )))
                }
            }
        }
    }
    Ok(())
}

/// A condition is a map with either `Variable` + one operator, or exactly one of `And` / `Or`
/// (lists of conditions) / `Not` (one condition, or a list of one).
fn validate_condition(step: &str, i: usize, c: &Map<String, Value>) -> Result<(), DocumentError> {
    let known = || {
        let mut all: Vec<&str> = BRANCH_OPERATORS.to_vec();
        all.extend(["And", "Or", "Not"]);
        all.join(", ")
    };
    for k in c.keys() {
        if k != "Variable"
            && !BRANCH_OPERATORS.contains(&k.as_str())
            && !["And", "Or", "Not"].contains(&k.as_str())
        {
            return Err(content(format!(
                "Step {step}: Choices[{i}] uses unknown operator {k}. Supported operators: {}.",
                known()
            )));
        }
    }
    let ops: Vec<&String> = c.keys().filter(|k| *k != "Variable").collect();
    if ops.len() != 1 {
        return Err(content(format!(
            "Step {step}: Choices[{i}] must have exactly one operator (found {}).",
            ops.len()
        )));
    }
    let op = ops[0].as_str();
    match op {
        "And" | "Or" | "Not" => {
            if c.contains_key("Variable") {
                return Err(content(format!(
                    "Step {step}: Choices[{i}]: {op} does not take a Variable."
                )));
            }
            let subs: Vec<&Value> = match &c[op] {
                Value::Array(a) if !a.is_empty() => a.iter().collect(),
                v @ Value::Object(_) if op == "Not" => vec![v],
                _ => {
                    return Err(content(format!(
                        "Step {step}: Choices[{i}]: {op} must be a non-empty list of conditions."
                    )))
                }
            };
            if op == "Not" && subs.len() != 1 {
                return Err(content(format!(
                    "Step {step}: Choices[{i}]: Not takes exactly one condition."
                )));
            }
            for s in subs {
                let Value::Object(s) = s else {
                    return Err(content(format!(
                        "Step {step}: Choices[{i}]: {op} conditions must be maps."
                    )));
                };
                validate_condition(step, i, s)?;
            }
        }
        _ => {
            if !c.contains_key("Variable") {
                return Err(content(format!(
                    "Step {step}: Choices[{i}]: {op} needs a Variable."
                )));
            }
        }
    }
    Ok(())
}
