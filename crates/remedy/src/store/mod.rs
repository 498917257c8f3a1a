//! Durable state behind one trait.
//!
//! Every method is one atomic unit of work: the invariants that must hold under concurrency (the
//! rule limit, "a rule with a remediation configuration cannot be deleted", "tags only on
//! existing resources") are checked inside the same transaction that writes, so racing requests
//! cannot break them. The API layer decides *what* to do; the store guarantees it happens whole
//! or not at all. `sqlite` is the embedded default; a PostgreSQL backend implements the same trait.

pub mod documents;
pub mod evaluation_queue;
pub mod evaluations;
pub mod executions;
pub mod metrics;
pub mod postgres;
pub mod sqlite;

pub use documents::DocumentStore;
pub use evaluation_queue::EvaluationQueueStore;
pub use evaluations::EvaluationStore;
pub use executions::ExecutionStore;
pub use metrics::MetricsStore;

use async_trait::async_trait;

use crate::domain::{
    ConfigurationItem, ExceptionKey, NewConfigurationItem, RemediationConfigRecord,
    RemediationExceptionRecord, RuleRecord, Scope, Tag,
};

/// How often a running node releases the evaluation claims and execution leases of nodes that
/// are gone ([`EvaluationQueueStore::release_dead_node_evaluation_claims`],
/// [`Store::release_dead_node_execution_leases`]): the longest a dead node's work waits, beyond
/// the moment the database notices its connection closed.
pub const NODE_RESCUE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(3);

/// Failures a store reports. Business outcomes the API maps to AWS errors are explicit variants;
/// everything else is `Backend` (an internal failure, logged, never shown to clients).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("already exists")]
    AlreadyExists,
    #[error("limit of {0} reached")]
    LimitExceeded(usize),
    #[error("the rule still has a remediation configuration")]
    RuleHasRemediationConfiguration,
    #[error("remediation executions of the rule are queued or in progress")]
    RemediationInProgress,
    #[error("storage backend: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Which rule an update or lookup names: AWS lets PutConfigRule identify a rule by any of these.
#[derive(Debug, Clone)]
pub enum RuleSelector {
    Name(String),
    Id(String),
    Arn(String),
}

/// Filter for configuration-item history reads.
#[derive(Debug, Clone)]
pub struct HistoryQuery {
    pub resource_type: String,
    pub resource_id: String,
    pub earlier_time: Option<f64>,
    pub later_time: Option<f64>,
    pub forward: bool,
    /// Continue after this state id (exclusive), in the query's direction.
    pub after_state_id: Option<i64>,
    pub limit: usize,
}

/// Filter for ListDiscoveredResources.
#[derive(Debug, Clone)]
pub struct DiscoveredQuery {
    pub resource_type: String,
    pub resource_ids: Vec<String>,
    pub resource_name: Option<String>,
    pub include_deleted: bool,
    /// Continue after this resource id (exclusive).
    pub after_id: Option<String>,
    pub limit: usize,
}

/// One row of ListDiscoveredResources.
#[derive(Debug, Clone, PartialEq)]
pub struct DiscoveredResource {
    pub resource_type: String,
    pub resource_id: String,
    pub resource_name: Option<String>,
    /// Set when the latest item records the deletion.
    pub deletion_time: Option<f64>,
}

/// `rule` with a stored rule's id and ARN (in the record and in its wire body).
pub fn with_identity(rule: &RuleRecord, id: String, arn: String) -> RuleRecord {
    let mut r = rule.clone();
    r.rule.config_rule_id = Some(id.clone());
    r.rule.config_rule_arn = Some(arn.clone());
    r.id = id;
    r.arn = arn;
    r
}

fn rule_json(r: &RuleRecord) -> StoreResult<String> {
    serde_json::to_string(&r.rule).map_err(|e| StoreError::Backend(e.to_string()))
}

