-- The health monitor (src/health/): findings by key, the events outbox the notification engine
-- consumes (docs/health-events.md), threshold overrides and exclusions. Times are unix milliseconds.

-- One row per finding key: the current (or last) episode of a condition.
CREATE TABLE health_findings (
    key             TEXT    PRIMARY KEY,
    category        TEXT    NOT NULL,
    check_id        TEXT    NOT NULL,
    severity        TEXT    NOT NULL,
    reason          TEXT    NOT NULL,
    details         TEXT    NOT NULL DEFAULT 'null',
    object_kind     TEXT,
    object_id       TEXT,
    first_seen      INTEGER NOT NULL,
    last_seen       INTEGER NOT NULL,
    occurrences     INTEGER NOT NULL DEFAULT 1,
    -- active | dismissed | resolved
    state           TEXT    NOT NULL,
    -- A dismissal belongs to the key and outlives a resolution: 1 while one is in effect,
    -- dismissed_until NULL meaning permanent.
    dismissed       INTEGER NOT NULL DEFAULT 0,
    dismissed_until INTEGER,
    resolved_at     INTEGER,
    -- Events emitted for this key so far (part of each event's fingerprint).
    seq             INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX health_findings_state ON health_findings (state, resolved_at);

-- The outbox: every event, written in the same transaction as the finding change it records.
CREATE TABLE health_events (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint       TEXT    NOT NULL UNIQUE,
    ts                INTEGER NOT NULL,
    -- new | escalated | deescalated | resolved | dismissed | undismissed | expired
    kind              TEXT    NOT NULL,
    key               TEXT    NOT NULL,
    category          TEXT    NOT NULL,
    severity          TEXT    NOT NULL,
    previous_severity TEXT,
    reason            TEXT    NOT NULL,
    details           TEXT    NOT NULL DEFAULT 'null',
    -- resolved: how long the condition lasted, seconds.
    duration_s        INTEGER,
    -- Who dismissed/undismissed (a user name), else NULL.
    actor             TEXT,
    -- 0: for the timeline only (dismissed findings, objects excluded from notifications, ...).
    notify            INTEGER NOT NULL DEFAULT 1,
    claimed_by        TEXT,
    claimed_at        INTEGER,
    delivered_at      INTEGER
);
CREATE INDEX health_events_pending ON health_events (notify, delivered_at, id);
CREATE INDEX health_events_ts ON health_events (ts);

-- The admin's threshold overrides (absent = the declared default).
CREATE TABLE health_thresholds (
    key        TEXT    PRIMARY KEY,
    value      REAL    NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Objects left out of health (findings not active) and/or notifications (events not notified).
CREATE TABLE health_exclusions (
    kind          TEXT    NOT NULL,
    id            TEXT    NOT NULL,
    health        INTEGER NOT NULL,
    notifications INTEGER NOT NULL,
    PRIMARY KEY (kind, id)
) WITHOUT ROWID;
