//! Evaluation results and how AWS Config rolls them up into compliance.
//!
//! The store keeps, per (account, region, rule, resource type, resource id), only the latest
//! result: a result whose `OrderingTimestamp` is older than the stored one is ignored (an equal
//! one replaces it, so a rule re-evaluating the same event may correct itself).
//!
//! Roll-ups, per rule over its resources and per resource over its rules, follow AWS:
//! - `NON_COMPLIANT` when any result is `NON_COMPLIANT` (the contributor count is how many);
//! - else `COMPLIANT` when any result is `COMPLIANT`;
//! - else `INSUFFICIENT_DATA`: nothing is known, or every result is `NOT_APPLICABLE` (AWS lists
//!   "the function returned NOT_APPLICABLE for all results" as a cause of INSUFFICIENT_DATA).
//!
//! `NOT_APPLICABLE` never counts towards a roll-up. An entity whose results are all
//! `NOT_APPLICABLE` is reported as `NOT_APPLICABLE` only when the caller's `ComplianceTypes`
//! filter asks for it; otherwise a rule shows `INSUFFICIENT_DATA`, a resource named explicitly
//! shows `INSUFFICIENT_DATA`, and a resource found by listing is left out.
//!
//! Counts are capped as the model documents them: contributor counts at [`CONTRIBUTOR_CAP`],
//! the rule summary at [`RULE_SUMMARY_CAP`], resource summaries at [`RESOURCE_SUMMARY_CAP`];
//! `CapExceeded` says when the real number is larger.

pub mod engine;
pub mod guard;
pub mod lambda;
pub mod managed;
pub mod scope;
pub mod verdict;

use remedy_wire::config::{ComplianceContributorCount, ComplianceType};

use crate::domain::Scope;

/// `ComplianceContributorCount` in DescribeComplianceByConfigRule / ByResource (AWS reports at
/// most 100 contributors).
pub const CONTRIBUTOR_CAP: u32 = 100;
/// GetComplianceSummaryByConfigRule: "up to a maximum of 25 for rules".
pub const RULE_SUMMARY_CAP: u32 = 25;
/// GetComplianceSummaryByResourceType: "up to a maximum of ... 100 for resources".
pub const RESOURCE_SUMMARY_CAP: u32 = 100;
/// Where a store may stop counting one entity's results of one kind: past every cap above, so
/// a count that reached it exceeds them all. A rule with 100,000 NON_COMPLIANT results is
/// summarized by reading 101 index entries, not 100,000 (issue 7's footprint run:
/// DescribeComplianceByConfigRule answered 54 requests/s on that store).
pub const COUNT_CEILING: u32 = 101;
const _: () = assert!(
    COUNT_CEILING > CONTRIBUTOR_CAP
        && COUNT_CEILING > RULE_SUMMARY_CAP
        && COUNT_CEILING > RESOURCE_SUMMARY_CAP
);

/// One stored evaluation result: the latest verdict of one rule on one resource.
#[derive(Debug, Clone, PartialEq)]
pub struct EvaluationRecord {
    pub rule_name: String,
    pub resource_type: String,
    pub resource_id: String,
    pub compliance_type: ComplianceType,
    pub annotation: Option<String>,
    /// When the event that triggered the evaluation happened (the caller's clock).
    pub ordering_timestamp: f64,
    /// When remedy stored the result.
    pub result_recorded_time: f64,
    /// When the rule was invoked (for custom rules: when the result token was minted).
    pub config_rule_invoked_time: f64,
}

/// A stored result whose compliance type changed (or that appeared for the first time).
///
/// Sent on [`crate::app::App::compliance_events`] after the change is durable. This is the hook
/// automatic remediation subscribes to: a `new` of `NON_COMPLIANT` is its trigger. Receivers
/// that fall behind lose the oldest events (a `broadcast` channel), so they should treat the
/// store, not the stream, as the truth.
#[derive(Debug, Clone, PartialEq)]
pub struct ComplianceChanged {
    pub scope: Scope,
    pub rule: String,
    pub resource_type: String,
    pub resource_id: String,
    /// The previous compliance type; `None` when the resource had no result for this rule.
    pub old: Option<ComplianceType>,
    pub new: ComplianceType,
}

/// How many results of each kind an entity (a rule, or a resource) has. Each count may be
/// capped by the store at [`COUNT_CEILING`], one more than the largest cap reported, which is
/// enough to compute every capped count and every roll-up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ComplianceCounts {
    pub non_compliant: u32,
    pub compliant: u32,
    pub not_applicable: u32,
}

