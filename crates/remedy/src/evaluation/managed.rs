//! Evaluators for AWS managed rules (`Owner: AWS`): the 23 rules of the spec's §5 table.
//!
//! Each evaluator is a pure function of the rule's parameters (with the catalog's defaults filled
//! in by [`parameters_with_defaults`]), the configuration item it judges (remedy's decoded form,
//! [`ConfigurationItem`]) and, for the few rules that need other resources, a [`ResourceLookup`]
//! over the account's recorded items. It never does I/O.
//!
//! Every evaluator answers `NOT_APPLICABLE` for an item of a type it does not judge and for a
//! deleted item (`ResourceDeleted` / `ResourceDeletedNotRecorded`), and for the cases listed
//! below. Annotations are one short sentence (at most 256 characters, as AWS allows).
//!
//! # Values as recorded
//!
//! Items arrive in either CI form, so evaluators read leniently: a `configuration` or
//! supplementary value that is still a string holding JSON is decoded (repeatedly — S3's
//! `AccessControlList` is encoded twice on the API); booleans may be JSON booleans or the strings
//! `"true"`/`"false"` (any case); numbers may be JSON numbers or numeric strings; times may be
//! epoch seconds or ISO-8601 strings.
//!
//! # Parameters
//!
//! AWS hands managed rules their `InputParameters` as strings, and users also write numbers and
//! booleans; all are accepted. Booleans: `true`/`false` in any case (`"True"`, `"TRUE"`), also
//! `yes`/`no`, `1`/`0` — except where noted (IAM_PASSWORD_POLICY). Integers: a JSON number or a
//! decimal string. CSV: a string split on commas with blanks trimmed and empty entries dropped
//! (a JSON array of strings is taken too). Port lists: CSV whose entries are ports (`22`) or
//! inclusive ranges (`1024-2048`); unparsable entries are ignored. An empty-string parameter counts
//! as absent (so the default applies).
//!
//! Defaults come from the catalog (`data/managed-rules.json`), plus the spec's documented
//! defaults the catalog lacks ([`EXTRA_DEFAULTS`]: the four S3 account-level Block Public Access
//! flags default to `"True"`).
//!
//! # Rules and the configuration-item fields they read
//!
//! `conf.` is `configuration`, `supp.` is `supplementaryConfiguration`. NA = NOT_APPLICABLE.
//!
//! | Rule | Type | NON_COMPLIANT when | Fields read | NA when |
//! |---|---|---|---|---|
//! | S3_BUCKET_PUBLIC_READ_PROHIBITED | S3 bucket | policy grants public read and `restrictPublicBuckets` is off, or the ACL grants `Read`/`FullControl` to `AllUsers`/`AuthenticatedUsers` and `ignorePublicAcls` is off | `supp.BucketPolicy.policyText`, `supp.AccessControlList.grantList[]{grantee,permission}`, `supp.PublicAccessBlockConfiguration.*`; the account item's `supp.PublicAccessBlockConfiguration.*` (lookup `AWS::::Account`, OR-ed with the bucket's) | — |
//! | S3_BUCKET_PUBLIC_WRITE_PROHIBITED | S3 bucket | as above for write: policy allowing `s3:PutObject`/`s3:DeleteObject`/… ; ACL `Write`/`WriteAcp`/`FullControl` | same | — |
//! | S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED | S3 bucket | no default-encryption rule with an `sseAlgorithm`, and the policy does not deny `s3:PutObject` on a condition over `s3:x-amz-server-side-encryption` | `supp.ServerSideEncryptionConfiguration.rules[].applyServerSideEncryptionByDefault.sseAlgorithm`, `supp.BucketPolicy.policyText` | — |
//! | S3_BUCKET_VERSIONING_ENABLED | S3 bucket | `status` ≠ `Enabled`; with `isMfaDeleteEnabled=true`, also `isMfaDeleteEnabled` not true | `supp.BucketVersioningConfiguration.{status,isMfaDeleteEnabled}` | — |
//! | S3_BUCKET_LOGGING_ENABLED | S3 bucket | no `destinationBucketName`; or it differs from `targetBucket`; or `logFilePrefix` differs from `targetPrefix` | `supp.BucketLoggingConfiguration.{destinationBucketName,logFilePrefix}` | — |
//! | S3_BUCKET_SSL_REQUESTS_ONLY | S3 bucket | no `Deny` statement for everyone, covering all S3 actions on the bucket's objects, with `Bool`/`BoolIfExists` `aws:SecureTransport` = `false` | `supp.BucketPolicy.policyText`, `conf.name` (else the resource name/id) | — |
//! | S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED | S3 bucket | any of the four bucket-level BPA flags is not true (COMPLIANT when the bucket is in `excludedPublicBuckets`) | `supp.PublicAccessBlockConfiguration.{blockPublicAcls,ignorePublicAcls,blockPublicPolicy,restrictPublicBuckets}` | — |
//! | S3_ACCOUNT_LEVEL_PUBLIC_ACCESS_BLOCKS_PERIODIC | account | a flag differs from its parameter (`BlockPublicAcls`, `IgnorePublicAcls`, `BlockPublicPolicy`, `RestrictPublicBuckets`, default `True`); a missing configuration means all false | `supp.PublicAccessBlockConfiguration.{blockPublicAcls,…}` (as S3 Control `GetPublicAccessBlock`) | — |
//! | INCOMING_SSH_DISABLED | security group | an inbound rule with protocol `tcp`/`6`/`-1` covering port 22 from `0.0.0.0/0` or `::/0` | `conf.ipPermissions[]{ipProtocol,fromPort,toPort,ipv4Ranges[].cidrIp,ipRanges[],ipv6Ranges[].cidrIpv6}` | — |
//! | RESTRICTED_INCOMING_TRAFFIC | security group | an inbound TCP (or all-traffic) rule from `0.0.0.0/0` or `::/0` covering a blocked port (`blockedPort1..5`, default 20, 21, 3389, 3306, 4333, plus `blockedPorts` CSV) | as above | — |
//! | VPC_SG_OPEN_ONLY_TO_AUTHORIZED_PORTS | security group | a world-open inbound rule: all traffic (`-1`), or TCP/UDP ports not all within `authorizedTcpPorts` / `authorizedUdpPorts` | as above | no inbound rule is open to `0.0.0.0/0` / `::/0` |
//! | VPC_DEFAULT_SECURITY_GROUP_CLOSED | security group | `ipPermissions` or `ipPermissionsEgress` not empty | `conf.{groupName,ipPermissions,ipPermissionsEgress}` | `groupName` ≠ `default` |
//! | CMK_BACKING_KEY_ROTATION_ENABLED | KMS key | rotation status not true (or not recorded) | `conf.{keyManager,keySpec,customerMasterKeySpec,origin,keyState}`, `supp.KeyRotationStatus` | not a customer-managed, enabled, symmetric `AWS_KMS` key |
//! | KMS_CMK_NOT_SCHEDULED_FOR_DELETION | KMS key | `keyState` is `PendingDeletion`/`PendingReplicaDeletion`, or `deletionDate` is set | `conf.{keyState,deletionDate,keyId,arn}` | `kmsKeyIds` given and the key (id or ARN) not in it |
//! | IAM_USER_UNUSED_CREDENTIALS_CHECK | IAM user | a password or an active access key not used for more than `maxCredentialUsageAge` days (default 90; never used: counted from its creation) | `supp.CredentialReport` (see below) | no `CredentialReport` recorded |
//! | IAM_USER_NO_POLICIES_CHECK | IAM user | `attachedManagedPolicies` or `userPolicyList` not empty | `conf.{attachedManagedPolicies,userPolicyList}` | — |
//! | IAM_PASSWORD_POLICY | account | no policy, or weaker than the parameters | `conf.passwordPolicy{requireUppercaseCharacters,requireLowercaseCharacters,requireSymbols,requireNumbers,minimumPasswordLength,passwordReusePrevention,maxPasswordAge}` (as IAM `GetAccountPasswordPolicy`) | — |
//! | CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED | trail | `logFileValidationEnabled` not true | `conf.logFileValidationEnabled` | — |
//! | CLOUD_TRAIL_ENCRYPTION_ENABLED | trail | no `kmsKeyId` | `conf.kmsKeyId` | — |
//! | MULTI_REGION_CLOUD_TRAIL_ENABLED | account | no recorded trail that is multi-region, logging, records management events with no excluded sources, and matches the optional parameters | lookup `AWS::CloudTrail::Trail`: `conf.{isMultiRegionTrail,s3BucketName,snsTopicARN,cloudWatchLogsLogGroupArn}`, `supp.TrailStatus.isLogging`, `supp.EventSelectors.eventSelectors[]{readWriteType,includeManagementEvents,excludeManagementEventSources}` | — |
//! | DYNAMODB_PITR_ENABLED | table | `pointInTimeRecoveryStatus` ≠ `ENABLED` | `supp.ContinuousBackupsDescription.pointInTimeRecoveryDescription.pointInTimeRecoveryStatus` | — |
//! | DYNAMODB_TABLE_ENCRYPTED_KMS | table | `ssedescription` missing, not `ENABLED`/`UPDATING`, `ssetype` ≠ `KMS`, or `kmsmasterKeyArn` not in `kmsKeyArns` | `conf.ssedescription.{status,ssetype,kmsmasterKeyArn}` | — |
//! | EC2_EBS_ENCRYPTION_BY_DEFAULT | account | `ebsEncryptionByDefault` not true | `conf.ebsEncryptionByDefault` (as EC2 `GetEbsEncryptionByDefault`) | — |
//!
//! # Account-level items (`AWS::::Account`)
//!
//! Account-level rules judge one recorded item of type `AWS::::Account` whose resourceId is the
//! account id. Its shape, camelCase like Config's own CIs, mirrors the AWS API responses:
//!
//! ```json
//! {"resourceType": "AWS::::Account", "resourceId": "111122223333",
//!  "configuration": {
//!    "passwordPolicy": {"minimumPasswordLength": 14, "requireSymbols": true, "requireNumbers": true,
//!      "requireUppercaseCharacters": true, "requireLowercaseCharacters": true,
//!      "allowUsersToChangePassword": true, "expirePasswords": true, "maxPasswordAge": 90,
//!      "passwordReusePrevention": 24, "hardExpiry": false},
//!    "ebsEncryptionByDefault": true},
//!  "supplementaryConfiguration": {
//!    "PublicAccessBlockConfiguration": {"blockPublicAcls": true, "ignorePublicAcls": true,
//!      "blockPublicPolicy": true, "restrictPublicBuckets": true}}}
//! ```
//!
//! `passwordPolicy` absent or `null` means the account has no password policy (IAM's default,
//! which AWS's rule reports NON_COMPLIANT). The same item's `PublicAccessBlockConfiguration` is
//! the account-level Block Public Access that the S3 public read/write rules also honour.
//!
//! # CloudTrail trail status and event selectors
//!
//! Config's trail CI does not carry `GetTrailStatus` / `GetEventSelectors`; remedy reads them
//! from the trail item's supplementary configuration, camelCase of those responses:
//! `supp.TrailStatus = {"isLogging": true, …}` (a trail without it counts as **not logging**)
//! and `supp.EventSelectors = {"eventSelectors": [{"readWriteType": "All",
//! "includeManagementEvents": true, "excludeManagementEventSources": []}]}`. A trail without
//! `EventSelectors` has CloudTrail's default selector (all management events, read and write).
//! Advanced event selectors are not read. For leniency `supp.LoggingStatus.isLogging` (or
//! `.loggingEnabled`) is accepted where `TrailStatus` is absent.
//!
//! # IAM credential usage
//!
//! Config's IAM user CI carries no credential-use data (AWS's rule calls IAM). remedy reads it
//! from `supp.CredentialReport`, in the camelCase of IAM's `GetUser`, `GetLoginProfile`,
//! `ListAccessKeys` and `GetAccessKeyLastUsed` responses:
//!
//! ```json
//! {"CredentialReport": {
//!    "passwordEnabled": true,
//!    "passwordCreateDate": "2024-01-01T00:00:00Z",
//!    "passwordLastUsed": "2024-03-01T00:00:00Z",
//!    "accessKeys": [{"accessKeyId": "AKIA…", "status": "Active",
//!                    "createDate": "2024-01-01T00:00:00Z", "lastUsedDate": null}]}}
//! ```
//!
//! Times are ISO-8601 or epoch seconds; `null`/absent `…LastUsed` means never used, and then the
//! credential's age counts from `passwordCreateDate` / `createDate` (from the user's
//! `conf.createDate` when that is absent too). Inactive keys are ignored. Ages are measured
//! against the evaluation time.
//!
//! # Simplifications
//!
//! * Bucket policies: a statement grants public access when `Effect` is `Allow`, `Principal` is
//!   `*` or `{"AWS": "*"}` (or a list containing `*`), its `Action` (or `NotAction`, inverted)
//!   covers one of the rule's actions (wildcards `*`/`?`, case-insensitive), and it has no
//!   `Condition` — any condition is taken as restricting. `Resource` and `NotPrincipal` are not
//!   examined for public access. Statements from a policy that does not parse are ignored.
//! * Block Public Access: `restrictPublicBuckets` neutralises a public policy and
//!   `ignorePublicAcls` a public ACL (the flags that govern access to what already exists).
//! * INCOMING_SSH_DISABLED and RESTRICTED_INCOMING_TRAFFIC count `::/0` as well as `0.0.0.0/0`,
//!   as AWS's current documentation says (the spec's table, from an older page, names IPv4 only).
//! * IAM_PASSWORD_POLICY: the `Require*` parameters require the setting only when they are
//!   exactly `true` (lowercase, or JSON `true`), as AWS documents; `"True"` does not.

