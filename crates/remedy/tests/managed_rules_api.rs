//! All 23 AWS managed rules of spec §5 end to end through the official SDK: for each rule a
//! compliant, a non-compliant and a not-applicable configuration item (the shapes of spec §6, as
//! the evaluators' unit tests use them) recorded with PutResourceConfig's envelope form, the rule
//! created with PutConfigRule, and the answers of every compliance API checked: details by rule
//! (per ComplianceTypes filter) and by resource, Describe by rule and by resource, both summaries,
//! and paging.
//!
//! One server; all items are recorded first, then all rules created, so every rule is evaluated
//! by its rule-wide job (periodic-only rules too, without waiting for their timers).
//!
//! Resources of a type are shared: every rule judges every resource of its types. Assertions on a
//! rule's verdicts look at the rule's OWN fixture ids only; the roll-ups (Describe, summaries) are
//! checked against the full (rule, resource) matrix the details API returned.
//!
//! NOT_APPLICABLE legs: where the rule has a NOT_APPLICABLE case of its own (an open-port rule
//! over a group with nothing world-open, the default-group rule over a non-default group, the
//! rotation rule over an AWS-managed key, the deletion rule over a key outside `kmsKeyIds`, the
//! unused-credentials rule over a user without a credential report), that item is used. The other
//! rules judge every item of their type, so their scope also names `AWS::SNS::Topic` and a topic
//! is the not-applicable item — except the six periodic-only rules without a not-applicable case
//! (CLOUD_TRAIL_ENCRYPTION_ENABLED, CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED,
//! EC2_EBS_ENCRYPTION_BY_DEFAULT, IAM_PASSWORD_POLICY, MULTI_REGION_CLOUD_TRAIL_ENABLED,
//! S3_ACCOUNT_LEVEL_PUBLIC_ACCESS_BLOCKS_PERIODIC): AWS refuses a Scope on a periodic-only rule,
//! so they have no not-applicable leg.
//!
//! Account-level rules judge every `AWS::::Account` item. The account's own item
//! (`000000000000`) is the non-compliant one (no password policy, no EBS default encryption, no
//! account-level Block Public Access — so the S3 public read/write rules see no account-level
//! block), and a second account item (`111111111111`) is the compliant one; the four account
//! rules share these two. MULTI_REGION_CLOUD_TRAIL_ENABLED judges the account by the recorded
//! trails, so both account items get the same verdict: COMPLIANT while a logging multi-region
//! trail exists, then NON_COMPLIANT once that trail stops logging and the rule is re-run with
//! StartConfigRulesEvaluation (the server runs with `--rule-evaluation-interval-seconds 0` so the
//! on-demand run is not refused as too soon after the rule's creation).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::config::types::{ComplianceType, ConfigRule, Owner, Scope, Source};
use common::*;
use serde_json::{json, Value};

const BUCKET: &str = "AWS::S3::Bucket";
const SG: &str = "AWS::EC2::SecurityGroup";
const KEY: &str = "AWS::KMS::Key";
const USER: &str = "AWS::IAM::User";
const TRAIL: &str = "AWS::CloudTrail::Trail";
const TABLE: &str = "AWS::DynamoDB::Table";
const ACCOUNT: &str = "AWS::::Account";
const TOPIC: &str = "AWS::SNS::Topic";
const ALL_TYPES: [&str; 8] = [BUCKET, SG, KEY, USER, TRAIL, TABLE, ACCOUNT, TOPIC];

/// The account of the default credentials, and a second account item the account rules judge.
const OWN_ACCOUNT: &str = "000000000000";
const OTHER_ACCOUNT: &str = "111111111111";
/// The logging multi-region trail MULTI_REGION_CLOUD_TRAIL_ENABLED relies on.
const GOOD_TRAIL: &str = "org-trail";

const C: &str = "COMPLIANT";
const N: &str = "NON_COMPLIANT";
const NA: &str = "NOT_APPLICABLE";

// ---- configuration items (spec §6 shapes, as the evaluators' unit tests build them) -------------

/// A bucket in the API form of spec §6.2, with `supp` overriding supplementary values (each given
/// decoded; they are encoded as the API encodes them).
fn bucket(name: &str, supp: Value) -> Value {
    let mut s = json!({
        "AccessControlList": Value::String(json!({"grantSet": null, "grantList": [
            {"grantee": {"id": "abc123", "displayName": null}, "permission": "FullControl"}],
            "owner": {"displayName": null, "id": "abc123"}}).to_string()),
        "BucketPolicy": {"policyText": null},
        "BucketVersioningConfiguration": {"status": "Off", "isMfaDeleteEnabled": null},
        "BucketLoggingConfiguration": {"destinationBucketName": null, "logFilePrefix": null},
        "IsRequesterPaysEnabled": false,
    });
    for (k, v) in supp.as_object().unwrap() {
        s[k] = v.clone();
    }
    let encoded: serde_json::Map<String, Value> = s
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.to_string())))
        .collect();
    json!({
        "version": "1.3", "configurationItemStatus": "OK",
        "arn": format!("arn:aws:s3:::{name}"), "resourceType": BUCKET,
        "resourceId": name, "resourceName": name,
        "availabilityZone": "Regional", "tags": {}, "relatedEvents": [], "relationships": [],
        "configuration": json!({"name": name, "owner": {"displayName": null, "id": "abc123"},
            "creationDate": "2023-07-22T04:26:40.000Z"}).to_string(),
        "supplementaryConfiguration": encoded,
    })
}

fn public_acl(permission: &str) -> Value {
    Value::String(
        json!({"grantSet": null, "grantList": [
            {"grantee": "AllUsers", "permission": permission},
            {"grantee": {"id": "abc123", "displayName": null}, "permission": "FullControl"}],
            "owner": {"displayName": null, "id": "abc123"}})
        .to_string(),
    )
}

fn all_blocked() -> Value {
    json!({"blockPublicAcls": true, "ignorePublicAcls": true, "blockPublicPolicy": true,
        "restrictPublicBuckets": true})
}

