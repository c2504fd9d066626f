-- The records still awaiting publication (双公示): a few at any time, counted by the staff
-- workspace on every visit. Without this index the count read the deadline index of every
-- record with a deadline and then each row (353,521 records: 0.48 s). Partial: a record
-- leaves it when it is published, so imports of records published at once do not maintain it.
CREATE INDEX credit_records_awaiting_publication ON credit_records(publish_deadline)
    WHERE published_on IS NULL AND publish_deadline IS NOT NULL;
