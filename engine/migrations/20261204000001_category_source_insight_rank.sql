-- Issue 20: where a transaction's category came from, and insights sorted by relevance.

-- "user" (the person chose it), "import" (their file named it), "model" (auto-filled, with
-- the model's confidence) or "rule". Rows from before this was recorded get the best guess
-- there is: "import" for imported rows, "user" for the rest. Auto-filled rows of that time
-- cannot be told apart; the model retrains on them once more, as it always did.
ALTER TABLE transactions
    ADD COLUMN category_source     text CHECK (category_source IN ('user', 'import', 'model', 'rule')),
    ADD COLUMN category_confidence double precision;
UPDATE transactions SET category_source = CASE WHEN source = 'import' THEN 'import' ELSE 'user' END
    WHERE category_id IS NOT NULL;

-- An insight's relevance when issued, in (0, 1], and its rank: ln(relevance) plus ln 2 per
-- 30 days since the epoch at issue. Relevance now is relevance halved every 30 days, and
-- ordering by that equals ordering by this fixed rank, so the feed pages stably.
ALTER TABLE insights
    ADD COLUMN relevance double precision NOT NULL DEFAULT 0.3,
    ADD COLUMN rank      double precision;
UPDATE insights SET rank = ln(relevance) + ln(2) * extract(epoch FROM generated_at) / (86400 * 30);
ALTER TABLE insights ALTER COLUMN rank SET NOT NULL;
DROP INDEX insights_user_idx;
CREATE INDEX insights_user_rank_idx ON insights (user_id, rank DESC, id DESC);
