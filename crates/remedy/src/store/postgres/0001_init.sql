-- remedy schema v1 (PostgreSQL dialect of sqlite/0001_init.sql).
-- Text columns use the "C" collation: keys sort and page by byte, as on SQLite and AWS, whatever
-- the database's default collation is. Every table is scoped by
-- (account, region), the identity of the SigV4 credential. JSON bodies are stored as TEXT, as
-- serialized, and cast to jsonb only where a query looks inside them.

CREATE TABLE config_rules (
    account    TEXT COLLATE "C" NOT NULL,
    region     TEXT COLLATE "C" NOT NULL,
    name       TEXT COLLATE "C" NOT NULL,
    rule_id    TEXT COLLATE "C" NOT NULL,
    arn        TEXT COLLATE "C" NOT NULL,
    body       TEXT COLLATE "C" NOT NULL,          -- the ConfigRule wire shape, JSON
    created_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (account, region, name)
);
CREATE UNIQUE INDEX config_rules_id ON config_rules (account, region, rule_id);
CREATE UNIQUE INDEX config_rules_arn ON config_rules (account, region, arn);

CREATE TABLE resource_tags (
    account TEXT COLLATE "C" NOT NULL,
    region  TEXT COLLATE "C" NOT NULL,
    arn     TEXT COLLATE "C" NOT NULL,
    key     TEXT COLLATE "C" NOT NULL,
    value   TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (account, region, arn, key)
);

CREATE TABLE remediation_configurations (
    account   TEXT COLLATE "C" NOT NULL,
    region    TEXT COLLATE "C" NOT NULL,
    rule_name TEXT COLLATE "C" NOT NULL,
    arn       TEXT COLLATE "C" NOT NULL,
    body      TEXT COLLATE "C" NOT NULL,           -- the RemediationConfiguration wire shape, JSON
    PRIMARY KEY (account, region, rule_name)
);

CREATE TABLE remediation_exceptions (
    account         TEXT COLLATE "C" NOT NULL,
    region          TEXT COLLATE "C" NOT NULL,
    rule_name       TEXT COLLATE "C" NOT NULL,
    resource_type   TEXT COLLATE "C" NOT NULL,
    resource_id     TEXT COLLATE "C" NOT NULL,
    message         TEXT COLLATE "C",
    expiration_time DOUBLE PRECISION,
    PRIMARY KEY (account, region, rule_name, resource_type, resource_id)
);

-- Every configuration item ever recorded (the history).
CREATE TABLE configuration_items (
    account       TEXT COLLATE "C" NOT NULL,
    region        TEXT COLLATE "C" NOT NULL,
    resource_type TEXT COLLATE "C" NOT NULL,
    resource_id   TEXT COLLATE "C" NOT NULL,
    state_id      BIGINT NOT NULL,
    capture_time  DOUBLE PRECISION NOT NULL,
    body          TEXT COLLATE "C" NOT NULL,       -- domain ConfigurationItem, JSON
    PRIMARY KEY (account, region, resource_type, resource_id, state_id)
);

-- The latest item of each resource.
CREATE TABLE resources (
    account       TEXT COLLATE "C" NOT NULL,
    region        TEXT COLLATE "C" NOT NULL,
    resource_type TEXT COLLATE "C" NOT NULL,
    resource_id   TEXT COLLATE "C" NOT NULL,
    resource_name TEXT COLLATE "C",
    state_id      BIGINT NOT NULL,
    status        TEXT COLLATE "C" NOT NULL,
    capture_time  DOUBLE PRECISION NOT NULL,
    body          TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (account, region, resource_type, resource_id)
);
