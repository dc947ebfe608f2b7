-- The whole month-end projection analytics sent (per category too), encoded as the
-- budgetsmart.common.v1.MonthEndForecast message, so the budget status can show it as is.
ALTER TABLE budget_forecasts ADD COLUMN detail bytea;
