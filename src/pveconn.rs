//! The connect step to the PVE API (issue 15): `proxwatch pve connect` and the Settings button make
//! a dedicated user, role and privilege-separated API token with PVE's own `pveum` (through the host
//! seam, so a replayed scenario answers it), store the token's secret sealed with the appliance's
//! key (`auth::seal`, table `pve_api`, migration 0011), and put it into the shared [`PveLink`] the
//! guest actions (and the inventory) use. `proxwatch pve disconnect` removes all of it again.
//!
//! What is made (each checked against pve-access-control: `PVE/CLI/pveum.pm` maps the commands to
//! `PVE/API2/User.pm` `create_user`/`update_user`/`generate_token`/`remove_token`/`delete_user`,
//! `PVE/API2/Role.pm` `create_role`/`update_role` (`--privs` replaces the list unless `--append`)
//! /`delete_role`, `PVE/API2/ACL.pm` `update_acl` (`--users`, `--tokens`, `--roles`, `--propagate`,
//! `acl delete` = `--delete 1`)):
//! - the user `proxwatch@pve` (PVE realm: it has no password and cannot log in), with a comment that
//!   says what it is;
//! - the role `ProxwatchMonitor` with `Sys.Audit, VM.Audit, Datastore.Audit, Pool.Audit`, plus
//!   `VM.GuestAgent.Audit` where PVE has it (9.0 on: the guest agent's read-only commands) and
//!   `VM.PowerMgmt` when guest actions are allowed;
//! - the role on `/` (propagated) for the user AND for the token: a privilege-separated token's
//!   rights are the intersection of its user's and its own;
//! - the token `proxwatch@pve!proxwatch`, `--privsep 1`; `token add` prints its secret (`value`)
//!   once, on stdout, never in an argv.
//!
//! Idempotent: an existing user and role are updated, an existing token is removed and made again
//! (its old secret is then dead). The secret never appears in an argv, a log line or an answer.
//!
//! The running daemon follows a connect or disconnect made by the CLI (another process) through
//! [`run`]: one `PRAGMA data_version` every few seconds (it changes only on another connection's
//! commit), the row re-read only when it changed.

use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::auth::seal::Keys;
use crate::db::Db;
use crate::host::pveapi::{PveLink, PveRequest, Token};
use crate::host::{Host, ToolError};
use crate::model::Clock;
use crate::tools::pveapi;
use crate::workers::Periodic;

pub const USER: &str = "proxwatch@pve";
pub const TOKEN_NAME: &str = "proxwatch";
pub const TOKEN_ID: &str = "proxwatch@pve!proxwatch";
pub const ROLE: &str = "ProxwatchMonitor";
/// What proxwatch reads.
pub const AUDIT_PRIVS: &[&str] = &["Sys.Audit", "VM.Audit", "Datastore.Audit", "Pool.Audit"];
/// Guest power actions (start, shutdown, stop, reboot, suspend, resume).
pub const POWER_PRIV: &str = "VM.PowerMgmt";
/// The user's and the token's comment in PVE.
pub const COMMENT: &str = "proxwatch monitoring appliance (read-only audit, power actions if allowed); `proxwatch pve disconnect` removes it";

/// The guest agent's read-only commands (ping, network-get-interfaces: the service monitors' guest
/// check and suggestions). PVE 9 has it (qemu-server `api: agent: use more specific guest agent
/// privileges`, 2025-07); PVE 8 asks for `VM.Monitor`, which also opens the QEMU monitor, so it is
/// not granted there: the guest-agent check then says what PVE refused.
pub const AGENT_PRIV: &str = "VM.GuestAgent.Audit";

/// The privileges of the role for `actions`.
pub fn privileges(actions: bool) -> Vec<String> {
    let mut p: Vec<String> = AUDIT_PRIVS.iter().map(|s| s.to_string()).collect();
    if actions {
        p.push(POWER_PRIV.to_string());
    }
    p
}

/// Whether this PVE knows `privilege` (some role, the built-in Administrator for one, lists it).
fn knows(roles: &[PveRole], privilege: &str) -> bool {
    roles.iter().any(|r| r.privs.split(',').any(|p| p.trim() == privilege))
}

