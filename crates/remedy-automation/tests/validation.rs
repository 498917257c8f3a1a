//! Bad documents are refused at registration with SSM's error codes and a clear message.

use remedy_automation::{Action, DocumentError, OnFailure, ParameterType, Runbook};
use serde_json::json;

const GOOD: &str = r#"
schemaVersion: '0.3'
description: A test runbook
assumeRole: '{{ AutomationAssumeRole }}'
parameters:
  BucketName:
    type: String
    description: (Required) The bucket.
    allowedPattern: '^[a-z0-9.-]+$'
  Mode:
    type: String
    default: Enabled
    allowedValues: [Enabled, Suspended]
  AutomationAssumeRole:
    type: String
    default: ''
outputs:
  - Put.Status
mainSteps:
  - name: Put
    action: aws:executeAwsApi
    onFailure: step:Recover
    inputs:
      Service: s3
      Api: PutBucketVersioning
      Bucket: '{{ BucketName }}'
    outputs:
      - Name: Status
        Selector: $.Status
        Type: String
  - name: Choose
    action: aws:branch
    inputs:
      Choices:
        - NextStep: Recover
          Variable: '{{ Mode }}'
          StringEquals: Suspended
      Default: Wait
  - name: Wait
    action: aws:sleep
    isEnd: true
    inputs:
      Duration: PT5S
  - name: Recover
    action: aws:assertAwsResourceProperty
    inputs:
      Service: s3
      Api: GetBucketVersioning
      Bucket: '{{ BucketName }}'
      PropertySelector: $.Status
      DesiredValues: ['{{ Mode }}']
"#;

fn err(doc: &str) -> DocumentError {
    match Runbook::parse(doc) {
        Ok(_) => panic!("document should be refused:\n{doc}"),
        Err(e) => e,
    }
}

fn content_err(doc: &str, needle: &str) {
    let e = err(doc);
    assert_eq!(e.code(), "InvalidDocumentContent", "{e}");
    assert!(
        e.message().contains(needle),
        "message {:?} should contain {needle:?}",
        e.message()
    );
}

/// GOOD with one substring replaced (the replaced text must occur).
fn variant(from: &str, to: &str) -> String {
    assert!(GOOD.contains(from), "{from}");
    GOOD.replacen(from, to, 1)
}

#[test]
fn good_document_is_accepted_and_exposed() {
    let rb = Runbook::parse(GOOD).unwrap();
    assert_eq!(rb.assume_role(), Some("{{ AutomationAssumeRole }}"));
    assert_eq!(rb.description(), Some("A test runbook"));
    let names: Vec<_> = rb.parameters().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["AutomationAssumeRole", "BucketName", "Mode"]);
    let bucket = rb.parameter("BucketName").unwrap();
    assert_eq!(bucket.param_type, ParameterType::String);
    assert!(bucket.is_required());
    assert_eq!(bucket.allowed_pattern.as_deref(), Some("^[a-z0-9.-]+$"));
    assert_eq!(
        bucket.description.as_deref(),
        Some("(Required) The bucket.")
    );
    let mode = rb.parameter("Mode").unwrap();
    assert_eq!(mode.default, Some(json!("Enabled")));
    assert_eq!(
        mode.allowed_values.as_deref(),
        Some(&["Enabled".to_string(), "Suspended".to_string()][..])
    );
    assert_eq!(rb.steps().len(), 4);
    let put = rb.step("Put").unwrap();
    assert_eq!(put.action, Action::ExecuteAwsApi);
    assert_eq!(put.on_failure, OnFailure::Step("Recover".into()));
    assert!(put.is_critical);
    assert_eq!(put.max_attempts, 1);
    assert!(rb.step("Wait").unwrap().is_end);
    assert_eq!(rb.outputs(), ["Put.Status"]);
    assert_eq!(rb.api_calls().len(), 2);
}

