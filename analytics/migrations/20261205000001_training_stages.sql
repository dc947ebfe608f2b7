-- Retraining runs in two stages that commit and retry apart (issue 21): the forecasts, then
-- the behaviour review. A request is deleted once both have served it; until then these say
-- which has, so a retry after a failure runs only the stage that failed.
ALTER TABLE training_requests
    ADD COLUMN forecasts_done boolean NOT NULL DEFAULT false,
    ADD COLUMN review_done    boolean NOT NULL DEFAULT false;
