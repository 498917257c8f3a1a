//! `{{ … }}` variable interpolation in step inputs.
//!
//! A value that is exactly one `{{ X }}` takes X's own type (a StringList stays a list, a Boolean
//! a boolean) — that is how `IpPermissions: '{{ Describe.Rules }}'` passes a MapList through. A
//! reference embedded in longer text is replaced by its text form ([`to_text`]). References are
//! resolved when the step runs, in this order: `global:*`, `automation:EXECUTION_ID`, a
//! parameter, `Step.Output` of a step that has finished. Anything else fails the step with a
//! message naming the reference. Map keys are never interpolated (SSM does not either).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use regex::Regex;
use serde_json::{Map, Value};

use crate::params::ResolvedParameters;
use crate::time::{format_date, format_date_time};

/// What `{{ … }}` can see.
#[derive(Debug, Clone, Copy)]
pub struct Variables<'a> {
    pub parameters: &'a ResolvedParameters,
    /// Outputs of finished steps: step name → output name → value.
    pub step_outputs: &'a BTreeMap<String, BTreeMap<String, Value>>,
    pub account_id: &'a str,
    pub region: &'a str,
    pub partition: &'a str,
    pub execution_id: &'a str,
    /// For `global:DATE` / `global:DATE_TIME`.
    pub now_ms: i64,
}

/// An unresolvable reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InterpolationError(pub String);

fn reference_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"\{\{\s*([^{}\s]+)\s*\}\}").expect("valid regex"))
}

/// The text form of a value: strings as they are, numbers in decimal, booleans the way
/// boto3/Python prints them (`True` / `False`, which is what AWS runbooks compare against),
/// null as empty, lists and maps as JSON.
pub fn to_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".to_string(),
        Value::Bool(false) => "False".to_string(),
        Value::Null => String::new(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

impl Variables<'_> {
    fn lookup(&self, name: &str) -> Result<Value, InterpolationError> {
        if let Some(g) = name.strip_prefix("global:") {
            return match g {
                "ACCOUNT_ID" => Ok(Value::String(self.account_id.to_string())),
                "REGION" => Ok(Value::String(self.region.to_string())),
                "AWS_PARTITION" => Ok(Value::String(self.partition.to_string())),
                "DATE" => Ok(Value::String(format_date(self.now_ms))),
                "DATE_TIME" => Ok(Value::String(format_date_time(self.now_ms))),
                _ => Err(InterpolationError(format!(
                    "Unknown variable {{{{ {name} }}}}: the global variables are ACCOUNT_ID, REGION, AWS_PARTITION, DATE and DATE_TIME."
                ))),
            };
        }
        if let Some(a) = name.strip_prefix("automation:") {
            return if a == "EXECUTION_ID" {
                Ok(Value::String(self.execution_id.to_string()))
            } else {
                Err(InterpolationError(format!(
                    "Unknown variable {{{{ {name} }}}}: the only automation variable is EXECUTION_ID."
                )))
            };
        }
        if name.starts_with("ssm:") {
            return Err(InterpolationError(format!(
                "Parameter Store reference {{{{ {name} }}}} cannot be used in step inputs."
            )));
        }
        if let Some(v) = self.parameters.get(name) {
            return Ok(v.clone());
        }
        if let Some((step, output)) = name.split_once('.') {
            if let Some(outputs) = self.step_outputs.get(step) {
                return outputs.get(output).cloned().ok_or_else(|| {
                    InterpolationError(format!(
                        "Unable to resolve {{{{ {name} }}}}: step {step} has no output {output}."
                    ))
                });
            }
            return Err(InterpolationError(format!(
                "Unable to resolve {{{{ {name} }}}}: step {step} has not run (or has not finished), so its outputs are not available."
            )));
        }
        Err(InterpolationError(format!(
            "Unable to resolve {{{{ {name} }}}}: no parameter {name} is defined in the document."
        )))
    }

    fn string(&self, s: &str) -> Result<Value, InterpolationError> {
        let re = reference_re();
        if let Some(c) = re.captures(s.trim()) {
            if c.get(0).is_some_and(|m| m.as_str().len() == s.trim().len()) {
                return self.lookup(&c[1]);
            }
        }
        let mut out = String::with_capacity(s.len());
        let mut last = 0;
        for c in re.captures_iter(s) {
            let m = c.get(0).expect("whole match");
            out.push_str(&s[last..m.start()]);
            out.push_str(&to_text(&self.lookup(&c[1])?));
            last = m.end();
        }
        out.push_str(&s[last..]);
        Ok(Value::String(out))
    }
}

/// Interpolates every string in `value` (recursively through lists and map values).
pub fn interpolate(value: &Value, vars: &Variables<'_>) -> Result<Value, InterpolationError> {
    Ok(match value {
        Value::String(s) if s.contains("{{") => vars.string(s)?,
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|v| interpolate(v, vars))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                out.insert(k.clone(), interpolate(v, vars)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}
