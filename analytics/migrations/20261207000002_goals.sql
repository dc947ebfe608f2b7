-- Savings goals. Analytics keeps them because their progress is a projection from the
-- contribution history, made with the forecasting code; the engine's categories they may
-- link are referenced by id only (the gateway checks the category is the caller's).
CREATE TABLE goals (
    id                uuid PRIMARY KEY,
    user_id           uuid          NOT NULL,
    name              text          NOT NULL,
    target_amount     numeric(19,4) NOT NULL CHECK (target_amount > 0),
    currency          text          NOT NULL,
    target_date       date,
    -- A savings category whose transactions count as contributions (debits in, credits out).
    category_id       uuid,
    -- The last evaluated status, and what has been announced: goal_at_risk once per spell at
    -- risk (re-armed when back on track), goal_reached once.
    status            text          NOT NULL DEFAULT 'on_track' CHECK (status IN ('on_track', 'at_risk', 'reached')),
    at_risk_announced boolean       NOT NULL DEFAULT false,
    reached_announced boolean       NOT NULL DEFAULT false,
    -- When the trainer last reviewed it: a goal not reviewed for a day is queued again, so
    -- a slipping pace is noticed without new transactions.
    reviewed_at       timestamptz   NOT NULL DEFAULT now(),
    created_at        timestamptz   NOT NULL DEFAULT now(),
    updated_at        timestamptz   NOT NULL DEFAULT now()
);
CREATE INDEX goals_user_idx ON goals (user_id, id);
