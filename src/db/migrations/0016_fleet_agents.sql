-- The fleet and the Docker push agents (issue 19, src/fleet/, src/agents/). Times are unix seconds.

-- Other proxwatch appliances shown beside this one.
CREATE TABLE fleet_peers (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL,
    -- The peer's base URL (scheme, host, port, optional base path), unique.
    url         TEXT    NOT NULL UNIQUE,
    -- Its read-scoped API token, sealed (auth::seal, purpose "fleet").
    token       BLOB    NOT NULL,
    -- The pinned certificate's SHA-256 (AB:CD:…); NULL over plain HTTP.
    fingerprint TEXT,
    -- Why polling stopped (token refused, certificate changed) until the admin re-tests it.
    blocked     TEXT,
    -- The certificate shown when the pin refused it, for the admin to accept.
    seen        TEXT,
    -- The last capability check (JSON list of model::fleet::Check) and when it ran.
    checks      TEXT    NOT NULL DEFAULT '[]',
    checked_at  INTEGER,
    created     INTEGER NOT NULL
);

-- One Docker agent per ingest token: its latest report (parsed, masked JSON), written when its
-- containers' states change and once an hour otherwise.
CREATE TABLE docker_agents (
    id          TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL,
    vmid        INTEGER,
    -- The interval given at creation (the reports then declare their own).
    interval_s  INTEGER NOT NULL DEFAULT 60,
    created     INTEGER NOT NULL,
    last_report INTEGER,
    report      TEXT
);

-- Container state changes (new, state, health, restart), the newest `agents.history` per agent.
CREATE TABLE docker_history (
    agent       TEXT    NOT NULL REFERENCES docker_agents (id) ON DELETE CASCADE,
    ts          INTEGER NOT NULL,
    container   TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    health      TEXT,
    restarts    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX docker_history_agent ON docker_history (agent, ts);
