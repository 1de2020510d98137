-- Service monitors (issue 18, src/monitors/): the admin's definitions, every check's result for 24 h,
-- 10-minute rollups for 90 days, incidents and maintenance windows. Times are unix milliseconds.

CREATE TABLE monitors (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The definition as JSON (model::monitor::MonitorSpec), checked (monitors::spec) before it is written.
    spec        TEXT    NOT NULL,
    -- The guest it belongs to (also in `spec`), for a guest's monitors.
    vmid        INTEGER,
    paused      INTEGER NOT NULL DEFAULT 0,
    created_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL
);
CREATE INDEX monitors_vmid ON monitors (vmid);

-- Every check, kept 24 h.
CREATE TABLE monitor_results (
    monitor_id  INTEGER NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    ts          INTEGER NOT NULL,
    -- up | degraded | down
    status      TEXT    NOT NULL,
    latency_ms  REAL,
    error       TEXT,
    code        INTEGER,
    -- Made during a maintenance window (left out of uptime).
    maintenance INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (monitor_id, ts)
) WITHOUT ROWID;

-- Ten minutes of results (monitors::uptime::Bucket), kept 90 days.
CREATE TABLE monitor_rollups (
    monitor_id  INTEGER NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    start       INTEGER NOT NULL,
    checks      INTEGER NOT NULL,
    up          INTEGER NOT NULL,
    degraded    INTEGER NOT NULL,
    maintenance INTEGER NOT NULL,
    latency_avg REAL,
    latency_p95 REAL,
    PRIMARY KEY (monitor_id, start)
) WITHOUT ROWID;

-- A down or degraded period: from its first failure to the recovery.
CREATE TABLE monitor_incidents (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    monitor_id  INTEGER NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    -- down | degraded: the worst it reached
    kind        TEXT    NOT NULL,
    started_ms  INTEGER NOT NULL,
    ended_ms    INTEGER,
    first_error TEXT    NOT NULL,
    -- An operator's note ("planned reboot"), who wrote it and when.
    note        TEXT,
    note_by     TEXT,
    note_ms     INTEGER
);
CREATE INDEX monitor_incidents_by_monitor ON monitor_incidents (monitor_id, started_ms);

-- Maintenance windows (monitors::maintenance::Window as JSON: scope, when, note).
CREATE TABLE maintenance_windows (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    definition  TEXT    NOT NULL,
    created_ms  INTEGER NOT NULL,
    created_by  TEXT    NOT NULL
);
