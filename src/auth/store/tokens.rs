//! API tokens (`pxw_<id>_<secret>`, stored as a SHA-256 hash): creation with a scope capped by the
//! owner's role, the check on every bearer request (failures throttled per address and logged by id
//! or hash prefix, never the text), listing and revocation.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use rusqlite::params;
use serde::Serialize;

use super::{Auth, AuthError, MAX_NAME, TOKEN_PREFIX, TOUCH_EVERY_S, Token, now_s, random_id};
use crate::auth::audit::Kind;
use crate::auth::{Level, Principal, Via, ct_eq, random_bytes, sha256_hex};
use crate::model::addr::Cidr;

/// Why a bearer token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    Invalid,
    /// Too many failed tokens from this address: retry after this long.
    Throttled(Duration),
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct TokenInfo {
    pub id: String,
    pub user: String,
    pub name: String,
    #[cfg_attr(test, ts(type = "\"read\" | \"operate\" | \"admin\" | \"ingest\""))]
    #[cfg_attr(test, schemars(extend("enum" = ["read", "operate", "admin", "ingest"])))]
    pub scope: &'static str,
    pub created: i64,
    pub expires: Option<i64>,
    pub last_used: Option<i64>,
    pub last_ip: Option<String>,
    pub description: String,
    /// Client addresses (CIDRs) the token is accepted from; empty: any.
    pub allowed_ips: Vec<String>,
    /// Past its expiry: refused, kept in the list until revoked so that a script's failure has a
    /// visible reason.
    pub expired: bool,
}

/// What a new token is: its name, scope, lifetime, description and address allow-list.
#[derive(Debug, Clone, Default)]
pub struct TokenSpec {
    pub name: String,
    pub scope: Option<Level>,
    /// An `ingest` token (an agent's): it may only post agent reports; `scope` is ignored. Only an
    /// admin creates one.
    pub ingest: bool,
    pub expires_in_days: Option<u32>,
    pub description: String,
    /// CIDRs (`10.0.0.5`, `10.0.0.0/24`, `fd00::/8`); empty accepts any address.
    pub allowed_ips: Vec<String>,
}

/// The scope name of an agent's token: it posts reports and nothing else.
pub const INGEST: &str = "ingest";

/// The most addresses one token's allow-list holds, and the longest description.
pub const MAX_ALLOWED: usize = 16;
pub const MAX_DESCRIPTION: usize = 200;

/// The stored allow-list (comma-separated CIDRs, `''` for any) parsed.
pub(super) fn parse_allowed(text: &str) -> anyhow::Result<Vec<Cidr>> {
    text.split(',').map(str::trim).filter(|c| !c.is_empty()).map(Cidr::parse).collect()
}

impl Auth {
    /// The principal behind an API token (`pxw_<id>_<secret>`): its scope, capped by the owner's role.
    /// Failures are throttled per client address and logged with the token's id or a hash prefix,
    /// never its text (a mis-pasted password must not reach the log). A valid token never touches
    /// the limiter (the hot path of every script); an address over the limit gets 429 for any
    /// invalid one without it being logged again.
    pub async fn check_token(&self, token: &str, ip: Option<IpAddr>) -> Result<Principal, TokenRefusal> {
        if let Some(p) = self.token_principal(token, ip).await {
            return Ok(p);
        }
        let key = [Self::ip_key(ip)];
        if let Err(wait) = self.token_failures.check(&key, Instant::now()) {
            self.audit.record(&self.db, Kind::Lockout, None, ip, "api token").await;
            return Err(TokenRefusal::Throttled(wait));
        }
        self.token_failures.fail(&key, Instant::now());
        self.audit.record(&self.db, Kind::TokenFailed, None, ip, &token_label(token)).await;
        Err(TokenRefusal::Invalid)
    }

