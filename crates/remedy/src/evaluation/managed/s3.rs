//! S3 bucket rules (`AWS::S3::Bucket`), and the bucket-policy / ACL / Block Public Access readers
//! they share. See the parent module for the fields each rule reads and the simplifications.

use serde_json::Value;

use super::{
    annotation, array, as_bool, as_str, compliant_because, configuration, glob_match,
    non_compliant, out_of_scope, param_bool, param_csv, param_str, supplementary, ManagedEvaluator,
    ACCOUNT, S3_BUCKET,
};
use crate::domain::ConfigurationItem;
use crate::evaluation::verdict::{Parameters, ResourceLookup, Verdict};

pub(super) static EVALUATORS: &[ManagedEvaluator] = &[
    ManagedEvaluator {
        identifier: "S3_BUCKET_PUBLIC_READ_PROHIBITED",
        resource_types: &[S3_BUCKET],
        related_types: &[ACCOUNT],
        evaluate: public_read_prohibited,
    },
    ManagedEvaluator {
        identifier: "S3_BUCKET_PUBLIC_WRITE_PROHIBITED",
        resource_types: &[S3_BUCKET],
        related_types: &[ACCOUNT],
        evaluate: public_write_prohibited,
    },
    ManagedEvaluator {
        identifier: "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED",
        resource_types: &[S3_BUCKET],
        related_types: &[],
        evaluate: server_side_encryption_enabled,
    },
    ManagedEvaluator {
        identifier: "S3_BUCKET_VERSIONING_ENABLED",
        resource_types: &[S3_BUCKET],
        related_types: &[],
        evaluate: versioning_enabled,
    },
    ManagedEvaluator {
        identifier: "S3_BUCKET_LOGGING_ENABLED",
        resource_types: &[S3_BUCKET],
        related_types: &[],
        evaluate: logging_enabled,
    },
    ManagedEvaluator {
        identifier: "S3_BUCKET_SSL_REQUESTS_ONLY",
        resource_types: &[S3_BUCKET],
        related_types: &[],
        evaluate: ssl_requests_only,
    },
    ManagedEvaluator {
        identifier: "S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED",
        resource_types: &[S3_BUCKET],
        related_types: &[],
        evaluate: bucket_level_public_access_prohibited,
    },
];

// ---------------------------------------------------------------------------------------------
// Block Public Access.

/// The four Block Public Access flags (bucket- or account-level).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    /// From a `PublicAccessBlockConfiguration` value; absent flags are false.
    pub(crate) fn from_value(v: Option<&Value>) -> Self {
        let flag = |name: &str| as_bool(v.and_then(|v| v.get(name))).unwrap_or(false);
        Self {
            block_public_acls: flag("blockPublicAcls"),
            ignore_public_acls: flag("ignorePublicAcls"),
            block_public_policy: flag("blockPublicPolicy"),
            restrict_public_buckets: flag("restrictPublicBuckets"),
        }
    }

    /// The item's `supplementaryConfiguration.PublicAccessBlockConfiguration`.
    pub(crate) fn of(ci: &ConfigurationItem) -> Self {
        Self::from_value(supplementary(ci, "PublicAccessBlockConfiguration").as_ref())
    }

    fn or(self, o: Self) -> Self {
        Self {
            block_public_acls: self.block_public_acls || o.block_public_acls,
            ignore_public_acls: self.ignore_public_acls || o.ignore_public_acls,
            block_public_policy: self.block_public_policy || o.block_public_policy,
            restrict_public_buckets: self.restrict_public_buckets || o.restrict_public_buckets,
        }
    }

    /// `(camelCase field name, value)` for each flag, in AWS's order.
    pub(crate) fn flags(&self) -> [(&'static str, bool); 4] {
        [
            ("blockPublicAcls", self.block_public_acls),
            ("ignorePublicAcls", self.ignore_public_acls),
            ("blockPublicPolicy", self.block_public_policy),
            ("restrictPublicBuckets", self.restrict_public_buckets),
        ]
    }
}

