//! Which resources a rule judges, and what triggers it.
//!
//! A rule applies to a configuration item when
//! - `Scope.ComplianceResourceTypes` is empty or contains the item's type — for a managed rule
//!   with no types in its scope, the types its evaluator judges;
//! - `Scope.ComplianceResourceId`, when set, is the item's id;
//! - `Scope.TagKey`, when set, is one of the item's tags, with `Scope.TagValue` (when set) as
//!   its value.
//!
//! Triggers, as AWS defines them: a managed rule runs on changes and/or periodically as its
//! catalog entry says; a Lambda rule as its `SourceDetails` say
//! (`ConfigurationItemChangeNotification` / `OversizedConfigurationItemChangeNotification`:
//! changes; `ScheduledNotification`: periodic); a Guard policy rule on changes.

use remedy_wire::config::{ConfigRule, MaximumExecutionFrequency, MessageType, Owner};

use crate::domain::ConfigurationItem;
use crate::managed_rules::ManagedRuleCatalog;

/// The types a rule's scope names (empty: none named).
pub fn scope_types(rule: &ConfigRule) -> Vec<String> {
    rule.scope
        .as_ref()
        .and_then(|s| s.compliance_resource_types.clone())
        .unwrap_or_default()
}

/// The resource types a rule judges: the scope's, else `default_types` (a managed rule's
/// evaluator types). `None`: every type.
pub fn judged_types(rule: &ConfigRule, default_types: Option<&[String]>) -> Option<Vec<String>> {
    let named = scope_types(rule);
    if !named.is_empty() {
        return Some(named);
    }
    default_types.map(<[String]>::to_vec)
}

/// Whether the rule applies to the item (see the module docs).
pub fn in_scope(
    rule: &ConfigRule,
    default_types: Option<&[String]>,
    ci: &ConfigurationItem,
) -> bool {
    if let Some(types) = judged_types(rule, default_types) {
        if !types.iter().any(|t| t == &ci.resource_type) {
            return false;
        }
    }
    let Some(scope) = &rule.scope else {
        return true;
    };
    if let Some(id) = scope.compliance_resource_id.as_deref() {
        if id != ci.resource_id {
            return false;
        }
    }
    if let Some(key) = scope.tag_key.as_deref() {
        match ci.tags.get(key) {
            None => return false,
            Some(v) => {
                if scope.tag_value.as_deref().is_some_and(|want| want != v) {
                    return false;
                }
            }
        }
    }
    true
}

/// Seconds in a `MaximumExecutionFrequency`.
pub fn frequency_seconds(f: &MaximumExecutionFrequency) -> f64 {
    let hours = match f {
        MaximumExecutionFrequency::OneHour => 1.0,
        MaximumExecutionFrequency::ThreeHours => 3.0,
        MaximumExecutionFrequency::SixHours => 6.0,
        MaximumExecutionFrequency::TwelveHours => 12.0,
        _ => 24.0,
    };
    hours * 3600.0
}

/// How a rule is triggered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Triggers {
    /// Configuration changes of resources in scope re-evaluate them.
    pub change: bool,
    /// The rule runs rule-wide every this many seconds.
    pub period_seconds: Option<f64>,
}

