//! AWS KMS keys (`AWS::KMS::Key`, resourceId = the key id). `KeyId` may be the key id or its
//! ARN (`arn:aws:kms:…:key/<id>`); aliases are not recorded in key items, so an alias gets
//! `NotFoundException`, as does a key that is not recorded ("Key '<arn>' does not exist").
//!
//! | API | Reads / writes (`conf.` = configuration, `supp.` = supplementaryConfiguration) |
//! |---|---|
//! | DescribeKey | `conf.*` as boto3's `KeyMetadata` (`awsaccountId` → `AWSAccountId`, `keyState` → `KeyState`, …); `KeyId` and `Arn` filled from the item when not recorded |
//! | GetKeyRotationStatus | `supp.KeyRotationStatus` (false when not recorded) → `{"KeyRotationEnabled": b}` |
//! | EnableKeyRotation / DisableKeyRotation | `supp.KeyRotationStatus` := true / false. Only for an enabled (`conf.keyState`), customer managed (`conf.keyManager`), symmetric (`conf.keySpec` / `customerMasterKeySpec`), `AWS_KMS`-origin (`conf.origin`) key; otherwise `KMSInvalidStateException` / `UnsupportedOperationException` as KMS answers |
//! | CancelKeyDeletion | only for a key in `PendingDeletion` (else `KMSInvalidStateException`); `conf.keyState` := `Disabled`, `conf.enabled` := false, `conf.deletionDate` and `conf.pendingDeletionWindowInDays` removed; answers `{"KeyId": <key ARN>}` |
//! | ScheduleKeyDeletion | `PendingWindowInDays` 7–30 (default 30); `conf.keyState` := `PendingDeletion`, `conf.enabled` := false, `conf.deletionDate` (ISO-8601), `conf.pendingDeletionWindowInDays` |
//! | EnableKey / DisableKey | `conf.keyState` := `Enabled` / `Disabled`, `conf.enabled`; refused while pending deletion |
//!
//! A key with no recorded `keyState` counts as `Enabled` unless `conf.enabled` is false.

use serde_json::{json, Value};

use super::{rec_bool, rec_str, ConfigWorld, Doc, Params, WorldError, WorldResult};
use crate::domain::ConfigurationItem;

pub(crate) const KEY: &str = "AWS::KMS::Key";

pub(super) const APIS: &[&str] = &[
    "CancelKeyDeletion",
    "DescribeKey",
    "DisableKey",
    "DisableKeyRotation",
    "EnableKey",
    "EnableKeyRotation",
    "GetKeyRotationStatus",
    "ScheduleKeyDeletion",
];

pub(super) async fn call(w: &ConfigWorld, api: &str, p: Params<'_>) -> WorldResult<Value> {
    let given = p.str("KeyId")?;
    let id = key_id(w, given)?;
    let arn = default_arn(w, &id);
    let not_found = || WorldError::new("NotFoundException", format!("Key '{arn}' does not exist"));
    match api {
        "DescribeKey" => {
            let ci = w.current(KEY, &id).await?.ok_or_else(not_found)?;
            Ok(json!({ "KeyMetadata": metadata(&ci, &arn) }))
        }
        "GetKeyRotationStatus" => {
            let ci = w.current(KEY, &id).await?.ok_or_else(not_found)?;
            let conf = super::decoded(&ci.configuration);
            if state(&conf) == "PendingDeletion" {
                return Err(invalid_state(&key_arn(&ci, &arn), "is pending deletion."));
            }
            let enabled = rec_bool(
                ci.supplementary_configuration
                    .get("KeyRotationStatus")
                    .map(super::decoded)
                    .as_ref(),
            ) == Some(true);
            Ok(json!({ "KeyRotationEnabled": enabled }))
        }
        "EnableKeyRotation" | "DisableKeyRotation" => {
            let on = api == "EnableKeyRotation";
            p.opt_i64("RotationPeriodInDays")?;
            change(w, &id, &arn, |doc, arn| {
                let conf = doc.configuration.clone();
                match state(&conf).as_str() {
                    "Enabled" => {}
                    "PendingDeletion" => return Err(invalid_state(arn, "is pending deletion.")),
                    "Disabled" => return Err(invalid_state(arn, "is disabled.")),
                    other => return Err(invalid_state(arn, &format!("is {other}."))),
                }
                if rec_str(conf.get("keyManager")) == Some("AWS") {
                    return Err(WorldError::new(
                        "UnsupportedOperationException",
                        format!("{arn} is an AWS managed key; AWS manages its rotation."),
                    ));
                }
                let spec = rec_str(conf.get("keySpec"))
                    .or_else(|| rec_str(conf.get("customerMasterKeySpec")));
                if spec.is_some_and(|s| s != "SYMMETRIC_DEFAULT") {
                    return Err(WorldError::new(
                        "UnsupportedOperationException",
                        format!(
                            "{arn} key spec {} does not support automatic rotation.",
                            spec.unwrap_or_default()
                        ),
                    ));
                }
                if let Some(origin) = rec_str(conf.get("origin")).filter(|o| *o != "AWS_KMS") {
                    return Err(WorldError::new(
                        "UnsupportedOperationException",
                        format!("{arn} origin is {origin} which is not valid for this operation."),
                    ));
                }
                doc.set_supp("KeyRotationStatus", Value::Bool(on));
                Ok(json!({}))
            })
            .await
        }
        "CancelKeyDeletion" => {
            change(w, &id, &arn, |doc, arn| {
                if state(&doc.configuration) != "PendingDeletion" {
                    return Err(invalid_state(arn, "is not pending deletion."));
                }
                doc.set_conf("keyState", json!("Disabled"));
                doc.set_conf("enabled", json!(false));
                doc.set_conf("deletionDate", Value::Null);
                doc.set_conf("pendingDeletionWindowInDays", Value::Null);
                Ok(json!({ "KeyId": arn }))
            })
            .await
        }
        "ScheduleKeyDeletion" => {
            let days = p.opt_i64("PendingWindowInDays")?.unwrap_or(30);
            if !(7..=30).contains(&days) {
                return Err(WorldError::new(
                    "ValidationException",
                    format!("1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value between 7 and 30"),
                ));
            }
            change(w, &id, &arn, |doc, arn| {
                if state(&doc.configuration) == "PendingDeletion" {
                    return Err(invalid_state(arn, "is pending deletion."));
                }
                let date = crate::time::iso8601(crate::time::now() + days as f64 * 86_400.0);
                doc.set_conf("keyState", json!("PendingDeletion"));
                doc.set_conf("enabled", json!(false));
                doc.set_conf("deletionDate", json!(date));
                doc.set_conf("pendingDeletionWindowInDays", json!(days));
                Ok(json!({
                    "KeyId": arn,
                    "DeletionDate": date,
                    "KeyState": "PendingDeletion",
                    "PendingWindowInDays": days,
                }))
            })
            .await
        }
        "EnableKey" | "DisableKey" => {
            let on = api == "EnableKey";
            change(w, &id, &arn, |doc, arn| {
                if state(&doc.configuration) == "PendingDeletion" {
                    return Err(invalid_state(arn, "is pending deletion."));
                }
                doc.set_conf("keyState", json!(if on { "Enabled" } else { "Disabled" }));
                doc.set_conf("enabled", json!(on));
                Ok(json!({}))
            })
            .await
        }
        _ => Err(super::unsupported("kms", api)),
    }
}

