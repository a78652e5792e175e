-- Feed health: when the current run of failures began, and the time before which the
-- server asked us not to fetch the feed again (429/503 with Retry-After).
ALTER TABLE feeds ADD COLUMN failing_since TIMESTAMPTZ;
ALTER TABLE feeds ADD COLUMN retry_after_until TIMESTAMPTZ;
-- Feeds failing before this migration: their streak began at the latest failed fetch or earlier.
UPDATE feeds SET failing_since = last_fetch_at WHERE consecutive_failures > 0;
