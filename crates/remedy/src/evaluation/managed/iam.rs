//! IAM user rules (`AWS::IAM::User`). The credential-usage data IAM_USER_UNUSED_CREDENTIALS_CHECK
//! needs is read from `supplementaryConfiguration.CredentialReport` (see the parent module).

use serde_json::Value;

use super::{
    array, as_bool, as_str, as_time, configuration, non_compliant, not_applicable, out_of_scope,
    param_i64, supplementary, ManagedEvaluator, IAM_USER,
};
use crate::domain::ConfigurationItem;
use crate::evaluation::verdict::{Parameters, ResourceLookup, Verdict};

pub(super) static EVALUATORS: &[ManagedEvaluator] = &[
    ManagedEvaluator {
        identifier: "IAM_USER_UNUSED_CREDENTIALS_CHECK",
        resource_types: &[IAM_USER],
        related_types: &[],
        evaluate: unused_credentials_check,
    },
    ManagedEvaluator {
        identifier: "IAM_USER_NO_POLICIES_CHECK",
        resource_types: &[IAM_USER],
        related_types: &[],
        evaluate: no_policies_check,
    },
];

const DAY: f64 = 86_400.0;

fn unused_credentials_check(
    p: &Parameters,
    ci: &ConfigurationItem,
    _l: &dyn ResourceLookup,
) -> Verdict {
    unused_credentials_at(p, ci, crate::time::now())
}

/// The rule at a given evaluation time (epoch seconds).
fn unused_credentials_at(p: &Parameters, ci: &ConfigurationItem, now: f64) -> Verdict {
    if let Some(v) = out_of_scope(ci, &[IAM_USER]) {
        return v;
    }
    let Some(report) = supplementary(ci, "CredentialReport") else {
        return not_applicable(
            "No credential usage recorded (supplementaryConfiguration.CredentialReport).",
        );
    };
    let max_days = param_i64(p, "maxCredentialUsageAge").unwrap_or(90).max(0);
    let user_created = as_time(configuration(ci).get("createDate"));
    let idle_days = |last_used: Option<&Value>, created: Option<&Value>| -> Option<f64> {
        let since = as_time(last_used)
            .or_else(|| as_time(created))
            .or(user_created)?;
        Some(((now - since) / DAY).max(0.0))
    };
    let too_old = |days: Option<f64>| days.is_none_or(|d| d > max_days as f64);
    let describe = |days: Option<f64>| match days {
        Some(d) => format!("{} days", d.floor() as i64),
        None => "an unknown time".to_string(),
    };

    let password_enabled = as_bool(report.get("passwordEnabled")).unwrap_or_else(|| {
        report
            .get("passwordCreateDate")
            .is_some_and(|v| !v.is_null())
    });
    if password_enabled {
        let days = idle_days(
            report.get("passwordLastUsed"),
            report.get("passwordCreateDate"),
        );
        if too_old(days) {
            return non_compliant(format!(
                "The user's password has not been used for {} (maxCredentialUsageAge is {max_days}).",
                describe(days)
            ));
        }
    }
    for key in array(report.get("accessKeys")) {
        let active = as_str(key.get("status")).is_none_or(|s| s.eq_ignore_ascii_case("Active"));
        if !active {
            continue;
        }
        let last_used = key
            .get("lastUsedDate")
            .filter(|v| !v.is_null())
            .or_else(|| {
                key.get("accessKeyLastUsed")
                    .and_then(|l| l.get("lastUsedDate"))
            });
        let days = idle_days(last_used, key.get("createDate"));
        if too_old(days) {
            let id = as_str(key.get("accessKeyId")).unwrap_or("an access key");
            return non_compliant(format!(
                "Active access key {id} has not been used for {} (maxCredentialUsageAge is {max_days}).",
                describe(days)
            ));
        }
    }
    Verdict::compliant()
}

