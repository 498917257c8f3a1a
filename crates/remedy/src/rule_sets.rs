//! Each account's rules kept in memory between uses, checked against the store on every use.
//!
//! Reading a scope's rules is most of the work on two hot paths: the evaluation engine plans
//! every rule of the scope for each batch of changes, and DescribeConfigRules reads each named
//! rule with a point read of its own (25 names: 46 % of the call in issue 7's profile). Both keep
//! what they read in a [`RuleSets`], per scope, with the scope's rule-set version
//! ([`crate::store::Store::rule_set_version`]). A later use reads the version again — one point
//! read on SQLite, one index scan on PostgreSQL — and reuses the kept set while it is unchanged.
//! Whoever changes a rule (this node, another node, `remedy import` in another process) moves the
//! version in the same commit, so a kept set is never used after a change has committed: a
//! DescribeConfigRules answered after a PutConfigRule was acknowledged shows the put, on any node.
//!
//! A set just read is kept only when the versions read before and after it agree (no change
//! slipped in between) and it holds rules (an empty scope's version may come back). The kept
//! sets are bounded by their weight: past [`MAX_WEIGHT`] all are dropped and rebuilt as used.
//!
//! After a change, the callers that find the kept set stale at once load it once: one loads
//! while the others wait for it (a per-scope load lock) and then use what it kept, instead of
//! each reading the scope's whole rule set.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::domain::Scope;
use crate::store::{Store, StoreResult};

/// How much one cache keeps, in [`RuleSet::weight`] units (about bytes).
pub const MAX_WEIGHT: usize = 16 << 20;

/// What a [`RuleSets`] keeps per scope.
pub trait RuleSet {
    /// About how many bytes the set holds; 0 when it holds no rule (such a set is not kept).
    fn weight(&self) -> usize;
}

/// A scope's rules as DescribeConfigRules answers them: name → the stored `ConfigRule` JSON, in
/// byte order of the names (the store's order).
pub type RuleBodies = std::collections::BTreeMap<String, String>;

impl RuleSet for RuleBodies {
    fn weight(&self) -> usize {
        self.iter()
            .map(|(name, body)| name.len() + body.len())
            .sum()
    }
}

/// Loads every rule of a scope as [`RuleBodies`], a page at a time.
pub async fn load_bodies(store: &dyn Store, scope: &Scope) -> StoreResult<RuleBodies> {
    const PAGE: usize = 100;
    let mut out = RuleBodies::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .list_rule_bodies(scope, after.as_deref(), PAGE)
            .await?;
        let done = page.len() < PAGE;
        after = page.last().map(|(name, _)| name.clone());
        out.extend(page);
        if done {
            return Ok(out);
        }
    }
}

/// Per scope: the rule-set version a set was read at, its weight, the set.
type Kept<T> = HashMap<Scope, (i64, usize, Arc<T>)>;

/// Per scope, the set last read and the rule-set version it was read at.
pub struct RuleSets<T> {
    kept: Mutex<Kept<T>>,
    /// Per scope, held while the scope's set is being loaded.
    loading: Mutex<HashMap<Scope, Arc<tokio::sync::Mutex<()>>>>,
}

impl<T> Default for RuleSets<T> {
    fn default() -> Self {
        Self {
            kept: Mutex::new(HashMap::new()),
            loading: Mutex::new(HashMap::new()),
        }
    }
}

impl<T: RuleSet> RuleSets<T> {
    /// The scope's set: the kept one while the scope's rule-set version is unchanged, else
    /// `load`ed (and kept, when no change slipped in between and it holds rules).
    pub async fn get<F, Fut>(
        &self,
        store: &dyn Store,
        scope: &Scope,
        load: F,
    ) -> StoreResult<Arc<T>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = StoreResult<T>>,
    {
        let before = store.rule_set_version(scope).await?;
        if let Some(set) = self.kept_at(scope, before) {
            return Ok(set);
        }
        // One load per scope at a time; whoever waited uses what the load before it kept.
        let load_lock = self
            .loading
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(scope.clone())
            .or_default()
            .clone();
        let _loading = load_lock.lock().await;
        if let Some(set) = self.kept_at(scope, before) {
            return Ok(set);
        }
        let set = Arc::new(load().await?);
        let after = store.rule_set_version(scope).await?;
        let mut kept = self.lock();
        kept.remove(scope);
        let weight = set.weight();
        if before == after && weight > 0 {
            let total: usize = kept.values().map(|(_, w, _)| w).sum();
            if total + weight > MAX_WEIGHT {
                kept.clear();
            }
            if weight <= MAX_WEIGHT {
                kept.insert(scope.clone(), (after, weight, set.clone()));
            }
        }
        Ok(set)
    }

