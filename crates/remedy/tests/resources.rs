//! Recording and reading configuration items through the official SDK: PutResourceConfig (plain and
//! envelope forms), DeleteResourceConfig, GetResourceConfigHistory, BatchGetResourceConfig and
//! ListDiscoveredResources, with the API form of every item checked field by field.
//!
//! Documented choice: an out-of-range `limit` (101) on GetResourceConfigHistory and
//! ListDiscoveredResources is caught by remedy's model validation and answered with
//! `ValidationException` and the framework message (`Value '101' at 'limit' failed to satisfy
//! constraint: Member must have value less than or equal to 100`). AWS documents
//! `InvalidLimitException` for these operations; SDKs treat both as client errors.

mod common;

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use common::config::primitives::DateTime;
use common::config::types::{
    ChronologicalOrder, ConfigurationItemStatus, ResourceKey, ResourceType,
};
use common::*;
use serde_json::{json, Value};

const ACCOUNT: &str = "000000000000";

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn rt(s: &str) -> ResourceType {
    ResourceType::from(s)
}

fn key(t: &str, id: &str) -> ResourceKey {
    ResourceKey::builder()
        .resource_type(rt(t))
        .resource_id(id)
        .build()
        .unwrap()
}

fn parse(s: Option<&str>) -> Value {
    serde_json::from_str(s.expect("a JSON string")).expect("a string holding JSON")
}

async fn put(c: &config::Client, t: &str, id: &str, configuration: &Value) {
    c.put_resource_config()
        .resource_type(t)
        .schema_version_id("1")
        .resource_id(id)
        .configuration(configuration.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {t} {id}: {}", config::error::DisplayErrorContext(e)));
}

async fn put_envelope(c: &config::Client, t: &str, id: &str, item: &Value) {
    c.put_resource_config()
        .resource_type(t)
        .schema_version_id("ConfigurationItem")
        .resource_id(id)
        .configuration(item.to_string())
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "put envelope {t} {id}: {}",
                config::error::DisplayErrorContext(e)
            )
        });
}

async fn history(c: &config::Client, t: &str, id: &str) -> Vec<config::types::ConfigurationItem> {
    c.get_resource_config_history()
        .resource_type(rt(t))
        .resource_id(id)
        .limit(100)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "history {t} {id}: {}",
                config::error::DisplayErrorContext(e)
            )
        })
        .configuration_items()
        .to_vec()
}

fn state_id(ci: &config::types::ConfigurationItem) -> i64 {
    ci.configuration_state_id()
        .expect("configurationStateId")
        .parse()
        .expect("numeric state id")
}

