-- Local users. The TOTP secret is sealed (see auth/seal.rs); totp_last_step refuses code replay.
CREATE TABLE users (
    name             TEXT PRIMARY KEY,
    role             TEXT    NOT NULL,
    phc              TEXT    NOT NULL,
    disabled         INTEGER NOT NULL DEFAULT 0,
    totp_sealed      BLOB,
    totp_enabled     INTEGER NOT NULL DEFAULT 0,
    totp_last_step   INTEGER NOT NULL DEFAULT 0,
    created          INTEGER NOT NULL,
    password_changed INTEGER NOT NULL
);

CREATE TABLE backup_codes (
    user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    hash TEXT NOT NULL,
    PRIMARY KEY (user, hash)
) WITHOUT ROWID;

CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    user       TEXT    NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    csrf       TEXT    NOT NULL,
    created    INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    expires    INTEGER NOT NULL,
    ip         TEXT,
    user_agent TEXT
);

CREATE TABLE api_tokens (
    id        TEXT PRIMARY KEY,
    user      TEXT    NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    name      TEXT    NOT NULL,
    scope     TEXT    NOT NULL,
    hash      TEXT    NOT NULL,
    created   INTEGER NOT NULL,
    expires   INTEGER,
    last_used INTEGER,
    last_ip   TEXT
);

CREATE TABLE auth_events (
    id     INTEGER PRIMARY KEY,
    ts     INTEGER NOT NULL,
    kind   TEXT    NOT NULL,
    user   TEXT,
    ip     TEXT,
    detail TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX auth_events_ts ON auth_events (ts);
