//! Custom policy rules (`Owner: CUSTOM_POLICY`, `PolicyRuntime: guard-2.x.x`), evaluated with
//! AWS's own Guard engine (the `cfn-guard` crate).
//!
//! As in AWS Config, the policy runs over the configuration item in notification form, so rules
//! reference `resourceType`, `configuration.…`, `supplementaryConfiguration.…`, `tags.…` and
//! so on. The rule's verdict on the item:
//! - every Guard rule that applied passed → `COMPLIANT`;
//! - any Guard rule failed → `NON_COMPLIANT`, annotated with the first failing rule's name and
//!   its custom message (`<<…>>`), or Guard's own explanation when it has none;
//! - no Guard rule applied (every one was skipped by its `when` condition, or the policy has no
//!   rules) → `NOT_APPLICABLE`.
//!
//! **Rule parameters.** AWS does not document how a Guard policy reads the rule's
//! `InputParameters`. remedy adds them to the data document as a top-level object
//! `ruleParameters` (a key the configuration item never has), so a policy reads them as
//! `ruleParameters.<name>` — e.g. `let wanted = ruleParameters.volumeType` and then
//! `configuration.volumeType == %wanted`. A policy that does not use them is unaffected.
//!
//! A policy that fails at run time (e.g. it names an undefined variable) is an evaluation error
//! (`Err`), which the engine records as the rule's failed evaluation; it yields no verdict.

use std::io::Cursor;

use cfn_guard::commands::Executable;
use cfn_guard::utils::reader::{ReadBuffer, Reader};
use cfn_guard::utils::writer::{WriteBuffer, Writer};
use cfn_guard::{run_checks, CommandBuilder, ParseTreeBuilder, ValidateInput};
use serde_json::Value;

use super::verdict::{Parameters, Verdict};

/// The key under which the rule's `InputParameters` are visible to the policy.
pub const PARAMETERS_KEY: &str = "ruleParameters";
/// AWS caps annotations at 256 characters.
const MAX_ANNOTATION: usize = 256;
/// The name Guard reports for the policy (appears in parser messages).
const POLICY_NAME: &str = "policy";

/// Checks that a policy parses (PutConfigRule refuses a broken one). `Err` carries Guard's
/// parser message.
pub fn validate_policy(policy_text: &str) -> Result<(), String> {
    let command = ParseTreeBuilder::default()
        .print_json(true)
        .try_build()
        .map_err(|e| e.to_string())?;
    let mut writer = Writer::new(WriteBuffer::Vec(Vec::new())).map_err(|e| e.to_string())?;
    let mut reader = Reader::new(ReadBuffer::Cursor(Cursor::new(
        policy_text.as_bytes().to_vec(),
    )));
    command
        .execute(&mut writer, &mut reader)
        .map(|_| ())
        .map_err(|e| clean_parser_message(&e.to_string()))
}

/// Evaluates the policy against one configuration item in notification form.
pub fn evaluate(
    policy_text: &str,
    item_notification_form: &Value,
    rule_parameters: &Parameters,
) -> Result<Verdict, String> {
    let mut data = item_notification_form.clone();
    if let Value::Object(map) = &mut data {
        map.insert(
            PARAMETERS_KEY.to_string(),
            Value::Object(rule_parameters.clone()),
        );
    }
    let data = serde_json::to_string(&data).map_err(|e| e.to_string())?;
    let report = run_checks(
        ValidateInput {
            content: &data,
            file_name: "configurationItem",
        },
        ValidateInput {
            content: policy_text,
            file_name: POLICY_NAME,
        },
        false,
    )
    .map_err(|e| match e {
        cfn_guard::Error::ParseError(m) => {
            format!("The policy text is invalid: {}", clean_parser_message(&m))
        }
        e => format!("The Guard policy failed to evaluate: {e}"),
    })?;
    if report.trim().is_empty() {
        // A policy with nothing in it (Guard parses it to no rules file at all).
        return Ok(Verdict::not_applicable(
            "The Guard policy has no rules to apply.",
        ));
    }
    let report: Value = serde_json::from_str(&report)
        .map_err(|e| format!("unexpected Guard report ({e}): {report}"))?;
    verdict_of(&report)
}

