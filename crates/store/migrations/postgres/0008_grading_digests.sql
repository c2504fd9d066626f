-- Each subject's grading facts in one value (see the SQLite migration of the same name).
CREATE TABLE grading_digests (
    subject_id BIGINT PRIMARY KEY,
    facts BYTEA NOT NULL
);

-- The subject index goes back to what the subject's pages and the digest refresh read (0002).
DROP INDEX credit_records_subject;
CREATE INDEX credit_records_subject ON credit_records(subject_id, decision_date);

-- Where the next incremental run looks for changes from (see `grading::unseen_changes_from`).
ALTER TABLE evaluation_runs ADD COLUMN changes_from TEXT;
