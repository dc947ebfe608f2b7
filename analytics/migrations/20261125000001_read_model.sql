-- The analytics read model: each user's transactions and budgets as analytics needs them,
-- daily totals by category and currency, the model registry and the latest forecasts.
-- It replaces the journal of received events as the source of truth.

DROP TABLE received_events;

-- What analytics knows of a user, from user_registered.
CREATE TABLE users (
    user_id          uuid PRIMARY KEY,
    default_currency text        NOT NULL,
    timezone         text        NOT NULL,
    registered_at    timestamptz NOT NULL DEFAULT now()
);

-- Users who deleted their account. A late event about them must not bring data back.
CREATE TABLE deleted_users (
    user_id    uuid PRIMARY KEY,
    deleted_at timestamptz NOT NULL DEFAULT now()
);

-- The latest state of every transaction. A delete leaves a tombstone so that a create or an
-- update that arrives after it (same or lower version) cannot resurrect the row.
CREATE TABLE transactions (
    transaction_id uuid PRIMARY KEY,
    user_id        uuid          NOT NULL,
    version        bigint        NOT NULL,
    deleted        boolean       NOT NULL DEFAULT false,
    occurred_on    date          NOT NULL,
    description    text          NOT NULL,
    merchant       text          NOT NULL,
    amount         numeric(19,4) NOT NULL CHECK (amount > 0),
    currency       text          NOT NULL,
    kind           text          NOT NULL CHECK (kind IN ('debit', 'credit')),
    category_id    uuid,
    applied_at     timestamptz   NOT NULL DEFAULT now()
);
CREATE INDEX transactions_user_day_idx ON transactions (user_id, currency, occurred_on) WHERE NOT deleted;

-- Exact daily sums. Uncategorised money is filed under the nil UUID so the key has no NULL.
-- Unbounded numeric: a sum of NUMERIC(19,4) amounts may exceed 19 digits.
CREATE TABLE daily_totals (
    user_id      uuid    NOT NULL,
    currency     text    NOT NULL,
    day          date    NOT NULL,
    category_id  uuid    NOT NULL,
    spent        numeric NOT NULL DEFAULT 0,
    income       numeric NOT NULL DEFAULT 0,
    debit_count  integer NOT NULL DEFAULT 0,
    credit_count integer NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, currency, day, category_id)
);

-- Budgets, latest version; a deleted budget keeps a tombstone.
CREATE TABLE budgets (
    budget_id       uuid PRIMARY KEY,
    user_id         uuid    NOT NULL,
    month           date    NOT NULL,
    currency        text    NOT NULL,
    total_limit     numeric NOT NULL,
    category_limits jsonb   NOT NULL DEFAULT '[]',
    version         bigint  NOT NULL,
    deleted         boolean NOT NULL DEFAULT false
);
CREATE INDEX budgets_user_month_idx ON budgets (user_id, month) WHERE NOT deleted;

-- The model registry: per series, every candidate with its parameters and backtest metrics,
-- and the one chosen.
CREATE TABLE ml_models (
    user_id    uuid        NOT NULL,
    series     text        NOT NULL,
    n_points   integer     NOT NULL,
    -- "monthly" or "daily": what one point of the series is.
    granularity text       NOT NULL,
    chosen     text        NOT NULL,
    candidates jsonb       NOT NULL,
    trained_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, series)
);

-- The latest month-end forecast per budget (what prediction_completed carried).
CREATE TABLE forecasts (
    budget_id    uuid PRIMARY KEY,
    user_id      uuid        NOT NULL,
    month        date        NOT NULL,
    forecast     bytea       NOT NULL,
    generated_at timestamptz NOT NULL
);
CREATE INDEX forecasts_user_idx ON forecasts (user_id);

-- Retraining requests, insert-only so that concurrent consumers never contend on a row. The
-- trainer takes a user once no request came for the debounce window (or the oldest waited
-- too long), and deletes the requests it served.
CREATE TABLE training_requests (
    id           bigserial PRIMARY KEY,
    user_id      uuid        NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX training_requests_user_idx ON training_requests (user_id, requested_at);
