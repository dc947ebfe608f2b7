-- Issue 22: a login whose password was right, waiting for its second factor. The token is
-- 32 random bytes given to the client as `mfa_token`; only its SHA-256 is kept. Five minutes.
CREATE TABLE mfa_challenges (
    token_hash bytea PRIMARY KEY,
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX mfa_challenges_user_idx ON mfa_challenges (user_id);
