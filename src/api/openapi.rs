//! `GET /api/openapi.json`: the API's OpenAPI 3.1 description.
//!
//! The description is generated from the code in test builds and committed as `openapi.json` next to
//! this file, the way the TypeScript bindings are (`ts_bindings.rs`); the shipped binary serves the
//! committed bytes (gzipped by `build.rs`) and carries no schema generator. What it is made of:
//! - the access table ([`super::rules`]): every route, its method and the level it needs, which
//!   becomes the operation's security requirement and `x-proxwatch-access`;
//! - each domain module's `docs()`: a summary, the query parameters, and the request and response
//!   body types of each route;
//! - the bodies' JSON Schemas, derived (`schemars`, test builds only) from the very Rust types the
//!   handlers deserialize and serialize, so a renamed field changes the description.
//!
//! The tests fail when a route has no description or a description no route, and (in
//! `ts_bindings.rs`, with the other generated files) when the committed file differs from the
//! generated one (`UPDATE_OPENAPI=1 cargo test --lib openapi` rewrites it).

use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

use super::{READ, Routes};

/// The committed description, gzipped at build time (`build.rs`): ~35 KB in the binary instead of
/// ~0.5 MB, sent as it is to the clients that take gzip (browsers, curl --compressed, scripts'
/// HTTP libraries) and inflated per request for the rest.
const SPEC_GZ: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/openapi.json.gz"));

pub fn routes() -> Routes {
    Routes::new().get("/openapi.json", READ, openapi)
}

async fn openapi(headers: HeaderMap) -> Response {
    let gzip = crate::web::accepted(&headers).iter().any(|(c, _)| *c == "gzip");
    let mut resp = if gzip {
        let mut r = bytes::Bytes::from_static(SPEC_GZ).into_response();
        r.headers_mut().insert(header::CONTENT_ENCODING, header::HeaderValue::from_static("gzip"));
        r
    } else {
        use std::io::Read;
        let mut text = Vec::with_capacity(SPEC_GZ.len() * 16);
        match flate2::read::GzDecoder::new(SPEC_GZ).read_to_end(&mut text) {
            Ok(_) => text.into_response(),
            Err(e) => {
                return crate::error::ApiError::internal(format!("the embedded openapi.json: {e}"))
                    .into_response();
            }
        }
    };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    h.insert(header::VARY, header::HeaderValue::from_static("accept-encoding"));
    resp
}

/// The description's builder: each domain module's `docs()` adds its routes with [`Doc::get`] and
/// friends; [`generate`] turns them and the access table into the document.
#[cfg(test)]
pub(crate) mod spec {
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    use schemars::generate::{SchemaGenerator, SchemaSettings};
    use serde_json::{Map, Value, json};

    use crate::auth::{Access, Level};

    thread_local! {
        /// Response bodies: schemas as the types serialize.
        static SER: RefCell<SchemaGenerator> = RefCell::new(generator(false));
        /// Request bodies: schemas as the types deserialize (defaults make fields optional).
        static DE: RefCell<SchemaGenerator> = RefCell::new(generator(true));
    }

    const REF: &str = "#/components/schemas/";

    fn generator(de: bool) -> SchemaGenerator {
        let s = SchemaSettings::draft2020_12().with(|s| {
            s.definitions_path = "/components/schemas".into();
            s.meta_schema = None;
        });
        if de { s.for_deserialize() } else { s.for_serialize() }.into_generator()
    }

    /// `T` as a response body (a `$ref` for named types).
    pub fn out<T: schemars::JsonSchema>() -> Value {
        SER.with(|g| g.borrow_mut().subschema_for::<T>().to_value())
    }
    /// `T` as a request body. Marked so that [`generate`] can tell its `$ref`s from the response
    /// side's when one type reads differently from how it writes.
    pub fn input<T: schemars::JsonSchema>() -> Value {
        json!({ "x-de": DE.with(|g| g.borrow_mut().subschema_for::<T>().to_value()) })
    }
    /// An object whose every listed field is present.
    pub fn obj(fields: &[(&str, Value)]) -> Value {
        let props: Map<String, Value> = fields.iter().map(|(k, v)| ((*k).to_string(), v.clone())).collect();
        let required: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
        json!({ "type": "object", "properties": props, "required": required })
    }
    pub fn arr(items: Value) -> Value {
        json!({ "type": "array", "items": items })
    }
    pub fn string() -> Value {
        json!({ "type": "string" })
    }
    pub fn int() -> Value {
        json!({ "type": "integer" })
    }
    pub fn boolean() -> Value {
        json!({ "type": "boolean" })
    }
    pub fn one_of(values: &[&str]) -> Value {
        json!({ "type": "string", "enum": values })
    }
    /// `{"ok": true}`-style acknowledgements and other small literal answers.
    pub fn flag(name: &str) -> Value {
        obj(&[(name, boolean())])
    }

    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Body {
        Json,
        EventStream,
        WebSocket,
        NoContent,
    }