/// The key id a `KeyId` parameter names.
fn key_id(w: &ConfigWorld, given: &str) -> WorldResult<String> {
    let given = given.trim();
    if given.starts_with("alias/") || super::arn_resource(given, "alias").is_some() {
        let arn = super::kms_key_arn(w.scope(), given);
        return Err(WorldError::new(
            "NotFoundException",
            format!("Alias {arn} is not found (remedy's world does not record KMS aliases; name the key by id or ARN)."),
        ));
    }
    if given.starts_with("arn:") {
        return super::arn_resource(given, "key")
            .map(str::to_string)
            .ok_or_else(|| WorldError::new("NotFoundException", format!("Invalid arn {given}")));
    }
    Ok(given.to_string())
}

fn default_arn(w: &ConfigWorld, id: &str) -> String {
    format!(
        "arn:aws:kms:{}:{}:key/{id}",
        w.scope().region,
        w.scope().account
    )
}

fn key_arn(ci: &ConfigurationItem, default: &str) -> String {
    rec_str(super::decoded(&ci.configuration).get("arn"))
        .or(ci.arn.as_deref())
        .unwrap_or(default)
        .to_string()
}

/// The recorded key state (`Enabled` unless recorded otherwise or `enabled` is false).
fn state(conf: &Value) -> String {
    match rec_str(conf.get("keyState")) {
        Some(s) => s.to_string(),
        None if rec_bool(conf.get("enabled")) == Some(false) => "Disabled".into(),
        None if conf.get("deletionDate").is_some_and(|d| !d.is_null()) => "PendingDeletion".into(),
        None => "Enabled".into(),
    }
}

fn invalid_state(arn: &str, what: &str) -> WorldError {
    WorldError::new("KMSInvalidStateException", format!("{arn} {what}"))
}

async fn change(
    w: &ConfigWorld,
    id: &str,
    arn: &str,
    mut f: impl FnMut(&mut Doc, &str) -> WorldResult<Value>,
) -> WorldResult<Value> {
    let item_arn = match w.current(KEY, id).await? {
        Some(ci) => key_arn(&ci, arn),
        None => arn.to_string(),
    };
    let not_found = || WorldError::new("NotFoundException", format!("Key '{arn}' does not exist"));
    Ok(w.update(KEY, id, false, not_found, |doc| f(doc, &item_arn))
        .await?
        .result)
}

const SPECIAL: &[(&str, &str)] = &[
    ("awsaccountId", "AWSAccountId"),
    ("awsAccountId", "AWSAccountId"),
    ("arn", "Arn"),
];

fn metadata(ci: &ConfigurationItem, default_arn: &str) -> Value {
    let conf = super::decoded(&ci.configuration);
    let mut m = super::pascal(&conf, SPECIAL);
    let obj = m.as_object_mut().expect("pascal keeps objects");
    obj.entry("KeyId").or_insert_with(|| json!(ci.resource_id));
    obj.entry("Arn")
        .or_insert_with(|| json!(key_arn(ci, default_arn)));
    obj.entry("AWSAccountId")
        .or_insert_with(|| json!(ci.account_id));
    obj.entry("KeyState").or_insert_with(|| json!(state(&conf)));
    obj.entry("Enabled")
        .or_insert_with(|| json!(state(&conf) == "Enabled"));
    m
}
