//! AWS CloudTrail trails (`AWS::CloudTrail::Trail`). `Name` may be the trail name or its ARN;
//! the item is found under either (resourceId = the name, or the ARN, whichever was recorded).
//! A trail that is not recorded: `TrailNotFoundException` "Unknown trail: <arn> for the user:
//! <account>".
//!
//! | API | Reads / writes (`conf.` = configuration, `supp.` = supplementaryConfiguration) |
//! |---|---|
//! | GetTrail | `conf.*` as boto3's `Trail` (`name` → `Name`, `logFileValidationEnabled` → `LogFileValidationEnabled`, `kmsKeyId` → `KmsKeyId`, …) |
//! | DescribeTrails | the same for `trailNameList` (names or ARNs; unknown ones are left out, as CloudTrail does) or every recorded trail → `{"trailList": [...]}` |
//! | UpdateTrail | `EnableLogFileValidation` → `conf.logFileValidationEnabled`; `KmsKeyId` → `conf.kmsKeyId` (as a key ARN; `""` removes it); `S3BucketName`, `S3KeyPrefix`, `SnsTopicName` (+ `conf.snsTopicARN`), `IncludeGlobalServiceEvents`, `IsMultiRegionTrail`, `IsOrganizationTrail`, `CloudWatchLogsLogGroupArn`, `CloudWatchLogsRoleArn` → the same-named camelCase members; answers the trail's fields, flat, as UpdateTrail does |
//! | GetTrailStatus / StartLogging / StopLogging | `supp.TrailStatus.isLogging` (falling back to `supp.LoggingStatus.isLogging` / `.loggingEnabled`, the fields the account-level trail rule reads) |

use serde_json::{json, Map, Value};

use super::{rec_bool, rec_str, ConfigWorld, Params, WorldError, WorldResult};
use crate::domain::ConfigurationItem;

pub(crate) const TRAIL: &str = "AWS::CloudTrail::Trail";

pub(super) const APIS: &[&str] = &[
    "DescribeTrails",
    "GetTrail",
    "GetTrailStatus",
    "StartLogging",
    "StopLogging",
    "UpdateTrail",
];

/// (UpdateTrail parameter, configuration member, is boolean).
const UPDATABLE: &[(&str, &str, bool)] = &[
    ("S3BucketName", "s3BucketName", false),
    ("S3KeyPrefix", "s3KeyPrefix", false),
    (
        "IncludeGlobalServiceEvents",
        "includeGlobalServiceEvents",
        true,
    ),
    ("IsMultiRegionTrail", "isMultiRegionTrail", true),
    ("EnableLogFileValidation", "logFileValidationEnabled", true),
    (
        "CloudWatchLogsLogGroupArn",
        "cloudWatchLogsLogGroupArn",
        false,
    ),
    ("CloudWatchLogsRoleArn", "cloudWatchLogsRoleArn", false),
    ("IsOrganizationTrail", "isOrganizationTrail", true),
];