/// The bucket's Block Public Access combined with its account's (the recorded `AWS::::Account`
/// item whose id is the bucket's account, or failing that the only account item).
fn effective_block(ci: &ConfigurationItem, lookup: &dyn ResourceLookup) -> PublicAccessBlock {
    let accounts = lookup.of_type(ACCOUNT);
    let account =
        accounts
            .iter()
            .find(|a| a.resource_id == ci.account_id)
            .or(if accounts.len() == 1 {
                accounts.first()
            } else {
                None
            });
    let bucket = PublicAccessBlock::of(ci);
    match account {
        Some(a) => bucket.or(PublicAccessBlock::of(a)),
        None => bucket,
    }
}

// ---------------------------------------------------------------------------------------------
// Bucket policies.

const READ_ACTIONS: &[&str] = &["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"];
const WRITE_ACTIONS: &[&str] = &[
    "s3:PutObject",
    "s3:PutObjectAcl",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:PutBucketPolicy",
    "s3:PutBucketAcl",
    "s3:DeleteBucket",
];

/// The bucket's policy document (`supplementaryConfiguration.BucketPolicy.policyText`, a JSON
/// string or an object), or `None` when there is none or it does not parse.
pub(crate) fn bucket_policy(ci: &ConfigurationItem) -> Option<Value> {
    let bp = supplementary(ci, "BucketPolicy")?;
    let text = bp.get("policyText")?;
    let doc = super::decoded(text);
    doc.is_object().then_some(doc)
}

/// The policy's statements (`Statement` may be one object or a list).
fn statements(policy: &Value) -> Vec<&Value> {
    match policy.get("Statement") {
        Some(Value::Array(items)) => items.iter().filter(|s| s.is_object()).collect(),
        Some(s @ Value::Object(_)) => vec![s],
        _ => Vec::new(),
    }
}

/// A string or a list of strings.
fn strings(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn effect_is(stmt: &Value, effect: &str) -> bool {
    stmt.get("Effect")
        .and_then(Value::as_str)
        .is_some_and(|e| e.eq_ignore_ascii_case(effect))
}

/// `Principal: "*"` or `{"AWS": "*"}` (or a list containing `"*"`).
fn everyone(stmt: &Value) -> bool {
    match stmt.get("Principal") {
        Some(Value::String(s)) => s == "*",
        Some(Value::Object(m)) => strings(m.get("AWS")).contains(&"*"),
        _ => false,
    }
}

/// Whether the statement's `Action` (or, inverted, `NotAction`) covers `action`.
fn covers_action(stmt: &Value, action: &str) -> bool {
    if let Some(a) = stmt.get("Action") {
        strings(Some(a)).iter().any(|p| glob_match(p, action))
    } else if let Some(na) = stmt.get("NotAction") {
        !strings(Some(na)).iter().any(|p| glob_match(p, action))
    } else {
        false
    }
}

/// Whether the statement's `Resource` (or, inverted, `NotResource`) covers `arn`; a statement
/// with neither covers everything.
fn covers_resource(stmt: &Value, arn: &str) -> bool {
    if let Some(r) = stmt.get("Resource") {
        strings(Some(r)).iter().any(|p| glob_match(p, arn))
    } else if let Some(nr) = stmt.get("NotResource") {
        !strings(Some(nr)).iter().any(|p| glob_match(p, arn))
    } else {
        true
    }
}

fn has_condition(stmt: &Value) -> bool {
    match stmt.get("Condition") {
        None | Some(Value::Null) => false,
        Some(Value::Object(m)) => !m.is_empty(),
        Some(_) => true,
    }
}

/// The first action in `actions` that some unconditional `Allow` statement for everyone grants.
pub(crate) fn policy_grants_public<'a>(policy: &Value, actions: &[&'a str]) -> Option<&'a str> {
    statements(policy)
        .into_iter()
        .filter(|s| effect_is(s, "Allow") && everyone(s) && !has_condition(s))
        .find_map(|s| actions.iter().find(|a| covers_action(s, a)).copied())
}

