//! Account-level rules (`AWS::::Account`): they judge one recorded account item whose
//! resourceId is the account id (shape in the parent module).

use serde_json::Value;

use super::cloudtrail::trail_summary;
use super::s3::PublicAccessBlock;
use super::{
    as_bool, as_i64, configuration, non_compliant, out_of_scope, param_bool, param_str,
    supplementary, ManagedEvaluator, ACCOUNT, TRAIL,
};
use crate::domain::ConfigurationItem;
use crate::evaluation::verdict::{Parameters, ResourceLookup, Verdict};

pub(super) static EVALUATORS: &[ManagedEvaluator] = &[
    ManagedEvaluator {
        identifier: "S3_ACCOUNT_LEVEL_PUBLIC_ACCESS_BLOCKS_PERIODIC",
        resource_types: &[ACCOUNT],
        related_types: &[],
        evaluate: s3_account_level_public_access_blocks,
    },
    ManagedEvaluator {
        identifier: "IAM_PASSWORD_POLICY",
        resource_types: &[ACCOUNT],
        related_types: &[],
        evaluate: iam_password_policy,
    },
    ManagedEvaluator {
        identifier: "MULTI_REGION_CLOUD_TRAIL_ENABLED",
        resource_types: &[ACCOUNT],
        related_types: &[TRAIL],
        evaluate: multi_region_cloud_trail_enabled,
    },
    ManagedEvaluator {
        identifier: "EC2_EBS_ENCRYPTION_BY_DEFAULT",
        resource_types: &[ACCOUNT],
        related_types: &[],
        evaluate: ebs_encryption_by_default,
    },
];

fn s3_account_level_public_access_blocks(
    p: &Parameters,
    ci: &ConfigurationItem,
    _l: &dyn ResourceLookup,
) -> Verdict {
    if let Some(v) = out_of_scope(ci, &[ACCOUNT]) {
        return v;
    }
    let recorded = supplementary(ci, "PublicAccessBlockConfiguration");
    let block = PublicAccessBlock::from_value(recorded.as_ref());
    let params = [
        "BlockPublicAcls",
        "IgnorePublicAcls",
        "BlockPublicPolicy",
        "RestrictPublicBuckets",
    ];
    let differ: Vec<String> = block
        .flags()
        .into_iter()
        .zip(params)
        .filter_map(|((field, actual), param)| {
            let wanted = param_bool(p, param).unwrap_or(true);
            (wanted != actual).then(|| format!("{field} is {actual}, {param} wants {wanted}"))
        })
        .collect();
    if differ.is_empty() {
        Verdict::compliant()
    } else if recorded.is_none() {
        non_compliant("The account has no S3 Block Public Access configuration.")
    } else {
        non_compliant(format!(
            "Account-level S3 Block Public Access differs from the rule: {}.",
            differ.join("; ")
        ))
    }
}

/// `Require*` parameters require the setting only when exactly `true` (AWS: only the lowercase
/// value counts).
fn strictly_true(p: &Parameters, name: &str) -> bool {
    match p.get(name) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.trim() == "true",
        _ => false,
    }
}

fn iam_password_policy(p: &Parameters, ci: &ConfigurationItem, _l: &dyn ResourceLookup) -> Verdict {
    if let Some(v) = out_of_scope(ci, &[ACCOUNT]) {
        return v;
    }
    let conf = configuration(ci);
    let Some(policy) = conf.get("passwordPolicy").filter(|v| v.is_object()) else {
        return non_compliant(
            "The account has no IAM password policy (the IAM default policy does not comply).",
        );
    };
    let mut weak = Vec::new();
    for (param, field) in [
        ("RequireUppercaseCharacters", "requireUppercaseCharacters"),
        ("RequireLowercaseCharacters", "requireLowercaseCharacters"),
        ("RequireSymbols", "requireSymbols"),
        ("RequireNumbers", "requireNumbers"),
    ] {
        if strictly_true(p, param) && as_bool(policy.get(field)) != Some(true) {
            weak.push(format!("{field} is not true"));
        }
    }
    let number = |field: &str| as_i64(policy.get(field));
    let param_num = |name: &str| param_str(p, name).and_then(|s| s.parse::<i64>().ok());
    if let Some(min) = param_num("MinimumPasswordLength") {
        if number("minimumPasswordLength").unwrap_or(0) < min {
            weak.push(format!("minimumPasswordLength is below {min}"));
        }
    }
    if let Some(reuse) = param_num("PasswordReusePrevention") {
        if number("passwordReusePrevention").unwrap_or(0) < reuse {
            weak.push(format!("passwordReusePrevention is below {reuse}"));
        }
    }
    if let Some(max) = param_num("MaxPasswordAge") {
        match number("maxPasswordAge").filter(|n| *n > 0) {
            Some(age) if age <= max => {}
            Some(_) => weak.push(format!("maxPasswordAge is above {max}")),
            None => weak.push("passwords never expire".to_string()),
        }
    }
    if weak.is_empty() {
        Verdict::compliant()
    } else {
        non_compliant(format!(
            "The IAM password policy is weaker than required: {}.",
            weak.join(", ")
        ))
    }
}

