-- Issue 22: two-factor sign-in with a TOTP app (RFC 6238). One factor per account: pending
-- from enrolment until a code confirms it (`confirmed_at`), then asked for at every login.
-- `last_step` is the time step of the last code accepted, so a code is accepted once.
-- The secret is kept as is: the app needs the same bytes to make codes (see
-- docs/architecture/auth.md, "Two-factor sign-in", for encryption at rest).
CREATE TABLE totp_factors (
    user_id      uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret       bytea       NOT NULL,
    confirmed_at timestamptz,
    last_step    bigint      NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now()
);
