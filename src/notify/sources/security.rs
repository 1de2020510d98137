//! proxwatch's own security events, read from the `auth_events` table (written by
//! `auth::audit`) past the last row id handled: a login from an address the user never logged in
//! from (`security.new_ip_login`), two-factor turned off (`security.totp_disabled`), an API token with
//! the admin scope (`security.admin_token_created`) and a new user (`security.user_added`).
//!
//! The row id is the fingerprint (`auth:<id>`): rows are never renumbered, so a row read twice is one
//! event. Quirks: the table keeps its newest 20 000 rows (`audit::KEEP_EVENTS`), so an address last
//! used before the oldest kept row counts as new again; a login with no address recorded is never
//! "new".

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::utc;
use crate::notify::Event;

/// Rows read per step at most; the rest wait for the next step.
pub const BATCH: i64 = 500;

/// The `auth_events` kinds this source reads (`auth::audit::Kind::as_str`).
const KINDS: [&str; 4] = ["login_ok", "totp_disabled", "token_created", "user_created"];

/// What the security source remembers: the last `auth_events` row id handled.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityWatch {
    #[serde(default)]
    last_id: Option<i64>,
}

struct Row {
    id: i64,
    ts: i64,
    kind: String,
    user: Option<String>,
    ip: Option<String>,
    detail: String,
}

