-- Daily reference exchange rates, loaded from the European Central Bank's files by
-- `engine rates import FILE` or the scheduled fetch from RATES_URL. Operator data: no API writes it.
-- A rate is units of `currency` per euro, as the ECB publishes it; EUR itself is stored as 1 on
-- every published day, so a cross rate is a join of two rows of one day.
CREATE TABLE rates (
    currency  char(3)        NOT NULL,
    day       date           NOT NULL,
    per_eur   numeric(20,10) NOT NULL CHECK (per_eur > 0),
    loaded_at timestamptz    NOT NULL DEFAULT now(),
    PRIMARY KEY (currency, day)
);
-- "Has the ECB published on or after this day yet?" (the newest EUR row).
CREATE INDEX rates_day_idx ON rates (day) WHERE currency = 'EUR';
