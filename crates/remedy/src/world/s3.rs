//! Amazon S3 buckets (`AWS::S3::Bucket`, resourceId = the bucket name, `Bucket` parameter).
//!
//! | API | Reads / writes (`supp.` = supplementaryConfiguration) |
//! |---|---|
//! | GetPublicAccessBlock / PutPublicAccessBlock / DeletePublicAccessBlock | `supp.PublicAccessBlockConfiguration{blockPublicAcls,ignorePublicAcls,blockPublicPolicy,restrictPublicBuckets}`; Put replaces all four (an omitted flag is false); Delete removes the key; Get without one → `NoSuchPublicAccessBlockConfiguration` |
//! | GetBucketEncryption / PutBucketEncryption | `supp.ServerSideEncryptionConfiguration{rules:[{applyServerSideEncryptionByDefault:{sseAlgorithm,kmsMasterKeyID},bucketKeyEnabled}]}`; Get without rules → `ServerSideEncryptionConfigurationNotFoundError` |
//! | GetBucketVersioning / PutBucketVersioning | `supp.BucketVersioningConfiguration{status: Off/Enabled/Suspended, isMfaDeleteEnabled}`; Get answers `{}` while `Off`, `MFADelete` only once MFA delete was configured (true/false), as S3 does; the `MFA` parameter is accepted and not checked |
//! | GetBucketLogging / PutBucketLogging | `supp.BucketLoggingConfiguration{destinationBucketName,logFilePrefix}` (both null when off); `TargetGrants` are accepted, not recorded (the CI has no field for them); the target bucket is not required to be recorded |
//! | GetBucketPolicy / PutBucketPolicy / DeleteBucketPolicy | `supp.BucketPolicy{policyText}` (the policy document as a string; null when none); Get without one → `NoSuchBucketPolicy` |
//!
//! A bucket that is not recorded (or deleted): `NoSuchBucket` "The specified bucket does not
//! exist". Writes answer `{}` (boto3's empty response).
//!
//! The account-level Block Public Access of S3 Control (`s3control` GetPublicAccessBlock /
//! PutPublicAccessBlock / DeletePublicAccessBlock, parameter `AccountId`, which must be the
//! caller's account — else `AccessDenied`) reads and writes the same four flags in the account
//! item's (`AWS::::Account`) `supp.PublicAccessBlockConfiguration`, the value the account-level
//! and bucket public read/write rules read; Put records the account item when there is none yet.

use serde_json::{json, Map, Value};

use super::{rec_array, rec_bool, rec_str, ConfigWorld, Params, WorldError, WorldResult};

pub(crate) const BUCKET: &str = "AWS::S3::Bucket";

pub(super) const APIS: &[&str] = &[
    "DeleteBucketPolicy",
    "DeletePublicAccessBlock",
    "GetBucketEncryption",
    "GetBucketLogging",
    "GetBucketPolicy",
    "GetBucketVersioning",
    "GetPublicAccessBlock",
    "PutBucketEncryption",
    "PutBucketLogging",
    "PutBucketPolicy",
    "PutBucketVersioning",
    "PutPublicAccessBlock",
];

/// The S3 Control APIs emulated (service `s3control`).
pub(super) const CONTROL_APIS: &[&str] = &[
    "DeletePublicAccessBlock",
    "GetPublicAccessBlock",
    "PutPublicAccessBlock",
];

const ACCOUNT: &str = "AWS::::Account";

const PAB: &str = "PublicAccessBlockConfiguration";
const SSE: &str = "ServerSideEncryptionConfiguration";
const VERSIONING: &str = "BucketVersioningConfiguration";
const LOGGING: &str = "BucketLoggingConfiguration";
const POLICY: &str = "BucketPolicy";

/// (boto3 member, CI member) of the four Block Public Access flags.
const FLAGS: [(&str, &str); 4] = [
    ("BlockPublicAcls", "blockPublicAcls"),
    ("IgnorePublicAcls", "ignorePublicAcls"),
    ("BlockPublicPolicy", "blockPublicPolicy"),
    ("RestrictPublicBuckets", "restrictPublicBuckets"),
];

fn no_such_bucket() -> WorldError {
    WorldError::new("NoSuchBucket", "The specified bucket does not exist")
}

fn malformed_xml() -> WorldError {
    WorldError::new(
        "MalformedXML",
        "The XML you provided was not well-formed or did not validate against our published schema",
    )
}