#[tokio::test]
async fn plain_form_items_read_back_in_api_form() {
    let server = Server::start();
    let c = server.client();
    let before = now_secs();

    // An AWS type in plain form, put three times.
    let docs = [
        json!({"tableName": "orders", "v": 1}),
        json!({"tableName": "orders", "v": 2}),
        json!({"tableName": "orders", "v": 3}),
    ];
    for d in &docs {
        c.put_resource_config()
            .resource_type("AWS::DynamoDB::Table")
            .schema_version_id("1-0")
            .resource_id("orders")
            .resource_name("orders-name")
            .configuration(d.to_string())
            .tags("team", "data")
            .send()
            .await
            .unwrap();
    }
    let items = history(&c, "AWS::DynamoDB::Table", "orders").await;
    assert_eq!(items.len(), 3);
    // Reverse order by default: newest first, state ids strictly decreasing.
    for w in items.windows(2) {
        assert!(
            state_id(&w[0]) > state_id(&w[1]),
            "state ids must strictly increase over puts"
        );
    }
    let statuses: Vec<_> = items
        .iter()
        .map(|i| i.configuration_item_status().cloned())
        .collect();
    assert_eq!(
        statuses,
        vec![
            Some(ConfigurationItemStatus::Ok),
            Some(ConfigurationItemStatus::Ok),
            Some(ConfigurationItemStatus::ResourceDiscovered)
        ]
    );
    for (ci, doc) in items.iter().zip(docs.iter().rev()) {
        assert_eq!(ci.version(), Some("1.3"));
        assert_eq!(ci.account_id(), Some(ACCOUNT));
        assert_eq!(ci.aws_region(), Some("us-east-1"));
        assert_eq!(
            ci.resource_type().map(|t| t.as_str()),
            Some("AWS::DynamoDB::Table")
        );
        assert_eq!(ci.resource_id(), Some("orders"));
        assert_eq!(ci.resource_name(), Some("orders-name"));
        assert_eq!(parse(ci.configuration()), *doc);
        assert_eq!(
            ci.tags().unwrap().get("team").map(String::as_str),
            Some("data")
        );
        let t = ci
            .configuration_item_capture_time()
            .expect("capture time")
            .secs();
        assert!(
            t >= before - 1 && t <= now_secs() + 1,
            "capture time {t} is not now"
        );
        assert!(ci.related_events().is_empty());
        assert!(ci.relationships().is_empty());
        assert_eq!(ci.supplementary_configuration().map(HashMap::len), Some(0));
    }

    // A third-party type in plain form.
    put(
        &c,
        "MyCompany::Widget::Thing",
        "thing-1",
        &json!({"size": 3, "colour": "blue"}),
    )
    .await;
    put(
        &c,
        "MyCompany::Widget::Thing",
        "thing-1",
        &json!({"size": 4, "colour": "blue"}),
    )
    .await;

    // BatchGet returns the latest item of each known key, skips unknown keys, and reports an empty
    // unprocessed list.
    let out = c
        .batch_get_resource_config()
        .resource_keys(key("AWS::DynamoDB::Table", "orders"))
        .resource_keys(key("AWS::DynamoDB::Table", "no-such-table"))
        .resource_keys(key("AWS::S3::Bucket", "orders"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.base_configuration_items().len(), 1);
    let base = &out.base_configuration_items()[0];
    assert_eq!(base.resource_id(), Some("orders"));
    assert_eq!(base.version(), Some("1.3"));
    assert_eq!(base.account_id(), Some(ACCOUNT));
    assert_eq!(base.aws_region(), Some("us-east-1"));
    assert_eq!(
        base.configuration_item_status(),
        Some(&ConfigurationItemStatus::Ok)
    );
    assert_eq!(
        base.configuration_state_id(),
        items[0].configuration_state_id()
    );
    assert_eq!(parse(base.configuration()), docs[2]);
    assert!(base.configuration_item_capture_time().is_some());
    assert!(out.unprocessed_resource_keys().is_empty());
    // ...and the raw body really carries `unprocessedResourceKeys: []`.
    let raw = server.call(
        "StarlingDoveService.BatchGetResourceConfig",
        r#"{"resourceKeys":[{"resourceType":"AWS::DynamoDB::Table","resourceId":"orders"}]}"#,
    );
    assert_eq!(raw.status, 200);
    assert_eq!(raw.json()["unprocessedResourceKeys"], json!([]));
}

#[tokio::test]
async fn third_party_types_read_back() {
    let server = Server::start();
    let c = server.client();
    put(
        &c,
        "MyCompany::Widget::Thing",
        "thing-1",
        &json!({"size": 3}),
    )
    .await;
    put(
        &c,
        "MyCompany::Widget::Thing",
        "thing-1",
        &json!({"size": 4}),
    )
    .await;
    put(
        &c,
        "MyCompany::Widget::Thing",
        "thing-2",
        &json!({"size": 5}),
    )
    .await;
    let items = history(&c, "MyCompany::Widget::Thing", "thing-1").await;
    assert_eq!(items.len(), 2);
    assert_eq!(
        items[0].resource_type().map(|t| t.as_str()),
        Some("MyCompany::Widget::Thing")
    );
    assert_eq!(parse(items[0].configuration()), json!({"size": 4}));
    assert_eq!(
        items[1].configuration_item_status(),
        Some(&ConfigurationItemStatus::ResourceDiscovered)
    );
    let out = c
        .batch_get_resource_config()
        .resource_keys(key("MyCompany::Widget::Thing", "thing-2"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        parse(out.base_configuration_items()[0].configuration()),
        json!({"size": 5})
    );
    let listed = c
        .list_discovered_resources()
        .resource_type(rt("MyCompany::Widget::Thing"))
        .send()
        .await
        .unwrap();
    let ids: Vec<_> = listed
        .resource_identifiers()
        .iter()
        .filter_map(|r| r.resource_id())
        .collect();
    assert_eq!(ids, ["thing-1", "thing-2"]);
}

/// §6.2's S3 bucket in API form, with a `Tags` supplementary entry that BatchGet must strip.
fn s3_bucket_item() -> Value {
    let acl = json!({"grantSet": null, "grantList": [{"grantee": "AllUsers", "permission": "Read"}], "owner": {"displayName": null, "id": "abc123"}});
    // Encoded twice, as AWS does: a JSON string whose content is a JSON string.
    let acl_twice = Value::String(acl.to_string()).to_string();
    json!({
        "version": "1.3", "accountId": ACCOUNT, "configurationItemCaptureTime": 1700000000.123,
        "configurationItemStatus": "OK", "configurationStateId": "1700000000123", "configurationItemMD5Hash": "",
        "arn": "arn:aws:s3:::my-bucket", "resourceType": "AWS::S3::Bucket", "resourceId": "my-bucket", "resourceName": "my-bucket",
        "awsRegion": "us-east-1", "availabilityZone": "Regional", "resourceCreationTime": 1690000000.0,
        "tags": {"env": "prod"}, "relatedEvents": [], "relationships": [],
        "configuration": "{\"name\":\"my-bucket\",\"owner\":{\"displayName\":null,\"id\":\"abc123\"},\"creationDate\":\"2023-07-22T04:26:40.000Z\"}",
        "supplementaryConfiguration": {
            "AccessControlList": acl_twice,
            "BucketPolicy": "{\"policyText\":null}",
            "BucketVersioningConfiguration": "{\"status\":\"Off\",\"isMfaDeleteEnabled\":null}",
            "BucketLoggingConfiguration": "{\"destinationBucketName\":null,\"logFilePrefix\":null}",
            "IsRequesterPaysEnabled": "false",
            "Tags": "{\"env\":\"prod\"}"
        }
    })
}

/// §6.3's security group in notification form (plain objects, relationship `name`).
fn security_group_item() -> Value {
    json!({
        "configurationItemVersion": "1.3", "awsAccountId": ACCOUNT,
        "configurationItemCaptureTime": "2023-11-14T22:13:20.500Z",
        "resourceType": "AWS::EC2::SecurityGroup", "resourceId": "sg-0123456789abcdef0", "resourceName": "web",
        "ARN": "arn:aws:ec2:us-east-1:000000000000:security-group/sg-0123456789abcdef0", "availabilityZone": "Not Applicable",
        "configuration": {"ownerId": ACCOUNT, "groupName": "web", "groupId": "sg-0123456789abcdef0", "description": "web",
            "vpcId": "vpc-0a1b2c3d", "tags": [],
            "ipPermissions": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": ["0.0.0.0/0"],
                "ipv4Ranges": [{"cidrIp": "0.0.0.0/0"}], "ipv6Ranges": [], "prefixListIds": [], "userIdGroupPairs": []}],
            "ipPermissionsEgress": [{"ipProtocol": "-1", "ipRanges": ["0.0.0.0/0"], "ipv4Ranges": [{"cidrIp": "0.0.0.0/0"}],
                "ipv6Ranges": [], "prefixListIds": [], "userIdGroupPairs": []}]},
        "supplementaryConfiguration": {},
        "relationships": [{"resourceType": "AWS::EC2::VPC", "resourceId": "vpc-0a1b2c3d", "name": "Is contained in Vpc"}]
    })
}

