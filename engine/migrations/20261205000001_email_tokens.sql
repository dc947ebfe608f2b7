-- Single-use tokens sent by email (issue 22): a password reset now, the address's
-- verification next. Only the SHA-256 of a token is kept, so a read of this table gives no
-- usable link; a token is spent by setting used_at in the statement that checks it.
CREATE TABLE email_tokens (
    token_hash bytea PRIMARY KEY,
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    text        NOT NULL CHECK (purpose IN ('reset_password', 'verify_email')),
    email      text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
-- The per-address throttle counts a user's recent tokens of a purpose.
CREATE INDEX email_tokens_user_idx ON email_tokens (user_id, purpose, created_at);
