//! Where runbooks come from: the [`RunbookSource`] seam that starting, automatic remediation, the
//! engine and the status API look documents up through (held on [`crate::app::App::runbooks`]).
//!
//! Documents are per account and region (SSM CreateDocument); the built-in catalog
//! ([`BuiltinRunbooks`], `remedy_automation::builtin`) is global, "owned by Amazon", with one
//! version, `1`. The app's source serves stored documents in front of the built-in ones
//! (`crate::documents`). Tests plug in extra runbooks the same way.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use remedy_automation::Runbook;

use crate::domain::Scope;
use crate::store::executions::ExecutionRecord;
use crate::store::StoreResult;

/// `DocumentVersion` naming the default version.
pub const DEFAULT_VERSION: &str = "$DEFAULT";
/// `DocumentVersion` naming the latest version.
pub const LATEST_VERSION: &str = "$LATEST";
/// The one version of every built-in runbook.
pub const BUILTIN_VERSION: &str = "1";

/// A document resolved to one concrete version.
#[derive(Debug, Clone)]
pub struct ResolvedRunbook {
    pub name: String,
    /// The concrete version number (`"1"` for built-ins): what an execution records, so it keeps
    /// running the version it started with.
    pub version: String,
    pub runbook: Arc<Runbook>,
}

/// A catalog of runbooks by document name and version, scoped by account and region.
#[async_trait]
pub trait RunbookSource: Send + Sync {
    /// The runbook named `name` in `scope`. `version`: `None` or `"$DEFAULT"` is the default
    /// version, `"$LATEST"` the latest, `"N"` that version. `None` when there is no such document
    /// or version.
    async fn resolve(
        &self,
        scope: &Scope,
        name: &str,
        version: Option<&str>,
    ) -> StoreResult<Option<ResolvedRunbook>>;

    /// The runbook an execution runs: its document at the version it was started with.
    async fn resolve_for(&self, rec: &ExecutionRecord) -> StoreResult<Option<ResolvedRunbook>> {
        self.resolve(
            &rec.scope,
            &rec.document_name,
            rec.document_version.as_deref(),
        )
        .await
    }
}

/// The built-in catalog. Built-in documents have one version, `1`.
#[derive(Debug, Default, Clone, Copy)]
pub struct BuiltinRunbooks;

impl BuiltinRunbooks {
    /// The built-in runbook named `name`, at `version` (see [`RunbookSource::resolve`]).
    pub fn get(name: &str, version: Option<&str>) -> Option<ResolvedRunbook> {
        static SHARED: OnceLock<BTreeMap<&'static str, Arc<Runbook>>> = OnceLock::new();
        match version {
            None | Some(DEFAULT_VERSION) | Some(LATEST_VERSION) | Some(BUILTIN_VERSION) => {}
            Some(_) => return None,
        }
        SHARED
            .get_or_init(|| {
                remedy_automation::builtin_names()
                    .into_iter()
                    .filter_map(|n| remedy_automation::builtin(n).map(|r| (n, Arc::new(r.clone()))))
                    .collect()
            })
            .get(name)
            .map(|runbook| ResolvedRunbook {
                name: name.to_string(),
                version: BUILTIN_VERSION.to_string(),
                runbook: runbook.clone(),
            })
    }

    /// The built-in documents' names, sorted.
    pub fn names() -> Vec<&'static str> {
        let mut names = remedy_automation::builtin_names();
        names.sort_unstable();
        names
    }
}

#[async_trait]
impl RunbookSource for BuiltinRunbooks {
    async fn resolve(
        &self,
        _scope: &Scope,
        name: &str,
        version: Option<&str>,
    ) -> StoreResult<Option<ResolvedRunbook>> {
        Ok(Self::get(name, version))
    }
}
