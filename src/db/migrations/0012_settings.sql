-- The Settings page's layer of the configuration (issue 16): one row per setting an admin changed in
-- the UI, between the config file and the environment (config.rs `Layers`). `value` is the value as
-- JSON (`300`, `true`, `"/proxwatch/"`, `["10.0.0.0/8"]`); a reset deletes the row.
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_ms INTEGER NOT NULL,
    updated_by TEXT NOT NULL
);
