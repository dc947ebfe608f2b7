-- Money put towards a goal, in the goal's currency.
CREATE TABLE goal_contributions (
    id          uuid PRIMARY KEY,
    goal_id     uuid          NOT NULL REFERENCES goals (id) ON DELETE CASCADE,
    user_id     uuid          NOT NULL,
    amount      numeric(19,4) NOT NULL CHECK (amount > 0),
    occurred_on date          NOT NULL,
    created_at  timestamptz   NOT NULL DEFAULT now()
);
CREATE INDEX goal_contributions_goal_idx ON goal_contributions (goal_id, occurred_on DESC, id DESC);
