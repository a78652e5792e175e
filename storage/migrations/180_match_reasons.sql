-- Why an article matched a topic, in words (issue 12): "'peacekeepers' near 'mandate';
-- Karabakh mentioned". Older matches keep '' until they are matched again (the matcher's
-- version is part of its fingerprint, so every stored article is). DuckDB alters no table
-- that has an index: the index is dropped and made again.
DROP INDEX matches_article;
ALTER TABLE matches ADD COLUMN reason VARCHAR DEFAULT '';
CREATE INDEX matches_article ON matches (article_id);