    async fn token_principal(&self, token: &str, ip: Option<IpAddr>) -> Option<Principal> {
        let rest = token.strip_prefix(TOKEN_PREFIX)?;
        let (id, _) = rest.split_once('_')?;
        let now = now_s();
        let hash = sha256_hex(token);
        let (user, scope, ingest, new_ip, persist) = {
            let mut tokens = self.tokens_w();
            let t = tokens.get_mut(id)?;
            if !ct_eq(&t.hash, &hash) || t.expires.is_some_and(|e| now >= e) {
                return None;
            }
            // An allow-list refuses every other address, and a request whose address is unknown.
            if !t.allowed.is_empty() && !ip.is_some_and(|ip| t.allowed.iter().any(|c| c.contains(ip))) {
                return None;
            }
            let ip_s = ip.map(|i| i.to_string());
            let new_ip = t.last_ip.is_some() && ip_s.is_some() && t.last_ip != ip_s;
            let persist = new_ip || t.last_ip.is_none() || now - t.persisted_used >= TOUCH_EVERY_S;
            t.last_used = Some(now);
            t.last_ip = ip_s;
            if persist {
                t.persisted_used = now;
            }
            (t.user.clone(), t.scope, t.ingest, new_ip, persist)
        };
        let role = self.users_r().get(&user).filter(|u| !u.disabled).map(|u| u.role)?;
        if persist {
            let (tid, ip_s) = (id.to_string(), ip.map(|i| i.to_string()));
            let _ = self
                .db
                .call(move |c| {
                    Ok(c.execute(
                        "UPDATE api_tokens SET last_used = ?2, last_ip = ?3 WHERE id = ?1",
                        params![tid, now, ip_s],
                    )?)
                })
                .await;
        }
        if new_ip {
            self.audit.record(&self.db, Kind::TokenNewIp, Some(&user), ip, id).await;
        }
        let via = if ingest { Via::Agent { id: id.to_string() } } else { Via::Token { id: id.to_string() } };
        Some(Principal { user, level: scope.min(role), via, ip })
    }

    /// Creates an API token for the caller; its scope may not exceed the caller's role.
    pub async fn create_token(
        &self,
        p: &Principal,
        name: &str,
        scope: Level,
        expires_in_days: Option<u32>,
    ) -> Result<(String, String), AuthError> {
        let spec = TokenSpec { name: name.into(), scope: Some(scope), expires_in_days, ..Default::default() };
        self.create_token_with(p, &spec).await
    }