/// The roll-up class of an entity, before presentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RollUp {
    NonCompliant(u32),
    Compliant,
    /// Results exist, all `NOT_APPLICABLE`.
    NotApplicable,
    /// No results at all.
    Nothing,
}

impl ComplianceCounts {
    pub fn roll_up(&self) -> RollUp {
        if self.non_compliant > 0 {
            RollUp::NonCompliant(self.non_compliant)
        } else if self.compliant > 0 {
            RollUp::Compliant
        } else if self.not_applicable > 0 {
            RollUp::NotApplicable
        } else {
            RollUp::Nothing
        }
    }
}

/// A count capped at `cap`, as the wire reports it.
pub fn capped(count: u32, cap: u32) -> ComplianceContributorCount {
    ComplianceContributorCount {
        capped_count: Some(count.min(cap) as i32),
        cap_exceeded: Some(count > cap),
    }
}

/// What a `ComplianceTypes` filter asks for. Empty means "everything" (except entities whose
/// results are all NOT_APPLICABLE, which only show when asked for).
#[derive(Debug, Clone, Default)]
pub struct ComplianceFilter {
    types: Vec<ComplianceType>,
}

impl ComplianceFilter {
    pub fn new(types: Option<Vec<ComplianceType>>) -> Self {
        Self {
            types: types.unwrap_or_default(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }

    pub fn allows(&self, t: &ComplianceType) -> bool {
        self.types.is_empty() || self.types.contains(t)
    }

    pub fn asks_for(&self, t: &ComplianceType) -> bool {
        self.types.contains(t)
    }

    pub fn types(&self) -> &[ComplianceType] {
        &self.types
    }

    /// How an entity with this roll-up is shown, or `None` when the filter leaves it out.
    /// `listed`: the entity was found by listing (a resource not named by the caller), so an
    /// all-NOT_APPLICABLE or unknown entity is omitted unless asked for.
    pub fn present(&self, roll_up: RollUp, listed: bool) -> Option<(ComplianceType, Option<u32>)> {
        let (shown, contributors) = match roll_up {
            RollUp::NonCompliant(n) => (ComplianceType::NonCompliant, Some(n)),
            RollUp::Compliant => (ComplianceType::Compliant, None),
            RollUp::NotApplicable if self.asks_for(&ComplianceType::NotApplicable) => {
                (ComplianceType::NotApplicable, None)
            }
            RollUp::NotApplicable | RollUp::Nothing if listed => return None,
            RollUp::NotApplicable | RollUp::Nothing => (ComplianceType::InsufficientData, None),
        };
        self.allows(&shown).then_some((shown, contributors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(nc: u32, c: u32, na: u32) -> ComplianceCounts {
        ComplianceCounts {
            non_compliant: nc,
            compliant: c,
            not_applicable: na,
        }
    }

    #[test]
    fn non_compliant_wins_and_not_applicable_is_excluded() {
        assert_eq!(counts(2, 5, 1).roll_up(), RollUp::NonCompliant(2));
        assert_eq!(counts(0, 5, 9).roll_up(), RollUp::Compliant);
        assert_eq!(counts(0, 0, 9).roll_up(), RollUp::NotApplicable);
        assert_eq!(counts(0, 0, 0).roll_up(), RollUp::Nothing);
    }

    #[test]
    fn presentation_follows_the_filter() {
        let none = ComplianceFilter::default();
        assert_eq!(
            none.present(RollUp::NotApplicable, false),
            Some((ComplianceType::InsufficientData, None))
        );
        assert_eq!(none.present(RollUp::NotApplicable, true), None);
        assert_eq!(
            none.present(RollUp::NonCompliant(3), true),
            Some((ComplianceType::NonCompliant, Some(3)))
        );
        let na = ComplianceFilter::new(Some(vec![ComplianceType::NotApplicable]));
        assert_eq!(
            na.present(RollUp::NotApplicable, true),
            Some((ComplianceType::NotApplicable, None))
        );
        assert_eq!(na.present(RollUp::Compliant, true), None);
        let id = ComplianceFilter::new(Some(vec![ComplianceType::InsufficientData]));
        assert_eq!(
            id.present(RollUp::Nothing, false),
            Some((ComplianceType::InsufficientData, None))
        );
        assert_eq!(id.present(RollUp::Nothing, true), None);
    }

    #[test]
    fn caps() {
        assert_eq!(capped(3, 25).capped_count, Some(3));
        assert_eq!(capped(25, 25).cap_exceeded, Some(false));
        let over = capped(26, 25);
        assert_eq!(
            (over.capped_count, over.cap_exceeded),
            (Some(25), Some(true))
        );
    }
}
