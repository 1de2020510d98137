//! `/api/auth/*`: first-run setup, login (two-step with TOTP), logout, sessions, password, TOTP,
//! API tokens, users and the auth event log. The logic lives in [`crate::auth`]; this file maps HTTP.

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::ApiState;
use super::{JsonBody, PUBLIC, READ, Routes, SESSION, SESSION_ADMIN, json};
use crate::auth::audit::AuditLog;
use crate::auth::layer::{ClientIp, cookie};
use crate::auth::store::{AuthError, COOKIE, LoginOutcome};
use crate::auth::{Level, Principal, Via};
use crate::error::ApiError;
use crate::model::DemoInfo;

pub fn routes() -> Routes {
    Routes::new()
        .get("/auth/status", PUBLIC, status)
        .post("/auth/setup", PUBLIC, setup)
        .post("/auth/login", PUBLIC, login)
        // The account's own routes need an interactive login: a token cannot log out, revoke its
        // owner's sessions, change the password, touch 2FA, mint tokens or manage users.
        .post("/auth/logout", SESSION, logout)
        .get("/auth/sessions", SESSION, sessions)
        .delete("/auth/sessions", SESSION, revoke_my_sessions)
        .delete("/auth/sessions/{id}", SESSION, revoke_session)
        .post("/auth/password", SESSION, change_password)
        .post("/auth/totp/setup", SESSION, totp_setup)
        .post("/auth/totp/enable", SESSION, totp_enable)
        .post("/auth/totp/disable", SESSION, totp_disable)
        .get("/auth/tokens", SESSION, tokens)
        .post("/auth/tokens", SESSION, create_token)
        .delete("/auth/tokens/{id}", SESSION, revoke_token)
        .get("/auth/users", SESSION_ADMIN, users)
        .post("/auth/users", SESSION_ADMIN, create_user)
        .patch("/auth/users/{name}", SESSION_ADMIN, update_user)
        .delete("/auth/users/{name}", SESSION_ADMIN, delete_user)
        .get("/auth/events", READ, events)
}

type Peer = Extension<ClientIp>;

fn ip(_app: &ApiState, _headers: &HeaderMap, peer: &Peer) -> Option<std::net::IpAddr> {
    peer.0.0
}

fn session_cookie(app: &ApiState, value: &str, max_age: i64) -> HeaderValue {
    // Secure only when proxwatch serves TLS itself: over plain HTTP the browser would drop the cookie.
    let secure = if app.config.tls.enabled { "; Secure" } else { "" };
    let v = format!("{COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "AuthStatus"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "AuthStatus"))]
struct Status {
    setup_required: bool,
    authenticated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional, as = "Option<crate::auth::Role>"))]
    role: Option<Level>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    totp_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    csrf_token: Option<String>,
    demo: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    demo_login: Option<DemoLogin>,
    terminal_enabled: bool,
    /// The health verdict, for a logged-in caller: the shell shows the health pill's count from its
    /// first render (the live stream keeps it current).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    health: Option<crate::health::Summary>,
}

#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(ts_rs::TS))]
struct DemoLogin {
    username: &'static str,
    password: &'static str,
}

