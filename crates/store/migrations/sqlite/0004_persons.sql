-- Natural persons (DOMAIN §2): keyed by resident ID number. The number is personal
-- information: it lives in this column only (the subject's `code` is then a random key `P…`),
-- is shown masked, and no public query reads it.
ALTER TABLE subjects ADD COLUMN person_id TEXT;
CREATE UNIQUE INDEX subjects_person ON subjects(person_id) WHERE person_id IS NOT NULL;
