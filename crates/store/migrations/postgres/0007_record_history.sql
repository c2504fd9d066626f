-- Credit records keep their history the way the registry does (0005): `credit_records` holds
-- the current version with its provenance (source, actor, reason; recorded at `updated_at`),
-- `credit_record_versions` receives a version when a newer one supersedes it. Every version
-- is still kept; an import of new records writes each once instead of twice.
ALTER TABLE credit_records ADD COLUMN source TEXT NOT NULL DEFAULT '';
ALTER TABLE credit_records ADD COLUMN actor TEXT NOT NULL DEFAULT '';
ALTER TABLE credit_records ADD COLUMN reason TEXT;
UPDATE credit_records SET
    source = COALESCE((SELECT v.source FROM credit_record_versions v WHERE v.record_id = credit_records.id AND v.version = credit_records.version), ''),
    actor = COALESCE((SELECT v.actor FROM credit_record_versions v WHERE v.record_id = credit_records.id AND v.version = credit_records.version), ''),
    reason = (SELECT v.reason FROM credit_record_versions v WHERE v.record_id = credit_records.id AND v.version = credit_records.version);
DELETE FROM credit_record_versions
 WHERE EXISTS (SELECT 1 FROM credit_records r WHERE r.id = credit_record_versions.record_id AND r.version = credit_record_versions.version);
