//! The PostgreSQL store: many remedy nodes share one database.
//!
//! - **Connections**: a `deadpool-postgres` pool; every session runs with `statement_timeout`,
//!   `lock_timeout` and `idle_in_transaction_session_timeout`, so a wedged node cannot hold row
//!   locks for long.
//! - **One transaction per trait method**, READ COMMITTED. Checks that must hold under
//!   concurrency (the rule limit, "a rule with a remediation configuration cannot be deleted",
//!   the document limit, the ClientToken…) take a transaction-scoped advisory lock on the
//!   (account, region) first ([`lock_scopes`]), so check-then-write units of one scope run one at
//!   a time across every node — what the SQLite store's single writer gives. The lock is always
//!   the first lock a transaction takes, so it cannot join a deadlock cycle with row locks.
//!   Recording a configuration item locks only its resource (and the scope first, when the
//!   custom-resource limit may apply), so writes of different resources commit side by side.
//!   StartRemediationExecution locks only its remediation configuration's row, which takes no
//!   scope lock while held, so it cannot close a cycle either. Evaluation results take no scope
//!   lock: the rule's row (key share) and then their own rows in key order
//!   (`postgres/evaluations.rs`), the order every writer of several result rows follows.
//! - **Claims** (`claim_executions`, `claim_evaluation_jobs`, `enqueue_due_periodic`) take rows
//!   `FOR UPDATE SKIP LOCKED`: concurrent claimers on any node never take the same row, and never
//!   wait for each other. Leases and fencing tokens work as on SQLite; no transaction is held
//!   while a runbook step runs (the engine commits per step).
//! - **Migrations** (`postgres/000N_*.sql`) run at start in one transaction under an advisory
//!   lock, so several nodes may start at once; `remedy_schema_migrations` records them.
//! - **Node liveness**: each store is a node with a fresh id, and holds a session advisory lock on
//!   it on a connection of its own for as long as it lives. Claims record the node
//!   (`evaluation_queue.claimed_by`, `remediation_executions.lease_node`). The claims and leases
//!   of nodes whose lock is free (the process is gone: PostgreSQL released its lock with its
//!   connection) are released by every other node at its start and then every
//!   [`NODE_RESCUE_INTERVAL`] while it runs, so a node killed mid-work holds it for about that
//!   long, not until a claim goes stale or a lease expires; a live node's are never taken.
//!   Should a live node lose its lock connection, its work may be taken early: fencing refuses
//!   its late writes.
//! - **No lost updates of a resource**: the emulated world's writes record an item only if the
//!   resource's latest state id is still the one the change was read from, checked under the
//!   resource's lock ([`Store::record_configuration_item_if_latest`]).
//! - **Wake-ups**: after a commit that enqueued evaluation work a node sends `NOTIFY
//!   remedy_evaluation` (outside the commit, coalesced: [`spawn_node_waker`]); every node LISTENs
//!   on its liveness connection and wakes its engine (which still polls).

use std::sync::Arc;

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

use super::*;
use crate::domain::{is_deleted_status, STATUS_DELETED, STATUS_DELETED_NOT_RECORDED};

mod documents;
mod evaluation_queue;
mod evaluations;
mod executions;
mod metrics;
mod tls;

/// Schema migrations, applied in order at start.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("postgres/0001_init.sql")),
    (2, include_str!("postgres/0002_evaluations.sql")),
    (3, include_str!("postgres/0003_evaluation_queue.sql")),
    (4, include_str!("postgres/0004_remediation_executions.sql")),
    (5, include_str!("postgres/0005_documents.sql")),
    (6, include_str!("postgres/0006_automation_executions.sql")),
    (7, include_str!("postgres/0007_claim_indexes.sql")),
    (8, include_str!("postgres/0008_metrics.sql")),
    (9, include_str!("postgres/0009_execution_summaries.sql")),
];

/// The advisory lock (two-key form, apart from the one-key scope locks) migrations run under.
const MIGRATION_LOCK: (i32, i32) = (0x7265_6d65, 1);

/// Session settings every pooled connection runs with.
const SESSION_OPTIONS: &str = "-c statement_timeout=30000 -c lock_timeout=10000 \
     -c idle_in_transaction_session_timeout=60000";

/// Pooled connections per node unless `--database-pool-size` says otherwise (each node also
/// holds one more: its liveness connection).
pub const DEFAULT_POOL_SIZE: usize = 16;

/// How long a caller waits for a pooled connection (or a new one) before failing.
const POOL_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// How long `/ready`'s ping may take before the database counts as down.
const PING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

type Params<'a> = [&'a (dyn ToSql + Sync)];

pub struct PgStore {
    pool: Pool,
    /// This node's id (recorded on its claims and leases).
    node: String,
    /// The connection holding this node's liveness lock; dropped with the store.
    _liveness: tokio_postgres::Client,
    /// Notified after a commit that enqueued evaluation work, on any node (LISTEN/NOTIFY).
    queue_signal: Arc<tokio::sync::Notify>,
    /// Signals [`spawn_node_waker`]'s task after such a commit on this node.
    node_waker: tokio::sync::mpsc::Sender<()>,
}

/// Statements through each connection's statement cache: parsed and planned once per
/// connection, not once per call (a round trip saved on every statement).
#[async_trait]
trait Cached: GenericClient {
    async fn exec(&self, sql: &str, p: &Params<'_>) -> Result<u64, tokio_postgres::Error> {
        let st = self.prepare_cached(sql).await?;
        self.execute(&st, p).await
    }
    async fn q_all(&self, sql: &str, p: &Params<'_>) -> Result<Vec<Row>, tokio_postgres::Error> {
        let st = self.prepare_cached(sql).await?;
        self.query(&st, p).await
    }
    async fn q_opt(&self, sql: &str, p: &Params<'_>) -> Result<Option<Row>, tokio_postgres::Error> {
        let st = self.prepare_cached(sql).await?;
        self.query_opt(&st, p).await
    }
    async fn q_one(&self, sql: &str, p: &Params<'_>) -> Result<Row, tokio_postgres::Error> {
        let st = self.prepare_cached(sql).await?;
        self.query_one(&st, p).await
    }
}

