-- The service monitors' history in 10-minute buckets, time-major (issue 18): one row per monitor per
-- closed bucket, written together when the bucket closes, so a bucket costs a few pages of writes
-- whatever the number of monitors (0013's per-check rows keyed by monitor touched one page per check:
-- ~4 KiB of WAL for ~35 bytes kept). A row holds the bucket's rollup (kept 90 days) and its checks
-- (kept 24 h, then NULL). Replaces monitor_results and monitor_rollups; what they held is carried over.
CREATE TABLE monitor_buckets (
    start       INTEGER NOT NULL,
    monitor_id  INTEGER NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    -- Checks outside maintenance (what uptime counts), the up ones among them (degraded included),
    -- the degraded ones, and the checks made in maintenance or while the guest was stopped.
    checks      INTEGER NOT NULL,
    up          INTEGER NOT NULL,
    degraded    INTEGER NOT NULL,
    maintenance INTEGER NOT NULL,
    latency_avg REAL,
    latency_p95 REAL,
    -- The bucket's checks as JSON (monitors::store::StoredCheck), for 24 h.
    raw         TEXT,
    PRIMARY KEY (start, monitor_id)
) WITHOUT ROWID;

INSERT INTO monitor_buckets (start, monitor_id, checks, up, degraded, maintenance, latency_avg, latency_p95)
    SELECT start, monitor_id, checks, up, degraded, maintenance, latency_avg, latency_p95 FROM monitor_rollups;

DROP TABLE monitor_results;
DROP TABLE monitor_rollups;