pub mod account;
pub mod cloudtrail;
pub mod dynamodb;
pub mod ec2;
pub mod iam;
pub mod kms;
pub mod s3;

use std::sync::OnceLock;

use serde_json::Value;

use super::verdict::{Parameters, ResourceLookup, Verdict};
use crate::domain::ConfigurationItem;
use crate::managed_rules::ManagedRuleCatalog;

/// One managed rule remedy can evaluate.
pub struct ManagedEvaluator {
    pub identifier: &'static str,
    /// The resource types it judges.
    pub resource_types: &'static [&'static str],
    /// Other resource types it reads through the [`ResourceLookup`].
    pub related_types: &'static [&'static str],
    pub evaluate: fn(&Parameters, &ConfigurationItem, &dyn ResourceLookup) -> Verdict,
}

impl std::fmt::Debug for ManagedEvaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagedEvaluator")
            .field("identifier", &self.identifier)
            .field("resource_types", &self.resource_types)
            .field("related_types", &self.related_types)
            .finish()
    }
}

pub(crate) const S3_BUCKET: &str = "AWS::S3::Bucket";
pub(crate) const SECURITY_GROUP: &str = "AWS::EC2::SecurityGroup";
pub(crate) const KMS_KEY: &str = "AWS::KMS::Key";
pub(crate) const IAM_USER: &str = "AWS::IAM::User";
pub(crate) const TRAIL: &str = "AWS::CloudTrail::Trail";
pub(crate) const DYNAMODB_TABLE: &str = "AWS::DynamoDB::Table";
pub(crate) const ACCOUNT: &str = "AWS::::Account";

