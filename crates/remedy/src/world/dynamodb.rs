//! Amazon DynamoDB tables (`AWS::DynamoDB::Table`, resourceId = the table name). `TableName` may
//! be the name or the table ARN. A table that is not recorded: `ResourceNotFoundException`
//! "Requested resource not found: Table: <name> not found" from DescribeTable / UpdateTable, and
//! `TableNotFoundException` "Table not found: <name>" from the continuous-backups APIs, as
//! DynamoDB answers.
//!
//! | API | Reads / writes (`conf.` = configuration, `supp.` = supplementaryConfiguration) |
//! |---|---|
//! | DescribeContinuousBackups | `supp.ContinuousBackupsDescription{continuousBackupsStatus, pointInTimeRecoveryDescription{pointInTimeRecoveryStatus, …}}` → boto3's `ContinuousBackupsDescription` (when not recorded: backups `ENABLED`, PITR `DISABLED`, a new table's defaults) |
//! | UpdateContinuousBackups | `PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled` → `…pointInTimeRecoveryStatus` `ENABLED`/`DISABLED` (and `recoveryPeriodInDays` when given, 1–35); answers the new description |
//! | DescribeTable | `conf.*` as boto3's `Table` (`ssedescription{status,ssetype,kmsmasterKeyArn}` → `SSEDescription{Status,SSEType,KMSMasterKeyArn}`, …) |
//! | UpdateTable | only `SSESpecification` is emulated: `Enabled: true` (SSEType `KMS`, the default) → `conf.ssedescription = {status: ENABLED, ssetype: KMS, kmsmasterKeyArn}` with `KMSMasterKeyId` as a key ARN (the AWS managed key `alias/aws/dynamodb` when none is given); `Enabled: false` → the AWS owned key (`ssedescription` removed). Any other update parameter fails with `UnsupportedOperation` rather than being silently ignored. The status is `ENABLED` at once (no `UPDATING` phase) |

use serde_json::{json, Map, Value};

use super::{rec_str, ConfigWorld, Params, WorldError, WorldResult};
use crate::domain::ConfigurationItem;

pub(crate) const TABLE: &str = "AWS::DynamoDB::Table";

pub(super) const APIS: &[&str] = &[
    "DescribeContinuousBackups",
    "DescribeTable",
    "UpdateContinuousBackups",
    "UpdateTable",
];

const BACKUPS: &str = "ContinuousBackupsDescription";

const SPECIAL: &[(&str, &str)] = &[
    ("ssedescription", "SSEDescription"),
    ("sseDescription", "SSEDescription"),
    ("ssetype", "SSEType"),
    ("sseType", "SSEType"),
    ("kmsmasterKeyArn", "KMSMasterKeyArn"),
    ("kmsMasterKeyArn", "KMSMasterKeyArn"),
];

