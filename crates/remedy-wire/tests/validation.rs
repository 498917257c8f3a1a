use remedy_wire::config::*;
use remedy_wire::{config, decode, ssm, DecodeError};

fn validation<T: serde::de::DeserializeOwned + remedy_wire::Validate + std::fmt::Debug>(
    body: &str,
) -> String {
    match decode::<T>(body.as_bytes()) {
        Err(DecodeError::Validation(m)) => m,
        other => panic!("expected a validation error for {body}, got {other:?}"),
    }
}

fn serialization<T: serde::de::DeserializeOwned + remedy_wire::Validate + std::fmt::Debug>(
    body: &str,
) -> String {
    match decode::<T>(body.as_bytes()) {
        Err(DecodeError::Serialization(m)) => m,
        other => panic!("expected a serialization error for {body}, got {other:?}"),
    }
}

fn ok<T: serde::de::DeserializeOwned + remedy_wire::Validate + std::fmt::Debug>(body: &str) -> T {
    match decode::<T>(body.as_bytes()) {
        Ok(v) => v,
        Err(e) => panic!("expected {body} to decode, got {e:?}"),
    }
}

#[test]
fn all_patterns_compile() {
    for (model, rust) in config::PATTERNS.iter().chain(ssm::PATTERNS) {
        let full = format!("^(?:{rust})$");
        assert!(
            regex::Regex::new(&full).is_ok(),
            "pattern {model:?} -> {rust:?} does not compile"
        );
    }
    assert!(config::force_patterns() > 0);
    assert!(ssm::force_patterns() > 0);
}

