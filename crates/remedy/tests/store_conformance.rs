//! The store conformance suite: one set of test functions over `Arc<dyn Store>`, run against every
//! backend (issue 6).
//!
//! - SQLite always runs (a fresh file per test).
//! - PostgreSQL runs when `REMEDY_TEST_DATABASE_URL` names a server
//!   (e.g. `postgres://postgres@127.0.0.1:5432/postgres`): each test creates its own database
//!   `remedy_test_<uuid>` there and drops it afterwards. Without the variable the PostgreSQL half
//!   passes after saying, once, that it was skipped; `.ci/run` always sets it.
//!
//! Each contract is asserted through the trait only, so a backend passes by behaving, not by
//! sharing code. Where the backends differ by design (start-of-process lease release: a single
//! SQLite process owns its file, PostgreSQL nodes share theirs) the test says so.

use std::collections::HashSet;
use std::io::Write;
use std::sync::{Arc, Once};

use remedy::domain::{
    ExceptionKey, NewConfigurationItem, RemediationConfigRecord, RemediationExceptionRecord,
    RuleRecord, Scope, Tag, STATUS_DELETED,
};
use remedy::evaluation::EvaluationRecord;
use remedy::store::documents::*;
use remedy::store::evaluation_queue::*;
use remedy::store::evaluations::*;
use remedy::store::executions::*;
use remedy::store::metrics::{MetricsStore, StoreMetrics};
use remedy::store::{DiscoveredQuery, HistoryQuery, RuleSelector, Store, StoreError};
use remedy_wire::config::{ComplianceType, ConfigRuleState};

// ---- the two backends -----------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, empty store and what keeps it alive (dropped after the store).
struct Fx {
    store: Arc<dyn Store>,
    backend: Backend,
    /// The PostgreSQL database's URL (a second node may connect to it).
    url: Option<String>,
    _guard: Guard,
}

enum Guard {
    Dir(#[allow(dead_code)] tempfile::TempDir),
    Database(#[allow(dead_code)] PgDatabase),
}

/// A throwaway PostgreSQL database, dropped (with its connections) on drop.
struct PgDatabase {
    admin_url: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let admin = self.admin_url.clone();
        let name = self.name.clone();
        // Drop runs inside the test's runtime: do the async work on a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok((client, conn)) =
                    tokio_postgres::connect(&admin, tokio_postgres::NoTls).await
                {
                    tokio::spawn(conn);
                    let _ = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .await;
                }
            })
        })
        .join();
    }
}

/// `url` with its database name replaced by `db`.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let after_scheme = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_end = base[after_scheme..]
        .find('/')
        .map(|i| after_scheme + i)
        .unwrap_or(base.len());
    let mut out = format!("{}/{db}", &base[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

async fn sqlite() -> Fx {
    let dir = tempfile::tempdir().unwrap();
    let store = remedy::store::sqlite::SqliteStore::open(&dir.path().join("remedy.db")).unwrap();
    Fx {
        store: Arc::new(store),
        backend: Backend::Sqlite,
        url: None,
        _guard: Guard::Dir(dir),
    }
}

static SKIPPED: Once = Once::new();

/// A store on a fresh PostgreSQL database, or `None` (said once) without
/// `REMEDY_TEST_DATABASE_URL`.
async fn postgres() -> Option<Fx> {
    let Ok(admin_url) = std::env::var("REMEDY_TEST_DATABASE_URL") else {
        SKIPPED.call_once(|| {
            // Straight to stderr: the test harness captures `eprintln!`, and this must be seen.
            let _ = writeln!(
                std::io::stderr(),
                "store_conformance: REMEDY_TEST_DATABASE_URL is not set; the PostgreSQL half was skipped"
            );
        });
        return None;
    };
    let name = format!("remedy_test_{}", uuid::Uuid::new_v4().simple());
    let (client, conn) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("REMEDY_TEST_DATABASE_URL does not answer: {e}"));
    let conn = tokio::spawn(conn);
    client
        .batch_execute(&format!("CREATE DATABASE \"{name}\""))
        .await
        .unwrap();
    drop(client);
    let _ = conn.await;
    let guard = PgDatabase {
        admin_url: admin_url.clone(),
        name: name.clone(),
    };
    let url = with_database(&admin_url, &name);
    let store = remedy::store::postgres::PgStore::connect(&url)
        .await
        .unwrap();
    Some(Fx {
        store: Arc::new(store),
        backend: Backend::Postgres,
        url: Some(url),
        _guard: Guard::Database(guard),
    })
}

/// Every test function runs once per backend: `sqlite::<name>` and `postgres::<name>`.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite_backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::sqlite().await).await
                }
            )*
        }
        mod postgres_backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    if let Some(fx) = super::postgres().await {
                        super::$name(fx).await
                    }
                }
            )*
        }
    };
}

conformance!(
    rules_are_limited_unique_paged_by_byte_order_and_deleted_whole,
    the_rule_set_version_moves_with_every_rule_change,
    tags_merge_within_the_limit_or_not_at_all,
    remediation_configurations_keep_their_arn_and_guard_their_rule,
    remediation_exceptions_expire_and_page,
    configuration_items_history_and_discovery,
    evaluation_results_keep_the_latest_and_roll_up,
    rule_compliance_counts_stop_at_the_ceiling,
    evaluation_queue_outbox_claims_and_schedules,
    evaluation_claims_are_exclusive_under_concurrent_claimers,
    periodic_rules_fire_once_under_concurrent_timers,
    executions_are_unique_per_key_claimed_fenced_and_bounded,
    stale_fence_writes_change_nothing,
    execution_claims_are_exclusive_under_concurrent_claimers,
    concurrent_starts_of_one_key_start_one_execution,
    an_automatic_run_acts_on_a_finding_once,
    a_start_racing_its_configurations_deletion_never_outlives_it,
    lease_release_at_start,
    error_percentage_and_automatic_failures,
    direct_executions_tokens_and_stops,
    execution_statuses_show_the_committed_steps,
    documents_versions_defaults_and_limits,
    limits_hold_under_concurrent_writers,
    results_stay_newest_under_concurrent_writers,
    a_batch_naming_one_resource_twice_applies_both_in_order,
    concurrent_records_of_one_resource_keep_a_strict_history,
    the_concurrency_bound_holds_under_concurrent_claimers,
    ping_and_evaluation_signal,
    a_refused_write_writes_nothing,
    configuration_item_compare_and_set_refuses_a_stale_state,
    world_writes_through_two_store_handles_lose_no_change,
    metrics_count_executions_by_state_leases_and_evaluation_claims,
    the_periodic_rescue_takes_only_dead_nodes_work,
    a_gone_nodes_claim_merges_with_a_job_enqueued_meanwhile,
);

// ---- fixtures -------------------------------------------------------------------------------

fn scope() -> Scope {
    Scope::new("000000000000", "us-east-1")
}

fn other_scope() -> Scope {
    Scope::new("111111111111", "eu-west-1")
}

fn rule(scope: &Scope, name: &str) -> RuleRecord {
    RuleRecord {
        name: name.into(),
        id: format!("config-rule-{name}"),
        arn: scope.config_arn(&format!("config-rule/config-rule-{name}")),
        rule: remedy_wire::config::ConfigRule {
            config_rule_name: Some(name.into()),
            config_rule_state: Some(ConfigRuleState::Active),
            ..Default::default()
        },
    }
}

fn item(id: &str) -> NewConfigurationItem {
    NewConfigurationItem {
        resource_type: "AWS::S3::Bucket".into(),
        resource_id: id.into(),
        resource_name: Some(format!("name-{id}")),
        arn: None,
        availability_zone: None,
        resource_creation_time: None,
        capture_time: None,
        status: None,
        configuration: serde_json::json!({"name": id}),
        supplementary_configuration: Default::default(),
        tags: Default::default(),
        relationships: vec![],
    }
}

fn config(rule_name: &str, automatic: bool) -> RemediationConfigRecord {
    RemediationConfigRecord {
        rule_name: rule_name.into(),
        arn: format!(
            "arn:aws:config:us-east-1:000000000000:remediation-configuration/{rule_name}/new"
        ),
        config: remedy_wire::config::RemediationConfiguration {
            config_rule_name: Some(rule_name.into()),
            automatic: Some(automatic),
            ..Default::default()
        },
    }
}

fn key(t: &str, i: &str) -> (String, String) {
    (t.to_string(), i.to_string())
}

fn result(rule: &str, id: &str, t: ComplianceType, ts: f64) -> EvaluationRecord {
    EvaluationRecord {
        rule_name: rule.into(),
        resource_type: "AWS::S3::Bucket".into(),
        resource_id: id.into(),
        compliance_type: t,
        annotation: Some(format!("about {id}")),
        ordering_timestamp: ts,
        result_recorded_time: ts + 1.0,
        config_rule_invoked_time: ts,
    }
}

fn exec(id: &str, resource: &str, batch: &str, conc: u32, err: u32) -> NewExecution {
    NewExecution {
        id: id.into(),
        rule_name: "r".into(),
        resource_type: "AWS::S3::Bucket".into(),
        resource_id: resource.into(),
        document_name: "AWS-ConfigureS3BucketVersioning".into(),
        document_version: Some("1".into()),
        parameters: "{}".into(),
        execution_state: "{}".into(),
        automatic: false,
        concurrency_percentage: conc,
        error_percentage: err,
        batch_id: batch.into(),
        wake_at: 0.0,
        finding_ordering: None,
    }
}

/// A rule `r` with a remediation configuration.
async fn remediable(store: &dyn Store, scope: &Scope) {
    store
        .insert_rule(scope, &rule(scope, "r"), &[], 100)
        .await
        .unwrap();
    store
        .put_remediation_configurations(scope, &[config("r", false)])
        .await
        .unwrap();
}

fn step(r: &ExecutionRecord, state: &str, now: f64) -> StepCommit {
    StepCommit {
        id: r.id.clone(),
        fence: r.fence,
        state: state.into(),
        execution_state: format!("{{\"step\":\"{state}\"}}"),
        now,
        wake_at: None,
    }
}

async fn rule_state(store: &dyn Store, scope: &Scope, name: &str) -> ConfigRuleState {
    store
        .get_rule(scope, &RuleSelector::Name(name.into()))
        .await
        .unwrap()
        .unwrap()
        .rule
        .config_rule_state
        .unwrap()
}

// ---- rules, tags, remediation configurations and exceptions ----------------------------------

