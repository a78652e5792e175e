-- Relevance feedback (issues 12 and 16): an analyst marks a match "not relevant", or reports
-- an article a topic missed. One row per (kind, topic, article): recording it again updates
-- the note and time, so a repeated click or a re-sent queue never makes a second row.
CREATE TABLE feedback (
    kind VARCHAR NOT NULL,            -- not_relevant | missed
    topic VARCHAR NOT NULL,
    article_id VARCHAR NOT NULL,      -- newswatch.urls.article_id of the article's canonical URL
    url VARCHAR NOT NULL,             -- the article's URL (stored or not)
    note VARCHAR NOT NULL DEFAULT '',
    source VARCHAR NOT NULL,          -- where it was given: cli | web
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (kind, topic, article_id)
);