pub(super) async fn call(w: &ConfigWorld, api: &str, p: Params<'_>) -> WorldResult<Value> {
    let given = p.str("TableName")?;
    let name = super::arn_resource(given, "table")
        .unwrap_or(given)
        .to_string();
    let resource_not_found = || {
        WorldError::new(
            "ResourceNotFoundException",
            format!("Requested resource not found: Table: {name} not found"),
        )
    };
    let table_not_found =
        || WorldError::new("TableNotFoundException", format!("Table not found: {name}"));
    match api {
        "DescribeTable" => {
            let ci = w
                .current(TABLE, &name)
                .await?
                .ok_or_else(resource_not_found)?;
            Ok(json!({ "Table": table_shape(w, &ci) }))
        }
        "DescribeContinuousBackups" => {
            let ci = w.current(TABLE, &name).await?.ok_or_else(table_not_found)?;
            let recorded = ci
                .supplementary_configuration
                .get(BACKUPS)
                .map(super::decoded);
            Ok(json!({ "ContinuousBackupsDescription": backups_shape(recorded.as_ref()) }))
        }
        "UpdateContinuousBackups" => {
            let spec = p.obj("PointInTimeRecoverySpecification")?;
            let enabled = spec.bool("PointInTimeRecoveryEnabled")?;
            let period = spec.opt_i64("RecoveryPeriodInDays")?;
            if let Some(d) = period {
                if !(1..=35).contains(&d) {
                    return Err(WorldError::new(
                        "ValidationException",
                        format!("1 validation error detected: Value '{d}' at 'pointInTimeRecoverySpecification.recoveryPeriodInDays' failed to satisfy constraint: Member must have value less than or equal to 35 and greater than or equal to 1"),
                    ));
                }
            }
            let updated = w
                .update(TABLE, &name, false, table_not_found, |doc| {
                    let mut desc = match doc.supp(BACKUPS) {
                        Some(Value::Object(m)) => m,
                        _ => Map::new(),
                    };
                    desc.insert("continuousBackupsStatus".into(), json!("ENABLED"));
                    let mut pitr = match desc.get("pointInTimeRecoveryDescription") {
                        Some(Value::Object(m)) => m.clone(),
                        _ => Map::new(),
                    };
                    pitr.insert(
                        "pointInTimeRecoveryStatus".into(),
                        json!(if enabled { "ENABLED" } else { "DISABLED" }),
                    );
                    if let Some(d) = period {
                        pitr.insert("recoveryPeriodInDays".into(), json!(d));
                    }
                    if !enabled {
                        pitr.remove("earliestRestorableDateTime");
                        pitr.remove("latestRestorableDateTime");
                    }
                    desc.insert("pointInTimeRecoveryDescription".into(), Value::Object(pitr));
                    doc.set_supp(BACKUPS, Value::Object(desc));
                    Ok(())
                })
                .await?;
            let recorded = updated
                .item
                .supplementary_configuration
                .get(BACKUPS)
                .map(super::decoded);
            Ok(json!({ "ContinuousBackupsDescription": backups_shape(recorded.as_ref()) }))
        }
        "UpdateTable" => {
            if let Some(other) = p
                .names()
                .find(|n| !matches!(*n, "TableName" | "SSESpecification"))
            {
                return Err(WorldError::new(
                    "UnsupportedOperation",
                    format!("remedy's world emulates UpdateTable's SSESpecification only; {other} is not emulated"),
                ));
            }
            let Some(sse) = p.opt_obj("SSESpecification")? else {
                return Err(WorldError::new(
                    "ValidationException",
                    "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required",
                ));
            };
            let enabled = sse.opt_bool("Enabled")?;
            let sse_type = sse.opt_str("SSEType")?;
            let key = sse.opt_str("KMSMasterKeyId")?;
            if let Some(t) = sse_type.filter(|t| *t != "KMS") {
                return Err(WorldError::new(
                    "ValidationException",
                    format!("One or more parameter values were invalid: SSEType {t} is not supported for UpdateTable; use KMS (or Enabled: false for an AWS owned key)"),
                ));
            }
            let kms = enabled.unwrap_or(sse_type.is_some() || key.is_some());
            if !kms && key.is_some() {
                return Err(WorldError::new(
                    "ValidationException",
                    "One or more parameter values were invalid: KMSMasterKeyId can only be given when SSE is enabled",
                ));
            }
            let description = if kms {
                let arn = super::kms_key_arn(w.scope(), key.unwrap_or("alias/aws/dynamodb"));
                json!({"status": "ENABLED", "ssetype": "KMS", "kmsmasterKeyArn": arn})
            } else {
                Value::Null
            };
            let updated = w
                .update(TABLE, &name, false, resource_not_found, |doc| {
                    doc.set_conf("ssedescription", description.clone());
                    Ok(())
                })
                .await?;
            Ok(json!({ "TableDescription": table_shape(w, &updated.item) }))
        }
        _ => Err(super::unsupported("dynamodb", api)),
    }
}

fn backups_shape(recorded: Option<&Value>) -> Value {
    let mut out = match recorded.map(|v| super::pascal(v, &[])) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    out.entry("ContinuousBackupsStatus")
        .or_insert_with(|| json!("ENABLED"));
    let pitr = out
        .entry("PointInTimeRecoveryDescription")
        .or_insert_with(|| json!({}));
    if let Some(m) = pitr.as_object_mut() {
        m.entry("PointInTimeRecoveryStatus")
            .or_insert_with(|| json!("DISABLED"));
    }
    Value::Object(out)
}

/// A recorded table as boto3's `TableDescription`.
pub(crate) fn table_shape(w: &ConfigWorld, ci: &ConfigurationItem) -> Value {
    let conf = super::decoded(&ci.configuration);
    let mut t = match super::pascal(&conf, SPECIAL) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let name = rec_str(conf.get("tableName"))
        .unwrap_or(&ci.resource_id)
        .to_string();
    t.entry("TableName").or_insert_with(|| json!(name));
    t.entry("TableArn").or_insert_with(|| {
        json!(ci.arn.clone().unwrap_or_else(|| format!(
            "arn:aws:dynamodb:{}:{}:table/{name}",
            w.scope().region,
            w.scope().account
        )))
    });
    t.entry("TableStatus").or_insert_with(|| json!("ACTIVE"));
    Value::Object(t)
}