    pub struct Op {
        pub(super) method: &'static str,
        pub(super) path: String,
        summary: &'static str,
        description: Option<&'static str>,
        params: Vec<Value>,
        body: Option<Value>,
        ok_status: u16,
        ok: Option<Value>,
        kind: Body,
        errors: Vec<(u16, &'static str)>,
    }

    impl Op {
        /// A longer explanation under the summary.
        pub fn about(&mut self, text: &'static str) -> &mut Self {
            self.description = Some(text);
            self
        }
        /// An optional query parameter.
        pub fn query(&mut self, name: &str, schema: Value, about: &str) -> &mut Self {
            self.params.push(json!({ "name": name, "in": "query", "required": false, "description": about, "schema": schema }));
            self
        }
        /// A query parameter the route cannot do without (a 400 when it is missing).
        pub fn required_query(&mut self, name: &str, schema: Value, about: &str) -> &mut Self {
            self.params.push(json!({ "name": name, "in": "query", "required": true, "description": about, "schema": schema }));
            self
        }
        /// Describes a path parameter (every `{name}` in the path is one; without this it is a string).
        pub fn path_param(&mut self, name: &str, schema: Value, about: &str) -> &mut Self {
            if let Some(p) = self.params.iter_mut().find(|p| p["in"] == "path" && p["name"] == name) {
                p["schema"] = schema;
                p["description"] = about.into();
            } else {
                panic!("{} {} has no path parameter {name}", self.method, self.path);
            }
            self
        }
        /// The JSON request body (from [`input`]).
        pub fn body(&mut self, schema: Value) -> &mut Self {
            self.body = Some(schema);
            self
        }
        /// The JSON answer on success.
        pub fn ok(&mut self, schema: Value) -> &mut Self {
            self.ok = Some(schema);
            self
        }
        /// A success other than 200 (e.g. 201 Created, 202 Accepted).
        pub fn status(&mut self, status: u16) -> &mut Self {
            self.ok_status = status;
            self
        }
        /// A `text/event-stream` answer; `about` describes its events.
        pub fn event_stream(&mut self, about: &'static str) -> &mut Self {
            self.kind = Body::EventStream;
            self.description = Some(about);
            self
        }
        /// A websocket upgrade (101).
        pub fn websocket(&mut self) -> &mut Self {
            self.kind = Body::WebSocket;
            self.ok_status = 101;
            self
        }
        /// No body on success (204).
        pub fn no_content(&mut self) -> &mut Self {
            self.kind = Body::NoContent;
            self.ok_status = 204;
            self
        }
        /// An error this route answers beyond the ones every route of its kind has.
        pub fn error(&mut self, status: u16, when: &'static str) -> &mut Self {
            self.errors.push((status, when));
            self
        }
    }

    /// The described routes.
    #[derive(Default)]
    pub struct Doc {
        pub(super) ops: Vec<Op>,
    }

    impl Doc {
        fn add(&mut self, method: &'static str, path: &str, summary: &'static str) -> &mut Op {
            let full = format!("/api{path}");
            let params = path_params(&full)
                .into_iter()
                .map(|n| json!({ "name": n, "in": "path", "required": true, "schema": { "type": "string" } }))
                .collect();
            self.ops.push(Op {
                method,
                path: full,
                summary,
                description: None,
                params,
                body: None,
                ok_status: 200,
                ok: None,
                kind: Body::Json,
                errors: Vec::new(),
            });
            self.ops.last_mut().expect("just pushed")
        }
        pub fn get(&mut self, path: &str, summary: &'static str) -> &mut Op {
            self.add("get", path, summary)
        }
        pub fn post(&mut self, path: &str, summary: &'static str) -> &mut Op {
            self.add("post", path, summary)
        }
        pub fn put(&mut self, path: &str, summary: &'static str) -> &mut Op {
            self.add("put", path, summary)
        }
        pub fn patch(&mut self, path: &str, summary: &'static str) -> &mut Op {
            self.add("patch", path, summary)
        }
        pub fn delete(&mut self, path: &str, summary: &'static str) -> &mut Op {
            self.add("delete", path, summary)
        }
    }

