-- The duplicate check of newly extracted articles (issue 15) looks up the stored articles with
-- the same content hash or canonical URL by key, through an index on each, instead of reading
-- every article's hash and URL (storage/db.py store_extracted). content_hash has one
-- (001_init.sql); this is the canonical URL's.
CREATE INDEX articles_canonical_url ON articles (canonical_url);
