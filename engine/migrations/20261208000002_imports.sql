-- One row per imported file: what it was, what it did, and (while it runs in the background)
-- the file itself, so an import survives a restart: `rows_done` entries of it are written, in
-- file order, and a resumed run skips exactly those. `content` is cleared when it ends.
--   status     running, done or failed (failed: `errors` holds why; nothing of it is kept);
--   errors     [{line, message}] rows refused;
--   accounts   [{account_id, name, number_hint, created, rows, currency, balances}] the
--              accounts the file named and what became of them;
--   options    what the caller gave: content type, profile, column mapping, account;
--   undone_at  set by DELETE /imports/{id}: its rows are gone; the history stays.
CREATE TABLE imports (
    id              uuid PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    file_name       text NOT NULL,
    format          text NOT NULL,
    profile         text,
    status          text NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    rows_total      integer NOT NULL DEFAULT 0,
    rows_done       integer NOT NULL DEFAULT 0,
    imported        integer NOT NULL DEFAULT 0,
    duplicates      integer NOT NULL DEFAULT 0,
    errors          jsonb NOT NULL DEFAULT '[]',
    balance_warning text,
    accounts        jsonb NOT NULL DEFAULT '[]',
    options         jsonb NOT NULL DEFAULT '{}',
    content         bytea,
    -- Background runs started; one that keeps failing is given up (status failed).
    attempts        integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    undone_at       timestamptz
);
-- Transactions refer to (user_id, id), like accounts; the list pages by id.
CREATE UNIQUE INDEX imports_user_id_key ON imports (user_id, id);
-- The background worker's queue.
CREATE INDEX imports_running_idx ON imports (created_at) WHERE status = 'running';