impl<T: GenericClient> Cached for T {}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// A PostgreSQL error with the server's code and message (the driver's own text says only
/// "db error").
fn pg(e: tokio_postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(db) => StoreError::Backend(format!("postgres {}: {}", db.code().code(), db.message())),
        None => {
            // The cause (a refused certificate, a reset connection) is in the source chain.
            let mut message = format!("postgres: {e}");
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                message.push_str(&format!(": {c}"));
                cause = c.source();
            }
            StoreError::Backend(message)
        }
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(backend)
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(backend)
}

/// `row.get` that reports a mismatch as a backend error instead of panicking.
fn col<'a, T: tokio_postgres::types::FromSql<'a>>(row: &'a Row, idx: usize) -> StoreResult<T> {
    row.try_get(idx).map_err(pg)
}

/// Takes the transaction-scoped advisory lock of each scope, in a fixed order (no deadlock
/// between two transactions locking several scopes). Must be a transaction's first lock.
async fn lock_scopes<'s>(
    c: &impl GenericClient,
    scopes: impl IntoIterator<Item = &'s Scope>,
) -> StoreResult<()> {
    let mut keys: Vec<String> = scopes
        .into_iter()
        .map(|s| format!("{}/{}", s.account, s.region))
        .collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        c.exec(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            &[&k],
        )
        .await
        .map_err(pg)?;
    }
    Ok(())
}

/// The channel a commit that enqueued evaluation work notifies (every node's engine wakes).
const EVALUATION_CHANNEL: &str = "remedy_evaluation";

/// Sends `NOTIFY` to every node for any number of commits that enqueued evaluation work.
///
/// A `NOTIFY` inside the writing transaction would serialize every such commit in the whole
/// PostgreSQL server: queueing a notification takes a database-wide lock at commit, held through
/// the WAL flush (the 3-node benchmark spent more time waiting on it than on anything else).
/// Instead a commit signals this task afterwards ([`PgStore::work_committed`]), and the task sends
/// one `NOTIFY` of its own — a transaction that writes nothing — for every signal, or every burst
/// of signals that arrived while it was sending. The task ends with the store.
fn spawn_node_waker(pool: Pool) -> tokio::sync::mpsc::Sender<()> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(1);
    tokio::spawn(async move {
        while rx.recv().await.is_some() {
            let sent = match pool.get().await {
                Ok(c) => c
                    .exec("SELECT pg_notify($1, '')", &[&EVALUATION_CHANNEL])
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            if let Err(error) = sent {
                // The other nodes' engines still poll; they find the work a little later.
                tracing::debug!(%error, "postgres: cannot wake the other nodes");
            }
        }
    });
    tx
}

/// Opens a connection of its own whose notifications wake `wake` (a task polls it for as long as
/// the returned client lives).
async fn connect_listening<T>(
    config: &tokio_postgres::Config,
    tls: T,
    wake: Arc<tokio::sync::Notify>,
) -> StoreResult<tokio_postgres::Client>
where
    T: tokio_postgres::tls::MakeTlsConnect<tokio_postgres::Socket>,
    T::Stream: Send + 'static,
{
    let (client, mut conn) = config.connect(tls).await.map_err(pg)?;
    tokio::spawn(async move {
        use futures_util::StreamExt;
        let mut messages = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(tokio_postgres::AsyncMessage::Notification(_)) => wake.notify_one(),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "postgres: the node liveness connection ended");
                    break;
                }
            }
        }
    });
    Ok(client)
}

/// The advisory lock key naming a node's liveness lock.
fn node_key(node: &str) -> String {
    format!("remedy-node/{node}")
}

/// Of `nodes`, the ones no process holds the liveness lock of (gone), tested inside `c`'s
/// transaction: each one found gone stays locked until it ends, so two nodes starting at once do
/// not both act on it.
async fn gone_nodes(c: &impl GenericClient, nodes: Vec<String>) -> StoreResult<Vec<String>> {
    let mut gone = Vec::new();
    for n in nodes {
        let free: bool = col(
            &c.q_one(
                "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))",
                &[&node_key(&n)],
            )
            .await
            .map_err(pg)?,
            0,
        )?;
        if free {
            gone.push(n);
        }
    }
    Ok(gone)
}

async fn migrate(pool: &Pool) -> StoreResult<()> {
    let mut c = pool.get().await.map_err(backend)?;
    let t = c.transaction().await.map_err(pg)?;
    // Another node may be migrating (wait for it however long it takes), and a migration may
    // rewrite large tables: the session's timeouts do not apply here.
    t.batch_execute("SET LOCAL lock_timeout = 0; SET LOCAL statement_timeout = 0")
        .await
        .map_err(pg)?;
    t.exec(
        "SELECT pg_advisory_xact_lock($1, $2)",
        &[&MIGRATION_LOCK.0, &MIGRATION_LOCK.1],
    )
    .await
    .map_err(pg)?;
    t.batch_execute(
        "CREATE TABLE IF NOT EXISTS remedy_schema_migrations (
            version BIGINT PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)",
    )
    .await
    .map_err(pg)?;
    for (version, sql) in MIGRATIONS {
        let done = t
            .q_opt(
                "SELECT 1 FROM remedy_schema_migrations WHERE version = $1",
                &[version],
            )
            .await
            .map_err(pg)?
            .is_some();
        if !done {
            t.batch_execute(sql).await.map_err(pg)?;
            t.exec(
                "INSERT INTO remedy_schema_migrations (version, applied_at) VALUES ($1, $2)",
                &[version, &crate::time::now()],
            )
            .await
            .map_err(pg)?;
        }
    }
    t.commit().await.map_err(pg)
}

