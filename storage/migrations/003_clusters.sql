-- Story clusters (issue 5): near-duplicate articles grouped with MinHash LSH.

-- Parameters the stored signatures and band keys were computed with (name -> value).
CREATE TABLE cluster_params (
    name VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);

-- One row per clustered article. A member never changes cluster; a cluster's id is the id
-- of the article that founded it. Rows are appended in (roughly) seen_at order, so a
-- seen_at range filter skips old row groups through DuckDB's min-max zone maps.
CREATE TABLE cluster_members (
    article_id VARCHAR PRIMARY KEY,
    cluster_id VARCHAR NOT NULL,
    source VARCHAR NOT NULL,          -- outlet name
    seen_at TIMESTAMPTZ NOT NULL,     -- published_at, else the time it was clustered
    text_words INTEGER NOT NULL,      -- completeness of the text, for choosing the lead
    signature BLOB,                   -- MinHash values, uint32 little-endian; NULL without words
    clustered_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX cluster_members_cluster ON cluster_members (cluster_id);

-- LSH band keys (one per band of each signature): articles sharing a key are candidates.
CREATE TABLE cluster_bands (
    band_key BIGINT NOT NULL,         -- 64-bit hash of (band number, band's signature values)
    article_id VARCHAR NOT NULL,
    seen_at TIMESTAMPTZ NOT NULL
);

-- Clusters already sent on a channel (digest, report), and their size at that time.
CREATE TABLE cluster_deliveries (
    cluster_id VARCHAR NOT NULL,
    channel VARCHAR NOT NULL,
    sent_at TIMESTAMPTZ NOT NULL,
    size_at_send INTEGER NOT NULL,
    PRIMARY KEY (cluster_id, channel)
);

-- One row per cluster of the list ``ids``. The lead is the earliest member whose text has at
-- least half the words of the cluster's longest text (so a headline-only copy never leads).
CREATE MACRO story_clusters(ids) AS TABLE
WITH ranked AS (
    SELECT *, text_words * 2 >= max(text_words) OVER (PARTITION BY cluster_id) AS complete
    FROM cluster_members
    WHERE cluster_id IN (SELECT unnest(ids))
)
SELECT
    cluster_id,
    arg_min(article_id, (NOT complete, seen_at, -text_words, article_id)) AS lead_article_id,
    arg_min(source, (NOT complete, seen_at, -text_words, article_id)) AS lead_source,
    min(seen_at) AS first_seen,
    max(seen_at) AS last_seen,
    count(*) AS size,
    list(DISTINCT source ORDER BY source) AS outlets,
    list(article_id ORDER BY seen_at, article_id) AS members
FROM ranked
GROUP BY cluster_id;

-- Every cluster (for ad-hoc queries; code asks story_clusters for the few it needs).
CREATE VIEW clusters AS
FROM story_clusters((SELECT list(DISTINCT cluster_id) FROM cluster_members));
