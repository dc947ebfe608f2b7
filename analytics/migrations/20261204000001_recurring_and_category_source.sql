-- Issue 20: recurring payments know what they are, and people can correct them.
-- A series is a merchant's debits or its credits (income), so the direction is part of it.
ALTER TABLE recurring_payments
    ADD COLUMN direction       text          NOT NULL DEFAULT 'debit' CHECK (direction IN ('debit', 'credit')),
    ADD COLUMN kind            text          NOT NULL DEFAULT 'subscription'
        CHECK (kind IN ('subscription', 'bill', 'housing', 'loan', 'income')),
    ADD COLUMN kind_corrected  boolean       NOT NULL DEFAULT false,
    ADD COLUMN status          text          NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'late', 'ended')),
    ADD COLUMN expected_amount numeric(19,4),
    ADD COLUMN explanation     text          NOT NULL DEFAULT '';
ALTER TABLE recurring_payments DROP CONSTRAINT recurring_payments_user_id_currency_merchant_key;
ALTER TABLE recurring_payments ADD CONSTRAINT recurring_payments_series UNIQUE (user_id, currency, merchant, direction);

-- What a person said about a merchant's series: its kind, or that it does not recur. Kept apart
-- from recurring_payments, which every rescan rewrites, so a correction outlives rescans (and
-- the series vanishing for a while). The category is the one the series had, so a kind given
-- to one merchant can stand for the category's others.
CREATE TABLE recurring_corrections (
    user_id       uuid        NOT NULL,
    currency      text        NOT NULL,
    merchant      text        NOT NULL,
    direction     text        NOT NULL CHECK (direction IN ('debit', 'credit')),
    category_id   uuid,
    kind          text        CHECK (kind IN ('subscription', 'bill', 'housing', 'loan', 'income')),
    not_recurring boolean     NOT NULL DEFAULT false,
    corrected_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, currency, merchant, direction)
);

-- Who chose a transaction's category ("user", "import", "model", "rule"); NULL for rows from
-- before events carried it. Model-chosen categories do not train the models.
ALTER TABLE transactions ADD COLUMN category_source text;
