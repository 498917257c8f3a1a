//! The embedded default store: one SQLite file in WAL mode.
//!
//! Writes go to a single writer thread that owns the only write connection, so a client can never
//! see `SQLITE_BUSY`. The writer takes every write queued at the moment and commits them in one
//! transaction (group commit), each inside its own savepoint so one failing write rolls back alone.
//! `synchronous=FULL` makes each commit durable before any of its callers is answered: an
//! acknowledged write survives `kill -9` and a host crash. Reads use a small pool of read-only
//! connections on blocking threads; WAL lets them run beside the writer.

use std::path::Path;
use std::sync::{mpsc, Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row};
use tokio::sync::oneshot;

use super::*;
use crate::domain::{is_deleted_status, STATUS_DELETED, STATUS_DELETED_NOT_RECORDED};

/// How many writes one transaction may carry.
const MAX_GROUP: usize = 256;

type Completion = Box<dyn FnOnce(StoreResult<()>) + Send>;
type WriteJob = Box<dyn FnOnce(&Connection) -> (bool, Completion) + Send>;

/// Schema migrations, applied in order at start; `schema_migrations` records which ran.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("sqlite/0001_init.sql")),
    (2, include_str!("sqlite/0002_evaluations.sql")),
    (3, include_str!("sqlite/0003_evaluation_queue.sql")),
    (4, include_str!("sqlite/0004_remediation_executions.sql")),
    (5, include_str!("sqlite/0005_documents.sql")),
    (6, include_str!("sqlite/0006_automation_executions.sql")),
    (7, include_str!("sqlite/0007_claim_indexes.sql")),
    (8, include_str!("sqlite/0008_metrics.sql")),
    (9, include_str!("sqlite/0009_execution_summaries.sql")),
    (10, include_str!("sqlite/0010_rule_set_versions.sql")),
];

mod documents;
mod evaluation_queue;
mod evaluations;
mod executions;
mod metrics;

/// Concurrent reads. Each holds a blocking thread and a connection; more than a few per core
/// only adds contention, and a bounded number lets every connection be reused.
const MAX_READERS: usize = 8;

pub struct SqliteStore {
    writer: mpsc::Sender<WriteJob>,
    readers: Arc<Mutex<Vec<Connection>>>,
    read_permits: Arc<tokio::sync::Semaphore>,
    path: std::path::PathBuf,
    /// Notified after a commit that enqueued evaluation work (see `evaluation_queue`).
    queue_signal: Arc<tokio::sync::Notify>,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 256;

fn open(path: &Path, read_only: bool) -> rusqlite::Result<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags)?;
    // Another process may hold the write lock for a while (a bulk `remedy import` beside a
    // running server): the writer waits for it rather than failing a client's write.
    let busy = if read_only { 5 } else { 60 };
    conn.busy_timeout(std::time::Duration::from_secs(busy))?;
    // rusqlite keeps 16 prepared statements by default; the writer and the engines' readers use
    // more distinct ones than that, and every miss is a fresh parse (issue 7's profile).
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    if !read_only {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
    }
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)",
    )?;
    for (version, sql) in MIGRATIONS {
        let done: bool = tx
            .query_row(
                "SELECT 1 FROM schema_migrations WHERE version = ?1",
                [version],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if !done {
            tx.execute_batch(sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                params![version, crate::time::now()],
            )?;
        }
    }
    tx.commit()
}

