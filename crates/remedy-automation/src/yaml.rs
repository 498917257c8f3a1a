//! YAML → `serde_json::Value`, so the rest of the crate sees one document model whether the
//! runbook was written in JSON or YAML (SSM accepts both for the same document).
//!
//! saphyr is a pure-Rust YAML 1.2 loader: booleans are only `true`/`false` (any case), so an
//! unquoted `Enabled` or `yes` stays a string, and alias expansion is bounded by the loader.

use saphyr::{LoadableYamlNode, Scalar, Yaml};
use serde_json::{Map, Number, Value};

pub(crate) fn yaml_to_json(text: &str) -> Result<Value, String> {
    let docs = Yaml::load_from_str(text).map_err(|e| format!("YAML parse error: {e}"))?;
    match docs.len() {
        0 => Err("the document is empty".to_string()),
        1 => convert(&docs[0]),
        n => Err(format!("expected one YAML document, found {n}")),
    }
}

fn convert(node: &Yaml<'_>) -> Result<Value, String> {
    Ok(match node {
        Yaml::Value(s) => scalar(s),
        Yaml::Representation(text, _, _) => Value::String(text.to_string()),
        Yaml::Sequence(items) => Value::Array(items.iter().map(convert).collect::<Result<_, _>>()?),
        Yaml::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = match k {
                    Yaml::Value(Scalar::String(s)) => s.to_string(),
                    Yaml::Value(s) => match scalar(s) {
                        Value::String(s) => s,
                        other => other.to_string(),
                    },
                    _ => return Err("mapping keys must be scalars".to_string()),
                };
                out.insert(key, convert(v)?);
            }
            Value::Object(out)
        }
        Yaml::Tagged(_, inner) => convert(inner)?,
        Yaml::Alias(_) => return Err("unresolved YAML alias".to_string()),
        Yaml::BadValue => return Err("invalid YAML value".to_string()),
    })
}

fn scalar(s: &Scalar<'_>) -> Value {
    match s {
        Scalar::Null => Value::Null,
        Scalar::Boolean(b) => Value::Bool(*b),
        Scalar::Integer(i) => Value::Number((*i).into()),
        Scalar::FloatingPoint(f) => Number::from_f64(f.into_inner())
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(f.to_string())),
        Scalar::String(s) => Value::String(s.to_string()),
    }
}
