//! SSM documents through the official SDK (aws-sdk-ssm) and raw signed requests: create, read,
//! describe, list, versions, default version, delete; YAML and JSON; AWS's errors for bad
//! documents and for every constraint at its boundary and one past it; the built-in runbooks as
//! Amazon-owned documents; a custom document run by a remediation configuration at its
//! TargetVersion; and durability across a restart.

mod common;

use std::time::{Duration, Instant};

use common::config::types::{
    RemediationConfiguration, RemediationExecutionState, RemediationExecutionStatus, ResourceType,
};
use common::ssm::types::{
    DocumentFilter, DocumentFilterKey, DocumentFormat, DocumentHashType, DocumentKeyValuesFilter,
    DocumentStatus, DocumentType, Tag,
};
use common::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const ACCOUNT: &str = "000000000000";

/// A custom runbook: enables versioning on a bucket; its one step is named `step`.
fn runbook_yaml(step: &str, description: &str) -> String {
    format!(
        r#"schemaVersion: '0.3'
description: {description}
assumeRole: '{{{{ AutomationAssumeRole }}}}'
parameters:
  BucketName:
    type: String
    description: (Required) The bucket.
  AutomationAssumeRole:
    type: String
    default: ''
  Attempts:
    type: Integer
    default: 3
  Tags:
    type: StringList
    default: [a, b]
mainSteps:
  - name: {step}
    action: aws:executeAwsApi
    inputs:
      Service: s3
      Api: PutBucketVersioning
      Bucket: '{{{{ BucketName }}}}'
      VersioningConfiguration:
        Status: Enabled
"#
    )
}

fn runbook_json(step: &str) -> Value {
    json!({
        "schemaVersion": "0.3",
        "description": "A JSON runbook",
        "parameters": {"BucketName": {"type": "String", "description": "The bucket."}},
        "mainSteps": [{
            "name": step, "action": "aws:executeAwsApi",
            "inputs": {"Service": "s3", "Api": "PutBucketVersioning", "Bucket": "{{ BucketName }}",
                       "VersioningConfiguration": {"Status": "Enabled"}}
        }]
    })
}

