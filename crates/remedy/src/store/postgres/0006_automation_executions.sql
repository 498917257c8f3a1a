-- remedy schema v6: SSM automation executions share the remediation execution table
-- (PostgreSQL dialect of sqlite/0006_automation_executions.sql).
ALTER TABLE remediation_executions ADD COLUMN kind TEXT COLLATE "C" NOT NULL DEFAULT 'remediation';
ALTER TABLE remediation_executions ADD COLUMN mode TEXT COLLATE "C" NOT NULL DEFAULT 'Auto';
ALTER TABLE remediation_executions ADD COLUMN executed_by TEXT COLLATE "C";
ALTER TABLE remediation_executions ADD COLUMN client_token TEXT COLLATE "C";
ALTER TABLE remediation_executions ADD COLUMN request_hash TEXT COLLATE "C";
ALTER TABLE remediation_executions ADD COLUMN tags TEXT COLLATE "C";
ALTER TABLE remediation_executions ADD COLUMN parent_id TEXT COLLATE "C";
ALTER TABLE remediation_executions ADD COLUMN cancel_requested BOOLEAN NOT NULL DEFAULT FALSE;

DROP INDEX remediation_executions_in_flight;
CREATE UNIQUE INDEX remediation_executions_in_flight
    ON remediation_executions (account, region, rule_name, resource_type, resource_id)
    WHERE state IN ('QUEUED', 'IN_PROGRESS') AND kind = 'remediation';
CREATE UNIQUE INDEX remediation_executions_client_token
    ON remediation_executions (account, region, client_token) WHERE client_token IS NOT NULL;
CREATE INDEX remediation_executions_scope ON remediation_executions (account, region, seq);
CREATE INDEX remediation_executions_cancel ON remediation_executions (seq)
    WHERE cancel_requested AND state IN ('QUEUED', 'IN_PROGRESS');
CREATE INDEX remediation_executions_active ON remediation_executions (account, region)
    WHERE state IN ('QUEUED', 'IN_PROGRESS');
