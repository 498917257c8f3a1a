//! remedy as a cluster (issue 6): three `remedy serve` nodes on one PostgreSQL database
//! (a throwaway database per test on `REMEDY_TEST_DATABASE_URL`; without it every test says it was
//! skipped and passes).
//!
//! What the cluster promises, each checked end to end through the official SDK with the
//! database read directly (`psql`) where the API cannot show it (how many executions a key ever
//! had, how many versions a resource's history holds):
//! - executions started through any node run exactly once, and each runbook's effect is applied
//!   once: every remediated bucket ends with exactly two history versions (its recorded one and
//!   the runbook's);
//! - a node killed mid-run loses nothing: its leased executions are resumed by the others;
//! - concurrent starts of one key on different nodes start one execution;
//! - a node that stalls past its lease (SIGSTOP) and wakes up cannot change what another node
//!   committed since (fencing tokens), nor apply an effect twice;
//! - a rolling restart (SIGTERM, start again, one node at a time) under load loses no
//!   acknowledged request.
//!
//! Waiting is bounded by generous deadlines only; progress is polled from the database (one
//! query instead of a hundred DescribeRemediationExecutionStatus pages), the outcome is read
//! through the API.

mod common;

use std::collections::BTreeSet;
use std::future::Future;
use std::io::Write;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use common::config::config::http::HttpResponse;
use common::config::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use common::config::types::{
    ConfigRule, Owner, RemediationExecutionState, RemediationExecutionStepState, ResourceKey,
    ResourceType, Scope, Source,
};
use common::pg;
use common::*;
use serde_json::json;

const NODES: usize = 3;
/// The 2-step runbook: PutBucketVersioning, then an assert that reads it back.
const RUNBOOK: &str = "AWS-ConfigureS3BucketVersioning";
const IN_PROGRESS: &str = "A remediation execution is already in progress for this resource.";
/// Executions not yet ended, as the database spells their states.
const ACTIVE: &str = "state IN ('QUEUED', 'IN_PROGRESS')";

// ---- the cluster ----------------------------------------------------------------------------

/// One cluster at a time: each node pools up to 17 PostgreSQL connections, and two clusters at
/// once (tests run in parallel) would pass the server's default `max_connections` (100) and
/// share two cores besides.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `n` nodes on one throwaway database (the servers stop before the database is dropped, and
/// the database before the next test's cluster starts).
struct Cluster {
    nodes: Vec<Server>,
    url: String,
    _db: pg::DropDatabase,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

impl Cluster {
    async fn start(n: usize) -> Option<Cluster> {
        let turn = ONE_AT_A_TIME.lock().await;
        let (url, db) = pg::database("cluster")?;
        let nodes = (0..n).map(|_| node(&url)).collect();
        Some(Cluster {
            nodes,
            url,
            _db: db,
            _turn: turn,
        })
    }

    fn clients(&self) -> Vec<config::Client> {
        self.nodes.iter().map(Server::client).collect()
    }

    /// A single number the query returns.
    fn count(&self, sql: &str) -> usize {
        let out = pg::query(&self.url, sql);
        out.parse()
            .unwrap_or_else(|_| panic!("{sql}: not a number: {out}"))
    }
}

fn node(url: &str) -> Server {
    Server::start_with(&["--database-url", url])
}

// ---- rules, buckets, executions ---------------------------------------------------------------

/// S3_BUCKET_VERSIONING_ENABLED on the buckets tagged `group` = `group` (each rule judges its own
/// buckets only, so N rules do not evaluate every bucket N times).
async fn put_rule(c: &config::Client, name: &str, group: &str) {
    c.put_config_rule()
        .config_rule(
            ConfigRule::builder()
                .config_rule_name(name)
                .source(
                    Source::builder()
                        .owner(Owner::Aws)
                        .source_identifier("S3_BUCKET_VERSIONING_ENABLED")
                        .build()
                        .unwrap(),
                )
                .scope(Scope::builder().tag_key("group").tag_value(group).build())
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("put rule {name}: {}", DisplayErrorContext(e)));
}

/// The runbook on the rule's keys, `concurrency` % of a batch at once, errors never stopping it.
async fn put_remediation(c: &config::Client, rule: &str, concurrency: i32) {
    put_remediation_to(c, rule, RUNBOOK, concurrency).await
}

/// The rule's remediation configuration, running `runbook` (which takes `BucketName` and
/// `AutomationAssumeRole`).
async fn put_remediation_to(c: &config::Client, rule: &str, runbook: &str, concurrency: i32) {
    let mut config = remediation_config(rule, runbook);
    config.execution_controls = Some(ssm_controls(concurrency, 100));
    let out = c
        .put_remediation_configurations()
        .remediation_configurations(config)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}", DisplayErrorContext(e)));
    assert!(out.failed_batches().is_empty(), "{out:?}");
}

