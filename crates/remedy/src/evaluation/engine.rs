//! The evaluation engine: decides *when* rules evaluate which resources, runs the evaluators and
//! stores their results.
//!
//! # Queue
//!
//! Work lives in the store's durable queue ([`crate::store::EvaluationQueueStore`]), written in
//! the same transaction as what calls for it (a transactional outbox):
//! - a recorded configuration item (PutResourceConfig, DeleteResourceConfig, `remedy import`)
//!   enqueues a *resource job* for that resource — at most one pending per resource, so a burst
//!   of changes to one resource is evaluated once, on its latest item;
//! - a created or updated rule enqueues a *rule job* (every resource in its scope);
//! - StartConfigRulesEvaluation enqueues an on-demand rule job (the rule shows `EVALUATING`
//!   until it finishes; another request meanwhile is refused);
//! - a periodic rule's timer (table `rule_schedules`, `next_at` per rule) enqueues a rule job
//!   once per period, across restarts.
//!
//! # Worker
//!
//! One background task. It wakes on [`crate::app::App::evaluation_wakeup`] (notified by the
//! store after each enqueueing commit) and polls every second; it claims up to
//! [`CLAIM_BATCH`] jobs at a time, groups them per account and region, loads the rules once
//! per group, reads the affected items in batches, evaluates, stores each rule's results with
//! one write, and deletes the finished jobs. A crash between claim and finish leaves the jobs
//! claimed; the next start releases them, so they run again (evaluation is idempotent: results
//! are keyed by the item's capture time).
//!
//! On PostgreSQL every node runs this engine on the shared queue. A node that dies mid-batch
//! (its liveness lock freed with its connection) has its claims released by the others: by
//! each engine at start and every [`NODE_RESCUE_INTERVAL`] while running
//! ([`crate::store::EvaluationQueueStore::release_dead_node_evaluation_claims`]), so its jobs
//! run again within about that interval. A claim older than [`STALE_CLAIM_SECONDS`] is taken
//! whoever holds it (a live node that is stuck).
//!
//! Per (resource, rule in scope), by the rule's owner:
//! - `AWS`: the managed evaluator (`managed::evaluator`), with the catalog defaults filled into
//!   the parameters; a rule without an evaluator yields no result (and a rule-wide run records
//!   the failure `NoEvaluatorAvailable` in its evaluation status);
//! - `CUSTOM_POLICY`: the Guard policy over the item's notification form; a policy error is
//!   recorded as the rule's evaluation failure;
//! - `CUSTOM_LAMBDA`: the rule's handler is invoked (spawned, at most [`LAMBDA_CONCURRENCY`]
//!   at once); its results arrive later through PutEvaluations.
//!
//! Results carry `OrderingTimestamp` = the item's capture time and `ConfigRuleInvokedTime` /
//! `ResultRecordedTime` = now. Every stored change is broadcast on
//! [`crate::app::App::compliance_events`].
//!
//! # Leaving scope, deletion
//!
//! A change that moves a resource out of a rule's scope (its type, id or tags no longer match)
//! stores `NOT_APPLICABLE` for that rule (annotation "The resource is no longer in the rule's
//! scope."), as AWS's `eventLeftScope` does; a Lambda rule's handler is also invoked with
//! `eventLeftScope: true`.
//!
//! A resource whose latest item records its deletion (`ResourceDeleted`,
//! `ResourceDeletedNotRecorded`) loses every result (they no longer appear in any compliance
//! query). For each removed result that was `COMPLIANT` or `NON_COMPLIANT` a
//! [`ComplianceChanged`] with `old` = that type and `new` = `NOT_APPLICABLE` is broadcast, so a
//! subscriber stops treating the resource as non-compliant; removed `NOT_APPLICABLE` results
//! send nothing. Lambda handlers are not invoked for deleted resources.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use remedy_wire::config::{ComplianceType, Owner};
use tokio::sync::{watch, Semaphore};

