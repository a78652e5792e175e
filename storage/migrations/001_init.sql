-- Feeds: conditional-GET validators and health, one row per feed name.
CREATE TABLE feeds (
    name VARCHAR PRIMARY KEY,
    url VARCHAR NOT NULL,              -- URL to fetch (updated after a permanent redirect)
    configured_url VARCHAR NOT NULL,   -- URL as written in sources.yaml
    etag VARCHAR,
    last_modified VARCHAR,
    last_fetch_at TIMESTAMPTZ,
    last_success_at TIMESTAMPTZ,
    last_status INTEGER,
    last_error VARCHAR,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    items_seen BIGINT NOT NULL DEFAULT 0
);

-- Articles: one row per canonical URL.
CREATE TABLE articles (
    id VARCHAR PRIMARY KEY,            -- hash of canonical_url
    canonical_url VARCHAR NOT NULL,
    url VARCHAR NOT NULL,
    feed_name VARCHAR NOT NULL,
    title VARCHAR NOT NULL,
    summary VARCHAR NOT NULL,
    text VARCHAR,
    author VARCHAR,
    language VARCHAR,
    language_hint VARCHAR,
    published_at TIMESTAMPTZ,
    discovered_at TIMESTAMPTZ NOT NULL,
    extracted_at TIMESTAMPTZ,
    status VARCHAR NOT NULL,           -- pending | extracted | summary_only
    attempts INTEGER NOT NULL DEFAULT 0,
    extract_error VARCHAR,
    content_hash VARCHAR,
    duplicate_of VARCHAR,              -- earlier article with the same content_hash
    matched_fingerprint VARCHAR        -- matcher fingerprint the stored matches come from
);
CREATE INDEX articles_status ON articles (status);
CREATE INDEX articles_content_hash ON articles (content_hash);

-- Topic matches with their explanation.
CREATE TABLE matches (
    article_id VARCHAR NOT NULL,
    topic VARCHAR NOT NULL,
    score DOUBLE NOT NULL,
    terms VARCHAR[] NOT NULL,
    snippets JSON NOT NULL,            -- [{"text": ..., "spans": [[start, end], ...]}, ...]
    matched_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX matches_article ON matches (article_id);

-- One row per pipeline run, for operators.
CREATE TABLE runs (
    run_id VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    status VARCHAR NOT NULL,
    stats JSON
);