/// A condition block `{Operator: {key: value}}`: the values of `key` under any of `operators`
/// (operators and keys compared case-insensitively).
fn condition_values<'a>(stmt: &'a Value, operators: &[&str], key: &str) -> Vec<&'a Value> {
    let Some(Value::Object(cond)) = stmt.get("Condition") else {
        return Vec::new();
    };
    cond.iter()
        .filter(|(op, _)| operators.iter().any(|o| o.eq_ignore_ascii_case(op)))
        .filter_map(|(_, m)| m.as_object())
        .flat_map(|m| m.iter())
        .filter(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
        .collect()
}

fn is_false(v: &Value) -> bool {
    match v {
        Value::Array(items) => !items.is_empty() && items.iter().all(is_false),
        v => as_bool(Some(v)) == Some(false),
    }
}

/// A `Deny` for everyone covering every S3 action on the bucket's objects when
/// `aws:SecureTransport` is false.
fn denies_insecure_transport(policy: &Value, bucket: &str) -> bool {
    let objects = format!("arn:aws:s3:::{bucket}/any-object");
    statements(policy).into_iter().any(|s| {
        effect_is(s, "Deny")
            && everyone(s)
            && covers_action(s, "s3:GetObject")
            && covers_action(s, "s3:PutObject")
            && covers_resource(s, &objects)
            && condition_values(s, &["Bool", "BoolIfExists"], "aws:SecureTransport")
                .into_iter()
                .any(is_false)
    })
}

/// A `Deny` for everyone of `s3:PutObject` conditioned on the server-side-encryption header.
fn denies_unencrypted_put(policy: &Value) -> bool {
    statements(policy).into_iter().any(|s| {
        effect_is(s, "Deny")
            && everyone(s)
            && covers_action(s, "s3:PutObject")
            && s.get("Condition")
                .and_then(Value::as_object)
                .is_some_and(|c| {
                    c.values().filter_map(Value::as_object).any(|m| {
                        m.keys()
                            .any(|k| k.eq_ignore_ascii_case("s3:x-amz-server-side-encryption"))
                    })
                })
    })
}

// ---------------------------------------------------------------------------------------------
// ACLs.

/// The first grant of one of `permissions` to `AllUsers` / `AuthenticatedUsers`, as
/// `(grantee, permission)`. Reads `supplementaryConfiguration.AccessControlList` (JSON encoded
/// once or twice) `grantList[]` (and `grantSet[]`) entries `{grantee, permission}`; the grantee
/// is a group name string or an object whose values name one (e.g. a group `uri`).
pub(crate) fn acl_grants_public(
    ci: &ConfigurationItem,
    permissions: &[&str],
) -> Option<(String, String)> {
    let acl = supplementary(ci, "AccessControlList")?;
    let norm = |s: &str| s.replace(['_', ' '], "").to_ascii_lowercase();
    let public_group = |g: &Value| -> Option<String> {
        let names: Vec<&str> = match g {
            Value::String(s) => vec![s.as_str()],
            // A group grantee's `uri` / `identifier` / …; never a canonical user's id or name.
            Value::Object(m) => m
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "id" | "displayName"))
                .filter_map(|(_, v)| v.as_str())
                .collect(),
            _ => Vec::new(),
        };
        names.into_iter().find_map(|n| {
            ["AllUsers", "AuthenticatedUsers"]
                .into_iter()
                .find(|grp| n.to_ascii_lowercase().contains(&grp.to_ascii_lowercase()))
                .map(str::to_string)
        })
    };
    array(acl.get("grantList"))
        .iter()
        .chain(array(acl.get("grantSet")))
        .find_map(|grant| {
            let group = public_group(grant.get("grantee")?)?;
            let perm = grant.get("permission")?.as_str()?;
            permissions
                .iter()
                .any(|p| norm(p) == norm(perm))
                .then(|| (group, perm.to_string()))
        })
}

