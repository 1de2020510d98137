//! `/api/settings` (issue 16): the effective configuration with each value's source, the settings an
//! admin may change from the browser (stored in the database as a layer between the file and the
//! environment), a restart that applies them, and `/api/about`. Thin: the rules are `settings.rs`'s.

use std::collections::BTreeMap;

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::{ADMIN, ApiState, JsonBody, READ, Routes, SESSION_ADMIN, json};
use crate::auth::Principal;
use crate::auth::audit::Kind;
use crate::error::ApiError;
#[cfg(test)]
use crate::settings::SettingsView;

pub fn routes() -> Routes {
    Routes::new()
        .get("/settings", ADMIN, view)
        .put("/settings", SESSION_ADMIN, update)
        .post("/settings/restart", SESSION_ADMIN, restart)
        .get("/about", READ, about)
}

async fn stored(app: &ApiState) -> Result<BTreeMap<String, toml::Value>, ApiError> {
    crate::settings::read(&app.db).await.map_err(ApiError::internal)
}

async fn view(State(app): State<ApiState>) -> Result<Response, ApiError> {
    let ui = stored(&app).await?;
    json(&app.settings.view(&ui))
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    /// `section.key` -> the new value; `null` removes the stored value (the file's or the default
    /// applies again).
    changes: BTreeMap<String, serde_json::Value>,
}

async fn update(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    JsonBody(body): JsonBody<UpdateBody>,
) -> Result<Response, ApiError> {
    if body.changes.is_empty() {
        return Err(ApiError::BadRequest("changes: name at least one setting".into()));
    }
    let before = stored(&app).await?;
    let (after, next) =
        app.settings.candidate(before.clone(), &body.changes).map_err(ApiError::BadRequest)?;
    // TLS turned on must find its certificate now, not fail the next start.
    if next.tls.enabled && !app.settings.config().tls.enabled {
        crate::tls::load(&app.host, &next.tls).map_err(|e| {
            ApiError::BadRequest(format!("tls.enabled: no usable certificate, so HTTPS cannot start: {e:#}"))
        })?;
    }
    let (user, now) = (p.user.clone(), app.clock.now_ms());
    let (b, a) = (before.clone(), after.clone());
    app.db.call(move |c| crate::settings::store(c, &b, &a, &user, now)).await.map_err(ApiError::internal)?;
    let keys: Vec<&str> = body.changes.keys().map(String::as_str).collect();
    let detail = format!("settings changed: {}", keys.join(", "));
    app.auth.audit.record(app.auth.db(), Kind::SettingsChanged, Some(&p.user), p.ip, &detail).await;
    tracing::info!(user = %p.user, keys = %keys.join(","), "settings changed (applied at the next start)");
    json(&app.settings.view(&after))
}

#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema, ts_rs::TS))]
struct Restarting {
    restarting: bool,
}

async fn restart(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
) -> Result<Response, ApiError> {
    if !app.settings.request_restart() {
        return Err(ApiError::Conflict(
            "this proxwatch cannot restart itself (the demo keeps its data in a temporary directory); \
             stored settings apply at its next start"
                .into(),
        ));
    }
    tracing::warn!(user = %p.user, "restart requested from the Settings page");
    app.auth
        .audit
        .record(app.auth.db(), Kind::SettingsChanged, Some(&p.user), p.ip, "restart requested")
        .await;
    // A graceful stop (this answer is sent first: HTTP drains), then `cli::serve` re-executes.
    app.cancel.cancel();
    Ok((StatusCode::ACCEPTED, axum::Json(Restarting { restarting: true })).into_response())
}

/// `GET /api/about`.
#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema, ts_rs::TS))]
pub struct About {
    pub version: &'static str,
    /// The git revision it was built from ("unknown" outside a checkout).
    pub revision: &'static str,
    /// "release" or "debug".
    pub profile: &'static str,
    pub uptime_s: u64,
    /// The database's size on disk (with its WAL), bytes.
    pub db_bytes: u64,
    pub licence: &'static str,
    pub homepage: &'static str,
}

async fn about(State(app): State<ApiState>) -> Result<Response, ApiError> {
    json(&About {
        version: crate::VERSION,
        revision: env!("PROXWATCH_GIT_REVISION"),
        profile: if cfg!(debug_assertions) { "debug" } else { "release" },
        uptime_s: app.started.elapsed().as_secs(),
        db_bytes: app.db.size_bytes(),
        licence: env!("CARGO_PKG_LICENSE"),
        homepage: "https://github.com/proxwatch/proxwatch",
    })
}

#[cfg(test)]
pub(super) fn ts_types(v: &mut impl ts_rs::TypeVisitor) {
    v.visit::<SettingsView>();
    v.visit::<About>();
    v.visit::<Restarting>();
}

/// This module's routes in the OpenAPI description (`openapi.rs`).
#[cfg(test)]
pub(super) fn docs(d: &mut super::openapi::spec::Doc) {
    use super::openapi::spec::*;
    d.get("/settings", "The effective configuration, each value with its source")
        .about(
            "Every key of the configuration with the value running now, its default and where it came \
             from (`default`, `file`, `ui`, `env`, `flag`; later ones win, the UI layer sits between the \
             file and the environment). `editable` is set on the settings the Settings page may change, \
             with their range. `next` is the value the next start will use where a stored change is not \
             running yet, `shadowed_by` names the layer that overrides a stored value. Secrets are never \
             answered (`secret_set` says whether one is set).",
        )
        .ok(out::<SettingsView>());
    d.put("/settings", "Store settings in the UI layer (applied at the next start)")
        .about(
            "`changes` maps `section.key` to a value, or to `null` to remove the stored value. Each value \
             is checked against its setting's range, then the whole configuration is composed and \
             validated; a bad value is a 400 naming the field and what it takes. Turning TLS on needs a \
             certificate that loads now. Answers the new view (its `restart_needed` lists what a restart \
             applies).",
        )
        .body(input::<UpdateBody>())
        .ok(out::<SettingsView>());
    d.post("/settings/restart", "Restart proxwatch in place to apply stored settings")
        .about(
            "A graceful stop, then the same program starts again with the same pid (systemd sees no \
             exit). 409 where proxwatch cannot restart itself (the demo).",
        )
        .status(202)
        .ok(out::<Restarting>())
        .error(409, "this proxwatch cannot restart itself");
    d.get("/about", "Version, build, uptime, database size, licence").ok(out::<About>());
}