/// An unversioned bucket's configuration item (notification form), tagged with its group.
fn bucket_item(id: &str, group: &str) -> serde_json::Value {
    json!({
        "resourceType": BUCKET, "resourceId": id, "resourceName": id, "awsRegion": REGION,
        "arn": format!("arn:aws:s3:::{id}"), "tags": {"group": group},
        "configuration": {"name": id},
        "supplementaryConfiguration": {"BucketVersioningConfiguration": {"status": "Off"}}
    })
}

/// The buckets of a run: rule `r` (`versioning-r`, tag group `g{r}`) owns every `rules`-th one.
struct Plan {
    rules: Vec<(String, Vec<String>)>,
}

impl Plan {
    fn buckets(&self) -> usize {
        self.rules.iter().map(|(_, ids)| ids.len()).sum()
    }
}

/// `rules` remediable rules and `buckets` unversioned buckets spread over them, the buckets
/// recorded with `remedy import` straight into the shared database (one transaction; the nodes
/// see them at once, as they see each other's writes).
async fn remediable_buckets(cluster: &Cluster, rules: usize, buckets: usize) -> Plan {
    let clients = cluster.clients();
    let mut plan = Plan { rules: Vec::new() };
    for r in 0..rules {
        let name = format!("versioning-{r}");
        let c = &clients[r % clients.len()];
        put_rule(c, &name, &format!("g{r}")).await;
        put_remediation(c, &name, 100).await;
        let ids = (r..buckets).step_by(rules).map(|i| format!("b-{i:05}"));
        plan.rules.push((name, ids.collect()));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("buckets.jsonl");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    for (r, (_, ids)) in plan.rules.iter().enumerate() {
        for id in ids {
            writeln!(file, "{}", bucket_item(id, &format!("g{r}"))).unwrap();
        }
    }
    file.into_inner().unwrap().sync_all().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_remedy"))
        .arg("import")
        .arg(&path)
        .args(["--database-url", &cluster.url])
        .env("REMEDY_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "remedy import: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    plan
}

async fn start(
    c: &config::Client,
    rule: &str,
    ids: &[String],
) -> (Vec<ResourceKey>, Option<String>) {
    let out = c
        .start_remediation_execution()
        .config_rule_name(rule)
        .set_resource_keys(Some(ids.iter().map(|i| bucket_key(i)).collect()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("start {rule}: {}", DisplayErrorContext(e)));
    (
        out.failed_items().to_vec(),
        out.failure_message().map(str::to_string),
    )
}

/// Starts every planned key: StartRemediationExecution calls of up to 100 keys, the rules
/// interleaved, round-robin over the nodes, several calls in flight. Every key must start.
async fn start_all(clients: &[config::Client], plan: &Plan) {
    let mut calls = Vec::new();
    let most = plan
        .rules
        .iter()
        .map(|(_, ids)| ids.len())
        .max()
        .unwrap_or(0);
    for chunk in 0..most.div_ceil(100) {
        for (rule, ids) in &plan.rules {
            let from = (chunk * 100).min(ids.len());
            let to = (from + 100).min(ids.len());
            if from < to {
                calls.push((rule.clone(), ids[from..to].to_vec()));
            }
        }
    }
    let in_flight = Arc::new(tokio::sync::Semaphore::new(6));
    let mut tasks = tokio::task::JoinSet::new();
    for (n, (rule, ids)) in calls.into_iter().enumerate() {
        let c = clients[n % clients.len()].clone();
        let permit = in_flight.clone().acquire_owned().await.unwrap();
        tasks.spawn(async move {
            let (failed, message) = start(&c, &rule, &ids).await;
            drop(permit);
            assert!(failed.is_empty(), "{rule}: {message:?} {failed:?}");
        });
    }
    while let Some(t) = tasks.join_next().await {
        t.unwrap();
    }
}

/// Polls the database until `done(count)` holds for the query's count; panics after `limit`.
async fn wait_count(cluster: &Cluster, sql: &str, limit: Duration, done: impl Fn(usize) -> bool) {
    let deadline = Instant::now() + limit;
    loop {
        let n = cluster.count(sql);
        if done(n) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not reached in {limit:?}: {sql} = {n}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits until no execution is queued or running (none may fail).
async fn wait_all_ended(cluster: &Cluster, limit: Duration) {
    let failed = "SELECT count(*) FROM remediation_executions WHERE state = 'FAILED'";
    wait_count(
        cluster,
        &format!("SELECT count(*) FROM remediation_executions WHERE {ACTIVE}"),
        limit,
        |active| {
            if cluster.count(failed) > 0 {
                let why = pg::query(
                    &cluster.url,
                    "SELECT resource_id || ' fence ' || fence || ': ' || execution_state
                     FROM remediation_executions WHERE state = 'FAILED' LIMIT 3",
                );
                panic!("executions failed:\n{why}");
            }
            active == 0
        },
    )
    .await;
}

/// The planned keys ran exactly once each and changed their bucket exactly once:
/// - through the API (each rule read from another node): every key's latest execution
///   SUCCEEDED, both steps SUCCEEDED;
/// - in the database: one execution per key ever (no key ran twice, under any rule), and every
///   bucket's history holds exactly two versions, the imported one and the runbook's (a step
///   run again after a crash finds versioning Enabled and records nothing);
/// - through the API again, for a sample: that history, newest version Enabled.
async fn assert_each_remediated_once(cluster: &Cluster, clients: &[config::Client], plan: &Plan) {
    for (r, (rule, ids)) in plan.rules.iter().enumerate() {
        let statuses = all_statuses(&clients[r % clients.len()], rule).await;
        let keys: BTreeSet<&str> = statuses
            .iter()
            .map(|s| s.resource_key().unwrap().resource_id())
            .collect();
        assert_eq!(keys, ids.iter().map(String::as_str).collect(), "{rule}");
        for s in &statuses {
            assert_eq!(
                s.state(),
                Some(&RemediationExecutionState::Succeeded),
                "{s:?}"
            );
            let steps = s.step_details();
            assert_eq!(steps.len(), 2, "{s:?}");
            assert!(
                steps
                    .iter()
                    .all(|st| st.state() == Some(&RemediationExecutionStepState::Succeeded)),
                "{s:?}"
            );
        }
    }
    let n = plan.buckets();
    assert_eq!(
        pg::query(
            &cluster.url,
            "SELECT count(*), count(DISTINCT (resource_type, resource_id)) FROM remediation_executions"
        ),
        format!("{n}|{n}"),
        "one execution per key, ever"
    );
    let changed_otherwise = pg::query(
        &cluster.url,
        &format!(
            "SELECT resource_id || ':' || count(*) FROM configuration_items
             WHERE resource_type = '{BUCKET}' GROUP BY resource_id HAVING count(*) <> 2 LIMIT 10"
        ),
    );
    assert_eq!(
        changed_otherwise, "",
        "buckets whose history is not [imported, remediated] (id:versions)"
    );
    assert_eq!(
        cluster.count(&format!(
            "SELECT count(DISTINCT resource_id) FROM configuration_items WHERE resource_type = '{BUCKET}'"
        )),
        n
    );
    let sample: Vec<&String> = plan
        .rules
        .iter()
        .flat_map(|(_, ids)| ids.iter().step_by(97))
        .collect();
    for (i, id) in sample.into_iter().enumerate() {
        let h = clients[i % clients.len()]
            .get_resource_config_history()
            .resource_type(ResourceType::from(BUCKET))
            .resource_id(id)
            .send()
            .await
            .unwrap();
        let items = h.configuration_items();
        assert_eq!(items.len(), 2, "{id}: {items:?}");
        let versioning = items[0]
            .supplementary_configuration()
            .and_then(|s| s.get("BucketVersioningConfiguration"))
            .unwrap();
        assert!(versioning.contains("Enabled"), "{id}: {versioning}");
    }
}

// ---- the tests --------------------------------------------------------------------------------

/// 10,000 executions over 10 rules and 10,000 buckets, started through all three nodes at
/// once, run by all three: each exactly once, each bucket changed exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_once_across_three_nodes() {
    let Some(cluster) = Cluster::start(NODES).await else {
        return;
    };
    let plan = remediable_buckets(&cluster, 10, 10_000).await;
    let clients = cluster.clients();
    start_all(&clients, &plan).await;
    wait_all_ended(&cluster, Duration::from_secs(600)).await;
    assert_each_remediated_once(&cluster, &clients, &plan).await;
}

/// 1,000 executions over 5 rules (fewer than above, for time). The victim node starts them and
/// runs alone at first (so its workers' lease owner is known), then two more nodes join; once a
/// quarter succeeded, the victim is SIGKILLed while it holds leases (frozen with SIGSTOP first
/// to read which; tried again until it holds some). Its executions keep their committed state;
/// the survivors take them over (their leases released as the node's liveness lock is gone, or
/// at expiry) with a higher fencing token and finish everything. A step the victim was inside
/// may run twice (at least once, at most once per crash more), but the world's writes are
/// idempotent: PutBucketVersioning on a bucket already Enabled records no version. So each
/// bucket still changes exactly once, and no execution is lost or duplicated.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_one_node_mid_run() {
    let Some(mut cluster) = Cluster::start(1).await else {
        return;
    };
    let plan = remediable_buckets(&cluster, 5, 1_000).await;
    start_all(&cluster.clients(), &plan).await;
    // The victim's engine: the first part of its workers' lease owners (`engine/worker`).
    let owner_sql = "SELECT split_part(lease_owner, '/', 1) FROM remediation_executions
                     WHERE lease_owner IS NOT NULL LIMIT 1";
    wait_count(
        &cluster,
        "SELECT count(*) FROM remediation_executions WHERE lease_owner IS NOT NULL",
        Duration::from_secs(120),
        |n| n > 0,
    )
    .await;
    let victim = pg::query(&cluster.url, owner_sql);
    cluster.nodes.push(node(&cluster.url));
    cluster.nodes.push(node(&cluster.url));
    let clients = cluster.clients();
    wait_count(
        &cluster,
        "SELECT count(*) FROM remediation_executions WHERE state = 'SUCCEEDED'",
        Duration::from_secs(300),
        |n| n >= 250,
    )
    .await;
    let held_sql = format!(
        "SELECT id || ':' || fence FROM remediation_executions
         WHERE state = 'IN_PROGRESS' AND lease_owner LIKE '{victim}/%' ORDER BY id"
    );
    let held = freeze_holding(&cluster.nodes[0], &cluster.url, &held_sql, false).await;
    cluster.nodes[0].kill();
    eprintln!(
        "sigkill_one_node_mid_run: killed holding {} executions",
        held.len()
    );
    wait_all_ended(&cluster, Duration::from_secs(300)).await;
    for (id, fence) in &held {
        let after = cluster.count(&format!(
            "SELECT fence FROM remediation_executions WHERE id = '{id}' AND state = 'SUCCEEDED'"
        ));
        assert!(after as u64 > *fence, "{id}: taken over after the kill");
    }
    assert_each_remediated_once(&cluster, &clients[1..], &plan).await;
}

/// Freezes `server` (SIGSTOP) at a moment its workers hold leases (`held_sql`: `id:fence` rows;
/// thawed and tried again until they do) and returns the held executions with their fencing
/// tokens. With `end_transactions`, a transaction it was frozen inside is ended at once, as
/// PostgreSQL's idle-in-transaction timeout (60 s, set by the store) would end it later: a frozen
/// transaction holds row locks other nodes' claims skip.
async fn freeze_holding(
    server: &Server,
    url: &str,
    held_sql: &str,
    end_transactions: bool,
) -> Vec<(String, u64)> {
    let pid = server.pid().unwrap().to_string();
    let signal = |sig: &str| {
        assert!(Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap()
            .success());
    };
    for _ in 0..200 {
        signal("-STOP");
        // What it had sent before it stopped lands first.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let held = pg::query(url, held_sql);
        if !held.is_empty() {
            if end_transactions {
                pg::query(
                    url,
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                     WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
                );
            }
            return held
                .lines()
                .map(|l| {
                    let (id, fence) = l.split_once(':').unwrap();
                    (id.to_string(), fence.parse().unwrap())
                })
                .collect();
        }
        signal("-CONT");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("never froze it holding a lease");
}

/// A runbook that holds its execution IN_PROGRESS for an hour.
const HOLD_FOR_AN_HOUR: &str = r#"
schemaVersion: '0.3'
parameters:
  BucketName:
    type: String
  AutomationAssumeRole:
    type: String
mainSteps:
  - name: Hold
    action: aws:sleep
    isEnd: true
    inputs:
      Duration: PT1H
"#;

/// 20 concurrent starts of one key, spread over the three nodes: exactly one execution starts;
/// every other call answers with the key in FailedItems and AWS's in-progress message. The
/// runbook sleeps for an hour, so the one execution is still in flight when the last start
/// arrives, however slowly the calls are served.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_starts_three_nodes() {
    let Some(cluster) = Cluster::start(NODES).await else {
        return;
    };
    let clients = cluster.clients();
    create_runbook(
        &cluster.nodes[0].ssm_client(),
        "Team-HoldForAnHour",
        HOLD_FOR_AN_HOUR,
    )
    .await;
    put_rule(&clients[0], "versioning", "race").await;
    put_remediation_to(&clients[1], "versioning", "Team-HoldForAnHour", 100).await;

    let mut tasks = Vec::new();
    for i in 0..20 {
        let c = clients[i % NODES].clone();
        tasks.push(tokio::spawn(async move {
            start(&c, "versioning", &["raced".to_string()]).await
        }));
    }
    let mut started = 0;
    for t in tasks {
        let (failed, message) = t.await.unwrap();
        if failed.is_empty() {
            started += 1;
        } else {
            assert_eq!(failed, vec![bucket_key("raced")]);
            assert_eq!(message.as_deref(), Some(IN_PROGRESS));
        }
    }
    assert_eq!(started, 1);
    assert_eq!(
        cluster.count("SELECT count(*) FROM remediation_executions WHERE resource_id = 'raced'"),
        1
    );
    // Every node shows that one execution.
    let mut seen = BTreeSet::new();
    for c in &clients {
        let out = c
            .describe_remediation_execution_status()
            .config_rule_name("versioning")
            .resource_keys(bucket_key("raced"))
            .send()
            .await
            .unwrap();
        let s = out.remediation_execution_statuses();
        assert_eq!(s.len(), 1, "{s:?}");
        seen.insert(format!("{:?}", s[0].invocation_time()));
    }
    assert_eq!(seen.len(), 1, "{seen:?}");
}

/// A node stalls past its lease while its workers are inside steps (SIGSTOP: a long GC-like
/// pause; its database connections stay open, so it still counts as alive and nobody may take
/// its leases early). Another node takes the executions once the leases expire (30 s), with a
/// higher fencing token, and finishes them. Then the stalled node wakes up and is stopped
/// gracefully, which makes its workers finish the step they were in and commit it: the late
/// commits carry the old token and change nothing, and the late world writes (the same
/// PutBucketVersioning) record nothing. The store-level contract (a stale token's commit,
/// renewal and release are refused on one or two handles) is in tests/store_conformance.rs
/// (`stale_fence_writes_change_nothing`, `lease_release_at_start`); this is the same rule with
/// real nodes and a real runbook.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fenced_late_update() {
    let Some(mut cluster) = Cluster::start(1).await else {
        return;
    };
    let plan = remediable_buckets(&cluster, 1, 300).await;
    let clients = cluster.clients();
    start_all(&clients, &plan).await;
    wait_count(
        &cluster,
        "SELECT count(*) FROM remediation_executions WHERE state = 'SUCCEEDED'",
        Duration::from_secs(120),
        |n| n >= 30,
    )
    .await;
    let held_sql = "SELECT id || ':' || fence FROM remediation_executions
                    WHERE lease_owner IS NOT NULL AND state = 'IN_PROGRESS' ORDER BY id";
    let stale = freeze_holding(&cluster.nodes[0], &cluster.url, held_sql, true).await;
    eprintln!("fenced_late_update: stalled holding {}", stale.len());

    // Another node finishes everything, the stalled node's executions once their leases expire.
    let mut other = node(&cluster.url);
    wait_all_ended(&cluster, Duration::from_secs(180)).await;
    let ids = stale
        .iter()
        .map(|(id, _)| format!("'{id}'"))
        .collect::<Vec<_>>()
        .join(",");
    let rows_sql = format!(
        "SELECT id, state, fence, lease_owner, execution_state, last_updated
         FROM remediation_executions WHERE id IN ({ids}) ORDER BY id"
    );
    let before = pg::query(&cluster.url, &rows_sql);
    for (id, fence) in &stale {
        let row = pg::query(
            &cluster.url,
            &format!("SELECT state || ':' || fence FROM remediation_executions WHERE id = '{id}'"),
        );
        assert_eq!(
            row,
            format!("SUCCEEDED:{}", fence + 1),
            "{id}: taken over once"
        );
    }

    // The stalled node wakes and finishes what it was doing, too late.
    let pid = cluster.nodes[0].pid().unwrap().to_string();
    assert!(Command::new("kill")
        .args(["-CONT", &pid])
        .status()
        .unwrap()
        .success());
    assert!(cluster.nodes[0].terminate().success());
    assert_eq!(
        pg::query(&cluster.url, &rows_sql),
        before,
        "late commits changed nothing"
    );
    let clients = vec![other.client()];
    assert_each_remediated_once(&cluster, &clients, &plan).await;
    other.terminate();
}

// ---- rolling restart under load --------------------------------------------------------------

/// What the load got a 200 for.
#[derive(Default)]
struct Acked {
    rules: BTreeSet<String>,
    buckets: BTreeSet<String>,
    /// Buckets whose StartRemediationExecution was answered (started, or already in progress
    /// because an unanswered earlier attempt of the same call started it).
    started: BTreeSet<String>,
}

/// Load clients (one per node, replaced when the node restarts on a new port), the
/// acknowledgements, and how often a request moved to another node.
struct Load {
    clients: RwLock<Vec<config::Client>>,
    acked: Mutex<Acked>,
    answered: AtomicUsize,
    failovers: AtomicUsize,
    stop: AtomicBool,
}

/// A node's client without the SDK's own retries: a request to a node that is down fails at
/// once, and the load moves it to another node.
fn load_client(s: &Server) -> config::Client {
    let conf = s
        .client()
        .config()
        .to_builder()
        .retry_config(config::config::retry::RetryConfig::disabled())
        .build();
    config::Client::from_conf(conf)
}

/// Sends a request to node `first`, moving on to the next node while it gets no answer (the
/// node is stopping or down) or a 5xx; any other error is a failure of the test.
async fn failover<T, E, F, Fut>(load: &Load, first: usize, op: F) -> T
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    F: Fn(config::Client) -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
{
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut node = first;
    loop {
        let c = load.clients.read().unwrap()[node % NODES].clone();
        match op(c).await {
            Ok(v) => {
                load.answered.fetch_add(1, Ordering::Relaxed);
                return v;
            }
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                let retry = match &e {
                    SdkError::ServiceError(_) => status.is_some_and(|s| s >= 500),
                    _ => true,
                };
                assert!(retry, "refused: {}", DisplayErrorContext(&e));
                assert!(
                    Instant::now() < deadline,
                    "no node answered: {}",
                    DisplayErrorContext(&e)
                );
                load.failovers.fetch_add(1, Ordering::Relaxed);
                node += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// One client's loop: a rule, a bucket, a start for that bucket; each request to the next node.
async fn load_loop(load: Arc<Load>, t: usize) {
    let mut next = t;
    let mut node = || {
        next += 1;
        next
    };
    let mut i = 0;
    while !load.stop.load(Ordering::Relaxed) {
        let rule = format!("load-{t}-{i}");
        failover(&load, node(), |c| {
            let rule = rule.clone();
            async move {
                c.put_config_rule()
                    .config_rule(
                        ConfigRule::builder()
                            .config_rule_name(&rule)
                            .source(
                                Source::builder()
                                    .owner(Owner::Aws)
                                    .source_identifier("S3_BUCKET_VERSIONING_ENABLED")
                                    .build()
                                    .unwrap(),
                            )
                            .scope(Scope::builder().tag_key("group").tag_value(&rule).build())
                            .build(),
                    )
                    .send()
                    .await
            }
        })
        .await;
        load.acked.lock().unwrap().rules.insert(rule);

        let id = format!("lb-{t}-{i:04}");
        let item = bucket_item(&id, "load");
        failover(&load, node(), |c| {
            let (id, item) = (id.clone(), item.clone());
            async move {
                c.put_resource_config()
                    .resource_type(BUCKET)
                    .schema_version_id("ConfigurationItem")
                    .resource_id(&id)
                    .configuration(item.to_string())
                    .send()
                    .await
            }
        })
        .await;
        load.acked.lock().unwrap().buckets.insert(id.clone());

        let out = failover(&load, node(), |c| {
            let id = id.clone();
            async move {
                c.start_remediation_execution()
                    .config_rule_name("versioning")
                    .resource_keys(bucket_key(&id))
                    .send()
                    .await
            }
        })
        .await;
        if !out.failed_items().is_empty() {
            assert_eq!(out.failure_message(), Some(IN_PROGRESS), "{id}");
        }
        load.acked.lock().unwrap().started.insert(id);
        i += 1;
    }
}

/// Waits until the load got `more` answers beyond `from`.
async fn wait_answers(load: &Load, from: usize, more: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let n = load.answered.load(Ordering::Relaxed);
        if n >= from + more {
            return n;
        }
        assert!(Instant::now() < deadline, "the load stalled at {n}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Four clients write rules, buckets and remediation starts round-robin over the three nodes
/// while each node in turn is stopped gracefully (SIGTERM: it drains in-flight requests and
/// lets running steps commit) and started again; a request a node does not answer moves to the
/// next node. Afterwards every acknowledged write is there, through any node: every rule listed,
/// every bucket readable, every started execution present and SUCCEEDED.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rolling_restart_loses_no_acknowledged_request() {
    let Some(mut cluster) = Cluster::start(NODES).await else {
        return;
    };
    {
        let c = cluster.nodes[0].client();
        put_rule(&c, "versioning", "load").await;
        put_remediation(&c, "versioning", 100).await;
    }
    let load = Arc::new(Load {
        clients: RwLock::new(cluster.nodes.iter().map(load_client).collect()),
        acked: Mutex::default(),
        answered: AtomicUsize::new(0),
        failovers: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
    });
    let tasks: Vec<_> = (0..4)
        .map(|t| tokio::spawn(load_loop(load.clone(), t)))
        .collect();
    let mut answered = wait_answers(&load, 0, 60).await;
    for k in 0..NODES {
        let status = tokio::task::block_in_place(|| cluster.nodes[k].terminate());
        assert!(status.success(), "node {k} stopped gracefully: {status}");
        // The others carry the load while it is down.
        answered = wait_answers(&load, answered, 30).await;
        tokio::task::block_in_place(|| cluster.nodes[k].restart());
        load.clients.write().unwrap()[k] = load_client(&cluster.nodes[k]);
        answered = wait_answers(&load, answered, 60).await;
    }
    load.stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let acked = std::mem::take(&mut *load.acked.lock().unwrap());
    let failovers = load.failovers.load(Ordering::Relaxed);
    eprintln!(
        "rolling_restart: {answered} answers ({} rules, {} buckets, {} starts), {failovers} requests moved to another node",
        acked.rules.len(),
        acked.buckets.len(),
        acked.started.len()
    );
    assert!(failovers > 0, "no request met a stopped node");
    let clients = cluster.clients();

    // Every acknowledged rule is listed.
    let mut listed = BTreeSet::new();
    let mut pages = clients[0].describe_config_rules().into_paginator().send();
    while let Some(p) = pages.next().await {
        listed.extend(
            p.unwrap()
                .config_rules()
                .iter()
                .filter_map(|r| r.config_rule_name().map(str::to_string)),
        );
    }
    let lost: Vec<_> = acked.rules.difference(&listed).collect();
    assert!(lost.is_empty(), "acknowledged rules lost: {lost:?}");

    // Every acknowledged bucket is readable.
    let buckets: Vec<&String> = acked.buckets.iter().collect();
    for (n, chunk) in buckets.chunks(100).enumerate() {
        let out = clients[1 + n % (NODES - 1)]
            .batch_get_resource_config()
            .set_resource_keys(Some(chunk.iter().map(|i| bucket_key(i)).collect()))
            .send()
            .await
            .unwrap();
        let got: BTreeSet<&str> = out
            .base_configuration_items()
            .iter()
            .filter_map(|b| b.resource_id())
            .collect();
        let lost: Vec<_> = chunk.iter().filter(|i| !got.contains(i.as_str())).collect();
        assert!(lost.is_empty(), "acknowledged buckets lost: {lost:?}");
    }

    // Every acknowledged start has its execution, and they all finish.
    let started: Vec<String> = acked.started.iter().cloned().collect();
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let mut pending = Vec::new();
        for (n, chunk) in started.chunks(100).enumerate() {
            let out = clients[n % NODES]
                .describe_remediation_execution_status()
                .config_rule_name("versioning")
                .set_resource_keys(Some(chunk.iter().map(|i| bucket_key(i)).collect()))
                .send()
                .await
                .unwrap();
            let statuses = out.remediation_execution_statuses();
            let found: BTreeSet<&str> = statuses
                .iter()
                .map(|s| s.resource_key().unwrap().resource_id())
                .collect();
            let lost: Vec<_> = chunk
                .iter()
                .filter(|i| !found.contains(i.as_str()))
                .collect();
            assert!(lost.is_empty(), "acknowledged starts lost: {lost:?}");
            for s in statuses {
                match s.state() {
                    Some(RemediationExecutionState::Succeeded) => {}
                    Some(RemediationExecutionState::Failed) => panic!("{s:?}"),
                    _ => pending.push(s.resource_key().unwrap().resource_id().to_string()),
                }
            }
        }
        if pending.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} executions not ended, e.g. {:?}",
            pending.len(),
            pending.first()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