async fn status(State(app): State<ApiState>, headers: HeaderMap, peer: Peer) -> Result<Response, ApiError> {
    let ip = ip(&app, &headers, &peer);
    let session = cookie(&headers, COOKIE).and_then(|jwt| app.auth.check_session(jwt, ip));
    let demo = app.auth.demo;
    let authenticated = session.is_some();
    let body = Status {
        setup_required: app.auth.setup_required(),
        authenticated,
        user: session.as_ref().map(|(p, _)| p.user.clone()),
        role: session.as_ref().map(|(p, _)| p.level),
        totp_enabled: session.as_ref().map(|(p, _)| app.auth.totp_enabled(&p.user)),
        csrf_token: session.map(|(_, c)| c),
        demo,
        // Only to a page opened by a loopback name: a rebinding page must not learn it.
        demo_login: (demo && crate::auth::layer::is_loopback_request(&headers))
            .then_some(DemoLogin { username: DemoInfo::USER, password: DemoInfo::PASSWORD }),
        terminal_enabled: app.terminal.enabled(),
        health: authenticated.then(|| app.health.borrow().summary()),
    };
    json(&body)
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct SetupReq {
    /// The one-time code from the service log or `<data-dir>/setup-code` (case and spaces ignored).
    setup_code: String,
    /// The first admin's name: 1 to 64 letters, digits and `. _ - @`.
    username: String,
    /// Must pass the password policy.
    password: String,
}

async fn setup(
    State(app): State<ApiState>,
    headers: HeaderMap,
    peer: Peer,
    JsonBody(req): JsonBody<SetupReq>,
) -> Result<Response, ApiError> {
    let ip = ip(&app, &headers, &peer);
    app.auth.setup(&req.setup_code, &req.username, &req.password, ip).await?;
    Ok((StatusCode::CREATED, [(header::CONTENT_TYPE, "application/json")], r#"{"status":"created"}"#)
        .into_response())
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct LoginReq {
    username: String,
    password: String,
    /// A TOTP or backup code: the second step, for a user with two-factor on.
    #[serde(default)]
    totp: Option<String>,
}

#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "LoginSession"))]
struct LoginResp {
    user: String,
    role: Level,
    /// Send it as `X-CSRF-Token` on every change made with the session cookie.
    csrf_token: String,
}

async fn login(
    State(app): State<ApiState>,
    headers: HeaderMap,
    peer: Peer,
    JsonBody(req): JsonBody<LoginReq>,
) -> Result<Response, ApiError> {
    let ip = ip(&app, &headers, &peer);
    let ua = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok());
    match app.auth.login(&req.username, &req.password, req.totp.as_deref(), ip, ua).await? {
        LoginOutcome::TotpRequired => json(&serde_json::json!({"totp_required": true})),
        LoginOutcome::Session(s) => {
            let mut resp = json(&LoginResp { user: s.user, role: s.role, csrf_token: s.csrf })?;
            resp.headers_mut().insert(header::SET_COOKIE, session_cookie(&app, &s.jwt, s.max_age_s));
            Ok(resp)
        }
    }
}

async fn logout(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
) -> Result<Response, ApiError> {
    app.auth.logout(&p).await?;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(header::SET_COOKIE, session_cookie(&app, "", 0));
    Ok(resp)
}

fn current_session(p: &Principal) -> Option<&str> {
    match &p.via {
        Via::Session { id } => Some(id),
        Via::Token { .. } | Via::Agent { .. } => None,
    }
}

async fn sessions(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
) -> Result<Response, ApiError> {
    let scope = if p.level == Level::Admin { None } else { Some(p.user.as_str()) };
    json(&serde_json::json!({"sessions": app.auth.list_sessions(scope, current_session(&p))}))
}

async fn revoke_my_sessions(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
) -> Result<Response, ApiError> {
    let n = app.auth.revoke_user_sessions(&p.user, current_session(&p)).await?;
    json(&serde_json::json!({"revoked": n}))
}

async fn revoke_session(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    app.auth.revoke_session(&p, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct PasswordReq {
    current_password: String,
    /// Must pass the password policy.
    new_password: String,
}

async fn change_password(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    JsonBody(req): JsonBody<PasswordReq>,
) -> Result<Response, ApiError> {
    app.auth.change_password(&p, &req.current_password, &req.new_password).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct TotpSetupReq {
    password: String,
    /// A current TOTP or backup code: required when two-factor is already on.
    #[serde(default)]
    code: Option<String>,
}

async fn totp_setup(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    JsonBody(req): JsonBody<TotpSetupReq>,
) -> Result<Response, ApiError> {
    let host = app.identity.borrow().as_ref().map(|i| i.hostname.clone()).unwrap_or_default();
    let (uri, svg) = app.auth.totp_setup(&p, &req.password, req.code.as_deref(), &host).await?;
    json(&serde_json::json!({"otpauth_uri": uri, "qr_svg": svg}))
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct CodeReq {
    /// A code from the secret that `/api/auth/totp/setup` answered.
    code: String,
}

async fn totp_enable(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    JsonBody(req): JsonBody<CodeReq>,
) -> Result<Response, ApiError> {
    let codes = app.auth.totp_enable(&p, &req.code).await?;
    json(&serde_json::json!({"backup_codes": codes}))
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct TotpDisableReq {
    password: String,
    /// A current TOTP or backup code.
    code: String,
}

async fn totp_disable(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    JsonBody(req): JsonBody<TotpDisableReq>,
) -> Result<Response, ApiError> {
    app.auth.totp_disable(&p, &req.password, &req.code).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn tokens(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
) -> Result<Response, ApiError> {
    let scope = if p.level == Level::Admin { None } else { Some(p.user.as_str()) };
    json(&serde_json::json!({"tokens": app.auth.list_tokens(scope)}))
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct TokenReq {
    /// 1 to 64 characters.
    name: String,
    /// At most the caller's own role; `ingest` (admins only) may post agent reports and nothing else.
    #[cfg_attr(test, schemars(extend("enum" = ["read", "operate", "admin", "ingest"])))]
    scope: String,
    /// 1 to 3650; absent or null: the token never expires.
    #[serde(default)]
    expires_in_days: Option<u32>,
    /// What the token is for (shown in the list).
    #[serde(default)]
    description: String,
    /// Client addresses or CIDRs the token is accepted from; empty or absent: any.
    #[serde(default)]
    allowed_ips: Vec<String>,
    /// The caller's password: creating a token needs it again.
    password: String,
    /// A current TOTP or backup code: required when two-factor is on.
    #[serde(default)]
    totp: Option<String>,
}

async fn create_token(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    JsonBody(req): JsonBody<TokenReq>,
) -> Result<Response, ApiError> {
    let ingest = req.scope == crate::auth::store::INGEST;
    let scope = Level::from_scope(&req.scope).or(ingest.then_some(Level::Read)).ok_or_else(|| {
        ApiError::bad_request(format!(
            "scope must be one of: read, operate, admin, ingest (got {:?})",
            req.scope
        ))
    })?;
    app.auth.reauthenticate(&p, &req.password, req.totp.as_deref()).await?;
    let spec = crate::auth::store::TokenSpec {
        name: req.name,
        scope: Some(scope),
        ingest,
        expires_in_days: req.expires_in_days,
        description: req.description,
        allowed_ips: req.allowed_ips,
    };
    let (id, token) = app.auth.create_token_with(&p, &spec).await?;
    let mut resp = json(&serde_json::json!({"id": id, "token": token}))?;
    *resp.status_mut() = StatusCode::CREATED;
    Ok(resp)
}

async fn revoke_token(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    app.auth.revoke_token(&p, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn users(State(app): State<ApiState>) -> Result<Response, ApiError> {
    json(&serde_json::json!({"users": app.auth.list_users()}))
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct NewUserReq {
    /// 1 to 64 letters, digits and `. _ - @`.
    username: String,
    /// Must pass the password policy.
    password: String,
    role: Level,
}

async fn create_user(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    JsonBody(req): JsonBody<NewUserReq>,
) -> Result<Response, ApiError> {
    if req.password.len() > crate::auth::password::MAX_LEN {
        return Err(ApiError::bad_request("password too long"));
    }
    crate::auth::password::check_policy(&req.username, &req.password).map_err(ApiError::bad_request)?;
    app.auth.create_user(&req.username, &req.password, req.role).await?;
    app.auth
        .audit
        .record(
            app.auth.db(),
            crate::auth::audit::Kind::UserCreated,
            Some(&req.username),
            p.ip,
            &format!("by {}", p.user),
        )
        .await;
    let mut resp = json(&serde_json::json!({"name": req.username, "role": req.role}))?;
    *resp.status_mut() = StatusCode::CREATED;
    Ok(resp)
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct PatchUserReq {
    #[serde(default)]
    role: Option<Level>,
    /// Disabling ends the user's sessions at once.
    #[serde(default)]
    disabled: Option<bool>,
    /// A new password (policy-checked); every session of the user is ended.
    #[serde(default)]
    password: Option<String>,
}

async fn update_user(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    JsonBody(req): JsonBody<PatchUserReq>,
) -> Result<Response, ApiError> {
    if app.auth.user_role(&name).is_none() {
        return Err(ApiError::not_found(format!("no user {name}")));
    }
    if req.role.is_none() && req.disabled.is_none() && req.password.is_none() {
        return Err(ApiError::bad_request("nothing to change: send role, disabled or password"));
    }
    if let Some(pw) = &req.password {
        if pw.len() > crate::auth::password::MAX_LEN {
            return Err(ApiError::bad_request("password too long"));
        }
        crate::auth::password::check_policy(&name, pw).map_err(ApiError::bad_request)?;
    }
    if req.role.is_some() || req.disabled.is_some() {
        app.auth.update_user(&name, req.role, req.disabled).await?;
    }
    if let Some(pw) = &req.password {
        app.auth.set_password(&name, pw).await?;
        app.auth.revoke_user_sessions(&name, None).await?;
    }
    app.auth
        .audit
        .record(
            app.auth.db(),
            crate::auth::audit::Kind::UserChanged,
            Some(&name),
            p.ip,
            &format!("by {}", p.user),
        )
        .await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn delete_user(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    app.auth.delete_user(&name).await?;
    app.auth
        .audit
        .record(
            app.auth.db(),
            crate::auth::audit::Kind::UserDeleted,
            Some(&name),
            p.ip,
            &format!("by {}", p.user),
        )
        .await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn events(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let mut limit = 100usize;
    for (k, v) in super::query_pairs(raw.as_deref())? {
        match k.as_str() {
            "limit" => {
                limit =
                    v.parse().ok().filter(|n| (1..=1000).contains(n)).ok_or_else(|| {
                        ApiError::bad_request(format!("limit must be 1 to 1000 (got {v:?})"))
                    })?
            }
            _ => return Err(ApiError::bad_request(format!("unknown parameter {k:?}; valid: limit"))),
        }
    }
    let user = (p.level != Level::Admin).then(|| p.user.clone());
    let events = AuditLog::list(app.auth.db(), limit, user).await.map_err(ApiError::internal)?;
    json(&serde_json::json!({"events": events}))
}

/// How an auth refusal is answered.
impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        use AuthError as E;
        match e {
            E::Invalid => ApiError::InvalidCredentials,
            E::RateLimited(wait) => ApiError::rate_limited("too many attempts", wait),
            E::Busy(wait) => ApiError::busy("too many password checks at once", wait),
            E::BadRequest(m) => ApiError::BadRequest(m),
            E::Forbidden(m) => ApiError::Forbidden(m),
            E::NotFound(m) => ApiError::NotFound(m),
            E::Conflict(m) => ApiError::Conflict(m),
            E::AlreadySetUp => ApiError::AlreadySetUp,
            E::Internal(e) => ApiError::internal(format!("{e:#}")),
        }
    }
}

/// Visits this module's answers and the auth records it lists, for the generated TypeScript types
/// (`ts_bindings.rs`).
#[cfg(test)]
pub(super) fn ts_types(v: &mut impl ts_rs::TypeVisitor) {
    v.visit::<Status>();
    v.visit::<crate::auth::store::SessionInfo>();
    v.visit::<crate::auth::store::TokenInfo>();
    v.visit::<crate::auth::store::UserInfo>();
    v.visit::<crate::auth::audit::Event>();
}

/// This module's routes in the OpenAPI description (`openapi.rs`).
#[cfg(test)]
pub(super) fn docs(d: &mut super::openapi::spec::Doc) {
    use super::openapi::spec::*;
    use crate::auth::audit::Event;
    use crate::auth::store::{SessionInfo, TokenInfo, UserInfo};
    use serde_json::json;
    let checked = "The password or code is wrong (the answer never says which).";
    let limited = "Too many wrong attempts from this address or for this user; see Retry-After.";
    let busy = "Too many password checks at once (`busy`); see Retry-After.";

    d.get("/auth/status", "Whether setup is needed, and who is logged in")
        .about(
            "Reads the session cookie if there is one; `user`, `role`, `totp_enabled` and `csrf_token` \
             are present only for a live session. `demo_login` only in the demo, to a page opened by a \
             loopback name.",
        )
        .ok(out::<Status>());
    d.post("/auth/setup", "Create the first admin with the one-time setup code")
        .about(
            "Only until an enabled admin exists. Wrong codes are limited per address and for everyone \
             together. Log in afterwards.",
        )
        .body(input::<SetupReq>())
        .status(201)
        .ok(obj(&[("status", one_of(&["created"]))]))
        .error(400, "The user name or password is not acceptable (policy, length, characters).")
        .error(403, "The setup code is wrong (`forbidden`), or the address is banned.")
        .error(409, "Setup is already done (`already_set_up`).")
        .error(429, "Too many wrong setup codes from this address or from everyone; see Retry-After.");
    d.post("/auth/login", "Log in: password, then a TOTP or backup code when two-factor is on")
        .about(
            "With two-factor on and no `totp`, a right password answers `{\"totp_required\": true}`; \
             send the request again with `totp`. Success sets the `pxw_session` cookie (HttpOnly, \
             SameSite=Strict) and answers the CSRF token for the `X-CSRF-Token` header. Attempts are \
             limited per address and per user name (unless the address logged in as that user lately).",
        )
        .body(input::<LoginReq>())
        .ok(json!({ "oneOf": [
            out::<LoginResp>(),
            { "type": "object", "properties": { "totp_required": { "const": true } }, "required": ["totp_required"] }
        ] }))
        .error(400, "The user name or password is too long.")
        .error(401, "The credentials are wrong (`invalid_credentials`; never says which part).")
        .error(403, "The address is banned by fail2ban.")
        .error(429, limited)
        .error(503, busy);
    d.post("/auth/logout", "Log out: end this session and clear its cookie").no_content();
    d.get("/auth/sessions", "Browser sessions: the caller's own, or everyone's for an admin")
        .about("`current` marks the session making the request. Newest activity first.")
        .ok(obj(&[("sessions", arr(out::<SessionInfo>()))]));
    d.delete("/auth/sessions", "Log out everywhere else: end the caller's other sessions")
        .ok(obj(&[("revoked", int())]));
    d.delete("/auth/sessions/{id}", "End one session")
        .about("A non-admin may end only their own sessions; anyone else's answers 404.")
        .path_param("id", string(), "The session's id (from the list).")
        .no_content()
        .error(404, "No such session, or not the caller's.");
    d.post("/auth/password", "Change the caller's password")
        .about("Needs the current password; the caller's other sessions are ended.")
        .body(input::<PasswordReq>())
        .no_content()
        .error(400, "The new password fails the policy or is too long.")
        .error(401, "The current password is wrong (`invalid_credentials`).")
        .error(429, limited)
        .error(503, busy);
    d.post("/auth/totp/setup", "Start (or restart) two-factor setup: a new secret and its QR code")
        .about(
            "Needs the password, and a current code when two-factor is already on. The new secret waits \
             until `/api/auth/totp/enable` confirms a code from it; an enabled one stays in force until then.",
        )
        .body(input::<TotpSetupReq>())
        .ok(obj(&[("otpauth_uri", string()), ("qr_svg", string())]))
        .error(401, checked)
        .error(429, limited)
        .error(503, busy);
    d.post("/auth/totp/enable", "Confirm two-factor with a code from the new secret")
        .about("Turns two-factor on (replacing an older secret) and answers 10 new single-use backup codes, shown only now.")
        .body(input::<CodeReq>())
        .ok(obj(&[("backup_codes", arr(string()))]))
        .error(400, "No setup was started (`/api/auth/totp/setup` first).")
        .error(401, "The code is wrong (`invalid_credentials`).")
        .error(429, limited);
    d.post("/auth/totp/disable", "Turn two-factor off")
        .about("Needs the password and a current TOTP or backup code; the backup codes are deleted.")
        .body(input::<TotpDisableReq>())
        .no_content()
        .error(401, checked)
        .error(409, "Two-factor is not on.")
        .error(429, limited)
        .error(503, busy);
    d.get("/auth/tokens", "API tokens: the caller's own, or everyone's for an admin")
        .about("Never their secret. Expired tokens stay listed (`expired`) until revoked. Newest first.")
        .ok(obj(&[("tokens", arr(out::<TokenInfo>()))]));
    d.post("/auth/tokens", "Create an API token (its text is shown only now)")
        .about(
            "Needs the password again (and a code when two-factor is on). The scope may not exceed the \
             caller's role; a token's level is also capped by its owner's role when used. Tokens cannot \
             use the account, token, user or terminal routes.",
        )
        .body(input::<TokenReq>())
        .status(201)
        .ok(obj(&[("id", string()), ("token", string())]))
        .error(400, "A field is invalid: scope, name, description, allowed_ips or expires_in_days.")
        .error(401, checked)
        .error(403, "The scope is above the caller's role.")
        .error(429, limited)
        .error(503, busy);
    d.delete("/auth/tokens/{id}", "Revoke an API token")
        .about("A non-admin may revoke only their own tokens; anyone else's answers 404.")
        .path_param("id", string(), "The token's id (the 12 hex digits after `pxw_`).")
        .no_content()
        .error(404, "No such token, or not the caller's.");
    d.get("/auth/users", "Users, by name").ok(obj(&[("users", arr(out::<UserInfo>()))]));
    d.post("/auth/users", "Create a user")
        .body(input::<NewUserReq>())
        .status(201)
        .ok(obj(&[("name", string()), ("role", out::<Level>())]))
        .error(400, "The user name or password is not acceptable (policy, length, characters).")
        .error(409, "The user already exists.")
        .error(503, busy);
    d.patch("/auth/users/{name}", "Change a user's role, disabled state or password")
        .about(
            "Send at least one field. Disabling or a new password ends every session of the user \
             (the caller's own too, when changing their own password here). The last enabled admin \
             cannot be demoted or disabled.",
        )
        .path_param("name", string(), "The user's name.")
        .body(input::<PatchUserReq>())
        .no_content()
        .error(400, "Nothing to change, or the password fails the policy or is too long.")
        .error(409, "This is the last enabled admin.")
        .error(503, busy);
    d.delete("/auth/users/{name}", "Delete a user with their sessions and tokens")
        .about("The last enabled admin cannot be deleted.")
        .path_param("name", string(), "The user's name.")
        .no_content()
        .error(409, "This is the last enabled admin.");
    d.get("/auth/events", "The auth event log: logins, failures, lockouts, account changes")
        .about(
            "Newest first. An admin sees everyone's events, anyone else only their own. A burst of \
             identical failures is one row with `count` and `last_ts`.",
        )
        .query(
            "limit",
            json!({ "type": "integer", "minimum": 1, "maximum": 1000, "default": 100 }),
            "At most this many (default 100, 1 to 1000).",
        )
        .ok(obj(&[("events", arr(out::<Event>()))]));
}
