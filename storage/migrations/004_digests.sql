-- E-mail digests (issue 3): every attempt to send a digest, and the ledger of stories in them.

CREATE SEQUENCE digest_send_seq START 1;

-- One row per digest message built for delivery.
--   pending: handed to the transport, outcome not yet known (crash, or the server dropped the
--            connection after the message data); the next run re-sends the stored bytes with
--            the same Message-ID before anything else.
--   sent:    the server (or the outbox) accepted the message.
--   failed:  known not delivered (connection refused, login or message refused); its stories
--            stay due and go into the next digest.
CREATE TABLE digest_sends (
    id BIGINT PRIMARY KEY DEFAULT nextval('digest_send_seq'),
    digest VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    transport VARCHAR NOT NULL,       -- smtp | outbox
    message_id VARCHAR NOT NULL,
    subject VARCHAR NOT NULL,
    recipients VARCHAR[] NOT NULL,
    window_start TIMESTAMPTZ,         -- cutoff of the previous sent digest (NULL: the first)
    cutoff TIMESTAMPTZ NOT NULL,      -- when the stories were selected
    listed INTEGER NOT NULL,          -- stories shown
    omitted INTEGER NOT NULL,         -- stories over max_items, counted but not shown
    created_at TIMESTAMPTZ NOT NULL,
    sent_at TIMESTAMPTZ,
    error VARCHAR,                    -- last delivery error (also warnings such as refused recipients)
    message BLOB NOT NULL             -- the exact message, to re-send an unconfirmed delivery
);
CREATE INDEX digest_sends_digest ON digest_sends (digest);

-- The ledger: stories a digest has handled (listed or counted as omitted), per send.
-- A story counts as handled while its send is pending or sent.
CREATE TABLE digest_items (
    digest VARCHAR NOT NULL,
    story_key VARCHAR NOT NULL,       -- the story (cluster) id; an article id for a lone article
    send_id BIGINT NOT NULL,
    article_id VARCHAR NOT NULL,      -- the article shown for the story
    topic VARCHAR NOT NULL,           -- the topic it was listed under
    score DOUBLE NOT NULL,
    story_size INTEGER NOT NULL,      -- articles in the story at that time (for send_updates)
    listed BOOLEAN NOT NULL,
    PRIMARY KEY (digest, story_key, send_id)
);
