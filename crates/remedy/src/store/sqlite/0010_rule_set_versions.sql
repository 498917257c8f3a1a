-- A counter per (account, region) that every change to the scope's rules moves on: the evaluation
-- engine keeps each scope's decoded rules while it stands still (`Store::rule_set_version`).
-- Triggers keep it, so no write path (the API, a rule's state, `remedy import` in another
-- process) can forget to. SQLite has one writer at a time, so the shared row costs no contention.
CREATE TABLE rule_set_versions (
    account TEXT NOT NULL,
    region  TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (account, region)
);

CREATE TRIGGER config_rules_inserted AFTER INSERT ON config_rules BEGIN
    INSERT INTO rule_set_versions (account, region, version) VALUES (NEW.account, NEW.region, 1)
    ON CONFLICT (account, region) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER config_rules_updated AFTER UPDATE ON config_rules BEGIN
    INSERT INTO rule_set_versions (account, region, version) VALUES (NEW.account, NEW.region, 1)
    ON CONFLICT (account, region) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER config_rules_deleted AFTER DELETE ON config_rules BEGIN
    INSERT INTO rule_set_versions (account, region, version) VALUES (OLD.account, OLD.region, 1)
    ON CONFLICT (account, region) DO UPDATE SET version = version + 1;
END;