fn bucket_name(ci: &ConfigurationItem) -> String {
    as_str(configuration(ci).get("name"))
        .map(str::to_string)
        .or_else(|| ci.resource_name.clone())
        .unwrap_or_else(|| ci.resource_id.clone())
}

// ---------------------------------------------------------------------------------------------
// Rules.

fn public_access(
    ci: &ConfigurationItem,
    lookup: &dyn ResourceLookup,
    kind: &str,
    actions: &[&str],
    permissions: &[&str],
) -> Verdict {
    if let Some(v) = out_of_scope(ci, &[S3_BUCKET]) {
        return v;
    }
    let block = effective_block(ci, lookup);
    if !block.restrict_public_buckets {
        if let Some(action) = bucket_policy(ci).and_then(|p| policy_grants_public(&p, actions)) {
            return non_compliant(format!(
                "The bucket policy allows public {kind} access ({action} for Principal *) and Block Public Access does not restrict public buckets."
            ));
        }
    }
    if !block.ignore_public_acls {
        if let Some((group, perm)) = acl_grants_public(ci, permissions) {
            return non_compliant(format!(
                "The bucket ACL grants {perm} to {group} and Block Public Access does not ignore public ACLs."
            ));
        }
    }
    Verdict::compliant()
}

fn public_read_prohibited(
    _p: &Parameters,
    ci: &ConfigurationItem,
    lookup: &dyn ResourceLookup,
) -> Verdict {
    public_access(ci, lookup, "read", READ_ACTIONS, &["Read", "FullControl"])
}

fn public_write_prohibited(
    _p: &Parameters,
    ci: &ConfigurationItem,
    lookup: &dyn ResourceLookup,
) -> Verdict {
    public_access(
        ci,
        lookup,
        "write",
        WRITE_ACTIONS,
        &["Write", "WriteAcp", "FullControl"],
    )
}

fn server_side_encryption_enabled(
    _p: &Parameters,
    ci: &ConfigurationItem,
    _l: &dyn ResourceLookup,
) -> Verdict {
    if let Some(v) = out_of_scope(ci, &[S3_BUCKET]) {
        return v;
    }
    let sse = supplementary(ci, "ServerSideEncryptionConfiguration");
    let algorithm = sse.as_ref().and_then(|sse| {
        array(sse.get("rules")).iter().find_map(|r| {
            as_str(
                r.get("applyServerSideEncryptionByDefault")
                    .and_then(|d| d.get("sseAlgorithm")),
            )
        })
    });
    if algorithm.is_some() {
        return Verdict::compliant();
    }
    if bucket_policy(ci).is_some_and(|p| denies_unencrypted_put(&p)) {
        return compliant_because(
            "The bucket policy denies s3:PutObject requests without server-side encryption.",
        );
    }
    non_compliant("The bucket has no default server-side encryption and its policy does not deny unencrypted uploads.")
}

fn versioning_enabled(p: &Parameters, ci: &ConfigurationItem, _l: &dyn ResourceLookup) -> Verdict {
    if let Some(v) = out_of_scope(ci, &[S3_BUCKET]) {
        return v;
    }
    let conf = supplementary(ci, "BucketVersioningConfiguration");
    let status = as_str(conf.as_ref().and_then(|c| c.get("status"))).unwrap_or("Off");
    if status != "Enabled" {
        return non_compliant(format!("Bucket versioning is {status}, not Enabled."));
    }
    if param_bool(p, "isMfaDeleteEnabled") == Some(true)
        && as_bool(conf.as_ref().and_then(|c| c.get("isMfaDeleteEnabled"))) != Some(true)
    {
        return non_compliant("Bucket versioning is Enabled but MFA delete is not.");
    }
    Verdict::compliant()
}