fn perm(protocol: &str, from: i64, to: i64, cidr: &str) -> Value {
    json!({"ipProtocol": protocol, "fromPort": from, "toPort": to, "ipRanges": [cidr],
        "ipv4Ranges": [{"cidrIp": cidr}], "ipv6Ranges": [], "prefixListIds": [],
        "userIdGroupPairs": []})
}

fn egress() -> Vec<Value> {
    vec![json!({"ipProtocol": "-1", "ipRanges": ["0.0.0.0/0"],
        "ipv4Ranges": [{"cidrIp": "0.0.0.0/0"}], "ipv6Ranges": [], "prefixListIds": [],
        "userIdGroupPairs": []})]
}

/// A security group in the spec §6.3 shape (API form: configuration as a JSON string).
fn sg(id: &str, name: &str, inbound: Vec<Value>, outbound: Vec<Value>) -> Value {
    json!({
        "resourceType": SG, "resourceId": id, "resourceName": name,
        "arn": format!("arn:aws:ec2:us-east-1:{OWN_ACCOUNT}:security-group/{id}"),
        "availabilityZone": "Not Applicable",
        "configuration": json!({"ownerId": OWN_ACCOUNT, "groupName": name, "groupId": id,
            "description": name, "vpcId": "vpc-0a1b2c3d", "tags": [],
            "ipPermissions": inbound, "ipPermissionsEgress": outbound}).to_string(),
        "supplementaryConfiguration": {},
        "relationships": [{"resourceType": "AWS::EC2::VPC", "resourceId": "vpc-0a1b2c3d",
            "relationshipName": "Is contained in Vpc"}]
    })
}

/// The spec §6.4 key with `conf` merged into its configuration.
fn key(id: &str, conf: Value, rotation: Option<&str>) -> Value {
    let arn = format!("arn:aws:kms:us-east-1:{OWN_ACCOUNT}:key/{id}");
    let mut c = json!({"awsaccountId": OWN_ACCOUNT, "keyId": id, "enabled": true, "arn": arn,
        "keyUsage": "ENCRYPT_DECRYPT", "keyState": "Enabled", "origin": "AWS_KMS",
        "keyManager": "CUSTOMER", "keySpec": "SYMMETRIC_DEFAULT",
        "customerMasterKeySpec": "SYMMETRIC_DEFAULT", "multiRegion": false});
    for (k, v) in conf.as_object().unwrap() {
        c[k] = v.clone();
    }
    let mut supp = json!({});
    if let Some(r) = rotation {
        supp["KeyRotationStatus"] = json!(r);
    }
    json!({"resourceType": KEY, "resourceId": id, "arn": arn,
        "configuration": c.to_string(), "supplementaryConfiguration": supp})
}

/// The spec §6.5 user (notification form), with its policies and supplementary configuration.
fn user(id: &str, managed: Value, supp: Value) -> Value {
    let arn = format!("arn:aws:iam::{OWN_ACCOUNT}:user/{id}");
    json!({"resourceType": USER, "resourceId": id, "resourceName": id, "arn": arn,
        "configuration": {"path": "/", "userName": id, "userId": id, "arn": arn,
            "createDate": "2024-01-01T00:00:00.000Z", "userPolicyList": [], "groupList": ["devs"],
            "attachedManagedPolicies": managed, "permissionsBoundary": null, "tags": []},
        "supplementaryConfiguration": supp})
}

/// The spec §6.6 trail (notification form) with `conf` merged into its configuration.
fn trail(name: &str, conf: Value, supp: Value) -> Value {
    let arn = format!("arn:aws:cloudtrail:us-east-1:{OWN_ACCOUNT}:trail/{name}");
    let mut c = json!({"name": name, "trailARN": arn, "homeRegion": "us-east-1",
        "s3BucketName": "ct-logs", "includeGlobalServiceEvents": true,
        "isMultiRegionTrail": true, "isOrganizationTrail": false, "logFileValidationEnabled": false,
        "hasCustomEventSelectors": false, "hasInsightSelectors": false});
    for (k, v) in conf.as_object().unwrap() {
        c[k] = v.clone();
    }
    json!({"resourceType": TRAIL, "resourceId": name, "resourceName": name, "arn": arn,
        "configuration": c, "supplementaryConfiguration": supp})
}

/// The logging multi-region trail (or, with `logging` false, the same trail stopped).
fn good_trail(logging: bool) -> Value {
    trail(
        GOOD_TRAIL,
        json!({"logFileValidationEnabled": true}),
        json!({"TrailStatus": {"isLogging": logging},
            "EventSelectors": {"eventSelectors": [{"readWriteType": "All",
                "includeManagementEvents": true, "excludeManagementEventSources": []}]}}),
    )
}

/// The spec §6.7 table (API form) with its `ssedescription` and PITR status.
fn table(name: &str, sse: Value, pitr: Option<&str>) -> Value {
    let arn = format!("arn:aws:dynamodb:us-east-1:{OWN_ACCOUNT}:table/{name}");
    let mut supp = json!({});
    if let Some(s) = pitr {
        supp["ContinuousBackupsDescription"] = json!({"continuousBackupsStatus": "ENABLED",
            "pointInTimeRecoveryDescription": {"pointInTimeRecoveryStatus": s}})
        .to_string()
        .into();
    }
    json!({"resourceType": TABLE, "resourceId": name, "resourceName": name, "arn": arn,
        "configuration": json!({"tableName": name, "tableArn": arn, "tableStatus": "ACTIVE",
            "keySchema": [{"attributeName": "pk", "keyType": "HASH"}],
            "attributeDefinitions": [{"attributeName": "pk", "attributeType": "S"}],
            "billingModeSummary": {"billingMode": "PAY_PER_REQUEST"}, "ssedescription": sse})
        .to_string(),
        "supplementaryConfiguration": supp})
}