pub(super) async fn call(w: &ConfigWorld, api: &str, p: Params<'_>) -> WorldResult<Value> {
    if api == "DescribeTrails" {
        let names = p.opt_str_list("trailNameList")?.unwrap_or_default();
        let trails = if names.is_empty() {
            w.all_current(TRAIL, None).await?
        } else {
            let mut out = Vec::new();
            for n in &names {
                if let Some((_, ci)) = find(w, n).await? {
                    out.push(ci);
                }
            }
            out
        };
        let list: Vec<Value> = trails.iter().map(|ci| trail_shape(w, ci)).collect();
        return Ok(json!({ "trailList": list }));
    }
    let name = p.str("Name")?;
    let not_found = || {
        let arn = trail_arn(w, name);
        WorldError::new(
            "TrailNotFoundException",
            format!("Unknown trail: {arn} for the user: {}", w.scope().account),
        )
    };
    match api {
        "GetTrail" => {
            let (_, ci) = find(w, name).await?.ok_or_else(not_found)?;
            Ok(json!({ "Trail": trail_shape(w, &ci) }))
        }
        "GetTrailStatus" => {
            let (_, ci) = find(w, name).await?.ok_or_else(not_found)?;
            let status = status_of(&ci);
            let mut out = match super::pascal(&status, &[]) {
                Value::Object(m) => m,
                _ => Map::new(),
            };
            out.remove("LoggingEnabled");
            out.insert("IsLogging".into(), json!(is_logging(&status)));
            Ok(Value::Object(out))
        }
        "StartLogging" | "StopLogging" => {
            let on = api == "StartLogging";
            let id = find(w, name).await?.ok_or_else(not_found)?.0;
            w.update(TRAIL, &id, false, not_found, |doc| {
                let mut status = match doc.supp("TrailStatus") {
                    Some(Value::Object(m)) => m,
                    _ => Map::new(),
                };
                status.insert("isLogging".into(), json!(on));
                doc.set_supp("TrailStatus", Value::Object(status));
                Ok(())
            })
            .await?;
            Ok(json!({}))
        }
        "UpdateTrail" => {
            let mut changes: Vec<(&str, Value)> = Vec::new();
            for (param, member, boolean) in UPDATABLE {
                let v = if *boolean {
                    p.opt_bool(param)?.map(Value::Bool)
                } else {
                    p.opt_str(param)?.map(|s| json!(s))
                };
                if let Some(v) = v {
                    changes.push((member, v));
                }
            }
            if let Some(key) = p.opt_str("KmsKeyId")? {
                let v = if key.trim().is_empty() {
                    Value::Null
                } else {
                    json!(super::kms_key_arn(w.scope(), key.trim()))
                };
                changes.push(("kmsKeyId", v));
            }
            if let Some(topic) = p.opt_str("SnsTopicName")? {
                if topic.is_empty() {
                    changes.push(("snsTopicName", Value::Null));
                    changes.push(("snsTopicARN", Value::Null));
                } else {
                    let arn = if topic.starts_with("arn:") {
                        topic.to_string()
                    } else {
                        format!(
                            "arn:aws:sns:{}:{}:{topic}",
                            w.scope().region,
                            w.scope().account
                        )
                    };
                    let short = arn.rsplit(':').next().unwrap_or(topic).to_string();
                    changes.push(("snsTopicName", json!(short)));
                    changes.push(("snsTopicARN", json!(arn)));
                }
            }
            let id = find(w, name).await?.ok_or_else(not_found)?.0;
            let updated = w
                .update(TRAIL, &id, false, not_found, |doc| {
                    for (member, v) in &changes {
                        doc.set_conf(member, v.clone());
                    }
                    Ok(())
                })
                .await?;
            Ok(trail_shape(w, &updated.item))
        }
        _ => Err(super::unsupported("cloudtrail", api)),
    }
}

fn trail_arn(w: &ConfigWorld, name: &str) -> String {
    if name.starts_with("arn:") {
        name.to_string()
    } else {
        format!(
            "arn:aws:cloudtrail:{}:{}:trail/{name}",
            w.scope().region,
            w.scope().account
        )
    }
}

/// The recorded trail a name or ARN names, with the resource id it is recorded under.
async fn find(w: &ConfigWorld, name: &str) -> WorldResult<Option<(String, ConfigurationItem)>> {
    let name = name.trim();
    let mut candidates = vec![name.to_string()];
    match super::arn_resource(name, "trail") {
        Some(short) => candidates.push(short.to_string()),
        None => candidates.push(trail_arn(w, name)),
    }
    for id in candidates {
        if let Some(ci) = w.current(TRAIL, &id).await? {
            return Ok(Some((id, ci)));
        }
    }
    Ok(None)
}

/// A recorded trail as boto3's `Trail` structure.
pub(crate) fn trail_shape(w: &ConfigWorld, ci: &ConfigurationItem) -> Value {
    let conf = super::decoded(&ci.configuration);
    let mut t = match super::pascal(&conf, &[]) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let name = rec_str(conf.get("name"))
        .map(str::to_string)
        .or_else(|| ci.resource_name.clone())
        .unwrap_or_else(|| {
            super::arn_resource(&ci.resource_id, "trail")
                .unwrap_or(&ci.resource_id)
                .to_string()
        });
    let arn = ci.arn.clone().unwrap_or_else(|| trail_arn(w, &name));
    t.entry("TrailARN").or_insert_with(|| json!(arn));
    t.entry("HomeRegion")
        .or_insert_with(|| json!(ci.region.clone()));
    t.entry("Name").or_insert_with(|| json!(name));
    for flag in [
        "LogFileValidationEnabled",
        "IsMultiRegionTrail",
        "IncludeGlobalServiceEvents",
        "IsOrganizationTrail",
        "HasCustomEventSelectors",
        "HasInsightSelectors",
    ] {
        let b = rec_bool(t.get(flag)).unwrap_or(false);
        t.insert(flag.into(), json!(b));
    }
    Value::Object(t)
}

fn status_of(ci: &ConfigurationItem) -> Value {
    ["TrailStatus", "LoggingStatus"]
        .iter()
        .find_map(|k| {
            ci.supplementary_configuration
                .get(*k)
                .map(super::decoded)
                .filter(Value::is_object)
        })
        .unwrap_or_else(|| json!({}))
}

fn is_logging(status: &Value) -> bool {
    rec_bool(status.get("isLogging"))
        .or_else(|| rec_bool(status.get("loggingEnabled")))
        .unwrap_or(false)
}