    /// The kept set of `scope` if it was read at `version`.
    fn kept_at(&self, scope: &Scope, version: i64) -> Option<Arc<T>> {
        match self.lock().get(scope) {
            Some((at, _, set)) if *at == version => Some(set.clone()),
            _ => None,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Kept<T>> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::domain::RuleRecord;
    use crate::store::sqlite::SqliteStore;

    /// Reads the scope's bodies through `sets`, counting the loads.
    async fn read(
        sets: &RuleSets<RuleBodies>,
        store: &SqliteStore,
        loads: &AtomicUsize,
    ) -> Vec<String> {
        let scope = Scope::new("000000000000", "us-east-1");
        let set = sets
            .get(store, &scope, || {
                loads.fetch_add(1, Ordering::SeqCst);
                load_bodies(store, &scope)
            })
            .await
            .unwrap();
        set.keys().cloned().collect()
    }

    #[tokio::test]
    async fn kept_while_unchanged_read_again_after_any_change() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("remedy.db")).unwrap();
        let scope = Scope::new("000000000000", "us-east-1");
        let sets = RuleSets::<RuleBodies>::default();
        let loads = AtomicUsize::new(0);

        // No rules: nothing is kept, so each read loads.
        assert!(read(&sets, &store, &loads).await.is_empty());
        assert!(read(&sets, &store, &loads).await.is_empty());
        assert_eq!(loads.load(Ordering::SeqCst), 2);

        store
            .insert_rule(&scope, &RuleRecord::active(&scope, "a"), &[], 10)
            .await
            .unwrap();
        assert_eq!(read(&sets, &store, &loads).await, ["a"]);
        assert_eq!(read(&sets, &store, &loads).await, ["a"]);
        assert_eq!(
            loads.load(Ordering::SeqCst),
            3,
            "the second read used the kept set"
        );

        // Another scope's rules change nothing here.
        let other = Scope::new("111111111111", "eu-west-1");
        store
            .insert_rule(&other, &RuleRecord::active(&other, "z"), &[], 10)
            .await
            .unwrap();
        assert_eq!(read(&sets, &store, &loads).await, ["a"]);
        assert_eq!(loads.load(Ordering::SeqCst), 3);

        store
            .insert_rule(&scope, &RuleRecord::active(&scope, "b"), &[], 10)
            .await
            .unwrap();
        assert_eq!(read(&sets, &store, &loads).await, ["a", "b"]);
        store.delete_rule(&scope, "a").await.unwrap();
        assert_eq!(read(&sets, &store, &loads).await, ["b"]);
        assert_eq!(loads.load(Ordering::SeqCst), 5);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn callers_that_miss_at_once_load_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("remedy.db")).unwrap());
        let scope = Scope::new("000000000000", "us-east-1");
        store
            .insert_rule(&scope, &RuleRecord::active(&scope, "a"), &[], 10)
            .await
            .unwrap();
        let sets = Arc::new(RuleSets::<RuleBodies>::default());
        let loads = Arc::new(AtomicUsize::new(0));
        let callers: Vec<_> = (0..16)
            .map(|_| {
                let (sets, store, loads, scope) =
                    (sets.clone(), store.clone(), loads.clone(), scope.clone());
                tokio::spawn(async move {
                    let set = sets
                        .get(store.as_ref(), &scope, || async {
                            loads.fetch_add(1, Ordering::SeqCst);
                            // A slow load: every caller arrives while it runs.
                            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                            load_bodies(store.as_ref(), &scope).await
                        })
                        .await
                        .unwrap();
                    set.keys().cloned().collect::<Vec<_>>()
                })
            })
            .collect();
        for c in callers {
            assert_eq!(c.await.unwrap(), ["a"]);
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_set_read_while_a_rule_changes_is_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("remedy.db")).unwrap();
        let scope = Scope::new("000000000000", "us-east-1");
        store
            .insert_rule(&scope, &RuleRecord::active(&scope, "a"), &[], 10)
            .await
            .unwrap();
        let sets = RuleSets::<RuleBodies>::default();
        // The load reads the rules, then a change commits before the version is read again.
        let set = sets
            .get(&store, &scope, || async {
                let bodies = load_bodies(&store, &scope).await;
                store
                    .insert_rule(&scope, &RuleRecord::active(&scope, "b"), &[], 10)
                    .await
                    .unwrap();
                bodies
            })
            .await
            .unwrap();
        assert_eq!(set.keys().collect::<Vec<_>>(), ["a"]);
        // Not kept: the next read loads, and sees the change.
        let loads = AtomicUsize::new(0);
        assert_eq!(read(&sets, &store, &loads).await, ["a", "b"]);
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }
}