impl SqliteStore {
    /// Opens (creating if needed) the database file, applies migrations and starts the writer.
    pub fn open(path: &Path) -> StoreResult<Self> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(backend)?;
            }
        }
        let mut conn = open(path, false).map_err(backend)?;
        migrate(&mut conn).map_err(backend)?;
        let (tx, rx) = mpsc::channel::<WriteJob>();
        std::thread::Builder::new()
            .name("remedy-sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx))
            .map_err(backend)?;
        Ok(Self {
            writer: tx,
            readers: Arc::new(Mutex::new(Vec::new())),
            read_permits: Arc::new(tokio::sync::Semaphore::new(MAX_READERS)),
            path: path.to_path_buf(),
            queue_signal: Arc::new(tokio::sync::Notify::new()),
        })
    }

    /// Runs `f` on the writer inside its own savepoint; resolves after the commit is durable.
    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<StoreResult<T>>();
        let job: WriteJob = Box::new(move |conn| {
            let result = f(conn);
            let ok = result.is_ok();
            let completion: Completion = Box::new(move |commit| {
                let _ = tx.send(commit.and(result));
            });
            (ok, completion)
        });
        self.writer
            .send(job)
            .map_err(|_| StoreError::Backend("the SQLite writer has stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Backend("the SQLite writer dropped a write".into()))?
    }

    /// Runs `f` on a pooled read-only connection here, on the calling thread, in one read
    /// transaction (one snapshot, one lock round trip however many statements `f` runs).
    ///
    /// For the API's point reads: a few index lookups take microseconds, and handing them to a
    /// blocking thread (`read`) cost two context switches and a futex wake each, more than the
    /// read itself (issue 7's profile). A WAL reader never waits for the writer, so this does not
    /// block the runtime on a write. Scans, and reads that open their own transaction, use `read`.
    fn read_inline<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&Connection) -> StoreResult<T>,
    {
        let pooled = self.readers.lock().ok().and_then(|mut p| p.pop());
        let conn = match pooled {
            Some(c) => c,
            None => open(&self.path, true).map_err(backend)?,
        };
        let result = conn
            .prepare_cached("BEGIN")
            .and_then(|mut s| s.execute([]))
            .map_err(backend)
            .and_then(|_| {
                let result = f(&conn);
                // A read transaction commits nothing; ending it releases the snapshot.
                conn.prepare_cached("COMMIT")
                    .and_then(|mut s| s.execute([]))
                    .map_err(backend)
                    .and(result)
            });
        if conn.is_autocommit() {
            if let Ok(mut pool) = self.readers.lock() {
                if pool.len() < MAX_READERS {
                    pool.push(conn);
                }
            }
        }
        result
    }

    /// Runs `f` on a pooled read-only connection on a blocking thread.
    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let permit = self
            .read_permits
            .clone()
            .acquire_owned()
            .await
            .map_err(backend)?;
        let readers = self.readers.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let pooled = readers.lock().ok().and_then(|mut p| p.pop());
            let conn = match pooled {
                Some(c) => c,
                None => open(&path, true).map_err(backend)?,
            };
            let result = f(&conn);
            if let Ok(mut pool) = readers.lock() {
                if pool.len() < MAX_READERS {
                    pool.push(conn);
                }
            }
            result
        })
        .await
        .map_err(backend)?
    }
}

/// Runs one of the writer's fixed control statements through the statement cache: parsing
/// `SAVEPOINT w` and friends for every request showed in the profile (issue 7).
fn control(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn writer_loop(conn: Connection, rx: mpsc::Receiver<WriteJob>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut completions: Vec<Completion> = Vec::with_capacity(batch.len());
        if let Err(e) = control(&conn, "BEGIN IMMEDIATE") {
            tracing::error!(error = %e, "sqlite: cannot begin a write transaction");
            for job in batch {
                // Run nothing; fail every caller.
                drop(job);
            }
            continue;
        }
        for job in batch {
            if control(&conn, "SAVEPOINT w").is_err() {
                continue;
            }
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&conn)));
            match outcome {
                Ok((true, done)) => {
                    let _ = control(&conn, "RELEASE w");
                    completions.push(done);
                }
                Ok((false, done)) => {
                    let _ = control(&conn, "ROLLBACK TO w");
                    let _ = control(&conn, "RELEASE w");
                    completions.push(done);
                }
                Err(_) => {
                    tracing::error!("sqlite: a write panicked; rolled back");
                    let _ = control(&conn, "ROLLBACK TO w");
                    let _ = control(&conn, "RELEASE w");
                }
            }
        }
        let commit = control(&conn, "COMMIT").map_err(backend);
        if commit.is_err() {
            let _ = control(&conn, "ROLLBACK");
        }
        for done in completions {
            done(match &commit {
                Ok(()) => Ok(()),
                Err(e) => Err(StoreError::Backend(e.to_string())),
            });
        }
    }
}

// ---- row mapping --------------------------------------------------------------------------------

fn json_col<T: serde::de::DeserializeOwned>(row: &Row, idx: usize) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn to_json<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(backend)
}

fn rule_from_row(row: &Row) -> rusqlite::Result<RuleRecord> {
    Ok(RuleRecord {
        name: row.get(0)?,
        id: row.get(1)?,
        arn: row.get(2)?,
        rule: json_col(row, 3)?,
    })
}

fn remediation_from_row(row: &Row) -> rusqlite::Result<RemediationConfigRecord> {
    Ok(RemediationConfigRecord {
        rule_name: row.get(0)?,
        arn: row.get(1)?,
        config: json_col(row, 2)?,
    })
}

fn exception_from_row(row: &Row) -> rusqlite::Result<RemediationExceptionRecord> {
    Ok(RemediationExceptionRecord {
        rule_name: row.get(0)?,
        resource_type: row.get(1)?,
        resource_id: row.get(2)?,
        message: row.get(3)?,
        expiration_time: row.get(4)?,
    })
}