fn families() -> [&'static [ManagedEvaluator]; 7] {
    [
        s3::EVALUATORS,
        ec2::EVALUATORS,
        kms::EVALUATORS,
        iam::EVALUATORS,
        cloudtrail::EVALUATORS,
        dynamodb::EVALUATORS,
        account::EVALUATORS,
    ]
}

fn all() -> impl Iterator<Item = &'static ManagedEvaluator> {
    families().into_iter().flatten()
}

/// The evaluator of a managed rule, by its `SourceIdentifier`.
pub fn evaluator(identifier: &str) -> Option<&'static ManagedEvaluator> {
    all().find(|e| e.identifier == identifier)
}

/// Identifiers with an evaluator.
pub fn supported() -> impl Iterator<Item = &'static str> {
    all().map(|e| e.identifier)
}

/// Defaults the spec documents that the catalog does not carry.
pub const EXTRA_DEFAULTS: &[(&str, &str, &str)] = &[
    (
        "S3_ACCOUNT_LEVEL_PUBLIC_ACCESS_BLOCKS_PERIODIC",
        "BlockPublicAcls",
        "True",
    ),
    (
        "S3_ACCOUNT_LEVEL_PUBLIC_ACCESS_BLOCKS_PERIODIC",
        "IgnorePublicAcls",
        "True",
    ),
    (
        "S3_ACCOUNT_LEVEL_PUBLIC_ACCESS_BLOCKS_PERIODIC",
        "BlockPublicPolicy",
        "True",
    ),
    (
        "S3_ACCOUNT_LEVEL_PUBLIC_ACCESS_BLOCKS_PERIODIC",
        "RestrictPublicBuckets",
        "True",
    ),
];

