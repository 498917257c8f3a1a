//! Reading configuration items that users hand to remedy — through PutResourceConfig's envelope
//! form or `remedy import` — in either of AWS's two shapes:
//!
//! * the **API form** (GetResourceConfigHistory): `accountId`, `arn`, epoch-second times,
//!   `configuration` and supplementary values as strings holding JSON, relationships with
//!   `relationshipName`;
//! * the **notification form** (rule invocations, SNS, S3 snapshots): `awsAccountId`, `ARN`,
//!   ISO-8601 times, plain JSON objects, relationships with `name`.
//!
//! Both become one [`ParsedItem`]; which form a field came in is decided per field, so an item that
//! mixes them (a common hand-written case) still reads as the user meant.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::domain::{NewConfigurationItem, Relationship, STATUS_DELETED, STATUS_OK};

/// Whether configuration items of this type can be recorded: a value of the model's `ResourceType`
/// enum (AWS's own types) or a well-formed third-party type — the same set every read operation
/// accepts in its `resourceType` member.
pub fn recordable_resource_type(t: &str) -> bool {
    use remedy_wire::WireEnum;
    remedy_wire::config::ResourceType::from_wire(t).is_known()
}

/// S3's `AccessControlList` supplementary value is itself a JSON string (the API form encodes it
/// twice, the notification form once); remedy keeps it as that string whichever form it came in.
fn canonical_supplementary(resource_type: &str, key: &str, value: Value) -> Value {
    if resource_type == "AWS::S3::Bucket"
        && key == "AccessControlList"
        && !value.is_string()
        && !value.is_null()
    {
        return Value::String(value.to_string());
    }
    value
}

/// A configuration item read from user input, with the account and region it names (if any).
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedItem {
    pub account: Option<String>,
    pub region: Option<String>,
    pub item: NewConfigurationItem,
}

fn str_field(obj: &Map<String, Value>, names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| obj.get(*n).and_then(|v| v.as_str()).map(str::to_string))
}

fn time_field(obj: &Map<String, Value>, name: &str) -> Result<Option<f64>, String> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(Value::String(s)) => crate::time::parse_iso8601(s)
            .map(Some)
            .ok_or_else(|| format!("{name} {s:?} is neither epoch seconds nor an ISO-8601 time")),
        Some(_) => Err(format!("{name} must be a number or an ISO-8601 string")),
    }
}

/// A `configuration`-like value: a string holding JSON is decoded once; anything else is kept.
fn decode_document(v: &Value) -> Value {
    match v {
        Value::String(s) => serde_json::from_str(s).unwrap_or_else(|_| v.clone()),
        other => other.clone(),
    }
}

