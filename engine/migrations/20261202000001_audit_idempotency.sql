-- The audit log of security events a user reads about their own account (GET /me/audit), and
-- the Idempotency-Key of every create, recorded in the same transaction as the create.

-- One row per security event. The rows go with the account (ON DELETE CASCADE): the log is the
-- user's own record, and deleting an account deletes its data. The deletion itself is logged
-- to the `audit` tracing target instead, since no row could outlive it.
CREATE TABLE audit_events (
    id          uuid PRIMARY KEY,
    user_id     uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- login_succeeded, login_failed, refresh_token_reused, password_changed, profile_updated.
    kind        text        NOT NULL,
    ip          text,
    user_agent  text,
    detail      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    occurred_at timestamptz NOT NULL DEFAULT now()
);
-- Newest first per user: ids are UUIDv7, so id order is time order and the id alone is the cursor.
CREATE INDEX audit_events_user_idx ON audit_events (user_id, id DESC);

-- A create's key, claimed by the creating transaction and holding the answer it committed, so a
-- retry whose first answer was lost on the way back replays it instead of creating again.
-- scope is the caller's user id, or 'anonymous' for registration; method is the gRPC method.
CREATE TABLE idempotency_keys (
    scope       text        NOT NULL,
    method      text        NOT NULL,
    key         text        NOT NULL,
    -- HMAC-SHA256 of the encoded request under the service credential: comparable, but it
    -- reveals nothing of a body that held a password.
    fingerprint bytea       NOT NULL,
    -- The encoded response message; set in the same transaction as the claim.
    response    bytea,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, method, key)
);
-- For the retention sweep, which deletes the oldest rows in bounded batches.
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