fn logging_enabled(p: &Parameters, ci: &ConfigurationItem, _l: &dyn ResourceLookup) -> Verdict {
    if let Some(v) = out_of_scope(ci, &[S3_BUCKET]) {
        return v;
    }
    let conf = supplementary(ci, "BucketLoggingConfiguration");
    let dest = as_str(conf.as_ref().and_then(|c| c.get("destinationBucketName")));
    let prefix = as_str(conf.as_ref().and_then(|c| c.get("logFilePrefix"))).unwrap_or("");
    let Some(dest) = dest else {
        return non_compliant("Server access logging is not enabled for the bucket.");
    };
    if let Some(target) = param_str(p, "targetBucket") {
        if target != dest {
            return non_compliant(format!(
                "Access logs go to bucket {dest}, not to targetBucket {target}."
            ));
        }
    }
    if let Some(target) = param_str(p, "targetPrefix") {
        if target != prefix {
            return non_compliant(format!(
                "Access logs use prefix {prefix:?}, not targetPrefix {target:?}."
            ));
        }
    }
    Verdict::compliant()
}

fn ssl_requests_only(_p: &Parameters, ci: &ConfigurationItem, _l: &dyn ResourceLookup) -> Verdict {
    if let Some(v) = out_of_scope(ci, &[S3_BUCKET]) {
        return v;
    }
    let bucket = bucket_name(ci);
    if bucket_policy(ci).is_some_and(|p| denies_insecure_transport(&p, &bucket)) {
        Verdict::compliant()
    } else {
        non_compliant(annotation(
            "The bucket policy does not deny requests whose aws:SecureTransport is false.",
        ))
    }
}

