-- Accepted versions of each topic (issue 12, point 5): what decides its matches (terms, query,
-- min_score, meaning options, the entities its query names), as JSON. A changed topic is
-- compared with its last accepted version on the analysts' feedback before ingest re-matches
-- the archive with it (newswatch/topic_changes.py). Rows are never deleted: the history of
-- what was accepted, when and how.
CREATE TABLE topic_versions (
    topic VARCHAR NOT NULL,
    fingerprint VARCHAR NOT NULL,     -- hash of definition
    definition VARCHAR NOT NULL,      -- JSON: {"topic": {...}, "entities": {...}}
    accepted_at TIMESTAMPTZ NOT NULL,
    how VARCHAR NOT NULL,             -- first version | no verdict lost | accepted by operator
    note VARCHAR NOT NULL DEFAULT '',
    PRIMARY KEY (topic, fingerprint, accepted_at)
);
