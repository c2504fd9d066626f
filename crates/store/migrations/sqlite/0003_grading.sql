-- Credit grading: versioned rule sets (grade rules + risk scorecard), the current evaluation
-- of each subject, grade changes as events, evaluation runs. Records remember the day they
-- stopped counting (corrected, revoked, repaired); indexes on updated_at let an incremental
-- evaluation find what changed since the last run.

CREATE TABLE grade_rule_sets (
    version      TEXT PRIMARY KEY,
    rules        TEXT NOT NULL,
    scorecard    TEXT NOT NULL,
    is_current   INTEGER NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL
);

CREATE TABLE evaluation_runs (
    id           INTEGER PRIMARY KEY,
    as_of        TEXT NOT NULL,
    full_run     INTEGER NOT NULL,
    rule_version TEXT NOT NULL,
    status       TEXT NOT NULL,
    evaluated    INTEGER NOT NULL DEFAULT 0,
    count_a      INTEGER NOT NULL DEFAULT 0,
    count_b      INTEGER NOT NULL DEFAULT 0,
    count_c      INTEGER NOT NULL DEFAULT 0,
    count_d      INTEGER NOT NULL DEFAULT 0,
    changed      INTEGER NOT NULL DEFAULT 0,
    started_by   TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    finished_at  TEXT
);

-- The latest evaluation of each subject in the evaluated directory.
CREATE TABLE grades (
    subject_id     INTEGER PRIMARY KEY REFERENCES subjects(id),
    grade          TEXT NOT NULL,
    as_of          TEXT NOT NULL,
    rule_version   TEXT NOT NULL,
    reasons        TEXT NOT NULL,
    outlook        TEXT NOT NULL,
    next_change_on TEXT,
    risk_score     INTEGER NOT NULL,
    risk_class     TEXT NOT NULL,
    risk_detail    TEXT NOT NULL,
    content_hash   TEXT NOT NULL,
    run_id         INTEGER NOT NULL,
    evaluated_at   TEXT NOT NULL
);
CREATE INDEX grades_next_change ON grades(next_change_on);

-- Every change of grade (the first evaluation included): history, and the event others
-- (joint punishment, spot-check planning) react to.
CREATE TABLE grade_events (
    id           INTEGER PRIMARY KEY,
    subject_id   INTEGER NOT NULL REFERENCES subjects(id),
    as_of        TEXT NOT NULL,
    from_grade   TEXT,
    to_grade     TEXT NOT NULL,
    rule_version TEXT NOT NULL,
    reasons      TEXT NOT NULL,
    run_id       INTEGER NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX grade_events_subject ON grade_events(subject_id, id);

ALTER TABLE credit_records ADD COLUMN ended_on TEXT;
CREATE INDEX credit_records_updated ON credit_records(updated_at);
CREATE INDEX list_entries_updated ON list_entries(updated_at);
CREATE INDEX subjects_updated ON subjects(updated_at);
