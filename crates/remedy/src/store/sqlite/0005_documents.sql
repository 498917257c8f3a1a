-- remedy schema v5: SSM documents (users' own runbooks), per account and region.

-- One row per document. `default_version` and `latest_version` name rows of document_versions;
-- `next_version` only grows, so a deleted version's number is never given to other content (an
-- execution that recorded version N keeps meaning the content it started with).
CREATE TABLE documents (
    account         TEXT NOT NULL,
    region          TEXT NOT NULL,
    name            TEXT NOT NULL,
    document_type   TEXT NOT NULL,
    default_version INTEGER NOT NULL,
    latest_version  INTEGER NOT NULL,
    next_version    INTEGER NOT NULL,
    tags            TEXT NOT NULL,          -- JSON [[key, value], ...] in creation order
    created         REAL NOT NULL,
    PRIMARY KEY (account, region, name)
);

-- Immutable versions: a row is inserted once and only ever deleted.
CREATE TABLE document_versions (
    account      TEXT NOT NULL,
    region       TEXT NOT NULL,
    name         TEXT NOT NULL,
    version      INTEGER NOT NULL,
    version_name TEXT,
    display_name TEXT,
    target_type  TEXT,
    format       TEXT NOT NULL,             -- YAML | JSON, as created
    content      TEXT NOT NULL,
    hash         TEXT NOT NULL,             -- SHA-256 of content, hex
    created      REAL NOT NULL,
    PRIMARY KEY (account, region, name, version),
    FOREIGN KEY (account, region, name) REFERENCES documents (account, region, name) ON DELETE CASCADE
);
CREATE UNIQUE INDEX document_version_names ON document_versions (account, region, name, version_name)
    WHERE version_name IS NOT NULL;
