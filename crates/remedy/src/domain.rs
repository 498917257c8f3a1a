//! Plain domain types shared by the API handlers and the store.
//!
//! They are deliberately separate from the generated wire types: the wire layer mirrors AWS's JSON
//! exactly (double-encoded configuration strings, mixed member casing), while these types hold what
//! remedy means — a configuration item's `configuration` here is a JSON document, not a string.
//! Rules and remediation configurations keep their user-supplied body as the wire shape, because
//! that body *is* the resource and is returned verbatim.

use std::collections::BTreeMap;

use remedy_wire::config as wire;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Who owns a row: every stored object belongs to one account in one region, both taken from the
/// verified SigV4 credential scope. Nothing crosses this boundary.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    pub account: String,
    pub region: String,
}

impl Scope {
    pub fn new(account: impl Into<String>, region: impl Into<String>) -> Self {
        Self {
            account: account.into(),
            region: region.into(),
        }
    }

    /// `arn:aws:config:{region}:{account}:{suffix}`.
    pub fn config_arn(&self, suffix: &str) -> String {
        format!("arn:aws:config:{}:{}:{}", self.region, self.account, suffix)
    }
}

/// A stored Config rule. `rule` is the full wire shape as DescribeConfigRules returns it (name, id,
/// ARN and state filled in).
#[derive(Debug, Clone, PartialEq)]
pub struct RuleRecord {
    pub name: String,
    pub id: String,
    pub arn: String,
    pub rule: wire::ConfigRule,
}

#[cfg(test)]
impl RuleRecord {
    /// An ACTIVE rule with nothing else set, named `name` in `scope` (a unit-test fixture).
    pub(crate) fn active(scope: &Scope, name: &str) -> Self {
        Self {
            name: name.into(),
            id: format!("config-rule-{name}"),
            arn: scope.config_arn(&format!("config-rule/config-rule-{name}")),
            rule: wire::ConfigRule {
                config_rule_name: Some(name.into()),
                config_rule_state: Some(wire::ConfigRuleState::Active),
                ..Default::default()
            },
        }
    }
}

/// A stored remediation configuration; one per rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RemediationConfigRecord {
    pub rule_name: String,
    pub arn: String,
    pub config: wire::RemediationConfiguration,
}

/// One remediation exception, keyed by (rule, resource type, resource id).
#[derive(Debug, Clone, PartialEq)]
pub struct RemediationExceptionRecord {
    pub rule_name: String,
    pub resource_type: String,
    pub resource_id: String,
    pub message: Option<String>,
    pub expiration_time: Option<f64>,
}

/// A (resource type, resource id) pair as the remediation-exception APIs use it. Both members are
/// optional on the wire; absent ones are stored as the empty string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExceptionKey {
    pub resource_type: String,
    pub resource_id: String,
}

/// A tag on a taggable Config resource (a rule, for now).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// Configuration-item status values (`ConfigurationItemStatus`).
pub const STATUS_OK: &str = "OK";
pub const STATUS_DISCOVERED: &str = "ResourceDiscovered";
pub const STATUS_DELETED: &str = "ResourceDeleted";
pub const STATUS_DELETED_NOT_RECORDED: &str = "ResourceDeletedNotRecorded";

/// Whether an item with this status records the resource's deletion (`ResourceDeleted` or
/// `ResourceDeletedNotRecorded`, e.g. from an imported history).
pub fn is_deleted_status(status: &str) -> bool {
    status == STATUS_DELETED || status == STATUS_DELETED_NOT_RECORDED
}

/// A recorded configuration item, in remedy's own decoded form. `state_id` orders a resource's
/// history and strictly increases; it is rendered as the string `configurationStateId`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigurationItem {
    pub account_id: String,
    pub region: String,
    pub resource_type: String,
    pub resource_id: String,
    #[serde(default)]
    pub resource_name: Option<String>,
    #[serde(default)]
    pub arn: Option<String>,
    #[serde(default)]
    pub availability_zone: Option<String>,
    #[serde(default)]
    pub resource_creation_time: Option<f64>,
    pub capture_time: f64,
    pub status: String,
    pub state_id: i64,
    #[serde(default)]
    pub configuration: Value,
    #[serde(default)]
    pub supplementary_configuration: BTreeMap<String, Value>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub relationships: Vec<Relationship>,
}

/// A relationship of a configuration item to another resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Relationship {
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub resource_name: Option<String>,
    pub relationship_name: Option<String>,
}

/// A configuration item as submitted, before the store assigns its `state_id` and capture time.
#[derive(Debug, Clone, PartialEq)]
pub struct NewConfigurationItem {
    pub resource_type: String,
    pub resource_id: String,
    pub resource_name: Option<String>,
    pub arn: Option<String>,
    pub availability_zone: Option<String>,
    pub resource_creation_time: Option<f64>,
    /// When the item was captured; `None` means "now".
    pub capture_time: Option<f64>,
    /// `configurationItemStatus`; `None` means "as recorded": `ResourceDiscovered` when the
    /// resource is new (never seen, or deleted before), `OK` otherwise. A status the user states
    /// (envelope form, import) is kept as given.
    pub status: Option<String>,
    pub configuration: Value,
    pub supplementary_configuration: BTreeMap<String, Value>,
    pub tags: BTreeMap<String, String>,
    pub relationships: Vec<Relationship>,
}

