-- remedy schema v4: remediation executions (the durable Automation runtime) and the failure
-- history of automatic runs.

-- One row per execution (an SSM AutomationExecutionId). The engine claims due rows under a lease
-- (lease_owner, lease_expires), bumping `fence` at every claim; each step's commit names the fence
-- it claimed with, so a stale worker's write is refused. `execution_state` is the serialized
-- interpreter state, committed after every step; `wake_at` is when a waiting (sleeping,
-- polling) or backed-off execution is due again.
CREATE TABLE remediation_executions (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,  -- insertion order: the latest per key wins
    id               TEXT NOT NULL UNIQUE,
    account          TEXT NOT NULL,
    region           TEXT NOT NULL,
    rule_name        TEXT NOT NULL,
    resource_type    TEXT NOT NULL,
    resource_id      TEXT NOT NULL,
    state            TEXT NOT NULL,                     -- QUEUED | IN_PROGRESS | SUCCEEDED | FAILED
    document_name    TEXT NOT NULL,
    document_version TEXT,
    parameters       TEXT NOT NULL,                     -- resolved parameters, JSON
    execution_state  TEXT NOT NULL,                     -- remedy_automation::ExecutionState, JSON
    automatic        INTEGER NOT NULL,
    concurrency_pct  INTEGER NOT NULL,
    error_pct        INTEGER NOT NULL,
    batch_id         TEXT NOT NULL,
    invocation_time  REAL NOT NULL,
    last_updated     REAL NOT NULL,
    lease_owner      TEXT,
    lease_expires    REAL,
    fence            INTEGER NOT NULL DEFAULT 0,
    wake_at          REAL NOT NULL
);
-- Exactly one in-flight execution per resource key: racing starts cannot both start a key.
CREATE UNIQUE INDEX remediation_executions_in_flight
    ON remediation_executions (account, region, rule_name, resource_type, resource_id)
    WHERE state IN ('QUEUED', 'IN_PROGRESS');
CREATE INDEX remediation_executions_key
    ON remediation_executions (account, region, rule_name, resource_type, resource_id, seq);
CREATE INDEX remediation_executions_due
    ON remediation_executions (wake_at) WHERE state IN ('QUEUED', 'IN_PROGRESS');
CREATE INDEX remediation_executions_batch ON remediation_executions (batch_id, state);

-- Failed automatic runs per key, inside the configuration's RetryAttemptSeconds window.
CREATE TABLE remediation_failures (
    account       TEXT NOT NULL,
    region        TEXT NOT NULL,
    rule_name     TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    failed_at     REAL NOT NULL
);
CREATE INDEX remediation_failures_key
    ON remediation_failures (account, region, rule_name, resource_type, resource_id, failed_at);
