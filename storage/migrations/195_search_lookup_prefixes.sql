-- Word lookups compare integers, not strings (issue 16). A lookup reads one row group of
-- postings per segment; comparing a compressed VARCHAR column costs about four times as much
-- as an integer one. key_prefix and word_prefix hold the first 16 bytes (UTF-8) of key and word
-- as a big-endian number, zero-padded: equal for equal strings, ordered as the strings are, so
-- the min-max zone maps skip row groups as before, and a prefix of the word is a range of them.
-- storage/search_index.py computes the same numbers (_PREFIX_SQL and prefix_range); rows are
-- copied in their order (segment, key), which keeps the zone maps tight.
CREATE TABLE search_postings_new (
    segment INTEGER NOT NULL,
    key VARCHAR NOT NULL,
    word VARCHAR NOT NULL,
    key_prefix UHUGEINT NOT NULL,     -- first 16 bytes of key
    word_prefix UHUGEINT NOT NULL,    -- first 16 bytes of word
    docs INTEGER[] NOT NULL,
    impacts FLOAT[] NOT NULL,
    fields UTINYINT[] NOT NULL
);
INSERT INTO search_postings_new
SELECT segment, key, word,
       ('0x' || left(hex(encode(key)) || repeat('0', 32), 32))::UHUGEINT,
       ('0x' || left(hex(encode(word)) || repeat('0', 32), 32))::UHUGEINT,
       docs, impacts, fields
FROM search_postings;
DROP TABLE search_postings;
ALTER TABLE search_postings_new RENAME TO search_postings;
