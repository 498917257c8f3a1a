//! SSM documents: users' own runbooks beside the built-in ones.
//!
//! - What a document may be: an Automation document (schemaVersion 0.3) in YAML or JSON, at most
//!   64 KB, named outside AWS's reserved prefixes ([`parse_content`], [`reserved_prefix`]).
//! - How its content is served in the other format ([`to_json`], [`to_yaml`]).
//! - [`StoredRunbooks`]: the app's [`RunbookSource`]: stored documents of the caller's account and
//!   region beside the global built-in catalog ("owned by Amazon"). A stored document cannot
//!   take a built-in's name (every built-in name has a reserved prefix), so the two never shadow
//!   each other. Parsed runbooks are cached by content (SHA-256 and format), so a document
//!   deleted and created again under the same name, whose version numbers start over, never
//!   gets its predecessor's runbook.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use remedy_automation::Runbook;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::domain::Scope;
use crate::error::ApiError;
use crate::remediation::runbooks::{
    BuiltinRunbooks, ResolvedRunbook, RunbookSource, DEFAULT_VERSION, LATEST_VERSION,
};
use crate::store::documents::VersionSelector;
use crate::store::{Store, StoreResult};

/// Active documents per account and region (the model's `DocumentLimitExceeded`: "at most 500").
pub const MAX_DOCUMENTS: usize = 500;
/// Versions per document (SSM's quota).
pub const MAX_VERSIONS: usize = 1000;
/// Largest content, in bytes (`MaxDocumentSizeExceeded`: "The size limit of a document is 64 KB").
pub const MAX_CONTENT_BYTES: usize = 64 * 1024;
/// The owner shown for built-in documents.
pub const AMAZON_OWNER: &str = "Amazon";
/// CreatedDate of the built-in documents (they ship with the binary): 2024-01-01T00:00:00Z.
pub const BUILTIN_CREATED: f64 = 1_704_067_200.0;

/// Name prefixes AWS reserves for its own documents (CreateDocument's `Name`: aws, amazon, amzn,
/// AWSEC2, AWSConfigRemediation, AWSSupport), compared case-insensitively.
const RESERVED_PREFIXES: [&str; 6] = [
    "aws",
    "amazon",
    "amzn",
    "AWSEC2",
    "AWSConfigRemediation",
    "AWSSupport",
];

/// The reserved prefix `name` starts with, if any.
pub fn reserved_prefix(name: &str) -> Option<&'static str> {
    RESERVED_PREFIXES.into_iter().find(|p| {
        name.len() >= p.len()
            && name.is_char_boundary(p.len())
            && name[..p.len()].eq_ignore_ascii_case(p)
    })
}

/// SHA-256 of the content, lower-case hex (DocumentDescription `Hash`, `HashType: Sha256`).
pub fn sha256_hex(content: &str) -> String {
    Sha256::digest(content.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn content_error(message: impl Into<String>) -> ApiError {
    ApiError::client("InvalidDocumentContent", message)
}

/// Parses and validates an Automation document given in `format` (`YAML` or `JSON`), refusing
/// it with SSM's errors: `MaxDocumentSizeExceeded`, `InvalidDocumentContent`,
/// `InvalidDocumentSchemaVersion`.
pub fn parse_content(content: &str, format: &str) -> Result<Runbook, ApiError> {
    if content.len() > MAX_CONTENT_BYTES {
        return Err(ApiError::client(
            "MaxDocumentSizeExceeded",
            format!(
                "The size limit of a document is 64 KB; this content is {} bytes.",
                content.len()
            ),
        ));
    }
    let parsed = match format {
        "JSON" => {
            let value: Value = serde_json::from_str(content).map_err(|e| {
                content_error(format!(
                    "The document content is not valid JSON (DocumentFormat JSON): {e}"
                ))
            })?;
            Runbook::from_value(value)
        }
        "YAML" => Runbook::parse(content),
        other => {
            return Err(content_error(format!(
            "DocumentFormat {other} is not supported for Automation documents; use YAML or JSON."
        )))
        }
    };
    parsed.map_err(|e| ApiError::client(e.code(), e.message().to_string()))
}

/// The document as pretty JSON.
pub fn to_json(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| "{}".into())
}

/// The document as block YAML. Every string is written double-quoted in JSON syntax (a valid
/// YAML double-quoted scalar), so no value changes type or meaning on the way back.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(m) if !m.is_empty() => write_mapping(&mut out, m, 0),
        Value::Array(a) if !a.is_empty() => write_sequence(&mut out, a, 0),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
        other => other.to_string(),
    }
}

fn yaml_key(k: &str) -> String {
    let plain = !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && k.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && !matches!(
            k.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n"
        );
    if plain {
        k.to_string()
    } else {
        Value::String(k.to_string()).to_string()
    }
}

fn is_nested(v: &Value) -> bool {
    match v {
        Value::Object(m) => !m.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => false,
    }
}

fn write_mapping(out: &mut String, m: &serde_json::Map<String, Value>, indent: usize) {
    for (i, (k, v)) in m.iter().enumerate() {
        // The first key of a mapping that is a sequence item follows its "- " directly.
        if i > 0 || !out.ends_with("- ") {
            out.push_str(&" ".repeat(indent));
        }
        out.push_str(&yaml_key(k));
        out.push(':');
        if is_nested(v) {
            out.push('\n');
            match v {
                Value::Object(child) => write_mapping(out, child, indent + 2),
                Value::Array(items) => write_sequence(out, items, indent + 2),
                _ => {}
            }
        } else {
            out.push(' ');
            out.push_str(&scalar(v));
            out.push('\n');
        }
    }
}

