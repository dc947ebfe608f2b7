-- The event tables every service keeps in its own schema, defined once here because common's
-- event code (outbox relay, consumer, journal, retention) is what reads and writes them.
--
-- Each service applies this after its own migrations, with its own bookkeeping table
-- (`<schema>._sqlx_common_migrations`). Services created before this file wrote the same tables
-- in their own early migrations; those files are applied history and stay as they are, so
-- every statement here is written to be a no-op on such a schema. From now on only this
-- directory changes these tables: a service migration never touches them.

-- Transactional outbox: written with the change, published and deleted by the relay. An event
-- the broker returned as unroutable stays, and is tried again after `not_before`.
CREATE TABLE IF NOT EXISTS outbox (
    id             uuid PRIMARY KEY,
    event_type     text        NOT NULL,
    event_version  integer     NOT NULL,
    routing_key    text        NOT NULL,
    user_id        uuid,
    payload        bytea       NOT NULL,
    correlation_id text,
    traceparent    text,
    tracestate     text,
    occurred_at    timestamptz NOT NULL DEFAULT now(),
    not_before     timestamptz,
    attempts       integer     NOT NULL DEFAULT 0
);

-- Idempotent consumption: one row per (consumer, event) applied, swept by age.
CREATE TABLE IF NOT EXISTS inbox (
    consumer    text        NOT NULL,
    event_id    uuid        NOT NULL,
    event_type  text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
CREATE INDEX IF NOT EXISTS inbox_received_at_idx ON inbox (received_at);

-- The journal of received events a user can read (gRPC `ListReceivedEvents`), swept by age and
-- forgotten with the account. Only a service that records a journal writes to it; the others
-- keep it empty, so the sweep and the account deletion need not ask whether it exists.
CREATE TABLE IF NOT EXISTS received_events (
    event_id    uuid PRIMARY KEY,
    event_type  text        NOT NULL,
    user_id     uuid,
    summary     text        NOT NULL,
    payload     bytea       NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS received_events_user_idx ON received_events (user_id, received_at DESC);
CREATE INDEX IF NOT EXISTS received_events_received_at_idx ON received_events (received_at);
