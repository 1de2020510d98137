//! `proxwatch backup` and `proxwatch restore` (issue 16): the appliance's whole state in one archive.
//!
//! The state is the database and the secret key apart from it (`secret.key`: without it the sealed
//! secrets in the database — channel tokens, the SMTP and MQTT passwords, the PVE API token — do not
//! open). A backup is a gzipped tar, mode 0600, holding a consistent copy of the database made while
//! the service runs (SQLite's `VACUUM INTO`: one read transaction, which in WAL mode never blocks the
//! writer), the key file, and a `BACKUP` manifest (proxwatch version, schema version, time).
//!
//! A restore checks the archive before it touches anything: exactly the expected entries (no paths,
//! no links), bounded sizes, the database's `PRAGMA integrity_check`, a schema version this build
//! understands, a 32-byte key. Then it moves the current files aside into `before-restore-<time>/`
//! (nothing is deleted) and puts the restored ones in their place. The caller refuses to restore while
//! the service runs.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

pub const DB_FILE: &str = "proxwatch.db";
pub const KEY_FILE: &str = "secret.key";
const MANIFEST: &str = "BACKUP";
/// The largest database a restore accepts (a year of history is a few tens of MiB).
const MAX_DB_BYTES: u64 = 4 << 30;

/// What a backup or restore did, for the command's output.
#[derive(Debug)]
pub struct Summary {
    pub db_bytes: u64,
    pub schema: i64,
    pub archive: PathBuf,
}