async fn rules_are_limited_unique_paged_by_byte_order_and_deleted_whole(fx: Fx) {
    let s = &*fx.store;
    let sc = scope();
    // Byte order: upper case before lower case, whatever the database's collation.
    for name in ["beta", "Zeta", "alpha"] {
        s.insert_rule(&sc, &rule(&sc, name), &[], 3).await.unwrap();
    }
    assert!(matches!(
        s.insert_rule(&sc, &rule(&sc, "alpha"), &[], 10).await,
        Err(StoreError::AlreadyExists)
    ));
    assert!(matches!(
        s.insert_rule(&sc, &rule(&sc, "gamma"), &[], 3).await,
        Err(StoreError::LimitExceeded(3))
    ));
    // The limit is per account and region.
    s.insert_rule(&other_scope(), &rule(&other_scope(), "gamma"), &[], 3)
        .await
        .unwrap();
    let names = |rs: Vec<RuleRecord>| rs.into_iter().map(|r| r.name).collect::<Vec<_>>();
    assert_eq!(
        names(s.list_rules(&sc, None, 10).await.unwrap()),
        ["Zeta", "alpha", "beta"]
    );
    assert_eq!(
        names(s.list_rules(&sc, None, 2).await.unwrap()),
        ["Zeta", "alpha"]
    );
    assert_eq!(
        names(s.list_rules(&sc, Some("alpha"), 2).await.unwrap()),
        ["beta"]
    );
    let by_name = s
        .get_rules_by_name(&sc, &["beta".into(), "nope".into(), "Zeta".into()])
        .await
        .unwrap();
    assert_eq!(by_name[0].as_ref().unwrap().name, "beta");
    assert!(by_name[1].is_none());
    assert_eq!(by_name[2].as_ref().unwrap().name, "Zeta");
    let alpha = rule(&sc, "alpha");
    for sel in [
        RuleSelector::Name("alpha".into()),
        RuleSelector::Id(alpha.id.clone()),
        RuleSelector::Arn(alpha.arn.clone()),
    ] {
        assert_eq!(s.get_rule(&sc, &sel).await.unwrap(), Some(alpha.clone()));
    }
    assert_eq!(
        s.get_rule(&other_scope(), &RuleSelector::Name("alpha".into()))
            .await
            .unwrap(),
        None
    );

    // The wire-JSON read answers the same rules.
    let parse = |json: &str| serde_json::from_str::<remedy_wire::config::ConfigRule>(json).unwrap();
    let listed = s.list_rule_bodies(&sc, Some("Zeta"), 10).await.unwrap();
    assert_eq!(
        listed.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["alpha", "beta"]
    );
    assert_eq!(parse(&listed[0].1), alpha.rule);

    let mut changed = alpha.clone();
    changed.rule.description = Some("changed".into());
    s.update_rule(&sc, &changed).await.unwrap();
    assert_eq!(
        s.get_rule(&sc, &RuleSelector::Name("alpha".into()))
            .await
            .unwrap(),
        Some(changed)
    );
    assert!(matches!(
        s.update_rule(&sc, &rule(&sc, "nope")).await,
        Err(StoreError::NotFound)
    ));

    // Delete: refused while a remediation configuration exists; else the rule goes with its tags,
    // exceptions and results.
    s.put_remediation_configurations(&sc, &[config("beta", false)])
        .await
        .unwrap();
    assert!(matches!(
        s.delete_rule(&sc, "beta").await,
        Err(StoreError::RuleHasRemediationConfiguration)
    ));
    assert!(s
        .get_rule(&sc, &RuleSelector::Name("beta".into()))
        .await
        .unwrap()
        .is_some());
    s.tag_resource(
        &sc,
        &alpha.arn,
        &[Tag {
            key: "k".into(),
            value: "v".into(),
        }],
        50,
    )
    .await
    .unwrap();
    s.put_remediation_exceptions(
        &sc,
        &[RemediationExceptionRecord {
            rule_name: "alpha".into(),
            resource_type: "AWS::S3::Bucket".into(),
            resource_id: "b".into(),
            message: None,
            expiration_time: None,
        }],
    )
    .await
    .unwrap();
    s.put_evaluation_results(
        &sc,
        "alpha",
        &[result("alpha", "b", ComplianceType::Compliant, 1.0)],
        2.0,
    )
    .await
    .unwrap();
    s.delete_rule(&sc, "alpha").await.unwrap();
    assert!(matches!(
        s.delete_rule(&sc, "alpha").await,
        Err(StoreError::NotFound)
    ));
    // Created again: nothing of the old one comes back.
    s.insert_rule(&sc, &rule(&sc, "alpha"), &[], 10)
        .await
        .unwrap();
    assert!(s
        .list_tags(&sc, &alpha.arn, None, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(s
        .list_remediation_exceptions(&sc, "alpha", None, None, 10, 0.0)
        .await
        .unwrap()
        .is_empty());
    assert!(s
        .list_rule_results(
            &sc,
            "alpha",
            &ResultQuery {
                compliance_types: vec![],
                limit: 10
            },
            None
        )
        .await
        .unwrap()
        .is_empty());
}

/// What the evaluation engine's cache of decoded rules is keyed by: every change to a scope that
/// holds rules — through any handle, a second node included — gives a version not seen before,
/// and reads, other scopes' changes and refused writes leave it as it is.
async fn the_rule_set_version_moves_with_every_rule_change(fx: Fx) {
    let s = &*fx.store;
    let other_node = second_handle(&fx).await;
    let sc = scope();
    let mut seen = vec![s.rule_set_version(&sc).await.unwrap()];
    let mut moved = |v: i64, what: &str| {
        assert!(
            !seen.contains(&v),
            "{what}: version {v} was seen before ({seen:?})"
        );
        seen.push(v);
    };
    s.insert_rule(&sc, &rule(&sc, "a"), &[], 10).await.unwrap();
    moved(s.rule_set_version(&sc).await.unwrap(), "insert");
    s.insert_rule(&sc, &rule(&sc, "b"), &[], 10).await.unwrap();
    moved(s.rule_set_version(&sc).await.unwrap(), "second insert");
    // Reads, refused writes and other scopes' rules leave it.
    let v = s.rule_set_version(&sc).await.unwrap();
    s.list_rules(&sc, None, 10).await.unwrap();
    assert!(matches!(
        s.insert_rule(&sc, &rule(&sc, "a"), &[], 10).await,
        Err(StoreError::AlreadyExists)
    ));
    s.insert_rule(&other_scope(), &rule(&other_scope(), "a"), &[], 10)
        .await
        .unwrap();
    assert_eq!(s.rule_set_version(&sc).await.unwrap(), v);
    assert_eq!(other_node.rule_set_version(&sc).await.unwrap(), v);

    let mut changed = rule(&sc, "a");
    changed.rule.description = Some("changed".into());
    s.update_rule(&sc, &changed).await.unwrap();
    moved(s.rule_set_version(&sc).await.unwrap(), "update");
    // Written through another handle (on PostgreSQL: another node), seen through this one.
    changed.rule.description = Some("changed again".into());
    other_node
        .put_rule_by_name(&sc, &changed, &[], 10)
        .await
        .unwrap();
    moved(
        s.rule_set_version(&sc).await.unwrap(),
        "update by another node",
    );
    // A rule's state: EVALUATING, then ACTIVE again.
    s.start_rule_evaluations(&sc, &["a".into()], 100.0, 0.0)
        .await
        .unwrap();
    assert_eq!(rule_state(s, &sc, "a").await, ConfigRuleState::Evaluating);
    moved(s.rule_set_version(&sc).await.unwrap(), "state set");
    let jobs = s.claim_evaluation_jobs(101.0, 10, 0.0).await.unwrap();
    let ids: Vec<i64> = jobs.iter().map(|j| j.id).collect();
    let outcomes: Vec<RuleJobOutcome> = jobs
        .iter()
        .filter_map(|j| match &j.target {
            JobTarget::Rule { rule_name } => Some(RuleJobOutcome {
                scope: j.scope.clone(),
                rule_name: rule_name.clone(),
                period_seconds: None,
            }),
            JobTarget::Resource { .. } => None,
        })
        .collect();
    s.finish_evaluation_jobs(&ids, &outcomes, 102.0)
        .await
        .unwrap();
    assert_eq!(rule_state(s, &sc, "a").await, ConfigRuleState::Active);
    moved(s.rule_set_version(&sc).await.unwrap(), "state set back");
    s.delete_rule(&sc, "b").await.unwrap();
    moved(s.rule_set_version(&sc).await.unwrap(), "delete");
    // The last rule gone: a version other than the last one's (an empty scope may read as it
    // did before its first rule, which is right: the rules are the same, none).
    let last = *seen.last().unwrap();
    s.delete_rule(&sc, "a").await.unwrap();
    assert_ne!(s.rule_set_version(&sc).await.unwrap(), last);
}

async fn tags_merge_within_the_limit_or_not_at_all(fx: Fx) {
    let s = &*fx.store;
    let sc = scope();
    let r = rule(&sc, "r");
    let tag = |k: &str, v: &str| Tag {
        key: k.into(),
        value: v.into(),
    };
    assert!(matches!(
        s.tag_resource(&sc, &r.arn, &[tag("a", "1")], 3).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.list_tags(&sc, &r.arn, None, 10).await,
        Err(StoreError::NotFound)
    ));
    // Creation tags come with the rule.
    s.insert_rule(&sc, &r, &[tag("c", "3")], 10).await.unwrap();
    s.tag_resource(&sc, &r.arn, &[tag("a", "1"), tag("B", "2")], 3)
        .await
        .unwrap();
    s.tag_resource(&sc, &r.arn, &[tag("a", "changed")], 3)
        .await
        .unwrap();
    // One more key would make 4 > 3: nothing of the call is applied, not even the update.
    assert!(matches!(
        s.tag_resource(&sc, &r.arn, &[tag("a", "lost"), tag("d", "4")], 3)
            .await,
        Err(StoreError::LimitExceeded(3))
    ));
    let all = s.list_tags(&sc, &r.arn, None, 10).await.unwrap();
    assert_eq!(all, vec![tag("B", "2"), tag("a", "changed"), tag("c", "3")]);
    assert_eq!(
        s.list_tags(&sc, &r.arn, Some("B"), 1).await.unwrap(),
        vec![tag("a", "changed")]
    );
    s.untag_resource(&sc, &r.arn, &["a".into(), "missing".into()])
        .await
        .unwrap();
    assert_eq!(
        s.list_tags(&sc, &r.arn, None, 10).await.unwrap(),
        vec![tag("B", "2"), tag("c", "3")]
    );
    assert!(matches!(
        s.untag_resource(&other_scope(), &r.arn, &["B".into()])
            .await,
        Err(StoreError::NotFound)
    ));
}

async fn remediation_configurations_keep_their_arn_and_guard_their_rule(fx: Fx) {
    let s = &*fx.store;
    let sc = scope();
    s.insert_rule(&sc, &rule(&sc, "r"), &[], 10).await.unwrap();
    s.insert_rule(&sc, &rule(&sc, "q"), &[], 10).await.unwrap();
    let stored = s
        .put_remediation_configurations(
            &sc,
            &[
                config("r", true),
                config("missing", true),
                config("q", false),
            ],
        )
        .await
        .unwrap();
    assert_eq!(stored, vec![true, false, true]);
    // An update keeps the first ARN.
    let mut again = config("r", false);
    again.arn = "arn:other".into();
    s.put_remediation_configurations(&sc, &[again])
        .await
        .unwrap();
    let got = s
        .get_remediation_configurations(&sc, &["q".into(), "r".into(), "missing".into()])
        .await
        .unwrap();
    assert_eq!(got.len(), 2);
    let r = got.iter().find(|c| c.rule_name == "r").unwrap();
    assert_eq!(r.arn, config("r", true).arn);
    assert_eq!(r.config.arn.as_deref(), Some(r.arn.as_str()));
    assert_eq!(r.config.automatic, Some(false));

    // Only Automatic: true ones, across every account and region.
    s.put_remediation_configurations(&sc, &[config("q", true)])
        .await
        .unwrap();
    s.insert_rule(&other_scope(), &rule(&other_scope(), "o"), &[], 10)
        .await
        .unwrap();
    s.put_remediation_configurations(&other_scope(), &[config("o", true)])
        .await
        .unwrap();
    let mut auto: Vec<(String, String)> = s
        .list_automatic_remediation_configurations()
        .await
        .unwrap()
        .into_iter()
        .map(|(scope, c)| (scope.account, c.rule_name))
        .collect();
    auto.sort();
    assert_eq!(
        auto,
        vec![key("000000000000", "q"), key("111111111111", "o")]
    );

    // Deleting waits for in-flight executions.
    s.insert_executions(
        &sc,
        "q",
        &[NewExecution {
            rule_name: "q".into(),
            ..exec("e1", "b", "batch", 100, 100)
        }],
        1.0,
    )
    .await
    .unwrap();
    assert!(matches!(
        s.delete_remediation_configuration(&sc, "q").await,
        Err(StoreError::RemediationInProgress)
    ));
    s.delete_remediation_configuration(&sc, "r").await.unwrap();
    assert!(matches!(
        s.delete_remediation_configuration(&sc, "r").await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        s.get_remediation_configurations(&sc, &["r".into()])
            .await
            .unwrap(),
        vec![]
    );
}

async fn remediation_exceptions_expire_and_page(fx: Fx) {
    let s = &*fx.store;
    let sc = scope();
    let ex = |id: &str, exp: Option<f64>| RemediationExceptionRecord {
        rule_name: "r".into(),
        resource_type: "AWS::S3::Bucket".into(),
        resource_id: id.into(),
        message: Some(format!("m-{id}")),
        expiration_time: exp,
    };
    s.put_remediation_exceptions(
        &sc,
        &[ex("c", None), ex("a", Some(100.0)), ex("b", Some(10.0))],
    )
    .await
    .unwrap();
    // An upsert replaces the message and expiry.
    s.put_remediation_exceptions(&sc, &[ex("b", Some(50.0))])
        .await
        .unwrap();
    let ids = |v: Vec<RemediationExceptionRecord>| {
        v.into_iter().map(|e| e.resource_id).collect::<Vec<_>>()
    };
    assert_eq!(
        ids(s
            .list_remediation_exceptions(&sc, "r", None, None, 10, 20.0)
            .await
            .unwrap()),
        ["a", "b", "c"]
    );
    assert_eq!(
        ids(s
            .list_remediation_exceptions(&sc, "r", None, None, 10, 60.0)
            .await
            .unwrap()),
        ["a", "c"]
    );
    let after = ExceptionKey {
        resource_type: "AWS::S3::Bucket".into(),
        resource_id: "a".into(),
    };
    assert_eq!(
        ids(s
            .list_remediation_exceptions(&sc, "r", None, Some(&after), 1, 20.0)
            .await
            .unwrap()),
        ["b"]
    );
    let keys = [
        ExceptionKey {
            resource_type: "AWS::S3::Bucket".into(),
            resource_id: "c".into(),
        },
        ExceptionKey {
            resource_type: "AWS::S3::Bucket".into(),
            resource_id: "zz".into(),
        },
    ];
    let got = s
        .list_remediation_exceptions(&sc, "r", Some(&keys), None, 10, 20.0)
        .await
        .unwrap();
    assert_eq!(got, vec![ex("c", None)]);
    assert!(s
        .list_remediation_exceptions(&other_scope(), "r", None, None, 10, 0.0)
        .await
        .unwrap()
        .is_empty());
    // Delete per key: an expired one counts as absent.
    let del = [
        ExceptionKey {
            resource_type: "AWS::S3::Bucket".into(),
            resource_id: "b".into(),
        },
        ExceptionKey {
            resource_type: "AWS::S3::Bucket".into(),
            resource_id: "c".into(),
        },
        ExceptionKey {
            resource_type: "AWS::S3::Bucket".into(),
            resource_id: "zz".into(),
        },
    ];
    assert_eq!(
        s.delete_remediation_exceptions(&sc, "r", &del, 60.0)
            .await
            .unwrap(),
        vec![false, true, false]
    );
    assert_eq!(
        ids(s
            .list_remediation_exceptions(&sc, "r", None, None, 10, 0.0)
            .await
            .unwrap()),
        ["a"]
    );
}

// ---- configuration items ----------------------------------------------------------------------

async fn configuration_items_history_and_discovery(fx: Fx) {
    let s = &*fx.store;
    let sc = scope();
    let first = s
        .record_configuration_item(&sc, item("b1"), None)
        .await
        .unwrap();
    assert_eq!(first.status, "ResourceDiscovered");
    let second = s
        .record_configuration_item(&sc, item("b1"), None)
        .await
        .unwrap();
    assert_eq!(second.status, "OK");
    assert!(second.state_id > first.state_id);
    let deleted = s
        .record_configuration_item(
            &sc,
            NewConfigurationItem {
                status: Some(STATUS_DELETED.into()),
                ..item("b1")
            },
            None,
        )
        .await
        .unwrap();
    assert!(deleted.state_id > second.state_id);
    let back = s
        .record_configuration_item(&sc, item("b1"), None)
        .await
        .unwrap();
    assert_eq!(
        back.status, "ResourceDiscovered",
        "rediscovered after a deletion"
    );
    assert_eq!(
        s.latest_configuration_item(&sc, "AWS::S3::Bucket", "b1")
            .await
            .unwrap(),
        Some(back.clone())
    );
    assert_eq!(
        s.latest_configuration_item(&other_scope(), "AWS::S3::Bucket", "b1")
            .await
            .unwrap(),
        None
    );

    let q = |forward: bool, after: Option<i64>, limit: usize| HistoryQuery {
        resource_type: "AWS::S3::Bucket".into(),
        resource_id: "b1".into(),
        earlier_time: None,
        later_time: None,
        forward,
        after_state_id: after,
        limit,
    };
    let states = |v: Vec<remedy::domain::ConfigurationItem>| {
        v.into_iter().map(|c| c.state_id).collect::<Vec<_>>()
    };
    let all = [
        first.state_id,
        second.state_id,
        deleted.state_id,
        back.state_id,
    ];
    assert_eq!(
        states(
            s.configuration_history(&sc, &q(true, None, 10))
                .await
                .unwrap()
        ),
        all
    );
    assert_eq!(
        states(
            s.configuration_history(&sc, &q(false, None, 2))
                .await
                .unwrap()
        ),
        [all[3], all[2]]
    );
    assert_eq!(
        states(
            s.configuration_history(&sc, &q(false, Some(all[2]), 10))
                .await
                .unwrap()
        ),
        [all[1], all[0]]
    );
    assert_eq!(
        states(
            s.configuration_history(&sc, &q(true, Some(all[1]), 1))
                .await
                .unwrap()
        ),
        [all[2]]
    );
    let window = HistoryQuery {
        earlier_time: Some(second.capture_time),
        later_time: Some(deleted.capture_time),
        ..q(true, None, 10)
    };
    assert_eq!(
        states(s.configuration_history(&sc, &window).await.unwrap()),
        [all[1], all[2]]
    );

    // Bulk import is one unit; discovery lists by id, deleted ones on request.
    let n = s
        .import_configuration_items(vec![
            (sc.clone(), item("b3")),
            (
                sc.clone(),
                NewConfigurationItem {
                    status: Some(STATUS_DELETED.into()),
                    ..item("b2")
                },
            ),
            (other_scope(), item("o1")),
        ])
        .await
        .unwrap();
    assert_eq!(n, 3);
    let dq = |ids: Vec<String>, deleted: bool, after: Option<&str>, limit: usize| DiscoveredQuery {
        resource_type: "AWS::S3::Bucket".into(),
        resource_ids: ids,
        resource_name: None,
        include_deleted: deleted,
        after_id: after.map(str::to_string),
        limit,
    };
    let ids = |v: Vec<remedy::store::DiscoveredResource>| {
        v.into_iter().map(|d| d.resource_id).collect::<Vec<_>>()
    };
    assert_eq!(
        ids(s
            .list_discovered_resources(&sc, &dq(vec![], false, None, 10))
            .await
            .unwrap()),
        ["b1", "b3"]
    );
    let with_deleted = s
        .list_discovered_resources(&sc, &dq(vec![], true, None, 10))
        .await
        .unwrap();
    assert_eq!(ids(with_deleted.clone()), ["b1", "b2", "b3"]);
    assert!(with_deleted[1].deletion_time.is_some() && with_deleted[0].deletion_time.is_none());
    assert_eq!(
        ids(s
            .list_discovered_resources(&sc, &dq(vec![], true, Some("b1"), 1))
            .await
            .unwrap()),
        ["b2"]
    );
    assert_eq!(
        ids(s
            .list_discovered_resources(&sc, &dq(vec!["b3".into(), "zz".into()], false, None, 10))
            .await
            .unwrap()),
        ["b3"]
    );
    let by_name = DiscoveredQuery {
        resource_name: Some("name-b3".into()),
        ..dq(vec![], false, None, 10)
    };
    assert_eq!(
        ids(s.list_discovered_resources(&sc, &by_name).await.unwrap()),
        ["b3"]
    );

    // Custom types are bounded per scope; AWS types and updates of active ones are not.
    let custom = |id: &str| NewConfigurationItem {
        resource_type: "Corp::Thing".into(),
        ..item(id)
    };
    s.record_configuration_item(&sc, custom("c1"), Some(1))
        .await
        .unwrap();
    s.record_configuration_item(&sc, custom("c1"), Some(1))
        .await
        .unwrap();
    assert!(matches!(
        s.record_configuration_item(&sc, custom("c2"), Some(1))
            .await,
        Err(StoreError::LimitExceeded(1))
    ));
    assert!(s
        .latest_configuration_item(&sc, "Corp::Thing", "c2")
        .await
        .unwrap()
        .is_none());
    s.record_configuration_item(&sc, item("b9"), Some(1))
        .await
        .unwrap();
}

// ---- evaluations ------------------------------------------------------------------------------

/// A rule's counts per compliance type are exact up to `COUNT_CEILING` (one past every cap the
/// API reports) and stop there, so summarizing a rule reads at most that many results per type.
async fn rule_compliance_counts_stop_at_the_ceiling(fx: Fx) {
    use ComplianceType::*;
    let s = &*fx.store;
    let sc = scope();
    let ceiling = remedy::evaluation::COUNT_CEILING as usize;
    for r in ["below", "past", "none"] {
        s.insert_rule(&sc, &rule(&sc, r), &[], 10).await.unwrap();
    }
    let results = |rule: &str, n: usize| -> Vec<EvaluationRecord> {
        let mut out: Vec<_> = (0..n)
            .map(|i| result(rule, &format!("nc-{i:04}"), NonCompliant, 1.0))
            .collect();
        out.extend((0..3).map(|i| result(rule, &format!("c-{i}"), Compliant, 1.0)));
        out.push(result(rule, "na", NotApplicable, 1.0));
        out
    };
    for (rule, n) in [("below", ceiling - 1), ("past", ceiling + 150)] {
        for chunk in results(rule, n).chunks(100) {
            s.put_evaluation_results(&sc, rule, chunk, 2.0)
                .await
                .unwrap();
        }
    }
    let counts: Vec<(String, u32, u32, u32)> = s
        .list_rule_compliance(&sc, None, None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            let c = r.counts;
            (r.rule_name, c.non_compliant, c.compliant, c.not_applicable)
        })
        .collect();
    let ceiling = ceiling as u32;
    assert_eq!(
        counts,
        [
            ("below".to_string(), ceiling - 1, 3, 1),
            ("none".to_string(), 0, 0, 0),
            ("past".to_string(), ceiling, 3, 1),
        ]
    );
    let named = s
        .list_rule_compliance(&sc, Some(&["past".into()]), None, 10)
        .await
        .unwrap();
    assert_eq!(named[0].counts.non_compliant, ceiling);
}

async fn evaluation_results_keep_the_latest_and_roll_up(fx: Fx) {
    use ComplianceType::*;
    let s = &*fx.store;
    let sc = scope();
    let secret = s.result_token_secret().await.unwrap();
    assert_eq!(secret.len(), 32);
    assert_eq!(
        s.result_token_secret().await.unwrap(),
        secret,
        "the first secret stays"
    );

    assert!(matches!(
        s.put_evaluation_results(&sc, "r1", &[result("r1", "a", Compliant, 1.0)], 1.0)
            .await,
        Err(StoreError::NotFound)
    ));
    for r in ["r1", "r2"] {
        s.insert_rule(&sc, &rule(&sc, r), &[], 10).await.unwrap();
    }
    let changes = s
        .put_evaluation_results(
            &sc,
            "r1",
            &[
                result("r1", "a", Compliant, 10.0),
                result("r1", "b", NonCompliant, 10.0),
                result("r1", "c", NotApplicable, 10.0),
            ],
            11.0,
        )
        .await
        .unwrap();
    assert_eq!(changes.len(), 3);
    assert!(changes.iter().all(|c| c.old.is_none()));
    // An older event changes nothing; a newer one with the same type is stored, not reported.
    let changes = s
        .put_evaluation_results(
            &sc,
            "r1",
            &[
                result("r1", "a", NonCompliant, 5.0),
                result("r1", "b", NonCompliant, 12.0),
                result("r1", "c", Compliant, 12.0),
            ],
            13.0,
        )
        .await
        .unwrap();
    assert_eq!(
        changes,
        vec![StoredChange {
            resource_type: "AWS::S3::Bucket".into(),
            resource_id: "c".into(),
            old: Some(NotApplicable),
            new: Compliant
        }]
    );
    s.put_evaluation_results(&sc, "r2", &[result("r2", "a", NonCompliant, 1.0)], 2.0)
        .await
        .unwrap();

    let all = ResultQuery {
        compliance_types: vec![],
        limit: 100,
    };
    let ids = |v: Vec<EvaluationRecord>| v.into_iter().map(|r| r.resource_id).collect::<Vec<_>>();
    let r1 = s.list_rule_results(&sc, "r1", &all, None).await.unwrap();
    assert_eq!(ids(r1.clone()), ["a", "b", "c"]);
    assert_eq!(r1[0], result("r1", "a", Compliant, 10.0));
    let only_nc = ResultQuery {
        compliance_types: vec![NonCompliant],
        limit: 100,
    };
    assert_eq!(
        ids(s
            .list_rule_results(&sc, "r1", &only_nc, None)
            .await
            .unwrap()),
        ["b"]
    );
    let page = ResultQuery {
        compliance_types: vec![],
        limit: 1,
    };
    assert_eq!(
        ids(s
            .list_rule_results(&sc, "r1", &page, Some(&key("AWS::S3::Bucket", "a")))
            .await
            .unwrap()),
        ["b"]
    );
    let rules_of_a: Vec<String> = s
        .list_resource_results(&sc, "AWS::S3::Bucket", "a", &all, None)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.rule_name)
        .collect();
    assert_eq!(rules_of_a, ["r1", "r2"]);
    assert_eq!(
        s.list_resource_results(&sc, "AWS::S3::Bucket", "a", &all, Some("r1"))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.result_compliance(
            &sc,
            "r1",
            &[
                key("AWS::S3::Bucket", "b"),
                key("AWS::S3::Bucket", "zz"),
                key("AWS::S3::Bucket", "a")
            ]
        )
        .await
        .unwrap(),
        vec![Some(NonCompliant), None, Some(Compliant)]
    );

    let rc = s.list_rule_compliance(&sc, None, None, 10).await.unwrap();
    assert_eq!(rc.len(), 2);
    assert_eq!((rc[0].counts.compliant, rc[0].counts.non_compliant), (2, 1));
    assert_eq!(
        (rc[1].rule_name.as_str(), rc[1].counts.non_compliant),
        ("r2", 1)
    );
    let named = s
        .list_rule_compliance(
            &sc,
            Some(&["r2".into(), "nope".into(), "r2".into()]),
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(named.len(), 1);
    assert_eq!(
        s.list_rule_compliance(&sc, None, Some("r1"), 10)
            .await
            .unwrap()[0]
            .rule_name,
        "r2"
    );
    let res = s
        .list_resource_compliance(&sc, None, None, None, 10)
        .await
        .unwrap();
    let res_ids: Vec<_> = res.iter().map(|r| r.resource_id.as_str()).collect();
    assert_eq!(res_ids, ["a", "b", "c"]);
    assert_eq!(
        (res[0].counts.compliant, res[0].counts.non_compliant),
        (1, 1)
    );
    assert_eq!(
        s.list_resource_compliance(&sc, Some("AWS::S3::Bucket"), Some("b"), None, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.list_resource_compliance(&sc, None, None, Some(&key("AWS::S3::Bucket", "a")), 1)
            .await
            .unwrap()[0]
            .resource_id,
        "b"
    );
    // r1 has a NON_COMPLIANT result, r2 too: both non-compliant.
    assert_eq!(
        s.rule_compliance_summary(&sc).await.unwrap(),
        TypeSummary {
            compliant: 0,
            non_compliant: 2
        }
    );
    let by_type = s
        .resource_compliance_summary(
            &sc,
            Some(&["AWS::S3::Bucket".into(), "AWS::EC2::Instance".into()]),
        )
        .await
        .unwrap();
    assert_eq!(
        by_type[0],
        (
            "AWS::S3::Bucket".to_string(),
            TypeSummary {
                compliant: 1,
                non_compliant: 2
            }
        )
    );
    assert_eq!(by_type[1].1, TypeSummary::default());
    assert_eq!(
        s.resource_compliance_summary(&sc, None).await.unwrap()[0].0,
        ""
    );

    let status = s
        .list_rule_evaluation_status(&sc, None, None, 10)
        .await
        .unwrap();
    assert_eq!(status.len(), 2);
    assert_eq!(status[0].last_successful_evaluation_time, Some(13.0));
    assert!(status[0].first_evaluation_started);
    s.record_rule_invocation(&sc, "r2", 20.0, Some(("E".into(), "boom".into())))
        .await
        .unwrap();
    s.record_rule_invocation(&sc, "gone", 20.0, None)
        .await
        .unwrap();
    let r2 = s
        .list_rule_evaluation_status(&sc, Some(&["r2".into()]), None, 10)
        .await
        .unwrap();
    assert_eq!(r2[0].last_error_message.as_deref(), Some("boom"));
    assert_eq!(r2[0].last_failed_invocation_time, Some(20.0));
    assert_eq!(
        s.list_rule_evaluation_status(&sc, None, Some("r1"), 10)
            .await
            .unwrap()
            .len(),
        1
    );

    assert_eq!(s.delete_evaluation_results(&sc, "r1").await.unwrap(), 3);
    assert!(matches!(
        s.delete_evaluation_results(&sc, "nope").await,
        Err(StoreError::NotFound)
    ));
    assert!(s
        .list_rule_results(&sc, "r1", &all, None)
        .await
        .unwrap()
        .is_empty());
}

async fn evaluation_queue_outbox_claims_and_schedules(fx: Fx) {
    use ComplianceType::*;
    let s = &*fx.store;
    let sc = scope();
    for _ in 0..3 {
        s.record_configuration_item(&sc, item("a"), None)
            .await
            .unwrap();
    }
    s.import_configuration_items(vec![(sc.clone(), item("a")), (sc.clone(), item("b"))])
        .await
        .unwrap();
    s.insert_rule(&sc, &rule(&sc, "r"), &[], 10).await.unwrap();
    s.update_rule(&sc, &rule(&sc, "r")).await.unwrap();
    // One pending job per target: a, b and the rule.
    assert_eq!(s.queued_evaluation_jobs().await.unwrap(), 3);
    let claimed = s.claim_evaluation_jobs(10.0, 2, 0.0).await.unwrap();
    assert_eq!(claimed.len(), 2);
    assert!(claimed[0].id < claimed[1].id, "oldest first");
    assert!(
        matches!(&claimed[0].target, JobTarget::Resource { resource_id, .. } if resource_id == "a")
    );
    // A claimed job does not absorb a new change.
    s.record_configuration_item(&sc, item("a"), None)
        .await
        .unwrap();
    assert_eq!(s.queued_evaluation_jobs().await.unwrap(), 4);
    // Not stale yet: only the pending ones.
    let more = s.claim_evaluation_jobs(11.0, 10, 5.0).await.unwrap();
    assert_eq!(more.len(), 2);
    assert!(more.iter().all(|j| !claimed.iter().any(|c| c.id == j.id)));
    // Claimed before 10.5: stale, taken again.
    let stale = s.claim_evaluation_jobs(12.0, 10, 10.5).await.unwrap();
    let stale_ids: HashSet<i64> = stale.iter().map(|j| j.id).collect();
    assert_eq!(stale_ids, claimed.iter().map(|j| j.id).collect());
    let mut ids: Vec<i64> = claimed.iter().chain(&more).map(|j| j.id).collect();
    ids.sort();
    s.finish_evaluation_jobs(&ids, &[], 13.0).await.unwrap();
    assert_eq!(s.queued_evaluation_jobs().await.unwrap(), 0);

    // On demand: merges into a pending job, refused while one is queued, interval-limited.
    let names = vec!["r".to_string()];
    s.start_rule_evaluations(&sc, &names, 100.0, 0.0)
        .await
        .unwrap();
    assert_eq!(rule_state(s, &sc, "r").await, ConfigRuleState::Evaluating);
    let body = s.list_rule_bodies(&sc, None, 10).await.unwrap()[0]
        .1
        .clone();
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["ConfigRuleState"], "EVALUATING");
    assert_eq!(json["ConfigRuleName"], "r", "the rest of the rule is kept");
    assert!(matches!(
        s.start_rule_evaluations(&sc, &names, 101.0, 0.0).await,
        Err(StoreError::AlreadyExists)
    ));
    assert!(matches!(
        s.start_rule_evaluations(&sc, &["nope".into(), "r".into()], 101.0, 0.0)
            .await,
        Err(StoreError::NotFound)
    ));
    let jobs = s.claim_evaluation_jobs(102.0, 10, 0.0).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].origin, JobOrigin::OnDemand);
    let outcome = RuleJobOutcome {
        scope: sc.clone(),
        rule_name: "r".into(),
        period_seconds: Some(3600.0),
    };
    s.finish_evaluation_jobs(&[jobs[0].id], std::slice::from_ref(&outcome), 1000.0)
        .await
        .unwrap();
    assert_eq!(rule_state(s, &sc, "r").await, ConfigRuleState::Active);
    assert!(matches!(
        s.start_rule_evaluations(&sc, &names, 130.0, 60.0).await,
        Err(StoreError::LimitExceeded(60))
    ));
    let status = s
        .list_rule_evaluation_status(&sc, None, None, 10)
        .await
        .unwrap();
    assert_eq!(status[0].last_successful_invocation_time, Some(100.0));

    // Periodic: once per period, once after a long outage.
    assert_eq!(s.enqueue_due_periodic(4599.0).await.unwrap(), 0);
    assert_eq!(s.enqueue_due_periodic(4600.0).await.unwrap(), 1);
    assert_eq!(s.enqueue_due_periodic(4601.0).await.unwrap(), 0);
    let periodic = s.claim_evaluation_jobs(4602.0, 10, 0.0).await.unwrap();
    assert_eq!(periodic[0].origin, JobOrigin::Periodic);
    assert_eq!(
        s.enqueue_due_periodic(4600.0 + 3.5 * 3600.0).await.unwrap(),
        1
    );
    assert_eq!(
        s.enqueue_due_periodic(4600.0 + 3.9 * 3600.0).await.unwrap(),
        0
    );
    assert_eq!(
        s.enqueue_due_periodic(4600.0 + 4.0 * 3600.0).await.unwrap(),
        1
    );
    let not_periodic = RuleJobOutcome {
        period_seconds: None,
        ..outcome
    };
    s.finish_evaluation_jobs(&[], &[not_periodic], 9e9)
        .await
        .unwrap();
    assert_eq!(s.enqueue_due_periodic(1e12).await.unwrap(), 0);
    s.delete_rule(&sc, "r").await.unwrap();
    assert_eq!(
        s.queued_evaluation_jobs().await.unwrap(),
        0,
        "deleting the rule drops its jobs"
    );

    // The engine's batch reads and writes.
    s.insert_rule(&sc, &rule(&sc, "r"), &[], 10).await.unwrap();
    s.record_configuration_item(
        &sc,
        NewConfigurationItem {
            status: Some(STATUS_DELETED.into()),
            ..item("b")
        },
        None,
    )
    .await
    .unwrap();
    let latest = s
        .latest_configuration_items(
            &sc,
            &[
                key("AWS::S3::Bucket", "b"),
                key("AWS::S3::Bucket", "zz"),
                key("AWS::S3::Bucket", "a"),
            ],
        )
        .await
        .unwrap();
    let latest_ids: Vec<_> = latest.iter().map(|c| c.resource_id.as_str()).collect();
    assert_eq!(latest_ids, ["b", "a"], "input order, missing ones left out");
    let current = s
        .current_configuration_items(&sc, None, None, 10)
        .await
        .unwrap();
    assert_eq!(
        current
            .iter()
            .map(|c| c.resource_id.as_str())
            .collect::<Vec<_>>(),
        ["a"]
    );
    assert!(s
        .current_configuration_items(
            &sc,
            Some("AWS::S3::Bucket"),
            Some(&key("AWS::S3::Bucket", "a")),
            10
        )
        .await
        .unwrap()
        .is_empty());
    s.insert_rule(&sc, &rule(&sc, "q"), &[], 10).await.unwrap();
    s.put_evaluation_results(
        &sc,
        "r",
        &[
            result("r", "a", Compliant, 1.0),
            result("r", "b", NonCompliant, 1.0),
        ],
        2.0,
    )
    .await
    .unwrap();
    s.put_evaluation_results(&sc, "q", &[result("q", "b", Compliant, 1.0)], 2.0)
        .await
        .unwrap();
    let of_b = s
        .resource_rule_results(&sc, &[key("AWS::S3::Bucket", "b")])
        .await
        .unwrap();
    let mut rules_of_b: Vec<_> = of_b
        .iter()
        .map(|k| (k.rule_name.clone(), k.compliance_type.clone()))
        .collect();
    rules_of_b.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        rules_of_b,
        vec![
            ("q".to_string(), Compliant),
            ("r".to_string(), NonCompliant)
        ]
    );
    let removed = s
        .delete_resource_results(&sc, &[key("AWS::S3::Bucket", "b")])
        .await
        .unwrap();
    assert_eq!(removed.len(), 2);
    assert!(s
        .resource_rule_results(&sc, &[key("AWS::S3::Bucket", "b")])
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        s.resource_rule_results(&sc, &[key("AWS::S3::Bucket", "a")])
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn evaluation_claims_are_exclusive_under_concurrent_claimers(fx: Fx) {
    let s = fx.store.clone();
    let sc = scope();
    let items: Vec<_> = (0..200)
        .map(|i| (sc.clone(), item(&format!("r{i:03}"))))
        .collect();
    s.import_configuration_items(items).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let jobs = s.claim_evaluation_jobs(10.0, 7, 0.0).await.unwrap();
                if jobs.is_empty() {
                    break;
                }
                mine.extend(jobs.into_iter().map(|j| j.id));
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let unique: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), 200, "every job claimed exactly once");
    assert_eq!(unique.len(), 200);
}

