//! The emulated AWS world (`remedy::world`) against a real SQLite store: boto3-shaped answers from
//! recorded configuration items, writes recorded as new history versions (only when something
//! changed), AWS's errors, and — the point of it all — every remediation pairing flipping its
//! managed rule's verdict from NON_COMPLIANT to COMPLIANT.

use std::collections::BTreeMap;
use std::sync::Arc;

use remedy::domain::{ConfigurationItem, NewConfigurationItem, Scope, STATUS_DELETED};
use remedy::evaluation::managed::{evaluator, parameters_with_defaults};
use remedy::evaluation::verdict::ResourceLookup;
use remedy::store::sqlite::SqliteStore;
use remedy::store::{HistoryQuery, Store};
use remedy::world::{supported, ConfigWorld, WorldError};
use remedy_wire::config::ComplianceType;
use serde_json::{json, Value};

const ACCOUNT: &str = "111122223333";
const REGION: &str = "us-east-1";
const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

struct Env {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    scope: Scope,
    world: ConfigWorld,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("remedy.db")).unwrap());
    let scope = Scope::new(ACCOUNT, REGION);
    let world = ConfigWorld::new(store.clone(), scope.clone());
    Env {
        _dir: dir,
        store,
        scope,
        world,
    }
}

impl Env {
    async fn seed(
        &self,
        resource_type: &str,
        id: &str,
        conf: Value,
        supp: Value,
    ) -> ConfigurationItem {
        let supplementary: BTreeMap<String, Value> = match supp {
            Value::Object(m) => m.into_iter().collect(),
            _ => BTreeMap::new(),
        };
        let item = NewConfigurationItem {
            resource_type: resource_type.into(),
            resource_id: id.into(),
            resource_name: Some(id.into()),
            arn: Some(format!("arn:test:{id}")),
            availability_zone: Some("Regional".into()),
            resource_creation_time: Some(1_690_000_000.0),
            capture_time: None,
            status: None,
            configuration: conf,
            supplementary_configuration: supplementary,
            tags: BTreeMap::from([("team".to_string(), "blue".to_string())]),
            relationships: Vec::new(),
        };
        self.store
            .record_configuration_item(&self.scope, item, None)
            .await
            .unwrap()
    }

    async fn delete(&self, resource_type: &str, id: &str) {
        let item = NewConfigurationItem {
            resource_type: resource_type.into(),
            resource_id: id.into(),
            resource_name: None,
            arn: None,
            availability_zone: None,
            resource_creation_time: None,
            capture_time: None,
            status: Some(STATUS_DELETED.into()),
            configuration: Value::Null,
            supplementary_configuration: BTreeMap::new(),
            tags: BTreeMap::new(),
            relationships: Vec::new(),
        };
        self.store
            .record_configuration_item(&self.scope, item, None)
            .await
            .unwrap();
    }

    async fn history(&self, resource_type: &str, id: &str) -> Vec<ConfigurationItem> {
        self.store
            .configuration_history(
                &self.scope,
                &HistoryQuery {
                    resource_type: resource_type.into(),
                    resource_id: id.into(),
                    earlier_time: None,
                    later_time: None,
                    forward: true,
                    after_state_id: None,
                    limit: 100,
                },
            )
            .await
            .unwrap()
    }

    async fn latest(&self, resource_type: &str, id: &str) -> ConfigurationItem {
        self.store
            .latest_configuration_item(&self.scope, resource_type, id)
            .await
            .unwrap()
            .unwrap()
    }

    async fn ok(&self, service: &str, api: &str, input: Value) -> Value {
        match self.world.call(service, api, input).await {
            Ok(v) => v,
            Err(e) => panic!("{service}:{api} failed: {e}"),
        }
    }

    async fn err(&self, service: &str, api: &str, input: Value) -> WorldError {
        match self.world.call(service, api, input).await {
            Ok(v) => panic!("{service}:{api} succeeded: {v}"),
            Err(e) => e,
        }
    }
}

struct NoOtherResources;

impl ResourceLookup for NoOtherResources {
    fn of_type(&self, _resource_type: &str) -> Vec<ConfigurationItem> {
        Vec::new()
    }
}

fn verdict(rule: &str, params: Value, ci: &ConfigurationItem) -> ComplianceType {
    let ev = evaluator(rule).unwrap_or_else(|| panic!("no evaluator {rule}"));
    let given = match params {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    let params = parameters_with_defaults(rule, &given);
    (ev.evaluate)(&params, ci, &NoOtherResources).compliance
}

fn assert_code(e: &WorldError, code: &str) {
    assert_eq!(e.code, code, "unexpected error {e}");
}

// ---- fixtures: the spec §6 shapes ---------------------------------------------------------------

fn bucket_conf(name: &str) -> Value {
    json!({"name": name, "owner": {"displayName": null, "id": "abc123"}, "creationDate": "2023-07-22T04:26:40.000Z"})
}

fn bucket_supp() -> Value {
    json!({
        "AccessControlList": "{\"grantSet\":null,\"grantList\":[{\"grantee\":\"AllUsers\",\"permission\":\"Read\"}],\"owner\":{\"displayName\":null,\"id\":\"abc123\"}}",
        "BucketPolicy": {"policyText": null},
        "BucketVersioningConfiguration": {"status": "Off", "isMfaDeleteEnabled": null},
        "BucketLoggingConfiguration": {"destinationBucketName": null, "logFilePrefix": null},
        "IsRequesterPaysEnabled": false
    })
}

const BUCKET: &str = "AWS::S3::Bucket";
const SG: &str = "AWS::EC2::SecurityGroup";
const KEY: &str = "AWS::KMS::Key";
const TRAIL: &str = "AWS::CloudTrail::Trail";
const TABLE: &str = "AWS::DynamoDB::Table";
const ACCOUNT_TYPE: &str = "AWS::::Account";
const USER: &str = "AWS::IAM::User";

fn sg_conf(id: &str, name: &str) -> Value {
    json!({"ownerId": ACCOUNT, "groupName": name, "groupId": id, "description": name,
       "vpcId": "vpc-0a1b2c3d", "tags": [{"key": "env", "value": "prod"}],
       "ipPermissions": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": ["0.0.0.0/0"],
         "ipv4Ranges": [{"cidrIp": "0.0.0.0/0"}], "ipv6Ranges": [], "prefixListIds": [], "userIdGroupPairs": []}],
       "ipPermissionsEgress": [{"ipProtocol": "-1", "ipRanges": ["0.0.0.0/0"], "ipv4Ranges": [{"cidrIp": "0.0.0.0/0"}],
         "ipv6Ranges": [], "prefixListIds": [], "userIdGroupPairs": []}]})
}

fn key_conf(extra: Value) -> Value {
    let mut c = json!({"awsaccountId": ACCOUNT, "keyId": KEY_ID, "enabled": true,
        "arn": format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}"),
        "keyUsage": "ENCRYPT_DECRYPT", "keyState": "Enabled", "origin": "AWS_KMS", "keyManager": "CUSTOMER",
        "keySpec": "SYMMETRIC_DEFAULT", "customerMasterKeySpec": "SYMMETRIC_DEFAULT", "multiRegion": false});
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

fn trail_conf() -> Value {
    json!({"name": "management-events",
       "trailARN": format!("arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/management-events"),
       "homeRegion": REGION, "s3BucketName": "ct-logs", "includeGlobalServiceEvents": true,
       "isMultiRegionTrail": true, "isOrganizationTrail": false, "logFileValidationEnabled": false,
       "hasCustomEventSelectors": false, "hasInsightSelectors": false})
}

fn table_conf(sse: Option<Value>) -> Value {
    let mut c = json!({"tableName": "orders",
       "tableArn": format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders"), "tableStatus": "ACTIVE",
       "keySchema": [{"attributeName": "pk", "keyType": "HASH"}],
       "attributeDefinitions": [{"attributeName": "pk", "attributeType": "S"}],
       "billingModeSummary": {"billingMode": "PAY_PER_REQUEST"}});
    if let Some(s) = sse {
        c["ssedescription"] = s;
    }
    c
}

fn table_supp(pitr: &str) -> Value {
    json!({"ContinuousBackupsDescription": {"continuousBackupsStatus": "ENABLED",
        "pointInTimeRecoveryDescription": {"pointInTimeRecoveryStatus": pitr}}})
}

// ---- the catalogue -----------------------------------------------------------------------------

