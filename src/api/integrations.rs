//! `/api/integrations/...`: MQTT for Home Assistant (settings and the client's status). Admins only:
//! the settings carry the broker's credentials. Thin: the client lives in `mqtt/`.

use axum::Extension;
use axum::extract::State;
use axum::response::Response;
use serde::Serialize;

use super::{ADMIN, ApiState, JsonBody, Routes, json};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::mqtt::{Settings, Status};

pub fn routes() -> Routes {
    Routes::new().get("/integrations/mqtt", ADMIN, mqtt).put("/integrations/mqtt", ADMIN, put_mqtt)
}

/// The MQTT settings (password masked) and how the client is doing.
#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema), schemars(rename = "MqttView"))]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "MqttView"))]
struct MqttView {
    settings: Settings,
    status: Status,
}

async fn mqtt(State(app): State<ApiState>) -> Result<Response, ApiError> {
    let settings = app.mqtt.stored().await.map_err(ApiError::internal)?.masked();
    json(&MqttView { settings, status: app.mqtt.status() })
}

async fn put_mqtt(
    State(app): State<ApiState>,
    Extension(p): Extension<Principal>,
    JsonBody(new): JsonBody<Settings>,
) -> Result<Response, ApiError> {
    new.validate().map_err(|e| ApiError::bad_request(format!("{e:#}")))?;
    let saved = app.mqtt.update(new).await.map_err(ApiError::internal)?;
    tracing::info!(user = %p.user, enabled = saved.enabled, "MQTT settings changed");
    json(&MqttView { settings: saved.masked(), status: app.mqtt.status() })
}

#[cfg(test)]
pub(super) fn ts_types(v: &mut impl ts_rs::TypeVisitor) {
    v.visit::<MqttView>();
}

/// This module's routes in the OpenAPI description (`openapi.rs`).
#[cfg(test)]
pub(super) fn docs(d: &mut super::openapi::spec::Doc) {
    use super::openapi::spec::*;
    d.get(
        "/integrations/mqtt",
        "MQTT for Home Assistant: the settings (password masked) and the client's state",
    )
    .ok(out::<MqttView>());
    d.put("/integrations/mqtt", "Change the MQTT settings; the client reconnects with them at once")
        .about(
            "Send the password back as `********` (or leave it out) to keep the stored one, or as an empty \
             string to remove it. The password is sealed at rest and never answered.",
        )
        .body(input::<Settings>())
        .ok(out::<MqttView>());
}