/// What a connect made, as stored and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct PveCreated {
    pub user: String,
    /// Whether the user was there already (then it was updated).
    pub user_existed: bool,
    pub role: String,
    pub privileges: Vec<String>,
    pub role_existed: bool,
    pub token_id: String,
    /// Whether a token of that name was there (then it was removed and made again).
    pub token_replaced: bool,
    pub privsep: bool,
    /// Where the role is granted (propagated), to the user and to the token.
    pub acl_paths: Vec<String>,
}

/// The outcome of the last check of the token (`GET /version`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct PveCheck {
    /// Unix ms.
    pub at: i64,
    pub ok: bool,
    /// The PVE version on success (`8.2.4`), else what went wrong and what to do.
    pub message: String,
}

/// The connection as shown (`GET /api/pve/connection`, `proxwatch pve status`): never the secret.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct PveConnection {
    pub connected: bool,
    pub token_id: Option<String>,
    /// Whether guest power actions were allowed when the token was made.
    pub actions: bool,
    pub privileges: Vec<String>,
    /// Unix ms of the connect.
    pub connected_at: Option<i64>,
    pub created: Option<PveCreated>,
    pub last_check: Option<PveCheck>,
}

/// What a connect or disconnect did: the commands it ran (none holds the secret), in order.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct PveReport {
    pub connection: PveConnection,
    pub commands: Vec<Vec<String>>,
    /// Steps of a disconnect that failed (it goes on: what is left is named here).
    pub warnings: Vec<String>,
}

/// The stored row, opened.
struct Stored {
    token: Token,
    connected_at: i64,
    created: Option<PveCreated>,
}

fn load(c: &rusqlite::Connection, keys: &Keys) -> anyhow::Result<Option<Stored>> {
    use rusqlite::OptionalExtension;
    let row = c
        .query_row(
            "SELECT token_id, secret, actions, created_ms, created FROM pve_api WHERE id = 1",
            [],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, bool>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, String>(4)?,
                ))
            },
        )
        .optional()?;
    let Some((id, sealed, actions, connected_at, created)) = row else { return Ok(None) };
    let secret = String::from_utf8(keys.open(&sealed)?).context("stored PVE API token")?;
    Ok(Some(Stored {
        token: Token::new(id, secret, actions),
        connected_at,
        created: serde_json::from_str(&created).ok(),
    }))
}

fn save(c: &rusqlite::Connection, keys: &Keys, s: &Stored) -> anyhow::Result<()> {
    let sealed = keys.seal(s.token.secret().as_bytes())?;
    c.execute(
        "INSERT INTO pve_api (id, token_id, secret, actions, created_ms, created) VALUES (1, ?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (id) DO UPDATE SET token_id = excluded.token_id, secret = excluded.secret,
           actions = excluded.actions, created_ms = excluded.created_ms, created = excluded.created",
        rusqlite::params![
            s.token.id,
            sealed,
            s.token.actions,
            s.connected_at,
            serde_json::to_string(&s.created)?
        ],
    )?;
    Ok(())
}

/// The connect step's service: the database row, the shared link, the host that runs `pveum`.
pub struct PveConn {
    db: Db,
    keys: Keys,
    host: Arc<Host>,
    link: PveLink,
    clock: Clock,
    last_check: Mutex<Option<PveCheck>>,
    /// One connect or disconnect at a time.
    lock: tokio::sync::Mutex<()>,
}

#[derive(Deserialize)]
struct PveUser {
    userid: String,
    #[serde(default)]
    tokens: Vec<PveToken>,
}

#[derive(Deserialize)]
struct PveToken {
    tokenid: String,
}

#[derive(Deserialize)]
struct PveRole {
    roleid: String,
    /// The role's privileges, comma-separated (built-in roles list them too, so the privileges this
    /// PVE knows can be read from them).
    #[serde(default)]
    privs: String,
}

