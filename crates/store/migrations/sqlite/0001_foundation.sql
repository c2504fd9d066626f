-- Foundation: accounts, sessions, API tokens, subject registry with versions, imports,
-- the hash-chained audit log and administrator-loaded calendar years.
-- Conventions (both backends): integers BIGINT, dates 'YYYY-MM-DD' TEXT, timestamps RFC 3339
-- UTC TEXT, booleans 0/1, JSON as TEXT. Nothing is deleted: history tables are append-only.

CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    username        TEXT NOT NULL UNIQUE,
    display_name    TEXT NOT NULL,
    role            TEXT NOT NULL,
    department      TEXT,
    subject_code    TEXT,
    password_hash   TEXT NOT NULL,
    active          INTEGER NOT NULL DEFAULT 1,
    failed_logins   INTEGER NOT NULL DEFAULT 0,
    locked_until    TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

CREATE TABLE sessions (
    token_hash      TEXT PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users(id),
    csrf_token      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE api_tokens (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users(id),
    name            TEXT NOT NULL,
    prefix          TEXT NOT NULL,
    token_hash      TEXT NOT NULL UNIQUE,
    created_at      TEXT NOT NULL,
    revoked_at      TEXT,
    last_used_at    TEXT
);

CREATE TABLE subjects (
    id              INTEGER PRIMARY KEY,
    code            TEXT NOT NULL UNIQUE,
    code_flag       TEXT,
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL,
    entity_type     TEXT,
    legal_rep       TEXT,
    legal_rep_id    TEXT,
    address         TEXT,
    division_code   TEXT,
    business_scope  TEXT,
    established_on  TEXT,
    reg_status      TEXT NOT NULL,
    reg_authority   TEXT,
    industry        TEXT,
    version         INTEGER NOT NULL,
    content_hash    TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

CREATE TABLE subject_versions (
    subject_id      INTEGER NOT NULL REFERENCES subjects(id),
    version         INTEGER NOT NULL,
    data            TEXT NOT NULL,
    content_hash    TEXT NOT NULL,
    source          TEXT NOT NULL,
    actor           TEXT NOT NULL,
    reason          TEXT,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (subject_id, version)
);

CREATE TABLE imports (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,
    file_name       TEXT NOT NULL,
    file_sha256     TEXT NOT NULL,
    allow_flagged   INTEGER NOT NULL DEFAULT 0,
    status          TEXT NOT NULL,
    total_rows      INTEGER,
    processed_rows  INTEGER NOT NULL DEFAULT 0,
    imported        INTEGER NOT NULL DEFAULT 0,
    updated         INTEGER NOT NULL DEFAULT 0,
    unchanged       INTEGER NOT NULL DEFAULT 0,
    rejected        INTEGER NOT NULL DEFAULT 0,
    message         TEXT,
    started_by      TEXT NOT NULL,
    started_at      TEXT NOT NULL,
    finished_at     TEXT,
    -- the process running the job (host:pid:start-time) and its last sign of life
    owner           TEXT,
    heartbeat_at    TEXT,
    -- how far through the file the job is (CSV: bytes read), for the progress bar
    bytes_read      INTEGER NOT NULL DEFAULT 0,
    file_size       INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE import_errors (
    import_id       INTEGER NOT NULL REFERENCES imports(id),
    row_no          INTEGER NOT NULL,
    column_name     TEXT NOT NULL,
    value           TEXT NOT NULL,
    reason          TEXT NOT NULL
);
CREATE INDEX import_errors_import ON import_errors(import_id, row_no);

CREATE TABLE audit_log (
    seq             INTEGER PRIMARY KEY,
    at              TEXT NOT NULL,
    actor           TEXT NOT NULL,
    role            TEXT NOT NULL,
    action          TEXT NOT NULL,
    target          TEXT NOT NULL,
    detail          TEXT NOT NULL,
    prev_hash       TEXT NOT NULL,
    hash            TEXT NOT NULL
);

CREATE TABLE calendar_years (
    year            INTEGER PRIMARY KEY,
    data            TEXT NOT NULL,
    loaded_by       TEXT NOT NULL,
    loaded_at       TEXT NOT NULL
);

-- The chain head: the last entry's sequence number and hash, updated in the same transaction
-- as each append, so that removing entries at the end of the log is also detected.
CREATE TABLE audit_head (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    seq             INTEGER NOT NULL,
    hash            TEXT NOT NULL
);