#[test]
fn json_documents_are_accepted() {
    let doc = json!({
        "schemaVersion": "0.3",
        "mainSteps": [{"name": "A", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}}]
    });
    let rb = Runbook::parse(&doc.to_string()).unwrap();
    assert_eq!(rb.first_step().name, "A");
}

#[test]
fn schema_version() {
    let e = err(&variant("schemaVersion: '0.3'", "schemaVersion: '2.2'"));
    assert_eq!(e.code(), "InvalidDocumentSchemaVersion");
    assert!(
        e.message().contains("2.2") && e.message().contains("0.3"),
        "{e}"
    );
    // An unquoted 0.3 (a YAML float) is still 0.3.
    Runbook::parse(&variant("schemaVersion: '0.3'", "schemaVersion: 0.3")).unwrap();
    content_err(
        &variant("schemaVersion: '0.3'\n", ""),
        "schemaVersion is required",
    );
}

#[test]
fn unparseable() {
    content_err("{ not json", "not valid JSON");
    content_err("a: [unclosed", "not valid YAML");
    content_err("- just\n- a list\n", "must be a JSON object");
}

#[test]
fn steps() {
    content_err(
        &variant("mainSteps:", "mainSteps: []\nunused:"),
        "Unknown top-level key unused",
    );
    content_err(
        "schemaVersion: '0.3'\nmainSteps: []\n",
        "mainSteps must contain at least one step",
    );
    content_err("schemaVersion: '0.3'\n", "mainSteps is required");
    content_err(
        &variant("name: Choose", "name: Put"),
        "Step name Put is used more than once",
    );
    content_err(
        &variant("name: Choose", "name: Bad-Name"),
        "Step name Bad-Name is invalid",
    );
    let e = err(&variant("action: aws:sleep", "action: aws:runCommand"));
    assert!(
        e.message().contains("aws:runCommand is not supported"),
        "{e}"
    );
    assert!(
        e.message().contains(
            "aws:executeAwsApi, aws:assertAwsResourceProperty, aws:waitForAwsResourceProperty, aws:branch, aws:sleep"
        ),
        "{e}"
    );
    content_err(
        &variant("action: aws:sleep", "action: sleep"),
        "not a valid action name",
    );
    content_err(
        &variant("    isEnd: true\n", "    isEnd: true\n    retries: 3\n"),
        "unknown property retries",
    );
    content_err(
        &variant("    isEnd: true\n", "    isEnd: maybe\n"),
        "isEnd must be a boolean",
    );
    content_err(
        &variant("onFailure: step:Recover", "maxAttempts: 0"),
        "maxAttempts must be an integer of at least 1",
    );
}

#[test]
fn targets() {
    content_err(
        &variant("onFailure: step:Recover", "onFailure: step:Nowhere"),
        "Step Put: onFailure refers to step Nowhere, which does not exist",
    );
    content_err(
        &variant("onFailure: step:Recover", "onFailure: Retry"),
        "onFailure value Retry is invalid",
    );
    content_err(
        &variant("    isEnd: true\n", "    nextStep: Nowhere\n"),
        "Step Wait: nextStep refers to step Nowhere",
    );
    content_err(
        &variant("- NextStep: Recover", "- NextStep: Nowhere"),
        "a Choice's NextStep refers to step Nowhere",
    );
    content_err(
        &variant("Default: Wait", "Default: Nowhere"),
        "Default refers to step Nowhere",
    );
}