fn sha256(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A raw signed SSM call (for bodies the SDK will not send).
fn ssm_call(server: &Server, op: &str, body: &Value) -> Response {
    server.call_signed(
        &format!("AmazonSSM.{op}"),
        body.to_string().as_bytes(),
        "test",
        "test",
        REGION,
        "ssm",
    )
}

/// Asserts a raw call failed with `code`; returns the message.
fn expect_error(server: &Server, op: &str, body: &Value, code: &str) -> String {
    let r = ssm_call(server, op, body);
    assert_eq!(
        r.status,
        400,
        "{op} {body}: {} {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(r.error_type(), code, "{op} {body}: {}", r.message());
    r.message()
}

fn expect_ok(server: &Server, op: &str, body: &Value) -> Value {
    let r = ssm_call(server, op, body);
    assert_eq!(
        r.status,
        200,
        "{op} {body}: {}",
        String::from_utf8_lossy(&r.body)
    );
    r.json()
}

fn yaml_create(name: &str, content: &str) -> Value {
    json!({"Name": name, "Content": content, "DocumentType": "Automation", "DocumentFormat": "YAML"})
}

#[tokio::test]
async fn create_describe_and_get_in_yaml_and_json() {
    let server = Server::start();
    let s = server.ssm_client();
    let yaml = runbook_yaml("Enable", "Enables versioning");
    let out = s
        .create_document()
        .name("Team-EnableVersioning")
        .content(&yaml)
        .document_type(DocumentType::Automation)
        .document_format(DocumentFormat::Yaml)
        .display_name("Enable versioning")
        .version_name("release-1")
        .target_type("/AWS::S3::Bucket")
        .tags(
            Tag::builder()
                .key("team")
                .value("platform")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let d = out.document_description().unwrap();
    assert_eq!(d.name(), Some("Team-EnableVersioning"));
    assert_eq!(d.owner(), Some(ACCOUNT));
    assert_eq!(d.status(), Some(&DocumentStatus::Active));
    assert_eq!(d.document_version(), Some("1"));
    assert_eq!(d.default_version(), Some("1"));
    assert_eq!(d.latest_version(), Some("1"));
    assert_eq!(d.hash(), Some(sha256(&yaml).as_str()));
    assert_eq!(d.hash_type(), Some(&DocumentHashType::Sha256));
    assert_eq!(d.document_type(), Some(&DocumentType::Automation));
    assert_eq!(d.schema_version(), Some("0.3"));
    assert_eq!(d.document_format(), Some(&DocumentFormat::Yaml));
    assert_eq!(d.display_name(), Some("Enable versioning"));
    assert_eq!(d.version_name(), Some("release-1"));
    assert_eq!(d.target_type(), Some("/AWS::S3::Bucket"));
    assert_eq!(d.description(), Some("Enables versioning"));
    assert!(d.created_date().is_some());
    assert_eq!(d.tags().len(), 1);
    assert_eq!(
        (d.tags()[0].key(), d.tags()[0].value()),
        ("team", "platform")
    );
    let params: Vec<(String, String, Option<String>)> = d
        .parameters()
        .iter()
        .map(|p| {
            (
                p.name().unwrap().to_string(),
                p.r#type().unwrap().as_str().to_string(),
                p.default_value().map(str::to_string),
            )
        })
        .collect();
    assert_eq!(
        params,
        vec![
            ("Attempts".into(), "Integer".into(), Some("3".into())),
            (
                "AutomationAssumeRole".into(),
                "String".into(),
                Some("".into())
            ),
            ("BucketName".into(), "String".into(), None),
            (
                "Tags".into(),
                "StringList".into(),
                Some(r#"["a","b"]"#.into())
            ),
        ]
    );
    let bucket_param = d
        .parameters()
        .iter()
        .find(|p| p.name() == Some("BucketName"))
        .unwrap();
    assert_eq!(bucket_param.description(), Some("(Required) The bucket."));

    // DescribeDocument says the same.
    let described = s
        .describe_document()
        .name("Team-EnableVersioning")
        .send()
        .await
        .unwrap();
    assert_eq!(described.document(), Some(d));

    // GetDocument: the stored text as given, and converted on request.
    let got = s
        .get_document()
        .name("Team-EnableVersioning")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content(), Some(yaml.as_str()));
    assert_eq!(got.document_format(), Some(&DocumentFormat::Yaml));
    assert_eq!(got.document_type(), Some(&DocumentType::Automation));
    assert_eq!(got.document_version(), Some("1"));
    assert_eq!(got.version_name(), Some("release-1"));
    assert_eq!(got.display_name(), Some("Enable versioning"));
    assert_eq!(got.status(), Some(&DocumentStatus::Active));
    let as_json = s
        .get_document()
        .name("Team-EnableVersioning")
        .document_format(DocumentFormat::Json)
        .send()
        .await
        .unwrap();
    assert_eq!(as_json.document_format(), Some(&DocumentFormat::Json));
    let v: Value = serde_json::from_str(as_json.content().unwrap()).unwrap();
    assert_eq!(v["mainSteps"][0]["name"], "Enable");
    assert_eq!(v["parameters"]["Attempts"]["default"], 3);
    assert_eq!(v["parameters"]["Tags"]["default"], json!(["a", "b"]));
    assert_eq!(v["schemaVersion"], "0.3");

    // A JSON document, read back as YAML, is a document the server accepts again, and that
    // reads back as the same JSON.
    let original = runbook_json("FromJson");
    let out = s
        .create_document()
        .name("Team-Json")
        .content(original.to_string())
        .document_type(DocumentType::Automation)
        .document_format(DocumentFormat::Json)
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.document_description().unwrap().document_format(),
        Some(&DocumentFormat::Json)
    );
    let as_yaml = s
        .get_document()
        .name("Team-Json")
        .document_format(DocumentFormat::Yaml)
        .send()
        .await
        .unwrap();
    let yaml_text = as_yaml.content().unwrap().to_string();
    assert!(yaml_text.contains("mainSteps:"), "{yaml_text}");
    create_runbook(&s, "Team-Json-Again", &yaml_text).await;
    let back = s
        .get_document()
        .name("Team-Json-Again")
        .document_format(DocumentFormat::Json)
        .send()
        .await
        .unwrap();
    let back: Value = serde_json::from_str(back.content().unwrap()).unwrap();
    assert_eq!(back, original);

    // Default format of a write is JSON (AWS's default): YAML content without a format is refused.
    let err = s
        .create_document()
        .name("Team-NoFormat")
        .content(&yaml)
        .document_type(DocumentType::Automation)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidDocumentContent");
    assert!(
        error_message(&err).contains("not valid JSON"),
        "{}",
        error_message(&err)
    );

    // The ARN names the document too.
    let by_arn = s
        .describe_document()
        .name(format!(
            "arn:aws:ssm:us-east-1:{ACCOUNT}:document/Team-EnableVersioning"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        by_arn.document().unwrap().name(),
        Some("Team-EnableVersioning")
    );
    let err = s
        .describe_document()
        .name("arn:aws:ssm:eu-west-1:111111111111:document/Team-EnableVersioning")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidDocument");
}

#[tokio::test]
async fn versions_default_version_and_delete() {
    let server = Server::start();
    let s = server.ssm_client();
    let name = "Team-Versions";
    create_runbook(&s, name, &runbook_yaml("V1", "one")).await;

    // UpdateDocument adds version 2 (latest), the default stays 1.
    let v2 = runbook_yaml("V2", "two");
    let out = s
        .update_document()
        .name(name)
        .content(&v2)
        .document_format(DocumentFormat::Yaml)
        .document_version("$LATEST")
        .version_name("second")
        .send()
        .await
        .unwrap();
    let d = out.document_description().unwrap();
    assert_eq!(d.document_version(), Some("2"));
    assert_eq!(d.latest_version(), Some("2"));
    assert_eq!(d.default_version(), Some("1"));
    assert_eq!(d.hash(), Some(sha256(&v2).as_str()));
    assert_eq!(d.version_name(), Some("second"));

    // Describe/Get without a version: the default (1); $LATEST and numbers pick others.
    let default = s.describe_document().name(name).send().await.unwrap();
    assert_eq!(default.document().unwrap().document_version(), Some("1"));
    assert_eq!(default.document().unwrap().latest_version(), Some("2"));
    for (asked, want_step) in [
        ("$DEFAULT", "V1"),
        ("$LATEST", "V2"),
        ("1", "V1"),
        ("2", "V2"),
    ] {
        let got = s
            .get_document()
            .name(name)
            .document_version(asked)
            .send()
            .await
            .unwrap();
        assert!(
            got.content()
                .unwrap()
                .contains(&format!("name: {want_step}")),
            "{asked}"
        );
    }
    let by_version_name = s
        .get_document()
        .name(name)
        .version_name("second")
        .send()
        .await
        .unwrap();
    assert_eq!(by_version_name.document_version(), Some("2"));
    let err = s
        .get_document()
        .name(name)
        .version_name("second")
        .document_version("1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidDocumentVersion");
    for missing in ["3", "99"] {
        let err = s
            .get_document()
            .name(name)
            .document_version(missing)
            .send()
            .await
            .unwrap_err();
        assert_eq!(error_code(&err), "InvalidDocumentVersion", "{missing}");
        let err = s
            .describe_document()
            .name(name)
            .document_version(missing)
            .send()
            .await
            .unwrap_err();
        assert_eq!(error_code(&err), "InvalidDocumentVersion", "{missing}");
    }

    // Only the latest version can be updated.
    for stale in ["1", "$DEFAULT", "3"] {
        let err = s
            .update_document()
            .name(name)
            .content(runbook_yaml("V3", "three"))
            .document_format(DocumentFormat::Yaml)
            .document_version(stale)
            .send()
            .await
            .unwrap_err();
        assert_eq!(error_code(&err), "InvalidDocumentVersion", "{stale}");
        assert!(
            error_message(&err).contains("latest"),
            "{}",
            error_message(&err)
        );
    }
    // The same content as an existing version, or a version name in use: refused.
    for same in [runbook_yaml("V1", "one"), v2.clone()] {
        let err = s
            .update_document()
            .name(name)
            .content(same)
            .document_format(DocumentFormat::Yaml)
            .send()
            .await
            .unwrap_err();
        assert_eq!(error_code(&err), "DuplicateDocumentContent");
    }
    let err = s
        .update_document()
        .name(name)
        .content(runbook_yaml("V3", "three"))
        .document_format(DocumentFormat::Yaml)
        .version_name("second")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "DuplicateDocumentVersionName");
    // The numbered latest version works; DisplayName carries over when not given.
    let out = s
        .update_document()
        .name(name)
        .content(runbook_yaml("V3", "three"))
        .document_format(DocumentFormat::Yaml)
        .document_version("2")
        .display_name("Third")
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.document_description().unwrap().document_version(),
        Some("3")
    );
    let out = s
        .update_document()
        .name(name)
        .content(runbook_json("V4").to_string())
        .document_format(DocumentFormat::Json)
        .send()
        .await
        .unwrap();
    let d = out.document_description().unwrap();
    assert_eq!(d.document_version(), Some("4"));
    assert_eq!(d.display_name(), Some("Third"));
    assert_eq!(d.document_format(), Some(&DocumentFormat::Json));

    // UpdateDocumentDefaultVersion.
    let out = s
        .update_document_default_version()
        .name(name)
        .document_version("2")
        .send()
        .await
        .unwrap();
    let desc = out.description().unwrap();
    assert_eq!(
        (
            desc.name(),
            desc.default_version(),
            desc.default_version_name()
        ),
        (Some(name), Some("2"), Some("second"))
    );
    let d = s.describe_document().name(name).send().await.unwrap();
    assert_eq!(d.document().unwrap().document_version(), Some("2"));
    assert_eq!(d.document().unwrap().default_version(), Some("2"));
    let err = s
        .update_document_default_version()
        .name(name)
        .document_version("5")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidDocumentVersion");
    let err = s
        .update_document_default_version()
        .name("Team-Nope")
        .document_version("1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidDocument");

    // ListDocumentVersions, paged one at a time.
    let mut versions = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = s
            .list_document_versions()
            .name(name)
            .max_results(1)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        assert!(out.document_versions().len() <= 1);
        for v in out.document_versions() {
            versions.push((
                v.document_version().unwrap().to_string(),
                v.is_default_version(),
                v.version_name().map(str::to_string),
                v.document_format().unwrap().as_str().to_string(),
            ));
            assert_eq!(v.name(), Some(name));
            assert_eq!(v.status(), Some(&DocumentStatus::Active));
        }
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(
        versions,
        vec![
            ("1".into(), false, None, "YAML".into()),
            ("2".into(), true, Some("second".into()), "YAML".into()),
            ("3".into(), false, None, "YAML".into()),
            ("4".into(), false, None, "JSON".into()),
        ]
    );

    // DeleteDocument of one version: not the default; a missing one is InvalidDocument.
    let err = s
        .delete_document()
        .name(name)
        .document_version("2")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidDocumentOperation");
    let err = s
        .delete_document()
        .name(name)
        .version_name("second")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidDocumentOperation");
    let err = s
        .delete_document()
        .name(name)
        .document_version("9")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidDocument");
    s.delete_document()
        .name(name)
        .document_version("4")
        .send()
        .await
        .unwrap();
    s.delete_document()
        .name(name)
        .document_version("1")
        .send()
        .await
        .unwrap();
    let d = s.describe_document().name(name).send().await.unwrap();
    assert_eq!(d.document().unwrap().latest_version(), Some("3"));
    let err = s
        .get_document()
        .name(name)
        .document_version("1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidDocumentVersion");
    // A deleted number is never reused: the next version is 5.
    let out = s
        .update_document()
        .name(name)
        .content(runbook_yaml("V5", "five"))
        .document_format(DocumentFormat::Yaml)
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.document_description().unwrap().document_version(),
        Some("5")
    );

    // Deleting the document deletes every version.
    s.delete_document().name(name).send().await.unwrap();
    for err in [
        s.describe_document()
            .name(name)
            .send()
            .await
            .unwrap_err()
            .into_service_error()
            .meta()
            .code()
            .map(str::to_string),
        s.get_document()
            .name(name)
            .send()
            .await
            .unwrap_err()
            .into_service_error()
            .meta()
            .code()
            .map(str::to_string),
    ] {
        assert_eq!(err.as_deref(), Some("InvalidDocument"));
    }
    let err = s
        .list_document_versions()
        .name(name)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidDocument");
    let err = s.delete_document().name(name).send().await.unwrap_err();
    assert_eq!(error_code(&err), "InvalidDocument");
    let err = s
        .update_document()
        .name(name)
        .content(runbook_yaml("V6", "six"))
        .document_format(DocumentFormat::Yaml)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidDocument");
    // The name is free again.
    create_runbook(&s, name, &runbook_yaml("V1", "one")).await;
    let d = s.describe_document().name(name).send().await.unwrap();
    assert_eq!(d.document().unwrap().latest_version(), Some("1"));
}

