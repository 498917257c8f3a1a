-- remedy schema v2: rule evaluation. Scoped by (account, region) like every other table.

-- The latest evaluation result of each (rule, resource).
CREATE TABLE evaluation_results (
    account                  TEXT NOT NULL,
    region                   TEXT NOT NULL,
    rule_name                TEXT NOT NULL,
    resource_type            TEXT NOT NULL,
    resource_id              TEXT NOT NULL,
    compliance_type          TEXT NOT NULL,   -- COMPLIANT | NON_COMPLIANT | NOT_APPLICABLE
    annotation               TEXT,
    ordering_timestamp       REAL NOT NULL,
    result_recorded_time     REAL NOT NULL,
    config_rule_invoked_time REAL NOT NULL,
    PRIMARY KEY (account, region, rule_name, resource_type, resource_id)
);
-- Roll-ups per rule count by compliance type.
CREATE INDEX evaluation_results_rule_compliance
    ON evaluation_results (account, region, rule_name, compliance_type);
-- Per-resource reads and roll-ups.
CREATE INDEX evaluation_results_resource
    ON evaluation_results (account, region, resource_type, resource_id, rule_name);

-- What remedy knows about each rule's evaluations (DescribeConfigRuleEvaluationStatus) and the
-- last on-demand request (StartConfigRulesEvaluation's once-per-interval limit).
CREATE TABLE rule_evaluation_status (
    account                          TEXT NOT NULL,
    region                           TEXT NOT NULL,
    rule_name                        TEXT NOT NULL,
    last_successful_invocation_time  REAL,
    last_failed_invocation_time      REAL,
    last_successful_evaluation_time  REAL,
    last_failed_evaluation_time      REAL,
    last_error_code                  TEXT,
    last_error_message               TEXT,
    first_evaluation_started         INTEGER NOT NULL DEFAULT 0,
    last_requested_time              REAL,
    PRIMARY KEY (account, region, rule_name)
);

-- Server-wide secrets shared by every node on this database (e.g. the result-token HMAC key).
CREATE TABLE server_secrets (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
