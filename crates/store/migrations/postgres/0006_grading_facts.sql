-- What the evaluation reads of a record, in subject order: the subject index also holds every
-- column the evaluation reads, for index-only scans (see the SQLite migration of the same name).
DROP INDEX credit_records_subject;
CREATE INDEX credit_records_subject
    ON credit_records(subject_id, decision_date)
    INCLUDE (nature, revokes_business_licence, kind, severity, ended_on, document_number);

-- The evaluated directory in id order, with what a run reads of it.
CREATE INDEX subjects_directory
    ON subjects(id) INCLUDE (reg_status, kind, updated_at)
    WHERE reg_status IN ('active', 'revoked') AND kind <> 'natural_person';

-- The stored grades and their content hashes in subject order.
CREATE INDEX grades_hash ON grades(subject_id) INCLUDE (grade, content_hash);
