//! `remedy import FILE --data-dir DIR`: API-form and notification-form items loaded into the store
//! of a running server (beside it, through WAL) and of a stopped one, then read through the API;
//! malformed input fails as a whole with a clear message.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::config::types::{ConfigurationItemStatus, ResourceKey, ResourceType};
use common::*;
use serde_json::{json, Value};

fn import(data_dir: &Path, file: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_remedy"))
        .arg("import")
        .arg(file)
        .arg("--data-dir")
        .arg(data_dir)
        .args(extra)
        .env("REMEDY_LOG", "warn")
        .output()
        .expect("run remedy import")
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn acl() -> Value {
    json!({"grantSet": null, "grantList": [{"grantee": "AllUsers", "permission": "Read"}], "owner": {"displayName": null, "id": "abc123"}})
}

/// An S3 bucket in API form (strings holding JSON; the ACL encoded twice).
fn s3_api(id: &str) -> Value {
    json!({
        "version": "1.3", "accountId": "000000000000", "configurationItemCaptureTime": 1700000000.5,
        "configurationItemStatus": "OK", "configurationStateId": "1700000000500",
        "arn": format!("arn:aws:s3:::{id}"), "resourceType": "AWS::S3::Bucket", "resourceId": id, "resourceName": id,
        "awsRegion": "us-east-1", "availabilityZone": "Regional",
        "tags": {"env": "prod"}, "relationships": [],
        "configuration": json!({"name": id}).to_string(),
        "supplementaryConfiguration": {
            "AccessControlList": Value::String(acl().to_string()).to_string(),
            "BucketVersioningConfiguration": "{\"status\":\"Off\",\"isMfaDeleteEnabled\":null}"
        }
    })
}

/// An S3 bucket in notification form (objects; the ACL a string holding JSON, as AWS delivers it).
fn s3_notification(id: &str) -> Value {
    json!({
        "configurationItemVersion": "1.3", "awsAccountId": "000000000000",
        "configurationItemCaptureTime": "2023-11-14T22:13:20.000Z", "configurationItemStatus": "ResourceDiscovered",
        "ARN": format!("arn:aws:s3:::{id}"), "resourceType": "AWS::S3::Bucket", "resourceId": id, "resourceName": id,
        "awsRegion": "us-east-1", "availabilityZone": "Regional",
        "configuration": {"name": id},
        "supplementaryConfiguration": {
            "AccessControlList": acl().to_string(),
            "BucketVersioningConfiguration": {"status": "Enabled", "isMfaDeleteEnabled": null}
        }
    })
}

/// A security group in notification form.
fn sg_notification(id: &str) -> Value {
    json!({
        "configurationItemVersion": "1.3", "awsAccountId": "000000000000",
        "configurationItemCaptureTime": "2023-11-14T22:13:21.000Z",
        "ARN": format!("arn:aws:ec2:us-east-1:000000000000:security-group/{id}"),
        "resourceType": "AWS::EC2::SecurityGroup", "resourceId": id, "resourceName": "web", "awsRegion": "us-east-1",
        "availabilityZone": "Not Applicable",
        "configuration": {"groupId": id, "groupName": "web", "vpcId": "vpc-0a1b2c3d",
            "ipPermissions": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipv4Ranges": [{"cidrIp": "0.0.0.0/0"}]}]},
        "supplementaryConfiguration": {},
        "relationships": [{"resourceType": "AWS::EC2::VPC", "resourceId": "vpc-0a1b2c3d", "name": "Is contained in Vpc"}]
    })
}

fn parse(s: Option<&str>) -> Value {
    serde_json::from_str(s.expect("a JSON string")).expect("a string holding JSON")
}

async fn history(c: &config::Client, t: &str, id: &str) -> Vec<config::types::ConfigurationItem> {
    c.get_resource_config_history()
        .resource_type(ResourceType::from(t))
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

async fn assert_not_discovered(c: &config::Client, t: &str, id: &str) {
    let err = c
        .get_resource_config_history()
        .resource_type(ResourceType::from(t))
        .resource_id(id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_code(&err),
        "ResourceNotDiscoveredException",
        "{t} {id}"
    );
}

/// Checks the items `mixed_file` imports, as the API returns them.
async fn assert_mixed_items(c: &config::Client, suffix: &str) {
    let api_id = format!("api-bucket-{suffix}");
    let items = history(c, "AWS::S3::Bucket", &api_id).await;
    assert_eq!(items.len(), 1);
    let b = &items[0];
    assert_eq!(b.account_id(), Some("000000000000"));
    assert_eq!(b.aws_region(), Some("us-east-1"));
    assert_eq!(
        b.configuration_item_status(),
        Some(&ConfigurationItemStatus::Ok)
    );
    assert_eq!(
        b.configuration_item_capture_time().map(|t| t.secs()),
        Some(1700000000)
    );
    assert_eq!(b.arn(), Some(format!("arn:aws:s3:::{api_id}").as_str()));
    assert_eq!(parse(b.configuration()), json!({"name": api_id}));
    assert_eq!(b.tags().unwrap()["env"], "prod");
    let supp = b.supplementary_configuration().unwrap();
    assert_eq!(
        supp["AccessControlList"],
        s3_api("x")["supplementaryConfiguration"]["AccessControlList"]
            .as_str()
            .unwrap()
    );
    assert_eq!(
        parse(
            supp.get("BucketVersioningConfiguration")
                .map(String::as_str)
        )["status"],
        "Off"
    );

    let n_id = format!("notif-bucket-{suffix}");
    let items = history(c, "AWS::S3::Bucket", &n_id).await;
    assert_eq!(items.len(), 1);
    let n = &items[0];
    assert_eq!(
        n.configuration_item_status(),
        Some(&ConfigurationItemStatus::ResourceDiscovered)
    );
    assert_eq!(
        n.configuration_item_capture_time().map(|t| t.secs()),
        Some(1700000000)
    );
    assert_eq!(n.arn(), Some(format!("arn:aws:s3:::{n_id}").as_str()));
    assert_eq!(parse(n.configuration()), json!({"name": n_id}));
    let supp = n.supplementary_configuration().unwrap();
    // Notification form's once-encoded ACL comes out encoded twice, like AWS's API form.
    let once: Value = serde_json::from_str(&supp["AccessControlList"]).unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(once.as_str().expect("ACL decodes to a string")).unwrap(),
        acl()
    );
    assert_eq!(
        parse(
            supp.get("BucketVersioningConfiguration")
                .map(String::as_str)
        )["status"],
        "Enabled"
    );

    let sg_id = format!("sg-{suffix}");
    let items = history(c, "AWS::EC2::SecurityGroup", &sg_id).await;
    assert_eq!(items.len(), 1);
    let sg = &items[0];
    assert_eq!(
        sg.configuration_item_capture_time().map(|t| t.secs()),
        Some(1700000001)
    );
    assert_eq!(
        parse(sg.configuration()),
        sg_notification(&sg_id)["configuration"]
    );
    assert_eq!(sg.relationships().len(), 1);
    assert_eq!(
        sg.relationships()[0].relationship_name(),
        Some("Is contained in Vpc")
    );
    assert_eq!(sg.relationships()[0].resource_id(), Some("vpc-0a1b2c3d"));
    assert_eq!(sg.supplementary_configuration().map(|m| m.len()), Some(0));

    // BatchGet and ListDiscoveredResources see them too.
    let out = c
        .batch_get_resource_config()
        .resource_keys(
            ResourceKey::builder()
                .resource_type(ResourceType::from("AWS::S3::Bucket"))
                .resource_id(&api_id)
                .build()
                .unwrap(),
        )
        .resource_keys(
            ResourceKey::builder()
                .resource_type(ResourceType::from("AWS::EC2::SecurityGroup"))
                .resource_id(&sg_id)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(out.base_configuration_items().len(), 2);
    let listed = c
        .list_discovered_resources()
        .resource_type(ResourceType::from("AWS::S3::Bucket"))
        .resource_ids(&api_id)
        .resource_ids(&n_id)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.resource_identifiers().len(), 2);
}

fn mixed_file(suffix: &str) -> String {
    json!([
        s3_api(&format!("api-bucket-{suffix}")),
        s3_notification(&format!("notif-bucket-{suffix}")),
        sg_notification(&format!("sg-{suffix}")),
    ])
    .to_string()
}

#[tokio::test]
async fn import_into_a_running_server() {
    let server = Server::start();
    let c = server.client();
    // Something the server wrote itself first, so both processes share a live WAL.
    c.put_resource_config()
        .resource_type("AWS::S3::Bucket")
        .schema_version_id("1")
        .resource_id("pre-existing")
        .configuration("{}")
        .send()
        .await
        .unwrap();
    let files = tempfile::tempdir().unwrap();
    let file = write(files.path(), "items.json", &mixed_file("run"));
    let out = import(&server.data_dir, &file, &[]);
    assert!(
        out.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "imported 3 configuration items"
    );
    assert_mixed_items(&c, "run").await;
    assert_eq!(
        history(&c, "AWS::S3::Bucket", "pre-existing").await.len(),
        1
    );

    // A GetResourceConfigHistory response (newest first) imports in capture order, so history
    // reads back in the right order; items without an account go to --account/--region.
    let response = json!({"configurationItems": [
        {"resourceType": "AWS::KMS::Key", "resourceId": "k-1", "configurationItemCaptureTime": 1700000300.0, "configurationItemStatus": "OK", "configuration": "{\"n\":3}"},
        {"resourceType": "AWS::KMS::Key", "resourceId": "k-1", "configurationItemCaptureTime": 1700000200.0, "configurationItemStatus": "OK", "configuration": "{\"n\":2}"},
        {"resourceType": "AWS::KMS::Key", "resourceId": "k-1", "configurationItemCaptureTime": 1700000100.0, "configurationItemStatus": "ResourceDiscovered", "configuration": "{\"n\":1}"}
    ], "nextToken": "ignored"});
    let file = write(files.path(), "history.json", &response.to_string());
    let out = import(&server.data_dir, &file, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let items = history(&c, "AWS::KMS::Key", "k-1").await;
    let ns: Vec<_> = items
        .iter()
        .map(|i| parse(i.configuration())["n"].as_i64().unwrap())
        .collect();
    assert_eq!(ns, [3, 2, 1], "Reverse order must follow capture time");
    let ids: Vec<i64> = items
        .iter()
        .map(|i| i.configuration_state_id().unwrap().parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]));
    assert_eq!(
        items[2].configuration_item_status(),
        Some(&ConfigurationItemStatus::ResourceDiscovered)
    );
    assert_eq!(items[0].account_id(), Some("000000000000"));

    // JSON Lines, into another account/region, invisible to this caller.
    let lines = format!(
        "{}\n{}\n",
        json!({"resourceType": "MyCompany::Widget::Thing", "resourceId": "w-1", "configuration": {"a": 1}}),
        json!({"resourceType": "MyCompany::Widget::Thing", "resourceId": "w-2", "configuration": {"a": 2}})
    );
    let file = write(files.path(), "items.jsonl", &lines);
    let out = import(
        &server.data_dir,
        &file,
        &["--account", "111111111111", "--region", "eu-west-1"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_not_discovered(&c, "MyCompany::Widget::Thing", "w-1").await;
}

#[tokio::test]
async fn import_into_a_stopped_server() {
    let mut server = Server::start();
    server
        .client()
        .put_resource_config()
        .resource_type("AWS::S3::Bucket")
        .schema_version_id("1")
        .resource_id("before-stop")
        .configuration("{}")
        .send()
        .await
        .unwrap();
    server.kill();
    let files = tempfile::tempdir().unwrap();
    let file = write(files.path(), "items.json", &mixed_file("stopped"));
    let out = import(&server.data_dir, &file, &[]);
    assert!(
        out.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    server.restart();
    let c = server.client();
    assert_mixed_items(&c, "stopped").await;
    assert_eq!(history(&c, "AWS::S3::Bucket", "before-stop").await.len(), 1);

    // A data directory no server has used yet.
    let fresh = tempfile::tempdir().unwrap();
    let out = import(fresh.path(), &file, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server2 = Server::spawn(fresh.path(), &[]);
    assert_mixed_items(&server2.client(), "stopped").await;
}

#[tokio::test]
async fn malformed_input_writes_nothing() {
    let server = Server::start();
    let c = server.client();
    let files = tempfile::tempdir().unwrap();
    let good = s3_api("good-bucket");
    let cases: Vec<(&str, String, &str)> = vec![
        ("not-json.json", "{\"resourceType\": ".into(), "line 1"),
        ("number.json", "42".into(), "expected a configuration item"),
        ("missing-id.json", json!([good, {"resourceType": "AWS::S3::Bucket"}]).to_string(), "item 2: resourceId is required"),
        ("bad-status.json", json!([good, {"resourceType": "AWS::S3::Bucket", "resourceId": "b", "configurationItemStatus": "Gone"}]).to_string(), "item 2: configurationItemStatus \"Gone\""),
        ("bad-time.json", json!([good, {"resourceType": "AWS::S3::Bucket", "resourceId": "b", "configurationItemCaptureTime": "yesterday"}]).to_string(), "item 2: configurationItemCaptureTime"),
        ("bad-type.json", json!([good, {"resourceType": "Custom::Widget::Thing", "resourceId": "b"}]).to_string(), "item 2: resourceType \"Custom::Widget::Thing\""),
        ("bad-account.json", json!([good, {"resourceType": "AWS::S3::Bucket", "resourceId": "b", "accountId": "abc"}]).to_string(), "item 2: account id"),
        ("bad-lines.jsonl", format!("{good}\nnot json\n"), "line 2"),
        ("not-an-item.json", json!([good, 7]).to_string(), "item 2: a configuration item must be a JSON object"),
    ];
    for (name, text, expected) in &cases {
        let file = write(files.path(), name, text);
        let out = import(&server.data_dir, &file, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name} was accepted");
        assert!(stderr.starts_with("remedy: "), "{name}: {stderr}");
        assert!(
            stderr.contains(expected),
            "{name}: expected {expected:?} in {stderr:?}"
        );
        assert!(
            out.stdout.is_empty(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let out = import(&server.data_dir, &files.path().join("absent.json"), &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
    // The valid first item of every rejected file was not written.
    assert_not_discovered(&c, "AWS::S3::Bucket", "good-bucket").await;
    let listed = c
        .list_discovered_resources()
        .resource_type(ResourceType::from("AWS::S3::Bucket"))
        .send()
        .await
        .unwrap();
    assert!(listed.resource_identifiers().is_empty());
}
