-- Whether a subject's business scope includes bookkeeping (代理记账), by the core's rule
-- (`xinjian_core::subject::scope_offers_bookkeeping`: a scope that names it only to exclude
-- it, "财务咨询（不含代理记账）", does not). Kept beside each subject when it is written, so that
-- the staff filter and the overview count use the same rule as the subject's page, and read an
-- index instead of matching every scope with LIKE. The existing subjects are set by the
-- migration's data step in Rust.
ALTER TABLE subjects ADD COLUMN offers_bookkeeping BIGINT NOT NULL DEFAULT 0;
CREATE INDEX subjects_offers_bookkeeping ON subjects(id) WHERE offers_bookkeeping = 1;