async fn periodic_rules_fire_once_under_concurrent_timers(fx: Fx) {
    let s = fx.store.clone();
    let sc = scope();
    for i in 0..20 {
        let name = format!("p{i:02}");
        s.insert_rule(&sc, &rule(&sc, &name), &[], 100)
            .await
            .unwrap();
        let outcome = RuleJobOutcome {
            scope: sc.clone(),
            rule_name: name,
            period_seconds: Some(60.0),
        };
        s.finish_evaluation_jobs(&[], &[outcome], 0.0)
            .await
            .unwrap();
    }
    let jobs = s.claim_evaluation_jobs(1.0, 100, 0.0).await.unwrap();
    let ids: Vec<i64> = jobs.iter().map(|j| j.id).collect();
    s.finish_evaluation_jobs(&ids, &[], 1.0).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.enqueue_due_periodic(61.0).await.unwrap()
        }));
    }
    let mut fired = 0;
    for t in tasks {
        fired += t.await.unwrap();
    }
    assert_eq!(fired, 20, "each due rule fired by exactly one timer");
    assert_eq!(s.queued_evaluation_jobs().await.unwrap(), 20);
}

// ---- executions --------------------------------------------------------------------------------

async fn executions_are_unique_per_key_claimed_fenced_and_bounded(fx: Fx) {
    let s = &*fx.store;
    let sc = scope();
    assert!(matches!(
        s.insert_executions(&sc, "r", &[exec("x", "a", "b", 100, 100)], 1.0)
            .await,
        Err(StoreError::NotFound)
    ));
    remediable(s, &sc).await;
    let out = s
        .insert_executions(
            &sc,
            "r",
            &[
                exec("1", "a", "b", 50, 100),
                exec("2", "a", "b", 50, 100),
                exec("3", "b", "b", 50, 100),
                exec("4", "c", "b", 50, 100),
                exec("5", "d", "b", 50, 100),
            ],
            1.0,
        )
        .await
        .unwrap();
    use InsertOutcome::*;
    assert_eq!(out, vec![Started, InFlight, Started, Started, Started]);
    assert!(s.get_execution("2").await.unwrap().is_none());
    assert_eq!(s.active_executions().await.unwrap(), 4);
    // 50 % of 4 non-terminal executions: 2 at once.
    let claimed = s.claim_executions("w1", 2.0, 30.0, 10).await.unwrap();
    assert_eq!(claimed.len(), 2);
    assert!(claimed
        .iter()
        .all(|r| r.state == STATE_IN_PROGRESS && r.fence == 1));
    assert!(s
        .claim_executions("w2", 3.0, 30.0, 10)
        .await
        .unwrap()
        .is_empty());
    // Renewal needs the current token.
    assert!(s
        .renew_execution_lease(&claimed[0].id, claimed[0].fence, 35.0)
        .await
        .unwrap());
    assert!(!s
        .renew_execution_lease(&claimed[0].id, claimed[0].fence + 1, 35.0)
        .await
        .unwrap());
    // Lease expiry: another worker takes over with a higher token; the first one is fenced out.
    let again = s.claim_executions("w2", 40.0, 30.0, 10).await.unwrap();
    let first = &claimed[0];
    let newer = again
        .iter()
        .find(|r| r.id == first.id)
        .expect("an expired lease is claimable");
    assert!(newer.fence > first.fence);
    assert_eq!(
        s.commit_step(&step(first, STATE_SUCCEEDED, 41.0))
            .await
            .unwrap(),
        CommitOutcome::Stale
    );
    assert!(!s
        .renew_execution_lease(&first.id, first.fence, 99.0)
        .await
        .unwrap());
    assert_eq!(
        s.commit_step(&step(newer, STATE_IN_PROGRESS, 41.0))
            .await
            .unwrap(),
        CommitOutcome::Committed
    );
    // A released (fenced) lease is claimable at once, by anyone.
    let other = again.iter().find(|r| r.id != first.id).unwrap();
    assert!(!s
        .release_execution(&other.id, other.fence - 1)
        .await
        .unwrap());
    assert!(s.release_execution(&other.id, other.fence).await.unwrap());
    let retaken = s.claim_executions("w4", 41.0, 30.0, 10).await.unwrap();
    assert_eq!(
        retaken.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [other.id.as_str()]
    );
    // A waiting commit releases the lease until wake_at.
    let waiting = StepCommit {
        wake_at: Some(100.0),
        ..step(newer, STATE_IN_PROGRESS, 42.0)
    };
    assert_eq!(
        s.commit_step(&waiting).await.unwrap(),
        CommitOutcome::Committed
    );
    assert!(!s
        .claim_executions("w3", 50.0, 30.0, 10)
        .await
        .unwrap()
        .iter()
        .any(|r| r.id == first.id));
    let woken = s.claim_executions("w3", 100.0, 30.0, 10).await.unwrap();
    let woken = woken
        .iter()
        .find(|r| r.id == first.id)
        .expect("claimable at wake_at");
    assert_eq!(
        woken.execution_state, waiting.execution_state,
        "resumes from the committed state"
    );
    assert_eq!(
        s.commit_step(&step(woken, STATE_SUCCEEDED, 101.0))
            .await
            .unwrap(),
        CommitOutcome::Committed
    );
    assert_eq!(
        s.commit_step(&step(woken, STATE_SUCCEEDED, 102.0))
            .await
            .unwrap(),
        CommitOutcome::Stale,
        "terminal"
    );

    // The latest execution per key, paged by key.
    let latest = s
        .latest_executions(&sc, "r", None, None, 100)
        .await
        .unwrap();
    assert_eq!(
        latest
            .iter()
            .map(|r| r.resource_id.as_str())
            .collect::<Vec<_>>(),
        ["a", "b", "c", "d"]
    );
    assert_eq!(
        latest
            .iter()
            .find(|r| r.id == first.id)
            .map(|r| r.state.as_str()),
        Some(STATE_SUCCEEDED),
        "the committed state"
    );
    assert_eq!(
        s.latest_executions(&sc, "r", None, Some(&key("AWS::S3::Bucket", "b")), 1)
            .await
            .unwrap()[0]
            .resource_id,
        "c"
    );
    // A terminal key may start again; the new one is its latest.
    let out = s
        .insert_executions(
            &sc,
            "r",
            &[exec("6", &first.resource_id, "c", 100, 100)],
            150.0,
        )
        .await
        .unwrap();
    assert_eq!(out, vec![Started]);
    let k = vec![
        key("AWS::S3::Bucket", &first.resource_id),
        key("AWS::S3::Bucket", "zz"),
    ];
    let latest = s
        .latest_executions(&sc, "r", Some(&k), None, 100)
        .await
        .unwrap();
    assert_eq!(latest.len(), 1);
    assert_eq!(latest[0].id, "6");
    assert!(s
        .latest_executions(&other_scope(), "r", None, None, 100)
        .await
        .unwrap()
        .is_empty());
}