#[tokio::test]
async fn bad_documents_get_ssm_errors() {
    let server = Server::start();
    let base = runbook_yaml("Step", "d");
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "not yaml",
            yaml_create("Team-Bad1", "a: [1, 2"),
            "InvalidDocumentContent",
        ),
        (
            "schema 2.2",
            yaml_create("Team-Bad2", &base.replace("'0.3'", "'2.2'")),
            "InvalidDocumentSchemaVersion",
        ),
        (
            "no mainSteps",
            yaml_create("Team-Bad3", "schemaVersion: '0.3'\nparameters: {}\n"),
            "InvalidDocumentContent",
        ),
        (
            "unknown nextStep",
            yaml_create(
                "Team-Bad4",
                &base.replace(
                    "    action: aws:executeAwsApi",
                    "    nextStep: Nowhere\n    action: aws:executeAwsApi",
                ),
            ),
            "InvalidDocumentContent",
        ),
        (
            "unsupported action",
            yaml_create(
                "Team-Bad5",
                &base.replace("aws:executeAwsApi", "aws:runCommand"),
            ),
            "InvalidDocumentContent",
        ),
        (
            "JSON declared, YAML given",
            json!({"Name": "Team-Bad6", "Content": base, "DocumentType": "Automation", "DocumentFormat": "JSON"}),
            "InvalidDocumentContent",
        ),
        (
            "TEXT format",
            json!({"Name": "Team-Bad7", "Content": base, "DocumentType": "Automation", "DocumentFormat": "TEXT"}),
            "InvalidDocumentContent",
        ),
        (
            "Command type",
            json!({"Name": "Team-Bad8", "Content": base, "DocumentType": "Command", "DocumentFormat": "YAML"}),
            "InvalidDocumentType",
        ),
        (
            "no type (AWS's default is Command)",
            json!({"Name": "Team-Bad9", "Content": base, "DocumentFormat": "YAML"}),
            "InvalidDocumentType",
        ),
        (
            "unknown type",
            json!({"Name": "Team-Bad10", "Content": base, "DocumentType": "Runbook", "DocumentFormat": "YAML"}),
            "ValidationException",
        ),
        (
            "attachments",
            json!({"Name": "Team-Bad11", "Content": base, "DocumentType": "Automation", "DocumentFormat": "YAML",
                   "Attachments": [{"Key": "SourceUrl", "Values": ["s3://bucket/x"], "Name": "x"}]}),
            "ValidationException",
        ),
        (
            "empty content",
            json!({"Name": "Team-Bad12", "Content": "", "DocumentType": "Automation", "DocumentFormat": "YAML"}),
            "ValidationException",
        ),
    ];
    for (what, body, code) in &cases {
        let message = expect_error(&server, "CreateDocument", body, code);
        assert!(!message.is_empty(), "{what}");
    }
    // Nothing was created.
    let list = expect_ok(
        &server,
        "ListDocuments",
        &json!({"Filters": [{"Key": "Owner", "Values": ["Self"]}]}),
    );
    assert_eq!(list["DocumentIdentifiers"], json!([]));

    // Content size: 64 KiB is accepted, one byte more is MaxDocumentSizeExceeded.
    let pad = |total: usize| {
        let prefix = "schemaVersion: '0.3'\nmainSteps:\n  - name: s\n    action: aws:sleep\n    inputs:\n      Duration: PT1S\ndescription: ";
        let mut text = prefix.to_string();
        text.push_str(&"x".repeat(total - prefix.len() - 1));
        text.push('\n');
        assert_eq!(text.len(), total);
        text
    };
    expect_ok(
        &server,
        "CreateDocument",
        &yaml_create("Team-Big", &pad(65536)),
    );
    let msg = expect_error(
        &server,
        "CreateDocument",
        &yaml_create("Team-TooBig", &pad(65537)),
        "MaxDocumentSizeExceeded",
    );
    assert!(msg.contains("64 KB"), "{msg}");
    let msg = expect_error(
        &server,
        "UpdateDocument",
        &json!({"Name": "Team-Big", "Content": pad(65537), "DocumentFormat": "YAML"}),
        "MaxDocumentSizeExceeded",
    );
    assert!(msg.contains("64 KB"), "{msg}");
    // UpdateDocument validates like CreateDocument.
    expect_error(
        &server,
        "UpdateDocument",
        &json!({"Name": "Team-Big", "Content": base.replace("'0.3'", "'1.2'"), "DocumentFormat": "YAML"}),
        "InvalidDocumentSchemaVersion",
    );
    expect_error(
        &server,
        "UpdateDocument",
        &json!({"Name": "Team-Big", "Content": "{", "DocumentFormat": "JSON"}),
        "InvalidDocumentContent",
    );
}