impl PgStore {
    /// Connects to `url` (`postgres://…`) with [`DEFAULT_POOL_SIZE`] pooled connections,
    /// applies migrations and returns the store.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        Self::connect_with_pool_size(url, DEFAULT_POOL_SIZE).await
    }

    /// [`PgStore::connect`] with at most `pool_size` pooled connections (at least 1).
    pub async fn connect_with_pool_size(url: &str, pool_size: usize) -> StoreResult<Self> {
        let (url, tls) = tls::TlsSettings::take(url)
            .map_err(|e| StoreError::Backend(format!("invalid PostgreSQL URL: {e}")))?;
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Backend(format!("invalid PostgreSQL URL: {e}")))?;
        if tls.is_none() && config.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
            // A key=value connection string: its sslmode reached tokio-postgres, which would
            // fail each connection's handshake without a connector.
            return Err(StoreError::Backend(
                "sslmode=require in a key=value connection string: give TLS settings in a \
                 postgres:// URL (…?sslmode=require)"
                    .into(),
            ));
        }
        let options = match config.get_options() {
            Some(given) if !given.is_empty() => format!("{given} {SESSION_OPTIONS}"),
            _ => SESSION_OPTIONS.to_string(),
        };
        config.options(&options);
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(POOL_WAIT);
        }
        if config.get_application_name().is_none() {
            config.application_name("remedy");
        }
        let liveness_config = config.clone();
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let queue_signal = Arc::new(tokio::sync::Notify::new());
        // The liveness connection also listens: another node's enqueue wakes this node's engine.
        let (manager, liveness) = match tls {
            None => (
                Manager::from_config(config, NoTls, manager_config),
                connect_listening(&liveness_config, NoTls, queue_signal.clone()).await?,
            ),
            Some(settings) => {
                let connector = settings
                    .connector()
                    .map_err(|e| StoreError::Backend(format!("PostgreSQL TLS: {e}")))?;
                (
                    Manager::from_config(config, connector.clone(), manager_config),
                    connect_listening(&liveness_config, connector, queue_signal.clone()).await?,
                )
            }
        };
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(POOL_WAIT))
            .build()
            .map_err(backend)?;
        migrate(&pool).await?;
        let node = uuid::Uuid::new_v4().to_string();
        liveness
            .batch_execute(&format!("LISTEN {EVALUATION_CHANNEL}"))
            .await
            .map_err(pg)?;
        liveness
            .execute(
                "SELECT pg_advisory_lock(hashtextextended($1, 0))",
                &[&node_key(&node)],
            )
            .await
            .map_err(pg)?;
        Ok(Self {
            node_waker: spawn_node_waker(pool.clone()),
            pool,
            node,
            _liveness: liveness,
            queue_signal,
        })
    }

    /// After a commit that enqueued evaluation work: wakes this node's engine now and every
    /// other node's through [`spawn_node_waker`] (a signal already pending covers this one).
    fn work_committed(&self) {
        self.queue_signal.notify_one();
        let _ = self.node_waker.try_send(());
    }

    async fn client(&self) -> StoreResult<deadpool_postgres::Client> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => pg(e),
            e => backend(e),
        })
    }

    /// One statement on a pooled connection (its own transaction): every row.
    async fn rows(&self, sql: &str, params: &Params<'_>) -> StoreResult<Vec<Row>> {
        let c = self.client().await?;
        let stmt = c.prepare_cached(sql).await.map_err(pg)?;
        c.query(&stmt, params).await.map_err(pg)
    }

    /// One statement on a pooled connection: at most one row.
    async fn row(&self, sql: &str, params: &Params<'_>) -> StoreResult<Option<Row>> {
        let c = self.client().await?;
        let stmt = c.prepare_cached(sql).await.map_err(pg)?;
        c.query_opt(&stmt, params).await.map_err(pg)
    }
}

// ---- row mapping --------------------------------------------------------------------------------

const RULE_COLS: &str = "name, rule_id, arn, body";

fn rule_from_row(row: &Row) -> StoreResult<RuleRecord> {
    Ok(RuleRecord {
        name: col(row, 0)?,
        id: col(row, 1)?,
        arn: col(row, 2)?,
        rule: from_json(col::<&str>(row, 3)?)?,
    })
}

fn remediation_from_row(row: &Row) -> StoreResult<RemediationConfigRecord> {
    Ok(RemediationConfigRecord {
        rule_name: col(row, 0)?,
        arn: col(row, 1)?,
        config: from_json(col::<&str>(row, 2)?)?,
    })
}

fn exception_from_row(row: &Row) -> StoreResult<RemediationExceptionRecord> {
    Ok(RemediationExceptionRecord {
        rule_name: col(row, 0)?,
        resource_type: col(row, 1)?,
        resource_id: col(row, 2)?,
        message: col(row, 3)?,
        expiration_time: col(row, 4)?,
    })
}

fn item_from_row(row: &Row) -> StoreResult<ConfigurationItem> {
    from_json(col::<&str>(row, 0)?)
}

fn map_rows<T>(rows: &[Row], f: impl Fn(&Row) -> StoreResult<T>) -> StoreResult<Vec<T>> {
    rows.iter().map(f).collect()
}

async fn rule_exists(c: &impl GenericClient, scope: &Scope, name: &str) -> StoreResult<bool> {
    Ok(c.q_opt(
        "SELECT 1 FROM config_rules WHERE account=$1 AND region=$2 AND name=$3",
        &[&scope.account, &scope.region, &name],
    )
    .await
    .map_err(pg)?
    .is_some())
}

