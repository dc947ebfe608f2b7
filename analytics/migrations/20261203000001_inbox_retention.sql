-- Retention (docs/architecture.md, "Events"): the sweep deletes inbox rows by age.
CREATE INDEX IF NOT EXISTS inbox_received_at_idx ON inbox (received_at);