fn multi_region_cloud_trail_enabled(
    p: &Parameters,
    ci: &ConfigurationItem,
    lookup: &dyn ResourceLookup,
) -> Verdict {
    if let Some(v) = out_of_scope(ci, &[ACCOUNT]) {
        return v;
    }
    let want_bucket = param_str(p, "s3BucketName");
    let want_topic = param_str(p, "snsTopicArn");
    let want_group = param_str(p, "cloudWatchLogsLogGroupArn");
    let want_management = param_bool(p, "includeManagementEvents").unwrap_or(true);
    let want_rw = param_str(p, "readWriteType");
    let trails: Vec<_> = lookup
        .of_type(TRAIL)
        .iter()
        .filter(|t| !crate::domain::is_deleted_status(&t.status))
        .map(trail_summary)
        .collect();
    let matches = |want: &Option<String>, have: &Option<String>| {
        want.as_ref().is_none_or(|w| have.as_ref() == Some(w))
    };
    let good = trails.iter().any(|t| {
        t.multi_region
            && t.logging
            && matches(&want_bucket, &t.s3_bucket_name)
            && matches(&want_topic, &t.sns_topic_arn)
            && matches(&want_group, &t.cloud_watch_logs_log_group_arn)
            && t.selectors.iter().any(|s| {
                s.include_management_events == want_management
                    && !s.excludes_sources
                    && want_rw
                        .as_ref()
                        .is_none_or(|rw| s.read_write_type.eq_ignore_ascii_case(rw))
            })
    });
    if good {
        return Verdict::compliant();
    }
    if trails.is_empty() {
        return non_compliant("The account has no CloudTrail trail.");
    }
    let multi: Vec<_> = trails.iter().filter(|t| t.multi_region).collect();
    if multi.is_empty() {
        return non_compliant("No CloudTrail trail is multi-region.");
    }
    if !multi.iter().any(|t| t.logging) {
        return non_compliant(format!(
            "No multi-region trail is logging ({}).",
            multi
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    non_compliant("No logging multi-region trail records management events with the settings the rule's parameters require.")
}

fn ebs_encryption_by_default(
    _p: &Parameters,
    ci: &ConfigurationItem,
    _l: &dyn ResourceLookup,
) -> Verdict {
    if let Some(v) = out_of_scope(ci, &[ACCOUNT]) {
        return v;
    }
    match as_bool(configuration(ci).get("ebsEncryptionByDefault")) {
        Some(true) => Verdict::compliant(),
        Some(false) => non_compliant("EBS encryption by default is disabled in this region."),
        None => non_compliant("EBS encryption by default is not recorded as enabled (configuration.ebsEncryptionByDefault)."),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::super::cloudtrail::tests::trail;
    use super::super::test_support::*;

    fn account(conf: Value, supp: Value) -> crate::domain::ConfigurationItem {
        ci(
            json!({"resourceType": "AWS::::Account", "resourceId": "111122223333", "accountId": "111122223333",
            "awsRegion": "us-east-1", "configuration": conf, "supplementaryConfiguration": supp}),
        )
    }

    #[test]
    fn s3_account_public_access_blocks() {
        let r = "S3_ACCOUNT_LEVEL_PUBLIC_ACCESS_BLOCKS_PERIODIC";
        let all = json!({"blockPublicAcls": true, "ignorePublicAcls": true, "blockPublicPolicy": true, "restrictPublicBuckets": true});
        let on = account(json!({}), json!({"PublicAccessBlockConfiguration": all}));
        assert_verdict(&run(r, json!({}), &on, &[]), "COMPLIANT");
        let none = account(json!({}), json!({}));
        assert_verdict(&run(r, json!({}), &none, &[]), "NON_COMPLIANT");
        let partial = account(
            json!({}),
            json!({"PublicAccessBlockConfiguration":
            json!({"blockPublicAcls": true, "ignorePublicAcls": true, "blockPublicPolicy": true, "restrictPublicBuckets": false}).to_string()}),
        );
        let v = run(r, json!({}), &partial, &[]);
        assert_verdict(&v, "NON_COMPLIANT");
        assert!(v.annotation.unwrap().contains("restrictPublicBuckets"));
        // Parameters say what the flags must be; "False" means the flag must be off.
        assert_verdict(
            &run(r, json!({"RestrictPublicBuckets": "False"}), &partial, &[]),
            "COMPLIANT",
        );
        assert_verdict(
            &run(r, json!({"RestrictPublicBuckets": "false"}), &on, &[]),
            "NON_COMPLIANT",
        );
    }

    fn policy(overrides: Value) -> Value {
        let mut p = json!({"minimumPasswordLength": 14, "requireSymbols": true, "requireNumbers": true,
            "requireUppercaseCharacters": true, "requireLowercaseCharacters": true,
            "allowUsersToChangePassword": true, "expirePasswords": true, "maxPasswordAge": 90,
            "passwordReusePrevention": 24, "hardExpiry": false});
        for (k, v) in overrides.as_object().unwrap() {
            p[k] = v.clone();
        }
        json!({"passwordPolicy": p})
    }

    #[test]
    fn password_policy() {
        let r = "IAM_PASSWORD_POLICY";
        assert_verdict(
            &run(r, json!({}), &account(policy(json!({})), json!({})), &[]),
            "COMPLIANT",
        );
        assert_verdict(
            &run(
                r,
                json!({}),
                &account(json!({"passwordPolicy": null}), json!({})),
                &[],
            ),
            "NON_COMPLIANT",
        );
        assert_verdict(
            &run(r, json!({}), &account(json!({}), json!({})), &[]),
            "NON_COMPLIANT",
        );
        for weaker in [
            json!({"minimumPasswordLength": 8}),
            json!({"requireSymbols": false}),
            json!({"requireLowercaseCharacters": false}),
            json!({"passwordReusePrevention": 5}),
            json!({"maxPasswordAge": 365}),
            json!({"maxPasswordAge": null, "expirePasswords": false}),
        ] {
            let v = run(
                r,
                json!({}),
                &account(policy(weaker.clone()), json!({})),
                &[],
            );
            assert_verdict(&v, "NON_COMPLIANT");
        }
        // Parameters relax or tighten the checks.
        let short = account(
            policy(json!({"minimumPasswordLength": 8, "requireSymbols": false})),
            json!({}),
        );
        assert_verdict(
            &run(
                r,
                json!({"MinimumPasswordLength": "8", "RequireSymbols": "false"}),
                &short,
                &[],
            ),
            "COMPLIANT",
        );
        // Only lowercase "true" requires a setting (AWS's documented quirk).
        assert_verdict(
            &run(
                r,
                json!({"MinimumPasswordLength": "8", "RequireSymbols": "True"}),
                &short,
                &[],
            ),
            "COMPLIANT",
        );
        assert_verdict(
            &run(
                r,
                json!({"MinimumPasswordLength": 20}),
                &account(policy(json!({})), json!({})),
                &[],
            ),
            "NON_COMPLIANT",
        );
    }

    #[test]
    fn multi_region_trail() {
        let r = "MULTI_REGION_CLOUD_TRAIL_ENABLED";
        let acct = account(json!({}), json!({}));
        let logging = json!({"TrailStatus": {"isLogging": true}});
        let good = trail("management-events", json!({}), logging.clone());
        assert_verdict(
            &run(r, json!({}), &acct, std::slice::from_ref(&good)),
            "COMPLIANT",
        );
        assert_verdict(&run(r, json!({}), &acct, &[]), "NON_COMPLIANT");
        // Not logging (explicitly, or no status recorded), or single-region.
        let stopped = trail("t", json!({}), json!({"TrailStatus": {"isLogging": false}}));
        assert_verdict(&run(r, json!({}), &acct, &[stopped]), "NON_COMPLIANT");
        assert_verdict(
            &run(r, json!({}), &acct, &[trail("t", json!({}), json!({}))]),
            "NON_COMPLIANT",
        );
        let single = trail("t", json!({"isMultiRegionTrail": false}), logging.clone());
        assert_verdict(
            &run(r, json!({}), &acct, std::slice::from_ref(&single)),
            "NON_COMPLIANT",
        );
        assert_verdict(
            &run(r, json!({}), &acct, &[single, good.clone()]),
            "COMPLIANT",
        );
        // The LoggingStatus spelling is accepted too.
        let alt = trail(
            "t",
            json!({}),
            json!({"LoggingStatus": {"isLogging": "true"}}),
        );
        assert_verdict(&run(r, json!({}), &acct, &[alt]), "COMPLIANT");
        // Event selectors: management events must be recorded, with no excluded sources.
        let no_mgmt = trail(
            "t",
            json!({}),
            json!({"TrailStatus": {"isLogging": true},
            "EventSelectors": {"eventSelectors": [{"readWriteType": "All", "includeManagementEvents": false}]}}),
        );
        assert_verdict(&run(r, json!({}), &acct, &[no_mgmt]), "NON_COMPLIANT");
        let excluded = trail(
            "t",
            json!({}),
            json!({"TrailStatus": {"isLogging": true},
            "EventSelectors": {"eventSelectors": [{"readWriteType": "All", "includeManagementEvents": true,
                "excludeManagementEventSources": ["kms.amazonaws.com"]}]}}),
        );
        assert_verdict(&run(r, json!({}), &acct, &[excluded]), "NON_COMPLIANT");
        // Optional parameters must match.
        assert_verdict(
            &run(
                r,
                json!({"s3BucketName": "ct-logs-111122223333"}),
                &acct,
                std::slice::from_ref(&good),
            ),
            "COMPLIANT",
        );
        assert_verdict(
            &run(
                r,
                json!({"s3BucketName": "elsewhere"}),
                &acct,
                std::slice::from_ref(&good),
            ),
            "NON_COMPLIANT",
        );
        assert_verdict(
            &run(
                r,
                json!({"readWriteType": "All"}),
                &acct,
                std::slice::from_ref(&good),
            ),
            "COMPLIANT",
        );
        assert_verdict(
            &run(
                r,
                json!({"readWriteType": "ReadOnly"}),
                &acct,
                std::slice::from_ref(&good),
            ),
            "NON_COMPLIANT",
        );
        assert_verdict(
            &run(
                r,
                json!({"snsTopicArn": "arn:aws:sns:us-east-1:111122223333:t"}),
                &acct,
                &[good],
            ),
            "NON_COMPLIANT",
        );
        // Deleted trails do not count.
        let mut gone = trail("t", json!({}), logging);
        gone.status = "ResourceDeleted".into();
        assert_verdict(&run(r, json!({}), &acct, &[gone]), "NON_COMPLIANT");
    }

    #[test]
    fn ebs_default_encryption() {
        let r = "EC2_EBS_ENCRYPTION_BY_DEFAULT";
        assert_verdict(
            &run(
                r,
                json!({}),
                &account(json!({"ebsEncryptionByDefault": true}), json!({})),
                &[],
            ),
            "COMPLIANT",
        );
        assert_verdict(
            &run(
                r,
                json!({}),
                &account(json!({"ebsEncryptionByDefault": false}), json!({})),
                &[],
            ),
            "NON_COMPLIANT",
        );
        assert_verdict(
            &run(r, json!({}), &account(json!({}), json!({})), &[]),
            "NON_COMPLIANT",
        );
    }

    #[test]
    fn account_rules_do_not_judge_resources() {
        let bucket =
            ci(json!({"resourceType": "AWS::S3::Bucket", "resourceId": "b", "configuration": {}}));
        for e in super::EVALUATORS {
            assert_verdict(
                &run(e.identifier, json!({}), &bucket, &[]),
                "NOT_APPLICABLE",
            );
        }
    }
}
