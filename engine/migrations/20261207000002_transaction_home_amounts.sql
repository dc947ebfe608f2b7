-- Every transaction is also counted in its owner's home currency. The original amount and
-- currency never change; `home_amount` is what budgets and alerts sum.
--   home_currency  the owner's home currency when the row was last expressed;
--   home_amount    the amount in it, rounded half away from zero to its minor unit;
--                  NULL while the rate is pending (no rate yet for the day): never guessed;
--   rate           one unit of `currency` in `home_currency` (NULL when they agree);
--   rate_date      the day of the reference rate used, or the transaction's day for a bank's;
--   rate_source    'ecb' or 'bank' (the rate the person's bank applied, given by them).
ALTER TABLE transactions
    ADD COLUMN home_currency char(3),
    ADD COLUMN home_amount   numeric(19,4),
    ADD COLUMN rate          numeric(20,10) CHECK (rate > 0),
    ADD COLUMN rate_date     date,
    ADD COLUMN rate_source   text CHECK (rate_source IN ('ecb', 'bank'));

-- Rows written before currencies were converted: in the home currency they count as they are;
-- in another one they are pending until rates are loaded (the import converts them).
UPDATE transactions t SET home_currency = u.default_currency,
    home_amount = CASE WHEN t.currency = u.default_currency THEN t.amount END
FROM users u WHERE u.id = t.user_id;
ALTER TABLE transactions ALTER COLUMN home_currency SET NOT NULL;

-- The rows a rate import may resolve.
CREATE INDEX transactions_rate_pending_idx ON transactions (currency, occurred_on) WHERE home_amount IS NULL;