/// How [`lock_rule`] locks a rule's row.
#[derive(Clone, Copy)]
enum RuleRowLock {
    /// Held by writers of the rule's results: holds off the rule's deletion, not other writers
    /// or rule puts.
    KeyShare,
    /// Waits for every key-share holder and holds off new ones.
    Update,
}

/// Locks the rule's row until the transaction ends; false when the rule does not exist.
async fn lock_rule(
    c: &impl GenericClient,
    scope: &Scope,
    name: &str,
    mode: RuleRowLock,
) -> StoreResult<bool> {
    let sql = match mode {
        RuleRowLock::KeyShare => {
            "SELECT 1 FROM config_rules WHERE account=$1 AND region=$2 AND name=$3 FOR KEY SHARE"
        }
        RuleRowLock::Update => {
            "SELECT 1 FROM config_rules WHERE account=$1 AND region=$2 AND name=$3 FOR UPDATE"
        }
    };
    Ok(c.q_opt(sql, &[&scope.account, &scope.region, &name])
        .await
        .map_err(pg)?
        .is_some())
}

/// Only rules are taggable so far; a tag target must be one of them.
async fn taggable_exists(c: &impl GenericClient, scope: &Scope, arn: &str) -> StoreResult<bool> {
    Ok(c.q_opt(
        "SELECT 1 FROM config_rules WHERE account=$1 AND region=$2 AND arn=$3",
        &[&scope.account, &scope.region, &arn],
    )
    .await
    .map_err(pg)?
    .is_some())
}

/// Sets each tag on `arn`, replacing the value of keys it already has.
async fn merge_tags(
    c: &impl GenericClient,
    scope: &Scope,
    arn: &str,
    tags: &[Tag],
) -> StoreResult<()> {
    for t in tags {
        c.exec(
            "INSERT INTO resource_tags (account, region, arn, key, value) VALUES ($1,$2,$3,$4,$5)
             ON CONFLICT (account, region, arn, key) DO UPDATE SET value=excluded.value",
            &[&scope.account, &scope.region, &arn, &t.key, &t.value],
        )
        .await
        .map_err(pg)?;
    }
    Ok(())
}

/// Records one item under its resource's lock (a resource's state ids grow, its latest item is
/// its newest). With `max_custom`, the caller holds the scope's lock (taken first: scope locks
/// always come before resource locks).
async fn insert_item(
    c: &impl GenericClient,
    scope: &Scope,
    item: NewConfigurationItem,
    max_custom: Option<usize>,
) -> StoreResult<ConfigurationItem> {
    let prev = lock_resource(c, scope, &item.resource_type, &item.resource_id).await?;
    insert_after(c, scope, item, prev, max_custom).await
}

/// Takes the resource's transaction-scoped lock and reads its latest (state id, status): until
/// the transaction ends, no other writer on any node records an item of the resource.
async fn lock_resource(
    c: &impl GenericClient,
    scope: &Scope,
    resource_type: &str,
    resource_id: &str,
) -> StoreResult<Option<(i64, String)>> {
    let resource = format!(
        "resource/{}/{}/{resource_type}/{resource_id}",
        scope.account, scope.region
    );
    c.exec(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        &[&resource],
    )
    .await
    .map_err(pg)?;
    match c
        .q_opt(
            "SELECT state_id, status FROM resources
             WHERE account=$1 AND region=$2 AND resource_type=$3 AND resource_id=$4",
            &[&scope.account, &scope.region, &resource_type, &resource_id],
        )
        .await
        .map_err(pg)?
    {
        Some(r) => Ok(Some((col(&r, 0)?, col(&r, 1)?))),
        None => Ok(None),
    }
}