fn argv(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

impl PveConn {
    pub fn new(db: Db, keys: Keys, host: Arc<Host>, link: PveLink, clock: Clock) -> Arc<PveConn> {
        Arc::new(PveConn {
            db,
            keys,
            host,
            link,
            clock,
            last_check: Mutex::new(None),
            lock: tokio::sync::Mutex::new(()),
        })
    }

    pub fn link(&self) -> &PveLink {
        &self.link
    }

    /// Reads the stored token into the link (at start, and after an outside change).
    pub async fn reload(&self) -> anyhow::Result<()> {
        let keys = self.keys.clone();
        let stored = self.db.call(move |c| load(c, &keys)).await?;
        let token = stored.map(|s| s.token);
        if self.link.token() != token {
            tracing::info!(connected = token.is_some(), "PVE API token loaded");
            self.link.set(token);
        }
        Ok(())
    }

    /// The connection as shown (no secret).
    pub async fn status(&self) -> anyhow::Result<PveConnection> {
        let keys = self.keys.clone();
        let stored = self.db.call(move |c| load(c, &keys)).await?;
        let last_check = self.last_check.lock().map(|c| c.clone()).unwrap_or(None);
        Ok(match stored {
            Some(s) => PveConnection {
                connected: true,
                token_id: Some(s.token.id.clone()),
                actions: s.token.actions,
                privileges: s
                    .created
                    .as_ref()
                    .map(|c| c.privileges.clone())
                    .unwrap_or_else(|| privileges(s.token.actions)),
                connected_at: Some(s.connected_at),
                created: s.created,
                last_check,
            },
            None => PveConnection {
                connected: false,
                token_id: None,
                actions: false,
                privileges: Vec::new(),
                connected_at: None,
                created: None,
                last_check: None,
            },
        })
    }

    /// Checks the token with one API call (`GET /version`) and keeps the outcome for the status.
    pub async fn check(&self) -> PveCheck {
        let at = self.clock.now_ms();
        let outcome = match self.link.token() {
            None => Err(pveapi::ApiFault::NotConnected),
            Some(t) => match self.host.pve_api(PveRequest::get("/version").auth(t.header())).await {
                Ok(a) => pveapi::data(&a).map(|d| {
                    serde_json::from_str::<serde_json::Value>(&d)
                        .ok()
                        .and_then(|v| v.get("version").and_then(|v| v.as_str()).map(|v| format!("PVE {v}")))
                        .unwrap_or_else(|| "the API answered".into())
                }),
                Err(e) => Err(pveapi::ApiFault::transport(&e)),
            },
        };
        let check = match outcome {
            Ok(message) => PveCheck { at, ok: true, message },
            Err(f) => PveCheck { at, ok: false, message: f.to_string() },
        };
        if let Ok(mut c) = self.last_check.lock() {
            *c = Some(check.clone());
        }
        check
    }

    async fn pveum(&self, commands: &mut Vec<Vec<String>>, parts: &[&str]) -> anyhow::Result<String> {
        let argv = argv(parts);
        tracing::info!(argv = ?argv, "pveum");
        commands.push(argv);
        match self.host.run(parts).await {
            Ok(o) if o.code == 0 => Ok(o.stdout),
            Ok(o) => {
                let mut stderr = o.stderr.trim().to_string();
                stderr.truncate(500);
                bail!("`{}` failed (exit code {}): {stderr}", parts[..parts.len().min(4)].join(" "), o.code)
            }
            Err(ToolError::Missing { .. }) => {
                bail!("pveum is not available: proxwatch connects to the PVE API on a Proxmox VE node only")
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn users(&self, commands: &mut Vec<Vec<String>>) -> anyhow::Result<Vec<PveUser>> {
        let out = self
            .pveum(commands, &["pveum", "user", "list", "--full", "1", "--output-format", "json"])
            .await?;
        serde_json::from_str(out.trim()).context("reading `pveum user list`")
    }

    async fn roles(&self, commands: &mut Vec<Vec<String>>) -> anyhow::Result<Vec<PveRole>> {
        let out = self.pveum(commands, &["pveum", "role", "list", "--output-format", "json"]).await?;
        serde_json::from_str(out.trim()).context("reading `pveum role list`")
    }

    /// Makes (or remakes) the user, role, ACLs and token; stores the token sealed and uses it.
    pub async fn connect(&self, actions: bool) -> anyhow::Result<PveReport> {
        let _one = self.lock.lock().await;
        let mut commands = Vec::new();
        let c = &mut commands;
        let users = self.users(c).await?;
        let existing = users.iter().find(|u| u.userid == USER);
        let user_existed = existing.is_some();
        let token_replaced = existing.is_some_and(|u| u.tokens.iter().any(|t| t.tokenid == TOKEN_NAME));
        let verb = if user_existed { "modify" } else { "add" };
        self.pveum(c, &["pveum", "user", verb, USER, "--comment", COMMENT]).await?;
        let roles = self.roles(c).await?;
        let role_existed = roles.iter().any(|r| r.roleid == ROLE);
        let mut privs = privileges(actions);
        if knows(&roles, AGENT_PRIV) {
            privs.insert(AUDIT_PRIVS.len(), AGENT_PRIV.to_string());
        }
        let joined = privs.join(",");
        let verb = if role_existed { "modify" } else { "add" };
        self.pveum(c, &["pveum", "role", verb, ROLE, "--privs", &joined]).await?;
        self.pveum(c, &["pveum", "acl", "modify", "/", "--users", USER, "--roles", ROLE, "--propagate", "1"])
            .await?;
        if token_replaced {
            self.pveum(c, &["pveum", "user", "token", "remove", USER, TOKEN_NAME]).await?;
        }
        let out = self
            .pveum(
                c,
                &[
                    "pveum",
                    "user",
                    "token",
                    "add",
                    USER,
                    TOKEN_NAME,
                    "--privsep",
                    "1",
                    "--comment",
                    COMMENT,
                    "--output-format",
                    "json",
                ],
            )
            .await?;
        #[derive(Deserialize)]
        struct Made {
            value: String,
            #[serde(rename = "full-tokenid", default)]
            full: Option<String>,
        }
        // Never quote this output in an error: it holds the secret.
        let made: Made = serde_json::from_str(out.trim())
            .map_err(|_| anyhow::anyhow!("`pveum user token add` printed no token value"))?;
        let token_id = made.full.unwrap_or_else(|| TOKEN_ID.to_string());
        self.pveum(
            c,
            &["pveum", "acl", "modify", "/", "--tokens", &token_id, "--roles", ROLE, "--propagate", "1"],
        )
        .await?;
        let created = PveCreated {
            user: USER.into(),
            user_existed,
            role: ROLE.into(),
            privileges: privs,
            role_existed,
            token_id: token_id.clone(),
            token_replaced,
            privsep: true,
            acl_paths: vec!["/".into()],
        };
        let stored = Stored {
            token: Token::new(token_id, made.value, actions),
            connected_at: self.clock.now_ms(),
            created: Some(created),
        };
        let keys = self.keys.clone();
        let token = stored.token.clone();
        self.db.call(move |c| save(c, &keys, &stored)).await?;
        self.link.set(Some(token));
        tracing::info!(token = TOKEN_ID, actions, "connected to the PVE API");
        self.check().await;
        Ok(PveReport { connection: self.status().await?, commands, warnings: Vec::new() })
    }

    /// Removes the token, its and the user's ACLs, the user and the role, and the stored row. A step
    /// that fails is reported and the rest still done.
    pub async fn disconnect(&self) -> anyhow::Result<PveReport> {
        let _one = self.lock.lock().await;
        let mut commands = Vec::new();
        let mut warnings = Vec::new();
        let c = &mut commands;
        let users = self.users(c).await?;
        let user = users.iter().find(|u| u.userid == USER);
        let steps: Vec<Vec<&str>> = {
            let mut s = Vec::new();
            if user.is_some_and(|u| u.tokens.iter().any(|t| t.tokenid == TOKEN_NAME)) {
                s.push(vec!["pveum", "acl", "delete", "/", "--tokens", TOKEN_ID, "--roles", ROLE]);
                s.push(vec!["pveum", "user", "token", "remove", USER, TOKEN_NAME]);
            }
            if user.is_some() {
                s.push(vec!["pveum", "acl", "delete", "/", "--users", USER, "--roles", ROLE]);
                s.push(vec!["pveum", "user", "delete", USER]);
            }
            s
        };
        for step in steps {
            if let Err(e) = self.pveum(c, &step).await {
                warnings.push(format!("{e:#}"));
            }
        }
        match self.roles(c).await {
            Ok(roles) if roles.iter().any(|r| r.roleid == ROLE) => {
                if let Err(e) = self.pveum(c, &["pveum", "role", "delete", ROLE]).await {
                    warnings.push(format!("{e:#}"));
                }
            }
            Ok(_) => {}
            Err(e) => warnings.push(format!("{e:#}")),
        }
        self.db.call(|c| Ok(c.execute("DELETE FROM pve_api", [])?)).await?;
        self.link.set(None);
        if let Ok(mut c) = self.last_check.lock() {
            *c = None;
        }
        tracing::info!(warnings = warnings.len(), "disconnected from the PVE API");
        Ok(PveReport { connection: self.status().await?, commands, warnings })
    }

    /// The demo's connection: a token the replayed API accepts, stored as a connect would (once).
    pub async fn seed_demo(&self) -> anyhow::Result<()> {
        let keys = self.keys.clone();
        if self.db.call(move |c| load(c, &keys)).await?.is_some() {
            return self.reload().await;
        }
        let created = PveCreated {
            user: USER.into(),
            user_existed: false,
            role: ROLE.into(),
            privileges: privileges(true),
            role_existed: false,
            token_id: TOKEN_ID.into(),
            token_replaced: false,
            privsep: true,
            acl_paths: vec!["/".into()],
        };
        let secret = data_encoding::HEXLOWER.encode(&crate::auth::random_bytes::<16>());
        let stored = Stored {
            token: Token::new(TOKEN_ID, secret, true),
            connected_at: self.clock.now_ms(),
            created: Some(created),
        };
        let keys = self.keys.clone();
        self.db.call(move |c| save(c, &keys, &stored)).await?;
        self.reload().await
    }
}

/// Follows outside changes (a `proxwatch pve connect` in another process): the row is re-read when
/// the database's `data_version` moved. Loads it once at start.
pub async fn run(conn: Arc<PveConn>, mut tick: Periodic) {
    if let Err(e) = conn.reload().await {
        tracing::error!(error = %format!("{e:#}"), "cannot load the PVE API token");
    }
    let mut seen: Option<i64> = None;
    while tick.next().await {
        let v = conn.db.call(|c| Ok(c.query_row("PRAGMA data_version", [], |r| r.get::<_, i64>(0))?)).await;
        let Ok(v) = v else { continue };
        if seen.is_some_and(|s| s != v)
            && let Err(e) = conn.reload().await
        {
            tracing::error!(error = %format!("{e:#}"), "cannot reload the PVE API token");
        }
        seen = Some(v);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_stored_sealed() {
        let db = rusqlite::Connection::open_in_memory().unwrap();
        db.execute_batch(include_str!("db/migrations/0011_pve_api.sql")).unwrap();
        let keys = Keys::ephemeral();
        let s = Stored { token: Token::new(TOKEN_ID, "s3cret-value", false), connected_at: 5, created: None };
        save(&db, &keys, &s).unwrap();
        let raw: Vec<u8> = db.query_row("SELECT secret FROM pve_api", [], |r| r.get(0)).unwrap();
        assert!(!raw.windows(12).any(|w| w == b"s3cret-value"));
        let back = load(&db, &keys).unwrap().unwrap();
        assert_eq!((back.token.secret(), back.token.actions, back.connected_at), ("s3cret-value", false, 5));
        assert_eq!(privileges(true).last().map(String::as_str), Some(POWER_PRIV));
        // PVE 9's role list names the guest agent's audit privilege; PVE 8's does not.
        let pve9: Vec<PveRole> = serde_json::from_str(
            r#"[{"privs":"Datastore.Audit,Pool.Audit,Sys.Audit,VM.Audit,VM.GuestAgent.Audit","roleid":"PVEAuditor","special":1}]"#,
        )
        .unwrap();
        assert!(knows(&pve9, AGENT_PRIV));
        let pve8: Vec<PveRole> =
            serde_json::from_str(r#"[{"privs":"Datastore.Audit,Pool.Audit,Sys.Audit,VM.Audit","roleid":"PVEAuditor","special":1}]"#)
                .unwrap();
        assert!(!knows(&pve8, AGENT_PRIV));
    }
}
