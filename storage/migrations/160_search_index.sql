-- Full-text search (issue 16): an inverted index of word forms kept in segments, like Lucene.
-- Each indexing batch writes one small segment; segments of one tier are merged ten at a time
-- (storage/search_index.py), so a lookup reads a few dozen rows per word, not one per article.

-- One row per indexed version of an article's text. Re-indexing an article (its text changed)
-- adds a new doc and marks the old one dead; merges drop dead docs from the postings.
CREATE TABLE search_docs (
    doc INTEGER NOT NULL,             -- ascending in indexing order
    article_id VARCHAR NOT NULL,
    feed_name VARCHAR NOT NULL,
    language VARCHAR,
    seen_at TIMESTAMPTZ NOT NULL,     -- published_at, else discovered_at
    live BOOLEAN NOT NULL
);

-- Postings: the docs of one segment that contain a word form, with per-doc relevance.
-- Rows of a segment are written ordered by key, so min-max zone maps skip most row groups.
CREATE TABLE search_postings (
    segment INTEGER NOT NULL,
    key VARCHAR NOT NULL,             -- stem (newswatch.text.analyse), matched by plain words
    word VARCHAR NOT NULL,            -- folded surface form, matched by prefix wildcards
    docs INTEGER[] NOT NULL,          -- ascending
    impacts FLOAT[] NOT NULL,         -- the matcher's BM25-style score of this word in each doc
    fields UTINYINT[] NOT NULL        -- 1: in the title, 2: in the body, 3: both
);

CREATE TABLE search_segments (
    segment INTEGER PRIMARY KEY,
    tier INTEGER NOT NULL,            -- 0: written by one batch; n: merged from ten of tier n-1
    first_doc INTEGER NOT NULL,
    last_doc INTEGER NOT NULL,
    docs INTEGER NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

-- Indexing progress: the (extracted_at, id) of the last article indexed.
CREATE TABLE search_state (
    name VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);
