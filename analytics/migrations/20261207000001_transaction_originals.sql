-- Transactions are counted in their owner's home currency (`amount`, `currency` hold the home
-- amount once the engine knows the rate). A transaction paid in another currency keeps what
-- was paid here, so insights and emails can say both ("420.00 EUR (455.10 USD)").
ALTER TABLE transactions
    ADD COLUMN original_amount   numeric(19,4),
    ADD COLUMN original_currency text;
