//! proxwatch's own lifecycle: a start after an unclean stop (a crash, `kill -9`, power loss:
//! `system.unclean_stop`) and a host reboot (the kernel's boot id changed: `system.rebooted`).
//!
//! The marker is one row of the engine's key/value table `notify_cursors(source, value)` (the engine's
//! migration creates it), key [`KEY`], a JSON [`Marker`]: `running` from [`on_start`] until
//! [`on_clean_stop`], with the last heartbeat's time ([`heartbeat`], at most once a minute) so an
//! unclean stop can say when proxwatch was last seen alive. The boot id is
//! `/proc/sys/kernel/random/boot_id` (random per boot, proc(5)), read through the host seam.

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::utc;
use crate::host::Host;
use crate::notify::Event;

/// The marker's key in `notify_cursors`.
pub const KEY: &str = "system.lifecycle";

/// What the marker row holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    /// `running` while proxwatch runs, `stopped` after a clean stop.
    pub state: String,
    /// The boot id of the last start that knew one.
    #[serde(default)]
    pub boot_id: Option<String>,
    /// When that run started (unix ms): names its unclean stop, if it has one.
    pub started_ms: i64,
    /// The last heartbeat (unix ms).
    pub last_seen_ms: i64,
}

fn read(conn: &Connection) -> rusqlite::Result<Option<Marker>> {
    let raw: Option<String> = conn
        .query_row("SELECT value FROM notify_cursors WHERE source = ?1", params![KEY], |r| r.get(0))
        .optional()?;
    // A row that does not parse (written by a later version, or damaged) is treated as absent: at
    // worst one event is missed, and the next start writes a good one.
    Ok(raw.and_then(|s| serde_json::from_str(&s).ok()))
}

fn write(conn: &Connection, m: &Marker) -> rusqlite::Result<()> {
    let json = serde_json::to_string(m).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    conn.execute(
        "INSERT INTO notify_cursors (source, value) VALUES (?1, ?2)
         ON CONFLICT (source) DO UPDATE SET value = excluded.value",
        params![KEY, json],
    )?;
    Ok(())
}

/// At start: the events the previous run's marker calls for (none on the very first start), then
/// marks this run `running` with `boot_id` (the last known one is kept when it cannot be read).
pub fn on_start(conn: &Connection, boot_id: Option<&str>, now_ms: i64) -> rusqlite::Result<Vec<Event>> {
    let prev = read(conn)?;
    let mut out = Vec::new();
    if let Some(p) = &prev {
        if p.state == "running" {
            out.push(
                Event::new(
                    "system.unclean_stop",
                    format!("system:unclean_stop:{}", p.started_ms),
                    "system.unclean_stop",
                    now_ms,
                )
                .field("last_seen", utc(p.last_seen_ms))
                .field("started", utc(p.started_ms)),
            );
        }
        if let (Some(old), Some(new)) = (p.boot_id.as_deref(), boot_id)
            && old != new
        {
            out.push(
                Event::new("system.rebooted", format!("system:rebooted:{new}"), "system.rebooted", now_ms)
                    .field("boot_id", new)
                    .field("previous_boot_id", old)
                    .field("last_seen", utc(p.last_seen_ms)),
            );
        }
    }
    let boot_id = boot_id.map(str::to_string).or_else(|| prev.and_then(|p| p.boot_id));
    write(conn, &Marker { state: "running".into(), boot_id, started_ms: now_ms, last_seen_ms: now_ms })?;
    Ok(out)
}

/// How stale "last seen running" may get: the heartbeat writes at most this often, so an idle
/// appliance does not write to its database every minute for it.
pub const HEARTBEAT_MS: i64 = 10 * 60_000;

/// Notes that proxwatch is alive at `now_ms` (the engine calls it once a minute; it writes at most
/// every [`HEARTBEAT_MS`]).
pub fn heartbeat(conn: &Connection, now_ms: i64) -> rusqlite::Result<()> {
    match read(conn)? {
        Some(m)
            if m.state == "running" && now_ms - m.last_seen_ms < HEARTBEAT_MS && now_ms >= m.last_seen_ms =>
        {
            Ok(())
        }
        Some(mut m) => {
            m.last_seen_ms = now_ms;
            write(conn, &m)
        }
        // No marker (on_start has not run, or the row was damaged): one that is running now.
        None => write(
            conn,
            &Marker { state: "running".into(), boot_id: None, started_ms: now_ms, last_seen_ms: now_ms },
        ),
    }
}