impl SecurityWatch {
    /// Reads the rows added since the last step. The first step only notes the newest row (a first
    /// start, or state lost, does not replay the log).
    pub fn step(&mut self, conn: &Connection) -> rusqlite::Result<Vec<Event>> {
        let hi: i64 = conn.query_row("SELECT COALESCE(MAX(id), 0) FROM auth_events", [], |r| r.get(0))?;
        let Some(last) = self.last_id else {
            self.last_id = Some(hi);
            return Ok(Vec::new());
        };
        // Rows above `hi` (written after the first query) wait for the next step.
        let mut stmt = conn.prepare_cached(
            "SELECT id, ts, kind, user, ip, detail FROM auth_events
             WHERE id > ?1 AND id <= ?2 AND kind IN (?3, ?4, ?5, ?6) ORDER BY id LIMIT ?7",
        )?;
        let rows: Vec<Row> = stmt
            .query_map(params![last, hi, KINDS[0], KINDS[1], KINDS[2], KINDS[3], BATCH], |r| {
                Ok(Row {
                    id: r.get(0)?,
                    ts: r.get(1)?,
                    kind: r.get(2)?,
                    user: r.get(3)?,
                    ip: r.get(4)?,
                    detail: r.get(5)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        let full = i64::try_from(rows.len()).unwrap_or(i64::MAX) >= BATCH;
        let mut out = Vec::new();
        for row in &rows {
            if let Some(ev) = event(conn, row)? {
                out.push(ev);
            }
        }
        self.last_id = Some(match rows.last() {
            Some(r) if full => r.id,
            _ => hi.max(last),
        });
        Ok(out)
    }
}

/// Whether `user` logged in from `ip` before row `id`. Written for an index on
/// `auth_events(kind, user, ip)`; without one it scans the (bounded) table.
fn seen_before(conn: &Connection, user: &str, ip: &str, id: i64) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT 1 FROM auth_events WHERE kind = 'login_ok' AND user = ?1 AND ip = ?2 AND id < ?3 LIMIT 1",
    )?
    .query_row(params![user, ip, id], |_| Ok(()))
    .optional()
    .map(|r| r.is_some())
}

fn event(conn: &Connection, row: &Row) -> rusqlite::Result<Option<Event>> {
    let user = row.user.clone().unwrap_or_default();
    let ip = row.ip.clone().unwrap_or_default();
    let ts_ms = row.ts.saturating_mul(1000);
    let base = |kind: &str, key: &str| {
        Event::new(kind, format!("auth:{}", row.id), format!("{kind}:{key}"), ts_ms)
            .field("user", user.clone())
            .field("when", utc(ts_ms))
            .linked("/security")
    };
    let with_ip = |ev: Event| if ip.is_empty() { ev } else { ev.field("ip", ip.clone()) };
    Ok(match row.kind.as_str() {
        "login_ok" => {
            if ip.is_empty() || user.is_empty() || seen_before(conn, &user, &ip, row.id)? {
                return Ok(None);
            }
            Some(
                base("security.new_ip_login", &format!("{user}:{ip}"))
                    .field("ip", ip.clone())
                    .field("actor", user.clone()),
            )
        }
        "totp_disabled" => {
            // The account's own request (auth::store::two_factor::totp_disable), or an admin's reset
            // with `proxwatch` on the command line (detail "reset from the command line").
            let actor = if row.detail.contains("command line") { "the command line" } else { user.as_str() };
            let mut ev = with_ip(base("security.totp_disabled", &user)).field("actor", actor);
            if !row.detail.is_empty() {
                ev = ev.field("detail", row.detail.clone());
            }
            Some(ev)
        }
        "token_created" => {
            // detail is "<token id> <scope>" (auth::store::tokens), scope by `auth::Level::scope`.
            let (token, scope) = row.detail.rsplit_once(' ').unwrap_or((row.detail.as_str(), ""));
            if scope != crate::auth::Level::Admin.scope() {
                return Ok(None);
            }
            Some(
                with_ip(base("security.admin_token_created", &user))
                    .field("actor", user.clone())
                    .field("detail", format!("token {token}"))
                    .field("token", token),
            )
        }
        "user_created" => {
            // detail is "by <admin>" (api::auth::create_user).
            let actor = row.detail.strip_prefix("by ").unwrap_or("");
            let mut ev = with_ip(base("security.user_added", &user)).field("detail", row.detail.clone());
            if !actor.is_empty() {
                ev = ev.field("actor", actor);
            }
            Some(ev)
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;
    use crate::notify::template::{Detail, render};

    fn add(c: &Connection, ts: i64, kind: &str, user: Option<&str>, ip: Option<&str>, detail: &str) {
        c.execute(
            "INSERT INTO auth_events (ts, kind, user, ip, detail, last_ts) VALUES (?1, ?2, ?3, ?4, ?5, ?1)",
            params![ts, kind, user, ip, detail],
        )
        .unwrap();
    }

    #[test]
    fn baseline_then_new_addresses_2fa_admin_tokens_and_users() {
        let db = Db::open_in_memory().unwrap();
        db.call_blocking(|c| {
            add(c, 1_700_000_000, "login_ok", Some("root"), Some("192.0.2.10"), "");
            let mut w = SecurityWatch::default();
            assert!(w.step(c)?.is_empty(), "the first step is a baseline");
            assert_eq!(w.last_id, Some(1));

            add(c, 1_700_000_100, "login_ok", Some("root"), Some("192.0.2.10"), ""); // known address
            add(c, 1_700_000_200, "login_failed", Some("root"), Some("203.0.113.9"), "");
            add(c, 1_700_000_300, "login_ok", Some("root"), Some("203.0.113.9"), ""); // new
            add(c, 1_700_000_400, "login_ok", Some("root"), Some("203.0.113.9"), ""); // seen now
            add(c, 1_700_000_500, "login_ok", Some("alice"), Some("192.0.2.10"), ""); // new for alice
            add(c, 1_700_000_600, "login_ok", Some("alice"), None, ""); // no address: never new
            add(c, 1_700_000_700, "totp_disabled", Some("alice"), Some("192.0.2.10"), "");
            add(c, 1_700_000_800, "token_created", Some("root"), Some("192.0.2.10"), "tok_a1b2 read");
            add(c, 1_700_000_900, "token_created", Some("root"), Some("192.0.2.10"), "tok_c3d4 admin");
            add(c, 1_700_001_000, "user_created", Some("bob"), Some("192.0.2.10"), "by root");
            add(c, 1_700_001_100, "totp_disabled", Some("bob"), None, "reset from the command line");
            let evs = w.step(c)?;
            let brief: Vec<(&str, &str, &str)> = evs
                .iter()
                .map(|e| (e.kind.as_str(), e.fingerprint.as_str(), e.cooldown_key.as_str()))
                .collect();
            assert_eq!(
                brief,
                vec![
                    ("security.new_ip_login", "auth:4", "security.new_ip_login:root:203.0.113.9"),
                    ("security.new_ip_login", "auth:6", "security.new_ip_login:alice:192.0.2.10"),
                    ("security.totp_disabled", "auth:8", "security.totp_disabled:alice"),
                    ("security.admin_token_created", "auth:10", "security.admin_token_created:root"),
                    ("security.user_added", "auth:11", "security.user_added:bob"),
                    ("security.totp_disabled", "auth:12", "security.totp_disabled:bob"),
                ]
            );
            let login = &evs[0];
            assert_eq!(login.fields["when"], "2023-11-14 22:18:20 UTC");
            assert_eq!(login.ts_ms, 1_700_000_300_000);
            assert_eq!(login.link.as_deref(), Some("/security"));
            let (title, body) = render(&login.kind, "en", Detail::Full, &login.fields);
            assert_eq!(title, "Login from a new address: root");
            assert!(body.contains("root logged in to proxwatch from 203.0.113.9"), "{body}");
            let (_, body) = render(&evs[3].kind, "en", Detail::Full, &evs[3].fields);
            assert_eq!(
                body,
                "An API token with the admin scope was created for root: token tok_c3d4.\n\nFrom: 192.0.2.10"
            );
            let (_, body) = render(&evs[4].kind, "en", Detail::Full, &evs[4].fields);
            assert!(body.ends_with("By: root\nFrom: 192.0.2.10"), "{body}");
            assert_eq!(evs[5].fields["actor"], "the command line");
            assert!(!evs[5].fields.contains_key("ip"));
            assert!(w.step(c)?.is_empty(), "each row once");
            // The state as the engine stores it.
            let back: SecurityWatch = serde_json::from_str(&serde_json::to_string(&w).unwrap()).unwrap();
            assert_eq!(back, w);
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn a_long_backlog_is_read_in_bounded_batches() {
        let db = Db::open_in_memory().unwrap();
        db.call_blocking(|c| {
            let mut w = SecurityWatch::default();
            assert!(w.step(c)?.is_empty());
            assert_eq!(w.last_id, Some(0), "an empty table is a baseline too");
            for i in 0..(BATCH + 20) {
                add(
                    c,
                    1_700_000_000 + i,
                    "login_ok",
                    Some("root"),
                    Some(&format!("10.0.{}.{}", i / 250, i % 250)),
                    "",
                );
            }
            assert_eq!(w.step(c)?.len(), BATCH as usize);
            assert_eq!(w.step(c)?.len(), 20);
            assert!(w.step(c)?.is_empty());
            // Rows of other kinds move the mark without events.
            add(c, 1_800_000_000, "logout", Some("root"), Some("10.0.0.1"), "");
            assert!(w.step(c)?.is_empty());
            assert_eq!(w.last_id, Some(BATCH + 21));
            Ok(())
        })
        .unwrap();
    }
}
