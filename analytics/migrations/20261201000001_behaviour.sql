-- What analytics learns from how a user spends: anomalies with their feedback, recurring
-- payments, the insights already issued, and the per-user categorisation models.

-- The category's name when the transaction event was published, for explanations that
-- name it ("4.8x your usual Groceries spend").
ALTER TABLE transactions ADD COLUMN category_name text;

-- Flagged transactions. One row per transaction and kind, announced once. A rescan that no
-- longer flags an open one marks it withdrawn (hidden; revived silently if found again);
-- feedback (confirmed, not_anomaly) is kept until the transaction itself is deleted.
CREATE TABLE anomalies (
    id             uuid PRIMARY KEY,
    user_id        uuid          NOT NULL,
    transaction_id uuid          NOT NULL,
    kind           text          NOT NULL,
    score          double precision NOT NULL CHECK (score >= 0 AND score <= 1),
    explanation    text          NOT NULL,
    status         text          NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'confirmed', 'not_anomaly', 'withdrawn')),
    occurred_on    date          NOT NULL,
    description    text          NOT NULL,
    merchant       text          NOT NULL,
    amount         numeric(19,4) NOT NULL,
    currency       text          NOT NULL,
    category_id    uuid,
    detected_at    timestamptz   NOT NULL DEFAULT now(),
    feedback_at    timestamptz,
    UNIQUE (user_id, transaction_id, kind)
);
CREATE INDEX anomalies_user_idx ON anomalies (user_id, occurred_on DESC, id DESC);

-- "not_anomaly" feedback: that kind of anomaly at that merchant is normal for this user.
CREATE TABLE anomaly_suppressions (
    user_id    uuid        NOT NULL,
    merchant   text        NOT NULL,
    kind       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, merchant, kind)
);

-- Detected recurring payments, one per user, currency and merchant; rewritten by each
-- retraining, with ids kept stable across rescans.
CREATE TABLE recurring_payments (
    id            uuid PRIMARY KEY,
    user_id       uuid          NOT NULL,
    merchant      text          NOT NULL,
    currency      text          NOT NULL,
    category_id   uuid,
    cadence       text          NOT NULL,
    cadence_days  integer       NOT NULL,
    amount        numeric(19,4) NOT NULL,
    fixed_price   boolean       NOT NULL,
    first_seen    date          NOT NULL,
    last_seen     date          NOT NULL,
    next_expected date          NOT NULL,
    occurrences   integer       NOT NULL,
    active        boolean       NOT NULL,
    price_changes jsonb         NOT NULL DEFAULT '[]',
    updated_at    timestamptz   NOT NULL DEFAULT now(),
    UNIQUE (user_id, currency, merchant)
);

-- Every insight issued, by a key naming what it is about (e.g. the category and month), so
-- that one insight is published once and not on every event.
CREATE TABLE insights_issued (
    user_id    uuid        NOT NULL,
    key        text        NOT NULL,
    insight_id uuid        NOT NULL,
    kind       text        NOT NULL,
    issued_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);

-- Categorisation models: one per user (the nil UUID holds the global one), serialised.
CREATE TABLE categorizer_models (
    user_id    uuid        PRIMARY KEY,
    model      jsonb       NOT NULL,
    n_samples  integer     NOT NULL,
    trained_at timestamptz NOT NULL
);