/// The triggers of a rule (see the module docs). Periodic rules without a frequency run every
/// 24 hours (AWS's default).
pub fn triggers(catalog: &ManagedRuleCatalog, rule: &ConfigRule) -> Triggers {
    let source = rule.source.clone().unwrap_or_default();
    let rule_frequency = rule
        .maximum_execution_frequency
        .as_ref()
        .map(frequency_seconds);
    match source.owner {
        Some(Owner::Aws) => {
            let entry = source
                .source_identifier
                .as_deref()
                .and_then(|id| catalog.get(id));
            let (change, periodic) = entry
                .map(|e| (e.change, e.periodic))
                .unwrap_or((true, false));
            Triggers {
                change,
                period_seconds: periodic.then(|| rule_frequency.unwrap_or(24.0 * 3600.0)),
            }
        }
        Some(Owner::CustomLambda) => {
            let details = source.source_details.unwrap_or_default();
            let change = details.iter().any(|d| {
                matches!(
                    d.message_type,
                    Some(MessageType::ConfigurationItemChangeNotification)
                        | Some(MessageType::OversizedConfigurationItemChangeNotification)
                )
            });
            let period_seconds = details
                .iter()
                .filter(|d| d.message_type == Some(MessageType::ScheduledNotification))
                .map(|d| {
                    d.maximum_execution_frequency
                        .as_ref()
                        .map(frequency_seconds)
                        .or(rule_frequency)
                        .unwrap_or(24.0 * 3600.0)
                })
                .reduce(f64::min);
            Triggers {
                change,
                period_seconds,
            }
        }
        _ => Triggers {
            change: true,
            period_seconds: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use remedy_wire::config::{Scope, Source, SourceDetail};

    use super::*;

    fn item(t: &str, id: &str, tags: &[(&str, &str)]) -> ConfigurationItem {
        ConfigurationItem {
            account_id: "000000000000".into(),
            region: "us-east-1".into(),
            resource_type: t.into(),
            resource_id: id.into(),
            resource_name: None,
            arn: None,
            availability_zone: None,
            resource_creation_time: None,
            capture_time: 1.0,
            status: "OK".into(),
            state_id: 1,
            configuration: serde_json::json!({}),
            supplementary_configuration: BTreeMap::new(),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            relationships: vec![],
        }
    }

    fn rule(scope: Option<Scope>) -> ConfigRule {
        ConfigRule {
            scope,
            ..Default::default()
        }
    }

    #[test]
    fn types_ids_and_tags() {
        let bucket = item("AWS::S3::Bucket", "b", &[("env", "prod")]);
        let s3 = vec!["AWS::S3::Bucket".to_string()];
        assert!(in_scope(&rule(None), None, &bucket));
        assert!(in_scope(&rule(None), Some(&s3), &bucket));
        assert!(!in_scope(
            &rule(None),
            Some(&["AWS::EC2::SecurityGroup".to_string()]),
            &bucket
        ));
        let typed = |types: &[&str], id: Option<&str>| {
            rule(Some(Scope {
                compliance_resource_types: Some(types.iter().map(|t| t.to_string()).collect()),
                compliance_resource_id: id.map(str::to_string),
                ..Default::default()
            }))
        };
        // The scope's types win over the evaluator's.
        assert!(in_scope(
            &typed(&["AWS::S3::Bucket"], None),
            Some(&["AWS::EC2::SecurityGroup".to_string()]),
            &bucket
        ));
        assert!(!in_scope(&typed(&["AWS::KMS::Key"], None), None, &bucket));
        assert!(in_scope(
            &typed(&["AWS::S3::Bucket"], Some("b")),
            None,
            &bucket
        ));
        assert!(!in_scope(
            &typed(&["AWS::S3::Bucket"], Some("c")),
            None,
            &bucket
        ));
        let tagged = |k: &str, v: Option<&str>| {
            rule(Some(Scope {
                tag_key: Some(k.into()),
                tag_value: v.map(str::to_string),
                ..Default::default()
            }))
        };
        assert!(in_scope(&tagged("env", None), None, &bucket));
        assert!(in_scope(&tagged("env", Some("prod")), None, &bucket));
        assert!(!in_scope(&tagged("env", Some("dev")), None, &bucket));
        assert!(!in_scope(&tagged("team", None), None, &bucket));
    }

    #[test]
    fn trigger_kinds() {
        let catalog = ManagedRuleCatalog::builtin();
        let managed = |id: &str| ConfigRule {
            source: Some(Source {
                owner: Some(Owner::Aws),
                source_identifier: Some(id.into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let t = triggers(&catalog, &managed("S3_BUCKET_VERSIONING_ENABLED"));
        assert!(t.change && t.period_seconds.is_none());
        let lambda = ConfigRule {
            source: Some(Source {
                owner: Some(Owner::CustomLambda),
                source_details: Some(vec![SourceDetail {
                    message_type: Some(MessageType::ScheduledNotification),
                    maximum_execution_frequency: Some(MaximumExecutionFrequency::SixHours),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let t = triggers(&catalog, &lambda);
        assert!(!t.change);
        assert_eq!(t.period_seconds, Some(6.0 * 3600.0));
    }
}
