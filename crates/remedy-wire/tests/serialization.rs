use remedy_wire::config::*;
use remedy_wire::{decode, encode, from_slice, ssm};
use serde_json::{json, Value};

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::from_slice(&encode(v)).unwrap_or(Value::Null)
}

#[test]
fn none_members_are_omitted() {
    assert_eq!(encode(&DescribeConfigRulesRequest::default()), b"{}");
    assert_eq!(encode(&PutConfigRuleResponseLike::default()), b"{}");
    let key = ResourceKey {
        resource_type: Some(ResourceType::AwsS3Bucket),
        resource_id: Some("b".into()),
    };
    assert_eq!(
        to_value(&key),
        json!({"resourceType": "AWS::S3::Bucket", "resourceId": "b"})
    );
}

// A zero-member structure still exists and serializes to `{}`.
type PutConfigRuleResponseLike = DeleteEvaluationResultsResponse;

#[test]
fn timestamps_are_numbers_and_enums_strings() {
    let item = ConfigurationItem {
        configuration_item_capture_time: Some(1_700_000_000.5),
        resource_creation_time: Some(1_600_000_000.0),
        configuration_item_status: Some(ConfigurationItemStatus::Ok),
        resource_type: Some(ResourceType::AwsEc2Instance),
        ..Default::default()
    };
    let v = to_value(&item);
    assert_eq!(v["configurationItemCaptureTime"], json!(1_700_000_000.5));
    assert!(v["resourceCreationTime"].is_number());
    assert_eq!(v["resourceCreationTime"].as_f64(), Some(1_600_000_000.0));
    assert_eq!(v["configurationItemStatus"], json!("OK"));
    assert_eq!(v["resourceType"], json!("AWS::EC2::Instance"));
    assert!(v.get("configuration").is_none());
}

#[test]
fn timestamps_accept_ints_and_floats() {
    let req: GetResourceConfigHistoryRequest = decode(
        br#"{"resourceType":"AWS::S3::Bucket","resourceId":"b","laterTime":1700000000,"earlierTime":1.5e9}"#,
    )
    .unwrap_or_default();
    assert_eq!(req.later_time, Some(1_700_000_000.0));
    assert_eq!(req.earlier_time, Some(1_500_000_000.0));
    assert_eq!(req.chronological_order, None);
}

#[test]
fn config_rule_round_trip() {
    let body = json!({
        "ConfigRuleName": "s3-versioning",
        "ConfigRuleArn": "arn:aws:config:us-east-1:123456789012:config-rule/config-rule-abc",
        "ConfigRuleId": "config-rule-abc",
        "Description": "",
        "Scope": {"ComplianceResourceTypes": ["AWS::S3::Bucket"], "TagKey": "k", "TagValue": "v"},
        "Source": {
            "Owner": "CUSTOM_LAMBDA",
            "SourceIdentifier": "arn:aws:lambda:us-east-1:123456789012:function:f",
            "SourceDetails": [{"EventSource": "aws.config", "MessageType": "ScheduledNotification",
                               "MaximumExecutionFrequency": "One_Hour"}]
        },
        "InputParameters": "{}",
        "MaximumExecutionFrequency": "Six_Hours",
        "ConfigRuleState": "ACTIVE",
        "EvaluationModes": [{"Mode": "DETECTIVE"}]
    });
    let text = serde_json::to_vec(&body).unwrap_or_default();
    let rule: ConfigRule = from_slice(&text).unwrap_or_default();
    assert_eq!(rule.config_rule_state, Some(ConfigRuleState::Active));
    let source = rule.source.clone().unwrap_or_default();
    assert_eq!(source.owner, Some(Owner::CustomLambda));
    let detail = source
        .source_details
        .unwrap_or_default()
        .into_iter()
        .next()
        .unwrap_or_default();
    assert_eq!(detail.event_source, Some(EventSource::AwsConfig));
    assert_eq!(
        detail.message_type,
        Some(MessageType::ScheduledNotification)
    );
    assert_eq!(
        detail.maximum_execution_frequency,
        Some(MaximumExecutionFrequency::OneHour)
    );
    assert_eq!(to_value(&rule), body);
    let again: ConfigRule = from_slice(&encode(&rule)).unwrap_or_default();
    assert_eq!(again, rule);
    assert!(remedy_wire::validate(&rule).is_ok());
}

