-- The accounts a person's money sits in: typed in, or created by an import the first time a
-- file names them. `number` is the account's number as the bank's files write it (OFX ACCTID,
-- CAMT IBAN, MT940 :25:); it links later files of the same account to it. It is unique per
-- owner only: two people may import files of one joint account, each into their own.
CREATE TABLE accounts (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name        text NOT NULL,
    institution text,
    currency    char(3) NOT NULL,
    type        text NOT NULL CHECK (type IN ('checking', 'savings', 'credit_card', 'cash')),
    number      text,
    version     bigint NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
-- Transactions refer to (user_id, id): a row can only ever be in its owner's account.
CREATE UNIQUE INDEX accounts_user_id_key ON accounts (user_id, id);
CREATE UNIQUE INDEX accounts_user_number_idx ON accounts (user_id, number) WHERE number IS NOT NULL;
