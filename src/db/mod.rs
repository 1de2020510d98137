//! The SQLite database: one connection (WAL) behind a mutex, used from `spawn_blocking`. Migrations
//! are numbered, embedded, append-only and recorded in `PRAGMA user_version`; a database written by a
//! newer proxwatch, or a file that is not a database, stops startup with an error naming the file.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use rusqlite::Connection;

/// Append-only: never edit or reorder an entry, only add new ones at the end.
const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_history", include_str!("migrations/0001_history.sql")),
    ("0002_auth", include_str!("migrations/0002_auth.sql")),
    ("0003_wear", include_str!("migrations/0003_wear.sql")),
    ("0004_health", include_str!("migrations/0004_health.sql")),
    ("0005_rollup_by_time", include_str!("migrations/0005_rollup_by_time.sql")),
    ("0006_auth_hardening", include_str!("migrations/0006_auth_hardening.sql")),
    ("0007_notify", include_str!("migrations/0007_notify.sql")),
    ("0008_notify_open", include_str!("migrations/0008_notify_open.sql")),
    ("0009_token_limits", include_str!("migrations/0009_token_limits.sql")),
    ("0010_mqtt", include_str!("migrations/0010_mqtt.sql")),
    ("0011_pve_api", include_str!("migrations/0011_pve_api.sql")),
    ("0012_settings", include_str!("migrations/0012_settings.sql")),
    ("0013_monitors", include_str!("migrations/0013_monitors.sql")),
    ("0014_monitor_events", include_str!("migrations/0014_monitor_events.sql")),
    ("0015_monitor_buckets", include_str!("migrations/0015_monitor_buckets.sql")),
    ("0016_fleet_agents", include_str!("migrations/0016_fleet_agents.sql")),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Option<Connection>>>,
    path: PathBuf,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Db({})", self.path.display())
    }
}