#[test]
fn unknown_enum_values_round_trip() {
    let s: Source = from_slice(br#"{"Owner":"SOMEONE"}"#).unwrap_or_default();
    assert_eq!(s.owner, Some(Owner::Unrecognized("SOMEONE".into())));
    assert_eq!(to_value(&s), json!({"Owner": "SOMEONE"}));
    // Plain serde_json works too (e.g. for stored data).
    let s2: Source = serde_json::from_str(r#"{"Owner":"AWS"}"#).unwrap_or_default();
    assert_eq!(s2.owner, Some(Owner::Aws));
}

#[test]
fn enum_api() {
    assert_eq!(
        ComplianceType::VALUES,
        &[
            "COMPLIANT",
            "NON_COMPLIANT",
            "NOT_APPLICABLE",
            "INSUFFICIENT_DATA"
        ]
    );
    assert_eq!(
        ComplianceType::from_wire("NON_COMPLIANT"),
        ComplianceType::NonCompliant
    );
    assert_eq!(ComplianceType::NonCompliant.as_str(), "NON_COMPLIANT");
    assert_eq!(ComplianceType::NonCompliant.to_string(), "NON_COMPLIANT");
    assert_eq!(
        ComplianceType::from_wire("x"),
        ComplianceType::Unrecognized("x".into())
    );
    assert_eq!(RemediationTargetType::SsmDocument.as_str(), "SSM_DOCUMENT");
    assert_eq!(ResourceValueType::ResourceId.as_str(), "RESOURCE_ID");
    assert_eq!(ChronologicalOrder::Reverse.as_str(), "Reverse");
    assert_eq!(RemediationExecutionState::Unknown.as_str(), "UNKNOWN");
    for v in ResourceType::VALUES {
        assert_eq!(ResourceType::from_wire(v).as_str(), *v);
        assert!(
            !matches!(ResourceType::from_wire(v), ResourceType::Unrecognized(_)),
            "{v}"
        );
    }
}

#[test]
fn ssm_types() {
    let req: ssm::CreateDocumentRequest = decode(
        br#"{"Content":"{}","Name":"MyDoc","DocumentType":"Automation","DocumentFormat":"JSON"}"#,
    )
    .unwrap_or_default();
    assert_eq!(req.document_type, Some(ssm::DocumentType::Automation));
    assert_eq!(req.document_format, Some(ssm::DocumentFormat::Json));
    let exec = ssm::AutomationExecution {
        automation_execution_status: Some(ssm::AutomationExecutionStatus::InProgress),
        execution_start_time: Some(1.5),
        ..Default::default()
    };
    assert_eq!(
        to_value(&exec),
        json!({"AutomationExecutionStatus": "InProgress", "ExecutionStartTime": 1.5})
    );
}

/// Found by the `decode_request` fuzz target: a timestamp with more digits than an f64 holds must
/// parse to the nearest f64, so that what the server echoes back decodes to the same value.
#[test]
fn long_timestamps_round_trip_exactly() {
    let body = br#"{"resourceType":"AWS::S3::Bucket","resourceId":"w1","laterTime":1900000000777777777777777777777777777777777777777777777777777777777}"#;
    let first: remedy_wire::config::GetResourceConfigHistoryRequest =
        remedy_wire::decode(body).unwrap();
    let again: remedy_wire::config::GetResourceConfigHistoryRequest =
        remedy_wire::decode(&remedy_wire::encode(&first)).unwrap();
    assert_eq!(first, again);
}