fn bucket_level_public_access_prohibited(
    p: &Parameters,
    ci: &ConfigurationItem,
    _l: &dyn ResourceLookup,
) -> Verdict {
    if let Some(v) = out_of_scope(ci, &[S3_BUCKET]) {
        return v;
    }
    let bucket = bucket_name(ci);
    if param_csv(p, "excludedPublicBuckets")
        .iter()
        .any(|b| *b == bucket || *b == ci.resource_id)
    {
        return compliant_because("The bucket is listed in excludedPublicBuckets.");
    }
    let off: Vec<&str> = PublicAccessBlock::of(ci)
        .flags()
        .into_iter()
        .filter(|(_, on)| !on)
        .map(|(name, _)| name)
        .collect();
    if off.is_empty() {
        Verdict::compliant()
    } else {
        non_compliant(format!(
            "Bucket-level Block Public Access is not fully enabled (off: {}).",
            off.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::super::test_support::*;

    /// A bucket in the API form of spec §6.2, with `supp` overriding supplementary values (each
    /// given decoded; they are encoded as the API encodes them).
    fn bucket(name: &str, supp: Value) -> crate::domain::ConfigurationItem {
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
        ci(json!({
            "version": "1.3", "accountId": "111122223333", "configurationItemCaptureTime": 1700000000.123,
            "configurationItemStatus": "OK", "configurationStateId": "1700000000123",
            "arn": format!("arn:aws:s3:::{name}"), "resourceType": "AWS::S3::Bucket",
            "resourceId": name, "resourceName": name, "awsRegion": "us-east-1",
            "availabilityZone": "Regional", "tags": {}, "relatedEvents": [], "relationships": [],
            "configuration": json!({"name": name, "owner": {"displayName": null, "id": "abc123"},
                "creationDate": "2023-07-22T04:26:40.000Z"}).to_string(),
            "supplementaryConfiguration": encoded,
        }))
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

    fn policy(statements: Value) -> Value {
        json!({"policyText": json!({"Version": "2012-10-17", "Statement": statements}).to_string()})
    }

    fn all_blocked() -> Value {
        json!({"blockPublicAcls": true, "ignorePublicAcls": true, "blockPublicPolicy": true, "restrictPublicBuckets": true})
    }

    fn account(pab: Value) -> crate::domain::ConfigurationItem {
        ci(
            json!({"resourceType": "AWS::::Account", "resourceId": "111122223333",
            "accountId": "111122223333", "configuration": {},
            "supplementaryConfiguration": {"PublicAccessBlockConfiguration": pab}}),
        )
    }

    #[test]
    fn public_read_via_acl_policy_and_block_public_access() {
        let r = "S3_BUCKET_PUBLIC_READ_PROHIBITED";
        // Private: owner-only ACL, no policy.
        assert_verdict(
            &run(r, json!({}), &bucket("b", json!({})), &[]),
            "COMPLIANT",
        );
        // The spec's own example: AllUsers Read, ACL encoded twice.
        let b = bucket("b", json!({"AccessControlList": public_acl("Read")}));
        let v = run(r, json!({}), &b, &[]);
        assert_verdict(&v, "NON_COMPLIANT");
        assert!(v.annotation.unwrap().contains("AllUsers"));
        // FullControl to AuthenticatedUsers (as a group uri) is read too.
        let acl = Value::String(json!({"grantList": [{"grantee": {"uri": "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"}, "permission": "FULL_CONTROL"}]}).to_string());
        assert_verdict(
            &run(
                r,
                json!({}),
                &bucket("b", json!({"AccessControlList": acl})),
                &[],
            ),
            "NON_COMPLIANT",
        );
        // A canonical user whose display name mentions AllUsers is not the group.
        let acl = Value::String(json!({"grantList": [{"grantee": {"id": "x", "displayName": "AllUsers-admin"}, "permission": "Read"}]}).to_string());
        assert_verdict(
            &run(
                r,
                json!({}),
                &bucket("b", json!({"AccessControlList": acl})),
                &[],
            ),
            "COMPLIANT",
        );
        // Write-only grants do not make read public.
        let b = bucket("b", json!({"AccessControlList": public_acl("Write")}));
        assert_verdict(&run(r, json!({}), &b, &[]), "COMPLIANT");
        // Bucket-level ignorePublicAcls neutralises the ACL.
        let b = bucket(
            "b",
            json!({"AccessControlList": public_acl("Read"),
            "PublicAccessBlockConfiguration": {"ignorePublicAcls": true}}),
        );
        assert_verdict(&run(r, json!({}), &b, &[]), "COMPLIANT");
        // So does the account-level setting, through the lookup.
        let b = bucket("b", json!({"AccessControlList": public_acl("Read")}));
        assert_verdict(
            &run(r, json!({}), &b, &[account(all_blocked())]),
            "COMPLIANT",
        );
        assert_verdict(
            &run(
                r,
                json!({}),
                &b,
                &[account(json!({"blockPublicPolicy": true}))],
            ),
            "NON_COMPLIANT",
        );
        // A public-read policy.
        let pol = policy(
            json!([{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]),
        );
        let b = bucket("b", json!({"BucketPolicy": pol}));
        assert_verdict(&run(r, json!({}), &b, &[]), "NON_COMPLIANT");
        let b = bucket(
            "b",
            json!({"BucketPolicy": pol, "PublicAccessBlockConfiguration": all_blocked()}),
        );
        assert_verdict(&run(r, json!({}), &b, &[]), "COMPLIANT");
        // Wildcard actions and {"AWS": "*"} principals count; conditions restrict.
        let pol = policy(
            json!({"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:Get*"], "Resource": "*"}),
        );
        assert_verdict(
            &run(
                r,
                json!({}),
                &bucket("b", json!({"BucketPolicy": pol})),
                &[],
            ),
            "NON_COMPLIANT",
        );
        let pol = policy(
            json!([{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]),
        );
        assert_verdict(
            &run(
                r,
                json!({}),
                &bucket("b", json!({"BucketPolicy": pol})),
                &[],
            ),
            "COMPLIANT",
        );
        // A named principal is not public.
        let pol = policy(
            json!([{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "s3:*"}]),
        );
        assert_verdict(
            &run(
                r,
                json!({}),
                &bucket("b", json!({"BucketPolicy": pol})),
                &[],
            ),
            "COMPLIANT",
        );
    }

    #[test]
    fn public_write() {
        let r = "S3_BUCKET_PUBLIC_WRITE_PROHIBITED";
        assert_verdict(
            &run(r, json!({}), &bucket("b", json!({})), &[]),
            "COMPLIANT",
        );
        let b = bucket("b", json!({"AccessControlList": public_acl("Read")}));
        assert_verdict(&run(r, json!({}), &b, &[]), "COMPLIANT");
        for perm in ["Write", "WriteAcp", "FullControl"] {
            let b = bucket("b", json!({"AccessControlList": public_acl(perm)}));
            assert_verdict(&run(r, json!({}), &b, &[]), "NON_COMPLIANT");
        }
        let pol = policy(json!([{"Effect": "Allow", "Principal": "*", "Action": "s3:Put*"}]));
        assert_verdict(
            &run(
                r,
                json!({}),
                &bucket("b", json!({"BucketPolicy": pol})),
                &[],
            ),
            "NON_COMPLIANT",
        );
        let pol = policy(json!([{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}]));
        assert_verdict(
            &run(
                r,
                json!({}),
                &bucket("b", json!({"BucketPolicy": pol})),
                &[],
            ),
            "COMPLIANT",
        );
        // NotAction inverted: allow everything except reads is public write.
        let pol = policy(json!([{"Effect": "Allow", "Principal": "*", "NotAction": "s3:Get*"}]));
        assert_verdict(
            &run(
                r,
                json!({}),
                &bucket("b", json!({"BucketPolicy": pol})),
                &[],
            ),
            "NON_COMPLIANT",
        );
    }

    #[test]
    fn server_side_encryption() {
        let r = "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED";
        assert_verdict(
            &run(r, json!({}), &bucket("b", json!({})), &[]),
            "NON_COMPLIANT",
        );
        let sse = json!({"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyID": "k"}, "bucketKeyEnabled": true}]});
        let b = bucket("b", json!({"ServerSideEncryptionConfiguration": sse}));
        assert_verdict(&run(r, json!({}), &b, &[]), "COMPLIANT");
        let pol = policy(
            json!([{"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::b/*",
            "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "AES256"}}}]),
        );
        assert_verdict(
            &run(
                r,
                json!({}),
                &bucket("b", json!({"BucketPolicy": pol})),
                &[],
            ),
            "COMPLIANT",
        );
        let empty = json!({"rules": []});
        assert_verdict(
            &run(
                r,
                json!({}),
                &bucket("b", json!({"ServerSideEncryptionConfiguration": empty})),
                &[],
            ),
            "NON_COMPLIANT",
        );
    }

    #[test]
    fn versioning_and_mfa_delete() {
        let r = "S3_BUCKET_VERSIONING_ENABLED";
        let off = bucket("b", json!({}));
        let v = run(r, json!({}), &off, &[]);
        assert_verdict(&v, "NON_COMPLIANT");
        assert!(v.annotation.unwrap().contains("Off"));
        let suspended = bucket(
            "b",
            json!({"BucketVersioningConfiguration": {"status": "Suspended"}}),
        );
        assert_verdict(&run(r, json!({}), &suspended, &[]), "NON_COMPLIANT");
        let on = bucket(
            "b",
            json!({"BucketVersioningConfiguration": {"status": "Enabled", "isMfaDeleteEnabled": null}}),
        );
        assert_verdict(&run(r, json!({}), &on, &[]), "COMPLIANT");
        assert_verdict(
            &run(r, json!({"isMfaDeleteEnabled": "false"}), &on, &[]),
            "COMPLIANT",
        );
        assert_verdict(
            &run(r, json!({"isMfaDeleteEnabled": "True"}), &on, &[]),
            "NON_COMPLIANT",
        );
        let mfa = bucket(
            "b",
            json!({"BucketVersioningConfiguration": {"status": "Enabled", "isMfaDeleteEnabled": true}}),
        );
        assert_verdict(
            &run(r, json!({"isMfaDeleteEnabled": "true"}), &mfa, &[]),
            "COMPLIANT",
        );
        // Not recorded at all: Off.
        let mut bare = bucket("b", json!({}));
        bare.supplementary_configuration.clear();
        assert_verdict(&run(r, json!({}), &bare, &[]), "NON_COMPLIANT");
    }

    #[test]
    fn logging_with_target_parameters() {
        let r = "S3_BUCKET_LOGGING_ENABLED";
        assert_verdict(
            &run(r, json!({}), &bucket("b", json!({})), &[]),
            "NON_COMPLIANT",
        );
        let b = bucket(
            "b",
            json!({"BucketLoggingConfiguration": {"destinationBucketName": "logs", "logFilePrefix": "b/"}}),
        );
        assert_verdict(&run(r, json!({}), &b, &[]), "COMPLIANT");
        assert_verdict(
            &run(
                r,
                json!({"targetBucket": "logs", "targetPrefix": "b/"}),
                &b,
                &[],
            ),
            "COMPLIANT",
        );
        assert_verdict(
            &run(r, json!({"targetBucket": "other"}), &b, &[]),
            "NON_COMPLIANT",
        );
        assert_verdict(
            &run(r, json!({"targetPrefix": "x/"}), &b, &[]),
            "NON_COMPLIANT",
        );
    }

    #[test]
    fn ssl_requests_only() {
        let r = "S3_BUCKET_SSL_REQUESTS_ONLY";
        assert_verdict(
            &run(r, json!({}), &bucket("b", json!({})), &[]),
            "NON_COMPLIANT",
        );
        let good = policy(
            json!([{"Sid": "AllowSSLRequestsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]),
        );
        assert_verdict(
            &run(
                r,
                json!({}),
                &bucket("b", json!({"BucketPolicy": good})),
                &[],
            ),
            "COMPLIANT",
        );
        // The same statement for another bucket's objects does not count.
        assert_verdict(
            &run(
                r,
                json!({}),
                &bucket("other", json!({"BucketPolicy": good})),
                &[],
            ),
            "NON_COMPLIANT",
        );
        // Only GetObject denied: not every request is covered.
        let narrow = policy(
            json!([{"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::b/*", "Condition": {"Bool": {"aws:SecureTransport": false}}}]),
        );
        assert_verdict(
            &run(
                r,
                json!({}),
                &bucket("b", json!({"BucketPolicy": narrow})),
                &[],
            ),
            "NON_COMPLIANT",
        );
        // An Allow on SecureTransport=true is not a deny.
        let allow = policy(
            json!([{"Effect": "Allow", "Principal": "*", "Action": "s3:*",
            "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]),
        );
        assert_verdict(
            &run(
                r,
                json!({}),
                &bucket("b", json!({"BucketPolicy": allow})),
                &[],
            ),
            "NON_COMPLIANT",
        );
    }

    #[test]
    fn bucket_level_block_public_access() {
        let r = "S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED";
        let none = bucket("b", json!({}));
        assert_verdict(&run(r, json!({}), &none, &[]), "NON_COMPLIANT");
        let partial = bucket(
            "b",
            json!({"PublicAccessBlockConfiguration": {"blockPublicAcls": true, "ignorePublicAcls": true, "blockPublicPolicy": true, "restrictPublicBuckets": false}}),
        );
        let v = run(r, json!({}), &partial, &[]);
        assert_verdict(&v, "NON_COMPLIANT");
        assert!(v.annotation.unwrap().contains("restrictPublicBuckets"));
        let full = bucket(
            "b",
            json!({"PublicAccessBlockConfiguration": all_blocked()}),
        );
        assert_verdict(&run(r, json!({}), &full, &[]), "COMPLIANT");
        assert_verdict(
            &run(r, json!({"excludedPublicBuckets": "a, b,c"}), &none, &[]),
            "COMPLIANT",
        );
        assert_verdict(
            &run(r, json!({"excludedPublicBuckets": "a,c"}), &none, &[]),
            "NON_COMPLIANT",
        );
    }

    #[test]
    fn bucket_rules_do_not_judge_other_types() {
        let sg = ci(
            json!({"resourceType": "AWS::EC2::SecurityGroup", "resourceId": "sg-1", "configuration": {}}),
        );
        for e in super::EVALUATORS {
            let v = run(e.identifier, json!({}), &sg, &[]);
            assert_verdict(&v, "NOT_APPLICABLE");
        }
    }
}