#[test]
fn supported_covers_the_builtin_runbooks() {
    let list = supported();
    for pair in [
        ("s3", "PutPublicAccessBlock"),
        ("s3", "GetPublicAccessBlock"),
        ("s3", "PutBucketEncryption"),
        ("s3", "GetBucketEncryption"),
        ("s3", "PutBucketVersioning"),
        ("s3", "GetBucketVersioning"),
        ("s3", "PutBucketLogging"),
        ("s3", "GetBucketLogging"),
        ("ec2", "DescribeSecurityGroups"),
        ("ec2", "DescribeSecurityGroupRules"),
        ("ec2", "RevokeSecurityGroupIngress"),
        ("ec2", "RevokeSecurityGroupEgress"),
        ("ec2", "EnableEbsEncryptionByDefault"),
        ("ec2", "GetEbsEncryptionByDefault"),
        ("kms", "EnableKeyRotation"),
        ("kms", "GetKeyRotationStatus"),
        ("kms", "CancelKeyDeletion"),
        ("kms", "DescribeKey"),
        ("cloudtrail", "UpdateTrail"),
        ("cloudtrail", "GetTrail"),
        ("dynamodb", "UpdateContinuousBackups"),
        ("dynamodb", "DescribeContinuousBackups"),
        ("dynamodb", "UpdateTable"),
        ("dynamodb", "DescribeTable"),
    ] {
        assert!(list.contains(&pair), "{pair:?} is not emulated");
    }
    let mut dedup = list.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), list.len(), "duplicates in supported()");
}

#[tokio::test]
async fn unsupported_calls_name_the_call_and_list_what_is_supported() {
    let env = env();
    let e = env.err("s3", "GetBucketAcl", json!({"Bucket": "b"})).await;
    assert_code(&e, "UnsupportedOperation");
    assert!(
        e.message
            .starts_with("remedy's world does not emulate s3:GetBucketAcl; supported: "),
        "{}",
        e.message
    );
    assert!(e.message.contains("s3:PutBucketVersioning"));
    assert!(e.message.contains("dynamodb:UpdateTable"));
    let e = env.err("sqs", "SendMessage", json!({})).await;
    assert_code(&e, "UnsupportedOperation");
    assert!(e.message.contains("sqs:SendMessage"));
}

#[tokio::test]
async fn bad_input_gets_boto3_validation_messages() {
    let env = env();
    env.seed(BUCKET, "b", bucket_conf("b"), bucket_supp()).await;
    let e = env
        .err(
            "s3",
            "PutBucketVersioning",
            json!({"VersioningConfiguration": {"Status": "Enabled"}}),
        )
        .await;
    assert_code(&e, "ValidationException");
    assert_eq!(
        e.message,
        "Parameter validation failed: Missing required parameter in input: \"Bucket\""
    );
    let e = env
        .err("s3", "PutBucketVersioning", json!({"Bucket": "b"}))
        .await;
    assert!(e.message.contains("\"VersioningConfiguration\""), "{e}");
    let e = env
        .err("s3", "GetBucketVersioning", json!({"Bucket": 7}))
        .await;
    assert!(
        e.message.contains("Invalid type for parameter Bucket"),
        "{e}"
    );
    let e = env
        .err("s3", "GetBucketVersioning", json!({"Bucket": ""}))
        .await;
    assert!(
        e.message.contains("Invalid length for parameter Bucket"),
        "{e}"
    );
    let e = env.err("s3", "GetBucketVersioning", json!(["b"])).await;
    assert_code(&e, "ValidationException");
    let e = env
        .err(
            "s3",
            "PutBucketVersioning",
            json!({"Bucket": "b", "VersioningConfiguration": {"Status": "On"}}),
        )
        .await;
    assert_code(&e, "MalformedXML");
    let e = env.err("kms", "EnableKeyRotation", json!({})).await;
    assert!(e.message.contains("\"KeyId\""), "{e}");
    let e = env
        .err(
            "dynamodb",
            "UpdateContinuousBackups",
            json!({"TableName": "t", "PointInTimeRecoverySpecification": {}}),
        )
        .await;
    assert!(e.message.contains("\"PointInTimeRecoveryEnabled\""), "{e}");
    let e = env
        .err("ec2", "RevokeSecurityGroupIngress", json!({"GroupId": "sg-1", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": "x", "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}))
        .await;
    assert!(e.message.contains("IpPermissions.FromPort"), "{e}");
}

#[tokio::test]
async fn names_services_and_booleans_are_read_leniently() {
    let env = env();
    env.seed(BUCKET, "b", bucket_conf("b"), bucket_supp()).await;
    env.ok("S3", "put_public_access_block", json!({"Bucket": "b", "PublicAccessBlockConfiguration": {
        "BlockPublicAcls": "True", "IgnorePublicAcls": true, "BlockPublicPolicy": "true", "RestrictPublicBuckets": "FALSE"}}))
        .await;
    let got = env
        .ok("s3", "GetPublicAccessBlock", json!({"Bucket": "b"}))
        .await;
    assert_eq!(
        got,
        json!({"PublicAccessBlockConfiguration": {"BlockPublicAcls": true, "IgnorePublicAcls": true,
            "BlockPublicPolicy": true, "RestrictPublicBuckets": false}})
    );
}

// ---- S3 ----------------------------------------------------------------------------------------

#[tokio::test]
async fn s3_missing_and_deleted_buckets_are_no_such_bucket() {
    let env = env();
    for (api, input) in [
        ("GetBucketVersioning", json!({"Bucket": "nope"})),
        (
            "PutBucketVersioning",
            json!({"Bucket": "nope", "VersioningConfiguration": {"Status": "Enabled"}}),
        ),
        ("GetPublicAccessBlock", json!({"Bucket": "nope"})),
        (
            "PutPublicAccessBlock",
            json!({"Bucket": "nope", "PublicAccessBlockConfiguration": {}}),
        ),
        ("GetBucketEncryption", json!({"Bucket": "nope"})),
        ("GetBucketLogging", json!({"Bucket": "nope"})),
        (
            "PutBucketLogging",
            json!({"Bucket": "nope", "BucketLoggingStatus": {}}),
        ),
    ] {
        let e = env.err("s3", api, input).await;
        assert_code(&e, "NoSuchBucket");
        assert_eq!(e.message, "The specified bucket does not exist");
    }
    env.seed(BUCKET, "gone", bucket_conf("gone"), bucket_supp())
        .await;
    env.delete(BUCKET, "gone").await;
    let e = env
        .err(
            "s3",
            "PutBucketVersioning",
            json!({"Bucket": "gone", "VersioningConfiguration": {"Status": "Enabled"}}),
        )
        .await;
    assert_code(&e, "NoSuchBucket");
    assert_eq!(
        env.history(BUCKET, "gone").await.len(),
        2,
        "no version recorded for a deleted bucket"
    );
}

#[tokio::test]
async fn s3_versioning_remediation_flips_the_rule() {
    let env = env();
    let before = env
        .seed(BUCKET, "my-bucket", bucket_conf("my-bucket"), bucket_supp())
        .await;
    let rule = "S3_BUCKET_VERSIONING_ENABLED";
    assert_eq!(
        verdict(rule, json!({}), &before),
        ComplianceType::NonCompliant
    );
    assert_eq!(
        env.ok("s3", "GetBucketVersioning", json!({"Bucket": "my-bucket"}))
            .await,
        json!({})
    );

    let put = json!({"Bucket": "my-bucket", "VersioningConfiguration": {"Status": "Enabled"}});
    assert_eq!(
        env.ok("s3", "PutBucketVersioning", put.clone()).await,
        json!({})
    );
    let history = env.history(BUCKET, "my-bucket").await;
    assert_eq!(history.len(), 2);
    let after = &history[1];
    assert!(after.state_id > before.state_id);
    assert_eq!(after.status, "OK");
    assert_eq!(
        after.supplementary_configuration["BucketVersioningConfiguration"],
        json!({"status": "Enabled", "isMfaDeleteEnabled": null})
    );
    // Everything else is kept.
    assert_eq!(after.configuration, before.configuration);
    assert_eq!(
        after.supplementary_configuration["AccessControlList"],
        before.supplementary_configuration["AccessControlList"]
    );
    assert_eq!(after.tags, before.tags);
    assert_eq!(after.arn, before.arn);
    assert_eq!(after.resource_name, before.resource_name);
    assert_eq!(after.resource_creation_time, before.resource_creation_time);
    assert_eq!(verdict(rule, json!({}), after), ComplianceType::Compliant);
    assert_eq!(
        env.ok("s3", "GetBucketVersioning", json!({"Bucket": "my-bucket"}))
            .await,
        json!({"Status": "Enabled"})
    );

    // The same change again records nothing.
    env.ok("s3", "PutBucketVersioning", put).await;
    assert_eq!(env.history(BUCKET, "my-bucket").await.len(), 2);

    // MFA delete, once configured, is reported.
    env.ok(
        "s3",
        "PutBucketVersioning",
        json!({"Bucket": "my-bucket", "MFA": "arn 123456",
        "VersioningConfiguration": {"Status": "Enabled", "MFADelete": "Disabled"}}),
    )
    .await;
    assert_eq!(
        env.ok("s3", "GetBucketVersioning", json!({"Bucket": "my-bucket"}))
            .await,
        json!({"Status": "Enabled", "MFADelete": "Disabled"})
    );
    let latest = env.latest(BUCKET, "my-bucket").await;
    assert_eq!(
        verdict(rule, json!({"isMfaDeleteEnabled": "true"}), &latest),
        ComplianceType::NonCompliant
    );
    env.ok(
        "s3",
        "PutBucketVersioning",
        json!({"Bucket": "my-bucket",
        "VersioningConfiguration": {"MFADelete": "Enabled"}}),
    )
    .await;
    let latest = env.latest(BUCKET, "my-bucket").await;
    assert_eq!(
        verdict(rule, json!({"isMfaDeleteEnabled": "true"}), &latest),
        ComplianceType::Compliant
    );
}

