-- remedy schema v3: the durable evaluation queue (a transactional outbox) and periodic schedules.

-- Evaluation work. Rows are written in the same transaction as the change that calls for them
-- (a recorded configuration item, a new or updated rule, StartConfigRulesEvaluation, a periodic
-- timer), so a crash loses no evaluation. The engine claims rows (claimed_at), evaluates, and
-- deletes them. Empty strings stand for "not applicable to this kind".
CREATE TABLE evaluation_queue (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    account       TEXT NOT NULL,
    region        TEXT NOT NULL,
    kind          TEXT NOT NULL,               -- 'resource' | 'rule'
    origin        TEXT NOT NULL,               -- 'change' | 'rule_put' | 'on_demand' | 'periodic'
    rule_name     TEXT NOT NULL DEFAULT '',    -- rule jobs
    resource_type TEXT NOT NULL DEFAULT '',    -- resource jobs
    resource_id   TEXT NOT NULL DEFAULT '',    -- resource jobs
    enqueued_at   REAL NOT NULL,
    claimed_at    REAL                         -- NULL while pending
);
-- At most one *pending* job per target: a resource changed twice before the engine ran is
-- evaluated once (on its latest item). A claimed (running) job does not block a new pending one.
CREATE UNIQUE INDEX evaluation_queue_pending
    ON evaluation_queue (account, region, kind, rule_name, resource_type, resource_id)
    WHERE claimed_at IS NULL;
CREATE INDEX evaluation_queue_claim ON evaluation_queue (claimed_at, id);
CREATE INDEX evaluation_queue_rule ON evaluation_queue (account, region, rule_name, kind);

-- Periodic rules: when each runs next. Written by the engine after a rule-wide evaluation of a
-- periodic rule; the timer enqueues due rules and advances next_at in one transaction, so each
-- period fires exactly once, across restarts.
CREATE TABLE rule_schedules (
    account        TEXT NOT NULL,
    region         TEXT NOT NULL,
    rule_name      TEXT NOT NULL,
    period_seconds REAL NOT NULL,
    next_at        REAL NOT NULL,
    PRIMARY KEY (account, region, rule_name)
);
CREATE INDEX rule_schedules_due ON rule_schedules (next_at);