    fn path_params(path: &str) -> Vec<String> {
        path.split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(str::to_string)
            .collect()
    }

    fn level_name(l: Level) -> &'static str {
        l.scope()
    }

    /// Who may call a route, in the words of the security schemes, plus the text for people.
    fn security(access: Access, method: &str) -> (Value, Value, String) {
        let unsafe_method = method != "get";
        let session =
            if unsafe_method { json!({ "session": [], "csrf": [] }) } else { json!({ "session": [] }) };
        match access {
            Access::Public => {
                (json!([{}]), json!({ "public": true }), "Public: no credentials needed.".into())
            }
            Access::At(l) => (
                json!([{ "bearer": [level_name(l)] }, session]),
                json!({ "level": level_name(l), "tokens": true }),
                format!(
                    "Needs the `{}` level: an API token with scope `{}` or above, or a session of a user \
                     whose role reaches it.",
                    level_name(l),
                    level_name(l)
                ),
            ),
            Access::Session(l) => (
                json!([session]),
                json!({ "level": level_name(l), "tokens": false }),
                format!(
                    "Needs an interactive session (API tokens are refused) of a user at the `{}` level.",
                    level_name(l)
                ),
            ),
            Access::Ingest => (
                json!([{ "bearer": ["ingest"] }]),
                json!({ "level": "ingest", "tokens": true }),
                "Needs an agent's API token with scope `ingest` (which reaches no other route).".into(),
            ),
        }
    }

    fn error_response(when: &str) -> Value {
        json!({ "description": when, "content": { "application/json": { "schema": { "$ref": format!("{REF}Error") } } } })
    }

    /// Renames the request-side schemas that differ from the response side's of the same name to
    /// `<Name>Input`, and resolves the `x-de` markers of [`input`].
    fn merge_definitions(
        ser: Map<String, Value>,
        de: Map<String, Value>,
    ) -> (Map<String, Value>, BTreeMap<String, String>) {
        let mut out = ser;
        let mut renames = BTreeMap::new();
        for (name, schema) in &de {
            if out.get(name).is_some_and(|s| s != schema) {
                renames.insert(name.clone(), format!("{name}Input"));
            }
        }
        for (name, mut schema) in de {
            rewrite_refs(&mut schema, &renames);
            let name = renames.get(&name).cloned().unwrap_or(name);
            out.insert(name, schema);
        }
        (out, renames)
    }

