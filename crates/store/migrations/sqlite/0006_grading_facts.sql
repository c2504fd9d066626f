-- What the evaluation reads of a record, in subject order: the subject index (a subject's
-- records by date, for its pages) now also holds every column the evaluation reads. A full
-- evaluation reads it from end to end instead of the wide table rows (the facts are ~60 of a
-- record's ~500 bytes) and evaluates each subject as soon as its facts have gone by; an
-- evaluation of a few subjects reads their facts from it without touching the table. Wider
-- than before, but no index more for imports to keep.
DROP INDEX credit_records_subject;
CREATE INDEX credit_records_subject
    ON credit_records(subject_id, decision_date, nature, revokes_business_licence, kind, severity, ended_on, document_number);

-- The evaluated directory (存续 and 吊销, persons excepted) in id order, with what a run reads
-- of it (the 吊销 flag, when the current version was recorded): a run reads these few bytes
-- a subject instead of the registry's rows. New subjects are appended (ids only grow).
CREATE INDEX subjects_directory
    ON subjects(id, reg_status, kind, updated_at)
    WHERE reg_status IN ('active', 'revoked') AND kind <> 'natural_person';

-- The stored grades and their content hashes in subject order, for a run to compare with.
CREATE INDEX grades_hash ON grades(subject_id, grade, content_hash);
