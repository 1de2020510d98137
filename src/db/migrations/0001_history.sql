-- Vitals rollups: one row per (tier seconds, metric, bucket start). n = samples folded in, so that
-- partial buckets written at shutdown merge exactly with the rest of the bucket after a restart.
CREATE TABLE rollup (
    tier   INTEGER NOT NULL,
    metric TEXT    NOT NULL,
    ts     INTEGER NOT NULL,
    n      INTEGER NOT NULL,
    avg    REAL    NOT NULL,
    min    REAL    NOT NULL,
    max    REAL    NOT NULL,
    PRIMARY KEY (tier, metric, ts)
) WITHOUT ROWID;
