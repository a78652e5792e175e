-- The text each cluster member was compared on (its extracted text without its outlet's
-- recurring lines, one paragraph a line): a near miss of the MinHash estimate is checked
-- paragraph by paragraph against it (newswatch/passages.py). NULL for members clustered
-- before: they are matched on the estimate alone.
ALTER TABLE cluster_members ADD COLUMN body VARCHAR;
