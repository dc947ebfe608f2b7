-- An event the broker returned as unroutable (no queue bound for its routing key) stays in the
-- outbox and is tried again later, with backoff (issue 11): when, and how often it was returned.
ALTER TABLE outbox
    ADD COLUMN not_before timestamptz,
    ADD COLUMN attempts integer NOT NULL DEFAULT 0;
