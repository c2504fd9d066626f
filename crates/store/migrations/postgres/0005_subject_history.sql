-- The registry's history without a copy of the current version: `subjects` holds the current
-- version with its provenance (source, actor, reason; recorded at `updated_at`), and
-- `subject_versions` receives a version when a newer one supersedes it. Every version is
-- still kept, append-only; an import of new subjects writes each of them once instead of
-- twice (the copy was 60 % of the bytes a registry import wrote).
ALTER TABLE subjects ADD COLUMN source TEXT NOT NULL DEFAULT '';
ALTER TABLE subjects ADD COLUMN actor TEXT NOT NULL DEFAULT '';
ALTER TABLE subjects ADD COLUMN reason TEXT;
UPDATE subjects SET
    source = COALESCE((SELECT v.source FROM subject_versions v WHERE v.subject_id = subjects.id AND v.version = subjects.version), ''),
    actor = COALESCE((SELECT v.actor FROM subject_versions v WHERE v.subject_id = subjects.id AND v.version = subjects.version), ''),
    reason = (SELECT v.reason FROM subject_versions v WHERE v.subject_id = subjects.id AND v.version = subjects.version);
DELETE FROM subject_versions
 WHERE EXISTS (SELECT 1 FROM subjects s WHERE s.id = subject_versions.subject_id AND s.version = subject_versions.version);
