-- remedy schema v1. Every table is scoped by (account, region), the identity of the SigV4 credential.

CREATE TABLE config_rules (
    account    TEXT NOT NULL,
    region     TEXT NOT NULL,
    name       TEXT NOT NULL,
    rule_id    TEXT NOT NULL,
    arn        TEXT NOT NULL,
    body       TEXT NOT NULL,          -- the ConfigRule wire shape, JSON
    created_at REAL NOT NULL,
    PRIMARY KEY (account, region, name)
);
CREATE UNIQUE INDEX config_rules_id ON config_rules (account, region, rule_id);
CREATE UNIQUE INDEX config_rules_arn ON config_rules (account, region, arn);

CREATE TABLE resource_tags (
    account TEXT NOT NULL,
    region  TEXT NOT NULL,
    arn     TEXT NOT NULL,
    key     TEXT NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (account, region, arn, key)
);

CREATE TABLE remediation_configurations (
    account   TEXT NOT NULL,
    region    TEXT NOT NULL,
    rule_name TEXT NOT NULL,
    arn       TEXT NOT NULL,
    body      TEXT NOT NULL,           -- the RemediationConfiguration wire shape, JSON
    PRIMARY KEY (account, region, rule_name)
);

CREATE TABLE remediation_exceptions (
    account         TEXT NOT NULL,
    region          TEXT NOT NULL,
    rule_name       TEXT NOT NULL,
    resource_type   TEXT NOT NULL,
    resource_id     TEXT NOT NULL,
    message         TEXT,
    expiration_time REAL,
    PRIMARY KEY (account, region, rule_name, resource_type, resource_id)
);

-- Every configuration item ever recorded (the history).
CREATE TABLE configuration_items (
    account       TEXT NOT NULL,
    region        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    state_id      INTEGER NOT NULL,
    capture_time  REAL NOT NULL,
    body          TEXT NOT NULL,       -- domain ConfigurationItem, JSON
    PRIMARY KEY (account, region, resource_type, resource_id, state_id)
);

-- The latest item of each resource.
CREATE TABLE resources (
    account       TEXT NOT NULL,
    region        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    resource_name TEXT,
    state_id      INTEGER NOT NULL,
    status        TEXT NOT NULL,
    capture_time  REAL NOT NULL,
    body          TEXT NOT NULL,
    PRIMARY KEY (account, region, resource_type, resource_id)
);