#[test]
fn branch_operators() {
    let e = err(&variant(
        "StringEquals: Suspended",
        "StringMatches: Suspended",
    ));
    assert!(
        e.message().contains("unknown operator StringMatches"),
        "{e}"
    );
    assert!(
        e.message().contains("NumericGreaterOrEquals") && e.message().contains("BooleanEquals"),
        "{e}"
    );
    content_err(
        &variant(
            "StringEquals: Suspended",
            "StringEquals: Suspended\n          StartsWith: S",
        ),
        "exactly one operator",
    );
    content_err(
        &variant("          Variable: '{{ Mode }}'\n", ""),
        "StringEquals needs a Variable",
    );
    content_err(
        &variant("Choices:\n", "Choices: []\n      Unused:\n"),
        "Choices is required",
    );
    // And / Or / Not nest.
    Runbook::parse(&variant(
        "          Variable: '{{ Mode }}'\n          StringEquals: Suspended\n",
        "          Or:\n            - Variable: '{{ Mode }}'\n              StringEquals: Suspended\n            - Not:\n                Variable: '{{ Mode }}'\n                EqualsIgnoreCase: enabled\n",
    ))
    .unwrap();
    content_err(
        &variant(
            "          Variable: '{{ Mode }}'\n          StringEquals: Suspended\n",
            "          And:\n            - Variable: '{{ Mode }}'\n              Matches: x\n",
        ),
        "unknown operator Matches",
    );
}

#[test]
fn parameter_definitions() {
    let e = err(&variant(
        "type: String\n    description: (Required)",
        "type: Text\n    description: (Required)",
    ));
    assert!(e.message().contains("type Text is not supported"), "{e}");
    assert!(
        e.message()
            .contains("String, StringList, Integer, Boolean, MapList, StringMap"),
        "{e}"
    );
    content_err(
        &variant("    default: Enabled\n", "    default: [Enabled]\n"),
        "default value [\"Enabled\"] is not of type String",
    );
    content_err(
        &variant("allowedPattern: '^[a-z0-9.-]+$'", "allowedPattern: '^[a-z'"),
        "not a valid regular expression",
    );
    content_err(
        &variant("    type: String\n    default: ''", "    default: ''"),
        "Parameter AutomationAssumeRole: type is required",
    );
    content_err(
        &variant("    default: ''", "    default: ''\n    secret: true"),
        "unknown property secret",
    );
}

#[test]
fn document_outputs() {
    content_err(
        &variant("  - Put.Status", "  - Put.Missing"),
        "which step Put does not declare",
    );
    content_err(
        &variant("  - Put.Status", "  - Gone.Status"),
        "refers to step Gone",
    );
    content_err(
        &variant("  - Put.Status", "  - PutStatus"),
        "must have the form StepName.OutputName",
    );
}

#[test]
fn action_inputs() {
    content_err(
        &variant(
            "      Service: s3\n      Api: PutBucketVersioning\n",
            "      Service: s3\n",
        ),
        "input Api is required",
    );
    content_err(
        &variant("DesiredValues: ['{{ Mode }}']", "DesiredValues: []"),
        "DesiredValues is required",
    );
    content_err(
        &variant("PropertySelector: $.Status", "PropertySelector: Status"),
        "PropertySelector Status is invalid",
    );
    content_err(
        &variant("Selector: $.Status", "Selector: $..Status"),
        "invalid Selector",
    );
    content_err(
        &variant(
            "Type: String\n  - name: Choose",
            "Type: Text\n  - name: Choose",
        ),
        "type Text, which is not supported",
    );
    content_err(
        &variant("Duration: PT5S", "Duration: five seconds"),
        "not an ISO-8601 duration",
    );
    content_err(
        &variant("Duration: PT5S", "Duration: P8D"),
        "exceeds the maximum of 604799 seconds",
    );
    content_err(
        &variant(
            "Duration: PT5S",
            "Duration: PT5S\n      Timestamp: '2024-01-01T00:00:00Z'",
        ),
        "exactly one of Duration or Timestamp",
    );
    content_err(
        &variant("Bucket: '{{ BucketName }}'", "Bucket: '{{ssm:/bucket}}'"),
        "Parameter Store references",
    );
    content_err(
        &variant(
            "    action: aws:assertAwsResourceProperty\n",
            "    action: aws:assertAwsResourceProperty\n    outputs: []\n",
        ),
        "does not accept user outputs",
    );
}
