-- Site chrome (issue 13): the lines (paragraphs) of every clustered page, per outlet. A line
-- found on several pages of one outlet within the recent past (navigation, "related" lists,
-- newsletter boxes, comment policy) is left out of the text that clustering compares; the
-- article's extracted text itself is kept unchanged in ``articles.text``. Rows are appended
-- in (roughly) seen_at order, so a seen_at range filter skips old row groups.
CREATE TABLE page_lines (
    source VARCHAR NOT NULL,          -- outlet (feed) name
    line_hash BIGINT NOT NULL,        -- 64-bit hash of the line's folded words
    article_id VARCHAR NOT NULL,
    seen_at TIMESTAMPTZ NOT NULL
);

-- The language of each member: copies in other languages join a story as its editions.
ALTER TABLE cluster_members ADD COLUMN language VARCHAR;
