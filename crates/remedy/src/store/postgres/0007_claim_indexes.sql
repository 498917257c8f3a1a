-- remedy schema v7: the engine's claim without scans (PostgreSQL dialect of sqlite/0007_claim_indexes.sql).
--
-- A rule's unfinished executions by state: the claim counts the rule's IN_PROGRESS executions and
-- checks whether its unfinished ones exceed a threshold, both index-only over short ranges.
CREATE INDEX remediation_executions_rule_state
    ON remediation_executions (account, region, rule_name, state)
    WHERE state IN ('QUEUED', 'IN_PROGRESS');
-- Due executions by state, oldest first: the claim reads IN_PROGRESS ones, then QUEUED ones, each
-- in index order, instead of sorting every due execution.
CREATE INDEX remediation_executions_due_state
    ON remediation_executions (state, wake_at, seq)
    WHERE state IN ('QUEUED', 'IN_PROGRESS');