/// `s3control`: the account's Block Public Access.
pub(super) async fn control_call(w: &ConfigWorld, api: &str, p: Params<'_>) -> WorldResult<Value> {
    let account = p.str("AccountId")?;
    if account != w.scope().account {
        return Err(WorldError::new("AccessDenied", "Access Denied"));
    }
    let not_found = || {
        WorldError::new(
            "NoSuchPublicAccessBlockConfiguration",
            "The public access block configuration was not found",
        )
    };
    match api {
        "GetPublicAccessBlock" => {
            let cfg = w
                .current(ACCOUNT, account)
                .await?
                .and_then(|ci| ci.supplementary_configuration.get(PAB).map(super::decoded))
                .filter(Value::is_object)
                .ok_or_else(not_found)?;
            Ok(json!({ "PublicAccessBlockConfiguration": flags_shape(&cfg) }))
        }
        "PutPublicAccessBlock" => {
            let value = flags_value(p.obj("PublicAccessBlockConfiguration")?)?;
            w.update(ACCOUNT, account, true, not_found, |doc| {
                doc.set_supp(PAB, value.clone());
                Ok(())
            })
            .await?;
            Ok(json!({}))
        }
        "DeletePublicAccessBlock" => {
            if w.current(ACCOUNT, account).await?.is_some() {
                w.update(ACCOUNT, account, false, not_found, |doc| {
                    doc.set_supp(PAB, Value::Null);
                    Ok(())
                })
                .await?;
            }
            Ok(json!({}))
        }
        _ => Err(super::unsupported("s3control", api)),
    }
}

fn flags_shape(cfg: &Value) -> Map<String, Value> {
    FLAGS
        .iter()
        .map(|(api, ci)| {
            (
                api.to_string(),
                Value::Bool(rec_bool(cfg.get(*ci)) == Some(true)),
            )
        })
        .collect()
}

/// A `PublicAccessBlockConfiguration` parameter as the item records it (omitted flags false).
fn flags_value(cfg: Params<'_>) -> WorldResult<Value> {
    let mut value = Map::new();
    for (api, ci) in FLAGS {
        value.insert(
            ci.to_string(),
            Value::Bool(cfg.opt_bool(api)?.unwrap_or(false)),
        );
    }
    Ok(Value::Object(value))
}