/// Asserts an S3 item read back in API form (history or batch) against `s3_bucket_item()`.
fn assert_s3_supplementary(supp: &HashMap<String, String>, expect_tags: bool) {
    let input = s3_bucket_item();
    let want = input["supplementaryConfiguration"].as_object().unwrap();
    for (k, v) in want {
        if k == "Tags" && !expect_tags {
            assert!(
                !supp.contains_key("Tags"),
                "BatchGet must strip Tags from supplementaryConfiguration"
            );
            continue;
        }
        let got = supp
            .get(k)
            .unwrap_or_else(|| panic!("supplementary {k} missing"));
        // Each value is a string holding JSON; compare decoded.
        let got_json: Value =
            serde_json::from_str(got).unwrap_or_else(|_| panic!("{k} is not a JSON string: {got}"));
        let want_json: Value = serde_json::from_str(v.as_str().unwrap()).unwrap();
        assert_eq!(got_json, want_json, "supplementary {k}");
    }
    assert_eq!(supp.len(), want.len() - usize::from(!expect_tags));
    // The ACL is encoded twice: decoding once gives a string, decoding that gives the ACL object.
    let once: Value = serde_json::from_str(&supp["AccessControlList"]).unwrap();
    let acl: Value =
        serde_json::from_str(once.as_str().expect("ACL decodes to a string first")).unwrap();
    assert_eq!(acl["grantList"][0]["grantee"], "AllUsers");
    assert_eq!(supp["IsRequesterPaysEnabled"], "false");
}

