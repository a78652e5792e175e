-- Editions of a story in other languages (issue 13): the founder of each story in each
-- language, with its title and lede embedded (newswatch/editions.py). Appended in (roughly)
-- seen_at order, so a seen_at range filter skips old row groups.
CREATE TABLE cluster_editions (
    cluster_id VARCHAR NOT NULL,
    language VARCHAR NOT NULL,
    seen_at TIMESTAMPTZ NOT NULL,
    embedding FLOAT[] NOT NULL
);