async fn stale_fence_writes_change_nothing(fx: Fx) {
    let s = &*fx.store;
    let sc = scope();
    remediable(s, &sc).await;
    s.insert_executions(&sc, "r", &[exec("e", "a", "b", 100, 100)], 1.0)
        .await
        .unwrap();
    let old = s
        .claim_executions("w1", 2.0, 10.0, 1)
        .await
        .unwrap()
        .remove(0);
    let new = s
        .claim_executions("w2", 20.0, 10.0, 1)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(new.id, old.id);
    assert_eq!(
        s.commit_step(&step(&new, STATE_IN_PROGRESS, 21.0))
            .await
            .unwrap(),
        CommitOutcome::Committed
    );
    let before = s.get_execution("e").await.unwrap().unwrap();
    // Every write the stale worker may still try.
    assert_eq!(
        s.commit_step(&step(&old, STATE_FAILED, 22.0))
            .await
            .unwrap(),
        CommitOutcome::Stale
    );
    let wait = StepCommit {
        wake_at: Some(1e9),
        ..step(&old, STATE_IN_PROGRESS, 22.0)
    };
    assert_eq!(s.commit_step(&wait).await.unwrap(), CommitOutcome::Stale);
    assert!(!s.renew_execution_lease("e", old.fence, 1e9).await.unwrap());
    assert!(!s.release_execution("e", old.fence).await.unwrap());
    assert_eq!(
        s.get_execution("e").await.unwrap().unwrap(),
        before,
        "nothing changed"
    );
    // The lease is still w2's: nobody else can claim it.
    assert!(s
        .claim_executions("w3", 25.0, 10.0, 1)
        .await
        .unwrap()
        .is_empty());
}

async fn execution_claims_are_exclusive_under_concurrent_claimers(fx: Fx) {
    let s = fx.store.clone();
    let sc = scope();
    remediable(&*s, &sc).await;
    let execs: Vec<_> = (0..120)
        .map(|i| exec(&format!("e{i:03}"), &format!("b{i:03}"), "batch", 100, 100))
        .collect();
    s.insert_executions(&sc, "r", &execs, 1.0).await.unwrap();
    let mut tasks = Vec::new();
    for w in 0..6 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = s
                    .claim_executions(&format!("w{w}"), 2.0, 600.0, 5)
                    .await
                    .unwrap();
                if got.is_empty() {
                    break;
                }
                mine.extend(got.into_iter().map(|r| r.id));
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(all.len(), 120, "each execution claimed once: {}", all.len());
    assert_eq!(unique.len(), 120);
}