#[tokio::test]
async fn names_and_member_constraints_at_their_boundaries() {
    let server = Server::start();
    let content = runbook_yaml("Step", "d");
    // Name: 3..128 characters of [a-zA-Z0-9_.-].
    for ok in ["abc", &"n".repeat(128), "My_doc-1.0", "Team-aws"] {
        expect_ok(&server, "CreateDocument", &yaml_create(ok, &content));
    }
    for bad in ["ab", &"n".repeat(129), "has space", "a/b", "x:y"] {
        let msg = expect_error(
            &server,
            "CreateDocument",
            &yaml_create(bad, &content),
            "ValidationException",
        );
        assert!(msg.contains("name"), "{bad}: {msg}");
    }
    // Reserved prefixes, in any case.
    for reserved in [
        "AWS-Mine",
        "aws-mine",
        "AWSConfigRemediation-X",
        "Amazon-X",
        "amzn.x",
        "AWSSupport-X",
        "AWSEC2-X",
        "awsx",
    ] {
        let msg = expect_error(
            &server,
            "CreateDocument",
            &yaml_create(reserved, &content),
            "ValidationException",
        );
        assert!(msg.contains("reserved"), "{reserved}: {msg}");
    }
    // DocumentAlreadyExists.
    let msg = expect_error(
        &server,
        "CreateDocument",
        &yaml_create("abc", &content),
        "DocumentAlreadyExists",
    );
    assert!(msg.contains("abc"), "{msg}");

    // VersionName: 1..128 of [a-zA-Z0-9_.-]; DisplayName ≤ 1024; TargetType pattern.
    let with = |extra: Value| {
        let mut b = yaml_create("Team-Members", &content);
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    for bad in [
        json!({"VersionName": ""}),
        json!({"VersionName": "v".repeat(129)}),
        json!({"VersionName": "v 1"}),
        json!({"DisplayName": "d".repeat(1025)}),
        json!({"TargetType": "AWS::S3::Bucket"}),
        json!({"Tags": [{"Key": "", "Value": "v"}]}),
        json!({"Tags": [{"Key": "k".repeat(129), "Value": "v"}]}),
        json!({"Tags": [{"Key": "k", "Value": "v".repeat(257)}]}),
        json!({"Tags": (0..1001).map(|i| json!({"Key": format!("k{i}"), "Value": "v"})).collect::<Vec<_>>()}),
    ] {
        expect_error(
            &server,
            "CreateDocument",
            &with(bad.clone()),
            "ValidationException",
        );
    }
    expect_ok(
        &server,
        "CreateDocument",
        &with(json!({
            "VersionName": "v".repeat(128), "DisplayName": "d".repeat(1024),
            "TargetType": "/AWS::S3::Bucket",
            "Tags": (0..1000).map(|i| json!({"Key": format!("k{i}"), "Value": "v".repeat(256)})).collect::<Vec<_>>()
        })),
    );
    let tags = expect_ok(
        &server,
        "DescribeDocument",
        &json!({"Name": "Team-Members"}),
    );
    assert_eq!(tags["Document"]["Tags"].as_array().unwrap().len(), 1000);
    assert_eq!(tags["Document"]["VersionName"], "v".repeat(128));

    // Version strings: $LATEST, $DEFAULT or a number from 1, no leading zero.
    for ok in ["$LATEST", "$DEFAULT", "1"] {
        expect_ok(
            &server,
            "GetDocument",
            &json!({"Name": "abc", "DocumentVersion": ok}),
        );
    }
    for bad in ["0", "01", "-1", "latest", "1.0"] {
        expect_error(
            &server,
            "GetDocument",
            &json!({"Name": "abc", "DocumentVersion": bad}),
            "ValidationException",
        );
        expect_error(
            &server,
            "DescribeDocument",
            &json!({"Name": "abc", "DocumentVersion": bad}),
            "ValidationException",
        );
        expect_error(
            &server,
            "UpdateDocument",
            &json!({"Name": "abc", "Content": content, "DocumentFormat": "YAML", "DocumentVersion": bad}),
            "ValidationException",
        );
        expect_error(
            &server,
            "DeleteDocument",
            &json!({"Name": "abc", "DocumentVersion": bad}),
            "ValidationException",
        );
    }
    // UpdateDocumentDefaultVersion takes a number only.
    for bad in ["$LATEST", "$DEFAULT", "0"] {
        expect_error(
            &server,
            "UpdateDocumentDefaultVersion",
            &json!({"Name": "abc", "DocumentVersion": bad}),
            "ValidationException",
        );
    }
    expect_ok(
        &server,
        "UpdateDocumentDefaultVersion",
        &json!({"Name": "abc", "DocumentVersion": "1"}),
    );
    // Every operation's Name at its bounds: 2 and 129 characters are refused by validation; 3
    // and 128 pass it (and name no document). Get, Describe and ListDocumentVersions also take
    // an ARN's characters (':' and '/').
    let long = "z".repeat(128);
    for (op, extra) in [
        ("GetDocument", json!({})),
        ("DescribeDocument", json!({})),
        ("DeleteDocument", json!({})),
        ("ListDocumentVersions", json!({})),
        (
            "UpdateDocumentDefaultVersion",
            json!({"DocumentVersion": "1"}),
        ),
        (
            "UpdateDocument",
            json!({"Content": content, "DocumentFormat": "YAML"}),
        ),
    ] {
        let body = |name: &str| {
            let mut b = extra.clone();
            b["Name"] = json!(name);
            b
        };
        for bad in ["zz".to_string(), "z".repeat(129)] {
            let msg = expect_error(&server, op, &body(&bad), "ValidationException");
            assert!(msg.contains("name"), "{op} {bad}: {msg}");
        }
        for unknown in ["zzz", long.as_str()] {
            expect_error(&server, op, &body(unknown), "InvalidDocument");
        }
        let arn_like = if matches!(
            op,
            "GetDocument" | "DescribeDocument" | "ListDocumentVersions"
        ) {
            "InvalidDocument"
        } else {
            "ValidationException"
        };
        expect_error(&server, op, &body("zz/zz"), arn_like);
    }
    // Required members.
    expect_error(
        &server,
        "CreateDocument",
        &json!({"Name": "abcd"}),
        "ValidationException",
    );
    expect_error(
        &server,
        "CreateDocument",
        &json!({"Content": content}),
        "ValidationException",
    );
    expect_error(&server, "GetDocument", &json!({}), "ValidationException");
    expect_error(
        &server,
        "UpdateDocumentDefaultVersion",
        &json!({"Name": "abc"}),
        "ValidationException",
    );

    // MaxResults: 1..50.
    for op in ["ListDocuments", "ListDocumentVersions"] {
        for ok in [1, 50] {
            expect_ok(&server, op, &json!({"Name": "abc", "MaxResults": ok}));
        }
        for bad in [0, 51] {
            let msg = expect_error(
                &server,
                op,
                &json!({"Name": "abc", "MaxResults": bad}),
                "ValidationException",
            );
            assert!(msg.contains("maxResults"), "{msg}");
        }
        expect_error(
            &server,
            op,
            &json!({"Name": "abc", "NextToken": "not-a-token"}),
            "InvalidNextToken",
        );
    }
    // A token from one operation is not valid for the other.
    let page = expect_ok(&server, "ListDocuments", &json!({"MaxResults": 1}));
    let token = page["NextToken"].as_str().unwrap();
    expect_error(
        &server,
        "ListDocumentVersions",
        &json!({"Name": "abc", "NextToken": token}),
        "InvalidNextToken",
    );
    // Filters: at most 6; keys 1..128 characters; values 1..256.
    let filter = |k: &str| json!({"Key": k, "Values": ["x"]});
    expect_ok(
        &server,
        "ListDocuments",
        &json!({"Filters": (0..6).map(|_| filter("Name")).collect::<Vec<_>>()}),
    );
    expect_error(
        &server,
        "ListDocuments",
        &json!({"Filters": (0..7).map(|_| filter("Name")).collect::<Vec<_>>()}),
        "ValidationException",
    );
    expect_ok(
        &server,
        "ListDocuments",
        &json!({"Filters": [filter(&format!("tag:{}", "k".repeat(124)))]}),
    );
    expect_error(
        &server,
        "ListDocuments",
        &json!({"Filters": [filter(&format!("tag:{}", "k".repeat(125)))]}),
        "ValidationException",
    );
    expect_ok(
        &server,
        "ListDocuments",
        &json!({"Filters": [{"Key": "Name", "Values": ["v".repeat(256)]}]}),
    );
    expect_error(
        &server,
        "ListDocuments",
        &json!({"Filters": [{"Key": "Name", "Values": ["v".repeat(257)]}]}),
        "ValidationException",
    );
    expect_error(
        &server,
        "ListDocuments",
        &json!({"Filters": [filter("Colour")]}),
        "InvalidFilterKey",
    );
    expect_error(
        &server,
        "ListDocuments",
        &json!({"Filters": [{"Key": "Owner", "Values": ["Someone"]}]}),
        "ValidationException",
    );
    expect_error(
        &server,
        "ListDocuments",
        &json!({"DocumentFilterList": [{"key": "Colour", "value": "x"}]}),
        "ValidationException",
    );
    expect_error(
        &server,
        "ListDocuments",
        &json!({"DocumentFilterList": []}),
        "ValidationException",
    );
}

#[tokio::test]
async fn builtin_runbooks_are_documents_owned_by_amazon() {
    let server = Server::start();
    let s = server.ssm_client();
    let name = "AWS-ConfigureS3BucketVersioning";
    let d = s.describe_document().name(name).send().await.unwrap();
    let d = d.document().unwrap();
    assert_eq!(d.owner(), Some("Amazon"));
    assert_eq!(d.document_version(), Some("1"));
    assert_eq!(d.default_version(), Some("1"));
    assert_eq!(d.document_type(), Some(&DocumentType::Automation));
    assert_eq!(d.document_format(), Some(&DocumentFormat::Yaml));
    let names: Vec<&str> = d.parameters().iter().filter_map(|p| p.name()).collect();
    assert_eq!(
        names,
        vec!["AutomationAssumeRole", "BucketName", "VersioningState"]
    );
    let got = s.get_document().name(name).send().await.unwrap();
    assert!(got.content().unwrap().contains("PutBucketVersioning"));
    assert_eq!(d.hash(), Some(sha256(got.content().unwrap()).as_str()));
    let versions = s.list_document_versions().name(name).send().await.unwrap();
    assert_eq!(versions.document_versions().len(), 1);
    assert!(versions.document_versions()[0].is_default_version());
    let err = s
        .get_document()
        .name(name)
        .document_version("2")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidDocumentVersion");

    let err = s.delete_document().name(name).send().await.unwrap_err();
    assert_eq!(error_code(&err), "InvalidDocumentOperation");
    assert!(error_message(&err).contains("Amazon"));
    let err = s
        .update_document()
        .name(name)
        .content(runbook_yaml("X", "x"))
        .document_format(DocumentFormat::Yaml)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidDocumentOperation");
    let err = s
        .update_document_default_version()
        .name(name)
        .document_version("1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidDocument");
    // Still there.
    s.get_document().name(name).send().await.unwrap();
}

async fn list_names(
    s: &ssm::Client,
    filters: Vec<DocumentKeyValuesFilter>,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = s
            .list_documents()
            .set_filters(Some(filters.clone()))
            .max_results(5)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        assert!(page.document_identifiers().len() <= 5);
        for d in page.document_identifiers() {
            out.push((
                d.name().unwrap().to_string(),
                d.owner().unwrap().to_string(),
            ));
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return out;
        }
    }
}