use super::scope::{in_scope, judged_types, triggers, Triggers};
use super::verdict::{Parameters, ResourceLookup, Verdict};
use super::{ComplianceChanged, EvaluationRecord};
use crate::app::App;
use crate::background::Background;
use crate::domain::{is_deleted_status, ConfigurationItem, RuleRecord, Scope};
use crate::rule_sets::{RuleSet, RuleSets};
use crate::store::evaluation_queue::{EvaluationJob, JobOrigin, JobTarget, RuleJobOutcome};
use crate::store::{StoreResult, NODE_RESCUE_INTERVAL};

/// Jobs claimed at once.
pub const CLAIM_BATCH: usize = 500;
/// Items read (and evaluated, and stored) at once during a rule-wide job.
const ITEM_PAGE: usize = 500;
/// How often the worker looks at the queue and the periodic schedules without being woken.
const POLL: Duration = Duration::from_secs(1);
/// Lambda handler invocations in flight at once.
pub const LAMBDA_CONCURRENCY: usize = 32;
/// A claim older than this is taken to belong to a claimer that died.
const STALE_CLAIM_SECONDS: f64 = 600.0;
/// AWS caps annotations at 256 characters.
const MAX_ANNOTATION: usize = 256;
const LEFT_SCOPE: &str = "The resource is no longer in the rule's scope.";

/// The adapters to the evaluators: each hides one evaluator family's entry point (an adapter
/// answering `None` means "no evaluator": no result).
mod adapters {
    use super::*;

    /// A managed rule's evaluator.
    pub struct Managed {
        pub resource_types: Vec<String>,
        pub related_types: Vec<String>,
        pub evaluate: fn(&Parameters, &ConfigurationItem, &dyn ResourceLookup) -> Verdict,
    }

    pub fn managed(identifier: &str) -> Option<Managed> {
        let m = crate::evaluation::managed::evaluator(identifier)?;
        Some(Managed {
            resource_types: m.resource_types.iter().map(|t| t.to_string()).collect(),
            related_types: m.related_types.iter().map(|t| t.to_string()).collect(),
            evaluate: m.evaluate,
        })
    }

    pub fn managed_parameters(identifier: &str, input: &Parameters) -> Parameters {
        crate::evaluation::managed::parameters_with_defaults(identifier, input)
    }

    /// `Some`: every policy rule has an evaluator (`guard::evaluate`).
    pub fn guard(
        policy: &str,
        item: &serde_json::Value,
        parameters: &Parameters,
    ) -> Option<Result<Verdict, String>> {
        Some(crate::evaluation::guard::evaluate(policy, item, parameters))
    }

    /// `Some`: the handler was fired (`lambda::invoke`); its results arrive through
    /// PutEvaluations.
    pub async fn lambda(
        app: &App,
        rule: &RuleRecord,
        item: Option<&ConfigurationItem>,
        message_type: &str,
        event_left_scope: bool,
    ) -> Option<Result<(), String>> {
        Some(
            crate::evaluation::lambda::invoke(app, rule, item, message_type, event_left_scope)
                .await,
        )
    }
}

/// How a rule is evaluated.
enum Evaluator {
    Managed(Option<adapters::Managed>),
    Guard(String),
    Lambda,
    /// An owner remedy cannot evaluate.
    None,
}

/// A rule as the engine runs it.
struct PlannedRule {
    record: Arc<RuleRecord>,
    evaluator: Evaluator,
    triggers: Triggers,
    /// A managed rule's evaluator types (its default scope).
    default_types: Option<Vec<String>>,
    parameters: Parameters,
}

