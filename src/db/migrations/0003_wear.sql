-- SSD endurance: one row per disk per day (the first SMART reading of the day), keyed by serial so a
-- disk keeps its history when its /dev name changes.
CREATE TABLE disk_wear (
    disk          TEXT    NOT NULL,
    day           INTEGER NOT NULL,
    bytes_written INTEGER,
    wear_pct      REAL,
    PRIMARY KEY (disk, day)
) WITHOUT ROWID;

-- Bytes each guest wrote per day (summed from its disk-write counter deltas, restarts handled).
CREATE TABLE guest_writes (
    vmid  INTEGER NOT NULL,
    day   INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    PRIMARY KEY (vmid, day)
) WITHOUT ROWID;