#[tokio::test]
async fn envelope_form_s3_bucket_and_security_group() {
    let server = Server::start();
    let c = server.client();
    put_envelope(&c, "AWS::S3::Bucket", "my-bucket", &s3_bucket_item()).await;
    put_envelope(
        &c,
        "AWS::EC2::SecurityGroup",
        "sg-0123456789abcdef0",
        &security_group_item(),
    )
    .await;

    // S3 bucket through history.
    let items = history(&c, "AWS::S3::Bucket", "my-bucket").await;
    assert_eq!(items.len(), 1);
    let ci = &items[0];
    assert_eq!(ci.version(), Some("1.3"));
    assert_eq!(ci.account_id(), Some(ACCOUNT));
    assert_eq!(ci.aws_region(), Some("us-east-1"));
    assert_eq!(ci.arn(), Some("arn:aws:s3:::my-bucket"));
    assert_eq!(ci.resource_name(), Some("my-bucket"));
    assert_eq!(ci.availability_zone(), Some("Regional"));
    assert_eq!(
        ci.configuration_item_status(),
        Some(&ConfigurationItemStatus::Ok)
    );
    let capture = ci.configuration_item_capture_time().unwrap();
    assert_eq!(capture.secs(), 1700000000);
    // The SDK reads the number as an f64, so round to the millisecond.
    assert_eq!((capture.subsec_nanos() + 500_000) / 1_000_000, 123);
    assert_eq!(
        ci.resource_creation_time().map(|t| t.secs()),
        Some(1690000000)
    );
    assert_eq!(
        parse(ci.configuration()),
        json!({"name": "my-bucket", "owner": {"displayName": null, "id": "abc123"}, "creationDate": "2023-07-22T04:26:40.000Z"})
    );
    assert_eq!(
        ci.tags().unwrap().get("env").map(String::as_str),
        Some("prod")
    );
    assert_s3_supplementary(ci.supplementary_configuration().unwrap(), true);
    // The raw API body carries JSON *strings* and an epoch-seconds number, byte for byte for the ACL.
    let raw = server.call(
        "StarlingDoveService.GetResourceConfigHistory",
        r#"{"resourceType":"AWS::S3::Bucket","resourceId":"my-bucket"}"#,
    );
    let item = &raw.json()["configurationItems"][0];
    assert!(item["configuration"].is_string());
    assert!(item["configurationStateId"].is_string());
    assert_eq!(item["configurationItemCaptureTime"], json!(1700000000.123));
    assert!(item["supplementaryConfiguration"]
        .as_object()
        .unwrap()
        .values()
        .all(Value::is_string));
    assert_eq!(
        item["supplementaryConfiguration"]["AccessControlList"],
        s3_bucket_item()["supplementaryConfiguration"]["AccessControlList"]
    );

    // Security group: notification form in, API form out.
    let items = history(&c, "AWS::EC2::SecurityGroup", "sg-0123456789abcdef0").await;
    assert_eq!(items.len(), 1);
    let sg = &items[0];
    assert_eq!(sg.account_id(), Some(ACCOUNT));
    assert_eq!(
        sg.arn(),
        Some("arn:aws:ec2:us-east-1:000000000000:security-group/sg-0123456789abcdef0")
    );
    assert_eq!(sg.availability_zone(), Some("Not Applicable"));
    assert_eq!(
        sg.configuration_item_capture_time().unwrap().secs(),
        1700000000
    );
    assert_eq!(
        parse(sg.configuration()),
        security_group_item()["configuration"]
    );
    assert_eq!(sg.supplementary_configuration().map(HashMap::len), Some(0));
    assert_eq!(sg.relationships().len(), 1);
    let rel = &sg.relationships()[0];
    assert_eq!(
        rel.resource_type().map(|t| t.as_str()),
        Some("AWS::EC2::VPC")
    );
    assert_eq!(rel.resource_id(), Some("vpc-0a1b2c3d"));
    assert_eq!(rel.relationship_name(), Some("Is contained in Vpc"));
    // A second put of the same resource gets a greater state id and status OK.
    let mut changed = security_group_item();
    changed["configuration"]["description"] = json!("changed");
    changed
        .as_object_mut()
        .unwrap()
        .remove("configurationItemCaptureTime");
    put_envelope(
        &c,
        "AWS::EC2::SecurityGroup",
        "sg-0123456789abcdef0",
        &changed,
    )
    .await;
    let items = history(&c, "AWS::EC2::SecurityGroup", "sg-0123456789abcdef0").await;
    assert_eq!(items.len(), 2);
    assert!(state_id(&items[0]) > state_id(&items[1]));
    assert_eq!(parse(items[0].configuration())["description"], "changed");

    // BatchGet: no tags or relationships, Tags stripped from supplementary configuration.
    let out = c
        .batch_get_resource_config()
        .resource_keys(key("AWS::S3::Bucket", "my-bucket"))
        .resource_keys(key("AWS::EC2::SecurityGroup", "sg-0123456789abcdef0"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.base_configuration_items().len(), 2);
    let b = out
        .base_configuration_items()
        .iter()
        .find(|b| b.resource_id() == Some("my-bucket"))
        .unwrap();
    assert_s3_supplementary(b.supplementary_configuration().unwrap(), false);
    assert_eq!(b.arn(), Some("arn:aws:s3:::my-bucket"));
    let raw = server.call(
        "StarlingDoveService.BatchGetResourceConfig",
        r#"{"resourceKeys":[{"resourceType":"AWS::S3::Bucket","resourceId":"my-bucket"},{"resourceType":"AWS::EC2::SecurityGroup","resourceId":"sg-0123456789abcdef0"}]}"#,
    );
    for item in raw.json()["baseConfigurationItems"].as_array().unwrap() {
        for absent in [
            "tags",
            "relationships",
            "relatedEvents",
            "configurationItemMD5Hash",
        ] {
            assert!(
                item.get(absent).is_none(),
                "BatchGet item carries {absent}: {item}"
            );
        }
        assert!(item["configuration"].is_string());
    }

    // Envelopes that contradict the request or the caller are refused.
    let mut other_account = s3_bucket_item();
    other_account["accountId"] = json!("111111111111");
    let mut other_id = s3_bucket_item();
    other_id["resourceId"] = json!("other-bucket");
    for bad in [
        other_account,
        other_id,
        json!([1, 2]),
        json!({"resourceType": "AWS::S3::Bucket", "configurationItemStatus": "Bogus"}),
    ] {
        let err = c
            .put_resource_config()
            .resource_type("AWS::S3::Bucket")
            .schema_version_id("ConfigurationItem")
            .resource_id("my-bucket")
            .configuration(bad.to_string())
            .send()
            .await
            .unwrap_err();
        assert_eq!(error_code(&err), "ValidationException", "{bad}");
    }
    // Nothing of that was recorded.
    assert_eq!(history(&c, "AWS::S3::Bucket", "my-bucket").await.len(), 1);
}

async fn put_err(
    c: &config::Client,
    t: &str,
    version: &str,
    id: &str,
    configuration: &str,
) -> (String, String) {
    let err = c
        .put_resource_config()
        .resource_type(t)
        .schema_version_id(version)
        .resource_id(id)
        .configuration(configuration)
        .send()
        .await
        .expect_err("the put must fail");
    (error_code(&err), error_message(&err))
}

#[tokio::test]
async fn put_resource_config_constraints() {
    let server = Server::start();
    let c = server.client();
    const T: &str = "MyCompany::Widget::Thing";

    // ResourceId 768 ok, 769 refused with the framework message.
    let id768 = "i".repeat(768);
    put(&c, T, &id768, &json!({})).await;
    let id769 = "i".repeat(769);
    let (code, message) = put_err(&c, T, "1", &id769, "{}").await;
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        format!(
            "1 validation error detected: Value '{id769}' at 'resourceId' failed to satisfy constraint: \
             Member must have length less than or equal to 768"
        )
    );
    // SchemaVersionId pattern [A-Za-z0-9-]+.
    let (code, message) = put_err(&c, T, "1.0 beta", "x", "{}").await;
    assert_eq!(code, "ValidationException");
    assert!(message.contains("at 'schemaVersionId' failed to satisfy constraint: Member must satisfy regular expression pattern: [A-Za-z0-9-]+"), "{message}");
    put(&c, T, "schema-ok", &json!({})).await; // put() uses "1"
    c.put_resource_config()
        .resource_type(T)
        .schema_version_id("v-00000002")
        .resource_id("schema-ok")
        .configuration("{}")
        .send()
        .await
        .unwrap();
    // ResourceType 196 ok (three 64-character segments), 197 refused.
    let t196 = format!("{}::{}::{}", "A".repeat(64), "B".repeat(64), "C".repeat(64));
    assert_eq!(t196.len(), 196);
    put(&c, &t196, "x", &json!({})).await;
    let t197 = format!("{}::{}::{}", "A".repeat(64), "B".repeat(64), "C".repeat(65));
    let (code, message) = put_err(&c, &t197, "1", "x", "{}").await;
    assert_eq!(code, "ValidationException");
    assert!(message.contains("at 'resourceType' failed to satisfy constraint: Member must have length less than or equal to 196"), "{message}");
    // Reserved and malformed types.
    for t in [
        "amzn::Widget::Thing",
        "Custom::Widget::Thing",
        "AWS::Nope::Thing",
        "aws::s3::bucket",
        "Alexa::A::B",
        "amazon::A::B",
        "Widget",
        "A::B",
        "A::B::C::D",
        "A::B-c::D",
    ] {
        let (code, _) = put_err(&c, t, "1", "x", "{}").await;
        assert_eq!(code, "ValidationException", "{t}");
    }
    // Configuration must be a JSON object.
    for bad in ["{not json", "", "[1,2]", "42"] {
        let (code, _) = put_err(&c, T, "1", "bad-json", bad).await;
        assert_eq!(code, "ValidationException", "{bad:?}");
    }
    // 64 KiB ok, one byte more refused.
    let filler = |total: usize| {
        let base = json!({"pad": ""}).to_string().len();
        json!({"pad": "x".repeat(total - base)}).to_string()
    };
    let exact = filler(64 * 1024);
    assert_eq!(exact.len(), 65536);
    c.put_resource_config()
        .resource_type(T)
        .schema_version_id("1")
        .resource_id("big")
        .configuration(exact.clone())
        .send()
        .await
        .unwrap();
    let items = history(&c, T, "big").await;
    assert_eq!(items[0].configuration().map(str::len), Some(65536));
    let (code, _) = put_err(&c, T, "1", "too-big", &filler(64 * 1024 + 1)).await;
    assert_eq!(code, "ValidationException");
    // None of the refused puts were recorded.
    for id in ["bad-json", "too-big", "x"] {
        let err = c
            .get_resource_config_history()
            .resource_type(rt(T))
            .resource_id(id)
            .send()
            .await
            .unwrap_err();
        assert_eq!(error_code(&err), "ResourceNotDiscoveredException", "{id}");
    }
    // Missing required members (the SDK sends what it is given; use a raw call to be sure).
    let r = server.call(
        "StarlingDoveService.PutResourceConfig",
        r#"{"ResourceType":"MyCompany::Widget::Thing","SchemaVersionId":"1","ResourceId":"x"}"#,
    );
    assert_eq!(r.error_type(), "ValidationException");
    assert!(
        r.message().contains(
            "Value null at 'configuration' failed to satisfy constraint: Member must not be null"
        ),
        "{}",
        r.message()
    );
}

