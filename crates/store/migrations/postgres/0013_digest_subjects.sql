-- SQLite gets a narrow index of the subjects that have a grading digest (its table keeps the rows
-- in the primary key's b-tree). PostgreSQL's primary key is already such an index, apart from
-- the rows: nothing to change.
SELECT 1;
