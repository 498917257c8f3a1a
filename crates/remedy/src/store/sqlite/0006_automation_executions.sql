-- remedy schema v6: SSM automation executions share the remediation execution table.
--
-- A remediation execution IS an automation execution: one row, one engine. Executions started
-- directly by StartAutomationExecution have no rule or resource key (kind 'automation', empty
-- rule_name / resource_type / resource_id), so the one-in-flight-per-key index covers
-- remediation rows only. The columns below hold what the SSM API returns and needs.
ALTER TABLE remediation_executions ADD COLUMN kind TEXT NOT NULL DEFAULT 'remediation'; -- remediation | automation
ALTER TABLE remediation_executions ADD COLUMN mode TEXT NOT NULL DEFAULT 'Auto';         -- ExecutionMode
ALTER TABLE remediation_executions ADD COLUMN executed_by TEXT;                           -- caller ARN (direct starts)
ALTER TABLE remediation_executions ADD COLUMN client_token TEXT;                          -- lower-cased ClientToken
ALTER TABLE remediation_executions ADD COLUMN request_hash TEXT;                          -- what the token was first used for
ALTER TABLE remediation_executions ADD COLUMN tags TEXT;                                  -- JSON [[key, value], ...]
ALTER TABLE remediation_executions ADD COLUMN parent_id TEXT;                             -- ParentAutomationExecutionId
-- StopAutomationExecution on an execution a worker holds: the worker's next fenced commit (or
-- the next claim, if the worker died) ends it Cancelled. Status Cancelling until then.
ALTER TABLE remediation_executions ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;

DROP INDEX remediation_executions_in_flight;
CREATE UNIQUE INDEX remediation_executions_in_flight
    ON remediation_executions (account, region, rule_name, resource_type, resource_id)
    WHERE state IN ('QUEUED', 'IN_PROGRESS') AND kind = 'remediation';
-- ClientToken idempotency: a token names one execution per account and region.
CREATE UNIQUE INDEX remediation_executions_client_token
    ON remediation_executions (account, region, client_token) WHERE client_token IS NOT NULL;
-- DescribeAutomationExecutions: an account and region's executions, newest first.
CREATE INDEX remediation_executions_scope ON remediation_executions (account, region, seq);
-- Stops requested while a worker held the execution, for the claim to finish off.
CREATE INDEX remediation_executions_cancel ON remediation_executions (seq)
    WHERE cancel_requested = 1 AND state IN ('QUEUED', 'IN_PROGRESS');
-- StartAutomationExecution's quota: an account and Region's unfinished executions.
CREATE INDEX remediation_executions_active ON remediation_executions (account, region)
    WHERE state IN ('QUEUED', 'IN_PROGRESS');