    /// Creates an API token with a description and an address allow-list.
    pub async fn create_token_with(
        &self,
        p: &Principal,
        spec: &TokenSpec,
    ) -> Result<(String, String), AuthError> {
        let (name, expires_in_days) = (spec.name.as_str(), spec.expires_in_days);
        let scope = match (spec.ingest, spec.scope) {
            (true, _) => Level::Admin,
            (false, Some(s)) => s,
            (false, None) => return Err(AuthError::BadRequest("scope is required".into())),
        };
        if spec.description.chars().count() > MAX_DESCRIPTION
            || spec.description.chars().any(char::is_control)
        {
            return Err(AuthError::BadRequest(format!(
                "description must be at most {MAX_DESCRIPTION} characters on one line"
            )));
        }
        if spec.allowed_ips.len() > MAX_ALLOWED {
            return Err(AuthError::BadRequest(format!("allowed_ips holds at most {MAX_ALLOWED} addresses")));
        }
        let mut allowed = Vec::new();
        for a in &spec.allowed_ips {
            let c = Cidr::parse(a.trim()).map_err(|_| {
                AuthError::BadRequest(format!("allowed_ips: {a:?} is not an address or CIDR"))
            })?;
            allowed.push(c);
        }
        let allowed_text = spec.allowed_ips.iter().map(|a| a.trim()).collect::<Vec<_>>().join(",");
        if name.trim().is_empty() || name.len() > MAX_NAME {
            return Err(AuthError::BadRequest(format!("name must be 1 to {MAX_NAME} characters")));
        }
        let role = self.users_r().get(&p.user).map(|u| u.role).ok_or(AuthError::Invalid)?;
        if scope > role {
            return Err(AuthError::Forbidden(format!(
                "a {} cannot create a token with scope {}",
                role.role(),
                if spec.ingest { INGEST } else { scope.scope() }
            )));
        }
        // An ingest token carries the lowest level: the scope column says what it is.
        let scope = if spec.ingest { Level::Read } else { scope };
        let scope_name = if spec.ingest { INGEST } else { scope.scope() };
        if expires_in_days.is_some_and(|d| d == 0 || d > 3650) {
            return Err(AuthError::BadRequest("expires_in_days must be 1 to 3650".into()));
        }
        let id = random_id(6);
        let secret = data_encoding::BASE32_NOPAD.encode(&random_bytes::<20>()).to_lowercase();
        let token = format!("{TOKEN_PREFIX}{id}_{secret}");
        let now = now_s();
        let t = Token {
            user: p.user.clone(),
            name: name.trim().to_string(),
            scope,
            ingest: spec.ingest,
            hash: sha256_hex(&token),
            created: now,
            expires: expires_in_days.map(|d| now + d as i64 * 86400),
            last_used: None,
            persisted_used: 0,
            last_ip: None,
            description: spec.description.trim().to_string(),
            allowed,
        };
        let (tid, row) = (id.clone(), t.clone());
        self.db
            .call(move |c| {
                c.execute(
                    "INSERT INTO api_tokens (id, user, name, scope, hash, created, expires, description, allowed_ips)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    params![
                        tid,
                        row.user,
                        row.name,
                        scope_name,
                        row.hash,
                        row.created,
                        row.expires,
                        row.description,
                        allowed_text
                    ],
                )?;
                Ok(())
            })
            .await?;
        self.tokens_w().insert(id.clone(), t);
        self.audit
            .record(&self.db, Kind::TokenCreated, Some(&p.user), p.ip, &format!("{id} {scope_name}"))
            .await;
        Ok((id, token))
    }

    /// Tokens of `user` (all when `None`).
    pub fn list_tokens(&self, user: Option<&str>) -> Vec<TokenInfo> {
        let now = now_s();
        let tokens = self.tokens.read().unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<TokenInfo> = tokens
            .iter()
            .filter(|(_, t)| user.is_none_or(|u| t.user == u))
            .map(|(id, t)| TokenInfo {
                id: id.clone(),
                user: t.user.clone(),
                name: t.name.clone(),
                scope: if t.ingest { INGEST } else { t.scope.scope() },
                created: t.created,
                expires: t.expires,
                last_used: t.last_used,
                last_ip: t.last_ip.clone(),
                description: t.description.clone(),
                allowed_ips: t.allowed.iter().map(|c| c.to_string()).collect(),
                expired: t.expires.is_some_and(|e| now >= e),
            })
            .collect();
        v.sort_by_key(|t| std::cmp::Reverse(t.created));
        v
    }

    /// Revokes a token: the owner's own, or any token for an admin.
    pub async fn revoke_token(&self, p: &Principal, id: &str) -> Result<(), AuthError> {
        let owner = self.tokens.read().unwrap_or_else(|e| e.into_inner()).get(id).map(|t| t.user.clone());
        match owner {
            Some(owner) if owner == p.user || p.level == Level::Admin => {
                self.tokens_w().remove(id);
                let tid = id.to_string();
                self.db.call(move |c| Ok(c.execute("DELETE FROM api_tokens WHERE id = ?1", [tid])?)).await?;
                self.audit.record(&self.db, Kind::TokenRevoked, Some(&owner), p.ip, id).await;
                Ok(())
            }
            _ => Err(AuthError::NotFound(format!("no token {id}"))),
        }
    }
}

/// How a refused bearer value is named in the log: a proxwatch token by its id (public), anything
/// else by a short hash (it may be a password pasted into the wrong field).
pub fn token_label(token: &str) -> String {
    let id = token.strip_prefix(TOKEN_PREFIX).and_then(|r| r.split_once('_')).map(|(id, _)| id);
    match id {
        Some(id) if id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit()) => format!("token id={id}"),
        _ => format!("sha256={}", &sha256_hex(token)[..12]),
    }
}