#[async_trait]
pub trait Store:
    EvaluationStore
    + EvaluationQueueStore
    + ExecutionStore
    + DocumentStore
    + MetricsStore
    + Send
    + Sync
    + 'static
{
    /// Answers when the backend can serve requests (for `/ready`).
    async fn ping(&self) -> StoreResult<()>;

    // ---- rules -------------------------------------------------------------------------------
    /// The named rules in one read, in the order asked (`None` where a name is not a rule).
    async fn get_rules_by_name(
        &self,
        scope: &Scope,
        names: &[String],
    ) -> StoreResult<Vec<Option<RuleRecord>>>;
    async fn get_rule(
        &self,
        scope: &Scope,
        selector: &RuleSelector,
    ) -> StoreResult<Option<RuleRecord>>;
    /// Rules ordered by name, starting after `after_name`.
    async fn list_rules(
        &self,
        scope: &Scope,
        after_name: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<RuleRecord>>;
    /// A number that changes whenever any of the scope's rules changes — created, updated,
    /// deleted, or its state set — by whichever node or process, and that, while the scope holds
    /// rules, never comes back to an earlier value: two equal reads saw the same rules. (A scope
    /// with no rules may read as it did before its first.) What a cache of decoded rules (the
    /// evaluation engine's) is keyed by.
    async fn rule_set_version(&self, scope: &Scope) -> StoreResult<i64>;
    /// [`Store::list_rules`], as (name, wire JSON) pairs: what DescribeConfigRules answers,
    /// without decoding every stored rule only to encode it again.
    async fn list_rule_bodies(
        &self,
        scope: &Scope,
        after_name: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<(String, String)>> {
        let rules = self.list_rules(scope, after_name, limit).await?;
        rules
            .into_iter()
            .map(|r| Ok((r.name.clone(), rule_json(&r)?)))
            .collect()
    }
    /// Inserts a new rule (and its creation tags) unless `max_rules` are already stored.
    async fn insert_rule(
        &self,
        scope: &Scope,
        rule: &RuleRecord,
        tags: &[Tag],
        max_rules: usize,
    ) -> StoreResult<()>;
    /// Replaces an existing rule's body, keeping its identity.
    async fn update_rule(&self, scope: &Scope, rule: &RuleRecord) -> StoreResult<()>;
    /// PutConfigRule by name in one write: replaces the body of the rule named `rule.name`,
    /// keeping its stored id and ARN, or creates it with `rule.id`, `rule.arn` and `tags` (unless
    /// `max_rules` are stored). No read before the write, and no window between the two in which
    /// another put could create the rule. The default implementation is the read-then-write
    /// sequence, for backends that have nothing better.
    async fn put_rule_by_name(
        &self,
        scope: &Scope,
        rule: &RuleRecord,
        tags: &[Tag],
        max_rules: usize,
    ) -> StoreResult<()> {
        let by_name = RuleSelector::Name(rule.name.clone());
        if let Some(current) = self.get_rule(scope, &by_name).await? {
            return self
                .update_rule(scope, &with_identity(rule, current.id, current.arn))
                .await;
        }
        match self.insert_rule(scope, rule, tags, max_rules).await {
            Err(StoreError::AlreadyExists) => {
                let current = self
                    .get_rule(scope, &by_name)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                self.update_rule(scope, &with_identity(rule, current.id, current.arn))
                    .await
            }
            other => other,
        }
    }
    /// Deletes a rule with its tags and exceptions; refused while it has a remediation configuration.
    async fn delete_rule(&self, scope: &Scope, name: &str) -> StoreResult<()>;

    // ---- remediation configurations ----------------------------------------------------------
    /// Upserts each configuration; an existing one keeps its ARN. Returns, per input, whether it was
    /// stored (`false`: its rule does not exist). All stored ones commit together.
    async fn put_remediation_configurations(
        &self,
        scope: &Scope,
        configs: &[RemediationConfigRecord],
    ) -> StoreResult<Vec<bool>>;
    /// Every remediation configuration with `Automatic: true`, in every account and region (the
    /// automatic-remediation sweep's starting point).
    async fn list_automatic_remediation_configurations(
        &self,
    ) -> StoreResult<Vec<(Scope, RemediationConfigRecord)>>;
    async fn get_remediation_configurations(
        &self,
        scope: &Scope,
        rule_names: &[String],
    ) -> StoreResult<Vec<RemediationConfigRecord>>;
    /// Deletes a rule's configuration; `RemediationInProgress` (nothing deleted) while any of
    /// the rule's executions is QUEUED or IN_PROGRESS.
    async fn delete_remediation_configuration(
        &self,
        scope: &Scope,
        rule_name: &str,
    ) -> StoreResult<()>;

    // ---- remediation exceptions --------------------------------------------------------------
    async fn put_remediation_exceptions(
        &self,
        scope: &Scope,
        records: &[RemediationExceptionRecord],
    ) -> StoreResult<()>;
    /// Unexpired exceptions of a rule (as of `now`), ordered by key, after `after`.
    async fn list_remediation_exceptions(
        &self,
        scope: &Scope,
        rule_name: &str,
        keys: Option<&[ExceptionKey]>,
        after: Option<&ExceptionKey>,
        limit: usize,
        now: f64,
    ) -> StoreResult<Vec<RemediationExceptionRecord>>;
    /// Deletes the given keys; returns, per key, whether an (unexpired) exception was deleted.
    async fn delete_remediation_exceptions(
        &self,
        scope: &Scope,
        rule_name: &str,
        keys: &[ExceptionKey],
        now: f64,
    ) -> StoreResult<Vec<bool>>;

    // ---- tags ------------------------------------------------------------------------------
    /// Merges tags onto an existing taggable resource; refuses to exceed `max_tags`.
    async fn tag_resource(
        &self,
        scope: &Scope,
        arn: &str,
        tags: &[Tag],
        max_tags: usize,
    ) -> StoreResult<()>;
    async fn untag_resource(&self, scope: &Scope, arn: &str, keys: &[String]) -> StoreResult<()>;
    /// Tags of an existing resource ordered by key, after `after_key`.
    async fn list_tags(
        &self,
        scope: &Scope,
        arn: &str,
        after_key: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Tag>>;

    // ---- node liveness -----------------------------------------------------------------------
    /// Releases, while this node runs, the execution leases of *other* nodes that are gone, so
    /// their executions are claimed again at once instead of when their leases expire; the
    /// remediation engine calls it every [`NODE_RESCUE_INTERVAL`]. Never this node's leases (its
    /// workers are running them) nor a live node's. PostgreSQL: what
    /// [`ExecutionStore::release_all_execution_leases`] does at start (gone nodes' leases, and
    /// leases already expired, which any claim may take anyway). SQLite: one process owns the
    /// file, so there is no other node: nothing — releasing every lease, as at start, would
    /// hand out executions this process's workers hold.
    async fn release_dead_node_execution_leases(&self) -> StoreResult<usize>;

    // ---- configuration items -----------------------------------------------------------------
    /// Records a new configuration item for a resource, assigning a state id greater than any
    /// before it. `max_custom_resources` bounds active non-`AWS::` resources (None: no bound).
    async fn record_configuration_item(
        &self,
        scope: &Scope,
        item: NewConfigurationItem,
        max_custom_resources: Option<usize>,
    ) -> StoreResult<ConfigurationItem>;
    /// [`Store::record_configuration_item`] as a compare-and-set: records `item` only while the
    /// resource's latest item (deleted or not) still has state id `expected_state_id` (`None`:
    /// the resource has no item at all), checked in the same unit of work as the write, so it
    /// holds across every node on a shared database. `Ok(None)`: another writer recorded an item
    /// since the caller read the resource; nothing was written and nothing was enqueued. The
    /// emulated world's writes go through here ([`crate::world`]): a change is computed from
    /// the state it read and must not land on a newer one. No custom-resource limit applies.
    async fn record_configuration_item_if_latest(
        &self,
        scope: &Scope,
        item: NewConfigurationItem,
        expected_state_id: Option<i64>,
    ) -> StoreResult<Option<ConfigurationItem>>;
    /// Records many items in one transaction (bulk import).
    async fn import_configuration_items(
        &self,
        scope_items: Vec<(Scope, NewConfigurationItem)>,
    ) -> StoreResult<usize>;
    /// The latest item of a resource, deleted or not.
    async fn latest_configuration_item(
        &self,
        scope: &Scope,
        resource_type: &str,
        resource_id: &str,
    ) -> StoreResult<Option<ConfigurationItem>>;
    async fn configuration_history(
        &self,
        scope: &Scope,
        query: &HistoryQuery,
    ) -> StoreResult<Vec<ConfigurationItem>>;
    async fn list_discovered_resources(
        &self,
        scope: &Scope,
        query: &DiscoveredQuery,
    ) -> StoreResult<Vec<DiscoveredResource>>;
}
