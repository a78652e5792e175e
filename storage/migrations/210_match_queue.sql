-- Articles waiting to be matched (issue 15): each run matches what is queued here instead of
-- looking among the whole archive for articles not matched by the current matcher. An article
-- is queued when its extraction is stored with a text that has not been matched yet, and
-- leaves the queue in the transaction that stores its matches.
CREATE TABLE match_queue (
    article_id VARCHAR PRIMARY KEY
);

-- The fingerprint of the matcher (topics, entities, matcher version) that every article not
-- in match_queue was matched with. A run with another fingerprint (topics edited) queues the
-- whole archive once and records its own.
CREATE TABLE match_state (
    name VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);

-- An older database: the fingerprint most of its articles were matched with, and every
-- extracted article not matched with it (never matched, text changed, or a re-match after a
-- topic change left half done). A run with another matcher queues the rest too.
INSERT INTO match_state
SELECT 'fingerprint', mode(matched_fingerprint) FROM articles
WHERE matched_fingerprint IS NOT NULL
HAVING count(*) > 0;

INSERT INTO match_queue
SELECT id FROM articles
WHERE status <> 'pending'
  AND (matched_fingerprint IS NULL
       OR matched_fingerprint IS DISTINCT FROM (SELECT value FROM match_state WHERE name = 'fingerprint'));