fn no_policies_check(_p: &Parameters, ci: &ConfigurationItem, _l: &dyn ResourceLookup) -> Verdict {
    if let Some(v) = out_of_scope(ci, &[IAM_USER]) {
        return v;
    }
    let conf = configuration(ci);
    let names = |key: &str| -> Vec<String> {
        array(conf.get(key))
            .iter()
            .map(|p| {
                as_str(p.get("policyName"))
                    .map(str::to_string)
                    .unwrap_or_else(|| "?".into())
            })
            .collect()
    };
    let managed = names("attachedManagedPolicies");
    let inline = names("userPolicyList");
    if managed.is_empty() && inline.is_empty() {
        return Verdict::compliant();
    }
    let mut parts = Vec::new();
    if !managed.is_empty() {
        parts.push(format!("attached managed policies {}", managed.join(", ")));
    }
    if !inline.is_empty() {
        parts.push(format!("inline policies {}", inline.join(", ")));
    }
    non_compliant(format!(
        "The user has {}; grant permissions through groups or roles instead.",
        parts.join(" and ")
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::super::test_support::*;
    use super::super::{parameters_with_defaults, Parameters};
    use super::unused_credentials_at;

    /// The spec §6.5 user, with its policies and supplementary configuration replaced.
    fn user(managed: Value, inline: Value, supp: Value) -> crate::domain::ConfigurationItem {
        ci(
            json!({"resourceType": "AWS::IAM::User", "resourceId": "AIDAEXAMPLEUSERID1234", "resourceName": "alice",
            "awsRegion": "global", "arn": "arn:aws:iam::111122223333:user/alice",
            "configuration": {"path": "/", "userName": "alice", "userId": "AIDAEXAMPLEUSERID1234",
                "arn": "arn:aws:iam::111122223333:user/alice", "createDate": "2024-01-01T00:00:00.000Z",
                "userPolicyList": inline, "groupList": ["devs"], "attachedManagedPolicies": managed,
                "permissionsBoundary": null, "tags": []},
            "supplementaryConfiguration": supp}),
        )
    }

    #[test]
    fn no_policies() {
        let r = "IAM_USER_NO_POLICIES_CHECK";
        let v = run(
            r,
            json!({}),
            &user(
                json!([{"policyName": "ReadOnlyAccess", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}]),
                json!([{"policyName": "inline1", "policyDocument": "%7B%22Version%22..."}]),
                json!({}),
            ),
            &[],
        );
        assert_verdict(&v, "NON_COMPLIANT");
        assert!(v.annotation.unwrap().contains("ReadOnlyAccess"));
        assert_verdict(
            &run(
                r,
                json!({}),
                &user(json!([]), json!([{"policyName": "inline1"}]), json!({})),
                &[],
            ),
            "NON_COMPLIANT",
        );
        assert_verdict(
            &run(r, json!({}), &user(json!([]), json!([]), json!({})), &[]),
            "COMPLIANT",
        );
        assert_verdict(
            &run(
                r,
                json!({}),
                &user(json!(null), json!(null), json!({})),
                &[],
            ),
            "COMPLIANT",
        );
    }

    fn t(s: &str) -> f64 {
        crate::time::parse_iso8601(s).unwrap()
    }

    /// The rule with parameters `p` over a user whose CredentialReport is `report`, at `now`.
    fn unused(p: Value, report: Value, now: &str) -> super::Verdict {
        let item = user(json!([]), json!([]), json!({"CredentialReport": report}));
        let params =
            parameters_with_defaults("IAM_USER_UNUSED_CREDENTIALS_CHECK", p.as_object().unwrap());
        unused_credentials_at(&params, &item, t(now))
    }

    #[test]
    fn unused_credentials() {
        let now = "2024-06-01T00:00:00Z";
        // No report recorded: nothing to judge.
        let bare = user(json!([]), json!([]), json!({}));
        let params =
            parameters_with_defaults("IAM_USER_UNUSED_CREDENTIALS_CHECK", &Parameters::new());
        assert_verdict(
            &unused_credentials_at(&params, &bare, t(now)),
            "NOT_APPLICABLE",
        );
        // No credentials at all.
        assert_verdict(
            &unused(
                json!({}),
                json!({"passwordEnabled": false, "accessKeys": []}),
                now,
            ),
            "COMPLIANT",
        );
        // A password used recently, then one unused for > 90 days (the default).
        let recent = json!({"passwordEnabled": true, "passwordLastUsed": "2024-05-20T00:00:00Z"});
        assert_verdict(&unused(json!({}), recent.clone(), now), "COMPLIANT");
        let stale = json!({"passwordEnabled": true, "passwordLastUsed": "2024-01-15T00:00:00Z"});
        let v = unused(json!({}), stale.clone(), now);
        assert_verdict(&v, "NON_COMPLIANT");
        assert!(v.annotation.unwrap().contains("password"));
        // maxCredentialUsageAge as a string or a number.
        assert_verdict(
            &unused(json!({"maxCredentialUsageAge": "200"}), stale.clone(), now),
            "COMPLIANT",
        );
        assert_verdict(
            &unused(json!({"maxCredentialUsageAge": 5}), recent, now),
            "NON_COMPLIANT",
        );
        // Never used: counted from creation (the password's, else the user's).
        let never = json!({"passwordEnabled": true, "passwordLastUsed": null, "passwordCreateDate": "2024-05-01T00:00:00Z"});
        assert_verdict(&unused(json!({}), never, now), "COMPLIANT");
        let never = json!({"passwordEnabled": true, "passwordLastUsed": null});
        assert_verdict(&unused(json!({}), never, now), "NON_COMPLIANT");
        // Access keys: active and stale is non-compliant; inactive ones are ignored.
        let keys = |status: &str, last: Value| {
            json!({"passwordEnabled": false, "accessKeys": [
            {"accessKeyId": "AKIAEXAMPLE", "status": status, "createDate": "2024-01-01T00:00:00Z", "lastUsedDate": last}]})
        };
        let v = unused(json!({}), keys("Active", json!(null)), now);
        assert_verdict(&v, "NON_COMPLIANT");
        assert!(v.annotation.unwrap().contains("AKIAEXAMPLE"));
        assert_verdict(
            &unused(json!({}), keys("Inactive", json!(null)), now),
            "COMPLIANT",
        );
        assert_verdict(
            &unused(
                json!({}),
                keys("Active", json!("2024-05-30T12:00:00Z")),
                now,
            ),
            "COMPLIANT",
        );
        // Epoch seconds work as times too.
        assert_verdict(
            &unused(
                json!({}),
                keys("Active", json!(t("2024-05-30T12:00:00Z"))),
                now,
            ),
            "COMPLIANT",
        );
        assert_verdict(
            &unused(
                json!({"maxCredentialUsageAge": "1"}),
                keys("Active", json!(t("2024-05-30T12:00:00Z"))),
                now,
            ),
            "NON_COMPLIANT",
        );
        // Through the registered evaluator (evaluated now): long unused.
        let item = user(
            json!([]),
            json!([]),
            json!({"CredentialReport": keys("Active", json!("2020-01-01T00:00:00Z"))}),
        );
        assert_verdict(
            &run("IAM_USER_UNUSED_CREDENTIALS_CHECK", json!({}), &item, &[]),
            "NON_COMPLIANT",
        );
    }
}