fn catalog() -> &'static ManagedRuleCatalog {
    static CATALOG: OnceLock<ManagedRuleCatalog> = OnceLock::new();
    CATALOG.get_or_init(ManagedRuleCatalog::builtin)
}

fn is_absent(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        _ => false,
    }
}

/// The rule's InputParameters with the catalog's documented defaults for absent ones.
///
/// A parameter given as `null` or an empty string counts as absent. Defaults are JSON strings,
/// as AWS passes them. Parameters the catalog does not know are kept as given.
pub fn parameters_with_defaults(identifier: &str, input: &Parameters) -> Parameters {
    let mut out = input.clone();
    let mut fill = |name: &str, default: &str| {
        if is_absent(out.get(name)) {
            out.insert(name.to_string(), Value::String(default.to_string()));
        }
    };
    if let Some(rule) = catalog().get(identifier) {
        for p in &rule.parameters {
            if let Some(d) = &p.default {
                fill(&p.name, d);
            }
        }
    }
    for (rule, name, default) in EXTRA_DEFAULTS {
        if *rule == identifier {
            fill(name, default);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by the families.

/// Decodes a value that may still be a string holding JSON (at most three levels deep: S3's ACL
/// is encoded twice on the API). A string that is not JSON is returned as it is.
pub(crate) fn decoded(v: &Value) -> Value {
    let mut cur = v.clone();
    for _ in 0..3 {
        match &cur {
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(next) => cur = next,
                Err(_) => break,
            },
            _ => break,
        }
    }
    cur
}

/// The item's `configuration`, decoded.
pub(crate) fn configuration(ci: &ConfigurationItem) -> Value {
    decoded(&ci.configuration)
}

/// A `supplementaryConfiguration` value, decoded; `None` when absent or `null`.
pub(crate) fn supplementary(ci: &ConfigurationItem, key: &str) -> Option<Value> {
    ci.supplementary_configuration
        .get(key)
        .map(decoded)
        .filter(|v| !v.is_null())
}

/// A boolean as recorded: JSON `true`/`false` or the strings `"true"`/`"false"` (any case).
pub(crate) fn as_bool(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A number as recorded: a JSON number or a numeric string.
pub(crate) fn as_i64(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A non-empty string as recorded.
pub(crate) fn as_str(v: Option<&Value>) -> Option<&str> {
    v?.as_str().map(str::trim).filter(|s| !s.is_empty())
}

/// A time as recorded: epoch seconds (number or numeric string) or ISO-8601.
pub(crate) fn as_time(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .or_else(|| crate::time::parse_iso8601(s)),
        _ => None,
    }
}

/// A JSON array's elements (none for anything else).
pub(crate) fn array(v: Option<&Value>) -> &[Value] {
    v.and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// A parameter as a trimmed non-empty string (numbers and booleans rendered).
pub(crate) fn param_str(p: &Parameters, name: &str) -> Option<String> {
    match p.get(name)? {
        Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Value::Null => None,
        v @ (Value::Number(_) | Value::Bool(_)) => Some(v.to_string()),
        _ => None,
    }
}

/// A boolean parameter, leniently: `true`/`false` in any case, `yes`/`no`, `1`/`0`.
pub(crate) fn param_bool(p: &Parameters, name: &str) -> Option<bool> {
    match p.get(name)? {
        Value::Bool(b) => Some(*b),
        _ => match param_str(p, name)?.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Some(true),
            "false" | "no" | "0" => Some(false),
            _ => None,
        },
    }
}

/// An integer parameter: a JSON number or a decimal string.
pub(crate) fn param_i64(p: &Parameters, name: &str) -> Option<i64> {
    match p.get(name)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        _ => param_str(p, name)?.parse().ok(),
    }
}

/// A CSV parameter: comma-separated, trimmed, empty entries dropped (an array of strings too).
pub(crate) fn param_csv(p: &Parameters, name: &str) -> Vec<String> {
    match p.get(name) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.trim().to_string()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .filter(|s| !s.is_empty())
            .collect(),
        _ => param_str(p, name)
            .map(|s| {
                s.split(',')
                    .map(|x| x.trim().to_string())
                    .filter(|x| !x.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// Port ranges from a CSV parameter: `22`, `1024-2048` (inclusive); bad entries are ignored.
pub(crate) fn param_port_ranges(p: &Parameters, name: &str) -> Vec<(i64, i64)> {
    param_csv(p, name)
        .iter()
        .filter_map(|e| parse_port_range(e))
        .collect()
}

pub(crate) fn parse_port_range(e: &str) -> Option<(i64, i64)> {
    let e = e.trim();
    let (a, b) = match e.split_once('-') {
        Some((a, b)) => (a.trim().parse().ok()?, b.trim().parse().ok()?),
        None => {
            let n = e.parse().ok()?;
            (n, n)
        }
    };
    (a <= b).then_some((a, b))
}

/// An annotation cut to AWS's 256 characters.
pub(crate) fn annotation(s: impl Into<String>) -> String {
    let s = s.into();
    if s.chars().count() <= 256 {
        return s;
    }
    let mut out: String = s.chars().take(255).collect();
    out.push('…');
    out
}

pub(crate) fn non_compliant(s: impl Into<String>) -> Verdict {
    Verdict::non_compliant(annotation(s))
}

pub(crate) fn not_applicable(s: impl Into<String>) -> Verdict {
    Verdict::not_applicable(annotation(s))
}

/// A COMPLIANT verdict that says why.
pub(crate) fn compliant_because(s: impl Into<String>) -> Verdict {
    Verdict {
        annotation: Some(annotation(s)),
        ..Verdict::compliant()
    }
}

/// `Some(NOT_APPLICABLE)` when the item is of another type than `types` or records a deletion.
pub(crate) fn out_of_scope(ci: &ConfigurationItem, types: &[&str]) -> Option<Verdict> {
    if !types.contains(&ci.resource_type.as_str()) {
        return Some(not_applicable(format!(
            "The rule does not evaluate resources of type {}.",
            ci.resource_type
        )));
    }
    if crate::domain::is_deleted_status(&ci.status) {
        return Some(not_applicable("The resource has been deleted."));
    }
    None
}

/// Case-insensitive glob match with `*` (any run) and `?` (one character), as IAM matches
/// actions and resources.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
pub(crate) mod test_support {
    use serde_json::{json, Value};

    use super::*;

    /// Builds a domain configuration item from a JSON value in either CI form (through the same
    /// reader PutResourceConfig's envelope form uses), defaulting account, region and status.
    pub fn ci(v: Value) -> ConfigurationItem {
        let parsed = crate::ci_input::parse_item(&v)
            .or_else(|_| {
                // `AWS::::Account` is not a recordable type for the reader: build it by hand.
                let mut v2 = v.clone();
                v2["resourceType"] = json!("AWS::S3::Bucket");
                crate::ci_input::parse_item(&v2).map(|mut p| {
                    p.item.resource_type = v["resourceType"].as_str().unwrap().to_string();
                    p
                })
            })
            .expect("test item parses");
        let item = parsed.item;
        ConfigurationItem {
            account_id: parsed.account.unwrap_or_else(|| "111122223333".into()),
            region: parsed.region.unwrap_or_else(|| "us-east-1".into()),
            resource_type: item.resource_type,
            resource_id: item.resource_id,
            resource_name: item.resource_name,
            arn: item.arn,
            availability_zone: item.availability_zone,
            resource_creation_time: item.resource_creation_time,
            capture_time: item.capture_time.unwrap_or(1_700_000_000.0),
            status: item.status.unwrap_or_else(|| "OK".into()),
            state_id: 1,
            configuration: item.configuration,
            supplementary_configuration: item.supplementary_configuration,
            tags: item.tags,
            relationships: item.relationships,
        }
    }

    /// A lookup over a fixed set of items.
    pub struct Items(pub Vec<ConfigurationItem>);

    impl ResourceLookup for Items {
        fn of_type(&self, resource_type: &str) -> Vec<ConfigurationItem> {
            self.0.of_type(resource_type)
        }
    }

    /// Parameters from a JSON object.
    pub fn params(v: Value) -> Parameters {
        v.as_object().cloned().unwrap_or_default()
    }

    /// Runs a rule with its defaults over `item`, with `others` as the lookup.
    pub fn run(
        rule: &str,
        p: Value,
        item: &ConfigurationItem,
        others: &[ConfigurationItem],
    ) -> Verdict {
        let e = evaluator(rule).expect("rule has an evaluator");
        let p = parameters_with_defaults(rule, &params(p));
        (e.evaluate)(&p, item, &Items(others.to_vec()))
    }

    pub fn compliance(v: &Verdict) -> &'static str {
        use remedy_wire::config::ComplianceType as C;
        match v.compliance {
            C::Compliant => "COMPLIANT",
            C::NonCompliant => "NON_COMPLIANT",
            C::NotApplicable => "NOT_APPLICABLE",
            _ => "OTHER",
        }
    }

    #[track_caller]
    pub fn assert_verdict(v: &Verdict, expected: &str) {
        assert_eq!(compliance(v), expected, "verdict {v:?}");
        if let Some(a) = &v.annotation {
            assert!(a.chars().count() <= 256);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::test_support::*;
    use super::*;

    /// The 23 rules of spec §5.
    const SPEC_RULES: [&str; 23] = [
        "S3_BUCKET_PUBLIC_READ_PROHIBITED",
        "S3_BUCKET_PUBLIC_WRITE_PROHIBITED",
        "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED",
        "S3_BUCKET_VERSIONING_ENABLED",
        "S3_BUCKET_LOGGING_ENABLED",
        "S3_BUCKET_SSL_REQUESTS_ONLY",
        "S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED",
        "S3_ACCOUNT_LEVEL_PUBLIC_ACCESS_BLOCKS_PERIODIC",
        "INCOMING_SSH_DISABLED",
        "RESTRICTED_INCOMING_TRAFFIC",
        "VPC_SG_OPEN_ONLY_TO_AUTHORIZED_PORTS",
        "VPC_DEFAULT_SECURITY_GROUP_CLOSED",
        "CMK_BACKING_KEY_ROTATION_ENABLED",
        "KMS_CMK_NOT_SCHEDULED_FOR_DELETION",
        "IAM_USER_UNUSED_CREDENTIALS_CHECK",
        "IAM_USER_NO_POLICIES_CHECK",
        "IAM_PASSWORD_POLICY",
        "CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED",
        "CLOUD_TRAIL_ENCRYPTION_ENABLED",
        "MULTI_REGION_CLOUD_TRAIL_ENABLED",
        "DYNAMODB_PITR_ENABLED",
        "DYNAMODB_TABLE_ENCRYPTED_KMS",
        "EC2_EBS_ENCRYPTION_BY_DEFAULT",
    ];

    #[test]
    fn every_spec_rule_has_an_evaluator_in_the_catalog() {
        let ids: Vec<_> = supported().collect();
        for r in SPEC_RULES {
            assert!(ids.contains(&r), "{r} has no evaluator");
            assert!(catalog().get(r).is_some(), "{r} not in the catalog");
        }
        assert_eq!(ids.len(), SPEC_RULES.len(), "no duplicates or extras");
        for e in all() {
            assert!(!e.resource_types.is_empty(), "{}", e.identifier);
        }
    }

    #[test]
    fn every_evaluator_refuses_other_types_and_deleted_items() {
        let other =
            ci(json!({"resourceType": "AWS::SNS::Topic", "resourceId": "t", "configuration": {}}));
        for e in all() {
            let v = (e.evaluate)(&Parameters::new(), &other, &Items(vec![]));
            assert_verdict(&v, "NOT_APPLICABLE");
            let mut deleted = other.clone();
            deleted.resource_type = e.resource_types[0].to_string();
            deleted.status = "ResourceDeleted".into();
            let v = (e.evaluate)(&Parameters::new(), &deleted, &Items(vec![]));
            assert_verdict(&v, "NOT_APPLICABLE");
        }
    }

    #[test]
    fn defaults_fill_absent_and_empty_parameters_only() {
        let p = parameters_with_defaults(
            "RESTRICTED_INCOMING_TRAFFIC",
            &params(json!({"blockedPort1": "8080", "blockedPort2": ""})),
        );
        assert_eq!(p["blockedPort1"], json!("8080"));
        assert_eq!(p["blockedPort2"], json!("21"));
        assert_eq!(p["blockedPort5"], json!("4333"));
        assert!(!p.contains_key("blockedPorts"));
        let p = parameters_with_defaults(
            "S3_ACCOUNT_LEVEL_PUBLIC_ACCESS_BLOCKS_PERIODIC",
            &Parameters::new(),
        );
        assert_eq!(p["RestrictPublicBuckets"], json!("True"));
        let p = parameters_with_defaults("IAM_USER_UNUSED_CREDENTIALS_CHECK", &Parameters::new());
        assert_eq!(p["maxCredentialUsageAge"], json!("90"));
        let p = parameters_with_defaults("NO_SUCH_RULE", &params(json!({"x": 1})));
        assert_eq!(p["x"], json!(1));
    }

    #[test]
    fn lenient_parameter_parsing() {
        let p = params(
            json!({"a": "True", "b": " false ", "c": true, "n": "90", "m": 7,
            "csv": "20, 21,,3389 ", "arr": ["x", " y "], "ports": "22,1024-2048,bad,9-1"}),
        );
        assert_eq!(param_bool(&p, "a"), Some(true));
        assert_eq!(param_bool(&p, "b"), Some(false));
        assert_eq!(param_bool(&p, "c"), Some(true));
        assert_eq!(param_i64(&p, "n"), Some(90));
        assert_eq!(param_i64(&p, "m"), Some(7));
        assert_eq!(param_csv(&p, "csv"), vec!["20", "21", "3389"]);
        assert_eq!(param_csv(&p, "arr"), vec!["x", "y"]);
        assert_eq!(param_port_ranges(&p, "ports"), vec![(22, 22), (1024, 2048)]);
    }

    #[test]
    fn globs_and_decoding() {
        assert!(glob_match("s3:Get*", "s3:GetObject"));
        assert!(glob_match("*", "s3:PutObject"));
        assert!(glob_match("S3:?etObject", "s3:getobject"));
        assert!(!glob_match("s3:Get*", "s3:PutObject"));
        assert!(glob_match("arn:aws:s3:::b/*", "arn:aws:s3:::b/x"));
        let twice = Value::String(Value::String(json!({"a": 1}).to_string()).to_string());
        assert_eq!(decoded(&twice), json!({"a": 1}));
        assert_eq!(decoded(&json!("plain")), json!("plain"));
        let long = "x".repeat(300);
        assert_eq!(annotation(long).chars().count(), 256);
    }
}