/// Reads Guard's summary report (`status`, `not_compliant`, `not_applicable`, `compliant`).
fn verdict_of(report: &Value) -> Result<Verdict, String> {
    match report.get("status").and_then(Value::as_str) {
        Some("PASS") => Ok(Verdict::compliant()),
        Some("SKIP") => Ok(Verdict::not_applicable(
            "No rule of the Guard policy applies to this resource.",
        )),
        Some("FAIL") => {
            let failed = report
                .get("not_compliant")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let first = failed.first();
            let name = first
                .and_then(|f| f.pointer("/Rule/name"))
                .and_then(Value::as_str)
                .unwrap_or("?");
            let more = failed.len().saturating_sub(1);
            let mut annotation = format!("Guard rule '{name}' failed");
            if let Some(message) = first.and_then(first_message) {
                annotation.push_str(": ");
                annotation.push_str(&message);
            }
            if more > 0 {
                annotation.push_str(&format!(" (and {more} more)"));
            }
            Ok(Verdict::non_compliant(truncate(&annotation)))
        }
        other => Err(format!("unexpected Guard status {other:?}")),
    }
}

/// The first custom message (`<<…>>`) in a failure tree, else the first error message.
fn first_message(failure: &Value) -> Option<String> {
    fn walk<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
        match v {
            Value::Object(map) => {
                if let Some(m) = map
                    .get("messages")
                    .and_then(|m| m.get(key))
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .filter(|m| !m.is_empty())
                {
                    return Some(m);
                }
                map.values().find_map(|v| walk(v, key))
            }
            Value::Array(items) => items.iter().find_map(|v| walk(v, key)),
            _ => None,
        }
    }
    walk(failure, "custom_message")
        .or_else(|| walk(failure, "error_message"))
        .map(|m| m.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Guard wraps parser errors several times ("Parser Error when parsing `Parsing Error Error
/// parsing file … at line 1 at column 13, when handling …`"); keep the informative part.
fn clean_parser_message(message: &str) -> String {
    let mut m = message.trim();
    loop {
        let before = m;
        for prefix in [
            "Parser Error when parsing `",
            "Parsing Error ",
            "Error parsing file ",
        ] {
            if let Some(rest) = m.strip_prefix(prefix) {
                m = rest.strip_suffix('`').unwrap_or(rest);
            }
        }
        if m == before {
            break;
        }
    }
    let m = m
        .strip_prefix(POLICY_NAME)
        .map(str::trim_start)
        .unwrap_or(m);
    m.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn truncate(s: &str) -> String {
    if s.chars().count() <= MAX_ANNOTATION {
        return s.to_string();
    }
    let mut out: String = s.chars().take(MAX_ANNOTATION - 3).collect();
    out.push_str("...");
    out
}

#[cfg(test)]
mod tests {
    use remedy_wire::config::ComplianceType;
    use serde_json::json;

    use super::*;

    fn volume(volume_type: &str, encrypted: bool) -> Value {
        json!({
            "configurationItemVersion": "1.3",
            "resourceType": "AWS::EC2::Volume",
            "resourceId": "vol-0123",
            "awsRegion": "us-east-1",
            "tags": {"team": "a"},
            "configuration": {"volumeType": volume_type, "encrypted": encrypted, "state": "in-use"},
            "supplementaryConfiguration": {},
        })
    }

    const POLICY: &str = r#"
rule volume_in_use when resourceType == "AWS::EC2::Volume" {
    configuration.state == "in-use"
}
rule encrypted_gp3 when resourceType == "AWS::EC2::Volume" volume_in_use {
    configuration.encrypted == true <<volumes must be encrypted>>
    configuration.volumeType == "gp3"
}
"#;

    fn no_params() -> Parameters {
        Parameters::new()
    }

    #[test]
    fn all_rules_pass_is_compliant() {
        let v = evaluate(POLICY, &volume("gp3", true), &no_params()).unwrap();
        assert_eq!(v, Verdict::compliant());
    }

    #[test]
    fn a_failing_rule_is_non_compliant_and_named() {
        let v = evaluate(POLICY, &volume("gp3", false), &no_params()).unwrap();
        assert_eq!(v.compliance, ComplianceType::NonCompliant);
        let a = v.annotation.unwrap();
        assert!(a.contains("encrypted_gp3"), "{a}");
        assert!(a.contains("volumes must be encrypted"), "{a}");

        // Without a custom message, Guard's own explanation.
        let v = evaluate(POLICY, &volume("gp2", true), &no_params()).unwrap();
        let a = v.annotation.unwrap();
        assert!(a.starts_with("Guard rule 'encrypted_gp3' failed: "), "{a}");
        assert!(a.len() <= MAX_ANNOTATION);
    }

    #[test]
    fn no_rule_applying_is_not_applicable() {
        let bucket = json!({"resourceType": "AWS::S3::Bucket", "configuration": {}});
        let v = evaluate(POLICY, &bucket, &no_params()).unwrap();
        assert_eq!(v.compliance, ComplianceType::NotApplicable);
        // Only `let`s, or nothing at all.
        let v = evaluate("let x = 1", &bucket, &no_params()).unwrap();
        assert_eq!(v.compliance, ComplianceType::NotApplicable);
        let v = evaluate("", &bucket, &no_params()).unwrap();
        assert_eq!(v.compliance, ComplianceType::NotApplicable);
    }

    #[test]
    fn supplementary_configuration_and_tags_are_visible() {
        let mut ci = volume("gp3", true);
        ci["supplementaryConfiguration"] = json!({"Backup": {"status": "ENABLED"}});
        let policy = r#"rule r { supplementaryConfiguration.Backup.status == "ENABLED"
                                 tags.team == "a" }"#;
        assert_eq!(
            evaluate(policy, &ci, &no_params()).unwrap(),
            Verdict::compliant()
        );
    }

    #[test]
    fn parameters_are_read_from_rule_parameters() {
        let policy = r#"
let wanted = ruleParameters.volumeType
rule right_type when resourceType == "AWS::EC2::Volume" {
    configuration.volumeType == %wanted
}
"#;
        let mut params = Parameters::new();
        params.insert("volumeType".into(), json!("io2"));
        let v = evaluate(policy, &volume("io2", true), &params).unwrap();
        assert_eq!(v, Verdict::compliant());
        let v = evaluate(policy, &volume("gp3", true), &params).unwrap();
        assert_eq!(v.compliance, ComplianceType::NonCompliant);
    }

    #[test]
    fn broken_policies_are_refused() {
        assert!(validate_policy(POLICY).is_ok());
        assert!(validate_policy("").is_ok());
        assert!(validate_policy("let x = 5").is_ok());
        let e = validate_policy("rule a when { configuration.x == ").unwrap_err();
        assert!(e.contains("line 1"), "{e}");
        assert!(!e.starts_with("Parser Error"), "{e}");
        assert!(validate_policy("rule { }").is_err());
        assert!(validate_policy("this is not guard").is_err());
        // A parse error found while evaluating is reported as such.
        let e = evaluate("rule a {", &volume("gp3", true), &no_params()).unwrap_err();
        assert!(e.starts_with("The policy text is invalid: "), "{e}");
    }

    #[test]
    fn run_time_errors_are_errors_not_verdicts() {
        let e = evaluate(
            "rule a { configuration.x == %nowhere }",
            &volume("gp3", true),
            &no_params(),
        )
        .unwrap_err();
        assert!(e.contains("nowhere"), "{e}");
    }
}
