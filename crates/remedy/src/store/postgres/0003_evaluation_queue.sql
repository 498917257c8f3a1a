-- remedy schema v3: the durable evaluation queue (a transactional outbox) and periodic schedules
-- (PostgreSQL dialect of sqlite/0003_evaluation_queue.sql). Nodes claim jobs with
-- FOR UPDATE SKIP LOCKED; a claim older than the engine's staleness horizon is taken again.

CREATE TABLE evaluation_queue (
    id            BIGSERIAL PRIMARY KEY,
    account       TEXT COLLATE "C" NOT NULL,
    region        TEXT COLLATE "C" NOT NULL,
    kind          TEXT COLLATE "C" NOT NULL,               -- 'resource' | 'rule'
    origin        TEXT COLLATE "C" NOT NULL,               -- 'change' | 'rule_put' | 'on_demand' | 'periodic'
    rule_name     TEXT COLLATE "C" NOT NULL DEFAULT '',
    resource_type TEXT COLLATE "C" NOT NULL DEFAULT '',
    resource_id   TEXT COLLATE "C" NOT NULL DEFAULT '',
    enqueued_at   DOUBLE PRECISION NOT NULL,
    claimed_at    DOUBLE PRECISION,            -- NULL while pending
    claimed_by    TEXT COLLATE "C"             -- the claiming node (PostgreSQL only: see postgres.rs)
);
-- At most one *pending* job per target.
CREATE UNIQUE INDEX evaluation_queue_pending
    ON evaluation_queue (account, region, kind, rule_name, resource_type, resource_id)
    WHERE claimed_at IS NULL;
CREATE INDEX evaluation_queue_claim ON evaluation_queue (claimed_at, id);
CREATE INDEX evaluation_queue_rule ON evaluation_queue (account, region, rule_name, kind);

-- Periodic rules: when each runs next. The timer takes due rows FOR UPDATE SKIP LOCKED, enqueues
-- and advances next_at in one transaction, so each period fires once across every node.
CREATE TABLE rule_schedules (
    account        TEXT COLLATE "C" NOT NULL,
    region         TEXT COLLATE "C" NOT NULL,
    rule_name      TEXT COLLATE "C" NOT NULL,
    period_seconds DOUBLE PRECISION NOT NULL,
    next_at        DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (account, region, rule_name)
);
CREATE INDEX rule_schedules_due ON rule_schedules (next_at);
