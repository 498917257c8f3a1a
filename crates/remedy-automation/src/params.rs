//! StartAutomationExecution parameters → typed values, with SSM's rules and messages.
//!
//! Values arrive as the API carries them, `map<string, list<string>>`: a String takes exactly
//! one element, a StringList the whole list, Integer / Boolean parse their one element, a
//! StringMap is one JSON object text and a MapList a list of JSON object texts. A parameter with
//! no value takes its default; one with neither is missing. Every refusal is an
//! `InvalidAutomationExecutionParametersException` that names the parameter.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::document::{ParameterDef, ParameterType, Runbook};
use crate::interpolate::to_text;

/// The typed parameter values of one execution (stored in the execution state).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ResolvedParameters(pub BTreeMap<String, Value>);

impl ResolvedParameters {
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }
    pub fn as_map(&self) -> &BTreeMap<String, Value> {
        &self.0
    }
    /// The values as GetAutomationExecution shows them (`map<string, list<string>>`).
    pub fn to_ssm_strings(&self) -> BTreeMap<String, Vec<String>> {
        self.0
            .iter()
            .map(|(k, v)| {
                let list = match v {
                    Value::Array(items) => items.iter().map(to_text).collect(),
                    other => vec![to_text(other)],
                };
                (k.clone(), list)
            })
            .collect()
    }
}

/// A refused parameter set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParameterError {
    /// The parameter concerned.
    pub parameter: String,
    pub message: String,
}

impl ParameterError {
    /// The SSM error code.
    pub fn code(&self) -> &'static str {
        "InvalidAutomationExecutionParametersException"
    }
    fn new(parameter: &str, message: String) -> ParameterError {
        ParameterError {
            parameter: parameter.to_string(),
            message,
        }
    }
}

impl Runbook {
    /// Resolves StartAutomationExecution's `Parameters` against the document.
    pub fn resolve_parameters(
        &self,
        given: &BTreeMap<String, Vec<String>>,
    ) -> Result<ResolvedParameters, ParameterError> {
        for name in given.keys() {
            if self.parameter(name).is_none() {
                return Err(ParameterError::new(
                    name,
                    format!("Parameter {name} is not defined in the document."),
                ));
            }
        }
        let mut out = BTreeMap::new();
        for def in self.parameters() {
            let value = match given.get(&def.name) {
                Some(values) if !values.is_empty() => convert(def, values)?,
                _ => match &def.default {
                    Some(d) => default_value(def, d)?,
                    None => {
                        return Err(ParameterError::new(
                            &def.name,
                            format!("Missing required parameter: {} in user inputs.", def.name),
                        ))
                    }
                },
            };
            out.insert(def.name.clone(), value);
        }
        Ok(ResolvedParameters(out))
    }
}

fn default_value(def: &ParameterDef, d: &Value) -> Result<Value, ParameterError> {
    if let Some(s) = d.as_str() {
        let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.starts_with("{{ssm:") {
            return Err(ParameterError::new(
                &def.name,
                format!(
                    "Parameter {} has a Parameter Store default ({s}), which remedy cannot resolve; pass a value.",
                    def.name
                ),
            ));
        }
    }
    // Defaults were type-checked at registration; normalise the lenient forms.
    Ok(match def.param_type {
        ParameterType::String if !d.is_string() => Value::String(to_text(d)),
        ParameterType::Integer if d.is_string() => Value::from(
            d.as_str()
                .unwrap_or_default()
                .trim()
                .parse::<i64>()
                .unwrap_or_default(),
        ),
        ParameterType::Boolean if d.is_string() => {
            Value::Bool(d.as_str().unwrap_or_default().eq_ignore_ascii_case("true"))
        }
        _ => d.clone(),
    })
}