fn kv(key: &str, values: &[&str]) -> DocumentKeyValuesFilter {
    let mut b = DocumentKeyValuesFilter::builder().key(key);
    for v in values {
        b = b.values(*v);
    }
    b.build()
}

#[tokio::test]
async fn list_documents_filters_and_paging() {
    let server = Server::start();
    let s = server.ssm_client();
    for (name, team) in [
        ("Team-A-Buckets", "a"),
        ("Team-B-Keys", "b"),
        ("Ops-Buckets", "a"),
    ] {
        s.create_document()
            .name(name)
            .content(runbook_yaml("Step", name))
            .document_type(DocumentType::Automation)
            .document_format(DocumentFormat::Yaml)
            .target_type("/AWS::S3::Bucket")
            .tags(Tag::builder().key("team").value(team).build().unwrap())
            .send()
            .await
            .unwrap();
    }
    let builtins = list_names(&s, vec![kv("Owner", &["Amazon"])]).await;
    let builtin_count = remedy_automation::builtin_names().len();
    assert_eq!(builtins.len(), builtin_count, "{builtins:?}");
    assert!(builtins.iter().all(|(_, o)| o == "Amazon"));
    assert!(builtins
        .iter()
        .any(|(n, _)| n == "AWS-ConfigureS3BucketVersioning"));
    let mine = list_names(&s, vec![kv("Owner", &["Self"])]).await;
    let mine_names: Vec<&str> = mine.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        mine_names,
        vec!["Ops-Buckets", "Team-A-Buckets", "Team-B-Keys"]
    );
    assert!(mine.iter().all(|(_, o)| o == ACCOUNT));
    assert_eq!(list_names(&s, vec![kv("Owner", &["Private"])]).await, mine);
    // No filter (and Owner All): both, name-ordered, across pages of 5 without repeats.
    let all = list_names(&s, vec![]).await;
    assert_eq!(all.len(), builtin_count + 3);
    let mut sorted = all.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, all);
    assert_eq!(list_names(&s, vec![kv("Owner", &["All"])]).await, all);
    assert!(list_names(&s, vec![kv("Owner", &["ThirdParty"])])
        .await
        .is_empty());

    let names = |v: Vec<(String, String)>| v.into_iter().map(|(n, _)| n).collect::<Vec<_>>();
    assert_eq!(
        names(list_names(&s, vec![kv("Name", &["Team-"])]).await),
        vec!["Team-A-Buckets", "Team-B-Keys"]
    );
    assert_eq!(
        names(
            list_names(
                &s,
                vec![kv("SearchKeyword", &["buckets"]), kv("Owner", &["Self"])]
            )
            .await
        ),
        vec!["Ops-Buckets", "Team-A-Buckets"]
    );
    assert_eq!(
        names(list_names(&s, vec![kv("tag:team", &["a"])]).await),
        vec!["Ops-Buckets", "Team-A-Buckets"]
    );
    assert_eq!(
        names(list_names(&s, vec![kv("tag:team", &["a", "b"]), kv("Name", &["Team"])]).await),
        vec!["Team-A-Buckets", "Team-B-Keys"]
    );
    assert_eq!(
        names(list_names(&s, vec![kv("TargetType", &["/AWS::S3::Bucket"])]).await).len(),
        3
    );
    assert!(list_names(&s, vec![kv("DocumentType", &["Command"])])
        .await
        .is_empty());
    assert_eq!(
        list_names(&s, vec![kv("DocumentType", &["Automation"])])
            .await
            .len(),
        builtin_count + 3
    );
    assert_eq!(
        list_names(&s, vec![kv("PlatformTypes", &["Linux"])])
            .await
            .len(),
        builtin_count + 3
    );

    // The deprecated DocumentFilterList.
    let legacy = s
        .list_documents()
        .document_filter_list(
            DocumentFilter::builder()
                .key(DocumentFilterKey::Owner)
                .value("Self")
                .build()
                .unwrap(),
        )
        .document_filter_list(
            DocumentFilter::builder()
                .key(DocumentFilterKey::Name)
                .value("Team-B")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let legacy: Vec<&str> = legacy
        .document_identifiers()
        .iter()
        .filter_map(|d| d.name())
        .collect();
    assert_eq!(legacy, vec!["Team-B-Keys"]);

    // An identifier carries the default version's details.
    s.update_document()
        .name("Ops-Buckets")
        .content(runbook_json("Two").to_string())
        .document_format(DocumentFormat::Json)
        .version_name("two")
        .send()
        .await
        .unwrap();
    let page = s
        .list_documents()
        .filters(kv("Name", &["Ops-"]))
        .send()
        .await
        .unwrap();
    let d = &page.document_identifiers()[0];
    assert_eq!(d.document_version(), Some("1"));
    assert_eq!(d.document_format(), Some(&DocumentFormat::Yaml));
    assert_eq!(d.schema_version(), Some("0.3"));
    assert_eq!(d.document_type(), Some(&DocumentType::Automation));
    assert_eq!(d.tags().len(), 1);
    s.update_document_default_version()
        .name("Ops-Buckets")
        .document_version("2")
        .send()
        .await
        .unwrap();
    let page = s
        .list_documents()
        .filters(kv("Name", &["Ops-"]))
        .send()
        .await
        .unwrap();
    let d = &page.document_identifiers()[0];
    assert_eq!(d.document_version(), Some("2"));
    assert_eq!(d.version_name(), Some("two"));
    assert_eq!(d.document_format(), Some(&DocumentFormat::Json));

    // Documents are per account and region.
    let other_region = server.ssm_client_as("test", "test", "eu-west-1");
    assert!(list_names(&other_region, vec![kv("Owner", &["Self"])])
        .await
        .is_empty());
    let err = other_region
        .get_document()
        .name("Team-A-Buckets")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidDocument");
    create_runbook(
        &other_region,
        "Team-A-Buckets",
        &runbook_yaml("Elsewhere", "x"),
    )
    .await;
}