impl PlannedRule {
    fn new(app: &App, record: RuleRecord) -> Self {
        let source = record.rule.source.clone().unwrap_or_default();
        let input: Parameters = record
            .rule
            .input_parameters
            .as_deref()
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default();
        let identifier = source.source_identifier.clone().unwrap_or_default();
        let (evaluator, default_types, parameters) = match source.owner {
            Some(Owner::Aws) => {
                let managed = adapters::managed(&identifier);
                let types = match &managed {
                    Some(m) => m.resource_types.clone(),
                    None => app
                        .managed_rules
                        .get(&identifier)
                        .map(|m| m.resource_types.clone())
                        .unwrap_or_default(),
                };
                let params = adapters::managed_parameters(&identifier, &input);
                (Evaluator::Managed(managed), Some(types), params)
            }
            Some(Owner::CustomPolicy) => {
                let policy = source
                    .custom_policy_details
                    .and_then(|d| d.policy_text)
                    .unwrap_or_default();
                (Evaluator::Guard(policy), None, input)
            }
            Some(Owner::CustomLambda) => (Evaluator::Lambda, None, input),
            _ => (Evaluator::None, None, input),
        };
        Self {
            triggers: triggers(&app.managed_rules, &record.rule),
            record: Arc::new(record),
            evaluator,
            default_types,
            parameters,
        }
    }

    fn name(&self) -> &str {
        &self.record.name
    }

    fn applies_to(&self, ci: &ConfigurationItem) -> bool {
        in_scope(&self.record.rule, self.default_types.as_deref(), ci)
    }

    fn related_types(&self) -> &[String] {
        match &self.evaluator {
            Evaluator::Managed(Some(m)) => &m.related_types,
            _ => &[],
        }
    }
}

/// Items preloaded for evaluators that look at other resources.
struct Preloaded(HashMap<String, Vec<ConfigurationItem>>);

impl ResourceLookup for Preloaded {
    fn of_type(&self, resource_type: &str) -> Vec<ConfigurationItem> {
        self.0.get(resource_type).cloned().unwrap_or_default()
    }
}

/// Starts the engine on the current runtime; stopping it ends it after the batch in hand (queued
/// work stays queued).
pub fn start(app: Arc<App>) -> Background {
    Background::spawn(|stop| run(app, stop))
}

async fn run(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    match app.store.release_evaluation_claims().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(jobs = n, "evaluation: resuming unfinished jobs"),
        Err(e) => tracing::error!(error = %e, "evaluation: cannot release claimed jobs"),
    }
    let engine = Engine {
        app: app.clone(),
        lambda_slots: Arc::new(Semaphore::new(LAMBDA_CONCURRENCY)),
        planned: RuleSets::default(),
    };
    let mut next_tick = Instant::now();
    let mut next_rescue = Instant::now() + NODE_RESCUE_INTERVAL;
    loop {
        if *stop.borrow() {
            break;
        }
        if Instant::now() >= next_tick {
            next_tick = Instant::now() + POLL;
            if let Err(e) = app.store.enqueue_due_periodic(crate::time::now()).await {
                tracing::warn!(error = %e, "evaluation: periodic schedule check failed");
            }
        }
        if Instant::now() >= next_rescue {
            next_rescue = Instant::now() + NODE_RESCUE_INTERVAL;
            match app.store.release_dead_node_evaluation_claims().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    jobs = n,
                    "evaluation: taking over the jobs of a node that is gone"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "evaluation: cannot release the jobs of nodes that are gone")
                }
            }
        }
        let now = crate::time::now();
        match app
            .store
            .claim_evaluation_jobs(now, CLAIM_BATCH, now - STALE_CLAIM_SECONDS)
            .await
        {
            Ok(jobs) if !jobs.is_empty() => {
                engine.process(jobs).await;
                continue;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "evaluation: cannot claim jobs"),
        }
        tokio::select! {
            _ = app.evaluation_wakeup.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
            changed = stop.changed() => if changed.is_err() { break },
        }
    }
    tracing::debug!("evaluation engine stopped");
}

struct Engine {
    app: Arc<App>,
    lambda_slots: Arc<Semaphore>,
    /// Each scope's planned rules, kept between batches (issue 7: reading and planning 100 rules
    /// per batch was 10–20 % of a PutResourceConfig's cost).
    planned: RuleSets<Vec<PlannedRule>>,
}

impl RuleSet for Vec<PlannedRule> {
    /// A planned rule holds its decoded `ConfigRule` and parameters: about a kilobyte.
    fn weight(&self) -> usize {
        self.len() * 1024
    }
}