fn write_sequence(out: &mut String, items: &[Value], indent: usize) {
    for item in items {
        out.push_str(&" ".repeat(indent));
        out.push_str("- ");
        match item {
            Value::Object(m) if !m.is_empty() => write_mapping(out, m, indent + 2),
            Value::Array(a) if !a.is_empty() => {
                out.push('\n');
                write_sequence(out, a, indent + 2);
            }
            other => {
                out.push_str(&scalar(other));
                out.push('\n');
            }
        }
    }
}

/// A `DocumentVersion` string as a selector: `None`/`$DEFAULT`, `$LATEST`, or a number.
/// `None` for a string that is none of these.
pub fn selector(version: Option<&str>) -> Option<VersionSelector> {
    match version {
        None | Some(DEFAULT_VERSION) => Some(VersionSelector::Default),
        Some(LATEST_VERSION) => Some(VersionSelector::Latest),
        Some(n) => n
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .map(VersionSelector::Number),
    }
}

/// Largest number of parsed versions kept.
const CACHE_CAPACITY: usize = 1024;

/// (content SHA-256, format): what a parsed runbook depends on.
type CacheKey = (String, String);

/// Stored documents beside the built-in catalog (see the module docs).
pub struct StoredRunbooks {
    store: Arc<dyn Store>,
    cache: Mutex<HashMap<CacheKey, Arc<Runbook>>>,
}

impl StoredRunbooks {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            cache: Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait]
impl RunbookSource for StoredRunbooks {
    async fn resolve(
        &self,
        scope: &Scope,
        name: &str,
        version: Option<&str>,
    ) -> StoreResult<Option<ResolvedRunbook>> {
        if let Some(builtin) = BuiltinRunbooks::get(name, version) {
            return Ok(Some(builtin));
        }
        let Some(selector) = selector(version) else {
            return Ok(None);
        };
        let Some(record) = self
            .store
            .get_document(scope, name, &selector, None)
            .await?
        else {
            return Ok(None);
        };
        let number = record.version.version;
        let key = (record.version.hash.clone(), record.version.format.clone());
        let cached = self.cache.lock().ok().and_then(|c| c.get(&key).cloned());
        let runbook = match cached {
            Some(r) => r,
            None => {
                // Stored content was validated when it was written; a failure here means the
                // validator changed since, and the document cannot run.
                let Ok(parsed) = parse_content(&record.version.content, &record.version.format)
                else {
                    tracing::warn!(
                        document = name,
                        version = number,
                        "stored document no longer parses"
                    );
                    return Ok(None);
                };
                let parsed = Arc::new(parsed);
                if let Ok(mut c) = self.cache.lock() {
                    if c.len() >= CACHE_CAPACITY {
                        c.clear();
                    }
                    c.insert(key, parsed.clone());
                }
                parsed
            }
        };
        Ok(Some(ResolvedRunbook {
            name: name.to_string(),
            version: number.to_string(),
            runbook,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_prefixes_are_case_insensitive() {
        assert_eq!(reserved_prefix("AWS-Mine"), Some("aws"));
        assert_eq!(reserved_prefix("aws"), Some("aws"));
        assert_eq!(reserved_prefix("AmazonThing"), Some("amazon"));
        assert_eq!(reserved_prefix("AMZN.x"), Some("amzn"));
        assert_eq!(reserved_prefix("My-AWS-Doc"), None);
        assert_eq!(reserved_prefix("aw"), None);
        assert_eq!(reserved_prefix("Team-Runbook"), None);
    }

    #[test]
    fn yaml_round_trips_every_builtin() {
        for name in remedy_automation::builtin_names() {
            let runbook = remedy_automation::builtin(name).unwrap();
            let yaml = to_yaml(runbook.content());
            let back = Runbook::parse(&yaml).unwrap_or_else(|e| panic!("{name}: {e}\n{yaml}"));
            assert_eq!(back.content(), runbook.content(), "{name}");
            let json = to_json(runbook.content());
            let back = parse_content(&json, "JSON").unwrap();
            assert_eq!(back.content(), runbook.content(), "{name}");
        }
    }

    #[test]
    fn yaml_keeps_types_and_awkward_strings() {
        let doc = serde_json::json!({
            "schemaVersion": "0.3",
            "description": "line\nbreak: x # not a comment",
            "mainSteps": [{
                "name": "s", "action": "aws:executeAwsApi",
                "inputs": {
                    "Service": "s3", "Api": "ListBuckets",
                    "A": "yes", "B": "123", "C": 123, "D": true, "E": null, "F": "'quoted' \"x\"",
                    "G": [], "H": {}, "I": [[1, 2], {"k": "v", "l": [true, 1.5]}],
                    "on": "#hash", "key with space": "-", "Ü": "ünïcode"
                }
            }]
        });
        let yaml = to_yaml(&doc);
        let parsed = Runbook::parse(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        assert_eq!(parsed.content(), &doc, "{yaml}");
        assert!(yaml.contains("A: \"yes\"\n"), "{yaml}");
        assert!(yaml.contains("C: 123\n"), "{yaml}");
        assert!(yaml.contains("\"on\": \"#hash\"\n"), "{yaml}");
    }

    #[test]
    fn selectors() {
        assert_eq!(selector(None), Some(VersionSelector::Default));
        assert_eq!(selector(Some("$DEFAULT")), Some(VersionSelector::Default));
        assert_eq!(selector(Some("$LATEST")), Some(VersionSelector::Latest));
        assert_eq!(selector(Some("7")), Some(VersionSelector::Number(7)));
        assert_eq!(selector(Some("0")), None);
        assert_eq!(selector(Some("x")), None);
    }
}