#[tokio::test]
async fn document_and_version_limits() {
    let server = Server::start();
    let s = server.ssm_client();
    // 500 documents per account and region.
    let mut tasks = Vec::new();
    for chunk in 0..10 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..50 {
                let n = chunk * 50 + i;
                create_runbook(
                    &s,
                    &format!("Doc-{n:03}"),
                    &runbook_yaml(&format!("S{n}"), "x"),
                )
                .await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let err = s
        .create_document()
        .name("Doc-500")
        .content(runbook_yaml("S500", "x"))
        .document_type(DocumentType::Automation)
        .document_format(DocumentFormat::Yaml)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "DocumentLimitExceeded");
    assert!(error_message(&err).contains("500"));
    // Deleting one frees a place.
    s.delete_document().name("Doc-000").send().await.unwrap();
    create_runbook(&s, "Doc-500", &runbook_yaml("S500", "x")).await;

    // 1,000 versions per document.
    let mut tasks = Vec::new();
    for chunk in 0..9 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..111 {
                let n = 1 + chunk * 111 + i;
                s.update_document()
                    .name("Doc-001")
                    .content(runbook_yaml(&format!("V{n}"), "x"))
                    .document_format(DocumentFormat::Yaml)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{}", ssm::error::DisplayErrorContext(e)));
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let d = s.describe_document().name("Doc-001").send().await.unwrap();
    assert_eq!(d.document().unwrap().latest_version(), Some("1000"));
    let err = s
        .update_document()
        .name("Doc-001")
        .content(runbook_yaml("V1001", "x"))
        .document_format(DocumentFormat::Yaml)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "DocumentVersionLimitExceeded");
    s.delete_document()
        .name("Doc-001")
        .document_version("1000")
        .send()
        .await
        .unwrap();
    let out = s
        .update_document()
        .name("Doc-001")
        .content(runbook_yaml("V1001", "x"))
        .document_format(DocumentFormat::Yaml)
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.document_description().unwrap().document_version(),
        Some("1001")
    );
}