impl Db {
    /// Opens (creating if needed) the database at `path` and migrates it.
    ///
    /// The file is private (0600): it holds password hashes, sessions and sealed secrets. SQLite
    /// creates its `-wal` and `-shm` files with the database file's mode; files an older version
    /// left world-readable are narrowed here too.
    pub fn open(path: &Path) -> anyhow::Result<Db> {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("creating database {}", path.display()))?;
        let conn = Connection::open(path).with_context(|| format!("opening database {}", path.display()))?;
        let db = Self::init(conn, path)?;
        for suffix in ["", "-wal", "-shm"] {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            let p = std::path::PathBuf::from(p);
            if let Ok(meta) = std::fs::metadata(&p) {
                if meta.permissions().mode() & 0o077 != 0 {
                    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))
                        .with_context(|| format!("making {} private", p.display()))?;
                }
            }
        }
        Ok(db)
    }

    /// A private in-memory database (tests).
    pub fn open_in_memory() -> anyhow::Result<Db> {
        Self::init(Connection::open_in_memory()?, Path::new(":memory:"))
    }

    fn init(conn: Connection, path: &Path) -> anyhow::Result<Db> {
        let name = path.display();
        // The first read of the header is where a corrupt or foreign file shows itself.
        let version: usize = conn
            .query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
            .with_context(|| format!("database {name} is unreadable or not a SQLite database"))?
            .try_into()
            .with_context(|| format!("database {name} has a negative schema version"))?;
        if version > SCHEMA_VERSION {
            bail!(
                "database {name} has schema version {version}, newer than this proxwatch understands \
                 ({SCHEMA_VERSION}); refusing to start rather than risk it (restore a backup or upgrade proxwatch)"
            );
        }
        conn.pragma_update(None, "journal_mode", "WAL").with_context(|| format!("enabling WAL on {name}"))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // SQLite's own page cache, per connection, on top of the kernel's: 512 KiB instead of the
        // default 2 MiB. The database is small and its hot pages stay in the OS page cache; a full
        // default cache would be an eighth of the idle RSS budget (DESIGN.md §6) once the history
        // tables have grown.
        conn.pragma_update(None, "cache_size", -512)?;
        // Hot paths prepare their statements once (`prepare_cached`); the notification intake alone
        // has eight, so the default cache of 16 would evict the sampler's and the history's.
        conn.set_prepared_statement_cache_capacity(48);
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let mut conn = conn;
        for (i, (id, sql)) in MIGRATIONS.iter().enumerate().skip(version) {
            let tx = conn.transaction()?;
            tx.execute_batch(sql).with_context(|| format!("applying migration {id} to {name}"))?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
            tracing::info!(migration = id, db = %name, "database migrated");
        }
        Ok(Db { conn: Arc::new(Mutex::new(Some(conn))), path: path.to_path_buf() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The database's size on disk: the file and its write-ahead log.
    pub fn size_bytes(&self) -> u64 {
        ["", "-wal"]
            .iter()
            .filter_map(|suffix| {
                let mut p = self.path.as_os_str().to_owned();
                p.push(suffix);
                std::fs::metadata(PathBuf::from(p)).ok().map(|m| m.len())
            })
            .sum()
    }

    /// Runs `f` with the connection on the blocking pool.
    pub async fn call<T, F>(&self, f: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> anyhow::Result<T> + Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || db.call_blocking(f)).await.context("database task panicked")?
    }

    /// Runs `f` with the connection on this thread (tests, shutdown).
    pub fn call_blocking<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let mut guard = self.conn.lock().map_err(|_| anyhow::anyhow!("database mutex poisoned"))?;
        let conn = guard.as_mut().context("database is closed")?;
        f(conn)
    }

    /// Checkpoints the WAL into the main file and closes the connection; later calls fail.
    pub fn close(&self) -> anyhow::Result<()> {
        let mut guard = self.conn.lock().map_err(|_| anyhow::anyhow!("database mutex poisoned"))?;
        if let Some(conn) = guard.take() {
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .with_context(|| format!("checkpointing {}", self.path.display()))?;
            conn.close().map_err(|(_, e)| e).with_context(|| format!("closing {}", self.path.display()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    // Tests read their fixtures and run their scripted peers directly (clippy.toml bans it elsewhere).
    #![allow(clippy::disallowed_methods)]

    use super::*;

    #[test]
    fn migrates_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let db = Db::open(&path).unwrap();
        db.call_blocking(|c| {
            Ok(c.execute(
                "INSERT INTO rollup (tier, metric, ts, n, avg, min, max) VALUES (60,'x',0,1,1,1,1)",
                [],
            )?)
        })
        .unwrap();
        db.close().unwrap();
        let db = Db::open(&path).unwrap();
        let n: i64 =
            db.call_blocking(|c| Ok(c.query_row("SELECT count(*) FROM rollup", [], |r| r.get(0))?)).unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn rollups_written_before_the_time_first_key_survive_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            // A database as schema 4 left it.
            let mut conn = Connection::open(&path).unwrap();
            for (i, (_, sql)) in MIGRATIONS.iter().enumerate().take(4) {
                let tx = conn.transaction().unwrap();
                tx.execute_batch(sql).unwrap();
                tx.pragma_update(None, "user_version", (i + 1) as i64).unwrap();
                tx.commit().unwrap();
            }
            for (m, ts) in [("cpu.total", 60), ("cpu.total", 0), ("mem.used", 0)] {
                conn.execute(
                    "INSERT INTO rollup (tier, metric, ts, n, avg, min, max) VALUES (60, ?1, ?2, 60, 5, 1, 9)",
                    rusqlite::params![m, ts],
                )
                .unwrap();
            }
        }
        let db = Db::open(&path).unwrap();
        let rows: Vec<(i64, String)> = db
            .call_blocking(|c| {
                let mut st = c.prepare("SELECT ts, metric FROM rollup ORDER BY tier, ts, metric")?;
                let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
                Ok(rows)
            })
            .unwrap();
        assert_eq!(rows, vec![(0, "cpu.total".into()), (0, "mem.used".into()), (60, "cpu.total".into())]);
        let pk: String = db
            .call_blocking(|c| {
                Ok(c.query_row("SELECT sql FROM sqlite_master WHERE name = 'rollup'", [], |r| r.get(0))?)
            })
            .unwrap();
        assert!(pk.contains("PRIMARY KEY (tier, ts, metric)"), "{pk}");
    }

    /// The schema (tables, indexes, triggers, views) as SQLite records it, sorted.
    fn schema(c: &Connection) -> Vec<(String, String, String)> {
        let mut st = c
            .prepare("SELECT type, name, COALESCE(sql, '') FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// Upgrading from every earlier release's schema (0 = an empty file, 1 … N-1) ends in exactly the
    /// schema a fresh database gets, at the current version: no migration depends on being applied
    /// together with its predecessors in one start.
    #[test]
    fn every_earlier_schema_version_migrates_to_the_current_one() {
        let dir = tempfile::tempdir().unwrap();
        let fresh = Db::open(&dir.path().join("fresh.db")).unwrap();
        let want = fresh.call_blocking(|c| Ok(schema(c))).unwrap();
        assert!(want.len() > 10, "{want:?}");
        for from in 0..SCHEMA_VERSION {
            let path = dir.path().join(format!("v{from}.db"));
            {
                let mut conn = Connection::open(&path).unwrap();
                for (i, (_, sql)) in MIGRATIONS.iter().enumerate().take(from) {
                    let tx = conn.transaction().unwrap();
                    tx.execute_batch(sql).unwrap();
                    tx.pragma_update(None, "user_version", (i + 1) as i64).unwrap();
                    tx.commit().unwrap();
                }
            }
            let db = Db::open(&path).unwrap_or_else(|e| panic!("from schema {from}: {e:#}"));
            let (version, got) = db
                .call_blocking(|c| {
                    Ok((c.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))?, schema(c)))
                })
                .unwrap();
            assert_eq!(version as usize, SCHEMA_VERSION, "from schema {from}");
            assert_eq!(got, want, "from schema {from}");
        }
    }

    #[test]
    fn database_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        // One an older version left world-readable is narrowed as well.
        let old = dir.path().join("old.db");
        Connection::open(&old).unwrap().execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t(x);").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
        let _a = Db::open(&path).unwrap();
        let _b = Db::open(&old).unwrap();
        for p in [path.clone(), dir.path().join("p.db-wal"), dir.path().join("p.db-shm"), old] {
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", p.display());
        }
    }

    #[test]
    fn refuses_newer_schema_and_garbage_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        Connection::open(&path).unwrap().pragma_update(None, "user_version", 999).unwrap();
        let err = format!("{:#}", Db::open(&path).unwrap_err());
        assert!(err.contains("new.db") && err.contains("999"), "{err}");

        let path = dir.path().join("garbage.db");
        std::fs::write(&path, vec![0x42u8; 8192]).unwrap();
        let err = format!("{:#}", Db::open(&path).unwrap_err());
        assert!(err.contains("garbage.db"), "{err}");
        // Nothing was overwritten.
        assert_eq!(std::fs::read(&path).unwrap(), vec![0x42u8; 8192]);
    }
}