#[tokio::test]
async fn s3_public_access_block_remediation_flips_the_rules() {
    let env = env();
    let before = env
        .seed(BUCKET, "pub", bucket_conf("pub"), bucket_supp())
        .await;
    for rule in [
        "S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED",
        "S3_BUCKET_PUBLIC_READ_PROHIBITED",
    ] {
        assert_eq!(
            verdict(rule, json!({}), &before),
            ComplianceType::NonCompliant,
            "{rule}"
        );
    }
    let e = env
        .err("s3", "GetPublicAccessBlock", json!({"Bucket": "pub"}))
        .await;
    assert_code(&e, "NoSuchPublicAccessBlockConfiguration");
    assert_eq!(
        e.message,
        "The public access block configuration was not found"
    );

    let all_on = json!({"Bucket": "pub", "PublicAccessBlockConfiguration": {"BlockPublicAcls": true,
        "IgnorePublicAcls": true, "BlockPublicPolicy": true, "RestrictPublicBuckets": true}});
    env.ok("s3", "PutPublicAccessBlock", all_on.clone()).await;
    let after = env.latest(BUCKET, "pub").await;
    assert_eq!(
        after.supplementary_configuration["PublicAccessBlockConfiguration"],
        json!({"blockPublicAcls": true, "ignorePublicAcls": true, "blockPublicPolicy": true, "restrictPublicBuckets": true})
    );
    for rule in [
        "S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED",
        "S3_BUCKET_PUBLIC_READ_PROHIBITED",
        "S3_BUCKET_PUBLIC_WRITE_PROHIBITED",
    ] {
        assert_eq!(
            verdict(rule, json!({}), &after),
            ComplianceType::Compliant,
            "{rule}"
        );
    }
    assert_eq!(
        env.ok("s3", "GetPublicAccessBlock", json!({"Bucket": "pub"}))
            .await,
        json!({"PublicAccessBlockConfiguration": {"BlockPublicAcls": true, "IgnorePublicAcls": true,
            "BlockPublicPolicy": true, "RestrictPublicBuckets": true}})
    );
    env.ok("s3", "PutPublicAccessBlock", all_on).await;
    assert_eq!(env.history(BUCKET, "pub").await.len(), 2);

    // Put replaces the whole configuration: omitted flags are false.
    env.ok(
        "s3",
        "PutPublicAccessBlock",
        json!({"Bucket": "pub", "PublicAccessBlockConfiguration": {"BlockPublicAcls": true}}),
    )
    .await;
    let got = env
        .ok("s3", "GetPublicAccessBlock", json!({"Bucket": "pub"}))
        .await;
    assert_eq!(
        got["PublicAccessBlockConfiguration"]["IgnorePublicAcls"],
        json!(false)
    );
    env.ok("s3", "DeletePublicAccessBlock", json!({"Bucket": "pub"}))
        .await;
    assert_code(
        &env.err("s3", "GetPublicAccessBlock", json!({"Bucket": "pub"}))
            .await,
        "NoSuchPublicAccessBlockConfiguration",
    );
    assert_eq!(env.history(BUCKET, "pub").await.len(), 4);
}

