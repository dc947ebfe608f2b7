-- Addresses that get no more email, whatever an account's preferences say (issue 22): one
-- that unsubscribed from everything, or whose mail server said the mailbox does not exist.
-- Keyed by the address, not the account, so registering another account with the same
-- address, or turning email back on in the preferences, cannot reach it again.
CREATE TABLE suppressed_addresses (
    address    text PRIMARY KEY,
    reason     text        NOT NULL CHECK (reason IN ('unsubscribed', 'bounced')),
    created_at timestamptz NOT NULL DEFAULT now()
);