/// Parses one configuration item in API or notification form.
pub fn parse_item(value: &Value) -> Result<ParsedItem, String> {
    let obj = value
        .as_object()
        .ok_or("a configuration item must be a JSON object")?;
    let resource_type = str_field(obj, &["resourceType"]).ok_or("resourceType is required")?;
    let resource_id = str_field(obj, &["resourceId"]).ok_or("resourceId is required")?;
    if resource_type.is_empty() || resource_id.is_empty() {
        return Err("resourceType and resourceId must not be empty".into());
    }
    if !recordable_resource_type(&resource_type) {
        return Err(format!(
            "resourceType {resource_type:?} is neither an AWS resource type Config records nor a well-formed \
             third-party type (Provider::Service::Resource, provider not AWS, amzn, amazon, alexa or custom)"
        ));
    }
    if resource_id.chars().count() > 768 {
        return Err("resourceId is longer than 768 characters".into());
    }
    let account = str_field(obj, &["accountId", "awsAccountId"]);
    if let Some(a) = account
        .as_deref()
        .filter(|a| a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!("account id {a:?} is not 12 digits"));
    }
    let region = str_field(obj, &["awsRegion"]);
    if region.as_deref() == Some("") {
        return Err("awsRegion must not be empty".into());
    }
    let status = str_field(obj, &["configurationItemStatus"]);
    const STATUSES: [&str; 5] = [
        STATUS_OK,
        "ResourceDiscovered",
        "ResourceNotRecorded",
        STATUS_DELETED,
        "ResourceDeletedNotRecorded",
    ];
    if let Some(status) = status.as_deref().filter(|s| !STATUSES.contains(s)) {
        return Err(format!(
            "configurationItemStatus {status:?} is not one of {STATUSES:?}"
        ));
    }
    let tags = match obj.get("tags") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                let v = v
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string());
                (k.clone(), v)
            })
            .collect(),
        Some(_) => return Err("tags must be an object of strings".into()),
    };
    let relationships = match obj.get("relationships") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|r| {
                let r = r.as_object().ok_or("each relationship must be an object")?;
                Ok(Relationship {
                    resource_type: str_field(r, &["resourceType"]),
                    resource_id: str_field(r, &["resourceId"]),
                    resource_name: str_field(r, &["resourceName"]),
                    relationship_name: str_field(r, &["relationshipName", "name"]),
                })
            })
            .collect::<Result<_, String>>()?,
        Some(_) => return Err("relationships must be an array".into()),
    };
    let supplementary_configuration = match obj.get("supplementaryConfiguration") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    canonical_supplementary(&resource_type, k, decode_document(v)),
                )
            })
            .collect(),
        Some(_) => return Err("supplementaryConfiguration must be an object".into()),
    };
    Ok(ParsedItem {
        account,
        region,
        item: NewConfigurationItem {
            resource_name: str_field(obj, &["resourceName"]),
            arn: str_field(obj, &["arn", "ARN"]),
            availability_zone: str_field(obj, &["availabilityZone"]),
            resource_creation_time: time_field(obj, "resourceCreationTime")?,
            capture_time: time_field(obj, "configurationItemCaptureTime")?,
            status,
            configuration: obj
                .get("configuration")
                .map(decode_document)
                .unwrap_or(Value::Null),
            supplementary_configuration,
            tags,
            relationships,
            resource_type,
            resource_id,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_api_form_with_double_encoding() {
        let v = json!({
            "accountId": "111122223333", "awsRegion": "eu-west-1",
            "resourceType": "AWS::S3::Bucket", "resourceId": "b", "resourceName": "b",
            "configurationItemCaptureTime": 1700000000.5,
            "configuration": "{\"name\":\"b\"}",
            "supplementaryConfiguration": {"BucketVersioningConfiguration": "{\"status\":\"Off\"}",
                                            "AccessControlList": "\"{\\\"grantList\\\":[]}\""},
            "relationships": [{"resourceType": "AWS::EC2::VPC", "resourceId": "vpc-1", "relationshipName": "Is contained in Vpc"}]
        });
        let p = parse_item(&v).unwrap();
        assert_eq!(p.account.as_deref(), Some("111122223333"));
        assert_eq!(p.item.configuration, json!({"name": "b"}));
        assert_eq!(
            p.item.supplementary_configuration["BucketVersioningConfiguration"],
            json!({"status": "Off"})
        );
        // The second encoding of the ACL survives as a JSON string.
        assert_eq!(
            p.item.supplementary_configuration["AccessControlList"],
            json!("{\"grantList\":[]}")
        );
        assert_eq!(p.item.capture_time, Some(1700000000.5));
        assert_eq!(
            p.item.relationships[0].relationship_name.as_deref(),
            Some("Is contained in Vpc")
        );
    }

    #[test]
    fn reads_notification_form() {
        let v = json!({
            "awsAccountId": "111122223333", "ARN": "arn:aws:ec2:us-east-1:111122223333:security-group/sg-1",
            "resourceType": "AWS::EC2::SecurityGroup", "resourceId": "sg-1",
            "configurationItemCaptureTime": "2023-11-14T22:13:20.123Z",
            "configuration": {"groupId": "sg-1", "ipPermissions": []},
            "relationships": [{"resourceId": "vpc-1", "resourceType": "AWS::EC2::VPC", "name": "Is contained in Vpc"}]
        });
        let p = parse_item(&v).unwrap();
        assert_eq!(
            p.item.arn.as_deref(),
            Some("arn:aws:ec2:us-east-1:111122223333:security-group/sg-1")
        );
        assert_eq!(p.item.capture_time, Some(1_700_000_000.123));
        assert_eq!(p.item.configuration["groupId"], "sg-1");
        assert_eq!(
            p.item.relationships[0].relationship_name.as_deref(),
            Some("Is contained in Vpc")
        );
    }

    #[test]
    fn rejects_what_cannot_be_an_item() {
        assert!(parse_item(&json!([])).is_err());
        assert!(parse_item(&json!({"resourceType": "AWS::S3::Bucket"})).is_err());
        let t = "MyCompany::Widget::Thing";
        assert!(parse_item(&json!({"resourceType": t, "resourceId": "i"})).is_ok());
        assert!(parse_item(
            &json!({"resourceType": t, "resourceId": "i", "configurationItemStatus": "Bogus"})
        )
        .is_err());
        assert!(parse_item(&json!({"resourceType": t, "resourceId": "i", "configurationItemCaptureTime": "yesterday"})).is_err());
        assert!(parse_item(&json!({"resourceType": "Custom::A::B", "resourceId": "i"})).is_err());
        assert!(
            parse_item(&json!({"resourceType": "AWS::Nope::Thing", "resourceId": "i"})).is_err()
        );
        assert!(
            parse_item(&json!({"resourceType": t, "resourceId": "i", "accountId": "12345"}))
                .is_err()
        );
        assert!(parse_item(&json!({"resourceType": t, "resourceId": "i".repeat(769)})).is_err());
    }

    #[test]
    fn s3_acl_is_kept_as_a_json_string_in_either_form() {
        let acl = json!({"grantList": [], "owner": {"id": "abc"}});
        let api = json!({"resourceType": "AWS::S3::Bucket", "resourceId": "b",
            "supplementaryConfiguration": {"AccessControlList": Value::String(acl.to_string()).to_string()}});
        let notification_string = json!({"resourceType": "AWS::S3::Bucket", "resourceId": "b",
            "supplementaryConfiguration": {"AccessControlList": acl.to_string()}});
        let notification_object = json!({"resourceType": "AWS::S3::Bucket", "resourceId": "b",
            "supplementaryConfiguration": {"AccessControlList": acl.clone()}});
        for v in [api, notification_string, notification_object] {
            let p = parse_item(&v).unwrap();
            assert_eq!(
                p.item.supplementary_configuration["AccessControlList"],
                Value::String(acl.to_string()),
                "{v}"
            );
        }
    }
}