/// One evaluation to run: a rule (index into the planned rules) on an item.
struct Pair {
    rule: usize,
    item: ConfigurationItem,
}

impl Engine {
    async fn process(&self, jobs: Vec<EvaluationJob>) {
        let started = Instant::now();
        let count = jobs.len();
        let mut by_scope: BTreeMap<(String, String), Vec<EvaluationJob>> = BTreeMap::new();
        for j in jobs {
            by_scope
                .entry((j.scope.account.clone(), j.scope.region.clone()))
                .or_default()
                .push(j);
        }
        for ((account, region), jobs) in by_scope {
            let scope = Scope::new(account, region);
            match self.process_scope(&scope, &jobs).await {
                Ok(outcomes) => {
                    let ids: Vec<i64> = jobs.iter().map(|j| j.id).collect();
                    if let Err(e) = self
                        .app
                        .store
                        .finish_evaluation_jobs(&ids, &outcomes, crate::time::now())
                        .await
                    {
                        tracing::warn!(error = %e, "evaluation: cannot finish jobs");
                    }
                }
                // The jobs stay claimed: they run again after a restart (or once stale).
                Err(e) => tracing::error!(
                    error = %e,
                    account = %scope.account,
                    region = %scope.region,
                    "evaluation: batch failed"
                ),
            }
        }
        tracing::debug!(
            jobs = count,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "evaluation: batch done"
        );
    }

    /// The scope's rules as the engine runs them: kept between batches while the scope's rules
    /// are unchanged ([`crate::rule_sets`]).
    async fn rules(&self, scope: &Scope) -> StoreResult<Arc<Vec<PlannedRule>>> {
        self.planned
            .get(self.app.store.as_ref(), scope, || self.load_rules(scope))
            .await
    }

