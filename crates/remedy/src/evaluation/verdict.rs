//! The contract between the evaluation engine and the evaluators it runs.
//!
//! An evaluator judges one configuration item for one rule and returns a [`Verdict`]. Managed
//! rules (`managed`), Guard policies (`guard`) and — asynchronously, through PutEvaluations —
//! custom Lambda handlers (`lambda`) all end in verdicts; the engine (`engine`) decides *when*
//! to evaluate (triggers, scope) and stores the results.

use remedy_wire::config::ComplianceType;

use crate::domain::ConfigurationItem;

/// What one rule concluded about one resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub compliance: ComplianceType,
    /// Why, in a sentence a user can act on (AWS: at most 256 characters).
    pub annotation: Option<String>,
}

impl Verdict {
    pub fn compliant() -> Self {
        Self {
            compliance: ComplianceType::Compliant,
            annotation: None,
        }
    }

    pub fn non_compliant(annotation: impl Into<String>) -> Self {
        Self {
            compliance: ComplianceType::NonCompliant,
            annotation: Some(annotation.into()),
        }
    }

    pub fn not_applicable(annotation: impl Into<String>) -> Self {
        Self {
            compliance: ComplianceType::NotApplicable,
            annotation: Some(annotation.into()),
        }
    }
}

/// A rule's `InputParameters`, parsed, with the managed rule's documented defaults filled in for
/// parameters the user did not give. Values are kept as JSON (AWS passes strings; users also
/// write numbers and booleans).
pub type Parameters = serde_json::Map<String, serde_json::Value>;

/// Other recorded, not-deleted resources of the same account and region that an evaluator may
/// need besides the item it judges — e.g. an account-level rule looking at every trail.
pub trait ResourceLookup: Send + Sync {
    fn of_type(&self, resource_type: &str) -> Vec<ConfigurationItem>;
}

/// A lookup over a fixed set of items (what the engine preloads; also handy in tests).
impl ResourceLookup for [ConfigurationItem] {
    fn of_type(&self, resource_type: &str) -> Vec<ConfigurationItem> {
        self.iter()
            .filter(|ci| ci.resource_type == resource_type)
            .cloned()
            .collect()
    }
}
