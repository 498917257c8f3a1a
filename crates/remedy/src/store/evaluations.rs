//! The store's side of rule evaluation: results, per-rule evaluation status and the result-token
//! secret. Like [`super::Store`], each method is one atomic unit of work.

use async_trait::async_trait;
use remedy_wire::config::ComplianceType;

use super::StoreResult;
use crate::domain::Scope;
use crate::evaluation::{ComplianceCounts, EvaluationRecord};

/// A result that was stored and whose compliance type differs from what was there before.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredChange {
    pub resource_type: String,
    pub resource_id: String,
    pub old: Option<ComplianceType>,
    pub new: ComplianceType,
}

/// A rule with the counts of its results (for compliance roll-ups).
#[derive(Debug, Clone, PartialEq)]
pub struct RuleCompliance {
    pub rule_name: String,
    pub counts: ComplianceCounts,
}

/// What a rule's stored result for one resource says, and the ordering timestamp of the event
/// it judged (automatic remediation compares it with its executions' queue times).
#[derive(Debug, Clone, PartialEq)]
pub struct ResultState {
    pub compliance: ComplianceType,
    pub ordering_timestamp: f64,
}

/// A resource with the counts of its results across rules.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceCompliance {
    pub resource_type: String,
    pub resource_id: String,
    pub counts: ComplianceCounts,
}

/// Per resource type: how many resources roll up COMPLIANT and NON_COMPLIANT.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TypeSummary {
    pub compliant: u32,
    pub non_compliant: u32,
}

/// A rule's evaluation status, joined with its identity.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RuleEvaluationStatus {
    pub rule_name: String,
    pub rule_id: String,
    pub rule_arn: String,
    pub first_activated_time: f64,
    pub last_successful_invocation_time: Option<f64>,
    pub last_failed_invocation_time: Option<f64>,
    pub last_successful_evaluation_time: Option<f64>,
    pub last_failed_evaluation_time: Option<f64>,
    pub last_error_code: Option<String>,
    pub last_error_message: Option<String>,
    pub first_evaluation_started: bool,
}

/// Filter for listing results.
#[derive(Debug, Clone, Default)]
pub struct ResultQuery {
    /// Only these compliance types (empty: all).
    pub compliance_types: Vec<ComplianceType>,
    pub limit: usize,
}

#[async_trait]
pub trait EvaluationStore: Send + Sync + 'static {
    /// The 32-byte result-token secret, generated and stored on first use.
    async fn result_token_secret(&self) -> StoreResult<Vec<u8>>;

    /// Stores results of one rule, keeping per resource only the one with the latest ordering
    /// timestamp (ties replace). `NotFound` when the rule does not exist. Records the rule's
    /// successful evaluation at `now`. Returns the results whose compliance type changed.
    async fn put_evaluation_results(
        &self,
        scope: &Scope,
        rule_name: &str,
        results: &[EvaluationRecord],
        now: f64,
    ) -> StoreResult<Vec<StoredChange>>;

    /// A rule's results ordered by (resource type, resource id), after `after`.
    async fn list_rule_results(
        &self,
        scope: &Scope,
        rule_name: &str,
        query: &ResultQuery,
        after: Option<&(String, String)>,
    ) -> StoreResult<Vec<EvaluationRecord>>;

    /// A resource's results ordered by rule name, after `after`.
    async fn list_resource_results(
        &self,
        scope: &Scope,
        resource_type: &str,
        resource_id: &str,
        query: &ResultQuery,
        after: Option<&str>,
    ) -> StoreResult<Vec<EvaluationRecord>>;

    /// The stored result of each (resource type, resource id) for a rule, in input order
    /// (`None`: no result).
    async fn result_states(
        &self,
        scope: &Scope,
        rule_name: &str,
        keys: &[(String, String)],
    ) -> StoreResult<Vec<Option<ResultState>>>;

    /// [`Self::result_states`]' compliance types.
    async fn result_compliance(
        &self,
        scope: &Scope,
        rule_name: &str,
        keys: &[(String, String)],
    ) -> StoreResult<Vec<Option<ComplianceType>>> {
        let states = self.result_states(scope, rule_name, keys).await?;
        Ok(states
            .into_iter()
            .map(|s| s.map(|s| s.compliance))
            .collect())
    }

    /// Rules (all, or the named ones that exist) in name order after `after`, with their counts.
    async fn list_rule_compliance(
        &self,
        scope: &Scope,
        names: Option<&[String]>,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<RuleCompliance>>;

    /// Evaluated resources (optionally of one type, optionally one id) in (type, id) order after
    /// `after`, with their counts across rules.
    async fn list_resource_compliance(
        &self,
        scope: &Scope,
        resource_type: Option<&str>,
        resource_id: Option<&str>,
        after: Option<&(String, String)>,
        limit: usize,
    ) -> StoreResult<Vec<ResourceCompliance>>;

    /// Rules rolling up (COMPLIANT, NON_COMPLIANT).
    async fn rule_compliance_summary(&self, scope: &Scope) -> StoreResult<TypeSummary>;

    /// Resources rolling up COMPLIANT / NON_COMPLIANT, per given type, or over all types
    /// (`None`: one summary keyed by the empty string).
    async fn resource_compliance_summary(
        &self,
        scope: &Scope,
        resource_types: Option<&[String]>,
    ) -> StoreResult<Vec<(String, TypeSummary)>>;

    /// Evaluation status of rules (all, or the named ones that exist) in name order after `after`.
    async fn list_rule_evaluation_status(
        &self,
        scope: &Scope,
        names: Option<&[String]>,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<RuleEvaluationStatus>>;

    /// Deletes every result of a rule; `NotFound` when the rule does not exist. Returns how many.
    async fn delete_evaluation_results(&self, scope: &Scope, rule_name: &str)
        -> StoreResult<usize>;
}
