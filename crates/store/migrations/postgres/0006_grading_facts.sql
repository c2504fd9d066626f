-- What the evaluation reads of a record, in subject order: a partial covering index over the
-- records that can count (negative ones and business-licence revocations), for index-only
-- scans in subject order (see the SQLite migration of the same name).
CREATE INDEX credit_records_facts
    ON credit_records(subject_id, decision_date)
    INCLUDE (kind, severity, revokes_business_licence, ended_on, document_number)
    WHERE nature = 'negative' OR revokes_business_licence = 1;

-- The evaluated directory in id order, with what a run reads of it.
CREATE INDEX subjects_directory
    ON subjects(id) INCLUDE (reg_status, kind, updated_at)
    WHERE reg_status IN ('active', 'revoked') AND kind <> 'natural_person';

-- The stored grades and their content hashes in subject order.
CREATE INDEX grades_hash ON grades(subject_id) INCLUDE (grade, content_hash);
