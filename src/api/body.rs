//! `JsonBody<T>`: the JSON request-body extractor, with errors that say what is wrong: 415 for a
//! body that is not `application/json`, 413 past the size limit, 400 naming the field for malformed
//! or mistyped JSON (types use `deny_unknown_fields`, so a misspelt field is named too).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Largest request body any API route accepts.
pub const MAX_BODY: usize = 64 * 1024;

pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ct = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let mime = ct.split(';').next().unwrap_or("").trim();
        if !mime.eq_ignore_ascii_case("application/json") {
            return Err(ApiError::UnsupportedMediaType(format!(
                "send the body as application/json (got {:?})",
                if ct.is_empty() { "nothing" } else { ct }
            )));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(format!("body over {MAX_BODY} bytes"))
            } else {
                ApiError::bad_request(format!("cannot read the body: {e}"))
            }
        })?;
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(de).map(JsonBody).map_err(|e| {
            // The field's path when there is one (`target.port: invalid value: integer `70000`, …`).
            let path = e.path().to_string();
            if path.is_empty() || path == "." {
                ApiError::bad_request(format!("invalid JSON body: {}", e.inner()))
            } else {
                ApiError::bad_request(format!("{path}: {}", e.inner()))
            }
        })
    }
}
