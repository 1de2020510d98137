//! The embedded single-page app (built from `web/` by `build.rs` and embedded with rust-embed).
//! Hashed files under `assets/` are cached forever (`immutable`); `index.html` and the service worker
//! are revalidated (`no-cache`) against a strong `ETag`. Client-side routes fall back to `index.html`;
//! `/api/*` never does. The build keeps a brotli and a gzip copy of each text file (`web/vite.config.ts`,
//! precompress); a browser that accepts one gets it (`Content-Encoding`, `Vary: Accept-Encoding`,
//! and an ETag of its own), about a third of the bytes on the wire.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use crate::error::ApiError;

#[derive(RustEmbed)]
#[folder = "web/dist"]
struct Assets;

const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
                   connect-src 'self'; worker-src 'self'; manifest-src 'self'; frame-ancestors 'none'; \
                   base-uri 'self'; form-action 'self'";

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn content_type(name: &str) -> String {
    if name.ends_with(".webmanifest") {
        return "application/manifest+json".into();
    }
    mime_guess::from_path(name).first_or_octet_stream().essence_str().to_string()
}

/// The precompressed copies the client accepts, best first: (`Content-Encoding`, file suffix).
pub(crate) fn accepted(headers: &HeaderMap) -> Vec<(&'static str, &'static str)> {
    let Some(value) = headers.get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok()) else {
        return Vec::new();
    };
    let ok = |want: &str| {
        value.split(',').any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or("");
            // `br;q=0` refuses it.
            let refused =
                parts.any(|p| p.strip_prefix("q=").is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q <= 0.0)));
            coding.eq_ignore_ascii_case(want) && !refused
        })
    };
    [("br", ".br"), ("gzip", ".gz")].into_iter().filter(|(c, _)| ok(c)).collect()
}

/// The base path the SPA is served under (`server.base_path`), the only state it needs.
#[derive(Clone)]
pub struct BasePath(pub Arc<str>);

pub async fn serve(State(base): State<BasePath>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let base = &*base.0;
    let path = uri.path().trim_start_matches('/');
    // `/metrics` belongs to the Prometheus endpoint (a method other than GET ends here): never
    // answer it with the SPA.
    if path == "metrics" {
        return ApiError::MethodNotAllowed(format!("method {method} is not allowed on /metrics"))
            .into_response();
    }
    if path == "api" || path.starts_with("api/") {
        return ApiError::not_found(format!("no API route {method} {}", uri.path())).into_response();
    }
    if method != Method::GET && method != Method::HEAD {
        return (StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n").into_response();
    }
    let (name, file) = match Assets::get(path) {
        Some(f) if !path.is_empty() => (path, f),
        _ => {
            // A path whose last segment has a dot is a missing file, not a client route.
            let last = path.rsplit('/').next().unwrap_or("");
            if last.contains('.') {
                return (StatusCode::NOT_FOUND, "not found\n").into_response();
            }
            match Assets::get("index.html") {
                Some(f) => ("index.html", f),
                None => {
                    return (StatusCode::NOT_FOUND, "the web UI was not built into this binary\n")
                        .into_response();
                }
            }
        }
    };
    // Behind a sub-path the page needs a <base href> so its relative asset and API URLs resolve.
    let rebased = name == "index.html" && base != "/";
    // A precompressed copy when the client takes one (never for a rebased page: it is rewritten).
    let encoded = if rebased {
        None
    } else {
        accepted(&headers)
            .into_iter()
            .find_map(|(coding, suffix)| Assets::get(&format!("{name}{suffix}")).map(|f| (coding, f)))
    };
    let suffix = match (&encoded, rebased) {
        (_, true) => "-rebased",
        (Some(("br", _)), _) => "-br",
        (Some(_), _) => "-gz",
        (None, _) => "",
    };
    let etag = format!("\"{}{suffix}\"", hex(&file.metadata.sha256_hash()[..16]));
    let cache = if name.starts_with("assets/") { "public, max-age=31536000, immutable" } else { "no-cache" };
    let mut resp = if headers.get(header::IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == etag.as_bytes()) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let body = if method == Method::HEAD {
            Body::empty()
        } else if rebased {
            let html = String::from_utf8_lossy(&file.data);
            let tag = format!("<base href=\"{base}\" />");
            // The page ships `<base href="/" />`; swap it (or add one when a build lacks it).
            let html = if html.contains("<base href=\"/\" />") {
                html.replacen("<base href=\"/\" />", &tag, 1)
            } else {
                html.replacen("<head>", &format!("<head>{tag}"), 1)
            };
            Body::from(html)
        } else if let Some((_, f)) = &encoded {
            Body::from(f.data.clone())
        } else {
            Body::from(file.data)
        };
        let mut r = Response::new(body);
        if let Ok(v) = HeaderValue::from_str(&content_type(name)) {
            r.headers_mut().insert(header::CONTENT_TYPE, v);
        }
        r
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Some((coding, _)) = encoded {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
    }
    if !rebased && [".br", ".gz"].iter().any(|x| Assets::get(&format!("{name}{x}")).is_some()) {
        h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if name == "index.html" {
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    resp
}