pub(super) async fn call(w: &ConfigWorld, api: &str, p: Params<'_>) -> WorldResult<Value> {
    let bucket = p.str("Bucket")?;
    match api {
        "GetPublicAccessBlock" => {
            let doc = read(w, bucket).await?;
            let Some(cfg) = doc.get(PAB) else {
                return Err(WorldError::new(
                    "NoSuchPublicAccessBlockConfiguration",
                    "The public access block configuration was not found",
                ));
            };
            Ok(json!({ "PublicAccessBlockConfiguration": flags_shape(cfg) }))
        }
        "PutPublicAccessBlock" => {
            let value = flags_value(p.obj("PublicAccessBlockConfiguration")?)?;
            write(w, bucket, PAB, value).await
        }
        "DeletePublicAccessBlock" => write(w, bucket, PAB, Value::Null).await,
        "GetBucketEncryption" => {
            let doc = read(w, bucket).await?;
            let rules: Vec<Value> = doc
                .get(SSE)
                .map(|c| rec_array(c.get("rules")).to_vec())
                .unwrap_or_default()
                .iter()
                .map(|r| {
                    let d = r.get("applyServerSideEncryptionByDefault");
                    let mut by_default = Map::new();
                    if let Some(a) = rec_str(d.and_then(|d| d.get("sseAlgorithm"))) {
                        by_default.insert("SSEAlgorithm".into(), json!(a));
                    }
                    if let Some(k) = rec_str(d.and_then(|d| d.get("kmsMasterKeyID"))) {
                        by_default.insert("KMSMasterKeyID".into(), json!(k));
                    }
                    json!({
                        "ApplyServerSideEncryptionByDefault": by_default,
                        "BucketKeyEnabled": rec_bool(r.get("bucketKeyEnabled")) == Some(true),
                    })
                })
                .collect();
            if rules.is_empty() {
                return Err(WorldError::new(
                    "ServerSideEncryptionConfigurationNotFoundError",
                    "The server side encryption configuration was not found",
                ));
            }
            Ok(json!({ "ServerSideEncryptionConfiguration": { "Rules": rules } }))
        }
        "PutBucketEncryption" => {
            let cfg = p.obj("ServerSideEncryptionConfiguration")?;
            let rules = cfg.opt_obj_list("Rules")?.ok_or_else(|| {
                super::invalid(
                    "Missing required parameter in ServerSideEncryptionConfiguration: \"Rules\"",
                )
            })?;
            if rules.is_empty() {
                return Err(malformed_xml());
            }
            let mut out = Vec::new();
            for rule in rules {
                let d = rule.opt_obj("ApplyServerSideEncryptionByDefault")?;
                let (algorithm, key) = match d {
                    Some(d) => (Some(d.str("SSEAlgorithm")?), d.opt_str("KMSMasterKeyID")?),
                    None => (None, None),
                };
                if let Some(a) = algorithm {
                    if !matches!(a, "AES256" | "aws:kms" | "aws:kms:dsse") {
                        return Err(malformed_xml());
                    }
                    if key.is_some() && a == "AES256" {
                        return Err(WorldError::new(
                            "InvalidArgument",
                            "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse",
                        ));
                    }
                }
                out.push(json!({
                    "applyServerSideEncryptionByDefault": algorithm.map(|a| json!({
                        "sseAlgorithm": a,
                        "kmsMasterKeyID": key,
                    })),
                    "bucketKeyEnabled": rule.opt_bool("BucketKeyEnabled")?.unwrap_or(false),
                }));
            }
            write(w, bucket, SSE, json!({ "rules": out })).await
        }
        "GetBucketVersioning" => {
            let doc = read(w, bucket).await?;
            let cfg = doc.get(VERSIONING);
            let status = rec_str(cfg.and_then(|c| c.get("status"))).unwrap_or("Off");
            let mfa = rec_bool(cfg.and_then(|c| c.get("isMfaDeleteEnabled")));
            let mut out = Map::new();
            if status != "Off" {
                out.insert("Status".into(), json!(status));
            }
            if let Some(m) = mfa {
                out.insert(
                    "MFADelete".into(),
                    json!(if m { "Enabled" } else { "Disabled" }),
                );
            }
            Ok(Value::Object(out))
        }
        "PutBucketVersioning" => {
            let cfg = p.obj("VersioningConfiguration")?;
            let status = cfg.opt_str("Status")?;
            let mfa = cfg.opt_str("MFADelete")?;
            if status.is_some_and(|s| !matches!(s, "Enabled" | "Suspended"))
                || mfa.is_some_and(|m| !matches!(m, "Enabled" | "Disabled"))
                || (status.is_none() && mfa.is_none())
            {
                return Err(malformed_xml());
            }
            update(w, bucket, |doc| {
                let old = doc.supp(VERSIONING);
                let old_status = rec_str(old.as_ref().and_then(|c| c.get("status")))
                    .unwrap_or("Off")
                    .to_string();
                let old_mfa = rec_bool(old.as_ref().and_then(|c| c.get("isMfaDeleteEnabled")));
                doc.set_supp(
                    VERSIONING,
                    json!({
                        "status": status.map(str::to_string).unwrap_or(old_status),
                        "isMfaDeleteEnabled": mfa.map(|m| m == "Enabled").or(old_mfa),
                    }),
                );
                Ok(())
            })
            .await
        }
        "GetBucketLogging" => {
            let doc = read(w, bucket).await?;
            let cfg = doc.get(LOGGING);
            match rec_str(cfg.and_then(|c| c.get("destinationBucketName"))) {
                None => Ok(json!({})),
                Some(target) => Ok(json!({"LoggingEnabled": {
                    "TargetBucket": target,
                    "TargetPrefix": cfg.and_then(|c| c.get("logFilePrefix")).and_then(Value::as_str).unwrap_or(""),
                }})),
            }
        }
        "PutBucketLogging" => {
            let status = p.obj("BucketLoggingStatus")?;
            let value = match status.opt_obj("LoggingEnabled")? {
                None => json!({"destinationBucketName": null, "logFilePrefix": null}),
                Some(on) => {
                    let target = on.str("TargetBucket")?;
                    let prefix = on.opt_str("TargetPrefix")?.unwrap_or("");
                    on.opt_obj_list("TargetGrants")?;
                    json!({"destinationBucketName": target, "logFilePrefix": prefix})
                }
            };
            write(w, bucket, LOGGING, value).await
        }
        "GetBucketPolicy" => {
            let doc = read(w, bucket).await?;
            match doc
                .get(POLICY)
                .and_then(|c| rec_str(c.get("policyText")).map(str::to_string))
            {
                Some(text) => Ok(json!({ "Policy": text })),
                None => Err(WorldError::new(
                    "NoSuchBucketPolicy",
                    "The bucket policy does not exist",
                )),
            }
        }
        "PutBucketPolicy" => {
            let text = match p.get("Policy") {
                Some(Value::Object(_)) => p.get("Policy").map(Value::to_string).unwrap_or_default(),
                _ => p.str("Policy")?.to_string(),
            };
            if !serde_json::from_str::<Value>(&text).is_ok_and(|v| v.is_object()) {
                return Err(WorldError::new(
                    "MalformedPolicy",
                    "Policies must be valid JSON and the first byte must be '{'",
                ));
            }
            write(w, bucket, POLICY, json!({ "policyText": text })).await
        }
        "DeleteBucketPolicy" => write(w, bucket, POLICY, json!({ "policyText": null })).await,
        _ => Err(super::unsupported("s3", api)),
    }
}

/// The bucket's supplementary configuration, decoded.
async fn read(
    w: &ConfigWorld,
    bucket: &str,
) -> WorldResult<std::collections::BTreeMap<String, Value>> {
    let ci = w
        .current(BUCKET, bucket)
        .await?
        .ok_or_else(no_such_bucket)?;
    Ok(ci
        .supplementary_configuration
        .iter()
        .map(|(k, v)| (k.clone(), super::decoded(v)))
        .filter(|(_, v)| !v.is_null())
        .collect())
}

async fn update(
    w: &ConfigWorld,
    bucket: &str,
    change: impl FnMut(&mut super::Doc) -> WorldResult<()>,
) -> WorldResult<Value> {
    w.update(BUCKET, bucket, false, no_such_bucket, change)
        .await?;
    Ok(json!({}))
}

/// Sets one supplementary value (null removes it).
async fn write(w: &ConfigWorld, bucket: &str, key: &str, value: Value) -> WorldResult<Value> {
    update(w, bucket, |doc| {
        doc.set_supp(key, value.clone());
        Ok(())
    })
    .await
}
