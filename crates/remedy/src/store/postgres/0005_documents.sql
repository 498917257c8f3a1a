-- remedy schema v5: SSM documents (PostgreSQL dialect of sqlite/0005_documents.sql).

CREATE TABLE documents (
    account         TEXT COLLATE "C" NOT NULL,
    region          TEXT COLLATE "C" NOT NULL,
    name            TEXT COLLATE "C" NOT NULL,
    document_type   TEXT COLLATE "C" NOT NULL,
    default_version BIGINT NOT NULL,
    latest_version  BIGINT NOT NULL,
    next_version    BIGINT NOT NULL,
    tags            TEXT COLLATE "C" NOT NULL,          -- JSON [[key, value], ...] in creation order
    created         DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (account, region, name)
);

CREATE TABLE document_versions (
    account      TEXT COLLATE "C" NOT NULL,
    region       TEXT COLLATE "C" NOT NULL,
    name         TEXT COLLATE "C" NOT NULL,
    version      BIGINT NOT NULL,
    version_name TEXT COLLATE "C",
    display_name TEXT COLLATE "C",
    target_type  TEXT COLLATE "C",
    format       TEXT COLLATE "C" NOT NULL,
    content      TEXT COLLATE "C" NOT NULL,
    hash         TEXT COLLATE "C" NOT NULL,
    created      DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (account, region, name, version),
    FOREIGN KEY (account, region, name) REFERENCES documents (account, region, name) ON DELETE CASCADE
);
CREATE UNIQUE INDEX document_version_names ON document_versions (account, region, name, version_name)
    WHERE version_name IS NOT NULL;