    fn rewrite_refs(v: &mut Value, renames: &BTreeMap<String, String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get_mut("$ref")
                    && let Some(name) = r.strip_prefix(REF)
                    && let Some(new) = renames.get(name)
                {
                    *r = format!("{REF}{new}");
                }
                m.values_mut().for_each(|x| rewrite_refs(x, renames));
            }
            Value::Array(a) => a.iter_mut().for_each(|x| rewrite_refs(x, renames)),
            _ => {}
        }
    }

    /// Replaces every `{"x-de": schema}` by the schema with request-side names.
    fn resolve_inputs(v: &mut Value, renames: &BTreeMap<String, String>) {
        match v {
            Value::Object(m) => {
                if let Some(mut inner) = m.remove("x-de") {
                    rewrite_refs(&mut inner, renames);
                    *v = inner;
                    return;
                }
                m.values_mut().for_each(|x| resolve_inputs(x, renames));
            }
            Value::Array(a) => a.iter_mut().for_each(|x| resolve_inputs(x, renames)),
            _ => {}
        }
    }

    /// Every route of `doc`, checked against the access table, as one OpenAPI 3.1 document.
    pub fn generate(doc: Doc) -> Result<Value, Vec<String>> {
        let rules = crate::api::rules();
        let mut problems = Vec::new();
        let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
        for op in doc.ops {
            let Some(rule) =
                rules.iter().find(|r| r.path == op.path && r.method.as_str().eq_ignore_ascii_case(op.method))
            else {
                problems.push(format!(
                    "{} {} is described but not routed",
                    op.method.to_uppercase(),
                    op.path
                ));
                continue;
            };
            let (security, access, who) = security(rule.access, op.method);
            let mut responses = Map::new();
            let ok_desc = match op.kind {
                Body::WebSocket => "Switching to the websocket protocol.",
                Body::NoContent => "Done.",
                _ => "Success.",
            };
            let mut ok = json!({ "description": ok_desc });
            match op.kind {
                Body::Json => {
                    let Some(schema) = op.ok.clone() else {
                        problems.push(format!(
                            "{} {} has no success body (use .ok(...))",
                            op.method.to_uppercase(),
                            op.path
                        ));
                        continue;
                    };
                    ok["content"] = json!({ "application/json": { "schema": schema } });
                }
                Body::EventStream => {
                    ok["content"] = json!({ "text/event-stream": { "schema": { "type": "string" } } })
                }
                Body::WebSocket | Body::NoContent => {}
            }
            responses.insert(op.ok_status.to_string(), ok);
            let mut errors: BTreeMap<u16, String> = BTreeMap::new();
            let mut err = |s: u16, w: &str| {
                errors
                    .entry(s)
                    .and_modify(|e| {
                        if !e.contains(w) {
                            e.push(' ');
                            e.push_str(w);
                        }
                    })
                    .or_insert_with(|| w.to_string());
            };
            if op.body.is_some() || !op.params.is_empty() {
                err(400, "The request is malformed; the message says how.");
            }
            if rule.access != Access::Public {
                err(401, "No credentials, or they expired.");
                err(
                    403,
                    "The caller's level, token scope, source address, Host or Origin is not allowed (or a change without the CSRF header).",
                );
                err(429, "Too many requests from this address or user; see Retry-After.");
            }
            if op.params.iter().any(|p| p["in"] == "path") {
                err(404, "No such object.");
            }
            if op.body.is_some() {
                err(413, "The body is larger than the limit.");
                err(415, "The body is not `application/json`.");
            }
            for (s, w) in &op.errors {
                err(*s, w);
            }
            for (s, w) in errors {
                responses.insert(s.to_string(), error_response(&w));
            }
            responses.insert("default".into(), error_response("Any other failure (500 internal, 502 a host tool failed, 503 unavailable or busy), in the same shape."));
            let tag = op.path.trim_start_matches("/api/").split('/').next().unwrap_or("api").to_string();
            let mut o = json!({
                "operationId": operation_id(op.method, &op.path),
                "summary": op.summary,
                "description": match op.description { Some(d) => format!("{d}\n\n{who}"), None => who },
                "tags": [tag],
                "security": security,
                "x-proxwatch-access": access,
                "responses": responses,
            });
            if !op.params.is_empty() {
                o["parameters"] = Value::Array(op.params);
            }
            if let Some(b) = op.body {
                o["requestBody"] =
                    json!({ "required": true, "content": { "application/json": { "schema": b } } });
            }
            let entry = paths.entry(op.path.clone()).or_default();
            if entry.insert(op.method.to_string(), o).is_some() {
                problems.push(format!("{} {} is described twice", op.method.to_uppercase(), op.path));
            }
        }
        for r in rules {
            let m = r.method.as_str().to_ascii_lowercase();
            if !paths.get(&r.path).is_some_and(|p| p.contains_key(&m)) {
                problems.push(format!("{} {} is routed but not described", r.method, r.path));
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        // The Prometheus endpoint sits outside /api with its own gate (api/metrics.rs): read level,
        // or no credentials from a `metrics.public` network.
        paths.entry("/metrics".into()).or_default().insert(
            "get".into(),
            json!({
                "operationId": "get_metrics",
                "summary": "Prometheus metrics (text exposition format 0.0.4)",
                "description": "Rendered from the workers' snapshots, cached per sample; gzip when asked. \
                    `docs/metrics.md` lists the families. Off (404) when `metrics.enabled = false`.\n\n\
                    Needs the `read` level (an API token with scope `read` or above), except from the \
                    `metrics.public` networks.",
                "tags": ["metrics"],
                "security": [{ "bearer": ["read"] }, { "session": [] }],
                "x-proxwatch-access": { "level": "read", "tokens": true },
                "responses": {
                    "200": { "description": "Success.", "content": { "text/plain": { "schema": { "type": "string" } } } },
                    "401": error_response("No credentials, or they expired."),
                    "403": error_response("The caller's source address, Host or level is not allowed."),
                    "404": error_response("The endpoint is turned off (metrics.enabled = false)."),
                    "429": error_response("Too many requests from this address; see Retry-After."),
                    "default": error_response("Any other failure, in the same shape.")
                }
            }),
        );
        let ser = SER.with(|g| g.borrow_mut().take_definitions(true));
        let de = DE.with(|g| g.borrow_mut().take_definitions(true));
        let (mut schemas, renames) = merge_definitions(ser, de);
        schemas.insert(
            "Error".into(),
            json!({
                "type": "object",
                "description": "Every error: a stable code and a message for people.",
                "properties": {
                    "error": { "type": "string", "description": "A stable code: bad_request, unauthorized, invalid_credentials, forbidden, csrf, not_found, conflict, locked, rate_limited, internal, tool_failed, unavailable, busy, …" },
                    "message": { "type": "string" }
                },
                "required": ["error", "message"]
            }),
        );
        let mut doc = json!({
            "openapi": "3.1.0",
            "info": {
                "title": "proxwatch API",
                "version": crate::VERSION,
                "description": "The REST API of proxwatch, the monitoring appliance for Proxmox VE hosts. \
                    Scripts authenticate with an API token (`Authorization: Bearer pxw_…`, created on the Security page) \
                    whose scope (read, operate, admin) bounds what it may do; tokens never reach the account, token, \
                    user or terminal routes. The browser uses a session cookie plus the `X-CSRF-Token` header on changes. \
                    Every error is `{\"error\": code, \"message\": text}`.",
                "license": { "name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later" }
            },
            "servers": [{ "url": "/" }],
            "paths": paths,
            "components": {
                "schemas": schemas,
                "securitySchemes": {
                    "bearer": { "type": "http", "scheme": "bearer", "description": "An API token (`pxw_…`); its scope is read, operate or admin." },
                    "session": { "type": "apiKey", "in": "cookie", "name": crate::auth::store::COOKIE, "description": "The browser session set by POST /api/auth/login." },
                    "csrf": { "type": "apiKey", "in": "header", "name": "X-CSRF-Token", "description": "The session's CSRF token (from login or GET /api/auth/status), required with the cookie on every change." }
                }
            }
        });
        resolve_inputs(&mut doc, &renames);
        Ok(doc)
    }

    /// `get_health_findings_key_dismiss`-style ids: the method and the path's words.
    fn operation_id(method: &str, path: &str) -> String {
        let words: Vec<String> = path
            .trim_start_matches("/api/")
            .split('/')
            .map(|s| s.trim_start_matches('{').trim_end_matches('}').replace(['.', '-'], "_"))
            .collect();
        format!("{method}_{}", words.join("_"))
    }
}

/// The description, generated (panics naming every route without a description and every
/// description without a route). `ts_bindings.rs` compares it with the committed file.
#[cfg(test)]
pub(crate) fn document() -> serde_json::Value {
    let mut doc = spec::Doc::default();
    crate::api::docs(&mut doc);
    match spec::generate(doc) {
        Ok(v) => v,
        Err(problems) => {
            panic!("the OpenAPI description does not match the routes:\n  {}", problems.join("\n  "))
        }
    }
}

#[cfg(test)]
mod tests {

    /// The description, generated.
    fn generated() -> serde_json::Value {
        let mut doc = super::spec::Doc::default();
        crate::api::docs(&mut doc);
        match super::spec::generate(doc) {
            Ok(v) => v,
            Err(problems) => {
                panic!("the OpenAPI description does not match the routes:\n  {}", problems.join("\n  "))
            }
        }
    }

    #[test]
    fn every_route_is_described_and_every_description_routed() {
        let doc = generated();
        assert_eq!(doc["openapi"], "3.1.0");
    }

    #[test]
    fn every_operation_names_its_access_and_security() {
        let doc = generated();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("item") {
                let access = &op["x-proxwatch-access"];
                assert!(access.is_object(), "{method} {path}");
                assert!(op["security"].is_array(), "{method} {path}");
                assert!(op["responses"]["default"].is_object(), "{method} {path}");
                if access["tokens"] == false {
                    let sec = op["security"].as_array().expect("array");
                    assert!(sec.iter().all(|s| s.get("bearer").is_none()), "{method} {path} takes tokens");
                }
            }
        }
    }
}