/// A start and the deletion of its remediation configuration, raced: either the start's
/// executions are in (and the deletion is refused: remediation in progress) or the deletion won
/// (and the start finds no configuration) — never executions queued for a deleted configuration.
async fn a_start_racing_its_configurations_deletion_never_outlives_it(fx: Fx) {
    let s = fx.store.clone();
    for round in 0..20 {
        let sc = Scope::new(format!("{:012}", 500_000 + round), "us-east-1");
        remediable(&*s, &sc).await;
        let start = {
            let (s, sc) = (s.clone(), sc.clone());
            tokio::spawn(async move {
                let batch: Vec<NewExecution> = (0..5)
                    .map(|k| {
                        exec(
                            &format!("race-{round}-{k}"),
                            &format!("b{k}"),
                            "b",
                            100,
                            100,
                        )
                    })
                    .collect();
                s.insert_executions(&sc, "r", &batch, 1.0).await
            })
        };
        let delete = {
            let (s, sc) = (s.clone(), sc.clone());
            tokio::spawn(async move { s.delete_remediation_configuration(&sc, "r").await })
        };
        let (started, deleted) = (start.await.unwrap(), delete.await.unwrap());
        match (&started, &deleted) {
            (Ok(outcomes), Err(StoreError::RemediationInProgress)) => {
                assert!(outcomes.iter().all(|o| *o == InsertOutcome::Started))
            }
            (Err(StoreError::NotFound), Ok(())) => {}
            other => {
                panic!("round {round}: start and deletion both took effect or failed: {other:?}")
            }
        }
        let configured = s
            .get_remediation_configurations(&sc, &["r".to_string()])
            .await
            .unwrap();
        assert_eq!(configured.is_empty(), deleted.is_ok(), "round {round}");
    }
}

async fn concurrent_starts_of_one_key_start_one_execution(fx: Fx) {
    let s = fx.store.clone();
    let sc = scope();
    remediable(&*s, &sc).await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let s = s.clone();
        let sc = sc.clone();
        tasks.push(tokio::spawn(async move {
            s.insert_executions(
                &sc,
                "r",
                &[exec(&format!("s{i}"), "same", &format!("b{i}"), 100, 100)],
                1.0,
            )
            .await
            .unwrap()
        }));
    }
    let mut started = 0;
    for t in tasks {
        started += t
            .await
            .unwrap()
            .iter()
            .filter(|o| **o == InsertOutcome::Started)
            .count();
    }
    assert_eq!(started, 1);
    assert_eq!(s.active_executions().await.unwrap(), 1);
}

/// An automatic run names the finding it acts on (the NON_COMPLIANT result's ordering
/// timestamp); the store queues it only if no execution of the key was invoked since, even one
/// that already ended — a late trigger on another node finds the finding handled.
async fn an_automatic_run_acts_on_a_finding_once(fx: Fx) {
    let s = &*fx.store;
    let sc = scope();
    remediable(s, &sc).await;
    let for_finding = |id: &str, resource: &str, finding: f64| NewExecution {
        finding_ordering: Some(finding),
        automatic: true,
        ..exec(id, resource, id, 100, 100)
    };
    // A finding captured at 5: the first trigger runs it (invoked at 10) to its end.
    let out = s
        .insert_executions(&sc, "r", &[for_finding("first", "a", 5.0)], 10.0)
        .await
        .unwrap();
    assert_eq!(out, vec![InsertOutcome::Started]);
    let claimed = s.claim_executions("w", 11.0, 30.0, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        s.commit_step(&step(&claimed[0], STATE_SUCCEEDED, 12.0))
            .await
            .unwrap(),
        CommitOutcome::Committed
    );
    // A late trigger for the same finding (or an older one) queues nothing, even in a batch
    // with other keys, which start; a finding at the invocation time itself was seen by it.
    let out = s
        .insert_executions(
            &sc,
            "r",
            &[
                for_finding("late", "a", 5.0),
                for_finding("other", "b", 5.0),
                for_finding("older", "a", 1.0),
                for_finding("same-instant", "a", 10.0),
            ],
            20.0,
        )
        .await
        .unwrap();
    use InsertOutcome::*;
    assert_eq!(
        out,
        vec![FindingHandled, Started, FindingHandled, FindingHandled]
    );
    for id in ["late", "older", "same-instant"] {
        assert!(s.get_execution(id).await.unwrap().is_none(), "{id}");
    }
    // A finding of a state captured after the run was queued is a new one.
    let out = s
        .insert_executions(&sc, "r", &[for_finding("new", "a", 15.0)], 21.0)
        .await
        .unwrap();
    assert_eq!(out, vec![Started]);
    // While that run is in flight, another trigger of a still newer finding waits its turn,
    // and a manual start (no finding) meets the in-flight run.
    let out = s
        .insert_executions(
            &sc,
            "r",
            &[
                for_finding("newer", "a", 30.0),
                exec("manual", "a", "m", 100, 100),
            ],
            31.0,
        )
        .await
        .unwrap();
    assert_eq!(out, vec![InFlight, InFlight]);
}

