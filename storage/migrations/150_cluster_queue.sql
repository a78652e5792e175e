-- Articles waiting to be clustered (issue 15): each run clusters what is queued here instead of
-- looking for unclustered articles among the whole archive. An article is queued whenever its
-- extraction is stored, and leaves the queue when it becomes a cluster member (or turns out
-- to be a second copy of a page, which is never clustered).
CREATE TABLE cluster_queue (
    article_id VARCHAR PRIMARY KEY
);

INSERT INTO cluster_queue
SELECT id FROM articles
WHERE status <> 'pending' AND id NOT IN (SELECT article_id FROM cluster_members);