/// Clears the marker at a clean stop: the next start is not an unclean one.
pub fn on_clean_stop(conn: &Connection) -> rusqlite::Result<()> {
    if let Some(mut m) = read(conn)? {
        m.state = "stopped".into();
        write(conn, &m)?;
    }
    Ok(())
}

/// This boot's id (`/proc/sys/kernel/random/boot_id`), `None` when the host cannot say (a replayed
/// host without the file).
pub async fn boot_id(host: &Host) -> Option<String> {
    let id = host.read("/proc/sys/kernel/random/boot_id").ok()?;
    let id = id.trim();
    (!id.is_empty()).then(|| id.to_string())
}

#[cfg(test)]
mod tests {
    // The test writes its scenario's files itself (clippy.toml bans host file access elsewhere).
    #![allow(clippy::disallowed_methods)]

    use super::*;
    use crate::notify::template::{Detail, render};

    /// The engine's table, exactly as its migration creates it.
    fn db() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE notify_cursors (source TEXT PRIMARY KEY, value TEXT NOT NULL);")
            .unwrap();
        c
    }

    const BOOT_A: &str = "7c1e4a9b-2f3d-4e5f-8a9b-0c1d2e3f4a5b";
    const BOOT_B: &str = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";

    #[test]
    fn first_start_clean_restart_crash_and_reboot() {
        let c = db();
        assert!(on_start(&c, Some(BOOT_A), 1_000_000).unwrap().is_empty(), "the very first start");
        heartbeat(&c, 1_060_000).unwrap();
        on_clean_stop(&c).unwrap();
        assert!(on_start(&c, Some(BOOT_A), 2_000_000).unwrap().is_empty(), "a clean restart");
        heartbeat(&c, 1_722_477_600_000).unwrap();
        // Killed: no clean stop, same boot.
        let evs = on_start(&c, Some(BOOT_A), 1_722_477_700_000).unwrap();
        assert_eq!(evs.len(), 1);
        let e = &evs[0];
        assert_eq!(e.kind, "system.unclean_stop");
        assert_eq!(e.fingerprint, "system:unclean_stop:2000000");
        assert_eq!(e.fields["last_seen"], "2024-08-01 02:00:00 UTC");
        let (_, body) = render(&e.kind, "en", Detail::Full, &e.fields);
        assert!(body.ends_with("Last seen running: 2024-08-01 02:00:00 UTC"), "{body}");
        // Stopped cleanly for a host reboot.
        on_clean_stop(&c).unwrap();
        let evs = on_start(&c, Some(BOOT_B), 1_722_478_000_000).unwrap();
        let kinds: Vec<&str> = evs.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["system.rebooted"]);
        assert_eq!(evs[0].fingerprint, format!("system:rebooted:{BOOT_B}"));
        // Power lost: both.
        let evs = on_start(&c, Some(BOOT_A), 1_722_479_000_000).unwrap();
        let kinds: Vec<&str> = evs.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["system.unclean_stop", "system.rebooted"]);
        // A boot id that cannot be read keeps the last known one and claims no reboot.
        on_clean_stop(&c).unwrap();
        assert!(on_start(&c, None, 1_722_480_000_000).unwrap().is_empty());
        on_clean_stop(&c).unwrap();
        assert_eq!(on_start(&c, Some(BOOT_B), 1_722_481_000_000).unwrap()[0].kind, "system.rebooted");
    }

    #[test]
    fn a_damaged_marker_is_a_first_start() {
        let c = db();
        c.execute("INSERT INTO notify_cursors (source, value) VALUES (?1, 'not json')", params![KEY])
            .unwrap();
        assert!(on_start(&c, Some(BOOT_A), 5).unwrap().is_empty());
        assert_eq!(read(&c).unwrap().unwrap().state, "running");
        on_clean_stop(&c).unwrap();
        on_clean_stop(&c).unwrap();
        assert_eq!(read(&c).unwrap().unwrap().state, "stopped");
    }

    #[tokio::test]
    async fn the_boot_id_comes_through_the_host_seam() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("manifest.toml"), "[scenario]\nname = \"boot\"\n").unwrap();
        let scenario = crate::host::replay::Scenario::load(dir.path()).unwrap();
        let host = Host::replay(scenario, std::time::Duration::from_secs(1));
        assert_eq!(boot_id(&host).await, None, "no file, no id");
        std::fs::create_dir_all(dir.path().join("proc/sys/kernel/random")).unwrap();
        std::fs::write(dir.path().join("proc/sys/kernel/random/boot_id"), format!("{BOOT_A}\n")).unwrap();
        assert_eq!(boot_id(&host).await.as_deref(), Some(BOOT_A));
    }
}