#[tokio::test]
async fn documents_survive_a_restart() {
    let mut server = Server::start();
    let s = server.ssm_client();
    create_runbook(&s, "Team-Durable", &runbook_yaml("V1", "one")).await;
    s.update_document()
        .name("Team-Durable")
        .content(runbook_json("V2").to_string())
        .document_format(DocumentFormat::Json)
        .version_name("two")
        .send()
        .await
        .unwrap();
    s.update_document_default_version()
        .name("Team-Durable")
        .document_version("2")
        .send()
        .await
        .unwrap();
    let before = s
        .describe_document()
        .name("Team-Durable")
        .send()
        .await
        .unwrap();
    let content_before = s
        .get_document()
        .name("Team-Durable")
        .document_version("1")
        .send()
        .await
        .unwrap();
    server.restart();
    let s = server.ssm_client();
    let after = s
        .describe_document()
        .name("Team-Durable")
        .send()
        .await
        .unwrap();
    assert_eq!(after.document(), before.document());
    let content_after = s
        .get_document()
        .name("Team-Durable")
        .document_version("1")
        .send()
        .await
        .unwrap();
    assert_eq!(content_after.content(), content_before.content());
    let versions = s
        .list_document_versions()
        .name("Team-Durable")
        .send()
        .await
        .unwrap();
    assert_eq!(versions.document_versions().len(), 2);
}

// ---- a custom document in a remediation configuration ------------------------------------------

/// [`common::bucket`] with versioning `Off`, its configuration only the name and its
/// supplementary configuration only the versioning.
fn bucket(name: &str) -> Value {
    let mut b = common::bucket(name, "Off");
    b["configuration"] = json!({"name": name}).to_string().into();
    b["supplementaryConfiguration"] = json!({
        "BucketVersioningConfiguration": json!({"status": "Off", "isMfaDeleteEnabled": null}).to_string()
    });
    b
}

/// [`remediation_config`] at `version`.
fn remediation(rule: &str, document: &str, version: Option<&str>) -> RemediationConfiguration {
    let mut r = remediation_config(rule, document);
    r.target_version = version.map(str::to_string);
    r
}

