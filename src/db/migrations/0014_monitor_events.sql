-- The service monitors' changes worth a notification (down, recovered, degraded, flapping, settled,
-- certificate expiring), written in the same transaction as the check that found them. The
-- notification engine reads past the last id it took (notify/sources/monitors.rs), so a change is
-- never lost between the monitors and the engine. Kept 90 days; an incident lists its own.
CREATE TABLE monitor_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    monitor_id  INTEGER NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    incident_id INTEGER REFERENCES monitor_incidents (id) ON DELETE SET NULL,
    ts          INTEGER NOT NULL,
    -- down | degraded | recovered | flapping | settled | cert_expiring
    kind        TEXT    NOT NULL,
    -- Whether it goes to the notification engine (false in maintenance or while flapping).
    notify      INTEGER NOT NULL,
    -- The monitor's name, guest and target, and what happened (error, outage_ms, days, ...), as JSON.
    detail      TEXT    NOT NULL
);
CREATE INDEX monitor_events_by_incident ON monitor_events (incident_id);