#[tokio::test]
async fn s3_encryption_remediation_flips_the_rule() {
    let env = env();
    let before = env
        .seed(BUCKET, "enc", bucket_conf("enc"), bucket_supp())
        .await;
    let rule = "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED";
    assert_eq!(
        verdict(rule, json!({}), &before),
        ComplianceType::NonCompliant
    );
    let e = env
        .err("s3", "GetBucketEncryption", json!({"Bucket": "enc"}))
        .await;
    assert_code(&e, "ServerSideEncryptionConfigurationNotFoundError");

    let put = json!({"Bucket": "enc", "ServerSideEncryptionConfiguration": {"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": true}]}});
    env.ok("s3", "PutBucketEncryption", put.clone()).await;
    let after = env.latest(BUCKET, "enc").await;
    assert_eq!(
        after.supplementary_configuration["ServerSideEncryptionConfiguration"],
        json!({"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256", "kmsMasterKeyID": null}, "bucketKeyEnabled": true}]})
    );
    assert_eq!(verdict(rule, json!({}), &after), ComplianceType::Compliant);
    assert_eq!(
        env.ok("s3", "GetBucketEncryption", json!({"Bucket": "enc"}))
            .await,
        json!({"ServerSideEncryptionConfiguration": {"Rules": [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": true}]}})
    );
    env.ok("s3", "PutBucketEncryption", put).await;
    assert_eq!(env.history(BUCKET, "enc").await.len(), 2);

    env.ok("s3", "PutBucketEncryption", json!({"Bucket": "enc", "ServerSideEncryptionConfiguration": {"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "arn:aws:kms:us-east-1:111122223333:key/k"}}]}}))
        .await;
    let got = env
        .ok("s3", "GetBucketEncryption", json!({"Bucket": "enc"}))
        .await;
    assert_eq!(
        got["ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"],
        json!({"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "arn:aws:kms:us-east-1:111122223333:key/k"})
    );
    let e = env
        .err(
            "s3",
            "PutBucketEncryption",
            json!({"Bucket": "enc", "ServerSideEncryptionConfiguration": {"Rules": [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "rot13"}}]}}),
        )
        .await;
    assert_code(&e, "MalformedXML");
}

#[tokio::test]
async fn s3_logging_remediation_flips_the_rule() {
    let env = env();
    let before = env
        .seed(BUCKET, "app", bucket_conf("app"), bucket_supp())
        .await;
    let rule = "S3_BUCKET_LOGGING_ENABLED";
    assert_eq!(
        verdict(rule, json!({}), &before),
        ComplianceType::NonCompliant
    );
    assert_eq!(
        env.ok("s3", "GetBucketLogging", json!({"Bucket": "app"}))
            .await,
        json!({})
    );

    let put = json!({"Bucket": "app", "BucketLoggingStatus": {"LoggingEnabled": {"TargetBucket": "logs", "TargetPrefix": "app/",
        "TargetGrants": [{"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/s3/LogDelivery"}, "Permission": "WRITE"}]}}});
    env.ok("s3", "PutBucketLogging", put.clone()).await;
    let after = env.latest(BUCKET, "app").await;
    assert_eq!(
        after.supplementary_configuration["BucketLoggingConfiguration"],
        json!({"destinationBucketName": "logs", "logFilePrefix": "app/"})
    );
    assert_eq!(
        verdict(
            rule,
            json!({"targetBucket": "logs", "targetPrefix": "app/"}),
            &after
        ),
        ComplianceType::Compliant
    );
    assert_eq!(
        env.ok("s3", "GetBucketLogging", json!({"Bucket": "app"}))
            .await,
        json!({"LoggingEnabled": {"TargetBucket": "logs", "TargetPrefix": "app/"}})
    );
    env.ok("s3", "PutBucketLogging", put).await;
    assert_eq!(env.history(BUCKET, "app").await.len(), 2);

    env.ok(
        "s3",
        "PutBucketLogging",
        json!({"Bucket": "app", "BucketLoggingStatus": {}}),
    )
    .await;
    assert_eq!(
        env.ok("s3", "GetBucketLogging", json!({"Bucket": "app"}))
            .await,
        json!({})
    );
    assert_eq!(
        verdict(rule, json!({}), &env.latest(BUCKET, "app").await),
        ComplianceType::NonCompliant
    );
}

#[tokio::test]
async fn s3_bucket_policy_round_trip() {
    let env = env();
    env.seed(BUCKET, "p", bucket_conf("p"), bucket_supp()).await;
    let e = env
        .err("s3", "GetBucketPolicy", json!({"Bucket": "p"}))
        .await;
    assert_code(&e, "NoSuchBucketPolicy");
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::p","arn:aws:s3:::p/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#;
    env.ok(
        "s3",
        "PutBucketPolicy",
        json!({"Bucket": "p", "Policy": policy}),
    )
    .await;
    assert_eq!(
        env.ok("s3", "GetBucketPolicy", json!({"Bucket": "p"}))
            .await,
        json!({"Policy": policy})
    );
    assert_eq!(
        verdict(
            "S3_BUCKET_SSL_REQUESTS_ONLY",
            json!({}),
            &env.latest(BUCKET, "p").await
        ),
        ComplianceType::Compliant
    );
    assert_code(
        &env.err(
            "s3",
            "PutBucketPolicy",
            json!({"Bucket": "p", "Policy": "nope"}),
        )
        .await,
        "MalformedPolicy",
    );
    env.ok("s3", "DeleteBucketPolicy", json!({"Bucket": "p"}))
        .await;
    assert_code(
        &env.err("s3", "GetBucketPolicy", json!({"Bucket": "p"}))
            .await,
        "NoSuchBucketPolicy",
    );
}

#[tokio::test]
async fn concurrent_writes_to_one_bucket_lose_nothing() {
    let env = env();
    env.seed(BUCKET, "busy", bucket_conf("busy"), bucket_supp())
        .await;
    let w = &env.world;
    let (a, b, c, d) = tokio::join!(
        w.call("s3", "PutBucketVersioning", json!({"Bucket": "busy", "VersioningConfiguration": {"Status": "Enabled"}})),
        w.call("s3", "PutPublicAccessBlock", json!({"Bucket": "busy", "PublicAccessBlockConfiguration": {"BlockPublicAcls": true}})),
        w.call("s3", "PutBucketEncryption", json!({"Bucket": "busy", "ServerSideEncryptionConfiguration": {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}})),
        w.call("s3", "PutBucketLogging", json!({"Bucket": "busy", "BucketLoggingStatus": {"LoggingEnabled": {"TargetBucket": "logs"}}})),
    );
    for r in [a, b, c, d] {
        r.unwrap();
    }
    let latest = env.latest(BUCKET, "busy").await;
    for rule in [
        "S3_BUCKET_VERSIONING_ENABLED",
        "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED",
        "S3_BUCKET_LOGGING_ENABLED",
    ] {
        assert_eq!(
            verdict(rule, json!({}), &latest),
            ComplianceType::Compliant,
            "{rule}"
        );
    }
    assert!(latest
        .supplementary_configuration
        .contains_key("PublicAccessBlockConfiguration"));
    assert_eq!(env.history(BUCKET, "busy").await.len(), 5);
}

// ---- EC2 ---------------------------------------------------------------------------------------

#[tokio::test]
async fn ec2_describe_security_groups_is_boto3_shaped() {
    let env = env();
    env.seed(
        SG,
        "sg-0123456789abcdef0",
        sg_conf("sg-0123456789abcdef0", "web"),
        json!({}),
    )
    .await;
    env.seed(
        SG,
        "sg-0000000000000000a",
        sg_conf("sg-0000000000000000a", "default"),
        json!({}),
    )
    .await;
    let got = env
        .ok(
            "ec2",
            "DescribeSecurityGroups",
            json!({"GroupIds": ["sg-0123456789abcdef0"]}),
        )
        .await;
    assert_eq!(
        got,
        json!({"SecurityGroups": [{
            "Description": "web", "GroupName": "web", "OwnerId": ACCOUNT, "GroupId": "sg-0123456789abcdef0",
            "VpcId": "vpc-0a1b2c3d", "Tags": [{"Key": "env", "Value": "prod"}],
            "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []}],
            "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []}]}]})
    );
    let all = env.ok("ec2", "DescribeSecurityGroups", json!({})).await;
    assert_eq!(all["SecurityGroups"].as_array().unwrap().len(), 2);
    let by_name = env
        .ok(
            "ec2",
            "DescribeSecurityGroups",
            json!({"Filters": [{"Name": "group-name", "Values": ["default"]}]}),
        )
        .await;
    assert_eq!(
        by_name["SecurityGroups"][0]["GroupId"],
        json!("sg-0000000000000000a")
    );
    assert_eq!(by_name["SecurityGroups"].as_array().unwrap().len(), 1);
    let by_name = env
        .ok(
            "ec2",
            "DescribeSecurityGroups",
            json!({"GroupNames": ["web"]}),
        )
        .await;
    assert_eq!(
        by_name["SecurityGroups"][0]["GroupId"],
        json!("sg-0123456789abcdef0")
    );

    let e = env
        .err(
            "ec2",
            "DescribeSecurityGroups",
            json!({"GroupIds": ["sg-x"]}),
        )
        .await;
    assert_code(&e, "InvalidGroup.NotFound");
    assert_eq!(e.message, "The security group 'sg-x' does not exist");
    let e = env
        .err(
            "ec2",
            "DescribeSecurityGroups",
            json!({"GroupIds": ["web"]}),
        )
        .await;
    assert_code(&e, "InvalidGroupId.Malformed");
    let e = env
        .err(
            "ec2",
            "DescribeSecurityGroups",
            json!({"Filters": [{"Name": "ip-permission.cidr", "Values": ["x"]}]}),
        )
        .await;
    assert_code(&e, "InvalidParameterValue");
}

#[tokio::test]
async fn ec2_ssh_revoke_flips_the_rule_and_needs_exact_rules() {
    let env = env();
    let id = "sg-0123456789abcdef0";
    let mut conf = sg_conf(id, "web");
    // A second source on the same port stays after the world-open one is revoked.
    conf["ipPermissions"][0]["ipv4Ranges"] =
        json!([{"cidrIp": "0.0.0.0/0"}, {"cidrIp": "10.0.0.0/8", "description": "office"}]);
    conf["ipPermissions"][0]["ipRanges"] = json!(["0.0.0.0/0", "10.0.0.0/8"]);
    let before = env.seed(SG, id, conf, json!({})).await;
    let rule = "INCOMING_SSH_DISABLED";
    assert_eq!(
        verdict(rule, json!({}), &before),
        ComplianceType::NonCompliant
    );

    // A rule that does not exist exactly: nothing is revoked.
    let e = env
        .err("ec2", "RevokeSecurityGroupIngress", json!({"GroupId": id, "IpPermissions": [
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 23, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}))
        .await;
    assert_code(&e, "InvalidPermission.NotFound");
    assert!(e
        .message
        .starts_with("The specified rule does not exist in this security group"));
    assert_eq!(env.history(SG, id).await.len(), 1);

    let revoke = json!({"GroupId": id, "IpPermissions": [
        {"IpProtocol": "6", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]});
    assert_eq!(
        env.ok("ec2", "RevokeSecurityGroupIngress", revoke.clone())
            .await,
        json!({"Return": true})
    );
    let after = env.latest(SG, id).await;
    assert_eq!(env.history(SG, id).await.len(), 2);
    assert_eq!(verdict(rule, json!({}), &after), ComplianceType::Compliant);
    assert_eq!(
        after.configuration["ipPermissions"],
        json!([{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": ["10.0.0.0/8"],
            "ipv4Ranges": [{"cidrIp": "10.0.0.0/8", "description": "office"}], "ipv6Ranges": [], "prefixListIds": [], "userIdGroupPairs": []}])
    );
    assert_eq!(
        after.configuration["ipPermissionsEgress"],
        before.configuration["ipPermissionsEgress"]
    );
    let described = env
        .ok("ec2", "DescribeSecurityGroups", json!({"GroupIds": [id]}))
        .await;
    assert_eq!(
        described["SecurityGroups"][0]["IpPermissions"][0]["IpRanges"],
        json!([{"CidrIp": "10.0.0.0/8", "Description": "office"}])
    );

    // Again: AWS answers InvalidPermission.NotFound, and the state does not change.
    let e = env.err("ec2", "RevokeSecurityGroupIngress", revoke).await;
    assert_code(&e, "InvalidPermission.NotFound");
    assert_eq!(env.history(SG, id).await.len(), 2);

    // The legacy flat form revokes the remaining rule; the emptied entry goes.
    env.ok("ec2", "RevokeSecurityGroupIngress", json!({"GroupId": id, "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "10.0.0.0/8"}))
        .await;
    assert_eq!(
        env.latest(SG, id).await.configuration["ipPermissions"],
        json!([])
    );

    let e = env
        .err("ec2", "RevokeSecurityGroupIngress", json!({"GroupId": "sg-missing", "IpPermissions": [
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}))
        .await;
    assert_code(&e, "InvalidGroup.NotFound");
    assert_eq!(e.message, "The security group 'sg-missing' does not exist");
}

#[tokio::test]
async fn ec2_restricted_common_ports_remediation_with_ipv6() {
    let env = env();
    let id = "sg-0000000000000000b";
    let mut conf = sg_conf(id, "db");
    conf["ipPermissions"] = json!([{"ipProtocol": "tcp", "fromPort": 3306, "toPort": 3306, "ipv4Ranges": [],
        "ipv6Ranges": [{"cidrIpv6": "::/0"}], "prefixListIds": [], "userIdGroupPairs": []}]);
    let before = env.seed(SG, id, conf, json!({})).await;
    let rule = "RESTRICTED_INCOMING_TRAFFIC";
    assert_eq!(
        verdict(rule, json!({}), &before),
        ComplianceType::NonCompliant
    );
    env.ok("ec2", "RevokeSecurityGroupIngress", json!({"GroupId": id, "IpPermissions": [
        {"IpProtocol": "tcp", "FromPort": 3306, "ToPort": 3306, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}]}))
        .await;
    assert_eq!(
        verdict(rule, json!({}), &env.latest(SG, id).await),
        ComplianceType::Compliant
    );
}

#[tokio::test]
async fn ec2_default_security_group_closed_by_revoking_what_describe_returns() {
    let env = env();
    let id = "sg-0000000000000000d";
    let mut conf = sg_conf(id, "default");
    conf["ipPermissions"] = json!([{"ipProtocol": "-1", "ipRanges": [], "ipv4Ranges": [], "ipv6Ranges": [],
        "prefixListIds": [], "userIdGroupPairs": [{"groupId": id, "userId": ACCOUNT}]}]);
    let before = env.seed(SG, id, conf, json!({})).await;
    let rule = "VPC_DEFAULT_SECURITY_GROUP_CLOSED";
    assert_eq!(
        verdict(rule, json!({}), &before),
        ComplianceType::NonCompliant
    );

    // What the AWS runbook does: describe, then revoke every rule it found.
    let described = env
        .ok("ec2", "DescribeSecurityGroups", json!({"GroupIds": [id]}))
        .await;
    let group = &described["SecurityGroups"][0];
    assert_eq!(group["GroupName"], json!("default"));
    env.ok(
        "ec2",
        "RevokeSecurityGroupIngress",
        json!({"GroupId": id, "IpPermissions": group["IpPermissions"]}),
    )
    .await;
    assert_eq!(
        verdict(rule, json!({}), &env.latest(SG, id).await),
        ComplianceType::NonCompliant
    );
    env.ok(
        "ec2",
        "RevokeSecurityGroupEgress",
        json!({"GroupId": id, "IpPermissions": group["IpPermissionsEgress"]}),
    )
    .await;
    let after = env.latest(SG, id).await;
    assert_eq!(verdict(rule, json!({}), &after), ComplianceType::Compliant);
    assert_eq!(after.configuration["ipPermissions"], json!([]));
    assert_eq!(after.configuration["ipPermissionsEgress"], json!([]));
    assert_eq!(env.history(SG, id).await.len(), 3);
    let again = env
        .ok("ec2", "DescribeSecurityGroups", json!({"GroupIds": [id]}))
        .await;
    assert_eq!(again["SecurityGroups"][0]["IpPermissions"], json!([]));
    assert_eq!(again["SecurityGroups"][0]["IpPermissionsEgress"], json!([]));

    // Empty permission lists are not a request.
    let e = env
        .err(
            "ec2",
            "RevokeSecurityGroupEgress",
            json!({"GroupId": id, "IpPermissions": []}),
        )
        .await;
    assert_code(&e, "MissingParameter");
}

#[tokio::test]
async fn ec2_security_group_rules_have_stable_ids_and_revoke_by_id() {
    let env = env();
    let id = "sg-0123456789abcdef0";
    let mut conf = sg_conf(id, "web");
    conf["ipPermissions"] = json!([
        {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": ["0.0.0.0/0", "10.0.0.0/8"],
         "ipv4Ranges": [{"cidrIp": "0.0.0.0/0"}, {"cidrIp": "10.0.0.0/8", "description": "office"}],
         "ipv6Ranges": [{"cidrIpv6": "::/0"}], "prefixListIds": [{"prefixListId": "pl-12345678"}],
         "userIdGroupPairs": [{"groupId": "sg-0000000000000000a", "userId": ACCOUNT}]}]);
    let before = env.seed(SG, id, conf.clone(), json!({})).await;
    env.seed(
        SG,
        "sg-0000000000000000a",
        sg_conf("sg-0000000000000000a", "other"),
        json!({}),
    )
    .await;
    assert_eq!(
        verdict("INCOMING_SSH_DISABLED", json!({}), &before),
        ComplianceType::NonCompliant
    );

    let by_group = json!({"Filters": [{"Name": "group-id", "Values": [id]}]});
    let got = env
        .ok("ec2", "DescribeSecurityGroupRules", by_group.clone())
        .await;
    let rules = got["SecurityGroupRules"].as_array().unwrap().clone();
    // Five ingress sources and one egress rule, one entry each.
    assert_eq!(rules.len(), 6, "{got}");
    for r in &rules {
        let rid = r["SecurityGroupRuleId"].as_str().unwrap();
        assert!(rid.starts_with("sgr-") && rid.len() == 21, "{rid}");
        assert!(rid[4..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(r["GroupId"], json!(id));
        assert_eq!(r["GroupOwnerId"], json!(ACCOUNT));
    }
    let ids: Vec<&str> = rules
        .iter()
        .map(|r| r["SecurityGroupRuleId"].as_str().unwrap())
        .collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "rule ids are distinct");
    let strip = |r: &Value| {
        let mut r = r.clone();
        r.as_object_mut().unwrap().remove("SecurityGroupRuleId");
        r
    };
    let shapes: Vec<Value> = rules.iter().map(strip).collect();
    let base = json!({"GroupId": id, "GroupOwnerId": ACCOUNT, "IsEgress": false, "IpProtocol": "tcp",
        "FromPort": 22, "ToPort": 22, "Tags": []});
    let with = |extra: Value| {
        let mut b = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    assert_eq!(
        shapes,
        vec![
            with(json!({"CidrIpv4": "0.0.0.0/0"})),
            with(json!({"CidrIpv4": "10.0.0.0/8", "Description": "office"})),
            with(json!({"CidrIpv6": "::/0"})),
            with(json!({"PrefixListId": "pl-12345678"})),
            with(
                json!({"ReferencedGroupInfo": {"GroupId": "sg-0000000000000000a", "UserId": ACCOUNT}})
            ),
            json!({"GroupId": id, "GroupOwnerId": ACCOUNT, "IsEgress": true, "IpProtocol": "-1",
                "FromPort": -1, "ToPort": -1, "CidrIpv4": "0.0.0.0/0", "Tags": []}),
        ]
    );

    // Stable across reads and across recording the same rules again.
    assert_eq!(
        env.ok("ec2", "DescribeSecurityGroupRules", by_group.clone())
            .await,
        got
    );
    env.seed(SG, id, conf, json!({"touched": true})).await;
    assert_eq!(
        env.ok("ec2", "DescribeSecurityGroupRules", by_group.clone())
            .await,
        got
    );
    // Every group's rules without a filter; by id; by the rule-id filter.
    let all = env.ok("ec2", "DescribeSecurityGroupRules", json!({})).await;
    assert_eq!(all["SecurityGroupRules"].as_array().unwrap().len(), 8);
    let one = env
        .ok(
            "ec2",
            "DescribeSecurityGroupRules",
            json!({"SecurityGroupRuleIds": [ids[2]]}),
        )
        .await;
    assert_eq!(one["SecurityGroupRules"], json!([rules[2]]));
    let one = env
        .ok(
            "ec2",
            "DescribeSecurityGroupRules",
            json!({"Filters": [{"Name": "security-group-rule-id", "Values": [ids[3]]}]}),
        )
        .await;
    assert_eq!(one["SecurityGroupRules"], json!([rules[3]]));
    let e = env
        .err(
            "ec2",
            "DescribeSecurityGroupRules",
            json!({"SecurityGroupRuleIds": ["sgr-00000000000000000"]}),
        )
        .await;
    assert_code(&e, "InvalidSecurityGroupRuleId.NotFound");
    let e = env
        .err(
            "ec2",
            "DescribeSecurityGroupRules",
            json!({"Filters": [{"Name": "ip-protocol", "Values": ["tcp"]}]}),
        )
        .await;
    assert_code(&e, "InvalidParameterValue");

    // Revoke by id: an unknown id (or an egress id on the ingress call) revokes nothing.
    let versions = env.history(SG, id).await.len();
    for bad in ["sgr-00000000000000000", ids[5]] {
        let e = env
            .err(
                "ec2",
                "RevokeSecurityGroupIngress",
                json!({"GroupId": id, "SecurityGroupRuleIds": [ids[0], bad]}),
            )
            .await;
        assert_code(&e, "InvalidSecurityGroupRuleId.NotFound");
        assert!(e.message.contains(bad), "{e}");
    }
    assert_eq!(env.history(SG, id).await.len(), versions);

    // The world-open sources go, exactly those.
    env.ok(
        "ec2",
        "RevokeSecurityGroupIngress",
        json!({"GroupId": id, "SecurityGroupRuleIds": [ids[0], ids[2]]}),
    )
    .await;
    let after = env.latest(SG, id).await;
    assert_eq!(env.history(SG, id).await.len(), versions + 1);
    assert_eq!(
        verdict("INCOMING_SSH_DISABLED", json!({}), &after),
        ComplianceType::Compliant
    );
    let left = env
        .ok("ec2", "DescribeSecurityGroupRules", by_group.clone())
        .await;
    assert_eq!(
        left["SecurityGroupRules"],
        json!([rules[1], rules[3], rules[4], rules[5]]),
        "the other rules keep their ids"
    );
    // Revoking the same id again: it is gone.
    let e = env
        .err(
            "ec2",
            "RevokeSecurityGroupIngress",
            json!({"GroupId": id, "SecurityGroupRuleIds": [ids[0]]}),
        )
        .await;
    assert_code(&e, "InvalidSecurityGroupRuleId.NotFound");
    // Egress by id.
    env.ok(
        "ec2",
        "RevokeSecurityGroupEgress",
        json!({"GroupId": id, "SecurityGroupRuleIds": [ids[5]]}),
    )
    .await;
    assert_eq!(
        env.latest(SG, id).await.configuration["ipPermissionsEgress"],
        json!([])
    );
    // A rule authorized again gets its old id back.
    env.ok("ec2", "AuthorizeSecurityGroupIngress", json!({"GroupId": id, "IpPermissions": [
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}))
        .await;
    let back = env
        .ok(
            "ec2",
            "DescribeSecurityGroupRules",
            json!({"SecurityGroupRuleIds": [ids[0]]}),
        )
        .await;
    assert_eq!(back["SecurityGroupRules"], json!([rules[0]]));
}

#[tokio::test]
async fn ec2_authorize_then_revoke_round_trips() {
    let env = env();
    let id = "sg-0000000000000000e";
    let mut conf = sg_conf(id, "app");
    conf["ipPermissions"] = json!([]);
    env.seed(SG, id, conf, json!({})).await;
    let perm = json!({"GroupId": id, "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
        "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]});
    env.ok("ec2", "AuthorizeSecurityGroupIngress", perm.clone())
        .await;
    let opened = env.latest(SG, id).await;
    assert_eq!(
        verdict("INCOMING_SSH_DISABLED", json!({}), &opened),
        ComplianceType::NonCompliant
    );
    let e = env
        .err("ec2", "AuthorizeSecurityGroupIngress", perm.clone())
        .await;
    assert_code(&e, "InvalidPermission.Duplicate");
    env.ok("ec2", "RevokeSecurityGroupIngress", perm).await;
    assert_eq!(
        verdict(
            "INCOMING_SSH_DISABLED",
            json!({}),
            &env.latest(SG, id).await
        ),
        ComplianceType::Compliant
    );
    assert_eq!(env.history(SG, id).await.len(), 3);
}

#[tokio::test]
async fn ec2_ebs_default_encryption_remediation_flips_the_rule() {
    let env = env();
    // No account item at all: EBS default encryption is off, and enabling records the item.
    assert_eq!(
        env.ok("ec2", "GetEbsEncryptionByDefault", json!({})).await,
        json!({"EbsEncryptionByDefault": false})
    );
    env.ok("ec2", "EnableEbsEncryptionByDefault", json!({}))
        .await;
    let created = env.latest(ACCOUNT_TYPE, ACCOUNT).await;
    assert_eq!(
        created.configuration,
        json!({"ebsEncryptionByDefault": true})
    );
    env.ok("ec2", "DisableEbsEncryptionByDefault", json!({}))
        .await;

    // The account item as recorded, with other settings kept.
    let env = self::env();
    let before = env
        .seed(
            ACCOUNT_TYPE,
            ACCOUNT,
            json!({"ebsEncryptionByDefault": false, "passwordPolicy": null}),
            json!({"PublicAccessBlockConfiguration": {"blockPublicAcls": true}}),
        )
        .await;
    let rule = "EC2_EBS_ENCRYPTION_BY_DEFAULT";
    assert_eq!(
        verdict(rule, json!({}), &before),
        ComplianceType::NonCompliant
    );
    assert_eq!(
        env.ok("ec2", "EnableEbsEncryptionByDefault", json!({}))
            .await,
        json!({"EbsEncryptionByDefault": true})
    );
    let after = env.latest(ACCOUNT_TYPE, ACCOUNT).await;
    assert_eq!(verdict(rule, json!({}), &after), ComplianceType::Compliant);
    assert_eq!(
        after.supplementary_configuration,
        before.supplementary_configuration
    );
    assert_eq!(
        env.ok("ec2", "GetEbsEncryptionByDefault", json!({})).await,
        json!({"EbsEncryptionByDefault": true})
    );
    env.ok("ec2", "EnableEbsEncryptionByDefault", json!({}))
        .await;
    assert_eq!(env.history(ACCOUNT_TYPE, ACCOUNT).await.len(), 2);
}

// ---- KMS ---------------------------------------------------------------------------------------

#[tokio::test]
async fn kms_rotation_remediation_flips_the_rule() {
    let env = env();
    let before = env
        .seed(
            KEY,
            KEY_ID,
            key_conf(json!({})),
            json!({"KeyRotationStatus": false}),
        )
        .await;
    let rule = "CMK_BACKING_KEY_ROTATION_ENABLED";
    assert_eq!(
        verdict(rule, json!({}), &before),
        ComplianceType::NonCompliant
    );
    assert_eq!(
        env.ok("kms", "GetKeyRotationStatus", json!({"KeyId": KEY_ID}))
            .await,
        json!({"KeyRotationEnabled": false})
    );
    let arn = format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}");
    assert_eq!(
        env.ok("kms", "EnableKeyRotation", json!({"KeyId": arn}))
            .await,
        json!({})
    );
    let after = env.latest(KEY, KEY_ID).await;
    assert_eq!(
        after.supplementary_configuration["KeyRotationStatus"],
        json!(true)
    );
    assert_eq!(verdict(rule, json!({}), &after), ComplianceType::Compliant);
    assert_eq!(
        env.ok("kms", "GetKeyRotationStatus", json!({"KeyId": KEY_ID}))
            .await,
        json!({"KeyRotationEnabled": true})
    );
    env.ok("kms", "EnableKeyRotation", json!({"KeyId": KEY_ID}))
        .await;
    assert_eq!(env.history(KEY, KEY_ID).await.len(), 2);

    let e = env
        .err(
            "kms",
            "EnableKeyRotation",
            json!({"KeyId": "00000000-0000-0000-0000-000000000000"}),
        )
        .await;
    assert_code(&e, "NotFoundException");
    assert_eq!(
        e.message,
        format!("Key 'arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000' does not exist")
    );
    assert_code(
        &env.err("kms", "GetKeyRotationStatus", json!({"KeyId": "alias/x"}))
            .await,
        "NotFoundException",
    );

    // KMS refuses rotation for keys that cannot rotate.
    env.seed(
        KEY,
        "disabled",
        key_conf(json!({"keyId": "disabled", "keyState": "Disabled", "enabled": false})),
        json!({}),
    )
    .await;
    assert_code(
        &env.err("kms", "EnableKeyRotation", json!({"KeyId": "disabled"}))
            .await,
        "KMSInvalidStateException",
    );
    env.seed(
        KEY,
        "rsa",
        key_conf(
            json!({"keyId": "rsa", "keySpec": "RSA_2048", "customerMasterKeySpec": "RSA_2048"}),
        ),
        json!({}),
    )
    .await;
    assert_code(
        &env.err("kms", "EnableKeyRotation", json!({"KeyId": "rsa"}))
            .await,
        "UnsupportedOperationException",
    );
}

#[tokio::test]
async fn kms_cancel_deletion_remediation_flips_the_rule() {
    let env = env();
    let before = env
        .seed(
            KEY,
            KEY_ID,
            key_conf(json!({"keyState": "PendingDeletion", "enabled": false,
            "deletionDate": "2030-01-01T00:00:00.000Z", "pendingDeletionWindowInDays": 30})),
            json!({"KeyRotationStatus": true}),
        )
        .await;
    let rule = "KMS_CMK_NOT_SCHEDULED_FOR_DELETION";
    assert_eq!(
        verdict(rule, json!({}), &before),
        ComplianceType::NonCompliant
    );
    let arn = format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}");
    assert_eq!(
        env.ok("kms", "CancelKeyDeletion", json!({"KeyId": KEY_ID}))
            .await,
        json!({"KeyId": arn})
    );
    let after = env.latest(KEY, KEY_ID).await;
    assert_eq!(verdict(rule, json!({}), &after), ComplianceType::Compliant);
    assert_eq!(after.configuration["keyState"], json!("Disabled"));
    assert!(after.configuration.get("deletionDate").is_none());
    let described = env.ok("kms", "DescribeKey", json!({"KeyId": KEY_ID})).await;
    let meta = &described["KeyMetadata"];
    assert_eq!(meta["KeyState"], json!("Disabled"));
    assert_eq!(meta["Enabled"], json!(false));
    assert_eq!(meta["KeyId"], json!(KEY_ID));
    assert_eq!(meta["Arn"], json!(arn));
    assert_eq!(meta["AWSAccountId"], json!(ACCOUNT));
    assert_eq!(meta["KeyManager"], json!("CUSTOMER"));
    assert!(meta.get("DeletionDate").is_none());

    // Not pending deletion any more: KMS's error, no new version.
    let e = env
        .err("kms", "CancelKeyDeletion", json!({"KeyId": KEY_ID}))
        .await;
    assert_code(&e, "KMSInvalidStateException");
    assert_eq!(e.message, format!("{arn} is not pending deletion."));
    assert_eq!(env.history(KEY, KEY_ID).await.len(), 2);

    // And back: schedule, enable refused, cancel, enable.
    let scheduled = env
        .ok(
            "kms",
            "ScheduleKeyDeletion",
            json!({"KeyId": KEY_ID, "PendingWindowInDays": 7}),
        )
        .await;
    assert_eq!(scheduled["KeyState"], json!("PendingDeletion"));
    assert_eq!(
        verdict(rule, json!({}), &env.latest(KEY, KEY_ID).await),
        ComplianceType::NonCompliant
    );
    assert_code(
        &env.err("kms", "EnableKey", json!({"KeyId": KEY_ID})).await,
        "KMSInvalidStateException",
    );
    env.ok("kms", "CancelKeyDeletion", json!({"KeyId": KEY_ID}))
        .await;
    env.ok("kms", "EnableKey", json!({"KeyId": KEY_ID})).await;
    assert_eq!(
        env.latest(KEY, KEY_ID).await.configuration["keyState"],
        json!("Enabled")
    );
    assert_code(
        &env.err(
            "kms",
            "ScheduleKeyDeletion",
            json!({"KeyId": KEY_ID, "PendingWindowInDays": 3}),
        )
        .await,
        "ValidationException",
    );
}

// ---- CloudTrail --------------------------------------------------------------------------------

#[tokio::test]
async fn cloudtrail_log_validation_remediation_flips_the_rule() {
    let env = env();
    let name = "management-events";
    let before = env
        .seed(
            TRAIL,
            name,
            trail_conf(),
            json!({"TrailStatus": {"isLogging": true}}),
        )
        .await;
    let rule = "CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED";
    assert_eq!(
        verdict(rule, json!({}), &before),
        ComplianceType::NonCompliant
    );
    let got = env
        .ok("cloudtrail", "GetTrail", json!({"Name": name}))
        .await;
    assert_eq!(got["Trail"]["Name"], json!(name));
    assert_eq!(got["Trail"]["LogFileValidationEnabled"], json!(false));
    assert_eq!(got["Trail"]["S3BucketName"], json!("ct-logs"));
    assert_eq!(got["Trail"]["HomeRegion"], json!(REGION));
    assert_eq!(got["Trail"]["IsMultiRegionTrail"], json!(true));

    let arn = format!("arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{name}");
    let updated = env
        .ok(
            "cloudtrail",
            "UpdateTrail",
            json!({"Name": arn, "EnableLogFileValidation": true}),
        )
        .await;
    assert_eq!(updated["LogFileValidationEnabled"], json!(true));
    assert_eq!(updated["TrailARN"], json!(arn));
    let after = env.latest(TRAIL, name).await;
    assert_eq!(verdict(rule, json!({}), &after), ComplianceType::Compliant);
    assert_eq!(after.configuration["s3BucketName"], json!("ct-logs"));
    assert_eq!(
        env.ok("cloudtrail", "GetTrail", json!({"Name": arn})).await["Trail"]
            ["LogFileValidationEnabled"],
        json!(true)
    );
    env.ok(
        "cloudtrail",
        "UpdateTrail",
        json!({"Name": name, "EnableLogFileValidation": "True"}),
    )
    .await;
    assert_eq!(env.history(TRAIL, name).await.len(), 2);

    // Encryption (row 19): a key id becomes the key ARN CloudTrail records.
    assert_eq!(
        verdict("CLOUD_TRAIL_ENCRYPTION_ENABLED", json!({}), &after),
        ComplianceType::NonCompliant
    );
    env.ok(
        "cloudtrail",
        "UpdateTrail",
        json!({"Name": name, "KmsKeyId": KEY_ID}),
    )
    .await;
    let encrypted = env.latest(TRAIL, name).await;
    assert_eq!(
        encrypted.configuration["kmsKeyId"],
        json!(format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}"))
    );
    assert_eq!(
        verdict("CLOUD_TRAIL_ENCRYPTION_ENABLED", json!({}), &encrypted),
        ComplianceType::Compliant
    );

    // Logging status.
    assert_eq!(
        env.ok("cloudtrail", "GetTrailStatus", json!({"Name": name}))
            .await["IsLogging"],
        json!(true)
    );
    env.ok("cloudtrail", "StopLogging", json!({"Name": name}))
        .await;
    assert_eq!(
        env.ok("cloudtrail", "GetTrailStatus", json!({"Name": name}))
            .await["IsLogging"],
        json!(false)
    );
    let list = env
        .ok(
            "cloudtrail",
            "DescribeTrails",
            json!({"trailNameList": [name, "other"]}),
        )
        .await;
    assert_eq!(list["trailList"].as_array().unwrap().len(), 1);

    let e = env
        .err("cloudtrail", "GetTrail", json!({"Name": "nope"}))
        .await;
    assert_code(&e, "TrailNotFoundException");
    assert_eq!(
        e.message,
        format!("Unknown trail: arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/nope for the user: {ACCOUNT}")
    );
    assert_code(
        &env.err(
            "cloudtrail",
            "UpdateTrail",
            json!({"Name": "nope", "EnableLogFileValidation": true}),
        )
        .await,
        "TrailNotFoundException",
    );
}

// ---- DynamoDB ----------------------------------------------------------------------------------

#[tokio::test]
async fn dynamodb_pitr_remediation_flips_the_rule() {
    let env = env();
    let before = env
        .seed(TABLE, "orders", table_conf(None), table_supp("DISABLED"))
        .await;
    let rule = "DYNAMODB_PITR_ENABLED";
    assert_eq!(
        verdict(rule, json!({}), &before),
        ComplianceType::NonCompliant
    );
    assert_eq!(
        env.ok(
            "dynamodb",
            "DescribeContinuousBackups",
            json!({"TableName": "orders"})
        )
        .await,
        json!({"ContinuousBackupsDescription": {"ContinuousBackupsStatus": "ENABLED",
            "PointInTimeRecoveryDescription": {"PointInTimeRecoveryStatus": "DISABLED"}}})
    );
    let update = json!({"TableName": "orders", "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": true}});
    let got = env
        .ok("dynamodb", "UpdateContinuousBackups", update.clone())
        .await;
    assert_eq!(
        got["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
            ["PointInTimeRecoveryStatus"],
        json!("ENABLED")
    );
    let after = env.latest(TABLE, "orders").await;
    assert_eq!(verdict(rule, json!({}), &after), ComplianceType::Compliant);
    assert_eq!(after.configuration, before.configuration);
    env.ok("dynamodb", "UpdateContinuousBackups", update).await;
    assert_eq!(env.history(TABLE, "orders").await.len(), 2);
    assert_eq!(
        env.ok(
            "dynamodb",
            "DescribeContinuousBackups",
            json!({"TableName": format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders")})
        )
        .await["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
            ["PointInTimeRecoveryStatus"],
        json!("ENABLED")
    );

    let e = env
        .err(
            "dynamodb",
            "DescribeContinuousBackups",
            json!({"TableName": "nope"}),
        )
        .await;
    assert_code(&e, "TableNotFoundException");
    let e = env
        .err("dynamodb", "DescribeTable", json!({"TableName": "nope"}))
        .await;
    assert_code(&e, "ResourceNotFoundException");
    assert_eq!(
        e.message,
        "Requested resource not found: Table: nope not found"
    );
}

#[tokio::test]
async fn dynamodb_sse_remediation_flips_the_rule() {
    let env = env();
    let before = env
        .seed(TABLE, "orders", table_conf(None), table_supp("ENABLED"))
        .await;
    let rule = "DYNAMODB_TABLE_ENCRYPTED_KMS";
    let key_arn = format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}");
    let params = json!({"kmsKeyArns": key_arn});
    assert_eq!(
        verdict(rule, params.clone(), &before),
        ComplianceType::NonCompliant
    );
    let described = env
        .ok("dynamodb", "DescribeTable", json!({"TableName": "orders"}))
        .await;
    assert_eq!(described["Table"]["TableName"], json!("orders"));
    assert_eq!(
        described["Table"]["KeySchema"],
        json!([{"AttributeName": "pk", "KeyType": "HASH"}])
    );
    assert_eq!(
        described["Table"]["BillingModeSummary"],
        json!({"BillingMode": "PAY_PER_REQUEST"})
    );
    assert!(described["Table"].get("SSEDescription").is_none());

    let update = json!({"TableName": "orders", "SSESpecification": {"Enabled": true, "SSEType": "KMS", "KMSMasterKeyId": key_arn}});
    let got = env.ok("dynamodb", "UpdateTable", update.clone()).await;
    assert_eq!(
        got["TableDescription"]["SSEDescription"],
        json!({"Status": "ENABLED", "SSEType": "KMS", "KMSMasterKeyArn": key_arn})
    );
    let after = env.latest(TABLE, "orders").await;
    assert_eq!(
        verdict(rule, params.clone(), &after),
        ComplianceType::Compliant
    );
    assert_eq!(
        after.supplementary_configuration,
        before.supplementary_configuration
    );
    assert_eq!(
        env.ok("dynamodb", "DescribeTable", json!({"TableName": "orders"}))
            .await["Table"]["SSEDescription"]["KMSMasterKeyArn"],
        json!(key_arn)
    );
    env.ok("dynamodb", "UpdateTable", update).await;
    assert_eq!(env.history(TABLE, "orders").await.len(), 2);

    // A key id is recorded as its ARN; Enabled false goes back to the AWS owned key.
    env.ok("dynamodb", "UpdateTable", json!({"TableName": "orders", "SSESpecification": {"Enabled": true, "KMSMasterKeyId": KEY_ID}})).await;
    assert_eq!(
        env.history(TABLE, "orders").await.len(),
        2,
        "a key id and its ARN are the same key"
    );
    env.ok(
        "dynamodb",
        "UpdateTable",
        json!({"TableName": "orders", "SSESpecification": {"Enabled": false}}),
    )
    .await;
    assert_eq!(
        verdict(rule, json!({}), &env.latest(TABLE, "orders").await),
        ComplianceType::NonCompliant
    );

    let e = env
        .err(
            "dynamodb",
            "UpdateTable",
            json!({"TableName": "orders", "BillingMode": "PROVISIONED"}),
        )
        .await;
    assert_code(&e, "UnsupportedOperation");
    assert!(e.message.contains("BillingMode"));
    let e = env
        .err("dynamodb", "UpdateTable", json!({"TableName": "orders"}))
        .await;
    assert_code(&e, "ValidationException");
    let e = env
        .err(
            "dynamodb",
            "UpdateTable",
            json!({"TableName": "nope", "SSESpecification": {"Enabled": true}}),
        )
        .await;
    assert_code(&e, "ResourceNotFoundException");
}

// ---- IAM ---------------------------------------------------------------------------------------

#[tokio::test]
async fn iam_user_policies_and_password_policy() {
    let env = env();
    let id = "AIDAEXAMPLEUSERID1234";
    let conf = json!({"path": "/", "userName": "alice", "userId": id, "arn": format!("arn:aws:iam::{ACCOUNT}:user/alice"),
        "createDate": "2024-01-01T00:00:00.000Z", "userPolicyList": [{"policyName": "inline1", "policyDocument": "%7B%7D"}],
        "groupList": ["devs"], "attachedManagedPolicies": [{"policyName": "ReadOnlyAccess", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}],
        "permissionsBoundary": null, "tags": []});
    let mut item = env.seed(USER, id, conf, json!({})).await;
    // Seeded with the user id as its name by the helper; IAM finds users by conf.userName.
    let rule = "IAM_USER_NO_POLICIES_CHECK";
    assert_eq!(
        verdict(rule, json!({}), &item),
        ComplianceType::NonCompliant
    );
    assert_eq!(
        env.ok("iam", "GetUser", json!({"UserName": "alice"})).await["User"]["UserId"],
        json!(id)
    );
    assert_eq!(
        env.ok("iam", "ListUserPolicies", json!({"UserName": "alice"}))
            .await,
        json!({"PolicyNames": ["inline1"], "IsTruncated": false})
    );
    env.ok(
        "iam",
        "DeleteUserPolicy",
        json!({"UserName": "alice", "PolicyName": "inline1"}),
    )
    .await;
    let attached = env
        .ok(
            "iam",
            "ListAttachedUserPolicies",
            json!({"UserName": "alice"}),
        )
        .await;
    let arn = attached["AttachedPolicies"][0]["PolicyArn"].clone();
    env.ok(
        "iam",
        "DetachUserPolicy",
        json!({"UserName": "alice", "PolicyArn": arn}),
    )
    .await;
    item = env.latest(USER, id).await;
    assert_eq!(verdict(rule, json!({}), &item), ComplianceType::Compliant);
    assert_code(
        &env.err(
            "iam",
            "DetachUserPolicy",
            json!({"UserName": "alice", "PolicyArn": arn}),
        )
        .await,
        "NoSuchEntity",
    );
    let e = env.err("iam", "GetUser", json!({"UserName": "bob"})).await;
    assert_code(&e, "NoSuchEntity");
    assert_eq!(e.message, "The user with name bob cannot be found.");

    let e = env.err("iam", "GetAccountPasswordPolicy", json!({})).await;
    assert_code(&e, "NoSuchEntity");
    env.ok("iam", "UpdateAccountPasswordPolicy", json!({"MinimumPasswordLength": 14, "RequireSymbols": true,
        "RequireNumbers": true, "RequireUppercaseCharacters": true, "RequireLowercaseCharacters": true,
        "AllowUsersToChangePassword": true, "MaxPasswordAge": 90, "PasswordReusePrevention": 24}))
        .await;
    let account = env.latest(ACCOUNT_TYPE, ACCOUNT).await;
    assert_eq!(
        verdict("IAM_PASSWORD_POLICY", json!({}), &account),
        ComplianceType::Compliant
    );
    let got = env.ok("iam", "GetAccountPasswordPolicy", json!({})).await;
    assert_eq!(got["PasswordPolicy"]["MinimumPasswordLength"], json!(14));
    assert_eq!(got["PasswordPolicy"]["ExpirePasswords"], json!(true));
}

// ---- re-evaluation -----------------------------------------------------------------------------

#[tokio::test]
async fn a_change_queues_the_resource_for_evaluation_and_a_no_op_does_not() {
    let env = env();
    env.seed(BUCKET, "q", bucket_conf("q"), bucket_supp()).await;
    let drain = || async {
        let now = remedy::time::now();
        let jobs = env
            .store
            .claim_evaluation_jobs(now, 100, now - 3600.0)
            .await
            .unwrap();
        let ids: Vec<i64> = jobs.iter().map(|j| j.id).collect();
        env.store
            .finish_evaluation_jobs(&ids, &[], now)
            .await
            .unwrap();
        jobs.len()
    };
    assert_eq!(drain().await, 1);
    assert_eq!(env.store.queued_evaluation_jobs().await.unwrap(), 0);
    let put = json!({"Bucket": "q", "VersioningConfiguration": {"Status": "Enabled"}});
    env.ok("s3", "PutBucketVersioning", put.clone()).await;
    assert_eq!(env.store.queued_evaluation_jobs().await.unwrap(), 1);
    assert_eq!(drain().await, 1);
    env.ok("s3", "PutBucketVersioning", put).await;
    assert_eq!(env.store.queued_evaluation_jobs().await.unwrap(), 0);
}

#[tokio::test]
async fn s3control_account_public_access_block_flips_the_account_rule() {
    let env = env();
    let before = env
        .seed(
            ACCOUNT_TYPE,
            ACCOUNT,
            json!({"ebsEncryptionByDefault": true}),
            json!({}),
        )
        .await;
    let rule = "S3_ACCOUNT_LEVEL_PUBLIC_ACCESS_BLOCKS_PERIODIC";
    assert_eq!(
        verdict(rule, json!({}), &before),
        ComplianceType::NonCompliant
    );
    let e = env
        .err(
            "s3control",
            "GetPublicAccessBlock",
            json!({"AccountId": ACCOUNT}),
        )
        .await;
    assert_code(&e, "NoSuchPublicAccessBlockConfiguration");
    let put = json!({"AccountId": ACCOUNT, "PublicAccessBlockConfiguration": {"BlockPublicAcls": true,
        "IgnorePublicAcls": true, "BlockPublicPolicy": true, "RestrictPublicBuckets": true}});
    env.ok("s3control", "PutPublicAccessBlock", put.clone())
        .await;
    let after = env.latest(ACCOUNT_TYPE, ACCOUNT).await;
    assert_eq!(verdict(rule, json!({}), &after), ComplianceType::Compliant);
    assert_eq!(after.configuration, before.configuration);
    assert_eq!(
        env.ok(
            "s3control",
            "GetPublicAccessBlock",
            json!({"AccountId": ACCOUNT})
        )
        .await["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"],
        json!(true)
    );
    env.ok("s3control", "PutPublicAccessBlock", put).await;
    assert_eq!(env.history(ACCOUNT_TYPE, ACCOUNT).await.len(), 2);
    let e = env
        .err(
            "s3control",
            "GetPublicAccessBlock",
            json!({"AccountId": "999999999999"}),
        )
        .await;
    assert_code(&e, "AccessDenied");
}
