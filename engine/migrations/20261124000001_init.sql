-- The engine's schema: users, categories, budgets, transactions, and the event outbox/inbox.
-- Money is NUMERIC(19,4) with an ISO 4217 code beside it; ids are UUIDv7 made by the service.

CREATE TABLE users (
    id               uuid PRIMARY KEY,
    email            text        NOT NULL,
    name             text        NOT NULL,
    password_hash    text        NOT NULL,
    default_currency char(3)     NOT NULL DEFAULT 'USD',
    timezone         text        NOT NULL DEFAULT 'UTC',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
-- Email uniqueness is case-insensitive; the address is kept as typed for display.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE categories (
    id          uuid PRIMARY KEY,
    user_id     uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        text        NOT NULL,
    kind        text        NOT NULL CHECK (kind IN ('expense', 'income')),
    description text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    -- Target of the composite foreign keys below: a row can only point at its own user's category.
    CONSTRAINT categories_user_id_id_key UNIQUE (user_id, id)
);
CREATE UNIQUE INDEX categories_user_name_key ON categories (user_id, lower(name));

CREATE TABLE transactions (
    id          uuid PRIMARY KEY,
    user_id     uuid          NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    occurred_on date          NOT NULL,
    description text          NOT NULL,
    amount      numeric(19,4) NOT NULL CHECK (amount > 0),
    currency    char(3)       NOT NULL,
    type        text          NOT NULL CHECK (type IN ('debit', 'credit')),
    category_id uuid,
    notes       text,
    -- SHA-256 of date, amount, currency, type and normalised description: import dedup key.
    fingerprint bytea         NOT NULL,
    source      text          NOT NULL DEFAULT 'api',
    version     bigint        NOT NULL DEFAULT 1,
    created_at  timestamptz   NOT NULL DEFAULT now(),
    updated_at  timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT transactions_category_fkey FOREIGN KEY (user_id, category_id)
        REFERENCES categories (user_id, id)
);
CREATE INDEX transactions_user_date_idx ON transactions (user_id, occurred_on DESC, id DESC);
CREATE INDEX transactions_user_fingerprint_idx ON transactions (user_id, fingerprint);
CREATE INDEX transactions_user_category_idx ON transactions (user_id, category_id);

CREATE TABLE budgets (
    id               uuid PRIMARY KEY,
    user_id          uuid          NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    month            date          NOT NULL CHECK (extract(day FROM month) = 1),
    currency         char(3)       NOT NULL,
    total_limit      numeric(19,4) NOT NULL CHECK (total_limit > 0),
    alert_thresholds integer[]     NOT NULL,
    version          bigint        NOT NULL DEFAULT 1,
    created_at       timestamptz   NOT NULL DEFAULT now(),
    updated_at       timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT budgets_user_month_currency_key UNIQUE (user_id, month, currency)
);

CREATE TABLE budget_category_limits (
    budget_id    uuid          NOT NULL REFERENCES budgets (id) ON DELETE CASCADE,
    user_id      uuid          NOT NULL,
    category_id  uuid          NOT NULL,
    limit_amount numeric(19,4) NOT NULL CHECK (limit_amount > 0),
    PRIMARY KEY (budget_id, category_id),
    CONSTRAINT budget_category_limits_category_fkey FOREIGN KEY (user_id, category_id)
        REFERENCES categories (user_id, id)
);

-- Thresholds that have fired and not re-armed: the row's existence is what makes
-- budget_threshold_reached go out once per budget, scope and threshold.
CREATE TABLE budget_alerts (
    budget_id uuid        NOT NULL REFERENCES budgets (id) ON DELETE CASCADE,
    -- 'total', or the category id for a category limit.
    scope     text        NOT NULL,
    threshold integer     NOT NULL,
    fired_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (budget_id, scope, threshold)
);

-- The latest forecast per budget, fed by prediction_completed.
CREATE TABLE budget_forecasts (
    budget_id               uuid PRIMARY KEY REFERENCES budgets (id) ON DELETE CASCADE,
    prediction_id           uuid          NOT NULL,
    projected_total         numeric(19,4) NOT NULL,
    lower_80                numeric(19,4) NOT NULL,
    upper_80                numeric(19,4) NOT NULL,
    lower_95                numeric(19,4) NOT NULL,
    upper_95                numeric(19,4) NOT NULL,
    probability_over_budget numeric(5,4)  NOT NULL,
    model                   text          NOT NULL,
    generated_at            timestamptz   NOT NULL
);

-- The user's insights feed, fed by insight_generated.
CREATE TABLE insights (
    id           uuid PRIMARY KEY,
    user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind         text        NOT NULL,
    title        text        NOT NULL,
    body         text        NOT NULL,
    data         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    generated_at timestamptz NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX insights_user_idx ON insights (user_id, generated_at DESC, id DESC);

-- Transactional outbox: written with the change, published and deleted by the relay.
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

-- Idempotent consumption: one row per (consumer, event) applied.
CREATE TABLE inbox (
    consumer    text        NOT NULL,
    event_id    uuid        NOT NULL,
    event_type  text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
