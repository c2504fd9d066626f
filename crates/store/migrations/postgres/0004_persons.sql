-- Natural persons (DOMAIN §2): keyed by resident ID number. The number is personal
-- information: the subject's `code` is then a random key `Z…` (outside the code alphabet), the
-- number lives in this column (and the version snapshots), is shown masked, and no public query
-- reads it.
ALTER TABLE subjects ADD COLUMN person_id TEXT;
CREATE UNIQUE INDEX subjects_person ON subjects(person_id) WHERE person_id IS NOT NULL;