    async fn load_rules(&self, scope: &Scope) -> StoreResult<Vec<PlannedRule>> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .app
                .store
                .list_rules(scope, after.as_deref(), 100)
                .await?;
            let done = page.len() < 100;
            after = page.last().map(|r| r.name.clone());
            out.extend(page.into_iter().map(|r| PlannedRule::new(&self.app, r)));
            if done {
                return Ok(out);
            }
        }
    }

    async fn process_scope(
        &self,
        scope: &Scope,
        jobs: &[EvaluationJob],
    ) -> StoreResult<Vec<RuleJobOutcome>> {
        let rules = self.rules(scope).await?;
        let mut seen = HashSet::new();
        let mut keys = Vec::new();
        let mut rule_jobs = Vec::new();
        for j in jobs {
            match &j.target {
                JobTarget::Resource {
                    resource_type,
                    resource_id,
                } => {
                    if seen.insert((resource_type.clone(), resource_id.clone())) {
                        keys.push((resource_type.clone(), resource_id.clone()));
                    }
                }
                JobTarget::Rule { rule_name } => rule_jobs.push((rule_name.clone(), j.origin)),
            }
        }
        if !keys.is_empty() {
            self.resource_jobs(scope, &rules, &keys).await?;
        }
        let mut outcomes = Vec::new();
        for (name, origin) in rule_jobs {
            let Some(index) = rules.iter().position(|r| r.name() == name) else {
                continue; // deleted since
            };
            self.rule_job(scope, &rules, index, origin).await?;
            outcomes.push(RuleJobOutcome {
                scope: scope.clone(),
                rule_name: name,
                period_seconds: rules[index].triggers.period_seconds,
            });
        }
        Ok(outcomes)
    }

    /// Re-evaluates changed resources against every change-triggered rule.
    async fn resource_jobs(
        &self,
        scope: &Scope,
        rules: &Arc<Vec<PlannedRule>>,
        keys: &[(String, String)],
    ) -> StoreResult<()> {
        let items = self
            .app
            .store
            .latest_configuration_items(scope, keys)
            .await?;
        let (deleted, live): (Vec<_>, Vec<_>) = items
            .into_iter()
            .partition(|ci| is_deleted_status(&ci.status));
        if !deleted.is_empty() {
            let keys: Vec<(String, String)> = deleted
                .iter()
                .map(|ci| (ci.resource_type.clone(), ci.resource_id.clone()))
                .collect();
            let removed = self.app.store.delete_resource_results(scope, &keys).await?;
            for r in removed {
                if r.compliance_type == ComplianceType::NotApplicable {
                    continue;
                }
                let _ = self.app.compliance_events.send(ComplianceChanged {
                    scope: scope.clone(),
                    rule: r.rule_name,
                    resource_type: r.resource_type,
                    resource_id: r.resource_id,
                    old: Some(r.compliance_type),
                    new: ComplianceType::NotApplicable,
                });
            }
        }
        if live.is_empty() {
            return Ok(());
        }
        let live_keys: Vec<(String, String)> = live
            .iter()
            .map(|ci| (ci.resource_type.clone(), ci.resource_id.clone()))
            .collect();
        let mut judged: HashMap<(String, String), HashMap<String, ComplianceType>> = HashMap::new();
        for r in self
            .app
            .store
            .resource_rule_results(scope, &live_keys)
            .await?
        {
            judged
                .entry((r.resource_type, r.resource_id))
                .or_default()
                .insert(r.rule_name, r.compliance_type);
        }
        let mut pairs = Vec::new();
        let mut left = Vec::new();
        for ci in live {
            let previous = judged.get(&(ci.resource_type.clone(), ci.resource_id.clone()));
            for (index, rule) in rules.iter().enumerate() {
                if !rule.triggers.change {
                    continue;
                }
                if rule.applies_to(&ci) {
                    pairs.push(Pair {
                        rule: index,
                        item: ci.clone(),
                    });
                } else if previous
                    .and_then(|p| p.get(rule.name()))
                    .is_some_and(|t| *t != ComplianceType::NotApplicable)
                {
                    left.push(Pair {
                        rule: index,
                        item: ci.clone(),
                    });
                }
            }
        }
        self.evaluate(scope, rules, pairs).await?;
        self.left_scope(scope, rules, left).await
    }

    /// Evaluates one rule against every resource in its scope.
    async fn rule_job(
        &self,
        scope: &Scope,
        rules: &Arc<Vec<PlannedRule>>,
        index: usize,
        origin: JobOrigin,
    ) -> StoreResult<()> {
        let rule = &rules[index];
        let now = crate::time::now();
        match &rule.evaluator {
            Evaluator::Managed(None) => {
                let identifier = rule
                    .record
                    .rule
                    .source
                    .as_ref()
                    .and_then(|s| s.source_identifier.clone())
                    .unwrap_or_default();
                return self
                    .app
                    .store
                    .record_rule_invocation(
                        scope,
                        rule.name(),
                        now,
                        Some((
                            "NoEvaluatorAvailable".into(),
                            format!("remedy has no evaluator for the managed rule {identifier}; it records no results."),
                        )),
                    )
                    .await;
            }
            Evaluator::None => return Ok(()),
            Evaluator::Lambda => {
                if rule.triggers.period_seconds.is_some() {
                    self.invoke_lambda(
                        scope,
                        rule.record.clone(),
                        None,
                        "ScheduledNotification",
                        false,
                    )
                    .await;
                }
                if origin == JobOrigin::Periodic || !rule.triggers.change {
                    return Ok(());
                }
            }
            Evaluator::Managed(Some(_)) | Evaluator::Guard(_) => {}
        }
        let types: Vec<Option<String>> =
            match judged_types(&rule.record.rule, rule.default_types.as_deref()) {
                Some(types) => types.into_iter().map(Some).collect(),
                None => vec![None],
            };
        for t in types {
            let mut after: Option<(String, String)> = None;
            loop {
                let page = self
                    .app
                    .store
                    .current_configuration_items(scope, t.as_deref(), after.as_ref(), ITEM_PAGE)
                    .await?;
                let done = page.len() < ITEM_PAGE;
                after = page
                    .last()
                    .map(|ci| (ci.resource_type.clone(), ci.resource_id.clone()));
                let pairs = page
                    .into_iter()
                    .filter(|ci| rule.applies_to(ci))
                    .map(|item| Pair { rule: index, item })
                    .collect();
                self.evaluate(scope, rules, pairs).await?;
                if done {
                    break;
                }
            }
        }
        if !matches!(rule.evaluator, Evaluator::Lambda) {
            // The rule-wide evaluation finished: LastSuccessfulEvaluationTime says so, even when
            // no resource is in scope.
            let _ = self
                .app
                .store
                .put_evaluation_results(scope, rule.name(), &[], crate::time::now())
                .await;
        }
        Ok(())
    }

    /// Runs the evaluators over the pairs and stores the results, one write per rule.
    async fn evaluate(
        &self,
        scope: &Scope,
        rules: &Arc<Vec<PlannedRule>>,
        pairs: Vec<Pair>,
    ) -> StoreResult<()> {
        if pairs.is_empty() {
            return Ok(());
        }
        let (lambda, local): (Vec<Pair>, Vec<Pair>) = pairs
            .into_iter()
            .partition(|p| matches!(rules[p.rule].evaluator, Evaluator::Lambda));
        for p in lambda {
            let record = rules[p.rule].record.clone();
            self.invoke_lambda(
                scope,
                record,
                Some(p.item),
                "ConfigurationItemChangeNotification",
                false,
            )
            .await;
        }
        if local.is_empty() {
            return Ok(());
        }
        // Other resources the managed evaluators read.
        let mut related: HashSet<String> = HashSet::new();
        for p in &local {
            related.extend(rules[p.rule].related_types().iter().cloned());
        }
        let mut preloaded = HashMap::new();
        for t in related {
            preloaded.insert(t.clone(), self.all_items(scope, &t).await?);
        }
        let lookup = Preloaded(preloaded);
        let rules_for_cpu = rules.clone();
        // The evaluators are CPU work: off the async threads, a whole batch at once.
        let verdicts = tokio::task::spawn_blocking(move || {
            local
                .into_iter()
                .filter_map(|p| {
                    let rule = &rules_for_cpu[p.rule];
                    let verdict = match &rule.evaluator {
                        Evaluator::Managed(Some(m)) => {
                            Ok((m.evaluate)(&rule.parameters, &p.item, &lookup))
                        }
                        Evaluator::Guard(policy) => {
                            adapters::guard(policy, &p.item.to_notification(), &rule.parameters)?
                        }
                        _ => return None,
                    };
                    Some((p, verdict))
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| crate::store::StoreError::Backend(format!("evaluator panicked: {e}")))?;
        let now = crate::time::now();
        let mut per_rule: BTreeMap<usize, Vec<EvaluationRecord>> = BTreeMap::new();
        let mut failures: BTreeMap<usize, String> = BTreeMap::new();
        for (p, verdict) in verdicts {
            match verdict {
                Ok(v) => per_rule.entry(p.rule).or_default().push(record(
                    rules[p.rule].name(),
                    &p.item,
                    v,
                    now,
                )),
                Err(message) => {
                    failures.entry(p.rule).or_insert(format!(
                        "Evaluating {} {}: {message}",
                        p.item.resource_type, p.item.resource_id
                    ));
                }
            }
        }
        for (index, records) in per_rule {
            self.store_results(scope, rules[index].name(), &records)
                .await?;
        }
        for (index, message) in failures {
            self.app
                .store
                .record_rule_invocation(
                    scope,
                    rules[index].name(),
                    now,
                    Some((
                        "CustomPolicyEvaluationFailed".into(),
                        truncate(&message, 1000),
                    )),
                )
                .await?;
        }
        Ok(())
    }

    /// Stores NOT_APPLICABLE for rules the resources left, and tells Lambda handlers.
    async fn left_scope(
        &self,
        scope: &Scope,
        rules: &Arc<Vec<PlannedRule>>,
        pairs: Vec<Pair>,
    ) -> StoreResult<()> {
        let now = crate::time::now();
        let mut per_rule: BTreeMap<usize, Vec<EvaluationRecord>> = BTreeMap::new();
        for p in pairs {
            let rule = &rules[p.rule];
            if matches!(rule.evaluator, Evaluator::Lambda) {
                self.invoke_lambda(
                    scope,
                    rule.record.clone(),
                    Some(p.item.clone()),
                    "ConfigurationItemChangeNotification",
                    true,
                )
                .await;
            }
            per_rule.entry(p.rule).or_default().push(record(
                rule.name(),
                &p.item,
                Verdict::not_applicable(LEFT_SCOPE),
                now,
            ));
        }
        for (index, records) in per_rule {
            self.store_results(scope, rules[index].name(), &records)
                .await?;
        }
        Ok(())
    }

    async fn store_results(
        &self,
        scope: &Scope,
        rule: &str,
        records: &[EvaluationRecord],
    ) -> StoreResult<()> {
        let changes = match self
            .app
            .store
            .put_evaluation_results(scope, rule, records, crate::time::now())
            .await
        {
            Ok(c) => c,
            Err(crate::store::StoreError::NotFound) => return Ok(()), // the rule was deleted
            Err(e) => return Err(e),
        };
        for c in changes {
            let _ = self.app.compliance_events.send(ComplianceChanged {
                scope: scope.clone(),
                rule: rule.to_string(),
                resource_type: c.resource_type,
                resource_id: c.resource_id,
                old: c.old,
                new: c.new,
            });
        }
        Ok(())
    }

    async fn all_items(
        &self,
        scope: &Scope,
        resource_type: &str,
    ) -> StoreResult<Vec<ConfigurationItem>> {
        let mut out = Vec::new();
        let mut after: Option<(String, String)> = None;
        loop {
            let page = self
                .app
                .store
                .current_configuration_items(scope, Some(resource_type), after.as_ref(), ITEM_PAGE)
                .await?;
            let done = page.len() < ITEM_PAGE;
            after = page
                .last()
                .map(|ci| (ci.resource_type.clone(), ci.resource_id.clone()));
            out.extend(page);
            if done {
                return Ok(out);
            }
        }
    }

    /// Fires a Lambda rule's handler in the background. Waits only for a free slot (at most
    /// [`LAMBDA_CONCURRENCY`] invocations run at once).
    async fn invoke_lambda(
        &self,
        scope: &Scope,
        rule: Arc<RuleRecord>,
        item: Option<ConfigurationItem>,
        message_type: &'static str,
        event_left_scope: bool,
    ) {
        let Ok(permit) = self.lambda_slots.clone().acquire_owned().await else {
            return;
        };
        let app = self.app.clone();
        let scope = scope.clone();
        tokio::spawn(async move {
            let outcome =
                adapters::lambda(&app, &rule, item.as_ref(), message_type, event_left_scope).await;
            drop(permit);
            let failure = match outcome {
                None => return,
                Some(Ok(())) => None,
                Some(Err(message)) => Some((
                    "LambdaInvocationFailed".to_string(),
                    truncate(&message, 1000),
                )),
            };
            if let Err(e) = app
                .store
                .record_rule_invocation(&scope, &rule.name, crate::time::now(), failure)
                .await
            {
                tracing::warn!(error = %e, rule = %rule.name, "evaluation: cannot record the invocation");
            }
        });
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    s.chars().take(max.saturating_sub(1)).chain(['…']).collect()
}

fn record(rule: &str, item: &ConfigurationItem, verdict: Verdict, now: f64) -> EvaluationRecord {
    EvaluationRecord {
        rule_name: rule.to_string(),
        resource_type: item.resource_type.clone(),
        resource_id: item.resource_id.clone(),
        compliance_type: verdict.compliance,
        annotation: verdict.annotation.map(|a| truncate(&a, MAX_ANNOTATION)),
        ordering_timestamp: item.capture_time,
        result_recorded_time: now,
        config_rule_invoked_time: now,
    }
}