async fn lease_release_at_start(fx: Fx) {
    let s = &*fx.store;
    let sc = scope();
    remediable(s, &sc).await;
    s.insert_executions(
        &sc,
        "r",
        &[
            exec("e1", "a", "b", 100, 100),
            exec("e2", "b", "b", 100, 100),
        ],
        1.0,
    )
    .await
    .unwrap();
    s.record_configuration_item(&sc, item("x"), None)
        .await
        .unwrap();
    let now = remedy::time::now();
    match &fx.url {
        // One process owns a SQLite file: at start, whatever a previous process held is dead.
        None => {
            assert_eq!(fx.backend, Backend::Sqlite);
            let claimed = s.claim_executions("old/0", now, 3600.0, 10).await.unwrap();
            assert_eq!(claimed.len(), 2);
            let jobs = s.claim_evaluation_jobs(10.0, 10, 0.0).await.unwrap();
            assert_eq!(jobs.len(), 2, "the rule's job and x's");
            assert_eq!(s.release_all_execution_leases().await.unwrap(), 2);
            let reclaimed = s.claim_executions("new/0", now, 3600.0, 10).await.unwrap();
            assert_eq!(reclaimed.len(), 2);
            assert!(reclaimed.iter().all(|r| r.fence == 2));
            assert_eq!(s.release_evaluation_claims().await.unwrap(), 2);
            assert_eq!(
                s.claim_evaluation_jobs(11.0, 10, 0.0).await.unwrap().len(),
                2
            );
        }
        // Nodes share a PostgreSQL database: a node starting never takes a live node's leases
        // or claims, and takes a gone node's at once (not after their lease or staleness).
        Some(url) => {
            let other = remedy::store::postgres::PgStore::connect(url)
                .await
                .unwrap();
            let claimed = other
                .claim_executions("node-1/0", now, 3600.0, 10)
                .await
                .unwrap();
            assert_eq!(claimed.len(), 2);
            let jobs = other.claim_evaluation_jobs(10.0, 10, 0.0).await.unwrap();
            assert_eq!(jobs.len(), 2, "the rule's job and x's");
            assert_eq!(s.release_all_execution_leases().await.unwrap(), 0);
            assert_eq!(s.release_evaluation_claims().await.unwrap(), 0);
            assert!(s
                .claim_executions("node-2/0", now, 3600.0, 10)
                .await
                .unwrap()
                .is_empty());
            assert!(s
                .claim_evaluation_jobs(11.0, 10, 0.0)
                .await
                .unwrap()
                .is_empty());
            // The other node goes away; PostgreSQL frees its liveness lock when its connection
            // closes, which the server notices shortly after.
            drop(other);
            let mut released = 0;
            for _ in 0..200 {
                released = s.release_all_execution_leases().await.unwrap();
                if released > 0 {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            assert_eq!(released, 2);
            assert_eq!(s.release_evaluation_claims().await.unwrap(), 2);
            let reclaimed = s
                .claim_executions("node-2/0", now, 3600.0, 10)
                .await
                .unwrap();
            assert_eq!(reclaimed.len(), 2);
            assert!(reclaimed.iter().all(|r| r.fence == 2));
            assert_eq!(
                s.claim_evaluation_jobs(12.0, 10, 0.0).await.unwrap().len(),
                2
            );
            // Were the gone node's worker still writing, its token is stale.
            assert_eq!(
                s.commit_step(&step(&claimed[0], STATE_SUCCEEDED, now))
                    .await
                    .unwrap(),
                CommitOutcome::Stale
            );
        }
    }
}

async fn error_percentage_and_automatic_failures(fx: Fx) {
    let s = &*fx.store;
    let sc = scope();
    remediable(s, &sc).await;
    let execs: Vec<_> = (0..4)
        .map(|i| exec(&i.to_string(), &format!("b{i}"), "batch", 25, 25))
        .collect();
    s.insert_executions(&sc, "r", &execs, 1.0).await.unwrap();
    let c = s.claim_executions("w", 2.0, 30.0, 10).await.unwrap();
    assert_eq!(c.len(), 1, "25 % of 4");
    assert_eq!(
        s.commit_step(&step(&c[0], STATE_FAILED, 3.0))
            .await
            .unwrap(),
        CommitOutcome::Committed
    );
    let c = s.claim_executions("w", 4.0, 30.0, 10).await.unwrap();
    assert_eq!(c.len(), 1, "1 error of 4 at 25 % is allowed");
    assert_eq!(
        s.commit_step(&step(&c[0], STATE_FAILED, 5.0))
            .await
            .unwrap(),
        CommitOutcome::Committed
    );
    // 2 > 1: the rest end FAILED without starting.
    assert!(s
        .claim_executions("w", 6.0, 30.0, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(s.active_executions().await.unwrap(), 0);

    for n in 1..3 {
        assert_eq!(
            s.record_automatic_failure(&sc, "r", "T", "i", n as f64, 60.0, 3)
                .await
                .unwrap(),
            AutomaticFailureOutcome::Retry { failures: n }
        );
    }
    assert_eq!(
        s.record_automatic_failure(&sc, "r", "T", "i", 100.0, 60.0, 3)
            .await
            .unwrap(),
        AutomaticFailureOutcome::Retry { failures: 1 },
        "failures outside the window do not count"
    );
    s.record_automatic_failure(&sc, "r", "T", "i", 101.0, 60.0, 3)
        .await
        .unwrap();
    let out = s
        .record_automatic_failure(&sc, "r", "T", "i", 102.0, 60.0, 3)
        .await
        .unwrap();
    assert!(matches!(out, AutomaticFailureOutcome::ExceptionCreated(_)));
    let ex = s
        .list_remediation_exceptions(&sc, "r", None, None, 10, 103.0)
        .await
        .unwrap();
    assert_eq!(
        ex[0].message.as_deref(),
        Some("Auto-remediation failed 3 times within 60 seconds.")
    );
    // The history was cleared with the exception.
    assert_eq!(
        s.record_automatic_failure(&sc, "r", "T", "i", 104.0, 60.0, 3)
            .await
            .unwrap(),
        AutomaticFailureOutcome::Retry { failures: 1 }
    );
}

fn direct(id: &str, token: Option<&str>, hash: &str) -> NewAutomationExecution {
    let runbook = remedy_automation::builtin("AWS-ConfigureS3BucketVersioning").unwrap();
    let given =
        std::collections::BTreeMap::from([("BucketName".to_string(), vec!["bucket".to_string()])]);
    let params = runbook.resolve_parameters(&given).unwrap();
    let state = remedy_automation::ExecutionState::new(runbook, params);
    NewAutomationExecution {
        id: id.into(),
        document_name: "AWS-ConfigureS3BucketVersioning".into(),
        document_version: "1".into(),
        parameters: "{}".into(),
        execution_state: serde_json::to_string(&state).unwrap(),
        mode: "Auto".into(),
        executed_by: "arn:aws:iam::000000000000:root".into(),
        client_token: token.map(str::to_string),
        request_hash: hash.into(),
        tags: vec![("k".into(), "v".into())],
        parent_id: None,
    }
}

fn status_of(r: &ExecutionRecord) -> remedy_automation::AutomationExecutionStatus {
    serde_json::from_str::<remedy_automation::ExecutionState>(&r.execution_state)
        .unwrap()
        .status
}

async fn direct_executions_tokens_and_stops(fx: Fx) {
    use remedy_automation::AutomationExecutionStatus::Cancelled;
    let s = &*fx.store;
    let sc = scope();
    let other = other_scope();
    for (id, token) in [("d1", Some("t1")), ("d2", None), ("d3", None)] {
        assert_eq!(
            s.insert_automation_execution(&sc, &direct(id, token, "h"), 1.0, 100)
                .await
                .unwrap(),
            AutomationInsert::Started
        );
    }
    assert_eq!(
        s.insert_automation_execution(&sc, &direct("d4", Some("t1"), "h"), 2.0, 100)
            .await
            .unwrap(),
        AutomationInsert::Existing("d1".into())
    );
    assert_eq!(
        s.insert_automation_execution(&sc, &direct("d5", Some("t1"), "h2"), 2.0, 100)
            .await
            .unwrap(),
        AutomationInsert::TokenMismatch
    );
    assert_eq!(
        s.insert_automation_execution(&other, &direct("o1", Some("t1"), "h2"), 2.0, 100)
            .await
            .unwrap(),
        AutomationInsert::Started,
        "tokens are per account and region"
    );
    let listed = s.list_executions(&sc, None, 10).await.unwrap();
    assert_eq!(
        listed.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["d3", "d2", "d1"]
    );
    assert!(listed
        .iter()
        .all(|r| !r.remediation && r.tags == vec![("k".to_string(), "v".to_string())]));
    assert_eq!(
        listed[2].executed_by.as_deref(),
        Some("arn:aws:iam::000000000000:root")
    );
    assert_eq!(
        s.list_executions(&sc, Some(listed[0].seq), 1)
            .await
            .unwrap()[0]
            .id,
        "d2"
    );

    assert_eq!(
        s.stop_execution(&other, "d2", 3.0).await.unwrap(),
        StopOutcome::NotFound
    );
    assert_eq!(
        s.stop_execution(&sc, "d2", 3.0).await.unwrap(),
        StopOutcome::Cancelled
    );
    let d2 = s.get_execution("d2").await.unwrap().unwrap();
    assert_eq!(d2.state, STATE_FAILED);
    assert_eq!(status_of(&d2), Cancelled);
    assert_eq!(
        s.stop_execution(&sc, "d2", 4.0).await.unwrap(),
        StopOutcome::Terminal
    );

    // Held by a worker: marked; its next commit ends it Cancelled; its token is then stale.
    let claimed = s.claim_executions("w1", 5.0, 30.0, 10).await.unwrap();
    let d1 = claimed.iter().find(|r| r.id == "d1").unwrap().clone();
    assert_eq!(
        s.stop_execution(&sc, "d1", 6.0).await.unwrap(),
        StopOutcome::CancelRequested
    );
    assert!(
        s.get_execution("d1")
            .await
            .unwrap()
            .unwrap()
            .cancel_requested
    );
    let commit = StepCommit {
        id: "d1".into(),
        fence: d1.fence,
        state: STATE_IN_PROGRESS.into(),
        execution_state: d1.execution_state.clone(),
        now: 7.0,
        wake_at: None,
    };
    assert_eq!(
        s.commit_step(&commit).await.unwrap(),
        CommitOutcome::Cancelled
    );
    let after = s.get_execution("d1").await.unwrap().unwrap();
    assert_eq!(
        (after.state.as_str(), status_of(&after)),
        (STATE_FAILED, Cancelled)
    );
    assert_eq!(s.commit_step(&commit).await.unwrap(), CommitOutcome::Stale);

    // Held by a worker that dies: the next claim ends it Cancelled instead of running it.
    let d3 = claimed.iter().find(|r| r.id == "d3").unwrap().clone();
    assert_eq!(
        s.stop_execution(&sc, "d3", 8.0).await.unwrap(),
        StopOutcome::CancelRequested
    );
    let claimed = s.claim_executions("w2", 100.0, 30.0, 10).await.unwrap();
    assert_eq!(
        claimed.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["o1"]
    );
    let d3_after = s.get_execution("d3").await.unwrap().unwrap();
    assert_eq!(d3_after.state, STATE_FAILED);
    assert!(d3_after.fence > d3.fence);
    assert_eq!(
        s.commit_step(&StepCommit {
            id: "d3".into(),
            fence: d3.fence,
            ..commit
        })
        .await
        .unwrap(),
        CommitOutcome::Stale
    );
    assert_eq!(s.active_executions().await.unwrap(), 1);

    // The quota counts the scope's unfinished executions.
    assert_eq!(
        s.insert_automation_execution(&other, &direct("o2", None, "h"), 9.0, 2)
            .await
            .unwrap(),
        AutomationInsert::Started
    );
    assert_eq!(
        s.insert_automation_execution(&other, &direct("o3", None, "h"), 9.0, 2)
            .await
            .unwrap(),
        AutomationInsert::LimitExceeded
    );
    assert!(s.get_execution("o3").await.unwrap().is_none());
    // Per scope: the other scope's two do not count, nor this scope's finished ones.
    assert_eq!(
        s.insert_automation_execution(&sc, &direct("d6", None, "h"), 9.0, 2)
            .await
            .unwrap(),
        AutomationInsert::Started
    );
}

/// A fresh interpreter state, as StartRemediationExecution queues it.
fn fresh_state() -> String {
    direct("x", None, "h").execution_state
}

/// A state after one failed step whose inputs and outputs a status does not show.
const RAN_STATE: &str = r#"{"status":"Failed","parameters":{"BucketName":["b"]},"nextStep":null,
  "current":null,"outputs":{"s1":{"Big":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}},"steps":[{"stepName":"s1",
  "action":"aws:executeAwsApi","status":"Failed","inputs":{"Bucket":"b"},"outputs":{"Big":"x"},
  "failureMessage":"Access denied","startTimeMs":2000,"endTimeMs":2500,"attempt":1,"maxAttempts":1,
  "timeoutSeconds":null,"onFailure":"Abort","isCritical":true,"isEnd":false,"nextStep":null}],
  "stepsExecuted":1,"failureMessage":"Step fails when it is executing.","startTimeMs":2000,
  "endTimeMs":2500}"#;

async fn execution_statuses_show_the_committed_steps(fx: Fx) {
    let s = &*fx.store;
    let sc = scope();
    remediable(s, &sc).await;
    let queued = |id: &str, resource: &str| NewExecution {
        execution_state: fresh_state(),
        ..exec(id, resource, "b", 100, 100)
    };
    s.insert_executions(&sc, "r", &[queued("1", "a"), queued("2", "b")], 1.0)
        .await
        .unwrap();
    // Queued: no step yet.
    let statuses = s
        .latest_execution_statuses(&sc, "r", None, None, 10)
        .await
        .unwrap();
    assert_eq!(
        statuses
            .iter()
            .map(|r| (r.resource_id.as_str(), r.state.as_str()))
            .collect::<Vec<_>>(),
        [("a", STATE_QUEUED), ("b", STATE_QUEUED)]
    );
    assert_eq!(statuses[0].summary, Some(ExecutionSummary::default()));
    assert_eq!(
        (statuses[0].invocation_time, statuses[0].last_updated),
        (1.0, 1.0)
    );
    assert_eq!(statuses[0].document_name, "AWS-ConfigureS3BucketVersioning");

    let claimed = s.claim_executions("w", 2.0, 30.0, 10).await.unwrap();
    let held = |id: &str| claimed.iter().find(|r| r.id == id).unwrap().clone();
    let a = held("1");
    assert_eq!(
        s.commit_step(&StepCommit {
            execution_state: RAN_STATE.into(),
            ..step(&a, STATE_FAILED, 3.0)
        })
        .await
        .unwrap(),
        CommitOutcome::Committed
    );
    let shown = s
        .latest_execution_statuses(&sc, "r", Some(&[key("AWS::S3::Bucket", "a")]), None, 10)
        .await
        .unwrap();
    assert_eq!(shown.len(), 1);
    assert_eq!(
        (shown[0].state.as_str(), shown[0].last_updated),
        (STATE_FAILED, 3.0)
    );
    let summary = shown[0].summary.clone().unwrap();
    assert_eq!(
        summary.steps,
        vec![StepSummary {
            step_name: "s1".into(),
            status: remedy_automation::AutomationExecutionStatus::Failed,
            failure_message: Some("Access denied".into()),
            start_time_ms: 2000,
            end_time_ms: Some(2500),
        }]
    );
    assert_eq!(
        summary.failure_message.as_deref(),
        Some("Step fails when it is executing.")
    );
    // The same as reading the whole state.
    let whole = s.get_execution("1").await.unwrap().unwrap();
    assert_eq!(whole.execution_state, RAN_STATE);
    assert_eq!(
        ExecutionSummary::from_json(&whole.execution_state),
        Some(summary)
    );

    // A stop lands at the worker's next commit: the status shows it Cancelled.
    let b = held("2");
    assert_eq!(
        s.stop_execution(&sc, "2", 4.0).await.unwrap(),
        StopOutcome::CancelRequested
    );
    assert_eq!(
        s.commit_step(&StepCommit {
            execution_state: fresh_state(),
            ..step(&b, STATE_IN_PROGRESS, 5.0)
        })
        .await
        .unwrap(),
        CommitOutcome::Cancelled
    );
    let shown = s
        .latest_execution_statuses(&sc, "r", None, Some(&key("AWS::S3::Bucket", "a")), 10)
        .await
        .unwrap();
    assert_eq!(
        shown
            .iter()
            .map(|r| (r.resource_id.as_str(), r.state.as_str()))
            .collect::<Vec<_>>(),
        [("b", STATE_FAILED)]
    );
    assert_eq!(
        shown[0]
            .summary
            .as_ref()
            .and_then(|s| s.failure_message.as_deref()),
        Some("The automation execution was cancelled.")
    );
    // Another rule's, or another scope's: none.
    assert!(s
        .latest_execution_statuses(&other_scope(), "r", None, None, 10)
        .await
        .unwrap()
        .is_empty());
}

// ---- documents -------------------------------------------------------------------------------

fn version(content: &str, name: Option<&str>) -> NewDocumentVersion {
    NewDocumentVersion {
        version_name: name.map(str::to_string),
        display_name: Some("display".into()),
        target_type: Some("/".into()),
        format: "YAML".into(),
        content: content.into(),
        hash: format!("hash-{content}"),
    }
}

async fn documents_versions_defaults_and_limits(fx: Fx) {
    let s = &*fx.store;
    let sc = scope();
    let doc = |name: &str| NewDocument {
        name: name.into(),
        document_type: "Automation".into(),
        tags: vec![("team".into(), "a".into()), ("env".into(), "b".into())],
        first: version(&format!("{name}-1"), Some("first")),
    };
    let created = s
        .create_document(&sc, &doc("Doc"), 2, 10.0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            created.header.default_version,
            created.header.latest_version,
            created.version.version
        ),
        (1, 1, 1)
    );
    assert_eq!(
        created.header.tags,
        doc("Doc").tags,
        "tags in creation order"
    );
    assert_eq!(created.version.content, "Doc-1");
    assert_eq!(
        s.create_document(&sc, &doc("Doc"), 2, 11.0).await.unwrap(),
        Err(DocumentConflict::AlreadyExists)
    );
    s.create_document(&sc, &doc("Another"), 2, 11.0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        s.create_document(&sc, &doc("Third"), 2, 11.0)
            .await
            .unwrap(),
        Err(DocumentConflict::DocumentLimit(2))
    );
    s.create_document(&other_scope(), &doc("Third"), 2, 11.0)
        .await
        .unwrap()
        .unwrap();

    let v2 = s
        .add_document_version(&sc, "Doc", Some(1), &version("c2", None), 3, 12.0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            v2.version.version,
            v2.header.latest_version,
            v2.header.default_version
        ),
        (2, 2, 1)
    );
    assert_eq!(
        s.add_document_version(&sc, "Doc", Some(1), &version("c3", None), 3, 13.0)
            .await
            .unwrap(),
        Err(DocumentConflict::NotLatest(2))
    );
    assert_eq!(
        s.add_document_version(&sc, "Doc", None, &version("c2", None), 3, 13.0)
            .await
            .unwrap(),
        Err(DocumentConflict::DuplicateContent(2))
    );
    assert_eq!(
        s.add_document_version(&sc, "Doc", None, &version("c3", Some("first")), 3, 13.0)
            .await
            .unwrap(),
        Err(DocumentConflict::DuplicateVersionName)
    );
    assert_eq!(
        s.add_document_version(&sc, "Nope", None, &version("c3", None), 3, 13.0)
            .await
            .unwrap(),
        Err(DocumentConflict::NoDocument)
    );
    s.add_document_version(&sc, "Doc", None, &version("c3", Some("third")), 3, 13.0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        s.add_document_version(&sc, "Doc", None, &version("c4", None), 3, 14.0)
            .await
            .unwrap(),
        Err(DocumentConflict::VersionLimit(3))
    );

    let get = |sel: VersionSelector, name: Option<&'static str>| async move {
        s.get_document(&scope(), "Doc", &sel, name)
            .await
            .unwrap()
            .map(|d| d.version.version)
    };
    assert_eq!(get(VersionSelector::Default, None).await, Some(1));
    assert_eq!(get(VersionSelector::Latest, None).await, Some(3));
    assert_eq!(get(VersionSelector::Number(2), None).await, Some(2));
    assert_eq!(get(VersionSelector::Number(9), None).await, None);
    assert_eq!(get(VersionSelector::Any, Some("third")).await, Some(3));
    assert_eq!(get(VersionSelector::Number(2), Some("third")).await, None);

    let d = s
        .set_default_document_version(&sc, "Doc", 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((d.header.default_version, d.version.version), (2, 2));
    assert_eq!(
        s.set_default_document_version(&sc, "Doc", 9).await.unwrap(),
        Err(DocumentConflict::NoVersion)
    );
    assert_eq!(
        s.set_default_document_version(&sc, "Nope", 1)
            .await
            .unwrap(),
        Err(DocumentConflict::NoDocument)
    );

    let listed = s.list_documents(&sc).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|d| d.header.name.as_str())
            .collect::<Vec<_>>(),
        ["Another", "Doc"]
    );
    assert_eq!(listed[1].version.version, 2, "with the default version");
    let (head, versions) = s
        .list_document_versions(&sc, "Doc", None, 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(head.latest_version, 3);
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    let (_, page) = s
        .list_document_versions(&sc, "Doc", Some(1), 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(page[0].version, 2);
    assert!(s
        .list_document_versions(&sc, "Nope", None, 10)
        .await
        .unwrap()
        .is_none());

    // Deleting: never the default version alone; the latest moves back; numbers are not reused.
    assert_eq!(
        s.delete_document(&sc, "Doc", Some(2)).await.unwrap(),
        Err(DocumentConflict::DefaultVersion)
    );
    assert_eq!(
        s.delete_document(&sc, "Doc", Some(9)).await.unwrap(),
        Err(DocumentConflict::NoVersion)
    );
    s.delete_document(&sc, "Doc", Some(3))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(get(VersionSelector::Latest, None).await, Some(2));
    let v4 = s
        .add_document_version(&sc, "Doc", None, &version("c4", None), 3, 15.0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v4.version.version, 4);
    s.delete_document(&sc, "Doc", None).await.unwrap().unwrap();
    assert_eq!(get(VersionSelector::Default, None).await, None);
    assert_eq!(
        s.delete_document(&sc, "Doc", None).await.unwrap(),
        Err(DocumentConflict::NoDocument)
    );
    // Created again, it starts over at version 1.
    let again = s
        .create_document(&sc, &doc("Doc"), 2, 20.0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.version.version, 1);
}

// ---- concurrency, atomicity, liveness -------------------------------------------------------

/// Runs `n` copies of `f(i)` at once and counts the ones that returned `true`.
async fn race<F, Fut>(n: usize, f: F) -> usize
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let tasks: Vec<_> = (0..n).map(|i| tokio::spawn(f(i))).collect();
    let mut ok = 0;
    for t in tasks {
        ok += t.await.unwrap() as usize;
    }
    ok
}

