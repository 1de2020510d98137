-- The service monitors' history in 10-minute buckets, time-major (issue 18): per monitor per closed
-- bucket one rollup row (kept 90 days) and one row of its checks (kept 24 h), both keyed bucket
-- first, written together when the bucket closes. A bucket then costs a few pages of writes whatever
-- the number of monitors (0013's per-check rows keyed by monitor touched one page per check: ~4 KiB
-- of WAL for ~35 bytes kept), and the checks leave by whole pages from the table's head when they
-- expire. Replaces monitor_results and monitor_rollups; the rollups are carried over.
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
    PRIMARY KEY (start, monitor_id)
) WITHOUT ROWID;

-- The bucket's checks as compact JSON (monitors::store), for 24 h.
CREATE TABLE monitor_checks (
    start       INTEGER NOT NULL,
    monitor_id  INTEGER NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    raw         TEXT    NOT NULL,
    PRIMARY KEY (start, monitor_id)
) WITHOUT ROWID;

INSERT INTO monitor_buckets (start, monitor_id, checks, up, degraded, maintenance, latency_avg, latency_p95)
    SELECT start, monitor_id, checks, up, degraded, maintenance, latency_avg, latency_p95 FROM monitor_rollups;

DROP TABLE monitor_results;
DROP TABLE monitor_rollups;