/// An account-level item (the parent module's shape in `evaluation/managed.rs`).
fn account(id: &str, conf: Value, supp: Value) -> Value {
    json!({"resourceType": ACCOUNT, "resourceId": id, "configuration": conf,
        "supplementaryConfiguration": supp})
}

fn topic(id: &str) -> Value {
    json!({"resourceType": TOPIC, "resourceId": id, "resourceName": id,
        "arn": format!("arn:aws:sns:us-east-1:{OWN_ACCOUNT}:{id}"),
        "configuration": {"TopicArn": format!("arn:aws:sns:us-east-1:{OWN_ACCOUNT}:{id}")},
        "supplementaryConfiguration": {}})
}

// ---- the table ------------------------------------------------------------------------------------

/// One fixture of a rule: the item (None: a shared item recorded once, the account items) and
/// the rule's expected verdict for it.
struct Leg {
    resource_type: &'static str,
    id: String,
    item: Option<Value>,
    expect: &'static str,
}

struct Case {
    identifier: &'static str,
    params: Option<Value>,
    /// Extra resource types in the rule's scope (with its own types) — the topic NA leg.
    scope: Option<Vec<&'static str>>,
    legs: Vec<Leg>,
}

impl Case {
    fn name(&self) -> String {
        self.identifier.to_lowercase()
    }
}

fn leg(resource_type: &'static str, id: &str, item: Value, expect: &'static str) -> Leg {
    Leg {
        resource_type,
        id: id.to_string(),
        item: Some(item),
        expect,
    }
}

fn shared(resource_type: &'static str, id: &str, expect: &'static str) -> Leg {
    Leg {
        resource_type,
        id: id.to_string(),
        item: None,
        expect,
    }
}

/// A rule over `own` types with a topic as its not-applicable item.
fn with_topic(identifier: &'static str, own: &'static str, mut legs: Vec<Leg>) -> Case {
    let id = format!("{}-na", identifier.to_lowercase().replace('_', "-"));
    legs.push(leg(TOPIC, &id, topic(&id), NA));
    Case {
        identifier,
        params: None,
        scope: Some(vec![own, TOPIC]),
        legs,
    }
}

