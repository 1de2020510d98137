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
}

#[derive(Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
struct DemoLogin {
    username: &'static str,
    password: &'static str,
}

async fn status(State(app): State<ApiState>, headers: HeaderMap, peer: Peer) -> Result<Response, ApiError> {
    let ip = ip(&app, &headers, &peer);
    let session = cookie(&headers, COOKIE).and_then(|jwt| app.auth.check_session(jwt, ip));
    let demo = app.auth.demo;
    let body = Status {
        setup_required: app.auth.setup_required(),
        authenticated: session.is_some(),
        user: session.as_ref().map(|(p, _)| p.user.clone()),
        role: session.as_ref().map(|(p, _)| p.level),
        totp_enabled: session.as_ref().map(|(p, _)| app.auth.totp_enabled(&p.user)),
        csrf_token: session.map(|(_, c)| c),
        demo,
        // Only to a page opened by a loopback name: a rebinding page must not learn it.
        demo_login: (demo && crate::auth::layer::is_loopback_request(&headers))
            .then_some(DemoLogin { username: DemoInfo::USER, password: DemoInfo::PASSWORD }),
        terminal_enabled: app.terminal.enabled(),
    };
    json(&body)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetupReq {
    setup_code: String,
    username: String,
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
#[serde(deny_unknown_fields)]
struct LoginReq {
    username: String,
    password: String,
    #[serde(default)]
    totp: Option<String>,
}

#[derive(Serialize)]
struct LoginResp {
    user: String,
    role: Level,
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
        Via::Token { .. } => None,
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
#[serde(deny_unknown_fields)]
struct PasswordReq {
    current_password: String,
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
#[serde(deny_unknown_fields)]
struct TotpSetupReq {
    password: String,
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
#[serde(deny_unknown_fields)]
struct CodeReq {
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
#[serde(deny_unknown_fields)]
struct TotpDisableReq {
    password: String,
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
#[serde(deny_unknown_fields)]
struct TokenReq {
    name: String,
    scope: String,
    #[serde(default)]
    expires_in_days: Option<u32>,
    /// What the token is for (shown in the list).
    #[serde(default)]
    description: String,
    /// Client addresses or CIDRs the token is accepted from; empty or absent: any.
    #[serde(default)]
    allowed_ips: Vec<String>,
    password: String,
    #[serde(default)]
    totp: Option<String>,
}

async fn create_token(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    JsonBody(req): JsonBody<TokenReq>,
) -> Result<Response, ApiError> {
    let scope = Level::from_scope(&req.scope).ok_or_else(|| {
        ApiError::bad_request(format!("scope must be one of: read, operate, admin (got {:?})", req.scope))
    })?;
    app.auth.reauthenticate(&p, &req.password, req.totp.as_deref()).await?;
    let spec = crate::auth::store::TokenSpec {
        name: req.name,
        scope: Some(scope),
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
#[serde(deny_unknown_fields)]
struct NewUserReq {
    username: String,
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
#[serde(deny_unknown_fields)]
struct PatchUserReq {
    #[serde(default)]
    role: Option<Level>,
    #[serde(default)]
    disabled: Option<bool>,
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
