-- Email notifications: who to address, what they want, and every email's delivery state.

-- The notification service's copy of each user's profile, fed by user_registered and
-- user_updated (or fetched from the engine when an event arrives first).
CREATE TABLE recipients (
    user_id          uuid PRIMARY KEY,
    email            text        NOT NULL,
    name             text        NOT NULL,
    currency         char(3)     NOT NULL,
    timezone         text        NOT NULL,
    -- The newest event applied, so an older one arriving late does not win.
    updated_at       timestamptz NOT NULL
);

-- Users whose account is gone: a profile event redelivered after user_deleted must not bring
-- them back (the summary scan would mail a deleted account).
CREATE TABLE forgotten_users (
    user_id    uuid PRIMARY KEY,
    deleted_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE preferences (
    user_id                  uuid PRIMARY KEY,
    email_enabled            boolean      NOT NULL DEFAULT true,
    budget_threshold_reached boolean      NOT NULL DEFAULT true,
    anomaly_detected         boolean      NOT NULL DEFAULT true,
    prediction_completed     boolean      NOT NULL DEFAULT true,
    insight_generated        boolean      NOT NULL DEFAULT true,
    monthly_summary          boolean      NOT NULL DEFAULT true,
    welcome                  boolean      NOT NULL DEFAULT true,
    min_anomaly_score        double precision NOT NULL DEFAULT 0.5 CHECK (min_anomaly_score BETWEEN 0 AND 1),
    digest                   text         NOT NULL DEFAULT 'immediate' CHECK (digest IN ('immediate', 'daily')),
    quiet_start              time,
    quiet_end                time,
    updated_at               timestamptz  NOT NULL DEFAULT now(),
    CHECK ((quiet_start IS NULL) = (quiet_end IS NULL))
);

-- One row per email. The unique key is what makes a redelivered event give one email.
CREATE TABLE deliveries (
    id              uuid PRIMARY KEY,
    user_id         uuid        NOT NULL,
    kind            text        NOT NULL,
    -- What caused it: the event id, or e.g. "summary:2026-11" for the scheduled summary.
    dedupe_key      text        NOT NULL,
    status          text        NOT NULL
                    CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'suppressed')),
    recipient       text        NOT NULL,
    subject         text        NOT NULL,
    -- The template's data; rendered at send time, so a retry renders the same email.
    payload         jsonb       NOT NULL,
    -- Held for the daily digest rather than sent alone.
    digest          boolean     NOT NULL DEFAULT false,
    attempts        integer     NOT NULL DEFAULT 0,
    not_before      timestamptz NOT NULL,
    -- While 'sending': when the claim lapses and another worker may take the row over.
    lease_until     timestamptz,
    last_error      text,
    -- The Message-ID header: the same on every attempt, so a resend is recognisable.
    message_id      text        NOT NULL,
    -- The SMTP server's reply to DATA, which names its queue id.
    smtp_reply      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    UNIQUE (user_id, kind, dedupe_key)
);
CREATE INDEX deliveries_due_idx ON deliveries (not_before) WHERE status = 'queued';
CREATE INDEX deliveries_lease_idx ON deliveries (lease_until) WHERE status = 'sending';
CREATE INDEX deliveries_user_idx ON deliveries (user_id, id DESC);
