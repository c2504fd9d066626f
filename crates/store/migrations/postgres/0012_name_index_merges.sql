-- SQLite's name index (FTS5) merges its segments less often from this version on. PostgreSQL's
-- name index is a GIN index over a text search vector, which the database maintains itself: nothing to change.
SELECT 1;
