-- The notification engine (src/notify/, docs/notifications.md). Times are unix milliseconds.

-- Channels: config without its secrets (JSON), the secret fields sealed (auth/seal.rs), routing (JSON).
CREATE TABLE notify_channels (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    enabled         INTEGER NOT NULL DEFAULT 1,
    config          TEXT    NOT NULL,
    secrets         BLOB,
    routing         TEXT    NOT NULL,
    created         INTEGER NOT NULL,
    updated         INTEGER NOT NULL,
    last_sent       INTEGER,
    last_error      TEXT,
    last_error_at   INTEGER,
    -- A permanent error (bad token, unknown chat): the queue waits for the admin.
    needs_attention INTEGER NOT NULL DEFAULT 0
);

-- Global settings (JSON values) and sealed ones (the AI key, the PVE webhook secret).
CREATE TABLE notify_settings (
    key    TEXT PRIMARY KEY,
    value  TEXT,
    sealed BLOB
);

-- Every event taken in, once per fingerprint.
CREATE TABLE notify_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint  TEXT    NOT NULL UNIQUE,
    kind         TEXT    NOT NULL,
    grp          TEXT    NOT NULL,
    severity     TEXT    NOT NULL,
    ts           INTEGER NOT NULL,
    received     INTEGER NOT NULL,
    cooldown_key TEXT    NOT NULL,
    fields       TEXT    NOT NULL,
    link         TEXT
);
CREATE INDEX notify_events_ts ON notify_events (ts);

-- The outbox and the history: one row per (event, channel), written in the same transaction as the
-- routing decision. status: pending | sending | retrying | sent | held | digest | aggregated |
-- suppressed | failed | expired.
CREATE TABLE notify_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        INTEGER NOT NULL REFERENCES notify_events(id) ON DELETE CASCADE,
    channel_id      INTEGER NOT NULL,
    status          TEXT    NOT NULL,
    reason          TEXT,
    created         INTEGER NOT NULL,
    next_at         INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0,
    sent_at         INTEGER,
    error           TEXT,
    reply           TEXT,
    aggregated_into INTEGER,
    -- The text as rendered from the template, and as rewritten (when AI rewrote it).
    title           TEXT,
    body            TEXT,
    ai_title        TEXT,
    ai_body         TEXT,
    ai_provider     TEXT,
    ai_latency_ms   INTEGER,
    ai_tokens_in    INTEGER,
    ai_tokens_out   INTEGER,
    ai_error        TEXT,
    UNIQUE (event_id, channel_id)
);
CREATE INDEX notify_outbox_queue ON notify_outbox (channel_id, status, id);
CREATE INDEX notify_outbox_created ON notify_outbox (created);

-- Cooldowns per channel and condition: the last send and the repeats counted since.
CREATE TABLE notify_cooldowns (
    channel_id INTEGER NOT NULL,
    key        TEXT    NOT NULL,
    last_sent  INTEGER NOT NULL,
    repeats    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (channel_id, key)
) WITHOUT ROWID;

-- Burst windows per channel and group.
CREATE TABLE notify_windows (
    channel_id INTEGER NOT NULL,
    grp        TEXT    NOT NULL,
    started    INTEGER NOT NULL,
    sent       INTEGER NOT NULL,
    PRIMARY KEY (channel_id, grp)
) WITHOUT ROWID;

-- Source cursors and engine state (JSON values): the task watch, the auth-events cursor, the
-- lifecycle marker, the last digest per channel.
CREATE TABLE notify_cursors (
    source TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

-- The security source asks "has this user logged in from this address before?" per new login.
CREATE INDEX auth_events_kind_user_ip ON auth_events (kind, user, ip);
