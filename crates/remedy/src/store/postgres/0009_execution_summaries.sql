-- remedy schema v9: execution summaries beside the interpreter state, and fewer indexes to write (PostgreSQL dialect of
-- sqlite/0009_execution_summaries.sql).
--
-- DescribeRemediationExecutionStatus shows each execution's steps (name, state, times, message)
-- and why it failed; decoding the whole serialized interpreter state (parameters, every step's
-- inputs and outputs) for that was a quarter of the call (issue 7). Every write of a state now
-- also writes this summary (`store::executions::ExecutionSummary`, JSON). NULL — rows written
-- before this migration, and queued executions, which have run no step — means "read the state":
-- the summary's fields are the state's own, so the same decoder reads either.
ALTER TABLE remediation_executions ADD COLUMN status_summary TEXT COLLATE "C";

-- Two indexes later ones made redundant, each one more b-tree write for every queued execution
-- and every state change: due executions by wake-up time (the claim reads
-- remediation_executions_due_state, migration 0007), and a scope's unfinished executions
-- (StartAutomationExecution's quota reads the (account, region) prefix of
-- remediation_executions_rule_state, migration 0007, which covers the same rows).
DROP INDEX remediation_executions_due;
DROP INDEX remediation_executions_active;