impl NewConfigurationItem {
    /// The item as a store records it in `scope`, after the resource's previous item
    /// (`previous`: its state id and status), at `now_ms`. The state id strictly increases per
    /// resource; a resource is (re)discovered when it was never seen or its last item recorded a
    /// deletion. Both store backends build the stored item here.
    pub fn into_recorded(
        self,
        scope: &Scope,
        previous: Option<(i64, &str)>,
        now_ms: i64,
    ) -> ConfigurationItem {
        let state_id = match previous {
            Some((last, _)) => now_ms.max(last + 1),
            None => now_ms,
        };
        let status = self.status.unwrap_or_else(|| match previous {
            Some((_, s)) if !is_deleted_status(s) => STATUS_OK.to_string(),
            _ => STATUS_DISCOVERED.to_string(),
        });
        ConfigurationItem {
            account_id: scope.account.clone(),
            region: scope.region.clone(),
            resource_type: self.resource_type,
            resource_id: self.resource_id,
            resource_name: self.resource_name,
            arn: self.arn,
            availability_zone: self.availability_zone,
            resource_creation_time: self.resource_creation_time,
            capture_time: self.capture_time.unwrap_or(state_id as f64 / 1000.0),
            status,
            state_id,
            configuration: self.configuration,
            supplementary_configuration: self.supplementary_configuration,
            tags: self.tags,
            relationships: self.relationships,
        }
    }
}

/// The schema version remedy reports for configuration items (`version` / `configurationItemVersion`).
pub const CI_VERSION: &str = "1.3";

impl ConfigurationItem {
    /// The API form (GetResourceConfigHistory): `configuration` and every supplementary value are
    /// strings holding JSON.
    pub fn to_wire(&self) -> wire::ConfigurationItem {
        wire::ConfigurationItem {
            version: Some(CI_VERSION.to_string()),
            account_id: Some(self.account_id.clone()),
            configuration_item_capture_time: Some(self.capture_time),
            configuration_item_status: Some(wire::ConfigurationItemStatus::from_wire(&self.status)),
            configuration_state_id: Some(self.state_id.to_string()),
            configuration_item_md5_hash: Some(String::new()),
            arn: self.arn.clone(),
            resource_type: Some(wire::ResourceType::from_wire(&self.resource_type)),
            resource_id: Some(self.resource_id.clone()),
            resource_name: self.resource_name.clone(),
            aws_region: Some(self.region.clone()),
            availability_zone: self.availability_zone.clone(),
            resource_creation_time: self.resource_creation_time,
            tags: Some(self.tags.clone()),
            related_events: Some(Vec::new()),
            relationships: Some(
                self.relationships
                    .iter()
                    .map(|r| wire::Relationship {
                        resource_type: r
                            .resource_type
                            .as_deref()
                            .map(wire::ResourceType::from_wire),
                        resource_id: r.resource_id.clone(),
                        resource_name: r.resource_name.clone(),
                        relationship_name: r.relationship_name.clone(),
                    })
                    .collect(),
            ),
            configuration: self.configuration_string(),
            supplementary_configuration: Some(self.supplementary_strings()),
            ..Default::default()
        }
    }

    /// The BatchGetResourceConfig form: no tags, relationships, events or hash.
    pub fn to_wire_base(&self) -> wire::BaseConfigurationItem {
        let mut supplementary = self.supplementary_strings();
        supplementary.remove("Tags");
        wire::BaseConfigurationItem {
            version: Some(CI_VERSION.to_string()),
            account_id: Some(self.account_id.clone()),
            configuration_item_capture_time: Some(self.capture_time),
            configuration_item_status: Some(wire::ConfigurationItemStatus::from_wire(&self.status)),
            configuration_state_id: Some(self.state_id.to_string()),
            arn: self.arn.clone(),
            resource_type: Some(wire::ResourceType::from_wire(&self.resource_type)),
            resource_id: Some(self.resource_id.clone()),
            resource_name: self.resource_name.clone(),
            aws_region: Some(self.region.clone()),
            availability_zone: self.availability_zone.clone(),
            resource_creation_time: self.resource_creation_time,
            configuration: self.configuration_string(),
            supplementary_configuration: Some(supplementary),
            ..Default::default()
        }
    }

    fn configuration_string(&self) -> Option<String> {
        match &self.configuration {
            Value::Null => None,
            v => Some(v.to_string()),
        }
    }

    fn supplementary_strings(&self) -> BTreeMap<String, String> {
        self.supplementary_configuration
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect()
    }

    /// The notification form that custom rules and SNS deliveries see: plain JSON objects,
    /// `awsAccountId`, `ARN`, ISO-8601 capture time and `configurationStateMd5Hash`.
    pub fn to_notification(&self) -> Value {
        serde_json::json!({
            "configurationItemVersion": CI_VERSION,
            "awsAccountId": self.account_id,
            "configurationItemCaptureTime": crate::time::iso8601(self.capture_time),
            "configurationItemStatus": self.status,
            "configurationStateId": self.state_id,
            "configurationStateMd5Hash": "",
            "ARN": self.arn,
            "resourceType": self.resource_type,
            "resourceId": self.resource_id,
            "resourceName": self.resource_name,
            "awsRegion": self.region,
            "availabilityZone": self.availability_zone,
            "resourceCreationTime": self.resource_creation_time.map(crate::time::iso8601),
            "tags": self.tags,
            "relatedEvents": [],
            "relationships": self.relationships.iter().map(|r| serde_json::json!({
                "resourceType": r.resource_type,
                "resourceId": r.resource_id,
                "resourceName": r.resource_name,
                "name": r.relationship_name,
            })).collect::<Vec<_>>(),
            "configuration": self.configuration,
            "supplementaryConfiguration": self.supplementary_configuration,
        })
    }
}