/// Records `item` after the resource's previous item `prev`, read under [`lock_resource`].
async fn insert_after(
    c: &impl GenericClient,
    scope: &Scope,
    item: NewConfigurationItem,
    prev: Option<(i64, String)>,
    max_custom: Option<usize>,
) -> StoreResult<ConfigurationItem> {
    let deleting = item.status.as_deref().is_some_and(is_deleted_status);
    if let Some(max) = max_custom {
        let was_active = prev.as_ref().is_some_and(|(_, s)| !is_deleted_status(s));
        if !deleting && !was_active && !item.resource_type.starts_with("AWS::") {
            let active: i64 = col(
                &c.q_one(
                    "SELECT COUNT(*) FROM resources WHERE account=$1 AND region=$2
                       AND status NOT IN ($3, $4) AND resource_type NOT LIKE 'AWS::%'",
                    &[
                        &scope.account,
                        &scope.region,
                        &STATUS_DELETED,
                        &STATUS_DELETED_NOT_RECORDED,
                    ],
                )
                .await
                .map_err(pg)?,
                0,
            )?;
            if active as usize >= max {
                return Err(StoreError::LimitExceeded(max));
            }
        }
    }
    let previous = prev.as_ref().map(|(id, s)| (*id, s.as_str()));
    let ci = item.into_recorded(scope, previous, crate::time::now_millis());
    let body = to_json(&ci)?;
    c.exec(
        "INSERT INTO configuration_items (account, region, resource_type, resource_id, state_id, capture_time, body)
         VALUES ($1,$2,$3,$4,$5,$6,$7)",
        &[&scope.account, &scope.region, &ci.resource_type, &ci.resource_id, &ci.state_id, &ci.capture_time, &body],
    )
    .await
    .map_err(pg)?;
    c.exec(
        "INSERT INTO resources (account, region, resource_type, resource_id, resource_name, state_id, status, capture_time, body)
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)
         ON CONFLICT (account, region, resource_type, resource_id) DO UPDATE SET
           resource_name=excluded.resource_name, state_id=excluded.state_id, status=excluded.status,
           capture_time=excluded.capture_time, body=excluded.body",
        &[&scope.account, &scope.region, &ci.resource_type, &ci.resource_id, &ci.resource_name, &ci.state_id, &ci.status, &ci.capture_time, &body],
    )
    .await
    .map_err(pg)?;
    evaluation_queue::enqueue_resource(
        c,
        scope,
        &ci.resource_type,
        &ci.resource_id,
        crate::time::now(),
    )
    .await?;
    Ok(ci)
}

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> StoreResult<()> {
        tokio::time::timeout(PING_TIMEOUT, async {
            let c = self.client().await?;
            c.simple_query("SELECT 1").await.map_err(pg)?;
            Ok(())
        })
        .await
        .map_err(|_| backend("the database did not answer within 5 s"))?
    }

    async fn get_rules_by_name(
        &self,
        scope: &Scope,
        names: &[String],
    ) -> StoreResult<Vec<Option<RuleRecord>>> {
        let rows = self
            .rows(
                &format!(
                    "SELECT {RULE_COLS} FROM config_rules
                     WHERE account=$1 AND region=$2 AND name = ANY($3)"
                ),
                &[&scope.account, &scope.region, &names],
            )
            .await?;
        let found = map_rows(&rows, rule_from_row)?;
        Ok(names
            .iter()
            .map(|n| found.iter().find(|r| &r.name == n).cloned())
            .collect())
    }

    async fn get_rule(
        &self,
        scope: &Scope,
        selector: &RuleSelector,
    ) -> StoreResult<Option<RuleRecord>> {
        let (column, value) = match selector {
            RuleSelector::Name(v) => ("name", v),
            RuleSelector::Id(v) => ("rule_id", v),
            RuleSelector::Arn(v) => ("arn", v),
        };
        self.row(
            &format!(
                "SELECT {RULE_COLS} FROM config_rules WHERE account=$1 AND region=$2 AND {column}=$3"
            ),
            &[&scope.account, &scope.region, value],
        )
        .await?
        .map(|r| rule_from_row(&r))
        .transpose()
    }

    async fn list_rules(
        &self,
        scope: &Scope,
        after_name: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<RuleRecord>> {
        let rows = self
            .rows(
                &format!(
                    "SELECT {RULE_COLS} FROM config_rules WHERE account=$1 AND region=$2 AND name > $3
                     ORDER BY name LIMIT $4"
                ),
                &[
                    &scope.account,
                    &scope.region,
                    &after_name.unwrap_or(""),
                    &(limit as i64),
                ],
            )
            .await?;
        map_rows(&rows, rule_from_row)
    }

    /// A fingerprint of the scope's rules' row versions, computed when read: the XOR of a 64-bit
    /// hash of each rule's name and `xmin` (the transaction that wrote that version of the row).
    /// Every insert, update or delete changes the set of (name, xmin) pairs, whichever node
    /// commits it. (SQLite keeps a counter bumped by triggers instead; here such a row would be
    /// locked by every rule write until its commit, and a transaction setting two rules' states
    /// could deadlock against a put of one of them.)
    async fn rule_set_version(&self, scope: &Scope) -> StoreResult<i64> {
        let row = self
            .row(
                "SELECT coalesce(bit_xor(('x' || left(md5(name || '/' || xmin::text), 16))::bit(64)::bigint), 0)
                 FROM config_rules WHERE account=$1 AND region=$2",
                &[&scope.account, &scope.region],
            )
            .await?;
        match row {
            Some(r) => col(&r, 0),
            None => Ok(0),
        }
    }

    async fn insert_rule(
        &self,
        scope: &Scope,
        rule: &RuleRecord,
        tags: &[Tag],
        max_rules: usize,
    ) -> StoreResult<()> {
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        lock_scopes(&t, [scope]).await?;
        if rule_exists(&t, scope, &rule.name).await? {
            return Err(StoreError::AlreadyExists);
        }
        let count: i64 = col(
            &t.q_one(
                "SELECT COUNT(*) FROM config_rules WHERE account=$1 AND region=$2",
                &[&scope.account, &scope.region],
            )
            .await
            .map_err(pg)?,
            0,
        )?;
        if count as usize >= max_rules {
            return Err(StoreError::LimitExceeded(max_rules));
        }
        let body = to_json(&rule.rule)?;
        t.exec(
            "INSERT INTO config_rules (account, region, name, rule_id, arn, body, created_at)
             VALUES ($1,$2,$3,$4,$5,$6,$7)",
            &[
                &scope.account,
                &scope.region,
                &rule.name,
                &rule.id,
                &rule.arn,
                &body,
                &crate::time::now(),
            ],
        )
        .await
        .map_err(pg)?;
        merge_tags(&t, scope, &rule.arn, tags).await?;
        evaluation_queue::enqueue_rule(
            &t,
            scope,
            &rule.name,
            evaluation_queue::JobOrigin::RulePut,
            crate::time::now(),
        )
        .await?;
        t.commit().await.map_err(pg)?;
        self.work_committed();
        Ok(())
    }

    async fn update_rule(&self, scope: &Scope, rule: &RuleRecord) -> StoreResult<()> {
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        let body = to_json(&rule.rule)?;
        let n = t
            .exec(
                "UPDATE config_rules SET body=$4 WHERE account=$1 AND region=$2 AND name=$3",
                &[&scope.account, &scope.region, &rule.name, &body],
            )
            .await
            .map_err(pg)?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        evaluation_queue::enqueue_rule(
            &t,
            scope,
            &rule.name,
            evaluation_queue::JobOrigin::RulePut,
            crate::time::now(),
        )
        .await?;
        t.commit().await.map_err(pg)?;
        self.work_committed();
        Ok(())
    }

    async fn delete_rule(&self, scope: &Scope, name: &str) -> StoreResult<()> {
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        lock_scopes(&t, [scope]).await?;
        let Some(row) = t
            .q_opt(
                "SELECT arn FROM config_rules WHERE account=$1 AND region=$2 AND name=$3",
                &[&scope.account, &scope.region, &name],
            )
            .await
            .map_err(pg)?
        else {
            return Err(StoreError::NotFound);
        };
        let arn: String = col(&row, 0)?;
        let has_remediation = t
            .q_opt(
                "SELECT 1 FROM remediation_configurations WHERE account=$1 AND region=$2 AND rule_name=$3",
                &[&scope.account, &scope.region, &name],
            )
            .await
            .map_err(pg)?
            .is_some();
        if has_remediation {
            return Err(StoreError::RuleHasRemediationConfiguration);
        }
        let p: &Params = &[&scope.account, &scope.region, &name];
        for sql in [
            "DELETE FROM config_rules WHERE account=$1 AND region=$2 AND name=$3",
            "DELETE FROM remediation_exceptions WHERE account=$1 AND region=$2 AND rule_name=$3",
            "DELETE FROM evaluation_results WHERE account=$1 AND region=$2 AND rule_name=$3",
            "DELETE FROM rule_evaluation_status WHERE account=$1 AND region=$2 AND rule_name=$3",
            "DELETE FROM evaluation_queue WHERE account=$1 AND region=$2 AND kind='rule' AND rule_name=$3",
            "DELETE FROM rule_schedules WHERE account=$1 AND region=$2 AND rule_name=$3",
        ] {
            t.exec(sql, p).await.map_err(pg)?;
        }
        t.exec(
            "DELETE FROM resource_tags WHERE account=$1 AND region=$2 AND arn=$3",
            &[&scope.account, &scope.region, &arn],
        )
        .await
        .map_err(pg)?;
        t.commit().await.map_err(pg)
    }

    async fn put_remediation_configurations(
        &self,
        scope: &Scope,
        configs: &[RemediationConfigRecord],
    ) -> StoreResult<Vec<bool>> {
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        lock_scopes(&t, [scope]).await?;
        let mut stored = Vec::with_capacity(configs.len());
        for rc in configs {
            if !rule_exists(&t, scope, &rc.rule_name).await? {
                stored.push(false);
                continue;
            }
            // An existing configuration keeps its ARN across updates.
            let existing: Option<String> = match t
                .q_opt(
                    "SELECT arn FROM remediation_configurations WHERE account=$1 AND region=$2 AND rule_name=$3",
                    &[&scope.account, &scope.region, &rc.rule_name],
                )
                .await
                .map_err(pg)?
            {
                Some(r) => Some(col(&r, 0)?),
                None => None,
            };
            let arn = existing.unwrap_or_else(|| rc.arn.clone());
            let mut config = rc.config.clone();
            config.arn = Some(arn.clone());
            t.exec(
                "INSERT INTO remediation_configurations (account, region, rule_name, arn, body) VALUES ($1,$2,$3,$4,$5)
                 ON CONFLICT (account, region, rule_name) DO UPDATE SET body=excluded.body",
                &[&scope.account, &scope.region, &rc.rule_name, &arn, &to_json(&config)?],
            )
            .await
            .map_err(pg)?;
            stored.push(true);
        }
        t.commit().await.map_err(pg)?;
        Ok(stored)
    }

    async fn list_automatic_remediation_configurations(
        &self,
    ) -> StoreResult<Vec<(Scope, RemediationConfigRecord)>> {
        let rows = self
            .rows(
                "SELECT rule_name, arn, body, account, region FROM remediation_configurations
                 WHERE body::jsonb -> 'Automatic' = 'true'::jsonb",
                &[],
            )
            .await?;
        map_rows(&rows, |r| {
            Ok((
                Scope::new(col::<String>(r, 3)?, col::<String>(r, 4)?),
                remediation_from_row(r)?,
            ))
        })
    }

    async fn get_remediation_configurations(
        &self,
        scope: &Scope,
        rule_names: &[String],
    ) -> StoreResult<Vec<RemediationConfigRecord>> {
        let rows = self
            .rows(
                "SELECT rule_name, arn, body FROM remediation_configurations
                 WHERE account=$1 AND region=$2 AND rule_name = ANY($3)",
                &[&scope.account, &scope.region, &rule_names],
            )
            .await?;
        let found = map_rows(&rows, remediation_from_row)?;
        // In the order asked, as the SQLite store answers.
        Ok(rule_names
            .iter()
            .filter_map(|n| found.iter().find(|r| &r.rule_name == n).cloned())
            .collect())
    }

    async fn delete_remediation_configuration(
        &self,
        scope: &Scope,
        rule_name: &str,
    ) -> StoreResult<()> {
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        lock_scopes(&t, [scope]).await?;
        // Starts lock the configuration's row (FOR SHARE) instead of the scope: lock it first,
        // so a start in progress commits its executions before they are counted.
        t.q_opt(
            "SELECT 1 FROM remediation_configurations WHERE account=$1 AND region=$2 AND rule_name=$3
             FOR UPDATE",
            &[&scope.account, &scope.region, &rule_name],
        )
        .await
        .map_err(pg)?;
        if executions::rule_has_active_executions(&t, scope, rule_name).await? {
            return Err(StoreError::RemediationInProgress);
        }
        let n = t
            .exec(
                "DELETE FROM remediation_configurations WHERE account=$1 AND region=$2 AND rule_name=$3",
                &[&scope.account, &scope.region, &rule_name],
            )
            .await
            .map_err(pg)?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        t.commit().await.map_err(pg)
    }

    async fn put_remediation_exceptions(
        &self,
        scope: &Scope,
        records: &[RemediationExceptionRecord],
    ) -> StoreResult<()> {
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        for r in records {
            t.exec(
                "INSERT INTO remediation_exceptions (account, region, rule_name, resource_type, resource_id, message, expiration_time)
                 VALUES ($1,$2,$3,$4,$5,$6,$7)
                 ON CONFLICT (account, region, rule_name, resource_type, resource_id)
                 DO UPDATE SET message=excluded.message, expiration_time=excluded.expiration_time",
                &[&scope.account, &scope.region, &r.rule_name, &r.resource_type, &r.resource_id, &r.message, &r.expiration_time],
            )
            .await
            .map_err(pg)?;
        }
        t.commit().await.map_err(pg)
    }

    async fn list_remediation_exceptions(
        &self,
        scope: &Scope,
        rule_name: &str,
        keys: Option<&[ExceptionKey]>,
        after: Option<&ExceptionKey>,
        limit: usize,
        now: f64,
    ) -> StoreResult<Vec<RemediationExceptionRecord>> {
        const COLS: &str = "rule_name, resource_type, resource_id, message, expiration_time";
        const LIVE: &str = "(expiration_time IS NULL OR expiration_time > $4)";
        if let Some(keys) = keys {
            let c = self.client().await?;
            let stmt = c
                .prepare_cached(&format!(
                    "SELECT {COLS} FROM remediation_exceptions
                     WHERE account=$1 AND region=$2 AND rule_name=$3 AND {LIVE}
                       AND resource_type=$5 AND resource_id=$6"
                ))
                .await
                .map_err(pg)?;
            let mut out = Vec::new();
            for k in keys {
                if let Some(r) = c
                    .query_opt(
                        &stmt,
                        &[
                            &scope.account,
                            &scope.region,
                            &rule_name,
                            &now,
                            &k.resource_type,
                            &k.resource_id,
                        ],
                    )
                    .await
                    .map_err(pg)?
                {
                    out.push(exception_from_row(&r)?);
                }
            }
            return Ok(out);
        }
        let (after_type, after_id) = after
            .map(|a| (a.resource_type.as_str(), a.resource_id.as_str()))
            .unwrap_or(("", ""));
        let rows = self
            .rows(
                &format!(
                    "SELECT {COLS} FROM remediation_exceptions
                     WHERE account=$1 AND region=$2 AND rule_name=$3 AND {LIVE}
                       AND (resource_type, resource_id) > ($5, $6)
                     ORDER BY resource_type, resource_id LIMIT $7"
                ),
                &[
                    &scope.account,
                    &scope.region,
                    &rule_name,
                    &now,
                    &after_type,
                    &after_id,
                    &(limit as i64),
                ],
            )
            .await?;
        map_rows(&rows, exception_from_row)
    }

    async fn delete_remediation_exceptions(
        &self,
        scope: &Scope,
        rule_name: &str,
        keys: &[ExceptionKey],
        now: f64,
    ) -> StoreResult<Vec<bool>> {
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            let n = t
                .exec(
                    "DELETE FROM remediation_exceptions WHERE account=$1 AND region=$2 AND rule_name=$3
                     AND resource_type=$4 AND resource_id=$5 AND (expiration_time IS NULL OR expiration_time > $6)",
                    &[&scope.account, &scope.region, &rule_name, &k.resource_type, &k.resource_id, &now],
                )
                .await
                .map_err(pg)?;
            out.push(n > 0);
        }
        // Expired exceptions are gone: sweep them.
        t.exec(
            "DELETE FROM remediation_exceptions WHERE account=$1 AND region=$2
               AND expiration_time IS NOT NULL AND expiration_time <= $3",
            &[&scope.account, &scope.region, &now],
        )
        .await
        .map_err(pg)?;
        t.commit().await.map_err(pg)?;
        Ok(out)
    }

    async fn tag_resource(
        &self,
        scope: &Scope,
        arn: &str,
        tags: &[Tag],
        max_tags: usize,
    ) -> StoreResult<()> {
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        lock_scopes(&t, [scope]).await?;
        if !taggable_exists(&t, scope, arn).await? {
            return Err(StoreError::NotFound);
        }
        merge_tags(&t, scope, arn, tags).await?;
        let count: i64 = col(
            &t.q_one(
                "SELECT COUNT(*) FROM resource_tags WHERE account=$1 AND region=$2 AND arn=$3",
                &[&scope.account, &scope.region, &arn],
            )
            .await
            .map_err(pg)?,
            0,
        )?;
        if count as usize > max_tags {
            // Dropping the transaction rolls the merge back.
            return Err(StoreError::LimitExceeded(max_tags));
        }
        t.commit().await.map_err(pg)
    }

    async fn untag_resource(&self, scope: &Scope, arn: &str, keys: &[String]) -> StoreResult<()> {
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        lock_scopes(&t, [scope]).await?;
        if !taggable_exists(&t, scope, arn).await? {
            return Err(StoreError::NotFound);
        }
        t.exec(
            "DELETE FROM resource_tags WHERE account=$1 AND region=$2 AND arn=$3 AND key = ANY($4)",
            &[&scope.account, &scope.region, &arn, &keys],
        )
        .await
        .map_err(pg)?;
        t.commit().await.map_err(pg)
    }

    async fn list_tags(
        &self,
        scope: &Scope,
        arn: &str,
        after_key: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Tag>> {
        let mut c = self.client().await?;
        let t = c
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(pg)?;
        if !taggable_exists(&t, scope, arn).await? {
            return Err(StoreError::NotFound);
        }
        let rows = t
            .q_all(
                "SELECT key, value FROM resource_tags WHERE account=$1 AND region=$2 AND arn=$3 AND key > $4
                 ORDER BY key LIMIT $5",
                &[&scope.account, &scope.region, &arn, &after_key.unwrap_or(""), &(limit as i64)],
            )
            .await
            .map_err(pg)?;
        t.commit().await.map_err(pg)?;
        map_rows(&rows, |r| {
            Ok(Tag {
                key: col(r, 0)?,
                value: col(r, 1)?,
            })
        })
    }

    async fn release_dead_node_execution_leases(&self) -> StoreResult<usize> {
        // The release at start never takes this node's or a live node's leases.
        ExecutionStore::release_all_execution_leases(self).await
    }

    async fn record_configuration_item(
        &self,
        scope: &Scope,
        item: NewConfigurationItem,
        max_custom_resources: Option<usize>,
    ) -> StoreResult<ConfigurationItem> {
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        // The custom-resource limit counts the scope's resources: only a write it may apply to
        // takes the scope's lock. Every other one locks just its resource, so writes of
        // different resources commit side by side (and share their fsyncs).
        let limited = max_custom_resources.is_some()
            && !item.resource_type.starts_with("AWS::")
            && !item.status.as_deref().is_some_and(is_deleted_status);
        if limited {
            lock_scopes(&t, [scope]).await?;
        }
        let ci = insert_item(&t, scope, item, max_custom_resources).await?;
        t.commit().await.map_err(pg)?;
        self.work_committed();
        Ok(ci)
    }

    async fn record_configuration_item_if_latest(
        &self,
        scope: &Scope,
        item: NewConfigurationItem,
        expected_state_id: Option<i64>,
    ) -> StoreResult<Option<ConfigurationItem>> {
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        // The resource's lock makes the check and the write one step for every node.
        let prev = lock_resource(&t, scope, &item.resource_type, &item.resource_id).await?;
        if prev.as_ref().map(|(id, _)| *id) != expected_state_id {
            return Ok(None);
        }
        let ci = insert_after(&t, scope, item, prev, None).await?;
        t.commit().await.map_err(pg)?;
        self.work_committed();
        Ok(Some(ci))
    }

    async fn import_configuration_items(
        &self,
        scope_items: Vec<(Scope, NewConfigurationItem)>,
    ) -> StoreResult<usize> {
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        let scopes: Vec<Scope> = scope_items.iter().map(|(s, _)| s.clone()).collect();
        lock_scopes(&t, scopes.iter()).await?;
        let n = scope_items.len();
        for (scope, item) in scope_items {
            insert_item(&t, &scope, item, None).await?;
        }
        t.commit().await.map_err(pg)?;
        self.work_committed();
        Ok(n)
    }

    async fn latest_configuration_item(
        &self,
        scope: &Scope,
        resource_type: &str,
        resource_id: &str,
    ) -> StoreResult<Option<ConfigurationItem>> {
        self.row(
            "SELECT body FROM resources WHERE account=$1 AND region=$2 AND resource_type=$3 AND resource_id=$4",
            &[&scope.account, &scope.region, &resource_type, &resource_id],
        )
        .await?
        .map(|r| item_from_row(&r))
        .transpose()
    }

    async fn configuration_history(
        &self,
        scope: &Scope,
        q: &HistoryQuery,
    ) -> StoreResult<Vec<ConfigurationItem>> {
        let (cmp, order) = if q.forward {
            (">", "ASC")
        } else {
            ("<", "DESC")
        };
        let rows = self
            .rows(
                &format!(
                    "SELECT body FROM configuration_items
                     WHERE account=$1 AND region=$2 AND resource_type=$3 AND resource_id=$4
                       AND capture_time >= $5 AND capture_time <= $6
                       AND ($7::bigint IS NULL OR state_id {cmp} $7)
                     ORDER BY state_id {order} LIMIT $8"
                ),
                &[
                    &scope.account,
                    &scope.region,
                    &q.resource_type,
                    &q.resource_id,
                    &q.earlier_time.unwrap_or(f64::MIN),
                    &q.later_time.unwrap_or(f64::MAX),
                    &q.after_state_id,
                    &(q.limit as i64),
                ],
            )
            .await?;
        map_rows(&rows, item_from_row)
    }

    async fn list_discovered_resources(
        &self,
        scope: &Scope,
        q: &DiscoveredQuery,
    ) -> StoreResult<Vec<DiscoveredResource>> {
        let ids: Option<&Vec<String>> = (!q.resource_ids.is_empty()).then_some(&q.resource_ids);
        let rows = self
            .rows(
                "SELECT resource_id, resource_name, status, capture_time FROM resources
                 WHERE account=$1 AND region=$2 AND resource_type=$3 AND resource_id > $4
                   AND ($5 OR status NOT IN ($6, $7)) AND ($8::text IS NULL OR resource_name = $8)
                   AND ($9::text[] IS NULL OR resource_id = ANY($9))
                 ORDER BY resource_id LIMIT $10",
                &[
                    &scope.account,
                    &scope.region,
                    &q.resource_type,
                    &q.after_id.as_deref().unwrap_or(""),
                    &q.include_deleted,
                    &STATUS_DELETED,
                    &STATUS_DELETED_NOT_RECORDED,
                    &q.resource_name,
                    &ids,
                    &(q.limit as i64),
                ],
            )
            .await?;
        map_rows(&rows, |r| {
            let status: String = col(r, 2)?;
            let capture: f64 = col(r, 3)?;
            Ok(DiscoveredResource {
                resource_type: q.resource_type.clone(),
                resource_id: col(r, 0)?,
                resource_name: col(r, 1)?,
                deletion_time: is_deleted_status(&status).then_some(capture),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tls_in_a_key_value_string_is_refused_plainly() {
        let refused =
            PgStore::connect_with_pool_size("host=127.0.0.1 port=1 user=u sslmode=require", 1)
                .await;
        match refused {
            Err(StoreError::Backend(message)) => {
                assert!(
                    message.starts_with("sslmode=require in a key=value connection string"),
                    "{message}"
                )
            }
            other => panic!("expected the refusal, got {:?}", other.err()),
        }
    }
}