/// Writers of one rule's results at once (two nodes' engines, PutEvaluations), each batch in
/// its own key order: none fails (no deadlock), every key keeps the newest result, and its first
/// result is reported as new exactly once, and the rule's evaluation time is the latest. A
/// deletion of the rule racing them leaves no result and no status.
async fn results_stay_newest_under_concurrent_writers(fx: Fx) {
    use ComplianceType::*;
    let s = fx.store.clone();
    let sc = scope();
    s.insert_rule(&sc, &rule(&sc, "r"), &[], 10).await.unwrap();
    const KEYS: usize = 12;
    const WRITERS: usize = 16;
    let batch = |i: usize| {
        let mut rs: Vec<_> = (0..KEYS)
            .map(|k| {
                let t = if i.is_multiple_of(2) {
                    Compliant
                } else {
                    NonCompliant
                };
                result("r", &format!("k{k:02}"), t, i as f64)
            })
            .collect();
        rs.rotate_left(i % KEYS);
        if i.is_multiple_of(3) {
            rs.reverse();
        }
        rs
    };
    let writers: Vec<_> = (0..WRITERS)
        .map(|i| {
            let (s, sc) = (s.clone(), sc.clone());
            let now = 100.0 + i as f64;
            tokio::spawn(async move { s.put_evaluation_results(&sc, "r", &batch(i), now).await })
        })
        .collect();
    let mut first_reports = 0;
    for w in writers {
        let changes = w.await.unwrap().expect("every writer commits");
        first_reports += changes.iter().filter(|c| c.old.is_none()).count();
    }
    assert_eq!(first_reports, KEYS, "each key's first result is new once");
    let all = ResultQuery {
        compliance_types: vec![],
        limit: 100,
    };
    let stored = s.list_rule_results(&sc, "r", &all, None).await.unwrap();
    assert_eq!(stored.len(), KEYS);
    let newest = (WRITERS - 1) as f64;
    for r in &stored {
        assert_eq!(
            (r.ordering_timestamp, &r.compliance_type),
            (newest, &NonCompliant),
            "{}",
            r.resource_id
        );
    }

    // The rule's evaluation time is the latest writer's, whichever committed last.
    let status = s
        .list_rule_evaluation_status(&sc, Some(&["r".into()]), None, 10)
        .await
        .unwrap();
    assert_eq!(
        status[0].last_successful_evaluation_time,
        Some(100.0 + newest)
    );
    assert!(status[0].first_evaluation_started);

    // The rule deleted while writers are at work: each writer either commits before the
    // deletion (whose results it then deletes) or finds the rule gone; nothing is left.
    s.insert_rule(&sc, &rule(&sc, "d"), &[], 10).await.unwrap();
    let writers: Vec<_> = (0..WRITERS)
        .map(|i| {
            let (s, sc) = (s.clone(), sc.clone());
            let rs: Vec<_> = batch(i)
                .into_iter()
                .map(|r| EvaluationRecord {
                    rule_name: "d".into(),
                    ..r
                })
                .collect();
            tokio::spawn(async move { s.put_evaluation_results(&sc, "d", &rs, 100.0).await })
        })
        .collect();
    s.delete_rule(&sc, "d").await.unwrap();
    for w in writers {
        match w.await.unwrap() {
            Ok(_) | Err(StoreError::NotFound) => {}
            Err(e) => panic!("a writer racing the deletion failed: {e}"),
        }
    }
    assert_eq!(
        s.list_rule_results(&sc, "d", &all, None).await.unwrap(),
        vec![]
    );
    // Created again, the rule starts afresh: no status survived the deletion.
    s.insert_rule(&sc, &rule(&sc, "d"), &[], 10).await.unwrap();
    let status = s
        .list_rule_evaluation_status(&sc, Some(&["d".into()]), None, 10)
        .await
        .unwrap();
    assert_eq!(status[0].last_successful_evaluation_time, None);
    assert!(!status[0].first_evaluation_started);
}

/// One batch with two results for one resource is applied in its order, as two batches would
/// be: a newer second result replaces the first (two changes), an older one is dropped.
async fn a_batch_naming_one_resource_twice_applies_both_in_order(fx: Fx) {
    use ComplianceType::*;
    let s = &*fx.store;
    let sc = scope();
    s.insert_rule(&sc, &rule(&sc, "r"), &[], 10).await.unwrap();
    let changes = s
        .put_evaluation_results(
            &sc,
            "r",
            &[
                result("r", "k", NonCompliant, 5.0),
                result("r", "a", Compliant, 5.0),
                result("r", "k", Compliant, 7.0),
                result("r", "k", NonCompliant, 6.0),
            ],
            10.0,
        )
        .await
        .unwrap();
    let mut seen: Vec<_> = changes
        .iter()
        .map(|c| (c.resource_id.as_str(), c.old.clone(), c.new.clone()))
        .collect();
    // Resources in either order; one resource's changes in the order they happened.
    seen.sort_by_key(|(id, _, _)| *id);
    assert_eq!(
        seen,
        [
            ("a", None, Compliant),
            ("k", None, NonCompliant),
            ("k", Some(NonCompliant), Compliant)
        ]
    );
    let stored = s
        .list_rule_results(
            &sc,
            "r",
            &ResultQuery {
                compliance_types: vec![],
                limit: 10,
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(stored[1], result("r", "k", Compliant, 7.0));
}

async fn limits_hold_under_concurrent_writers(fx: Fx) {
    let s = fx.store.clone();
    let sc = scope();
    // The first use of the result-token secret, raced: one secret for everyone.
    let secrets: Vec<_> = (0..8)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.result_token_secret().await.unwrap() })
        })
        .collect();
    let mut seen = HashSet::new();
    for t in secrets {
        seen.insert(t.await.unwrap());
    }
    assert_eq!(seen.len(), 1);
    let rules = race(12, |i| {
        let (s, sc) = (s.clone(), sc.clone());
        async move {
            match s
                .insert_rule(&sc, &rule(&sc, &format!("r{i:02}")), &[], 5)
                .await
            {
                Ok(()) => true,
                Err(StoreError::LimitExceeded(5)) => false,
                Err(e) => panic!("{e}"),
            }
        }
    })
    .await;
    assert_eq!(rules, 5);
    assert_eq!(s.list_rules(&sc, None, 100).await.unwrap().len(), 5);

    let custom = race(10, |i| {
        let (s, sc) = (s.clone(), sc.clone());
        async move {
            let it = NewConfigurationItem {
                resource_type: "Corp::Thing".into(),
                ..item(&format!("c{i}"))
            };
            match s.record_configuration_item(&sc, it, Some(3)).await {
                Ok(_) => true,
                Err(StoreError::LimitExceeded(3)) => false,
                Err(e) => panic!("{e}"),
            }
        }
    })
    .await;
    assert_eq!(custom, 3);

    let docs = race(10, |i| {
        let (s, sc) = (s.clone(), sc.clone());
        async move {
            let doc = NewDocument {
                name: format!("D{i}"),
                document_type: "Automation".into(),
                tags: vec![],
                first: version(&format!("d{i}"), None),
            };
            match s.create_document(&sc, &doc, 4, 1.0).await.unwrap() {
                Ok(_) => true,
                Err(DocumentConflict::DocumentLimit(4)) => false,
                Err(e) => panic!("{e:?}"),
            }
        }
    })
    .await;
    assert_eq!(docs, 4);

    let versioned = NewDocument {
        name: "V".into(),
        document_type: "Automation".into(),
        tags: vec![],
        first: version("v-first", None),
    };
    s.create_document(&other_scope(), &versioned, 100, 1.0)
        .await
        .unwrap()
        .unwrap();
    let versions = race(8, |i| {
        let (s, sc) = (s.clone(), other_scope());
        async move {
            match s
                .add_document_version(&sc, "V", None, &version(&format!("v{i}"), None), 5, 2.0)
                .await
                .unwrap()
            {
                Ok(_) => true,
                Err(DocumentConflict::VersionLimit(5)) => false,
                Err(e) => panic!("{e:?}"),
            }
        }
    })
    .await;
    assert_eq!(versions, 4, "one version existed; the limit is five");
    let (_, all) = s
        .list_document_versions(&other_scope(), "V", None, 100)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        all.iter().map(|v| v.version).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );

    let started = race(12, |i| {
        let (s, sc) = (s.clone(), sc.clone());
        async move {
            match s
                .insert_automation_execution(&sc, &direct(&format!("a{i}"), None, "h"), 1.0, 5)
                .await
                .unwrap()
            {
                AutomationInsert::Started => true,
                AutomationInsert::LimitExceeded => false,
                other => panic!("{other:?}"),
            }
        }
    })
    .await;
    assert_eq!(started, 5);
    // One ClientToken, many racing requests: one execution.
    let with_token = race(8, |i| {
        let (s, sc) = (s.clone(), other_scope());
        async move {
            matches!(
                s.insert_automation_execution(
                    &sc,
                    &direct(&format!("t{i}"), Some("tok"), "h"),
                    1.0,
                    100
                )
                .await
                .unwrap(),
                AutomationInsert::Started
            )
        }
    })
    .await;
    assert_eq!(with_token, 1);
}

async fn concurrent_records_of_one_resource_keep_a_strict_history(fx: Fx) {
    let s = fx.store.clone();
    let sc = scope();
    let n = race(16, |_| {
        let (s, sc) = (s.clone(), sc.clone());
        async move {
            s.record_configuration_item(&sc, item("hot"), None)
                .await
                .is_ok()
        }
    })
    .await;
    assert_eq!(n, 16);
    let q = HistoryQuery {
        resource_type: "AWS::S3::Bucket".into(),
        resource_id: "hot".into(),
        earlier_time: None,
        later_time: None,
        forward: true,
        after_state_id: None,
        limit: 100,
    };
    let history = s.configuration_history(&sc, &q).await.unwrap();
    assert_eq!(history.len(), 16);
    assert!(history.windows(2).all(|w| w[0].state_id < w[1].state_id));
    let latest = s
        .latest_configuration_item(&sc, "AWS::S3::Bucket", "hot")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        latest.state_id, history[15].state_id,
        "the latest item is the newest history entry"
    );
    assert_eq!(
        history
            .iter()
            .filter(|c| c.status == "ResourceDiscovered")
            .count(),
        1
    );
}

async fn the_concurrency_bound_holds_under_concurrent_claimers(fx: Fx) {
    let s = fx.store.clone();
    let sc = scope();
    remediable(&*s, &sc).await;
    // 10 % of 20 non-terminal executions: 2 at once.
    let execs: Vec<_> = (0..20)
        .map(|i| exec(&format!("e{i:02}"), &format!("b{i:02}"), "batch", 10, 100))
        .collect();
    s.insert_executions(&sc, "r", &execs, 1.0).await.unwrap();
    let claimed = race(8, |w| {
        let s = s.clone();
        async move {
            !s.claim_executions(&format!("w{w}"), 2.0, 600.0, 10)
                .await
                .unwrap()
                .is_empty()
        }
    })
    .await;
    assert!(claimed <= 2, "{claimed} claimers took executions");
    // Whatever a racing claimer left, a later claim fills the bound and never passes it.
    s.claim_executions("late", 3.0, 600.0, 10).await.unwrap();
    assert!(s
        .claim_executions("later", 4.0, 600.0, 10)
        .await
        .unwrap()
        .is_empty());
    let running = s
        .latest_executions(&sc, "r", None, None, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.state == STATE_IN_PROGRESS)
        .count();
    assert_eq!(running, 2);
}

async fn ping_and_evaluation_signal(fx: Fx) {
    use futures_util::FutureExt;
    let s = &*fx.store;
    s.ping().await.unwrap();
    let signal = s.evaluation_signal();
    // Nothing enqueued yet: no wake-up pending.
    assert!(signal.notified().now_or_never().is_none());
    s.record_configuration_item(&scope(), item("a"), None)
        .await
        .unwrap();
    assert!(
        signal.notified().now_or_never().is_some(),
        "a commit that enqueued wakes the engine"
    );
    s.insert_rule(&scope(), &rule(&scope(), "r"), &[], 10)
        .await
        .unwrap();
    assert!(signal.notified().now_or_never().is_some());
}