fn schema_version(conn: &rusqlite::Connection) -> anyhow::Result<i64> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// Writes `out` (which must not exist) from the database and key in `data_dir`.
pub fn backup(data_dir: &Path, out: &Path, now_s: i64) -> anyhow::Result<Summary> {
    use std::os::unix::fs::OpenOptionsExt;
    let db_path = data_dir.join(DB_FILE);
    if !db_path.is_file() {
        bail!("no database at {} (is --data-dir right?)", db_path.display());
    }
    // The key file is this module's own state, read directly.
    #[allow(clippy::disallowed_methods)]
    let key = std::fs::read(data_dir.join(KEY_FILE))
        .with_context(|| format!("reading {}", data_dir.join(KEY_FILE).display()))?;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .with_context(|| format!("creating {} (it must not exist yet)", out.display()))?;
    let result = (|| {
        let snap = tempfile::Builder::new()
            .prefix(".backup-")
            .tempdir_in(out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")))
            .context("creating a temporary directory beside the archive")?;
        let copy = snap.path().join(DB_FILE);
        let conn =
            rusqlite::Connection::open_with_flags(&db_path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .with_context(|| format!("opening {}", db_path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let schema = schema_version(&conn)?;
        conn.execute("VACUUM INTO ?1", [copy.to_string_lossy()])
            .with_context(|| format!("copying {}", db_path.display()))?;
        drop(conn);
        let db_bytes = std::fs::metadata(&copy)?.len();
        let gz = flate2::write::GzEncoder::new(&file, flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        let manifest = format!("proxwatch {}\nschema {schema}\ncreated {now_s}\n", crate::VERSION);
        let add =
            |tar: &mut tar::Builder<_>, name: &str, data: &mut dyn Read, len: u64| -> anyhow::Result<()> {
                let mut h = tar::Header::new_gnu();
                h.set_size(len);
                h.set_mode(0o600);
                h.set_mtime(u64::try_from(now_s).unwrap_or(0));
                h.set_cksum();
                tar.append_data(&mut h, name, data)?;
                Ok(())
            };
        add(&mut tar, MANIFEST, &mut manifest.as_bytes(), manifest.len() as u64)?;
        #[allow(clippy::disallowed_methods)]
        let mut db = std::fs::File::open(&copy)?;
        add(&mut tar, DB_FILE, &mut db, db_bytes)?;
        add(&mut tar, KEY_FILE, &mut key.as_slice(), key.len() as u64)?;
        tar.into_inner()?.finish()?.sync_all()?;
        Ok(Summary { db_bytes, schema, archive: out.to_path_buf() })
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(out);
    }
    result
}

/// Checks `archive` and, when it is sound, puts its database and key in place in `data_dir`, the
/// current ones moved into `before-restore-<now_s>/`.
pub fn restore(archive: &Path, data_dir: &Path, now_s: i64) -> anyhow::Result<Summary> {
    #[allow(clippy::disallowed_methods)]
    let file = std::fs::File::open(archive).with_context(|| format!("opening {}", archive.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".restore-")
        .tempdir_in(data_dir)
        .with_context(|| format!("creating a staging directory in {}", data_dir.display()))?;
    let mut seen = Vec::new();
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    for entry in tar.entries().context("reading the archive")? {
        let mut entry = entry.context("reading the archive")?;
        let name = entry.path()?.to_string_lossy().into_owned();
        if ![MANIFEST, DB_FILE, KEY_FILE].contains(&name.as_str()) || seen.contains(&name) {
            bail!("{} is not a proxwatch backup: unexpected entry {name:?}", archive.display());
        }
        if !entry.header().entry_type().is_file() {
            bail!("{} is not a proxwatch backup: {name} is not a plain file", archive.display());
        }
        if entry.size() > MAX_DB_BYTES {
            bail!("{name} in {} is larger than {MAX_DB_BYTES} bytes", archive.display());
        }
        let dest = staging.path().join(&name);
        // 0600 whatever the caller's umask: the key and the database are root's alone.
        let mut out = {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&dest)?
        };
        std::io::copy(&mut (&mut entry).take(MAX_DB_BYTES), &mut out)
            .with_context(|| format!("extracting {name}"))?;
        seen.push(name);
    }
    for need in [MANIFEST, DB_FILE, KEY_FILE] {
        if !seen.iter().any(|s| s == need) {
            bail!("{} is not a complete proxwatch backup: no {need}", archive.display());
        }
    }
    let staged_db = staging.path().join(DB_FILE);
    let staged_key = staging.path().join(KEY_FILE);
    if std::fs::metadata(&staged_key)?.len() != 32 {
        bail!("the backup's {KEY_FILE} is not a 32-byte key");
    }
    let schema = {
        let conn =
            rusqlite::Connection::open_with_flags(&staged_db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .context("opening the backup's database")?;
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .context("the backup's database is not a SQLite database")?;
        if check != "ok" {
            bail!("the backup's database fails its integrity check: {check}");
        }
        let schema = schema_version(&conn)?;
        if schema as usize > crate::db::SCHEMA_VERSION {
            bail!(
                "the backup has schema version {schema}, newer than this proxwatch understands ({}): \
                 restore it with the proxwatch that made it",
                crate::db::SCHEMA_VERSION
            );
        }
        schema
    };
    let aside = data_dir.join(format!("before-restore-{now_s}"));
    std::fs::create_dir(&aside).with_context(|| format!("creating {}", aside.display()))?;
    for name in [DB_FILE, &format!("{DB_FILE}-wal"), &format!("{DB_FILE}-shm"), KEY_FILE] {
        let from = data_dir.join(name);
        if from.exists() {
            std::fs::rename(&from, aside.join(name))
                .with_context(|| format!("moving {} aside", from.display()))?;
        }
    }
    for name in [DB_FILE, KEY_FILE] {
        std::fs::rename(staging.path().join(name), data_dir.join(name))
            .with_context(|| format!("putting the restored {name} in place"))?;
    }
    let db_bytes = std::fs::metadata(data_dir.join(DB_FILE))?.len();
    Ok(Summary { db_bytes, schema, archive: aside })
}

#[cfg(test)]
// The test reads the files it wrote itself.
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    #[test]
    fn a_backup_restores_and_a_bad_archive_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let db = crate::db::Db::open(&data.join(DB_FILE)).unwrap();
        db.call_blocking(|c| Ok(c.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES ('alice');")?))
            .unwrap();
        std::fs::write(data.join(KEY_FILE), [7u8; 32]).unwrap();
        let out = dir.path().join("pw.tar.gz");
        let s = backup(&data, &out, 1_733_400_000).unwrap();
        assert_eq!(s.schema as usize, crate::db::SCHEMA_VERSION);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&out).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(backup(&data, &out, 1).is_err(), "an existing archive is not overwritten");

        // The live database changes after the backup; a restore brings back the backup's state.
        db.call_blocking(|c| Ok(c.execute("DELETE FROM t", [])?)).unwrap();
        db.close().unwrap();
        std::fs::write(data.join(KEY_FILE), [9u8; 32]).unwrap();
        let r = restore(&out, &data, 1_733_500_000).unwrap();
        assert!(r.archive.ends_with("before-restore-1733500000"));
        assert_eq!(std::fs::read(data.join(KEY_FILE)).unwrap(), [7u8; 32]);
        // Restored 0600 whatever the umask (022 here would have made the key world-readable).
        for f in [KEY_FILE, DB_FILE] {
            assert_eq!(std::fs::metadata(data.join(f)).unwrap().permissions().mode() & 0o777, 0o600, "{f}");
        }
        assert_eq!(std::fs::read(r.archive.join(KEY_FILE)).unwrap(), [9u8; 32], "the old key kept aside");
        let db = crate::db::Db::open(&data.join(DB_FILE)).unwrap();
        let n: i64 =
            db.call_blocking(|c| Ok(c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?)).unwrap();
        assert_eq!(n, 1);

        // Not a backup: refused, nothing moved.
        let bad = dir.path().join("bad.tar.gz");
        let gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&bad).unwrap(),
            flate2::Compression::default(),
        );
        let mut t = tar::Builder::new(gz);
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_cksum();
        t.append_data(&mut h, "etc/passwd", &b"abc"[..]).unwrap();
        t.into_inner().unwrap().finish().unwrap();
        let e = format!("{:#}", restore(&bad, &data, 1).unwrap_err());
        assert!(e.contains("unexpected entry"), "{e}");
        assert!(!data.join("before-restore-1").exists());
        assert_eq!(std::fs::read(data.join(KEY_FILE)).unwrap(), [7u8; 32]);
    }
}
