-- MQTT with Home Assistant discovery (issue 14): one row of settings (JSON, without the password)
-- and the broker password sealed with the appliance's key (auth/seal.rs), NULL when none.
CREATE TABLE mqtt_settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    config TEXT NOT NULL,
    password BLOB
);
