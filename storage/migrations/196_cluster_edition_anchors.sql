-- Editions are compared only when their founders share rare anchors (figures, transliterated
-- names: newswatch/anchors.py), so a founder is stored with its anchors and its title and
-- lede, and embedded only once it is compared. Founders stored before have no anchors and
-- are not compared again.
ALTER TABLE cluster_editions ADD COLUMN anchors VARCHAR[];
ALTER TABLE cluster_editions ADD COLUMN lede VARCHAR;
ALTER TABLE cluster_editions ALTER COLUMN embedding DROP NOT NULL;
