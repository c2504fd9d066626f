-- Which subjects have a grading digest, densely: the ids alone (~340 a page), where the table
-- holds ~8 digests a page. An incremental evaluation asks for the digests of its candidates,
-- most of which have none, and a lookup in the table reads a page whether it finds one or not:
-- it first asks this index which of them have one (`digests::facts_of`). Only a subject's first
-- digest adds an entry; the writers' updates of a digest do not touch it.
CREATE INDEX grading_digests_subjects ON grading_digests(subject_id);