async fn a_refused_write_writes_nothing(fx: Fx) {
    let s = &*fx.store;
    let sc = scope();
    s.insert_rule(&sc, &rule(&sc, "r"), &[], 10).await.unwrap();
    let jobs = s.claim_evaluation_jobs(1.0, 10, 0.0).await.unwrap();
    let ids: Vec<i64> = jobs.iter().map(|j| j.id).collect();
    s.finish_evaluation_jobs(&ids, &[], 2.0).await.unwrap();
    // One unknown name refuses the whole request: the known rule is not marked or enqueued.
    assert!(matches!(
        s.start_rule_evaluations(&sc, &["r".into(), "nope".into()], 10.0, 0.0)
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(rule_state(s, &sc, "r").await, ConfigRuleState::Active);
    assert_eq!(s.queued_evaluation_jobs().await.unwrap(), 0);
    assert_eq!(
        s.list_rule_evaluation_status(&sc, None, None, 10)
            .await
            .unwrap()[0]
            .last_successful_invocation_time,
        None
    );
    // Executions: a rule without configuration refuses the whole batch.
    assert!(matches!(
        s.insert_executions(
            &sc,
            "r",
            &[
                exec("x1", "a", "b", 100, 100),
                exec("x2", "b", "b", 100, 100)
            ],
            1.0
        )
        .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(s.active_executions().await.unwrap(), 0);
    assert!(s.get_execution("x1").await.unwrap().is_none());
}

// ---- compare-and-set configuration items and the world on them ------------------------------

/// Every version of a bucket's history, oldest first.
async fn history_of(s: &dyn Store, sc: &Scope, id: &str) -> Vec<remedy::domain::ConfigurationItem> {
    s.configuration_history(
        sc,
        &HistoryQuery {
            resource_type: "AWS::S3::Bucket".into(),
            resource_id: id.into(),
            earlier_time: None,
            later_time: None,
            forward: true,
            after_state_id: None,
            limit: 1000,
        },
    )
    .await
    .unwrap()
}

/// Claims and finishes every queued evaluation job; returns how many there were.
async fn drain_evaluation_queue(s: &dyn Store, now: f64) -> usize {
    let jobs = s.claim_evaluation_jobs(now, 1000, 0.0).await.unwrap();
    let ids: Vec<i64> = jobs.iter().map(|j| j.id).collect();
    s.finish_evaluation_jobs(&ids, &[], now).await.unwrap();
    jobs.len()
}

async fn configuration_item_compare_and_set_refuses_a_stale_state(fx: Fx) {
    let s = &*fx.store;
    let sc = scope();
    let versioned = |id: &str, n: i64| NewConfigurationItem {
        configuration: serde_json::json!({"name": id, "n": n}),
        ..item(id)
    };
    // A resource never recorded: only "no item" matches.
    assert!(s
        .record_configuration_item_if_latest(&sc, versioned("cas", 1), Some(1))
        .await
        .unwrap()
        .is_none());
    let first = s
        .record_configuration_item_if_latest(&sc, versioned("cas", 1), None)
        .await
        .unwrap()
        .expect("recorded on no item");
    assert_eq!(first.status, "ResourceDiscovered");
    assert!(s
        .record_configuration_item_if_latest(&sc, versioned("cas", 1), None)
        .await
        .unwrap()
        .is_none());
    let second = s
        .record_configuration_item_if_latest(&sc, versioned("cas", 2), Some(first.state_id))
        .await
        .unwrap()
        .expect("recorded on the latest state");
    assert!(second.state_id > first.state_id);
    assert_eq!(second.status, "OK");
    assert_eq!(
        drain_evaluation_queue(s, 10.0).await,
        1,
        "the resource's job"
    );

    // A change computed from the first state lands after the second: nothing is recorded,
    // nothing is enqueued.
    assert!(s
        .record_configuration_item_if_latest(&sc, versioned("cas", 3), Some(first.state_id))
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        s.latest_configuration_item(&sc, "AWS::S3::Bucket", "cas")
            .await
            .unwrap(),
        Some(second.clone())
    );
    assert_eq!(history_of(s, &sc, "cas").await.len(), 2);
    assert_eq!(s.queued_evaluation_jobs().await.unwrap(), 0);
    // The same resource in another scope is another resource.
    assert!(s
        .record_configuration_item_if_latest(&other_scope(), versioned("cas", 1), None)
        .await
        .unwrap()
        .is_some());

    // A deletion is a state like any other: a write must name it to land after it.
    let deleted = s
        .record_configuration_item(
            &sc,
            NewConfigurationItem {
                status: Some(STATUS_DELETED.into()),
                ..item("cas")
            },
            None,
        )
        .await
        .unwrap();
    for stale in [None, Some(second.state_id)] {
        assert!(s
            .record_configuration_item_if_latest(&sc, versioned("cas", 4), stale)
            .await
            .unwrap()
            .is_none());
    }
    let back = s
        .record_configuration_item_if_latest(&sc, versioned("cas", 4), Some(deleted.state_id))
        .await
        .unwrap()
        .expect("recorded after the deletion");
    assert_eq!(back.status, "ResourceDiscovered");
    assert_eq!(history_of(s, &sc, "cas").await.len(), 4);

    // Racing compare-and-set increments through two handles (two nodes on PostgreSQL): each
    // read-increment-write either lands on the state it read or is refused and redone, so no
    // increment is lost and every one is its own version.
    let other = second_handle(&fx).await;
    let mut tasks = Vec::new();
    for handle in [fx.store.clone(), other.clone()] {
        for _ in 0..4 {
            let s = handle.clone();
            tasks.push(tokio::spawn(async move {
                let sc = scope();
                let mut refused = 0;
                for _ in 0..10 {
                    loop {
                        let latest = s
                            .latest_configuration_item(&sc, "AWS::S3::Bucket", "counter")
                            .await
                            .unwrap();
                        let n = latest
                            .as_ref()
                            .and_then(|c| c.configuration["n"].as_i64())
                            .unwrap_or(0);
                        let next = NewConfigurationItem {
                            configuration: serde_json::json!({"name": "counter", "n": n + 1}),
                            ..item("counter")
                        };
                        let expected = latest.map(|c| c.state_id);
                        match s
                            .record_configuration_item_if_latest(&sc, next, expected)
                            .await
                            .unwrap()
                        {
                            Some(_) => break,
                            None => refused += 1,
                        }
                    }
                }
                refused
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let latest = s
        .latest_configuration_item(&sc, "AWS::S3::Bucket", "counter")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(latest.configuration["n"], 80, "no increment lost");
    let history = history_of(s, &sc, "counter").await;
    assert_eq!(history.len(), 80);
    let counts: Vec<i64> = history
        .iter()
        .map(|c| c.configuration["n"].as_i64().unwrap())
        .collect();
    assert_eq!(
        counts,
        (1..=80).collect::<Vec<_>>(),
        "each version built on the one before"
    );
}

/// A second handle on the fixture's database: another node on PostgreSQL; on SQLite, where one
/// process owns the file, the same store.
async fn second_handle(fx: &Fx) -> Arc<dyn Store> {
    match &fx.url {
        Some(url) => Arc::new(
            remedy::store::postgres::PgStore::connect(url)
                .await
                .unwrap(),
        ),
        None => fx.store.clone(),
    }
}

/// Two emulated worlds, each on its own store handle (two nodes on PostgreSQL), authorize
/// different ingress rules of one security group at once: every rule is kept. Before the
/// world's writes were a compare-and-set, both nodes could build on the same version and the
/// later write dropped the earlier one's rule.
async fn world_writes_through_two_store_handles_lose_no_change(fx: Fx) {
    use remedy::world::ConfigWorld;
    const SG: &str = "AWS::EC2::SecurityGroup";
    const GROUP: &str = "sg-0123456789abcdef0";
    let sc = scope();
    fx.store
        .record_configuration_item(
            &sc,
            NewConfigurationItem {
                resource_type: SG.into(),
                resource_id: GROUP.into(),
                resource_name: Some("app".into()),
                configuration: serde_json::json!({"groupId": GROUP, "groupName": "app",
                    "description": "app", "vpcId": "vpc-0a1b2c3d",
                    "ipPermissions": [], "ipPermissionsEgress": []}),
                ..item(GROUP)
            },
            None,
        )
        .await
        .unwrap();
    let other = second_handle(&fx).await;
    const PER_NODE: u16 = 15;
    let mut tasks = Vec::new();
    for (node, handle) in [fx.store.clone(), other].into_iter().enumerate() {
        let world = ConfigWorld::new(handle, sc.clone());
        for i in 0..PER_NODE {
            let world = world.clone();
            let port = 1000 + node as u16 * 100 + i;
            tasks.push(tokio::spawn(async move {
                world
                    .call(
                        "ec2",
                        "AuthorizeSecurityGroupIngress",
                        serde_json::json!({"GroupId": GROUP, "IpPermissions": [{"IpProtocol": "tcp",
                            "FromPort": port, "ToPort": port,
                            "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]}),
                    )
                    .await
            }));
        }
    }
    for t in tasks {
        t.await.unwrap().expect("every authorization succeeds");
    }
    let group = fx
        .store
        .latest_configuration_item(&sc, SG, GROUP)
        .await
        .unwrap()
        .unwrap();
    let mut ports: Vec<i64> = group.configuration["ipPermissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["fromPort"].as_i64().unwrap())
        .collect();
    ports.sort();
    let expected: Vec<i64> = (0..2)
        .flat_map(|node| (0..PER_NODE as i64).map(move |i| 1000 + node * 100 + i))
        .collect();
    assert_eq!(ports, expected, "no authorization lost");
    let history = fx
        .store
        .configuration_history(
            &sc,
            &HistoryQuery {
                resource_type: SG.into(),
                resource_id: GROUP.into(),
                earlier_time: None,
                later_time: None,
                forward: true,
                after_state_id: None,
                limit: 100,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        history.len(),
        1 + 2 * PER_NODE as usize,
        "one version per change"
    );
}

// ---- metrics ---------------------------------------------------------------------------------

/// `GET /metrics`'s counts: executions by state, live leases (an expired one is not held), the
/// evaluation queue's pending and claimed jobs, and on PostgreSQL each node's own share of the
/// leases and claims beside the cluster's.
async fn metrics_count_executions_by_state_leases_and_evaluation_claims(fx: Fx) {
    let s = &*fx.store;
    let sc = scope();
    let now = remedy::time::now();
    let empty = s.metrics_snapshot(now).await.unwrap();
    assert_eq!(
        empty,
        StoreMetrics {
            node: empty.node.clone(),
            ..Default::default()
        }
    );
    assert_eq!(empty.node.is_some(), fx.backend == Backend::Postgres);

    remediable(s, &sc).await; // rule r: a pending rule-wide evaluation job
    s.record_configuration_item(&sc, item("x"), None)
        .await
        .unwrap(); // and one for x
    s.insert_executions(
        &sc,
        "r",
        &[
            exec("e1", "a", "b", 100, 100),
            exec("e2", "b", "b", 100, 100),
            exec("e3", "c", "b", 100, 100),
        ],
        1.0,
    )
    .await
    .unwrap();
    let claimed = s.claim_executions("w/0", now, 30.0, 2).await.unwrap();
    assert_eq!(claimed.len(), 2);
    assert_eq!(
        s.commit_step(&step(&claimed[0], STATE_SUCCEEDED, now))
            .await
            .unwrap(),
        CommitOutcome::Committed
    );
    assert_eq!(s.claim_evaluation_jobs(now, 1, 0.0).await.unwrap().len(), 1);

    let m = s.metrics_snapshot(now).await.unwrap();
    let by_state = |m: &StoreMetrics| -> Vec<(String, u64)> { m.executions_by_state.clone() };
    let states = |v: &[(&str, u64)]| -> Vec<(String, u64)> {
        v.iter().map(|(s, n)| (s.to_string(), *n)).collect()
    };
    assert_eq!(
        by_state(&m),
        states(&[
            (STATE_IN_PROGRESS, 1),
            (STATE_QUEUED, 1),
            (STATE_SUCCEEDED, 1)
        ])
    );
    assert_eq!((m.executions_leased, m.executions_leased_by_node), (1, 1));
    assert_eq!(m.evaluation_jobs_pending, 1);
    assert_eq!(
        (m.evaluation_jobs_claimed, m.evaluation_jobs_claimed_by_node),
        (1, 1)
    );
    // Past the lease's end nobody holds it (the claim is still recorded: it goes stale, not away).
    let later = s.metrics_snapshot(now + 60.0).await.unwrap();
    assert_eq!(
        (later.executions_leased, later.executions_leased_by_node),
        (0, 0)
    );
    assert_eq!(later.evaluation_jobs_claimed, 1);

    // A second node on the same database: the counts are the cluster's, the shares each node's.
    if let Some(url) = &fx.url {
        let other = remedy::store::postgres::PgStore::connect(url)
            .await
            .unwrap();
        assert_eq!(
            other
                .claim_executions("w/1", now, 30.0, 1)
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            other
                .claim_evaluation_jobs(now, 1, 0.0)
                .await
                .unwrap()
                .len(),
            1
        );
        let mine = s.metrics_snapshot(now).await.unwrap();
        let theirs = other.metrics_snapshot(now).await.unwrap();
        assert_eq!(
            by_state(&mine),
            states(&[(STATE_IN_PROGRESS, 2), (STATE_SUCCEEDED, 1)])
        );
        assert_eq!(by_state(&theirs), by_state(&mine));
        assert_eq!(
            (mine.executions_leased, mine.executions_leased_by_node),
            (2, 1)
        );
        assert_eq!(
            (theirs.executions_leased, theirs.executions_leased_by_node),
            (2, 1)
        );
        assert_eq!(
            (
                mine.evaluation_jobs_pending,
                mine.evaluation_jobs_claimed,
                mine.evaluation_jobs_claimed_by_node
            ),
            (0, 2, 1)
        );
        assert_eq!(
            (
                theirs.evaluation_jobs_claimed,
                theirs.evaluation_jobs_claimed_by_node
            ),
            (2, 1)
        );
        assert!(mine.node.is_some() && theirs.node.is_some() && mine.node != theirs.node);
    }
}

/// The rescue a running node repeats (unlike the release at start) never takes this node's own
/// claims and leases — on SQLite, where no other node exists, it takes nothing — and on
/// PostgreSQL takes a node's work once that node is gone.
async fn the_periodic_rescue_takes_only_dead_nodes_work(fx: Fx) {
    let s = &*fx.store;
    let sc = scope();
    remediable(s, &sc).await;
    s.insert_executions(&sc, "r", &[exec("e1", "a", "b", 100, 100)], 1.0)
        .await
        .unwrap();
    let now = remedy::time::now();
    // This node's running work.
    assert_eq!(
        s.claim_executions("me/0", now, 3600.0, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.claim_evaluation_jobs(10.0, 10, 0.0).await.unwrap().len(),
        1
    );
    assert_eq!(s.release_dead_node_execution_leases().await.unwrap(), 0);
    assert_eq!(s.release_dead_node_evaluation_claims().await.unwrap(), 0);
    assert!(s
        .claim_executions("me/1", now, 3600.0, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(s
        .claim_evaluation_jobs(11.0, 10, 0.0)
        .await
        .unwrap()
        .is_empty());
    let Some(url) = &fx.url else {
        return;
    };
    // Another node's work, taken once the node is gone.
    let other = remedy::store::postgres::PgStore::connect(url)
        .await
        .unwrap();
    s.insert_executions(&sc, "r", &[exec("e2", "c", "b", 100, 100)], 1.0)
        .await
        .unwrap();
    s.record_configuration_item(&sc, item("x"), None)
        .await
        .unwrap();
    assert_eq!(
        other
            .claim_executions("other/0", now, 3600.0, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        other
            .claim_evaluation_jobs(12.0, 10, 0.0)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(s.release_dead_node_execution_leases().await.unwrap(), 0);
    assert_eq!(s.release_dead_node_evaluation_claims().await.unwrap(), 0);
    drop(other);
    let mut released = 0;
    for _ in 0..200 {
        released = s.release_dead_node_execution_leases().await.unwrap();
        if released > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(released, 1, "the gone node's lease, not this node's");
    assert_eq!(s.release_dead_node_evaluation_claims().await.unwrap(), 1);
    let taken = s.claim_executions("me/2", now, 3600.0, 10).await.unwrap();
    assert_eq!(
        taken.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["e2"]
    );
    assert_eq!(
        s.claim_evaluation_jobs(13.0, 10, 0.0).await.unwrap().len(),
        1
    );
}

/// A gone node's claimed job is released while another node is enqueueing a job for the same
/// target (its transaction not yet committed): the release waits for it and merges the two —
/// it does not fail on the one-pending-job-per-target index, and one job remains.
async fn a_gone_nodes_claim_merges_with_a_job_enqueued_meanwhile(fx: Fx) {
    let s = fx.store.clone();
    let sc = scope();
    let Some(url) = fx.url.clone() else {
        // One process per SQLite file: no other node's claims. The merge itself: a claim
        // released onto a pending job of its target leaves one job.
        s.record_configuration_item(&sc, item("x"), None)
            .await
            .unwrap();
        assert_eq!(
            s.claim_evaluation_jobs(1.0, 10, 0.0).await.unwrap().len(),
            1
        );
        s.record_configuration_item(&sc, item("x"), None)
            .await
            .unwrap();
        assert_eq!(s.release_evaluation_claims().await.unwrap(), 0);
        assert_eq!(s.queued_evaluation_jobs().await.unwrap(), 1);
        return;
    };
    let other = remedy::store::postgres::PgStore::connect(&url)
        .await
        .unwrap();
    s.record_configuration_item(&sc, item("x"), None)
        .await
        .unwrap();
    assert_eq!(
        other
            .claim_evaluation_jobs(remedy::time::now(), 10, 0.0)
            .await
            .unwrap()
            .len(),
        1
    );
    // Another node enqueues a job for the same target, and has not committed yet.
    let (mut raw, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let enqueue = raw.transaction().await.unwrap();
    enqueue
        .execute(
            "INSERT INTO evaluation_queue (account, region, kind, origin, rule_name, resource_type,
                                           resource_id, enqueued_at)
             SELECT account, region, kind, origin, rule_name, resource_type, resource_id, enqueued_at
               FROM evaluation_queue WHERE claimed_at IS NOT NULL",
            &[],
        )
        .await
        .unwrap();
    drop(other);
    // The rescue, until the gone node's claim is released (it waits on the enqueue meanwhile).
    let rescue = {
        let (s, url) = (s.clone(), url.clone());
        tokio::spawn(async move {
            let (probe, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(connection);
            for _ in 0..200 {
                s.release_dead_node_evaluation_claims().await?;
                let claimed: i64 = probe
                    .query_one(
                        "SELECT count(*) FROM evaluation_queue WHERE claimed_at IS NOT NULL",
                        &[],
                    )
                    .await
                    .unwrap()
                    .get(0);
                if claimed == 0 {
                    return Ok(());
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            panic!("the gone node's claim was never released")
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    enqueue.commit().await.unwrap();
    let released: Result<(), StoreError> = rescue.await.unwrap();
    released.expect("the release merges with the job enqueued meanwhile");
    assert_eq!(s.queued_evaluation_jobs().await.unwrap(), 1);
}