fn check_text(def: &ParameterDef, text: &str) -> Result<(), ParameterError> {
    let name = &def.name;
    if let Some(allowed) = &def.allowed_values {
        if !allowed.iter().any(|a| a == text) {
            return Err(ParameterError::new(
                name,
                format!(
                    "Parameter \"{name}\" has value \"{text}\" not found in [{}].",
                    allowed.join(", ")
                ),
            ));
        }
    }
    if let (Some(re), Some(p)) = (&def.pattern, &def.allowed_pattern) {
        if !re.is_match(text) {
            return Err(ParameterError::new(
                name,
                format!("Parameter \"{name}\" has value \"{text}\" that does not match the allowed pattern {p}."),
            ));
        }
    }
    let chars = text.chars().count();
    if def.min_chars.is_some_and(|m| chars < m) || def.max_chars.is_some_and(|m| chars > m) {
        return Err(ParameterError::new(
            name,
            format!(
                "Parameter \"{name}\" has value \"{text}\" of {chars} characters, outside [{}, {}].",
                def.min_chars.unwrap_or(0),
                def.max_chars.map_or("unbounded".to_string(), |m| m.to_string())
            ),
        ));
    }
    Ok(())
}

fn check_items(def: &ParameterDef, n: usize) -> Result<(), ParameterError> {
    let name = &def.name;
    if def.min_items.is_some_and(|m| n < m) || def.max_items.is_some_and(|m| n > m) {
        return Err(ParameterError::new(
            name,
            format!(
                "Parameter \"{name}\" has {n} items; it takes between {} and {} items.",
                def.min_items.unwrap_or(0),
                def.max_items
                    .map_or("unbounded".to_string(), |m| m.to_string())
            ),
        ));
    }
    Ok(())
}

fn single<'a>(def: &ParameterDef, values: &'a [String]) -> Result<&'a str, ParameterError> {
    if values.len() != 1 {
        return Err(ParameterError::new(
            &def.name,
            format!(
                "Parameter \"{}\" is of type {} and takes exactly one value, {} given.",
                def.name,
                def.param_type,
                values.len()
            ),
        ));
    }
    Ok(&values[0])
}

fn not_of_type(def: &ParameterDef, text: &str) -> ParameterError {
    ParameterError::new(
        &def.name,
        format!(
            "Parameter \"{}\" has value \"{text}\" that is not a valid {}.",
            def.name, def.param_type
        ),
    )
}

fn convert(def: &ParameterDef, values: &[String]) -> Result<Value, ParameterError> {
    Ok(match def.param_type {
        ParameterType::String => {
            let v = single(def, values)?;
            check_text(def, v)?;
            Value::String(v.to_string())
        }
        ParameterType::StringList => {
            check_items(def, values.len())?;
            for v in values {
                check_text(def, v)?;
            }
            Value::Array(values.iter().cloned().map(Value::String).collect())
        }
        ParameterType::Integer => {
            let v = single(def, values)?;
            let n: i64 = v.trim().parse().map_err(|_| not_of_type(def, v))?;
            check_text(def, &n.to_string())?;
            Value::from(n)
        }
        ParameterType::Boolean => {
            let v = single(def, values)?;
            let b = if v.trim().eq_ignore_ascii_case("true") {
                true
            } else if v.trim().eq_ignore_ascii_case("false") {
                false
            } else {
                return Err(not_of_type(def, v));
            };
            check_text(def, if b { "true" } else { "false" })?;
            Value::Bool(b)
        }
        ParameterType::StringMap => {
            let v = single(def, values)?;
            match serde_json::from_str::<Value>(v) {
                Ok(m @ Value::Object(_)) => m,
                _ => return Err(not_of_type(def, v)),
            }
        }
        ParameterType::MapList => {
            check_items(def, values.len())?;
            let mut items = Vec::new();
            for v in values {
                match serde_json::from_str::<Value>(v) {
                    Ok(m @ Value::Object(_)) => items.push(m),
                    // A whole list given as one JSON array text.
                    Ok(Value::Array(a)) if values.len() == 1 && a.iter().all(Value::is_object) => {
                        check_items(def, a.len())?;
                        items = a;
                    }
                    _ => return Err(not_of_type(def, v)),
                }
            }
            Value::Array(items)
        }
    })
}
