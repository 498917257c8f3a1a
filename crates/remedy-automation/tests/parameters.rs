//! StartAutomationExecution parameter resolution, with SSM's messages.

use std::collections::BTreeMap;

use remedy_automation::Runbook;
use serde_json::json;

const DOC: &str = r#"
schemaVersion: '0.3'
parameters:
  Name:
    type: String
    allowedPattern: '^[a-z]+$'
    maxChars: 8
  Mode:
    type: String
    default: Enabled
    allowedValues: [Enabled, Suspended]
  Ids:
    type: StringList
    default: []
    allowedPattern: '^sg-[0-9a-f]+$'
    maxItems: 2
  Count:
    type: Integer
    default: 3
  Port:
    type: Integer
    default: '22'
    allowedValues: [22, 3389]
  Flag:
    type: Boolean
    default: true
  Tags:
    type: StringMap
    default: {}
  Rules:
    type: MapList
    default: []
mainSteps:
  - name: A
    action: aws:sleep
    inputs:
      Duration: PT1S
"#;

fn given(pairs: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
        .collect()
}

fn rb() -> Runbook {
    Runbook::parse(DOC).unwrap()
}

fn refused(pairs: &[(&str, &[&str])]) -> String {
    let e = rb().resolve_parameters(&given(pairs)).unwrap_err();
    assert_eq!(e.code(), "InvalidAutomationExecutionParametersException");
    e.message
}

#[test]
fn defaults_and_types() {
    let p = rb()
        .resolve_parameters(&given(&[("Name", &["abc"])]))
        .unwrap();
    assert_eq!(p.get("Name"), Some(&json!("abc")));
    assert_eq!(p.get("Mode"), Some(&json!("Enabled")));
    assert_eq!(p.get("Ids"), Some(&json!([])));
    assert_eq!(p.get("Count"), Some(&json!(3)));
    assert_eq!(
        p.get("Port"),
        Some(&json!(22)),
        "string default of an Integer becomes a number"
    );
    assert_eq!(p.get("Flag"), Some(&json!(true)));
    assert_eq!(p.get("Tags"), Some(&json!({})));
    assert_eq!(p.get("Rules"), Some(&json!([])));
    // An empty list counts as not given.
    let p = rb()
        .resolve_parameters(&given(&[("Name", &["abc"]), ("Mode", &[])]))
        .unwrap();
    assert_eq!(p.get("Mode"), Some(&json!("Enabled")));
}

#[test]
fn given_values_are_typed() {
    let p = rb()
        .resolve_parameters(&given(&[
            ("Name", &["abc"]),
            ("Mode", &["Suspended"]),
            ("Ids", &["sg-1", "sg-2"]),
            ("Count", &["42"]),
            ("Port", &["3389"]),
            ("Flag", &["False"]),
            ("Tags", &[r#"{"team":"a"}"#]),
            ("Rules", &[r#"{"a":1}"#, r#"{"b":2}"#]),
        ]))
        .unwrap();
    assert_eq!(p.get("Ids"), Some(&json!(["sg-1", "sg-2"])));
    assert_eq!(p.get("Count"), Some(&json!(42)));
    assert_eq!(p.get("Port"), Some(&json!(3389)));
    assert_eq!(p.get("Flag"), Some(&json!(false)));
    assert_eq!(p.get("Tags"), Some(&json!({"team": "a"})));
    assert_eq!(p.get("Rules"), Some(&json!([{"a": 1}, {"b": 2}])));
    let ssm = p.to_ssm_strings();
    assert_eq!(ssm["Flag"], ["False"]);
    assert_eq!(ssm["Ids"], ["sg-1", "sg-2"]);
    assert_eq!(ssm["Count"], ["42"]);
    // A MapList may also come as one JSON array text.
    let p = rb()
        .resolve_parameters(&given(&[
            ("Name", &["abc"]),
            ("Rules", &[r#"[{"a":1},{"b":2}]"#]),
        ]))
        .unwrap();
    assert_eq!(p.get("Rules"), Some(&json!([{"a": 1}, {"b": 2}])));
}

#[test]
fn missing_and_unknown() {
    assert_eq!(
        refused(&[]),
        "Missing required parameter: Name in user inputs."
    );
    let m = refused(&[("Name", &["abc"]), ("Bogus", &["x"])]);
    assert_eq!(m, "Parameter Bogus is not defined in the document.");
}

#[test]
fn allowed_values_and_patterns() {
    assert_eq!(
        refused(&[("Name", &["abc"]), ("Mode", &["On"])]),
        r#"Parameter "Mode" has value "On" not found in [Enabled, Suspended]."#
    );
    assert_eq!(
        refused(&[("Name", &["ABC"])]),
        r#"Parameter "Name" has value "ABC" that does not match the allowed pattern ^[a-z]+$."#
    );
    let m = refused(&[("Name", &["abc"]), ("Ids", &["sg-1", "vpc-2"])]);
    assert!(m.contains(r#"value "vpc-2""#), "{m}");
    let m = refused(&[("Name", &["abc"]), ("Port", &["80"])]);
    assert!(
        m.contains(r#"Parameter "Port" has value "80" not found in [22, 3389]"#),
        "{m}"
    );
    let m = refused(&[("Name", &["abcdefghij"])]);
    assert!(m.contains("10 characters"), "{m}");
    let m = refused(&[("Name", &["abc"]), ("Ids", &["sg-1", "sg-2", "sg-3"])]);
    assert!(m.contains(r#"Parameter "Ids" has 3 items"#), "{m}");
}

#[test]
fn bad_types() {
    let m = refused(&[("Name", &["abc", "def"])]);
    assert_eq!(
        m,
        r#"Parameter "Name" is of type String and takes exactly one value, 2 given."#
    );
    let m = refused(&[("Name", &["abc"]), ("Count", &["three"])]);
    assert_eq!(
        m,
        r#"Parameter "Count" has value "three" that is not a valid Integer."#
    );
    let m = refused(&[("Name", &["abc"]), ("Flag", &["yes"])]);
    assert_eq!(
        m,
        r#"Parameter "Flag" has value "yes" that is not a valid Boolean."#
    );
    let m = refused(&[("Name", &["abc"]), ("Tags", &["[1]"])]);
    assert!(m.contains("not a valid StringMap"), "{m}");
    let m = refused(&[("Name", &["abc"]), ("Rules", &["nope"])]);
    assert!(m.contains("not a valid MapList"), "{m}");
}

#[test]
fn parameter_store_defaults_are_reported() {
    let doc = DOC.replace("    default: Enabled\n", "    default: '{{ssm:/mode}}'\n");
    let rb = Runbook::parse(&doc).unwrap();
    let e = rb
        .resolve_parameters(&given(&[("Name", &["abc"])]))
        .unwrap_err();
    assert_eq!(e.parameter, "Mode");
    assert!(e.message.contains("Parameter Store"), "{}", e.message);
    // Given explicitly, no lookup is needed.
    rb.resolve_parameters(&given(&[("Name", &["abc"]), ("Mode", &["Enabled"])]))
        .unwrap();
}
