-- The name index (FTS5) merges its segments when 16 of one level have gathered instead of 4.
-- Every committed transaction that indexes names writes a new segment; with the default a
-- registry import of 1,000,000 rows (100 chunks) rewrote each posting three times over in
-- merges, 13 % of its writer's time. At 16 it is rewritten about twice, and a search reads
-- at most ~15 segments a level instead of ~3 (its p95 stays within a few milliseconds:
-- BENCHMARKS.md, name search). The setting is stored in the index itself.
INSERT INTO subject_names(subject_names, rank) VALUES ('automerge', 16);
