-- Each subject's grading facts in one value (see `digests.rs`): a full evaluation reads one
-- row per subject with facts instead of one index entry per record. Kept by the writers of
-- credit records in their transaction; made from the records by the migration step that
-- follows this file (and by `xinjian migrate --rebuild-digests`). Derived data: no foreign
-- key, `credit_records` is the truth.
CREATE TABLE grading_digests (
    subject_id INTEGER PRIMARY KEY,
    facts BLOB NOT NULL
);

-- The subject index goes back to what the subject's pages and the digest refresh read (0002):
-- the evaluation no longer reads the facts from it, and its width (0006) cost every import.
DROP INDEX credit_records_subject;
CREATE INDEX credit_records_subject ON credit_records(subject_id, decision_date);

-- Where the next incremental run looks for changes from (see `grading::unseen_changes_from`).
ALTER TABLE evaluation_runs ADD COLUMN changes_from TEXT;
