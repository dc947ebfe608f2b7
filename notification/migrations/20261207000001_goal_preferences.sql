-- Goal emails are kinds of their own, on unless turned off, like every kind.
ALTER TABLE preferences
    ADD COLUMN goal_reached boolean NOT NULL DEFAULT true,
    ADD COLUMN goal_at_risk boolean NOT NULL DEFAULT true;
