-- The outbox rows still waiting for a time (retries, holds, digests, burst members not yet summarised).
-- The summaries (`members`) and the engine's next wake-up (`next_due`) read only these; without this
-- index both walked every aggregated row the history keeps (up to the retention cap), on every pass.
-- Sent, failed, expired and suppressed rows have no next_at; summarised members have aggregated_into.
CREATE INDEX notify_outbox_open ON notify_outbox (channel_id, status, next_at)
    WHERE aggregated_into IS NULL AND next_at IS NOT NULL;
