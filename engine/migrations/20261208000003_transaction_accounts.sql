-- Where a transaction came from: its account, the import that wrote it (DELETE /imports/{id}
-- removes exactly those), and the bank's own id for it (OFX FITID, CAMT AcctSvcrRef, MT940
-- bank reference), the first dedup key. Deleting an account keeps its transactions; they lose
-- the link. Both references include the owner, so a row can only point at its owner's account
-- or import, whatever the code above does.
ALTER TABLE transactions
    ADD COLUMN account_id uuid,
    ADD COLUMN import_id  uuid,
    ADD COLUMN bank_id    text,
    ADD CONSTRAINT transactions_account_fkey FOREIGN KEY (user_id, account_id)
        REFERENCES accounts (user_id, id) ON DELETE SET NULL (account_id),
    ADD CONSTRAINT transactions_import_fkey FOREIGN KEY (user_id, import_id)
        REFERENCES imports (user_id, id) ON DELETE SET NULL (import_id);
CREATE INDEX transactions_bank_id_idx ON transactions (user_id, bank_id) WHERE bank_id IS NOT NULL;
CREATE INDEX transactions_import_idx ON transactions (import_id) WHERE import_id IS NOT NULL;
CREATE INDEX transactions_account_day_idx ON transactions (user_id, account_id, occurred_on);
