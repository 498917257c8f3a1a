//! Where runbooks come from: the [`RunbookSource`] seam that starting, automatic remediation, the
//! engine and the status API look documents up through (held on [`crate::app::App::runbooks`]).
//!
//! The default source is the built-in catalog ([`BuiltinRunbooks`],
//! `remedy_automation::builtin`). This is also the seam the next milestone plugs into: SSM
//! CreateDocument (users' own runbooks) becomes a source that serves stored documents, by name
//! and version, in front of the built-in ones. Tests plug in extra runbooks the same way.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use remedy_automation::Runbook;

/// A catalog of runbooks by document name.
pub trait RunbookSource: Send + Sync {
    /// The runbook named `name`, at `version` (a configuration's `TargetVersion`; `None` is
    /// the default version). `None` when there is no such document (or version).
    fn get(&self, name: &str, version: Option<&str>) -> Option<Arc<Runbook>>;
    /// The names of the documents it serves, sorted (for error messages).
    fn names(&self) -> Vec<String>;
}

/// The built-in catalog. Built-in documents have one version; `version` is not checked.
#[derive(Debug, Default, Clone, Copy)]
pub struct BuiltinRunbooks;

impl RunbookSource for BuiltinRunbooks {
    fn get(&self, name: &str, _version: Option<&str>) -> Option<Arc<Runbook>> {
        static SHARED: OnceLock<BTreeMap<&'static str, Arc<Runbook>>> = OnceLock::new();
        SHARED
            .get_or_init(|| {
                remedy_automation::builtin_names()
                    .into_iter()
                    .filter_map(|n| remedy_automation::builtin(n).map(|r| (n, Arc::new(r.clone()))))
                    .collect()
            })
            .get(name)
            .cloned()
    }

    fn names(&self) -> Vec<String> {
        remedy_automation::builtin_names()
            .into_iter()
            .map(String::from)
            .collect()
    }
}
