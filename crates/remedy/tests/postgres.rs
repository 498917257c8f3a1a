//! The server on PostgreSQL (issue 6), when `REMEDY_TEST_DATABASE_URL` names a server: `/ready`
//! follows the database (200 while it answers, 503 once it is gone, `/health` staying 200); two
//! nodes on one database share state and the one-in-flight-execution-per-key rule.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::config::types::{RemediationExecutionState, ResourceKey};
use common::pg::{self, psql};
use common::*;

fn database() -> Option<(String, pg::DropDatabase)> {
    pg::database("postgres")
}

#[test]
fn ready_follows_the_database() {
    let Some((url, db)) = database() else {
        return;
    };
    let server = Server::start_with(&["--database-url", &url]);
    assert_eq!(server.get("/ready").unwrap().0, 200);
    // Migrations ran: the schema is there.
    let out = Command::new("psql")
        .arg(&url)
        .args(["-Atqc", "SELECT max(version) FROM remedy_schema_migrations"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse::<i64>()
            .unwrap()
            >= 6
    );

    psql(&db.0, &format!("DROP DATABASE \"{}\" WITH (FORCE)", db.1));
    assert_eq!(server.get("/ready").unwrap().0, 503);
    assert_eq!(server.get("/health").unwrap().0, 200);
}

async fn start(c: &config::Client, keys: Vec<ResourceKey>) -> (Vec<ResourceKey>, Option<String>) {
    let out = c
        .start_remediation_execution()
        .config_rule_name("versioning")
        .set_resource_keys(Some(keys))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}", config::error::DisplayErrorContext(e)));
    (
        out.failed_items().to_vec(),
        out.failure_message().map(str::to_string),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_share_state_and_start_one_execution_per_key() {
    let Some((url, _db)) = database() else {
        return;
    };
    let a = Server::start_with(&["--database-url", &url]);
    let b = Server::start_with(&["--database-url", &url]);
    let (ca, cb) = (a.client(), b.client());
    ca.put_config_rule()
        .config_rule(managed_rule("versioning"))
        .send()
        .await
        .unwrap();
    let described_by_b = || async {
        cb.describe_config_rules()
            .config_rule_names("versioning")
            .send()
            .await
            .unwrap()
            .config_rules()
            .to_vec()
    };
    // Written on one node, read on the other.
    assert_eq!(described_by_b().await.len(), 1);
    // Changed on one node: the other, which has read (and keeps) the rules, shows the change.
    let mut changed = managed_rule("versioning");
    changed.description = Some("changed on node a".into());
    ca.put_config_rule()
        .config_rule(changed)
        .send()
        .await
        .unwrap();
    assert_eq!(
        described_by_b().await[0].description(),
        Some("changed on node a")
    );

    // One execution of the rule at a time across the nodes (1 % of at most 11 unfinished):
    // 10 executions of a runbook that naps a second (of buckets that are not recorded: each then
    // fails NoSuchBucket) hold the raced key's execution queued while the starts race.
    create_runbook(&a.ssm_client(), NAP_THEN_ENABLE, &nap_then_enable("PT1S")).await;
    let mut config = remediation_config("versioning", NAP_THEN_ENABLE);
    config.execution_controls = Some(ssm_controls(1, 100));
    cb.put_remediation_configurations()
        .remediation_configurations(config)
        .send()
        .await
        .unwrap();
    let busy: Vec<_> = (0..10)
        .map(|i| bucket_key(&format!("missing-{i:03}")))
        .collect();
    assert!(start(&ca, busy).await.0.is_empty());

    // 20 concurrent starts of one key, sent to both nodes: exactly one starts.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let c = if i % 2 == 0 { ca.clone() } else { cb.clone() };
        tasks.push(tokio::spawn(async move {
            start(&c, vec![bucket_key("raced")]).await
        }));
    }
    let mut started = 0;
    for t in tasks {
        let (failed, message) = t.await.unwrap();
        if failed.is_empty() {
            started += 1;
        } else {
            assert_eq!(
                message.as_deref(),
                Some("A remediation execution is already in progress for this resource.")
            );
        }
    }
    assert_eq!(started, 1);

    // Both nodes' engines work the queue; every execution ends, seen alike from either node.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let mut states = Vec::new();
        for c in [&ca, &cb] {
            let all = all_statuses(c, "versioning").await;
            states.push(all.iter().map(|s| s.state().cloned()).collect::<Vec<_>>());
        }
        assert_eq!(states[0].len(), 11);
        if states.iter().all(|s| {
            s.iter()
                .all(|s| s == &Some(RemediationExecutionState::Failed))
        }) {
            break;
        }
        assert!(Instant::now() < deadline, "not all terminal: {states:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_starting_at_once_migrate_once() {
    let Some((url, _db)) = database() else {
        return;
    };
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { remedy::store::postgres::PgStore::connect(&url).await })
        })
        .collect();
    let mut stores = Vec::new();
    for s in starts {
        stores.push(s.await.unwrap().expect("every node starts"));
    }
    let out = Command::new("psql")
        .arg(&url)
        .args([
            "-Atqc",
            "SELECT count(*), max(version) FROM remedy_schema_migrations",
        ])
        .output()
        .unwrap();
    let counts = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let (applied, latest) = counts.split_once('|').unwrap();
    assert_eq!(
        applied, latest,
        "migrations 1..=N, each applied once: {counts}"
    );
    assert!(latest.parse::<i64>().unwrap() >= 6);
}

/// A change committed through one node wakes every node's evaluation engine (LISTEN/NOTIFY),
/// not only the writer's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_enqueue_on_one_node_wakes_the_others() {
    use remedy::store::{EvaluationQueueStore, Store};
    let Some((url, _db)) = database() else {
        return;
    };
    let a = remedy::store::postgres::PgStore::connect(&url)
        .await
        .unwrap();
    let b = remedy::store::postgres::PgStore::connect(&url)
        .await
        .unwrap();
    let woken = b.evaluation_signal();
    let scope = remedy::domain::Scope::new("000000000000", "us-east-1");
    let item = remedy::domain::NewConfigurationItem {
        resource_type: BUCKET.into(),
        resource_id: "b".into(),
        resource_name: None,
        arn: None,
        availability_zone: None,
        resource_creation_time: None,
        capture_time: None,
        status: None,
        configuration: serde_json::json!({}),
        supplementary_configuration: Default::default(),
        tags: Default::default(),
        relationships: vec![],
    };
    a.record_configuration_item(&scope, item, None)
        .await
        .unwrap();
    // Delivered asynchronously; bounded so a lost notification fails instead of hanging.
    tokio::time::timeout(Duration::from_secs(30), woken.notified())
        .await
        .expect("node b was woken");
}
