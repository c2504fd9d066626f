-- Credit information: the catalog of record kinds, the penalty-category mapping, versioned
-- credit records, list entries, and the name search index. Defaults of the catalog and the
-- mapping are written by the migration step in migrate.rs from xinjian_core::credit.

CREATE TABLE catalog_kinds (
    code              TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    nature            TEXT NOT NULL,
    default_severity  TEXT,
    is_public         INTEGER NOT NULL,
    publish_workdays  INTEGER,
    -- publicity periods by severity (or "none"), JSON {"general": {"min_months":3,"max_months":12}, …}
    periods           TEXT NOT NULL,
    sort              INTEGER NOT NULL,
    updated_by        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);

CREATE TABLE penalty_categories (
    category                  TEXT PRIMARY KEY,
    severity                  TEXT NOT NULL,
    revokes_business_licence  INTEGER NOT NULL,
    updated_by                TEXT NOT NULL,
    updated_at                TEXT NOT NULL
);

-- The current version of each record; every version (the first included) is also in
-- credit_record_versions. Key: document number + subject code.
CREATE TABLE credit_records (
    id                        INTEGER PRIMARY KEY,
    subject_id                INTEGER NOT NULL REFERENCES subjects(id),
    subject_code              TEXT NOT NULL,
    kind                      TEXT NOT NULL REFERENCES catalog_kinds(code),
    document_number           TEXT NOT NULL,
    decision_date             TEXT NOT NULL,
    nature                    TEXT NOT NULL,
    severity                  TEXT,
    revokes_business_licence  INTEGER NOT NULL,
    data                      TEXT NOT NULL,
    status                    TEXT NOT NULL,
    -- 双公示: deadline (NULL when the kind has none or the calendar year is not loaded yet),
    -- the day it was published (NULL: not yet; held for review), the day publication ends
    publish_deadline          TEXT,
    published_on              TEXT,
    held                      INTEGER NOT NULL,
    publicity_until           TEXT,
    recorded_on               TEXT NOT NULL,
    version                   INTEGER NOT NULL,
    content_hash              TEXT NOT NULL,
    created_at                TEXT NOT NULL,
    updated_at                TEXT NOT NULL,
    UNIQUE (document_number, subject_code)
);
CREATE INDEX credit_records_subject ON credit_records(subject_id, decision_date);
CREATE INDEX credit_records_deadline ON credit_records(publish_deadline);
CREATE INDEX credit_records_kind_date ON credit_records(kind, decision_date);
CREATE INDEX credit_records_decision ON credit_records(decision_date);

CREATE TABLE credit_record_versions (
    record_id     INTEGER NOT NULL REFERENCES credit_records(id),
    version       INTEGER NOT NULL,
    -- snapshot: the record data and its bookkeeping (status, publication) at this version
    data          TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    source        TEXT NOT NULL,
    actor         TEXT NOT NULL,
    reason        TEXT,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (record_id, version)
);

CREATE TABLE list_entries (
    id               INTEGER PRIMARY KEY,
    subject_id       INTEGER NOT NULL REFERENCES subjects(id),
    subject_code     TEXT NOT NULL,
    list_type        TEXT NOT NULL,
    decision_number  TEXT NOT NULL,
    entered_on       TEXT NOT NULL,
    term_until       TEXT,
    exited_on        TEXT,
    data             TEXT NOT NULL,
    version          INTEGER NOT NULL,
    content_hash     TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    UNIQUE (subject_code, list_type, decision_number)
);
CREATE INDEX list_entries_subject ON list_entries(subject_id);
CREATE INDEX list_entries_type ON list_entries(list_type, entered_on);

CREATE TABLE list_entry_versions (
    entry_id      INTEGER NOT NULL REFERENCES list_entries(id),
    version       INTEGER NOT NULL,
    data          TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    source        TEXT NOT NULL,
    actor         TEXT NOT NULL,
    reason        TEXT,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (entry_id, version)
);

-- Name search: each name as space-separated characters, the first glued to an 'x' (see
-- subjects::name_grams), so that any substring — one Chinese character included — is an FTS5
-- phrase query. Contentless: rowid = subjects.id.
CREATE VIRTUAL TABLE subject_names USING fts5(grams, content='', contentless_delete=1, tokenize='unicode61');
