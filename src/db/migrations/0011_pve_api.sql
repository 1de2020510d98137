-- The PVE API token (issue 15): one row, made by `proxwatch pve connect` (or the Settings button)
-- and removed by `proxwatch pve disconnect`. The secret is sealed with the appliance's key
-- (auth/seal.rs); `created` is what the connect made in PVE (JSON: user, role, privileges, ACLs).
CREATE TABLE pve_api (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    token_id TEXT NOT NULL,
    secret BLOB NOT NULL,
    actions INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    created TEXT NOT NULL
);