async fn run_remediation(c: &config::Client, rule: &str, id: &str) -> RemediationExecutionStatus {
    let out = c
        .start_remediation_execution()
        .config_rule_name(rule)
        .resource_keys(bucket_key(id))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}", config::error::DisplayErrorContext(e)));
    assert!(out.failed_items().is_empty(), "{out:?}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = c
            .describe_remediation_execution_status()
            .config_rule_name(rule)
            .resource_keys(bucket_key(id))
            .send()
            .await
            .unwrap();
        if let Some(s) = s.remediation_execution_statuses().first() {
            if matches!(
                s.state(),
                Some(RemediationExecutionState::Succeeded | RemediationExecutionState::Failed)
            ) {
                return s.clone();
            }
        }
        assert!(Instant::now() < deadline, "{rule}/{id} not terminal");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn step_names(s: &RemediationExecutionStatus) -> Vec<String> {
    s.step_details()
        .iter()
        .filter_map(|d| d.name().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn remediation_runs_a_custom_document_at_its_target_version() {
    let server = Server::start();
    let c = server.client();
    let s = server.ssm_client();
    for b in ["pinned-bucket", "floating-bucket", "latest-bucket"] {
        c.put_resource_config()
            .resource_type(BUCKET)
            .schema_version_id("ConfigurationItem")
            .resource_id(b)
            .configuration(bucket(b).to_string())
            .send()
            .await
            .unwrap();
    }
    for rule in ["pinned", "floating", "latest", "missing-version"] {
        c.put_config_rule()
            .config_rule(managed_rule(rule))
            .send()
            .await
            .unwrap();
    }
    let doc = "Team-Versioning";
    // A document that does not exist (yet) is refused per configuration, in FailedBatches.
    let refused = |out: &config::operation::put_remediation_configurations::PutRemediationConfigurationsOutput| {
        let batches = out.failed_batches();
        assert_eq!(batches.len(), 1, "{out:?}");
        assert_eq!(batches[0].failed_items().len(), 1, "{out:?}");
        batches[0].failure_message().unwrap_or_default().to_string()
    };
    let out = c
        .put_remediation_configurations()
        .remediation_configurations(remediation("floating", doc, None))
        .send()
        .await
        .unwrap();
    let message = refused(&out);
    assert!(
        message.contains("Team-Versioning") && message.contains("does not exist"),
        "{message}"
    );
    let out = c
        .put_remediation_configurations()
        .remediation_configurations(remediation("floating", doc, Some("3")))
        .send()
        .await
        .unwrap();
    let message = refused(&out);
    assert!(message.contains("does not exist"), "{message}");
    create_runbook(&s, doc, &runbook_yaml("EnableV1", "one")).await;
    for (rule, version) in [
        ("pinned", Some("1")),
        ("floating", None),
        ("latest", Some("$LATEST")),
    ] {
        let out = c
            .put_remediation_configurations()
            .remediation_configurations(remediation(rule, doc, version))
            .send()
            .await
            .unwrap();
        assert!(out.failed_batches().is_empty(), "{rule}: {out:?}");
    }
    // A version that does not exist (yet) is refused the same way; nothing is stored.
    let out = c
        .put_remediation_configurations()
        .remediation_configurations(remediation("missing-version", doc, Some("2")))
        .send()
        .await
        .unwrap();
    let message = refused(&out);
    assert!(message.contains("no version 2"), "{message}");
    let described = c
        .describe_remediation_configurations()
        .config_rule_names("missing-version")
        .send()
        .await
        .unwrap();
    assert!(described.remediation_configurations().is_empty());
    // Version 2 becomes the latest and the default.
    s.update_document()
        .name(doc)
        .content(runbook_yaml("EnableV2", "two"))
        .document_format(DocumentFormat::Yaml)
        .send()
        .await
        .unwrap();
    let out = c
        .put_remediation_configurations()
        .remediation_configurations(remediation("missing-version", doc, Some("2")))
        .send()
        .await
        .unwrap();
    assert!(out.failed_batches().is_empty(), "{out:?}");
    s.update_document_default_version()
        .name(doc)
        .document_version("2")
        .send()
        .await
        .unwrap();

    let pinned = run_remediation(&c, "pinned", "pinned-bucket").await;
    assert_eq!(pinned.state(), Some(&RemediationExecutionState::Succeeded));
    assert_eq!(step_names(&pinned), vec!["EnableV1"]);
    let floating = run_remediation(&c, "floating", "floating-bucket").await;
    assert_eq!(
        floating.state(),
        Some(&RemediationExecutionState::Succeeded)
    );
    assert_eq!(step_names(&floating), vec!["EnableV2"]);
    let latest = run_remediation(&c, "latest", "latest-bucket").await;
    assert_eq!(step_names(&latest), vec!["EnableV2"]);

    // The runbook changed the recorded bucket.
    let history = c
        .get_resource_config_history()
        .resource_type(ResourceType::from(BUCKET))
        .resource_id("pinned-bucket")
        .limit(1)
        .send()
        .await
        .unwrap();
    let item = &history.configuration_items()[0];
    let versioning = item
        .supplementary_configuration()
        .unwrap()
        .get("BucketVersioningConfiguration")
        .unwrap();
    assert!(versioning.contains("Enabled"), "{versioning}");

    // A pinned version deleted after the configuration was put cannot be started.
    s.delete_document()
        .name(doc)
        .document_version("1")
        .send()
        .await
        .unwrap();
    let err = c
        .start_remediation_execution()
        .config_rule_name("pinned")
        .resource_keys(bucket_key("floating-bucket"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValueException");
    assert!(
        error_message(&err).contains("no version 1"),
        "{}",
        error_message(&err)
    );
    // Nor a document that was deleted.
    s.delete_document().name(doc).send().await.unwrap();
    let err = c
        .start_remediation_execution()
        .config_rule_name("floating")
        .resource_keys(bucket_key("floating-bucket"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValueException");
    assert!(error_message(&err).contains(doc), "{}", error_message(&err));
    // Created again under the same name (its versions start over at 1): the new content runs,
    // never the deleted document's version 1.
    create_runbook(&s, doc, &runbook_yaml("Recreated", "again")).await;
    c.put_resource_config()
        .resource_type(BUCKET)
        .schema_version_id("ConfigurationItem")
        .resource_id("fresh-bucket")
        .configuration(bucket("fresh-bucket").to_string())
        .send()
        .await
        .unwrap();
    let again = run_remediation(&c, "pinned", "fresh-bucket").await;
    assert_eq!(again.state(), Some(&RemediationExecutionState::Succeeded));
    assert_eq!(step_names(&again), vec!["Recreated"]);
}

#[tokio::test]
async fn racing_updates_of_one_version_add_exactly_one() {
    let server = Server::start();
    let s = server.ssm_client();
    create_runbook(&s, "Team-Race", &runbook_yaml("V1", "one")).await;
    // Twenty clients update "version 1" at once: the check that it is the latest and the write
    // are one transaction, so one wins and the others are told it is no longer the latest.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.update_document()
                .name("Team-Race")
                .content(runbook_yaml(&format!("Racer{i}"), "race"))
                .document_format(DocumentFormat::Yaml)
                .document_version("1")
                .send()
                .await
                .map(|o| {
                    o.document_description()
                        .unwrap()
                        .document_version()
                        .unwrap()
                        .to_string()
                })
                .map_err(|e| error_code(&e))
        }));
    }
    let mut won = Vec::new();
    let mut lost = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(v) => won.push(v),
            Err(code) => {
                assert_eq!(code, "InvalidDocumentVersion");
                lost += 1;
            }
        }
    }
    assert_eq!((won, lost), (vec!["2".to_string()], 19));
    let versions = s
        .list_document_versions()
        .name("Team-Race")
        .send()
        .await
        .unwrap();
    assert_eq!(versions.document_versions().len(), 2);
}
