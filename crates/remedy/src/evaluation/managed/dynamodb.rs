//! DynamoDB table rules (`AWS::DynamoDB::Table`), reading the spec §6.7 shape.

use super::{
    as_str, configuration, non_compliant, out_of_scope, param_csv, supplementary, ManagedEvaluator,
    DYNAMODB_TABLE,
};
use crate::domain::ConfigurationItem;
use crate::evaluation::verdict::{Parameters, ResourceLookup, Verdict};

pub(super) static EVALUATORS: &[ManagedEvaluator] = &[
    ManagedEvaluator {
        identifier: "DYNAMODB_PITR_ENABLED",
        resource_types: &[DYNAMODB_TABLE],
        related_types: &[],
        evaluate: pitr_enabled,
    },
    ManagedEvaluator {
        identifier: "DYNAMODB_TABLE_ENCRYPTED_KMS",
        resource_types: &[DYNAMODB_TABLE],
        related_types: &[],
        evaluate: encrypted_kms,
    },
];

fn pitr_enabled(_p: &Parameters, ci: &ConfigurationItem, _l: &dyn ResourceLookup) -> Verdict {
    if let Some(v) = out_of_scope(ci, &[DYNAMODB_TABLE]) {
        return v;
    }
    let backups = supplementary(ci, "ContinuousBackupsDescription");
    let status = as_str(
        backups
            .as_ref()
            .and_then(|b| b.get("pointInTimeRecoveryDescription"))
            .and_then(|d| d.get("pointInTimeRecoveryStatus")),
    );
    match status {
        Some(s) if s.eq_ignore_ascii_case("ENABLED") => Verdict::compliant(),
        Some(s) => non_compliant(format!(
            "Point-in-time recovery is {s} for the table, not ENABLED."
        )),
        None => non_compliant(
            "Point-in-time recovery is not enabled for the table (no status recorded).",
        ),
    }
}

fn encrypted_kms(p: &Parameters, ci: &ConfigurationItem, _l: &dyn ResourceLookup) -> Verdict {
    if let Some(v) = out_of_scope(ci, &[DYNAMODB_TABLE]) {
        return v;
    }
    let conf = configuration(ci);
    let Some(sse) = conf.get("ssedescription").filter(|v| v.is_object()) else {
        return non_compliant(
            "The table is encrypted with an AWS owned key, not a KMS key (no ssedescription).",
        );
    };
    let status = as_str(sse.get("status")).unwrap_or("ENABLED");
    if !(status.eq_ignore_ascii_case("ENABLED") || status.eq_ignore_ascii_case("UPDATING")) {
        return non_compliant(format!("KMS encryption of the table is {status}."));
    }
    if !as_str(sse.get("ssetype")).is_some_and(|t| t.eq_ignore_ascii_case("KMS")) {
        return non_compliant("The table is not encrypted with a KMS key (ssetype is not KMS).");
    }
    let allowed = param_csv(p, "kmsKeyArns");
    if !allowed.is_empty() {
        let key = as_str(sse.get("kmsmasterKeyArn"));
        if !key.is_some_and(|k| allowed.iter().any(|a| a == k)) {
            return non_compliant(format!(
                "The table's KMS key {} is not one of kmsKeyArns.",
                key.unwrap_or("(unknown)")
            ));
        }
    }
    Verdict::compliant()
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::super::test_support::*;

    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    /// The spec §6.7 table with its `ssedescription` and PITR status replaced.
    fn table(sse: Value, pitr: Option<&str>) -> crate::domain::ConfigurationItem {
        let mut supp = json!({});
        if let Some(s) = pitr {
            supp["ContinuousBackupsDescription"] = json!({"continuousBackupsStatus": "ENABLED",
                "pointInTimeRecoveryDescription": {"pointInTimeRecoveryStatus": s}})
            .to_string()
            .into();
        }
        ci(
            json!({"resourceType": "AWS::DynamoDB::Table", "resourceId": "orders", "resourceName": "orders",
            "arn": "arn:aws:dynamodb:us-east-1:111122223333:table/orders",
            "configuration": json!({"tableName": "orders", "tableArn": "arn:aws:dynamodb:us-east-1:111122223333:table/orders",
                "tableStatus": "ACTIVE", "keySchema": [{"attributeName": "pk", "keyType": "HASH"}],
                "attributeDefinitions": [{"attributeName": "pk", "attributeType": "S"}],
                "billingModeSummary": {"billingMode": "PAY_PER_REQUEST"}, "ssedescription": sse}).to_string(),
            "supplementaryConfiguration": supp}),
        )
    }

    #[test]
    fn pitr() {
        let r = "DYNAMODB_PITR_ENABLED";
        assert_verdict(
            &run(r, json!({}), &table(json!(null), Some("DISABLED")), &[]),
            "NON_COMPLIANT",
        );
        assert_verdict(
            &run(r, json!({}), &table(json!(null), None), &[]),
            "NON_COMPLIANT",
        );
        assert_verdict(
            &run(r, json!({}), &table(json!(null), Some("ENABLED")), &[]),
            "COMPLIANT",
        );
    }

    #[test]
    fn kms_encryption() {
        let r = "DYNAMODB_TABLE_ENCRYPTED_KMS";
        let kms = json!({"status": "ENABLED", "ssetype": "KMS", "kmsmasterKeyArn": KEY});
        assert_verdict(
            &run(r, json!({}), &table(kms.clone(), None), &[]),
            "COMPLIANT",
        );
        assert_verdict(
            &run(r, json!({}), &table(json!(null), None), &[]),
            "NON_COMPLIANT",
        );
        assert_verdict(
            &run(
                r,
                json!({}),
                &table(json!({"status": "DISABLED", "ssetype": "KMS"}), None),
                &[],
            ),
            "NON_COMPLIANT",
        );
        assert_verdict(
            &run(
                r,
                json!({}),
                &table(json!({"status": "ENABLED", "ssetype": "AES256"}), None),
                &[],
            ),
            "NON_COMPLIANT",
        );
        // kmsKeyArns restricts which keys count.
        assert_verdict(
            &run(
                r,
                json!({"kmsKeyArns": format!("arn:aws:kms:us-east-1:111122223333:key/other,{KEY}")}),
                &table(kms.clone(), None),
                &[],
            ),
            "COMPLIANT",
        );
        let v = run(
            r,
            json!({"kmsKeyArns": "arn:aws:kms:us-east-1:111122223333:key/other"}),
            &table(kms, None),
            &[],
        );
        assert_verdict(&v, "NON_COMPLIANT");
        assert!(v.annotation.unwrap().contains("kmsKeyArns"));
    }
}
