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

/// `url` with `params` added to its query string.
fn with_params(url: &str, params: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{params}")
}

/// (TLS connections, all connections) remedy holds to the database `url` names.
fn remedy_connections(url: &str) -> (i64, i64) {
    let db = url.rsplit('/').next().unwrap().split('?').next().unwrap();
    let counts = pg::query(
        url,
        &format!(
            "SELECT count(*) FILTER (WHERE s.ssl), count(*) FROM pg_stat_ssl s
               JOIN pg_stat_activity a USING (pid)
              WHERE a.datname = '{db}' AND a.application_name = 'remedy'"
        ),
    );
    let (tls, all) = counts.split_once('|').unwrap();
    (tls.parse().unwrap(), all.parse().unwrap())
}

/// With `sslmode=require` every connection of a node is TLS (the certificate unchecked, as
/// libpq does); without it none is. Needs a server with `ssl = on` (Debian's default, with its
/// snakeoil certificate), as on this project's machines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_when_the_url_asks_for_it() {
    use remedy::store::postgres::PgStore;
    use remedy::store::Store;
    let Some((url, _db)) = database() else {
        return;
    };
    assert_eq!(
        pg::query(&url, "SHOW ssl"),
        "on",
        "this test needs PostgreSQL with ssl = on"
    );
    let tls = PgStore::connect(&with_params(&url, "sslmode=require"))
        .await
        .unwrap();
    tls.ping().await.unwrap();
    let (encrypted, all) = remedy_connections(&url);
    assert!(all >= 2, "the pool and the liveness connection: {all}");
    assert_eq!(encrypted, all);
    drop(tls);

    let plain = PgStore::connect(&url).await.unwrap();
    plain.ping().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    // The TLS node's connections close as it is dropped; then only the plain node's remain.
    loop {
        let (encrypted, all) = remedy_connections(&url);
        if encrypted == 0 && all >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "{encrypted} of {all} still TLS");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `verify-ca` checks the certificate against the trusted roots: a root that did not sign the
/// server's certificate does not vouch for it, so the node does not start; with the server's
/// own (self-signed) certificate as its root (`sslrootcert`) it does. `verify-full` also wants
/// the certificate to name the host connected to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verified_tls_trusts_only_the_roots_it_is_given() {
    use remedy::store::postgres::PgStore;
    let Some((url, _db)) = database() else {
        return;
    };
    // A root of its own that signed nothing (tests/fixtures/unrelated-root.pem, made for this).
    let unrelated = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/unrelated-root.pem"
    );
    let refused = PgStore::connect(&with_params(
        &url,
        &format!("sslmode=verify-ca&sslrootcert={unrelated}"),
    ))
    .await
    .err()
    .expect("a certificate no trusted root signed is refused");
    assert!(
        refused
            .to_string()
            .contains("invalid peer certificate: UnknownIssuer"),
        "says why: {refused}"
    );
    let cert_file = pg::query(&url, "SHOW ssl_cert_file");
    let own_root = std::fs::read(&cert_file)
        .unwrap_or_else(|e| panic!("the server's certificate {cert_file}: {e}"));
    let root = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(root.path(), own_root).unwrap();
    let verified = PgStore::connect(&with_params(
        &url,
        &format!("sslmode=verify-ca&sslrootcert={}", root.path().display()),
    ))
    .await;
    assert!(verified.is_ok(), "{:?}", verified.err());
    let (encrypted, all) = remedy_connections(&url);
    assert_eq!(encrypted, all);
    // verify-full also wants the certificate to name the host connected to (127.0.0.1; a
    // snakeoil certificate names the machine).
    let wrong_name = PgStore::connect(&with_params(
        &url,
        &format!("sslmode=verify-full&sslrootcert={}", root.path().display()),
    ))
    .await
    .err()
    .expect("a certificate for another name is refused");
    assert!(
        wrong_name
            .to_string()
            .contains("certificate not valid for name"),
        "says why: {wrong_name}"
    );
}
