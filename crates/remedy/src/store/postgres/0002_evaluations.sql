-- remedy schema v2: rule evaluation (PostgreSQL dialect of sqlite/0002_evaluations.sql).

-- The latest evaluation result of each (rule, resource).
CREATE TABLE evaluation_results (
    account                  TEXT COLLATE "C" NOT NULL,
    region                   TEXT COLLATE "C" NOT NULL,
    rule_name                TEXT COLLATE "C" NOT NULL,
    resource_type            TEXT COLLATE "C" NOT NULL,
    resource_id              TEXT COLLATE "C" NOT NULL,
    compliance_type          TEXT COLLATE "C" NOT NULL,   -- COMPLIANT | NON_COMPLIANT | NOT_APPLICABLE
    annotation               TEXT COLLATE "C",
    ordering_timestamp       DOUBLE PRECISION NOT NULL,
    result_recorded_time     DOUBLE PRECISION NOT NULL,
    config_rule_invoked_time DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (account, region, rule_name, resource_type, resource_id)
);
CREATE INDEX evaluation_results_rule_compliance
    ON evaluation_results (account, region, rule_name, compliance_type);
CREATE INDEX evaluation_results_resource
    ON evaluation_results (account, region, resource_type, resource_id, rule_name);

-- DescribeConfigRuleEvaluationStatus, and the last on-demand request (StartConfigRulesEvaluation's
-- once-per-interval limit).
CREATE TABLE rule_evaluation_status (
    account                          TEXT COLLATE "C" NOT NULL,
    region                           TEXT COLLATE "C" NOT NULL,
    rule_name                        TEXT COLLATE "C" NOT NULL,
    last_successful_invocation_time  DOUBLE PRECISION,
    last_failed_invocation_time      DOUBLE PRECISION,
    last_successful_evaluation_time  DOUBLE PRECISION,
    last_failed_evaluation_time      DOUBLE PRECISION,
    last_error_code                  TEXT COLLATE "C",
    last_error_message               TEXT COLLATE "C",
    first_evaluation_started         BOOLEAN NOT NULL DEFAULT FALSE,
    last_requested_time              DOUBLE PRECISION,
    PRIMARY KEY (account, region, rule_name)
);

-- Server-wide secrets shared by every node on this database (e.g. the result-token HMAC key).
CREATE TABLE server_secrets (
    name  TEXT COLLATE "C" PRIMARY KEY,
    value BYTEA NOT NULL
);