fn item_from_row(row: &Row) -> rusqlite::Result<ConfigurationItem> {
    json_col(row, 0)
}

const RULE_COLS: &str = "name, rule_id, arn, body";

fn rule_exists(conn: &Connection, scope: &Scope, name: &str) -> rusqlite::Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM config_rules WHERE account=?1 AND region=?2 AND name=?3")?
        .query_row(params![scope.account, scope.region, name], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Sets each tag on `arn`, replacing the value of keys it already has.
fn merge_tags(c: &Connection, scope: &Scope, arn: &str, tags: &[Tag]) -> StoreResult<()> {
    let mut stmt = c
        .prepare_cached(
            "INSERT INTO resource_tags (account, region, arn, key, value) VALUES (?1,?2,?3,?4,?5)
             ON CONFLICT (account, region, arn, key) DO UPDATE SET value=excluded.value",
        )
        .map_err(backend)?;
    for t in tags {
        stmt.execute(params![scope.account, scope.region, arn, t.key, t.value])
            .map_err(backend)?;
    }
    Ok(())
}

/// Only rules are taggable so far; a tag target must be one of them.
fn taggable_exists(conn: &Connection, scope: &Scope, arn: &str) -> rusqlite::Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM config_rules WHERE account=?1 AND region=?2 AND arn=?3",
            params![scope.account, scope.region, arn],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

fn insert_item(
    conn: &Connection,
    scope: &Scope,
    item: NewConfigurationItem,
    max_custom: Option<usize>,
) -> StoreResult<ConfigurationItem> {
    let prev = previous_state(conn, scope, &item.resource_type, &item.resource_id)?;
    insert_after(conn, scope, item, prev, max_custom)
}

/// The resource's latest (state id, status), read inside the writer's transaction.
fn previous_state(
    conn: &Connection,
    scope: &Scope,
    resource_type: &str,
    resource_id: &str,
) -> StoreResult<Option<(i64, String)>> {
    conn.prepare_cached(
        "SELECT state_id, status FROM resources WHERE account=?1 AND region=?2 AND resource_type=?3 AND resource_id=?4",
    )
    .and_then(|mut s| {
        s.query_row(
            params![scope.account, scope.region, resource_type, resource_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
    })
    .map_err(backend)
}

/// Records `item` after the resource's previous item `prev`.
fn insert_after(
    conn: &Connection,
    scope: &Scope,
    item: NewConfigurationItem,
    prev: Option<(i64, String)>,
    max_custom: Option<usize>,
) -> StoreResult<ConfigurationItem> {
    let deleting = item.status.as_deref().is_some_and(is_deleted_status);
    if let Some(max) = max_custom {
        let was_active = prev.as_ref().is_some_and(|(_, s)| !is_deleted_status(s));
        if !deleting && !was_active && !item.resource_type.starts_with("AWS::") {
            let active: i64 = conn
                .prepare_cached(
                    "SELECT COUNT(*) FROM resources WHERE account=?1 AND region=?2 AND status NOT IN (?3, ?4) AND resource_type NOT LIKE 'AWS::%'",
                )
                .and_then(|mut s| {
                    s.query_row(
                        params![scope.account, scope.region, STATUS_DELETED, STATUS_DELETED_NOT_RECORDED],
                        |r| r.get(0),
                    )
                })
                .map_err(backend)?;
            if active as usize >= max {
                return Err(StoreError::LimitExceeded(max));
            }
        }
    }
    let previous = prev.as_ref().map(|(id, s)| (*id, s.as_str()));
    let ci = item.into_recorded(scope, previous, crate::time::now_millis());
    let body = to_json(&ci)?;
    conn.prepare_cached(
        "INSERT INTO configuration_items (account, region, resource_type, resource_id, state_id, capture_time, body) VALUES (?1,?2,?3,?4,?5,?6,?7)",
    )
    .and_then(|mut s| s.execute(params![scope.account, scope.region, ci.resource_type, ci.resource_id, ci.state_id, ci.capture_time, body]))
    .map_err(backend)?;
    conn.prepare_cached(
        "INSERT INTO resources (account, region, resource_type, resource_id, resource_name, state_id, status, capture_time, body)
         VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)
         ON CONFLICT (account, region, resource_type, resource_id) DO UPDATE SET
           resource_name=excluded.resource_name, state_id=excluded.state_id, status=excluded.status,
           capture_time=excluded.capture_time, body=excluded.body",
    )
    .and_then(|mut s| s.execute(params![scope.account, scope.region, ci.resource_type, ci.resource_id, ci.resource_name, ci.state_id, ci.status, ci.capture_time, body]))
    .map_err(backend)?;
    evaluation_queue::enqueue_resource(
        conn,
        scope,
        &ci.resource_type,
        &ci.resource_id,
        crate::time::now(),
    )?;
    Ok(ci)
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        self.read_inline(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(backend))
    }

    async fn get_rules_by_name(
        &self,
        scope: &Scope,
        names: &[String],
    ) -> StoreResult<Vec<Option<RuleRecord>>> {
        self.read_inline(|c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {RULE_COLS} FROM config_rules WHERE account=?1 AND region=?2 AND name=?3"
                ))
                .map_err(backend)?;
            names
                .iter()
                .map(|n| {
                    stmt.query_row(params![scope.account, scope.region, n], rule_from_row)
                        .optional()
                        .map_err(backend)
                })
                .collect()
        })
    }

    async fn rule_set_version(&self, scope: &Scope) -> StoreResult<i64> {
        self.read_inline(|c| {
            c.prepare_cached("SELECT version FROM rule_set_versions WHERE account=?1 AND region=?2")
                .and_then(|mut s| {
                    s.query_row(params![scope.account, scope.region], |r| r.get(0))
                        .optional()
                })
                .map(|v| v.unwrap_or(0))
                .map_err(backend)
        })
    }

    async fn list_rule_bodies(
        &self,
        scope: &Scope,
        after_name: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<(String, String)>> {
        let after = after_name.unwrap_or("");
        self.read_inline(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT name, body FROM config_rules WHERE account=?1 AND region=?2 AND name > ?3 ORDER BY name LIMIT ?4",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![scope.account, scope.region, after, limit as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)
        })
    }

    async fn get_rule(
        &self,
        scope: &Scope,
        selector: &RuleSelector,
    ) -> StoreResult<Option<RuleRecord>> {
        self.read_inline(|c| {
            let (col, val) = match selector {
                RuleSelector::Name(v) => ("name", v),
                RuleSelector::Id(v) => ("rule_id", v),
                RuleSelector::Arn(v) => ("arn", v),
            };
            c.prepare_cached(&format!(
                "SELECT {RULE_COLS} FROM config_rules WHERE account=?1 AND region=?2 AND {col}=?3"
            ))
            .and_then(|mut stmt| {
                stmt.query_row(params![scope.account, scope.region, val], rule_from_row)
                    .optional()
            })
            .map_err(backend)
        })
    }

    async fn list_rules(
        &self,
        scope: &Scope,
        after_name: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<RuleRecord>> {
        let after = after_name.unwrap_or("");
        self.read_inline(|c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {RULE_COLS} FROM config_rules WHERE account=?1 AND region=?2 AND name > ?3 ORDER BY name LIMIT ?4"
                ))
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![scope.account, scope.region, after, limit as i64], rule_from_row)
                .map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)
        })
    }

    async fn insert_rule(
        &self,
        scope: &Scope,
        rule: &RuleRecord,
        tags: &[Tag],
        max_rules: usize,
    ) -> StoreResult<()> {
        let scope = scope.clone();
        let rule = rule.clone();
        let tags = tags.to_vec();
        self.write(move |c| {
            let count: i64 = c
                .prepare_cached("SELECT COUNT(*) FROM config_rules WHERE account=?1 AND region=?2")
                .and_then(|mut s| s.query_row(params![scope.account, scope.region], |r| r.get(0)))
                .map_err(backend)?;
            if rule_exists(c, &scope, &rule.name).map_err(backend)? {
                return Err(StoreError::AlreadyExists);
            }
            if count as usize >= max_rules {
                return Err(StoreError::LimitExceeded(max_rules));
            }
            let body = to_json(&rule.rule)?;
            c.prepare_cached(
                "INSERT INTO config_rules (account, region, name, rule_id, arn, body, created_at) VALUES (?1,?2,?3,?4,?5,?6,?7)",
            )
            .and_then(|mut s| s.execute(params![scope.account, scope.region, rule.name, rule.id, rule.arn, body, crate::time::now()]))
            .map_err(backend)?;
            merge_tags(c, &scope, &rule.arn, &tags)?;
            evaluation_queue::enqueue_rule(c, &scope, &rule.name, crate::store::evaluation_queue::JobOrigin::RulePut, crate::time::now())?;
            Ok(())
        })
        .await
        .inspect(|_| self.queue_signal.notify_one())
    }

    async fn put_rule_by_name(
        &self,
        scope: &Scope,
        rule: &RuleRecord,
        tags: &[Tag],
        max_rules: usize,
    ) -> StoreResult<()> {
        let scope = scope.clone();
        let rule = rule.clone();
        let tags = tags.to_vec();
        self.write(move |c| {
            let existing: Option<(String, String)> = c
                .prepare_cached(
                    "SELECT rule_id, arn FROM config_rules WHERE account=?1 AND region=?2 AND name=?3",
                )
                .and_then(|mut s| {
                    s.query_row(params![scope.account, scope.region, rule.name], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .optional()
                })
                .map_err(backend)?;
            match existing {
                Some((id, arn)) => {
                    let rule = super::with_identity(&rule, id, arn);
                    let body = to_json(&rule.rule)?;
                    c.prepare_cached(
                        "UPDATE config_rules SET body=?4 WHERE account=?1 AND region=?2 AND name=?3",
                    )
                    .and_then(|mut s| {
                        s.execute(params![scope.account, scope.region, rule.name, body])
                    })
                    .map_err(backend)?;
                }
                None => {
                    let count: i64 = c
                        .prepare_cached(
                            "SELECT COUNT(*) FROM config_rules WHERE account=?1 AND region=?2",
                        )
                        .and_then(|mut s| {
                            s.query_row(params![scope.account, scope.region], |r| r.get(0))
                        })
                        .map_err(backend)?;
                    if count as usize >= max_rules {
                        return Err(StoreError::LimitExceeded(max_rules));
                    }
                    let body = to_json(&rule.rule)?;
                    c.prepare_cached(
                        "INSERT INTO config_rules (account, region, name, rule_id, arn, body, created_at) VALUES (?1,?2,?3,?4,?5,?6,?7)",
                    )
                    .and_then(|mut s| {
                        s.execute(params![scope.account, scope.region, rule.name, rule.id, rule.arn, body, crate::time::now()])
                    })
                    .map_err(backend)?;
                    merge_tags(c, &scope, &rule.arn, &tags)?;
                }
            }
            evaluation_queue::enqueue_rule(
                c,
                &scope,
                &rule.name,
                crate::store::evaluation_queue::JobOrigin::RulePut,
                crate::time::now(),
            )?;
            Ok(())
        })
        .await
        .inspect(|_| self.queue_signal.notify_one())
    }

    async fn update_rule(&self, scope: &Scope, rule: &RuleRecord) -> StoreResult<()> {
        let scope = scope.clone();
        let rule = rule.clone();
        self.write(move |c| {
            let body = to_json(&rule.rule)?;
            let n = c
                .prepare_cached(
                    "UPDATE config_rules SET body=?4 WHERE account=?1 AND region=?2 AND name=?3",
                )
                .and_then(|mut s| s.execute(params![scope.account, scope.region, rule.name, body]))
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            evaluation_queue::enqueue_rule(
                c,
                &scope,
                &rule.name,
                crate::store::evaluation_queue::JobOrigin::RulePut,
                crate::time::now(),
            )?;
            Ok(())
        })
        .await
        .inspect(|_| self.queue_signal.notify_one())
    }

    async fn delete_rule(&self, scope: &Scope, name: &str) -> StoreResult<()> {
        let scope = scope.clone();
        let name = name.to_string();
        self.write(move |c| {
            let arn: Option<String> = c
                .query_row(
                    "SELECT arn FROM config_rules WHERE account=?1 AND region=?2 AND name=?3",
                    params![scope.account, scope.region, name],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend)?;
            let Some(arn) = arn else { return Err(StoreError::NotFound) };
            let has_remediation = c
                .query_row(
                    "SELECT 1 FROM remediation_configurations WHERE account=?1 AND region=?2 AND rule_name=?3",
                    params![scope.account, scope.region, name],
                    |_| Ok(()),
                )
                .optional()
                .map_err(backend)?
                .is_some();
            if has_remediation {
                return Err(StoreError::RuleHasRemediationConfiguration);
            }
            let p = params![scope.account, scope.region, name];
            c.execute("DELETE FROM config_rules WHERE account=?1 AND region=?2 AND name=?3", p)
                .map_err(backend)?;
            c.execute("DELETE FROM remediation_exceptions WHERE account=?1 AND region=?2 AND rule_name=?3", p)
                .map_err(backend)?;
            c.execute(
                "DELETE FROM resource_tags WHERE account=?1 AND region=?2 AND arn=?3",
                params![scope.account, scope.region, arn],
            )
            .map_err(backend)?;
            evaluations::delete_rule_state(c, &scope, &name)?;
            evaluation_queue::delete_rule_queue_state(c, &scope, &name)?;
            Ok(())
        })
        .await
    }

    async fn put_remediation_configurations(
        &self,
        scope: &Scope,
        configs: &[RemediationConfigRecord],
    ) -> StoreResult<Vec<bool>> {
        let scope = scope.clone();
        let configs = configs.to_vec();
        self.write(move |c| {
            let mut stored = Vec::with_capacity(configs.len());
            for rc in configs {
                if !rule_exists(c, &scope, &rc.rule_name).map_err(backend)? {
                    stored.push(false);
                    continue;
                }
                // An existing configuration keeps its ARN across updates.
                let existing_arn: Option<String> = c
                    .query_row(
                        "SELECT arn FROM remediation_configurations WHERE account=?1 AND region=?2 AND rule_name=?3",
                        params![scope.account, scope.region, rc.rule_name],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(backend)?;
                let arn = existing_arn.unwrap_or(rc.arn.clone());
                let mut config = rc.config.clone();
                config.arn = Some(arn.clone());
                c.execute(
                    "INSERT INTO remediation_configurations (account, region, rule_name, arn, body) VALUES (?1,?2,?3,?4,?5)
                     ON CONFLICT (account, region, rule_name) DO UPDATE SET body=excluded.body",
                    params![scope.account, scope.region, rc.rule_name, arn, to_json(&config)?],
                )
                .map_err(backend)?;
                stored.push(true);
            }
            Ok(stored)
        })
        .await
    }

    async fn list_automatic_remediation_configurations(
        &self,
    ) -> StoreResult<Vec<(Scope, RemediationConfigRecord)>> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT rule_name, arn, body, account, region FROM remediation_configurations
                     WHERE json_extract(body, '$.Automatic') = 1",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        Scope::new(r.get::<_, String>(3)?, r.get::<_, String>(4)?),
                        remediation_from_row(r)?,
                    ))
                })
                .map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)
        })
        .await
    }

    async fn get_remediation_configurations(
        &self,
        scope: &Scope,
        rule_names: &[String],
    ) -> StoreResult<Vec<RemediationConfigRecord>> {
        let scope = scope.clone();
        let names = rule_names.to_vec();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT rule_name, arn, body FROM remediation_configurations WHERE account=?1 AND region=?2 AND rule_name=?3",
                )
                .map_err(backend)?;
            let mut out = Vec::new();
            for n in names {
                if let Some(r) = stmt
                    .query_row(params![scope.account, scope.region, n], remediation_from_row)
                    .optional()
                    .map_err(backend)?
                {
                    out.push(r);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn delete_remediation_configuration(
        &self,
        scope: &Scope,
        rule_name: &str,
    ) -> StoreResult<()> {
        let scope = scope.clone();
        let name = rule_name.to_string();
        self.write(move |c| {
            if executions::rule_has_active_executions(c, &scope, &name)? {
                return Err(StoreError::RemediationInProgress);
            }
            let n = c
                .execute(
                    "DELETE FROM remediation_configurations WHERE account=?1 AND region=?2 AND rule_name=?3",
                    params![scope.account, scope.region, name],
                )
                .map_err(backend)?;
            if n == 0 {
                Err(StoreError::NotFound)
            } else {
                Ok(())
            }
        })
        .await
    }

    async fn put_remediation_exceptions(
        &self,
        scope: &Scope,
        records: &[RemediationExceptionRecord],
    ) -> StoreResult<()> {
        let scope = scope.clone();
        let records = records.to_vec();
        self.write(move |c| {
            for r in records {
                c.execute(
                    "INSERT INTO remediation_exceptions (account, region, rule_name, resource_type, resource_id, message, expiration_time)
                     VALUES (?1,?2,?3,?4,?5,?6,?7)
                     ON CONFLICT (account, region, rule_name, resource_type, resource_id)
                     DO UPDATE SET message=excluded.message, expiration_time=excluded.expiration_time",
                    params![scope.account, scope.region, r.rule_name, r.resource_type, r.resource_id, r.message, r.expiration_time],
                )
                .map_err(backend)?;
            }
            Ok(())
        })
        .await
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
        let scope = scope.clone();
        let rule = rule_name.to_string();
        let keys = keys.map(|k| k.to_vec());
        let after = after.cloned().unwrap_or(ExceptionKey {
            resource_type: String::new(),
            resource_id: String::new(),
        });
        let started = after.resource_type.is_empty() && after.resource_id.is_empty();
        self.read(move |c| {
            const COLS: &str = "rule_name, resource_type, resource_id, message, expiration_time";
            let live = "(expiration_time IS NULL OR expiration_time > ?4)";
            if let Some(keys) = keys {
                let mut stmt = c
                    .prepare_cached(&format!(
                        "SELECT {COLS} FROM remediation_exceptions WHERE account=?1 AND region=?2 AND rule_name=?3 AND {live}
                         AND resource_type=?5 AND resource_id=?6"
                    ))
                    .map_err(backend)?;
                let mut out = Vec::new();
                for k in keys {
                    if let Some(r) = stmt
                        .query_row(
                            params![scope.account, scope.region, rule, now, k.resource_type, k.resource_id],
                            exception_from_row,
                        )
                        .optional()
                        .map_err(backend)?
                    {
                        out.push(r);
                    }
                }
                return Ok(out);
            }
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {COLS} FROM remediation_exceptions WHERE account=?1 AND region=?2 AND rule_name=?3 AND {live}
                     AND (?7 OR (resource_type, resource_id) > (?5, ?6))
                     ORDER BY resource_type, resource_id LIMIT ?8"
                ))
                .map_err(backend)?;
            let rows = stmt
                .query_map(
                    params![scope.account, scope.region, rule, now, after.resource_type, after.resource_id, started, limit as i64],
                    exception_from_row,
                )
                .map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)
        })
        .await
    }

    async fn delete_remediation_exceptions(
        &self,
        scope: &Scope,
        rule_name: &str,
        keys: &[ExceptionKey],
        now: f64,
    ) -> StoreResult<Vec<bool>> {
        let scope = scope.clone();
        let rule = rule_name.to_string();
        let keys = keys.to_vec();
        self.write(move |c| {
            let mut out = Vec::with_capacity(keys.len());
            for k in keys {
                let n = c
                    .execute(
                        "DELETE FROM remediation_exceptions WHERE account=?1 AND region=?2 AND rule_name=?3
                         AND resource_type=?4 AND resource_id=?5 AND (expiration_time IS NULL OR expiration_time > ?6)",
                        params![scope.account, scope.region, rule, k.resource_type, k.resource_id, now],
                    )
                    .map_err(backend)?;
                out.push(n > 0);
            }
            // Expired exceptions are gone: sweep them while we hold the writer.
            c.execute(
                "DELETE FROM remediation_exceptions WHERE account=?1 AND region=?2 AND expiration_time IS NOT NULL AND expiration_time <= ?3",
                params![scope.account, scope.region, now],
            )
            .map_err(backend)?;
            Ok(out)
        })
        .await
    }

    async fn tag_resource(
        &self,
        scope: &Scope,
        arn: &str,
        tags: &[Tag],
        max_tags: usize,
    ) -> StoreResult<()> {
        let scope = scope.clone();
        let arn = arn.to_string();
        let tags = tags.to_vec();
        self.write(move |c| {
            if !taggable_exists(c, &scope, &arn).map_err(backend)? {
                return Err(StoreError::NotFound);
            }
            merge_tags(c, &scope, &arn, &tags)?;
            let count: i64 = c
                .query_row(
                    "SELECT COUNT(*) FROM resource_tags WHERE account=?1 AND region=?2 AND arn=?3",
                    params![scope.account, scope.region, arn],
                    |r| r.get(0),
                )
                .map_err(backend)?;
            if count as usize > max_tags {
                // The savepoint rolls the merge back.
                return Err(StoreError::LimitExceeded(max_tags));
            }
            Ok(())
        })
        .await
    }

    async fn untag_resource(&self, scope: &Scope, arn: &str, keys: &[String]) -> StoreResult<()> {
        let scope = scope.clone();
        let arn = arn.to_string();
        let keys = keys.to_vec();
        self.write(move |c| {
            if !taggable_exists(c, &scope, &arn).map_err(backend)? {
                return Err(StoreError::NotFound);
            }
            for k in &keys {
                c.execute(
                    "DELETE FROM resource_tags WHERE account=?1 AND region=?2 AND arn=?3 AND key=?4",
                    params![scope.account, scope.region, arn, k],
                )
                .map_err(backend)?;
            }
            Ok(())
        })
        .await
    }

    async fn list_tags(
        &self,
        scope: &Scope,
        arn: &str,
        after_key: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Tag>> {
        let scope = scope.clone();
        let arn = arn.to_string();
        let after = after_key.unwrap_or("").to_string();
        self.read(move |c| {
            if !taggable_exists(c, &scope, &arn).map_err(backend)? {
                return Err(StoreError::NotFound);
            }
            let mut stmt = c
                .prepare_cached(
                    "SELECT key, value FROM resource_tags WHERE account=?1 AND region=?2 AND arn=?3 AND key > ?4 ORDER BY key LIMIT ?5",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![scope.account, scope.region, arn, after, limit as i64], |r| {
                    Ok(Tag { key: r.get(0)?, value: r.get(1)? })
                })
                .map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)
        })
        .await
    }

    async fn release_dead_node_execution_leases(&self) -> StoreResult<usize> {
        // One process owns the file: no other node can have died holding leases.
        Ok(0)
    }

    async fn record_configuration_item(
        &self,
        scope: &Scope,
        item: NewConfigurationItem,
        max_custom_resources: Option<usize>,
    ) -> StoreResult<ConfigurationItem> {
        let scope = scope.clone();
        self.write(move |c| insert_item(c, &scope, item, max_custom_resources))
            .await
            .inspect(|_| self.queue_signal.notify_one())
    }

    async fn record_configuration_item_if_latest(
        &self,
        scope: &Scope,
        item: NewConfigurationItem,
        expected_state_id: Option<i64>,
    ) -> StoreResult<Option<ConfigurationItem>> {
        let scope = scope.clone();
        // The single writer makes the check and the write one step.
        self.write(move |c| {
            let prev = previous_state(c, &scope, &item.resource_type, &item.resource_id)?;
            if prev.as_ref().map(|(id, _)| *id) != expected_state_id {
                return Ok(None);
            }
            insert_after(c, &scope, item, prev, None).map(Some)
        })
        .await
        .inspect(|r| {
            if r.is_some() {
                self.queue_signal.notify_one()
            }
        })
    }

    async fn import_configuration_items(
        &self,
        scope_items: Vec<(Scope, NewConfigurationItem)>,
    ) -> StoreResult<usize> {
        self.write(move |c| {
            let n = scope_items.len();
            for (scope, item) in scope_items {
                insert_item(c, &scope, item, None)?;
            }
            Ok(n)
        })
        .await
        .inspect(|_| self.queue_signal.notify_one())
    }

    async fn latest_configuration_item(
        &self,
        scope: &Scope,
        resource_type: &str,
        resource_id: &str,
    ) -> StoreResult<Option<ConfigurationItem>> {
        self.read_inline(|c| {
            c.prepare_cached("SELECT body FROM resources WHERE account=?1 AND region=?2 AND resource_type=?3 AND resource_id=?4")
                .and_then(|mut s| s.query_row(params![scope.account, scope.region, resource_type, resource_id], item_from_row).optional())
                .map_err(backend)
        })
    }

    async fn configuration_history(
        &self,
        scope: &Scope,
        q: &HistoryQuery,
    ) -> StoreResult<Vec<ConfigurationItem>> {
        let scope = scope.clone();
        let q = q.clone();
        self.read(move |c| {
            let (cmp, order) = if q.forward { (">", "ASC") } else { ("<", "DESC") };
            let sql = format!(
                "SELECT body FROM configuration_items WHERE account=?1 AND region=?2 AND resource_type=?3 AND resource_id=?4
                 AND capture_time >= ?5 AND capture_time <= ?6 AND (?7 IS NULL OR state_id {cmp} ?7)
                 ORDER BY state_id {order} LIMIT ?8"
            );
            let mut stmt = c.prepare_cached(&sql).map_err(backend)?;
            let rows = stmt
                .query_map(
                    params![
                        scope.account,
                        scope.region,
                        q.resource_type,
                        q.resource_id,
                        q.earlier_time.unwrap_or(f64::MIN),
                        q.later_time.unwrap_or(f64::MAX),
                        q.after_state_id,
                        q.limit as i64
                    ],
                    item_from_row,
                )
                .map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)
        })
        .await
    }

    async fn list_discovered_resources(
        &self,
        scope: &Scope,
        q: &DiscoveredQuery,
    ) -> StoreResult<Vec<DiscoveredResource>> {
        let scope = scope.clone();
        let q = q.clone();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT resource_id, resource_name, status, capture_time FROM resources
                     WHERE account=?1 AND region=?2 AND resource_type=?3 AND resource_id > ?4
                       AND (?5 OR status NOT IN (?6, ?8)) AND (?7 IS NULL OR resource_name = ?7)
                     ORDER BY resource_id",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map(
                    params![
                        scope.account,
                        scope.region,
                        q.resource_type,
                        q.after_id.clone().unwrap_or_default(),
                        q.include_deleted,
                        STATUS_DELETED,
                        q.resource_name,
                        STATUS_DELETED_NOT_RECORDED
                    ],
                    |r| {
                        let status: String = r.get(2)?;
                        let capture: f64 = r.get(3)?;
                        Ok(DiscoveredResource {
                            resource_type: q.resource_type.clone(),
                            resource_id: r.get(0)?,
                            resource_name: r.get(1)?,
                            deletion_time: is_deleted_status(&status).then_some(capture),
                        })
                    },
                )
                .map_err(backend)?;
            let mut out = Vec::new();
            for row in rows {
                let row = row.map_err(backend)?;
                if !q.resource_ids.is_empty() && !q.resource_ids.contains(&row.resource_id) {
                    continue;
                }
                out.push(row);
                if out.len() >= q.limit {
                    break;
                }
            }
            Ok(out)
        })
        .await
    }
}