#[tokio::test]
async fn unknown_resource_type_is_an_enum_violation_on_reads() {
    let server = Server::start();
    let c = server.client();
    let err = c
        .get_resource_config_history()
        .resource_type(rt("AWS::Nope::Thing"))
        .resource_id("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ValidationException");
    let m = error_message(&err);
    assert!(
        m.starts_with("1 validation error detected: Value 'AWS::Nope::Thing' at 'resourceType' failed to satisfy constraint: Member must satisfy enum value set: [AWS::EC2::CustomerGateway, "),
        "{m}"
    );
    let err = c
        .list_discovered_resources()
        .resource_type(rt("bucket"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ValidationException");
    assert!(error_message(&err).contains("Value 'bucket' at 'resourceType' failed to satisfy constraint: Member must satisfy enum value set: ["));
    let err = c
        .batch_get_resource_config()
        .resource_keys(key("Custom::A::B", "x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ValidationException");
    assert!(error_message(&err).contains("at 'resourceKeys.1.member.resourceType' failed to satisfy constraint: Member must satisfy enum value set"));
}

#[tokio::test]
async fn max_active_custom_resources() {
    let server = Server::start_with(&["--max-custom-resources", "2"]);
    let c = server.client();
    const T: &str = "MyCompany::Widget::Thing";
    put(&c, T, "a", &json!({})).await;
    put(&c, T, "b", &json!({})).await;
    let (code, message) = put_err(&c, T, "1", "c", "{}").await;
    assert_eq!(code, "MaxActiveResourcesExceededException");
    assert!(!message.is_empty());
    // Updating an active one is fine; AWS types do not count.
    put(&c, T, "a", &json!({"v": 2})).await;
    put(&c, "AWS::S3::Bucket", "bucket", &json!({})).await;
    // Deleting frees a slot.
    c.delete_resource_config()
        .resource_type(T)
        .resource_id("b")
        .send()
        .await
        .unwrap();
    put(&c, T, "c", &json!({})).await;
    let (code, _) = put_err(&c, T, "1", "b", "{}").await;
    assert_eq!(code, "MaxActiveResourcesExceededException");
}

#[tokio::test]
async fn delete_resource_config_records_a_deleted_item() {
    let server = Server::start();
    let c = server.client();
    const T: &str = "AWS::S3::Bucket";
    put(&c, T, "doomed", &json!({"name": "doomed"})).await;
    put(&c, T, "kept", &json!({"name": "kept"})).await;
    put(&c, T, "doomed", &json!({"name": "doomed", "v": 2})).await;
    c.delete_resource_config()
        .resource_type(T)
        .resource_id("doomed")
        .send()
        .await
        .unwrap();

    let items = history(&c, T, "doomed").await;
    assert_eq!(items.len(), 3);
    assert_eq!(
        items[0].configuration_item_status(),
        Some(&ConfigurationItemStatus::ResourceDeleted)
    );
    assert!(state_id(&items[0]) > state_id(&items[1]));
    assert_eq!(items[0].account_id(), Some(ACCOUNT));
    assert!(items[0].configuration_item_capture_time().is_some());
    let forward = c
        .get_resource_config_history()
        .resource_type(rt(T))
        .resource_id("doomed")
        .chronological_order(ChronologicalOrder::Forward)
        .send()
        .await
        .unwrap();
    assert_eq!(
        forward
            .configuration_items()
            .last()
            .unwrap()
            .configuration_item_status(),
        Some(&ConfigurationItemStatus::ResourceDeleted)
    );

    // Gone from BatchGet and from ListDiscoveredResources, unless deleted ones are asked for.
    let out = c
        .batch_get_resource_config()
        .resource_keys(key(T, "doomed"))
        .resource_keys(key(T, "kept"))
        .send()
        .await
        .unwrap();
    let ids: Vec<_> = out
        .base_configuration_items()
        .iter()
        .filter_map(|b| b.resource_id())
        .collect();
    assert_eq!(ids, ["kept"]);
    let listed = c
        .list_discovered_resources()
        .resource_type(rt(T))
        .send()
        .await
        .unwrap();
    let ids: Vec<_> = listed
        .resource_identifiers()
        .iter()
        .filter_map(|r| r.resource_id())
        .collect();
    assert_eq!(ids, ["kept"]);
    assert!(listed.resource_identifiers()[0]
        .resource_deletion_time()
        .is_none());
    let listed = c
        .list_discovered_resources()
        .resource_type(rt(T))
        .include_deleted_resources(true)
        .send()
        .await
        .unwrap();
    let ids: Vec<_> = listed
        .resource_identifiers()
        .iter()
        .filter_map(|r| r.resource_id())
        .collect();
    assert_eq!(ids, ["doomed", "kept"]);
    let deleted = &listed.resource_identifiers()[0];
    let when = deleted
        .resource_deletion_time()
        .expect("resourceDeletionTime")
        .secs();
    assert_eq!(
        Some(when),
        items[0].configuration_item_capture_time().map(|t| t.secs())
    );
    assert!(listed.resource_identifiers()[1]
        .resource_deletion_time()
        .is_none());

    // Unknown and already-deleted resources are not discovered.
    for id in ["never-seen", "doomed"] {
        let err = c
            .delete_resource_config()
            .resource_type(T)
            .resource_id(id)
            .send()
            .await
            .unwrap_err();
        assert_eq!(error_code(&err), "ResourceNotDiscoveredException", "{id}");
        assert_eq!(
            error_message(&err),
            format!("Resource {id} of resourceType:{T} is unknown or has not been discovered")
        );
    }

    // A re-put brings the resource back as newly discovered.
    put(&c, T, "doomed", &json!({"name": "doomed", "v": 3})).await;
    let items = history(&c, T, "doomed").await;
    assert_eq!(items.len(), 4);
    assert_eq!(
        items[0].configuration_item_status(),
        Some(&ConfigurationItemStatus::ResourceDiscovered)
    );
    assert_eq!(parse(items[0].configuration())["v"], 3);
    let out = c
        .batch_get_resource_config()
        .resource_keys(key(T, "doomed"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.base_configuration_items().len(), 1);
    let listed = c
        .list_discovered_resources()
        .resource_type(rt(T))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.resource_identifiers().len(), 2);
}

#[tokio::test]
async fn history_order_paging_and_windows() {
    let server = Server::start();
    let c = server.client();
    const T: &str = "AWS::KMS::Key";
    for n in 0..25 {
        put(&c, T, "key-1", &json!({"n": n})).await;
    }
    let ns = |items: &[config::types::ConfigurationItem]| -> Vec<i64> {
        items
            .iter()
            .map(|i| parse(i.configuration())["n"].as_i64().unwrap())
            .collect()
    };

    // Default: Reverse, 10 items, with a token.
    let first = c
        .get_resource_config_history()
        .resource_type(rt(T))
        .resource_id("key-1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        ns(first.configuration_items()),
        (15..25).rev().collect::<Vec<_>>()
    );
    assert!(first.next_token().is_some());

    // Forward, limit 10: 10 / 10 / 5, the last page without a token.
    let mut pages = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = c
            .get_resource_config_history()
            .resource_type(rt(T))
            .resource_id("key-1")
            .chronological_order(ChronologicalOrder::Forward)
            .limit(10)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        pages.push(ns(out.configuration_items()));
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
        assert!(pages.len() < 5, "paging does not end");
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [10, 10, 5]);
    assert_eq!(pages.concat(), (0..25).collect::<Vec<_>>());

    // The SDK paginator, Reverse, limit 7.
    let all: Vec<_> = c
        .get_resource_config_history()
        .resource_type(rt(T))
        .resource_id("key-1")
        .limit(7)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(ns(&all), (0..25).rev().collect::<Vec<_>>());
    let ids: Vec<i64> = all.iter().map(state_id).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]));

    // limit 0 means the default (10).
    let out = c
        .get_resource_config_history()
        .resource_type(rt(T))
        .resource_id("key-1")
        .limit(0)
        .send()
        .await
        .unwrap();
    assert_eq!(out.configuration_items().len(), 10);
    assert!(out.next_token().is_some());

    // limit 100 ok, 101 refused (see the module doc for why ValidationException).
    let out = c
        .get_resource_config_history()
        .resource_type(rt(T))
        .resource_id("key-1")
        .limit(100)
        .send()
        .await
        .unwrap();
    assert_eq!(out.configuration_items().len(), 25);
    assert!(out.next_token().is_none());
    let err = c
        .get_resource_config_history()
        .resource_type(rt(T))
        .resource_id("key-1")
        .limit(101)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ValidationException");
    assert_eq!(
        error_message(&err),
        "1 validation error detected: Value '101' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100"
    );

    // Errors.
    let err = c
        .get_resource_config_history()
        .resource_type(rt(T))
        .resource_id("key-1")
        .earlier_time(DateTime::from_secs(2000))
        .later_time(DateTime::from_secs(1000))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidTimeRangeException");
    let err = c
        .get_resource_config_history()
        .resource_type(rt(T))
        .resource_id("key-2")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotDiscoveredException");
    assert_eq!(
        error_message(&err),
        format!("Resource key-2 of resourceType:{T} is unknown or has not been discovered")
    );
    let other_op_token = {
        for id in ["a", "b"] {
            put(&c, "AWS::S3::Bucket", id, &json!({})).await;
        }
        let out = c
            .list_discovered_resources()
            .resource_type(rt("AWS::S3::Bucket"))
            .limit(1)
            .send()
            .await
            .unwrap();
        out.next_token().expect("a list token").to_string()
    };
    for bad in ["garbage!", "eyJvcCI6IngifQ", other_op_token.as_str()] {
        let err = c
            .get_resource_config_history()
            .resource_type(rt(T))
            .resource_id("key-1")
            .next_token(bad)
            .send()
            .await
            .unwrap_err();
        assert_eq!(error_code(&err), "InvalidNextTokenException", "{bad}");
    }

    // Time windows, on items with known capture times (envelope form).
    for n in 0..6 {
        let item = json!({"configurationItemCaptureTime": 1_700_000_000 + n * 100, "configuration": {"n": n}});
        put_envelope(&c, "AWS::IAM::User", "AIDAWINDOW", &item).await;
    }
    let window = |earlier: Option<i64>, later: Option<i64>, order: ChronologicalOrder| {
        let c = c.clone();
        async move {
            let out = c
                .get_resource_config_history()
                .resource_type(rt("AWS::IAM::User"))
                .resource_id("AIDAWINDOW")
                .set_earlier_time(earlier.map(DateTime::from_secs))
                .set_later_time(later.map(DateTime::from_secs))
                .chronological_order(order)
                .send()
                .await
                .unwrap();
            out.configuration_items()
                .iter()
                .map(|i| parse(i.configuration())["n"].as_i64().unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        window(
            Some(1_700_000_100),
            Some(1_700_000_300),
            ChronologicalOrder::Forward
        )
        .await,
        [1, 2, 3]
    );
    assert_eq!(
        window(
            Some(1_700_000_150),
            Some(1_700_000_300),
            ChronologicalOrder::Reverse
        )
        .await,
        [3, 2]
    );
    assert_eq!(
        window(None, Some(1_700_000_100), ChronologicalOrder::Forward).await,
        [0, 1]
    );
    assert_eq!(
        window(Some(1_700_000_450), None, ChronologicalOrder::Forward).await,
        [5]
    );
    assert_eq!(
        window(
            Some(1_600_000_000),
            Some(1_600_000_001),
            ChronologicalOrder::Forward
        )
        .await,
        Vec::<i64>::new()
    );
}

#[tokio::test]
async fn list_discovered_resources_paging_and_filters() {
    let server = Server::start();
    let c = server.client();
    const T: &str = "AWS::S3::Bucket";
    for n in 0..7 {
        c.put_resource_config()
            .resource_type(T)
            .schema_version_id("1")
            .resource_id(format!("bucket-{n}"))
            .resource_name(if n % 2 == 0 { "even" } else { "odd" })
            .configuration("{}")
            .send()
            .await
            .unwrap();
    }
    put(&c, "AWS::EC2::SecurityGroup", "sg-1", &json!({})).await;

    // Default limit returns all, typed and named.
    let out = c
        .list_discovered_resources()
        .resource_type(rt(T))
        .send()
        .await
        .unwrap();
    assert_eq!(out.resource_identifiers().len(), 7);
    assert!(out.next_token().is_none());
    let first = &out.resource_identifiers()[0];
    assert_eq!(
        first.resource_type().map(|t| t.as_str()),
        Some("AWS::S3::Bucket")
    );
    assert_eq!(first.resource_id(), Some("bucket-0"));
    assert_eq!(first.resource_name(), Some("even"));

    // limit 3: 3 / 3 / 1.
    let mut pages = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = c
            .list_discovered_resources()
            .resource_type(rt(T))
            .limit(3)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        pages.push(
            out.resource_identifiers()
                .iter()
                .map(|r| r.resource_id().unwrap().to_string())
                .collect::<Vec<_>>(),
        );
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
        assert!(pages.len() < 5, "paging does not end");
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 1]);
    assert_eq!(
        pages.concat(),
        (0..7).map(|n| format!("bucket-{n}")).collect::<Vec<_>>()
    );
    // The SDK paginator agrees.
    let all: Vec<_> = c
        .list_discovered_resources()
        .resource_type(rt(T))
        .limit(2)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(all.len(), 7);

    // resourceIds: 20 ok (unknown ones ignored), 21 refused.
    let mut ids: Vec<String> = (0..18).map(|n| format!("unknown-{n}")).collect();
    ids.push("bucket-3".into());
    ids.push("bucket-5".into());
    let out = c
        .list_discovered_resources()
        .resource_type(rt(T))
        .set_resource_ids(Some(ids.clone()))
        .send()
        .await
        .unwrap();
    let got: Vec<_> = out
        .resource_identifiers()
        .iter()
        .filter_map(|r| r.resource_id())
        .collect();
    assert_eq!(got, ["bucket-3", "bucket-5"]);
    ids.push("bucket-6".into());
    let err = c
        .list_discovered_resources()
        .resource_type(rt(T))
        .set_resource_ids(Some(ids))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ValidationException");

    // resourceName filter.
    let out = c
        .list_discovered_resources()
        .resource_type(rt(T))
        .resource_name("odd")
        .send()
        .await
        .unwrap();
    let got: Vec<_> = out
        .resource_identifiers()
        .iter()
        .filter_map(|r| r.resource_id())
        .collect();
    assert_eq!(got, ["bucket-1", "bucket-3", "bucket-5"]);

    // Both filters at once.
    let err = c
        .list_discovered_resources()
        .resource_type(rt(T))
        .resource_ids("bucket-1")
        .resource_name("odd")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ValidationException");
    assert_eq!(
        error_message(&err),
        "Both Resource ID and Resource Name cannot be specified in the request"
    );

    // Limits and tokens.
    let out = c
        .list_discovered_resources()
        .resource_type(rt(T))
        .limit(100)
        .send()
        .await
        .unwrap();
    assert_eq!(out.resource_identifiers().len(), 7);
    let err = c
        .list_discovered_resources()
        .resource_type(rt(T))
        .limit(101)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ValidationException");
    let err = c
        .list_discovered_resources()
        .resource_type(rt(T))
        .next_token("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidNextTokenException");
    // Another type sees only its own.
    let out = c
        .list_discovered_resources()
        .resource_type(rt("AWS::EC2::SecurityGroup"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.resource_identifiers().len(), 1);
}

