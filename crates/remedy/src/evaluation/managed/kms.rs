//! KMS key rules (`AWS::KMS::Key`), reading the spec §6.4 shape.

use super::{
    as_bool, as_str, compliant_because, configuration, non_compliant, not_applicable, out_of_scope,
    param_csv, supplementary, ManagedEvaluator, KMS_KEY,
};
use crate::domain::ConfigurationItem;
use crate::evaluation::verdict::{Parameters, ResourceLookup, Verdict};

pub(super) static EVALUATORS: &[ManagedEvaluator] = &[
    ManagedEvaluator {
        identifier: "CMK_BACKING_KEY_ROTATION_ENABLED",
        resource_types: &[KMS_KEY],
        related_types: &[],
        evaluate: backing_key_rotation_enabled,
    },
    ManagedEvaluator {
        identifier: "KMS_CMK_NOT_SCHEDULED_FOR_DELETION",
        resource_types: &[KMS_KEY],
        related_types: &[],
        evaluate: not_scheduled_for_deletion,
    },
];

fn backing_key_rotation_enabled(
    _p: &Parameters,
    ci: &ConfigurationItem,
    _l: &dyn ResourceLookup,
) -> Verdict {
    if let Some(v) = out_of_scope(ci, &[KMS_KEY]) {
        return v;
    }
    let conf = configuration(ci);
    let field = |name: &str| as_str(conf.get(name));
    if field("keyManager") != Some("CUSTOMER") {
        return not_applicable("Only customer managed keys are checked for rotation.");
    }
    let spec = field("keySpec").or_else(|| field("customerMasterKeySpec"));
    if spec.is_some_and(|s| s != "SYMMETRIC_DEFAULT") {
        return not_applicable("Only symmetric encryption keys support automatic rotation.");
    }
    if field("origin").is_some_and(|o| o != "AWS_KMS") {
        return not_applicable(
            "Keys with imported or custom key store material cannot rotate automatically.",
        );
    }
    if field("keyState").is_some_and(|s| s != "Enabled") {
        return not_applicable("The key is not enabled.");
    }
    match as_bool(supplementary(ci, "KeyRotationStatus").as_ref()) {
        Some(true) => Verdict::compliant(),
        Some(false) => non_compliant("Automatic key rotation is not enabled for the key."),
        None => non_compliant("The key's rotation status (KeyRotationStatus) is not recorded."),
    }
}

fn not_scheduled_for_deletion(
    p: &Parameters,
    ci: &ConfigurationItem,
    _l: &dyn ResourceLookup,
) -> Verdict {
    if let Some(v) = out_of_scope(ci, &[KMS_KEY]) {
        return v;
    }
    let conf = configuration(ci);
    let ids = param_csv(p, "kmsKeyIds");
    if !ids.is_empty() {
        let names: Vec<&str> = [
            Some(ci.resource_id.as_str()),
            as_str(conf.get("keyId")),
            as_str(conf.get("arn")),
            ci.arn.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !ids.iter().any(|id| names.contains(&id.as_str())) {
            return not_applicable("The key is not listed in kmsKeyIds.");
        }
    }
    let state = as_str(conf.get("keyState"));
    if matches!(state, Some("PendingDeletion" | "PendingReplicaDeletion")) {
        return non_compliant(match as_str(conf.get("deletionDate")) {
            Some(date) => format!("The key is scheduled for deletion on {date}."),
            None => "The key is scheduled for deletion.".to_string(),
        });
    }
    if conf.get("deletionDate").is_some_and(|d| !d.is_null()) {
        return non_compliant("The key has a deletion date set.");
    }
    if state.is_none() {
        return compliant_because("The key has no recorded key state and no deletion date.");
    }
    Verdict::compliant()
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::super::test_support::*;

    const ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

    /// The spec §6.4 key with `conf` merged into its configuration.
    fn key(conf: Value, rotation: Option<&str>) -> crate::domain::ConfigurationItem {
        let mut c = json!({"awsaccountId": "111122223333", "keyId": ID, "enabled": true,
            "arn": format!("arn:aws:kms:us-east-1:111122223333:key/{ID}"),
            "keyUsage": "ENCRYPT_DECRYPT", "keyState": "Enabled", "origin": "AWS_KMS", "keyManager": "CUSTOMER",
            "keySpec": "SYMMETRIC_DEFAULT", "customerMasterKeySpec": "SYMMETRIC_DEFAULT", "multiRegion": false});
        for (k, v) in conf.as_object().unwrap() {
            c[k] = v.clone();
        }
        let mut supp = json!({});
        if let Some(r) = rotation {
            supp["KeyRotationStatus"] = json!(r);
        }
        ci(json!({"resourceType": "AWS::KMS::Key", "resourceId": ID,
            "arn": format!("arn:aws:kms:us-east-1:111122223333:key/{ID}"),
            "configuration": c.to_string(), "supplementaryConfiguration": supp}))
    }

    #[test]
    fn rotation() {
        let r = "CMK_BACKING_KEY_ROTATION_ENABLED";
        assert_verdict(
            &run(r, json!({}), &key(json!({}), Some("false")), &[]),
            "NON_COMPLIANT",
        );
        assert_verdict(
            &run(r, json!({}), &key(json!({}), Some("true")), &[]),
            "COMPLIANT",
        );
        assert_verdict(
            &run(r, json!({}), &key(json!({}), None), &[]),
            "NON_COMPLIANT",
        );
        // Notification form: a real boolean.
        let mut k = key(json!({}), None);
        k.supplementary_configuration
            .insert("KeyRotationStatus".into(), json!(true));
        assert_verdict(&run(r, json!({}), &k, &[]), "COMPLIANT");
        // Keys the rule does not judge.
        for conf in [
            json!({"keyManager": "AWS"}),
            json!({"keySpec": "RSA_2048", "customerMasterKeySpec": "RSA_2048"}),
            json!({"origin": "EXTERNAL"}),
            json!({"keyState": "PendingDeletion"}),
            json!({"keyState": "Disabled"}),
        ] {
            assert_verdict(
                &run(r, json!({}), &key(conf, Some("false")), &[]),
                "NOT_APPLICABLE",
            );
        }
    }

    #[test]
    fn scheduled_for_deletion() {
        let r = "KMS_CMK_NOT_SCHEDULED_FOR_DELETION";
        assert_verdict(&run(r, json!({}), &key(json!({}), None), &[]), "COMPLIANT");
        assert_verdict(
            &run(
                r,
                json!({}),
                &key(json!({"keyState": "Disabled"}), None),
                &[],
            ),
            "COMPLIANT",
        );
        let pending = key(
            json!({"keyState": "PendingDeletion", "deletionDate": "2024-02-01T00:00:00Z", "pendingDeletionWindowInDays": 7}),
            None,
        );
        let v = run(r, json!({}), &pending, &[]);
        assert_verdict(&v, "NON_COMPLIANT");
        assert!(v.annotation.unwrap().contains("2024-02-01"));
        // kmsKeyIds limits the keys checked (by id or ARN).
        assert_verdict(
            &run(r, json!({"kmsKeyIds": "other-key"}), &pending, &[]),
            "NOT_APPLICABLE",
        );
        assert_verdict(
            &run(
                r,
                json!({"kmsKeyIds": format!("other-key, {ID}")}),
                &pending,
                &[],
            ),
            "NON_COMPLIANT",
        );
        let arn = format!("arn:aws:kms:us-east-1:111122223333:key/{ID}");
        assert_verdict(
            &run(r, json!({"kmsKeyIds": arn}), &pending, &[]),
            "NON_COMPLIANT",
        );
    }
}
