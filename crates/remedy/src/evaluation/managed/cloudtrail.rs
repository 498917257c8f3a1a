//! CloudTrail trail rules (`AWS::CloudTrail::Trail`), reading the spec §6.6 shape. The
//! account-level MULTI_REGION_CLOUD_TRAIL_ENABLED lives in `account` and reads trails through
//! the lookup with `trail_summary`.

use serde_json::Value;

use super::{
    array, as_bool, as_str, configuration, non_compliant, out_of_scope, supplementary,
    ManagedEvaluator, TRAIL,
};
use crate::domain::ConfigurationItem;
use crate::evaluation::verdict::{Parameters, ResourceLookup, Verdict};

pub(super) static EVALUATORS: &[ManagedEvaluator] = &[
    ManagedEvaluator {
        identifier: "CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED",
        resource_types: &[TRAIL],
        related_types: &[],
        evaluate: log_file_validation_enabled,
    },
    ManagedEvaluator {
        identifier: "CLOUD_TRAIL_ENCRYPTION_ENABLED",
        resource_types: &[TRAIL],
        related_types: &[],
        evaluate: encryption_enabled,
    },
];

fn log_file_validation_enabled(
    _p: &Parameters,
    ci: &ConfigurationItem,
    _l: &dyn ResourceLookup,
) -> Verdict {
    if let Some(v) = out_of_scope(ci, &[TRAIL]) {
        return v;
    }
    if as_bool(configuration(ci).get("logFileValidationEnabled")) == Some(true) {
        Verdict::compliant()
    } else {
        non_compliant("Log file validation is not enabled for the trail.")
    }
}

fn encryption_enabled(_p: &Parameters, ci: &ConfigurationItem, _l: &dyn ResourceLookup) -> Verdict {
    if let Some(v) = out_of_scope(ci, &[TRAIL]) {
        return v;
    }
    if as_str(configuration(ci).get("kmsKeyId")).is_some() {
        Verdict::compliant()
    } else {
        non_compliant("The trail's log files are not encrypted with a KMS key (no kmsKeyId).")
    }
}

/// One classic event selector of a trail.
#[derive(Debug, Clone)]
pub(crate) struct EventSelector {
    pub read_write_type: String,
    pub include_management_events: bool,
    pub excludes_sources: bool,
}

/// What MULTI_REGION_CLOUD_TRAIL_ENABLED needs to know about a recorded trail.
#[derive(Debug, Clone)]
pub(crate) struct TrailSummary {
    pub name: String,
    pub multi_region: bool,
    pub logging: bool,
    pub s3_bucket_name: Option<String>,
    pub sns_topic_arn: Option<String>,
    pub cloud_watch_logs_log_group_arn: Option<String>,
    pub selectors: Vec<EventSelector>,
}

/// Reads a trail item: `configuration.{name,isMultiRegionTrail,s3BucketName,snsTopicARN,
/// cloudWatchLogsLogGroupArn}`, `supplementaryConfiguration.TrailStatus.isLogging` (or
/// `LoggingStatus.isLogging` / `.loggingEnabled`; absent = not logging) and
/// `supplementaryConfiguration.EventSelectors.eventSelectors[]` (absent = CloudTrail's default
/// selector: all management events, read and write).
pub(crate) fn trail_summary(ci: &ConfigurationItem) -> TrailSummary {
    let conf = configuration(ci);
    let text = |name: &str| as_str(conf.get(name)).map(str::to_string);
    let logging = ["TrailStatus", "LoggingStatus"]
        .iter()
        .filter_map(|k| supplementary(ci, k))
        .find_map(|s| as_bool(s.get("isLogging")).or_else(|| as_bool(s.get("loggingEnabled"))))
        .unwrap_or(false);
    let selectors = match supplementary(ci, "EventSelectors") {
        Some(sel) => {
            let list = match &sel {
                Value::Array(_) => array(Some(&sel)),
                _ => array(sel.get("eventSelectors")),
            };
            list.iter()
                .map(|s| EventSelector {
                    read_write_type: as_str(s.get("readWriteType")).unwrap_or("All").to_string(),
                    include_management_events: as_bool(s.get("includeManagementEvents"))
                        .unwrap_or(true),
                    excludes_sources: !array(s.get("excludeManagementEventSources")).is_empty(),
                })
                .collect()
        }
        None => vec![EventSelector {
            read_write_type: "All".into(),
            include_management_events: true,
            excludes_sources: false,
        }],
    };
    TrailSummary {
        name: text("name").unwrap_or_else(|| ci.resource_id.clone()),
        multi_region: as_bool(conf.get("isMultiRegionTrail")) == Some(true),
        logging,
        s3_bucket_name: text("s3BucketName"),
        sns_topic_arn: text("snsTopicARN").or_else(|| text("snsTopicArn")),
        cloud_watch_logs_log_group_arn: text("cloudWatchLogsLogGroupArn"),
        selectors,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::{json, Value};

    use super::super::test_support::*;

    /// The spec §6.6 trail with `conf` merged into its configuration.
    pub(crate) fn trail(name: &str, conf: Value, supp: Value) -> crate::domain::ConfigurationItem {
        let mut c = json!({"name": name,
            "trailARN": format!("arn:aws:cloudtrail:us-east-1:111122223333:trail/{name}"),
            "homeRegion": "us-east-1", "s3BucketName": "ct-logs-111122223333", "includeGlobalServiceEvents": true,
            "isMultiRegionTrail": true, "isOrganizationTrail": false, "logFileValidationEnabled": false,
            "hasCustomEventSelectors": false, "hasInsightSelectors": false});
        for (k, v) in conf.as_object().unwrap() {
            c[k] = v.clone();
        }
        ci(
            json!({"resourceType": "AWS::CloudTrail::Trail", "resourceId": name, "resourceName": name,
            "arn": format!("arn:aws:cloudtrail:us-east-1:111122223333:trail/{name}"),
            "configuration": c, "supplementaryConfiguration": supp}),
        )
    }

    #[test]
    fn log_file_validation() {
        let r = "CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED";
        assert_verdict(
            &run(r, json!({}), &trail("t", json!({}), json!({})), &[]),
            "NON_COMPLIANT",
        );
        assert_verdict(
            &run(
                r,
                json!({}),
                &trail("t", json!({"logFileValidationEnabled": true}), json!({})),
                &[],
            ),
            "COMPLIANT",
        );
        assert_verdict(
            &run(
                r,
                json!({}),
                &trail("t", json!({"logFileValidationEnabled": "true"}), json!({})),
                &[],
            ),
            "COMPLIANT",
        );
    }

    #[test]
    fn encryption() {
        let r = "CLOUD_TRAIL_ENCRYPTION_ENABLED";
        assert_verdict(
            &run(r, json!({}), &trail("t", json!({}), json!({})), &[]),
            "NON_COMPLIANT",
        );
        assert_verdict(
            &run(
                r,
                json!({}),
                &trail("t", json!({"kmsKeyId": null}), json!({})),
                &[],
            ),
            "NON_COMPLIANT",
        );
        let k = json!({"kmsKeyId": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"});
        assert_verdict(
            &run(r, json!({}), &trail("t", k, json!({})), &[]),
            "COMPLIANT",
        );
    }
}
