-- Issue 22: the ten single-use codes that sign in when the TOTP app is lost. Only their
-- SHA-256 is kept: a code is 50 random bits, too many to guess or to reverse from the hash.
CREATE TABLE recovery_codes (
    user_id   uuid  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash bytea NOT NULL,
    used_at   timestamptz,
    PRIMARY KEY (user_id, code_hash)
);
