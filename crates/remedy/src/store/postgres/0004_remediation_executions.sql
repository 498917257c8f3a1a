-- remedy schema v4: remediation executions and the failure history of automatic runs
-- (PostgreSQL dialect of sqlite/0004_remediation_executions.sql).

CREATE TABLE remediation_executions (
    seq              BIGSERIAL PRIMARY KEY,             -- insertion order: the latest per key wins
    id               TEXT COLLATE "C" NOT NULL UNIQUE,
    account          TEXT COLLATE "C" NOT NULL,
    region           TEXT COLLATE "C" NOT NULL,
    rule_name        TEXT COLLATE "C" NOT NULL,
    resource_type    TEXT COLLATE "C" NOT NULL,
    resource_id      TEXT COLLATE "C" NOT NULL,
    state            TEXT COLLATE "C" NOT NULL,                     -- QUEUED | IN_PROGRESS | SUCCEEDED | FAILED
    document_name    TEXT COLLATE "C" NOT NULL,
    document_version TEXT COLLATE "C",
    parameters       TEXT COLLATE "C" NOT NULL,
    execution_state  TEXT COLLATE "C" NOT NULL,
    automatic        BOOLEAN NOT NULL,
    concurrency_pct  BIGINT NOT NULL,
    error_pct        BIGINT NOT NULL,
    batch_id         TEXT COLLATE "C" NOT NULL,
    invocation_time  DOUBLE PRECISION NOT NULL,
    last_updated     DOUBLE PRECISION NOT NULL,
    lease_owner      TEXT COLLATE "C",
    lease_expires    DOUBLE PRECISION,
    fence            BIGINT NOT NULL DEFAULT 0,
    wake_at          DOUBLE PRECISION NOT NULL,
    lease_node       TEXT COLLATE "C"                   -- the claiming node (PostgreSQL only: see postgres.rs)
);
-- Exactly one in-flight execution per resource key, on one node or on ten.
CREATE UNIQUE INDEX remediation_executions_in_flight
    ON remediation_executions (account, region, rule_name, resource_type, resource_id)
    WHERE state IN ('QUEUED', 'IN_PROGRESS');
CREATE INDEX remediation_executions_key
    ON remediation_executions (account, region, rule_name, resource_type, resource_id, seq);
CREATE INDEX remediation_executions_due
    ON remediation_executions (wake_at) WHERE state IN ('QUEUED', 'IN_PROGRESS');
CREATE INDEX remediation_executions_batch ON remediation_executions (batch_id, state);

CREATE TABLE remediation_failures (
    account       TEXT COLLATE "C" NOT NULL,
    region        TEXT COLLATE "C" NOT NULL,
    rule_name     TEXT COLLATE "C" NOT NULL,
    resource_type TEXT COLLATE "C" NOT NULL,
    resource_id   TEXT COLLATE "C" NOT NULL,
    failed_at     DOUBLE PRECISION NOT NULL
);
CREATE INDEX remediation_failures_key
    ON remediation_failures (account, region, rule_name, resource_type, resource_id, failed_at);