#[test]
fn two_errors_in_member_order() {
    assert_eq!(
        validation::<StartRemediationExecutionRequest>(r#"{"ResourceKeys":[]}"#),
        "2 validation errors detected: Value null at 'configRuleName' failed to satisfy constraint: \
         Member must not be null; Value '[]' at 'resourceKeys' failed to satisfy constraint: \
         Member must have length greater than or equal to 1"
    );
}

#[test]
fn single_error_wording() {
    assert_eq!(
        validation::<DeleteConfigRuleRequest>("{}"),
        "1 validation error detected: Value null at 'configRuleName' failed to satisfy constraint: \
         Member must not be null"
    );
}

#[test]
fn string_length_boundaries() {
    let name128 = "a".repeat(128);
    let req: DeleteConfigRuleRequest = ok(&format!(r#"{{"ConfigRuleName":"{name128}"}}"#));
    assert_eq!(req.config_rule_name.as_deref(), Some(name128.as_str()));

    let name129 = "a".repeat(129);
    assert_eq!(
        validation::<DeleteConfigRuleRequest>(&format!(r#"{{"ConfigRuleName":"{name129}"}}"#)),
        format!(
            "1 validation error detected: Value '{name129}' at 'configRuleName' failed to satisfy \
             constraint: Member must have length less than or equal to 128"
        )
    );
    // Unicode characters count as one each.
    let uni = "é".repeat(128);
    ok::<DeleteConfigRuleRequest>(&format!(r#"{{"ConfigRuleName":"{uni}"}}"#));
}

#[test]
fn pattern_violation() {
    assert_eq!(
        validation::<DeleteConfigRuleRequest>(r#"{"ConfigRuleName":"   "}"#),
        "1 validation error detected: Value '   ' at 'configRuleName' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: .*\\S.*"
    );
}

#[test]
fn length_and_pattern_both_reported() {
    let blank = " ".repeat(129);
    assert_eq!(
        validation::<DeleteConfigRuleRequest>(&format!(r#"{{"ConfigRuleName":"{blank}"}}"#)),
        format!(
            "2 validation errors detected: Value '{blank}' at 'configRuleName' failed to satisfy constraint: \
             Member must have length less than or equal to 128; Value '{blank}' at 'configRuleName' failed \
             to satisfy constraint: Member must satisfy regular expression pattern: .*\\S.*"
        )
    );
}

#[test]
fn empty_string_below_min() {
    assert_eq!(
        validation::<DeleteConfigRuleRequest>(r#"{"ConfigRuleName":""}"#),
        "2 validation errors detected: Value '' at 'configRuleName' failed to satisfy constraint: \
         Member must have length greater than or equal to 1; Value '' at 'configRuleName' failed to \
         satisfy constraint: Member must satisfy regular expression pattern: .*\\S.*"
    );
}

#[test]
fn unknown_enum_value() {
    let msg =
        validation::<ListDiscoveredResourcesRequest>(r#"{"resourceType":"AWS::Nope::Thing"}"#);
    assert!(
        msg.starts_with(
            "1 validation error detected: Value 'AWS::Nope::Thing' at 'resourceType' failed to satisfy \
             constraint: Member must satisfy enum value set: [AWS::EC2::CustomerGateway, AWS::EC2::EIP, "
        ),
        "{msg}"
    );
    assert!(msg.ends_with(']'), "{msg}");
    let req: ListDiscoveredResourcesRequest = ok(r#"{"resourceType":"AWS::S3::Bucket"}"#);
    assert_eq!(req.resource_type, Some(ResourceType::AwsS3Bucket));
}

#[test]
fn enum_in_list() {
    assert_eq!(
        validation::<DescribeComplianceByConfigRuleRequest>(r#"{"ComplianceTypes":["COMPLIANT","nope"]}"#),
        "1 validation error detected: Value 'nope' at 'complianceTypes.2.member' failed to satisfy \
         constraint: Member must satisfy enum value set: [COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE, \
         INSUFFICIENT_DATA]"
    );
}

#[test]
fn integer_range() {
    assert_eq!(
        validation::<ListDiscoveredResourcesRequest>(
            r#"{"resourceType":"AWS::S3::Bucket","limit":101}"#
        ),
        "1 validation error detected: Value '101' at 'limit' failed to satisfy constraint: \
         Member must have value less than or equal to 100"
    );
    assert_eq!(
        validation::<DescribeRemediationExceptionsRequest>(r#"{"ConfigRuleName":"r","Limit":101}"#),
        "1 validation error detected: Value '101' at 'limit' failed to satisfy constraint: \
         Member must have value less than or equal to 100"
    );
    assert_eq!(
        validation::<ListDiscoveredResourcesRequest>(
            r#"{"resourceType":"AWS::S3::Bucket","limit":-1}"#
        ),
        "1 validation error detected: Value '-1' at 'limit' failed to satisfy constraint: \
         Member must have value greater than or equal to 0"
    );
}

#[test]
fn nested_required_member() {
    assert_eq!(
        validation::<PutConfigRuleRequest>(
            r#"{"ConfigRule":{"ConfigRuleName":"r","Source":{"SourceIdentifier":"X"}}}"#
        ),
        "1 validation error detected: Value null at 'configRule.source.owner' failed to satisfy \
         constraint: Member must not be null"
    );
    assert_eq!(
        validation::<PutConfigRuleRequest>(r#"{"ConfigRule":{"ConfigRuleName":"r"}}"#),
        "1 validation error detected: Value null at 'configRule.source' failed to satisfy \
         constraint: Member must not be null"
    );
}

#[test]
fn list_item_paths() {
    let msg = validation::<StartRemediationExecutionRequest>(
        r#"{"ConfigRuleName":"r","ResourceKeys":[
            {"resourceType":"AWS::S3::Bucket","resourceId":"a"},
            {"resourceType":"AWS::S3::Bucket","resourceId":"b"},
            {"resourceType":"AWS::S3::Bucket"}]}"#,
    );
    assert_eq!(
        msg,
        "1 validation error detected: Value null at 'resourceKeys.3.member.resourceId' failed to \
         satisfy constraint: Member must not be null"
    );
}

#[test]
fn list_length_violation_still_validates_items() {
    let mut keys: Vec<String> = (0..100)
        .map(|i| format!(r#"{{"resourceType":"AWS::S3::Bucket","resourceId":"r{i}"}}"#))
        .collect();
    keys.push(r#"{"resourceType":"AWS::S3::Bucket"}"#.into());
    let body = format!(
        r#"{{"ConfigRuleName":"r","ResourceKeys":[{}]}}"#,
        keys.join(",")
    );
    let msg = validation::<StartRemediationExecutionRequest>(&body);
    assert!(
        msg.starts_with(
            "2 validation errors detected: Value '[com.amazonaws.starling.dove.ResourceKey@"
        ),
        "{msg}"
    );
    assert!(msg.contains("' at 'resourceKeys' failed to satisfy constraint: Member must have length less than or equal to 100; "), "{msg}");
    assert!(msg.ends_with(
        "Value null at 'resourceKeys.101.member.resourceId' failed to satisfy constraint: Member must not be null"
    ));
}

#[test]
fn map_value_path() {
    let values: Vec<String> = (0..26).map(|i| format!("\"v{i}\"")).collect();
    let body = format!(
        r#"{{"RemediationConfigurations":[{{"ConfigRuleName":"r","TargetType":"SSM_DOCUMENT","TargetId":"doc",
            "Parameters":{{"AutomationAssumeRole":{{"StaticValue":{{"Values":[{}]}}}}}}}}]}}"#,
        values.join(",")
    );
    let rendered: Vec<String> = (0..26).map(|i| format!("v{i}")).collect();
    assert_eq!(
        validation::<PutRemediationConfigurationsRequest>(&body),
        format!(
            "1 validation error detected: Value '[{}]' at \
             'remediationConfigurations.1.member.parameters.AutomationAssumeRole.member.staticValue.values' \
             failed to satisfy constraint: Member must have length less than or equal to 25",
            rendered.join(", ")
        )
    );
}

#[test]
fn map_key_constraint() {
    let long_key = "k".repeat(257);
    let body = format!(
        r#"{{"RemediationConfigurations":[{{"ConfigRuleName":"r","TargetType":"SSM_DOCUMENT","TargetId":"doc",
            "Parameters":{{"{long_key}":{{"StaticValue":{{"Values":["x"]}}}}}}}}]}}"#
    );
    let msg = validation::<PutRemediationConfigurationsRequest>(&body);
    assert!(msg.starts_with(&format!(
        "1 validation error detected: Value '{{{long_key}=com.amazonaws.starling.dove.RemediationParameterValue@"
    )));
    assert!(msg.ends_with(
        "' at 'remediationConfigurations.1.member.parameters' failed to satisfy constraint: Map keys must \
         satisfy constraint: [Member must have length less than or equal to 256, Member must have length \
         greater than or equal to 1]"
    ));
}

#[test]
fn many_errors_are_all_reported() {
    let msg = validation::<PutEvaluationsRequest>(r#"{"Evaluations":[{},{}]}"#);
    assert!(msg.starts_with("9 validation errors detected: "), "{msg}");
    assert!(
        msg.contains("Value null at 'evaluations.1.member.complianceResourceType'"),
        "{msg}"
    );
    assert!(
        msg.contains("Value null at 'evaluations.2.member.orderingTimestamp'"),
        "{msg}"
    );
    assert!(msg.contains("Value null at 'resultToken'"), "{msg}");
}

#[test]
fn wrong_json_types_are_serialization_errors() {
    assert_eq!(
        serialization::<DescribeRemediationExceptionsRequest>(r#"{"Limit":"x"}"#),
        "STRING_VALUE can not be converted to an Integer"
    );
    assert_eq!(
        serialization::<DeleteConfigRuleRequest>("[]"),
        "Start of list found where not expected"
    );
    assert_eq!(
        serialization::<DeleteConfigRuleRequest>("\"x\""),
        "Expected structure but found STRING_VALUE"
    );
    assert_eq!(
        serialization::<DeleteConfigRuleRequest>(r#"{"ConfigRuleName":{}}"#),
        "Start of structure or map found where not expected"
    );
    assert_eq!(
        serialization::<PutConfigRuleRequest>(r#"{"ConfigRule":[]}"#),
        "Start of list found where not expected"
    );
    assert_eq!(
        serialization::<DeleteConfigRuleRequest>(r#"{"ConfigRuleName":5}"#),
        "NUMBER_VALUE can not be converted to a String"
    );
    assert_eq!(
        serialization::<DescribeRemediationExceptionsRequest>(r#"{"Limit":1.5}"#),
        "Numeric value (1.5) can not be converted to an Integer"
    );
    let m = serialization::<DescribeRemediationExceptionsRequest>(r#"{"Limit":99999999999}"#);
    assert!(m.contains("99999999999"), "{m}");
    let m = serialization::<DeleteConfigRuleRequest>("{");
    assert!(m.contains("line 1"), "{m}");
    serialization::<DeleteConfigRuleRequest>("{} x");
    serialization::<DeleteConfigRuleRequest>("\u{feff}{}");
    assert!(matches!(
        decode::<DeleteConfigRuleRequest>(&[0xff, 0xfe]),
        Err(DecodeError::Serialization(_))
    ));
    serialization::<ListDiscoveredResourcesRequest>(r#"{"resourceType":1}"#);
    serialization::<ListDiscoveredResourcesRequest>(r#"{"includeDeletedResources":"true"}"#);
}

#[test]
fn empty_body_is_empty_object() {
    let req: DescribeConfigRulesRequest = ok("");
    assert_eq!(req, DescribeConfigRulesRequest::default());
    let req: DescribeConfigRulesRequest = ok("  \n\t ");
    assert_eq!(req, DescribeConfigRulesRequest::default());
    // Required members still apply.
    assert_eq!(
        validation::<DeleteConfigRuleRequest>(""),
        "1 validation error detected: Value null at 'configRuleName' failed to satisfy constraint: \
         Member must not be null"
    );
}

#[test]
fn nulls_and_unknown_members() {
    let req: DescribeConfigRulesRequest =
        ok(r#"{"ConfigRuleNames":null,"Whatever":[1,{"a":2}],"NextToken":"t"}"#);
    assert_eq!(req.config_rule_names, None);
    assert_eq!(req.next_token.as_deref(), Some("t"));
    assert_eq!(
        validation::<DeleteConfigRuleRequest>(r#"{"ConfigRuleName":null}"#),
        "1 validation error detected: Value null at 'configRuleName' failed to satisfy constraint: \
         Member must not be null"
    );
}

#[test]
fn deep_nesting_does_not_panic() {
    let body = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    serialization::<DeleteConfigRuleRequest>(&body);
    let body = format!(
        "{{\"x\":{}1{}}}",
        "{\"a\":".repeat(100_000),
        "}".repeat(100_000)
    );
    serialization::<DeleteConfigRuleRequest>(&body);
}

#[test]
fn valid_put_config_rule() {
    let req: PutConfigRuleRequest = ok(r#"{
        "ConfigRule": {
            "ConfigRuleName": "s3-versioning",
            "Scope": {"ComplianceResourceTypes": ["AWS::S3::Bucket"]},
            "Source": {"Owner": "AWS", "SourceIdentifier": "S3_BUCKET_VERSIONING_ENABLED"},
            "MaximumExecutionFrequency": "TwentyFour_Hours",
            "EvaluationModes": [{"Mode": "DETECTIVE"}]
        },
        "Tags": [{"Key": "team", "Value": "sec"}]
    }"#);
    let rule = req.config_rule.unwrap_or_default();
    assert_eq!(rule.source.and_then(|s| s.owner), Some(Owner::Aws));
    assert_eq!(
        rule.maximum_execution_frequency,
        Some(MaximumExecutionFrequency::TwentyFourHours)
    );
}

#[test]
fn ssm_validation() {
    assert_eq!(
        validation::<ssm::StartAutomationExecutionRequest>("{}"),
        "1 validation error detected: Value null at 'documentName' failed to satisfy constraint: \
         Member must not be null"
    );
    let msg = validation::<ssm::StartAutomationExecutionRequest>(r#"{"DocumentName":"a b"}"#);
    assert!(msg.starts_with("1 validation error detected: Value 'a b' at 'documentName' failed to satisfy constraint: Member must satisfy regular expression pattern: "), "{msg}");
    let ok_req: ssm::StartAutomationExecutionRequest =
        ok(r#"{"DocumentName":"AWS-RestartEC2Instance","Parameters":{"InstanceId":["i-123"]}}"#);
    assert_eq!(ok_req.parameters.map(|p| p.len()), Some(1));
}

#[test]
fn operations() {
    assert_eq!(config::TARGET_PREFIX, "StarlingDoveService");
    assert_eq!(config::SIGNING_NAME, "config");
    assert_eq!(ssm::TARGET_PREFIX, "AmazonSSM");
    assert_eq!(ssm::SIGNING_NAME, "ssm");
    assert_eq!(config::Operation::ALL.len(), 29);
    assert_eq!(ssm::Operation::ALL.len(), 13);
    for op in config::Operation::ALL {
        assert_eq!(config::Operation::from_name(op.name()), Some(*op));
    }
    for op in ssm::Operation::ALL {
        assert_eq!(ssm::Operation::from_name(op.name()), Some(*op));
    }
    assert_eq!(
        config::Operation::from_name("PutConfigRule"),
        Some(config::Operation::PutConfigRule)
    );
    assert_eq!(
        config::Operation::from_name("StarlingDoveService.PutConfigRule"),
        None
    );
    assert_eq!(
        config::Operation::PutConfigRule.input_shape(),
        Some("PutConfigRuleRequest")
    );
    assert_eq!(config::Operation::PutConfigRule.output_shape(), None);
    assert!(config::ERROR_SHAPES.contains(&"NoSuchConfigRuleException"));
    assert!(ssm::ERROR_SHAPES.contains(&"InvalidDocument"));
}