/// A periodic-only rule with no NOT_APPLICABLE case of its own: AWS refuses a Scope on such a
/// rule ("Scope is not supported for this managed rule because it is triggered only
/// periodically"), so it cannot be given a foreign type to answer NOT_APPLICABLE for, and it has
/// no not-applicable leg.
fn periodic_only(identifier: &'static str, _own: &'static str, legs: Vec<Leg>) -> Case {
    Case {
        identifier,
        params: None,
        scope: None,
        legs,
    }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn cases() -> Vec<Case> {
    let kms_arn =
        format!("arn:aws:kms:us-east-1:{OWN_ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab");
    let ssl_policy = |b: &str| {
        json!({"policyText": json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "AllowSSLRequestsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
             "Resource": [format!("arn:aws:s3:::{b}"), format!("arn:aws:s3:::{b}/*")],
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}).to_string()})
    };
    let sse = json!({"rules": [{"applyServerSideEncryptionByDefault":
        {"sseAlgorithm": "aws:kms", "kmsMasterKeyID": "k"}, "bucketKeyEnabled": true}]});
    let world_ssh = || vec![perm("tcp", 22, 22, "0.0.0.0/0")];
    let recent = now() - 86400.0;
    let report = |last_used: f64| {
        json!({"CredentialReport": {"passwordEnabled": true,
            "passwordCreateDate": "2019-01-01T00:00:00Z", "passwordLastUsed": last_used,
            "accessKeys": []}})
    };
    let kms_keys = [
        "11111111-0000-4000-8000-000000000001",
        "11111111-0000-4000-8000-000000000002",
        "11111111-0000-4000-8000-000000000003",
    ];
    let mut all = vec![
        with_topic(
            "S3_BUCKET_PUBLIC_READ_PROHIBITED",
            BUCKET,
            vec![
                leg(BUCKET, "read-ok", bucket("read-ok", json!({})), C),
                leg(
                    BUCKET,
                    "read-public",
                    bucket(
                        "read-public",
                        json!({"AccessControlList": public_acl("Read")}),
                    ),
                    N,
                ),
            ],
        ),
        with_topic(
            "S3_BUCKET_PUBLIC_WRITE_PROHIBITED",
            BUCKET,
            vec![
                leg(BUCKET, "write-ok", bucket("write-ok", json!({})), C),
                leg(
                    BUCKET,
                    "write-public",
                    bucket(
                        "write-public",
                        json!({"AccessControlList": public_acl("Write")}),
                    ),
                    N,
                ),
            ],
        ),
        with_topic(
            "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED",
            BUCKET,
            vec![
                leg(
                    BUCKET,
                    "sse-on",
                    bucket("sse-on", json!({"ServerSideEncryptionConfiguration": sse})),
                    C,
                ),
                leg(BUCKET, "sse-off", bucket("sse-off", json!({})), N),
            ],
        ),
        with_topic(
            "S3_BUCKET_VERSIONING_ENABLED",
            BUCKET,
            vec![
                leg(
                    BUCKET,
                    "versioning-on",
                    bucket(
                        "versioning-on",
                        json!({"BucketVersioningConfiguration":
                            {"status": "Enabled", "isMfaDeleteEnabled": null}}),
                    ),
                    C,
                ),
                leg(
                    BUCKET,
                    "versioning-off",
                    bucket("versioning-off", json!({})),
                    N,
                ),
            ],
        ),
        with_topic(
            "S3_BUCKET_LOGGING_ENABLED",
            BUCKET,
            vec![
                leg(
                    BUCKET,
                    "logging-on",
                    bucket(
                        "logging-on",
                        json!({"BucketLoggingConfiguration":
                            {"destinationBucketName": "logs", "logFilePrefix": "logging-on/"}}),
                    ),
                    C,
                ),
                leg(BUCKET, "logging-off", bucket("logging-off", json!({})), N),
            ],
        ),
        with_topic(
            "S3_BUCKET_SSL_REQUESTS_ONLY",
            BUCKET,
            vec![
                leg(
                    BUCKET,
                    "ssl-only",
                    bucket("ssl-only", json!({"BucketPolicy": ssl_policy("ssl-only")})),
                    C,
                ),
                leg(BUCKET, "ssl-any", bucket("ssl-any", json!({})), N),
            ],
        ),
        with_topic(
            "S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED",
            BUCKET,
            vec![
                leg(
                    BUCKET,
                    "bpa-on",
                    bucket(
                        "bpa-on",
                        json!({"PublicAccessBlockConfiguration": all_blocked()}),
                    ),
                    C,
                ),
                leg(BUCKET, "bpa-off", bucket("bpa-off", json!({})), N),
            ],
        ),
        periodic_only(
            "S3_ACCOUNT_LEVEL_PUBLIC_ACCESS_BLOCKS_PERIODIC",
            ACCOUNT,
            vec![
                shared(ACCOUNT, OTHER_ACCOUNT, C),
                shared(ACCOUNT, OWN_ACCOUNT, N),
            ],
        ),
        with_topic(
            "INCOMING_SSH_DISABLED",
            SG,
            vec![
                leg(
                    SG,
                    "sg-ssh00000000000001",
                    sg(
                        "sg-ssh00000000000001",
                        "ssh-internal",
                        vec![perm("tcp", 22, 22, "10.0.0.0/8")],
                        egress(),
                    ),
                    C,
                ),
                leg(
                    SG,
                    "sg-ssh00000000000002",
                    sg("sg-ssh00000000000002", "ssh-world", world_ssh(), egress()),
                    N,
                ),
            ],
        ),
        with_topic(
            "RESTRICTED_INCOMING_TRAFFIC",
            SG,
            vec![
                leg(
                    SG,
                    "sg-rit00000000000001",
                    sg(
                        "sg-rit00000000000001",
                        "https",
                        vec![perm("tcp", 443, 443, "0.0.0.0/0")],
                        egress(),
                    ),
                    C,
                ),
                leg(
                    SG,
                    "sg-rit00000000000002",
                    sg(
                        "sg-rit00000000000002",
                        "rdp",
                        vec![perm("tcp", 3389, 3389, "0.0.0.0/0")],
                        egress(),
                    ),
                    N,
                ),
            ],
        ),
        Case {
            identifier: "VPC_SG_OPEN_ONLY_TO_AUTHORIZED_PORTS",
            params: Some(json!({"authorizedTcpPorts": "443"})),
            scope: None,
            legs: vec![
                leg(
                    SG,
                    "sg-auth0000000000001",
                    sg(
                        "sg-auth0000000000001",
                        "web-443",
                        vec![perm("tcp", 443, 443, "0.0.0.0/0")],
                        egress(),
                    ),
                    C,
                ),
                leg(
                    SG,
                    "sg-auth0000000000002",
                    sg(
                        "sg-auth0000000000002",
                        "web-8080",
                        vec![perm("tcp", 8080, 8080, "0.0.0.0/0")],
                        egress(),
                    ),
                    N,
                ),
                leg(
                    SG,
                    "sg-auth0000000000003",
                    sg(
                        "sg-auth0000000000003",
                        "private",
                        vec![perm("tcp", 8080, 8080, "10.0.0.0/8")],
                        egress(),
                    ),
                    NA,
                ),
            ],
        },
        Case {
            identifier: "VPC_DEFAULT_SECURITY_GROUP_CLOSED",
            params: None,
            scope: None,
            legs: vec![
                leg(
                    SG,
                    "sg-dflt0000000000001",
                    sg("sg-dflt0000000000001", "default", vec![], vec![]),
                    C,
                ),
                leg(
                    SG,
                    "sg-dflt0000000000002",
                    sg("sg-dflt0000000000002", "default", vec![], egress()),
                    N,
                ),
                leg(
                    SG,
                    "sg-dflt0000000000003",
                    sg("sg-dflt0000000000003", "app", vec![], egress()),
                    NA,
                ),
            ],
        },
        Case {
            identifier: "CMK_BACKING_KEY_ROTATION_ENABLED",
            params: None,
            scope: None,
            legs: vec![
                leg(
                    KEY,
                    "22222222-0000-4000-8000-000000000001",
                    key(
                        "22222222-0000-4000-8000-000000000001",
                        json!({}),
                        Some("true"),
                    ),
                    C,
                ),
                leg(
                    KEY,
                    "22222222-0000-4000-8000-000000000002",
                    key(
                        "22222222-0000-4000-8000-000000000002",
                        json!({}),
                        Some("false"),
                    ),
                    N,
                ),
                leg(
                    KEY,
                    "22222222-0000-4000-8000-000000000003",
                    key(
                        "22222222-0000-4000-8000-000000000003",
                        json!({"keyManager": "AWS"}),
                        Some("true"),
                    ),
                    NA,
                ),
            ],
        },
        Case {
            identifier: "KMS_CMK_NOT_SCHEDULED_FOR_DELETION",
            params: Some(json!({"kmsKeyIds": format!("{},{}", kms_keys[0], kms_keys[1])})),
            scope: None,
            legs: vec![
                leg(KEY, kms_keys[0], key(kms_keys[0], json!({}), None), C),
                leg(
                    KEY,
                    kms_keys[1],
                    key(
                        kms_keys[1],
                        json!({"keyState": "PendingDeletion",
                            "deletionDate": "2030-02-01T00:00:00Z", "pendingDeletionWindowInDays": 7}),
                        None,
                    ),
                    N,
                ),
                leg(
                    KEY,
                    kms_keys[2],
                    key(kms_keys[2], json!({"keyState": "PendingDeletion"}), None),
                    NA,
                ),
            ],
        },
        Case {
            identifier: "IAM_USER_UNUSED_CREDENTIALS_CHECK",
            params: Some(json!({"maxCredentialUsageAge": "90"})),
            scope: None,
            legs: vec![
                leg(
                    USER,
                    "AIDAUNUSED0000000001",
                    user("AIDAUNUSED0000000001", json!([]), report(recent)),
                    C,
                ),
                leg(
                    USER,
                    "AIDAUNUSED0000000002",
                    user("AIDAUNUSED0000000002", json!([]), report(1_577_836_800.0)),
                    N,
                ),
                leg(
                    USER,
                    "AIDAUNUSED0000000003",
                    user("AIDAUNUSED0000000003", json!([]), json!({})),
                    NA,
                ),
            ],
        },
        with_topic(
            "IAM_USER_NO_POLICIES_CHECK",
            USER,
            vec![
                leg(
                    USER,
                    "AIDANOPOL00000000001",
                    user("AIDANOPOL00000000001", json!([]), json!({})),
                    C,
                ),
                leg(
                    USER,
                    "AIDANOPOL00000000002",
                    user(
                        "AIDANOPOL00000000002",
                        json!([{"policyName": "ReadOnlyAccess",
                            "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}]),
                        json!({}),
                    ),
                    N,
                ),
            ],
        ),
        periodic_only(
            "IAM_PASSWORD_POLICY",
            ACCOUNT,
            vec![
                shared(ACCOUNT, OTHER_ACCOUNT, C),
                shared(ACCOUNT, OWN_ACCOUNT, N),
            ],
        ),
        periodic_only(
            "CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED",
            TRAIL,
            vec![
                leg(
                    TRAIL,
                    "validated",
                    trail(
                        "validated",
                        json!({"logFileValidationEnabled": true}),
                        json!({}),
                    ),
                    C,
                ),
                leg(
                    TRAIL,
                    "unvalidated",
                    trail("unvalidated", json!({}), json!({})),
                    N,
                ),
            ],
        ),
        periodic_only(
            "CLOUD_TRAIL_ENCRYPTION_ENABLED",
            TRAIL,
            vec![
                leg(
                    TRAIL,
                    "encrypted",
                    trail("encrypted", json!({"kmsKeyId": kms_arn}), json!({})),
                    C,
                ),
                leg(
                    TRAIL,
                    "unencrypted",
                    trail("unencrypted", json!({}), json!({})),
                    N,
                ),
            ],
        ),
        // While GOOD_TRAIL logs, every account item complies (see the module docs).
        periodic_only(
            "MULTI_REGION_CLOUD_TRAIL_ENABLED",
            ACCOUNT,
            vec![
                shared(ACCOUNT, OTHER_ACCOUNT, C),
                shared(ACCOUNT, OWN_ACCOUNT, C),
            ],
        ),
        with_topic(
            "DYNAMODB_PITR_ENABLED",
            TABLE,
            vec![
                leg(
                    TABLE,
                    "pitr-on",
                    table("pitr-on", json!(null), Some("ENABLED")),
                    C,
                ),
                leg(
                    TABLE,
                    "pitr-off",
                    table("pitr-off", json!(null), Some("DISABLED")),
                    N,
                ),
            ],
        ),
        with_topic(
            "DYNAMODB_TABLE_ENCRYPTED_KMS",
            TABLE,
            vec![
                leg(
                    TABLE,
                    "sse-kms",
                    table(
                        "sse-kms",
                        json!({"status": "ENABLED", "ssetype": "KMS", "kmsmasterKeyArn": kms_arn}),
                        None,
                    ),
                    C,
                ),
                leg(
                    TABLE,
                    "sse-default",
                    table("sse-default", json!(null), None),
                    N,
                ),
            ],
        ),
        periodic_only(
            "EC2_EBS_ENCRYPTION_BY_DEFAULT",
            ACCOUNT,
            vec![
                shared(ACCOUNT, OTHER_ACCOUNT, C),
                shared(ACCOUNT, OWN_ACCOUNT, N),
            ],
        ),
    ];
    all.sort_by_key(|c| c.identifier);
    all
}

/// Items recorded once and shared by the account rules, plus the trail the multi-region rule
/// relies on.
fn shared_items() -> Vec<(&'static str, String, Value)> {
    let strong = json!({"minimumPasswordLength": 14, "requireSymbols": true, "requireNumbers": true,
        "requireUppercaseCharacters": true, "requireLowercaseCharacters": true,
        "allowUsersToChangePassword": true, "expirePasswords": true, "maxPasswordAge": 90,
        "passwordReusePrevention": 24, "hardExpiry": false});
    vec![
        (
            ACCOUNT,
            OWN_ACCOUNT.to_string(),
            account(
                OWN_ACCOUNT,
                json!({"passwordPolicy": null, "ebsEncryptionByDefault": false}),
                json!({}),
            ),
        ),
        (
            ACCOUNT,
            OTHER_ACCOUNT.to_string(),
            account(
                OTHER_ACCOUNT,
                json!({"passwordPolicy": strong, "ebsEncryptionByDefault": true}),
                json!({"PublicAccessBlockConfiguration": all_blocked()}),
            ),
        ),
        (TRAIL, GOOD_TRAIL.to_string(), good_trail(true)),
    ]
}

// ---- API helpers ----------------------------------------------------------------------------------

fn ct(s: &str) -> ComplianceType {
    ComplianceType::from(s)
}

async fn put_envelope(c: &config::Client, t: &str, id: &str, item: &Value) {
    c.put_resource_config()
        .resource_type(t)
        .schema_version_id("ConfigurationItem")
        .resource_id(id)
        .configuration(item.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {t} {id}: {}", config::error::DisplayErrorContext(e)));
}

fn rule_of(case: &Case) -> ConfigRule {
    let mut b = ConfigRule::builder().config_rule_name(case.name()).source(
        Source::builder()
            .owner(Owner::Aws)
            .source_identifier(case.identifier)
            .build()
            .unwrap(),
    );
    if let Some(p) = &case.params {
        b = b.input_parameters(p.to_string());
    }
    if let Some(types) = &case.scope {
        b = b.scope(
            Scope::builder()
                .set_compliance_resource_types(Some(types.iter().map(|t| t.to_string()).collect()))
                .build(),
        );
    }
    b.build()
}

/// One stored result: (resource type, resource id) → (compliance, annotation).
type Results = BTreeMap<(String, String), (String, Option<String>)>;

/// A rule's results with `filter` (all pages).
async fn details(c: &config::Client, rule: &str, filter: &str) -> Results {
    let mut out = Results::new();
    let mut pages = c
        .get_compliance_details_by_config_rule()
        .config_rule_name(rule)
        .compliance_types(ct(filter))
        .limit(100)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.unwrap_or_else(|e| {
            panic!(
                "details {rule} {filter}: {}",
                config::error::DisplayErrorContext(e)
            )
        });
        for r in page.evaluation_results() {
            let q = r
                .evaluation_result_identifier()
                .unwrap()
                .evaluation_result_qualifier()
                .unwrap();
            assert_eq!(q.config_rule_name(), Some(rule));
            let key = (
                q.resource_type().unwrap().to_string(),
                q.resource_id().unwrap().to_string(),
            );
            let prev = out.insert(
                key.clone(),
                (
                    r.compliance_type().unwrap().as_str().to_string(),
                    r.annotation().map(str::to_string),
                ),
            );
            assert!(prev.is_none(), "{rule}: {key:?} returned twice");
        }
    }
    out
}

/// Every result of a rule, as the three ComplianceTypes filters return them; each filter must
/// return only its own type. `None` when a result moved between filters while they were read
/// (an evaluation landed in between): the caller reads again.
async fn all_results(c: &config::Client, rule: &str) -> Option<Results> {
    let mut out = Results::new();
    for filter in [C, N, NA] {
        for (k, v) in details(c, rule, filter).await {
            assert_eq!(
                v.0, filter,
                "{rule}: filter {filter} returned {k:?} as {}",
                v.0
            );
            if out.insert(k, v).is_some() {
                return None;
            }
        }
    }
    Some(out)
}

/// Polls until every rule has a result for each of its own fixtures, then returns the full
/// (rule → results) matrix.
async fn wait_all(
    c: &config::Client,
    cases: &[Case],
    settled: impl Fn(&Case, &Results) -> bool,
) -> BTreeMap<String, Results> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut matrix = BTreeMap::new();
        let mut pending = Vec::new();
        for case in cases {
            let got = all_results(c, &case.name()).await.unwrap_or_default();
            if !settled(case, &got) {
                pending.push((case.name(), got.clone()));
            }
            matrix.insert(case.name(), got);
        }
        if pending.is_empty() {
            return matrix;
        }
        assert!(
            Instant::now() < deadline,
            "within 30 s, {} rules lack results for their fixtures: {pending:#?}",
            pending.len()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn has_all_legs(case: &Case, got: &Results) -> bool {
    case.legs
        .iter()
        .all(|l| got.contains_key(&(l.resource_type.to_string(), l.id.clone())))
}

/// Per resource, the (compliant rules, non-compliant rules) counts over the matrix.
fn rollup(matrix: &BTreeMap<String, Results>) -> BTreeMap<(String, String), (u32, u32)> {
    let mut out: BTreeMap<(String, String), (u32, u32)> = BTreeMap::new();
    for results in matrix.values() {
        for (k, (comp, _)) in results {
            let e = out.entry(k.clone()).or_default();
            match comp.as_str() {
                C => e.0 += 1,
                N => e.1 += 1,
                _ => {}
            }
        }
    }
    out
}

/// Checks the per-rule verdicts of the own fixtures, the filters and the annotations.
fn check_legs(case: &Case, got: &Results, failures: &mut Vec<String>) {
    let rule = case.name();
    for l in &case.legs {
        let key = (l.resource_type.to_string(), l.id.clone());
        match got.get(&key) {
            None => failures.push(format!("{rule}: no result for {key:?}")),
            Some((comp, ann)) => {
                if comp != l.expect {
                    failures.push(format!(
                        "{rule}: {key:?} is {comp} (annotation {ann:?}), expected {}",
                        l.expect
                    ));
                }
                if comp == N && ann.as_deref().unwrap_or("").trim().is_empty() {
                    failures.push(format!("{rule}: {key:?} NON_COMPLIANT without annotation"));
                }
                if let Some(a) = ann {
                    if a.chars().count() > 256 {
                        failures.push(format!("{rule}: {key:?} annotation over 256 chars"));
                    }
                }
            }
        }
    }
    // Every judged resource is of a type the rule judges.
    for (t, id) in got.keys() {
        let types: Vec<&str> = case.scope.clone().unwrap_or_else(|| {
            case.legs
                .iter()
                .map(|l| l.resource_type)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        });
        if !types.contains(&t.as_str()) {
            failures.push(format!("{rule}: judged {t} {id} outside its scope"));
        }
    }
}

async fn check_describe_by_rule(
    c: &config::Client,
    cases: &[Case],
    matrix: &BTreeMap<String, Results>,
) {
    let mut seen = BTreeMap::new();
    let mut next: Option<String> = None;
    loop {
        let out = c
            .describe_compliance_by_config_rule()
            .set_next_token(next.clone())
            .send()
            .await
            .unwrap();
        for r in out.compliance_by_config_rules() {
            let comp = r.compliance().unwrap();
            seen.insert(
                r.config_rule_name().unwrap().to_string(),
                (
                    comp.compliance_type().unwrap().as_str().to_string(),
                    comp.compliance_contributor_count()
                        .map(|n| (n.capped_count(), n.cap_exceeded())),
                ),
            );
        }
        next = out.next_token().map(str::to_string);
        if next.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), cases.len(), "{seen:#?}");
    for case in cases {
        let results = &matrix[&case.name()];
        let non = results.values().filter(|(t, _)| t == N).count() as i32;
        let comp = results.values().filter(|(t, _)| t == C).count();
        let (shown, count) = &seen[&case.name()];
        if non > 0 {
            assert_eq!(shown, N, "{}", case.name());
            assert_eq!(*count, Some((non, false)), "{}", case.name());
        } else {
            assert!(comp > 0);
            assert_eq!(shown, C, "{}", case.name());
        }
    }
    // The filter and the name list.
    let only_compliant = c
        .describe_compliance_by_config_rule()
        .compliance_types(ComplianceType::Compliant)
        .send()
        .await
        .unwrap();
    let names: BTreeSet<String> = only_compliant
        .compliance_by_config_rules()
        .iter()
        .map(|r| r.config_rule_name().unwrap().to_string())
        .collect();
    let want: BTreeSet<String> = seen
        .iter()
        .filter(|(_, (t, _))| t == C)
        .map(|(n, _)| n.clone())
        .collect();
    assert_eq!(names, want);
}

async fn check_describe_by_resource(c: &config::Client, matrix: &BTreeMap<String, Results>) {
    let expected = rollup(matrix);
    for t in ALL_TYPES {
        let mut seen: BTreeMap<String, (String, Option<i32>)> = BTreeMap::new();
        let mut next: Option<String> = None;
        loop {
            let out = c
                .describe_compliance_by_resource()
                .resource_type(t)
                .limit(7)
                .set_next_token(next.clone())
                .send()
                .await
                .unwrap();
            assert!(out.compliance_by_resources().len() <= 7);
            for r in out.compliance_by_resources() {
                assert_eq!(r.resource_type(), Some(t));
                let comp = r.compliance().unwrap();
                let prev = seen.insert(
                    r.resource_id().unwrap().to_string(),
                    (
                        comp.compliance_type().unwrap().as_str().to_string(),
                        comp.compliance_contributor_count()
                            .map(|n| n.capped_count()),
                    ),
                );
                assert!(prev.is_none(), "{t}: a resource on two pages");
            }
            next = out.next_token().map(str::to_string);
            if next.is_none() {
                break;
            }
        }
        for ((et, id), (comp, non)) in &expected {
            if et != t {
                continue;
            }
            let got = seen.get(id);
            if *non > 0 {
                assert_eq!(
                    got,
                    Some(&(N.to_string(), Some(*non as i32))),
                    "{t} {id}: by resource"
                );
            } else if *comp > 0 {
                assert_eq!(got.map(|g| g.0.as_str()), Some(C), "{t} {id}: by resource");
            } else if let Some((shown, _)) = got {
                assert!(shown != C && shown != N, "{t} {id}: only NA, shown {shown}");
            }
        }
    }
}

async fn check_summaries(c: &config::Client, matrix: &BTreeMap<String, Results>) {
    let rules_non = matrix
        .values()
        .filter(|r| r.values().any(|(t, _)| t == N))
        .count() as i32;
    let rules_comp = matrix
        .values()
        .filter(|r| !r.values().any(|(t, _)| t == N) && r.values().any(|(t, _)| t == C))
        .count() as i32;
    let sum = c
        .get_compliance_summary_by_config_rule()
        .send()
        .await
        .unwrap();
    let sum = sum.compliance_summary().unwrap();
    assert_eq!(
        sum.non_compliant_resource_count().unwrap().capped_count(),
        rules_non.min(25)
    );
    assert_eq!(
        sum.compliant_resource_count().unwrap().capped_count(),
        rules_comp.min(25)
    );

    let per_resource = rollup(matrix);
    let count = |t: Option<&str>, non: bool| {
        per_resource
            .iter()
            .filter(|((rt, _), _)| t.is_none_or(|t| t == rt))
            .filter(|(_, (c, n))| if non { *n > 0 } else { *n == 0 && *c > 0 })
            .count() as i32
    };
    let out = c
        .get_compliance_summary_by_resource_type()
        .set_resource_types(Some(ALL_TYPES.iter().map(|t| t.to_string()).collect()))
        .send()
        .await
        .unwrap();
    let rows: BTreeMap<String, (i32, i32)> = out
        .compliance_summaries_by_resource_type()
        .iter()
        .map(|r| {
            let s = r.compliance_summary().unwrap();
            (
                r.resource_type().unwrap().to_string(),
                (
                    s.compliant_resource_count().unwrap().capped_count(),
                    s.non_compliant_resource_count().unwrap().capped_count(),
                ),
            )
        })
        .collect();
    for t in ALL_TYPES {
        let want = (count(Some(t), false), count(Some(t), true));
        assert_eq!(
            rows.get(t).copied().unwrap_or((0, 0)),
            want,
            "summary of {t}"
        );
    }
    let out = c
        .get_compliance_summary_by_resource_type()
        .send()
        .await
        .unwrap();
    let all = out.compliance_summaries_by_resource_type();
    assert_eq!(all.len(), 1);
    let s = all[0].compliance_summary().unwrap();
    assert_eq!(
        (
            s.compliant_resource_count().unwrap().capped_count(),
            s.non_compliant_resource_count().unwrap().capped_count()
        ),
        (count(None, false).min(100), count(None, true).min(100))
    );
}

/// GetComplianceDetailsByResource for each rule's non-compliant fixture: this rule's result is
/// there, NON_COMPLIANT, and the filter holds.
async fn check_details_by_resource(
    c: &config::Client,
    cases: &[Case],
    matrix: &BTreeMap<String, Results>,
    failures: &mut Vec<String>,
) {
    for case in cases {
        let Some(l) = case.legs.iter().find(|l| l.expect == N) else {
            continue;
        };
        let mut by_rule = BTreeMap::new();
        let mut next: Option<String> = None;
        loop {
            let out = c
                .get_compliance_details_by_resource()
                .resource_type(l.resource_type)
                .resource_id(&l.id)
                .compliance_types(ComplianceType::NonCompliant)
                .set_next_token(next.clone())
                .send()
                .await
                .unwrap();
            for r in out.evaluation_results() {
                let q = r
                    .evaluation_result_identifier()
                    .unwrap()
                    .evaluation_result_qualifier()
                    .unwrap();
                assert_eq!(q.resource_id(), Some(l.id.as_str()));
                assert_eq!(r.compliance_type(), Some(&ComplianceType::NonCompliant));
                by_rule.insert(
                    q.config_rule_name().unwrap().to_string(),
                    r.annotation().map(str::to_string),
                );
            }
            next = out.next_token().map(str::to_string);
            if next.is_none() {
                break;
            }
        }
        let want: BTreeSet<String> = matrix
            .iter()
            .filter(|(_, res)| {
                res.get(&(l.resource_type.to_string(), l.id.clone()))
                    .is_some_and(|(t, _)| t == N)
            })
            .map(|(n, _)| n.clone())
            .collect();
        let got: BTreeSet<String> = by_rule.keys().cloned().collect();
        if got != want || !got.contains(&case.name()) {
            failures.push(format!(
                "{}: details by resource {} {}: {got:?}, expected {want:?}",
                case.name(),
                l.resource_type,
                l.id
            ));
        }
    }
}

/// Limit 1 with NextToken over a rule with many results: one result a page, none twice, and
/// together exactly the unpaged results.
async fn check_paging(c: &config::Client, rule: &str, filter: &str, all: &Results) {
    let mut seen = Results::new();
    let mut next: Option<String> = None;
    let mut pages = 0;
    loop {
        let out = c
            .get_compliance_details_by_config_rule()
            .config_rule_name(rule)
            .compliance_types(ct(filter))
            .limit(1)
            .set_next_token(next.clone())
            .send()
            .await
            .unwrap();
        assert!(out.evaluation_results().len() <= 1);
        for r in out.evaluation_results() {
            let q = r
                .evaluation_result_identifier()
                .unwrap()
                .evaluation_result_qualifier()
                .unwrap();
            let key = (
                q.resource_type().unwrap().to_string(),
                q.resource_id().unwrap().to_string(),
            );
            assert!(
                seen.insert(
                    key,
                    (
                        r.compliance_type().unwrap().as_str().to_string(),
                        r.annotation().map(str::to_string)
                    )
                )
                .is_none(),
                "paging repeated a result"
            );
        }
        pages += 1;
        next = out.next_token().map(str::to_string);
        if next.is_none() {
            break;
        }
        assert!(pages < 1000);
    }
    let want: Results = all
        .iter()
        .filter(|(_, (t, _))| t == filter)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert!(want.len() > 2, "{rule} {filter}: too few results to page");
    assert_eq!(seen, want, "{rule} {filter}: paged results");
}

#[tokio::test]
async fn every_managed_rule_through_the_compliance_apis() {
    let server = Server::start_with(&["--rule-evaluation-interval-seconds", "0"]);
    let c = server.client();
    let cases = cases();
    assert_eq!(cases.len(), 23);

    // 1. Record every item.
    let mut recorded = BTreeSet::new();
    for (t, id, item) in shared_items() {
        put_envelope(&c, t, &id, &item).await;
        recorded.insert((t.to_string(), id));
    }
    for case in &cases {
        for l in &case.legs {
            let key = (l.resource_type.to_string(), l.id.clone());
            match &l.item {
                Some(item) => {
                    assert!(recorded.insert(key), "{}: {} reused", case.name(), l.id);
                    put_envelope(&c, l.resource_type, &l.id, item).await;
                }
                None => assert!(recorded.contains(&key), "{} is not shared", l.id),
            }
        }
    }

    // 2. Create every rule.
    for case in &cases {
        c.put_config_rule()
            .config_rule(rule_of(case))
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!("{}: {}", case.name(), config::error::DisplayErrorContext(e))
            });
    }

    // 3. Wait for every rule's results.
    let matrix = wait_all(&c, &cases, has_all_legs).await;

    // 4. Per rule: verdicts of its own fixtures (through the three filters).
    let mut failures = Vec::new();
    for case in &cases {
        check_legs(case, &matrix[&case.name()], &mut failures);
    }
    check_details_by_resource(&c, &cases, &matrix, &mut failures).await;
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // 5. Roll-ups, summaries and paging.
    check_describe_by_rule(&c, &cases, &matrix).await;
    check_describe_by_resource(&c, &matrix).await;
    check_summaries(&c, &matrix).await;
    let versioning = &matrix["s3_bucket_versioning_enabled"];
    check_paging(&c, "s3_bucket_versioning_enabled", N, versioning).await;
    check_paging(&c, "s3_bucket_versioning_enabled", NA, versioning).await;

    // 6. The multi-region trail stops logging: the periodic rule, re-run on demand, finds no
    //    compliant trail, for every account item.
    put_envelope(&c, TRAIL, GOOD_TRAIL, &good_trail(false)).await;
    c.start_config_rules_evaluation()
        .config_rule_names("multi_region_cloud_trail_enabled")
        .send()
        .await
        .unwrap_or_else(|e| panic!("start: {}", config::error::DisplayErrorContext(e)));
    let multi: Vec<Case> = self::cases()
        .into_iter()
        .filter(|c| c.identifier == "MULTI_REGION_CLOUD_TRAIL_ENABLED")
        .map(|mut c| {
            for l in &mut c.legs {
                if l.resource_type == ACCOUNT {
                    l.expect = N;
                }
            }
            c
        })
        .collect();
    let after = wait_all(&c, &multi, |case, got| {
        case.legs.iter().all(|l| {
            got.get(&(l.resource_type.to_string(), l.id.clone()))
                .is_some_and(|(t, _)| t == l.expect)
        })
    })
    .await;
    let mut failures = Vec::new();
    check_legs(&multi[0], &after[&multi[0].name()], &mut failures);
    assert!(failures.is_empty(), "{failures:#?}");
    let mut matrix = matrix;
    matrix.extend(after);
    check_describe_by_rule(&c, &cases, &matrix).await;
    check_summaries(&c, &matrix).await;
    let all_non = c
        .get_compliance_summary_by_config_rule()
        .send()
        .await
        .unwrap();
    assert_eq!(
        all_non
            .compliance_summary()
            .unwrap()
            .non_compliant_resource_count()
            .unwrap()
            .capped_count(),
        23
    );
}
