-- The analytics schema. This first migration holds the event plumbing and the journal of
-- what was received; models, aggregates and forecasts arrive with their own migrations.

CREATE TABLE outbox (
    id             uuid PRIMARY KEY,
    event_type     text        NOT NULL,
    event_version  integer     NOT NULL,
    routing_key    text        NOT NULL,
    user_id        uuid,
    payload        bytea       NOT NULL,
    correlation_id text,
    traceparent    text,
    tracestate     text,
    occurred_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE inbox (
    consumer    text        NOT NULL,
    event_id    uuid        NOT NULL,
    event_type  text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

CREATE TABLE received_events (
    event_id    uuid PRIMARY KEY,
    event_type  text        NOT NULL,
    user_id     uuid,
    summary     text        NOT NULL,
    payload     bytea       NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX received_events_user_idx ON received_events (user_id, received_at DESC);