#[tokio::test]
async fn batch_get_key_limits() {
    let server = Server::start();
    let c = server.client();
    for n in 0..3 {
        put(&c, "AWS::S3::Bucket", &format!("b-{n}"), &json!({"n": n})).await;
    }
    let keys = |count: usize| -> Vec<ResourceKey> {
        (0..count)
            .map(|n| key("AWS::S3::Bucket", &format!("b-{n}")))
            .collect()
    };
    let out = c
        .batch_get_resource_config()
        .set_resource_keys(Some(keys(100)))
        .send()
        .await
        .unwrap();
    let mut got: Vec<_> = out
        .base_configuration_items()
        .iter()
        .filter_map(|b| b.resource_id())
        .collect();
    got.sort();
    assert_eq!(got, ["b-0", "b-1", "b-2"]);
    assert!(out.unprocessed_resource_keys().is_empty());
    let err = c
        .batch_get_resource_config()
        .set_resource_keys(Some(keys(101)))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ValidationException");
    assert!(
        error_message(&err).contains("at 'resourceKeys' failed to satisfy constraint: Member must have length less than or equal to 100"),
        "{}",
        error_message(&err)
    );
    let err = c
        .batch_get_resource_config()
        .set_resource_keys(Some(Vec::new()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ValidationException");
}
