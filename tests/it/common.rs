//! Shared helpers: scenario paths and replay hosts, and [`TestApp`]: an app over a replay host and an
//! in-memory database (config, clock, admin token chosen by its [`Builder`]) with request helpers that
//! go through the whole router in-process. The free request helpers take an app and a token for tests
//! that hold them separately.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use axum::response::Response;
use http_body_util::BodyExt;
use proxwatch::app::{App, DemoInfo, LiveSample};
use proxwatch::config::Config;
use proxwatch::db::Db;
use proxwatch::host::{Host, Scenario};
use proxwatch::model::Clock;
use proxwatch::workers::inventory::{Intervals, InventoryPoller};
use proxwatch::workers::sampler::Sampler;
use serde_json::Value;
use tower::ServiceExt;

// ---- hosts ---------------------------------------------------------------------------------------

pub fn scenario_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios").join(name)
}

/// A replay host over `tests/scenarios/<name>`.
pub fn replay(name: &str) -> Host {
    replay_dir(&scenario_dir(name))
}

/// A replay host over the scenario in `dir`.
pub fn replay_dir(dir: &Path) -> Host {
    let s = Scenario::load(dir).unwrap_or_else(|e| panic!("scenario {}: {e:#}", dir.display()));
    Host::replay(s, Duration::from_secs(5))
}

/// The embedded demo scenario (`scenarios/demo`).
pub fn demo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/demo")
}

/// The demo scenario replayed as recorded (not shifted in time, not animated).
pub fn demo_host() -> Host {
    replay_dir(&demo_dir())
}

/// A host where each of `argvs` is not installed (and nothing else is recorded), whatever the machine
/// running the test has. The scenario lives in the returned folder: keep it while the host is used.
pub fn host_without(argvs: &[&[&str]]) -> (Host, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut manifest = String::from("[scenario]\nname = \"without\"\n");
    for argv in argvs {
        let quoted: Vec<String> = argv.iter().map(|a| format!("{a:?}")).collect();
        manifest.push_str(&format!("[[command]]\nargv = [{}]\nmissing = true\n", quoted.join(", ")));
    }
    std::fs::write(dir.path().join("manifest.toml"), manifest).unwrap();
    (replay_dir(dir.path()), dir)
}

pub const T0_MS: i64 = 1_750_000_000_000;

/// Two samples over the pve-zfs t0 -> t1 pair, one second apart.
pub fn sample_pair() -> proxwatch::model::Sample {
    let mut s = Sampler::new();
    assert!(s.step(&replay("pve-zfs"), T0_MS).unwrap().is_none(), "first step only records counters");
    s.step(&replay("pve-zfs-t1"), T0_MS + 1000).unwrap().expect("second step yields a sample")
}

// ---- apps ----------------------------------------------------------------------------------------

/// A config whose state (secret key, setup code, auth log) lives in a fresh temporary directory.
pub fn test_config() -> Config {
    let dir = tempfile::tempdir().unwrap().keep();
    let mut cfg = Config::default();
    cfg.server.data_dir = dir.clone();
    cfg.auth.auth_log = dir.join("auth.log");
    cfg
}

/// An app over a scenario with a fresh in-memory database and no users yet.
pub fn bare_app(cfg: Config, scenario: &str) -> Arc<App> {
    TestApp::builder().scenario(scenario).config(move |c| *c = cfg).build_app()
}

pub const ADMIN: &str = "admin";
pub const ADMIN_PASSWORD: &str = "correct-horse-battery";

/// Creates the admin `admin` (if missing) and returns a fresh admin-scope API token for it.
pub async fn admin_token(app: &Arc<App>) -> String {
    use proxwatch::auth::{Level, Principal, Via};
    if app.auth.user_role(ADMIN).is_none() {
        app.auth.create_user(ADMIN, ADMIN_PASSWORD, Level::Admin).await.unwrap();
    }
    let p = Principal {
        user: ADMIN.into(),
        level: Level::Admin,
        via: Via::Token { id: "test".into() },
        ip: None,
    };
    app.auth.create_token(&p, "test", Level::Admin, None).await.unwrap().1
}

/// An app over the pve-zfs scenario with one vitals sample published, the identity read, and no
/// users yet (tests that need the admin call [`admin_token`]).
pub async fn app() -> Arc<App> {
    TestApp::builder().sampled().no_admin().build().await.app
}

/// An app and its admin's API token. Derefs to the app, so `t.vitals`, `&t` as an `&Arc<App>` and
/// `t.clone()` (the `Arc<App>`) work as they do on the app itself.
pub struct TestApp {
    pub app: Arc<App>,
    /// An admin-scope API token of [`ADMIN`]; empty for [`Builder::no_admin`] (no user exists).
    pub token: String,
}

impl Deref for TestApp {
    type Target = Arc<App>;
    fn deref(&self) -> &Arc<App> {
        &self.app
    }
}

enum HostFrom {
    Scenario(String),
    Demo,
    Given(Box<Host>),
}

/// A change to the config, applied in order on top of [`test_config`].
type Adjust = Box<dyn FnOnce(&mut Config)>;

/// How a [`TestApp`] is made; see [`TestApp::builder`].
pub struct Builder {
    host: HostFrom,
    config: Vec<Adjust>,
    clock: Clock,
    demo_info: Option<DemoInfo>,
    admin: bool,
    services: bool,
    sampled: bool,
    inventory: Option<(i64, i64)>,
}

impl TestApp {
    /// By default: the pve-zfs replay, [`test_config`], the system clock, an in-memory database, an
    /// admin with a token, no background services, nothing published yet.
    pub fn builder() -> Builder {
        Builder {
            host: HostFrom::Scenario("pve-zfs".into()),
            config: Vec::new(),
            clock: Clock::system(),
            demo_info: None,
            admin: true,
            services: false,
            sampled: false,
            inventory: None,
        }
    }

    /// `GET uri` with the admin token: the status and the body as JSON (`Null` when it is not JSON).
    pub async fn get(&self, uri: &str) -> (StatusCode, Value) {
        get(&self.app, &self.token, uri).await
    }

    /// `GET uri` with the admin token: status, headers and the body's bytes.
    pub async fn get_raw(&self, uri: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
        get_raw(&self.app, &self.token, uri).await
    }

    /// `method uri` with the admin token and an optional JSON body: the status and the JSON answer.
    pub async fn call(&self, method: Method, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        call(&self.app, &self.token, method, uri, body).await
    }

    /// A request as it is (no token added) through the router.
    pub async fn send(&self, req: Request<Body>) -> Response {
        send(&self.app, req).await
    }
}

impl Builder {
    /// Replays `tests/scenarios/<name>` (the default is pve-zfs).
    pub fn scenario(mut self, name: &str) -> Self {
        self.host = HostFrom::Scenario(name.into());
        self
    }

    /// Replays the embedded demo scenario (`scenarios/demo`) as recorded.
    pub fn demo(mut self) -> Self {
        self.host = HostFrom::Demo;
        self
    }

    /// Runs over `host`.
    pub fn host(mut self, host: Host) -> Self {
        self.host = HostFrom::Given(Box::new(host));
        self
    }

    /// Adjusts the config (on top of [`test_config`] and earlier adjustments).
    pub fn config(mut self, adjust: impl FnOnce(&mut Config) + 'static) -> Self {
        self.config.push(Box::new(adjust));
        self
    }

    /// The clock the app's handlers and loops read: `Clock::manual(ms)` (a clone of which the test
    /// keeps to move it) for tests that must not depend on elapsed time.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Runs as `proxwatch demo` does (the demo login, loopback names), with this description.
    pub fn demo_info(mut self, info: DemoInfo) -> Self {
        self.demo_info = Some(info);
        self
    }

    /// No user and no token (first-run setup is still open).
    pub fn no_admin(mut self) -> Self {
        self.admin = false;
        self
    }

    /// Starts the services request handlers hand work to (`App::spawn_services`: the action runner
    /// and the journal reader).
    pub fn services(mut self) -> Self {
        self.services = true;
        self
    }

    /// Publishes one vitals sample (the pve-zfs t0 -> t1 pair, recorded in the history too) and the
    /// host's identity.
    pub fn sampled(mut self) -> Self {
        self.sampled = true;
        self
    }

    /// Publishes the inventory the poller reads over the app's host in `steps` steps 2 s apart from
    /// `from_ms`.
    pub fn inventory(mut self, from_ms: i64, steps: i64) -> Self {
        self.inventory = Some((from_ms, steps));
        self
    }

    /// The app alone: no admin, nothing published, no services (what [`Builder::build`] starts from;
    /// usable outside async code).
    pub fn build_app(self) -> Arc<App> {
        assert!(
            !self.services && !self.sampled && self.inventory.is_none(),
            "services, samples and inventory need build().await"
        );
        self.make()
    }

    pub async fn build(self) -> TestApp {
        let (admin, services, sampled, inventory) = (self.admin, self.services, self.sampled, self.inventory);
        let app = self.make();
        if let Some((from_ms, steps)) = inventory {
            let node = app.inventory.borrow().node.clone();
            let mut p = InventoryPoller::new(node, Intervals::default());
            for k in 0..steps {
                p.step(&app.host, from_ms + k * 2000).await;
            }
            app.inventory.send_replace(Arc::new(p.state.clone()));
        }
        if sampled {
            let sample = sample_pair();
            app.history.record(&sample);
            app.vitals.send_replace(Some(Arc::new(LiveSample::new(sample).unwrap())));
            let id = proxwatch::workers::sampler::identity(&app.host).await.unwrap();
            app.identity.send_replace(Some(Arc::new(id)));
        }
        if services {
            app.spawn_services();
        }
        let token = if admin { admin_token(&app).await } else { String::new() };
        TestApp { app, token }
    }

    fn make(self) -> Arc<App> {
        let host = match self.host {
            HostFrom::Scenario(name) => replay(&name),
            HostFrom::Demo => demo_host(),
            HostFrom::Given(h) => *h,
        };
        let mut cfg = test_config();
        for adjust in self.config {
            adjust(&mut cfg);
        }
        let db = Db::open_in_memory().unwrap();
        App::with_clock(cfg, host, db, self.demo_info, self.clock).unwrap()
    }
}

// ---- requests ------------------------------------------------------------------------------------

/// A request with `token` as its bearer (none when empty) and `body`, if any, as JSON.
pub fn authed(token: &str, method: Method, uri: &str, body: Option<Value>) -> Request<Body> {
    let mut req = Request::builder().method(method).uri(uri);
    if !token.is_empty() {
        req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let body = match body {
        Some(v) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    req.body(body).unwrap()
}

/// One request through the whole router (`app::router`), in-process.
pub async fn send(app: &Arc<App>, req: Request<Body>) -> Response {
    proxwatch::app::router(app.clone()).oneshot(req).await.unwrap()
}

/// A response's status, headers and body bytes.
pub async fn read(resp: Response) -> (StatusCode, HeaderMap, Vec<u8>) {
    let (status, headers) = (resp.status(), resp.headers().clone());
    let body = resp.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, headers, body)
}

/// A body as JSON, or `Null` when it is not JSON (tests that require JSON check the content type).
pub fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

/// A request through the router: the status and the body as JSON (`Null` when it is not JSON).
pub async fn request(app: &Arc<App>, req: Request<Body>) -> (StatusCode, Value) {
    let (status, _, body) = read(send(app, req).await).await;
    (status, json(&body))
}

/// `GET uri` with `token`: the status and the body as JSON (`Null` when it is not JSON).
pub async fn get(app: &Arc<App>, token: &str, uri: &str) -> (StatusCode, Value) {
    request(app, authed(token, Method::GET, uri, None)).await
}

/// `GET uri` with `token`: status, headers and the body's bytes.
pub async fn get_raw(app: &Arc<App>, token: &str, uri: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    read(send(app, authed(token, Method::GET, uri, None)).await).await
}

/// `method uri` with `token` and an optional JSON body: the status and the JSON answer.
pub async fn call(
    app: &Arc<App>,
    token: &str,
    method: Method,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    request(app, authed(token, method, uri, body)).await
}

/// A self-signed EC certificate and key made by openssl, valid for two days: `cn`, the
/// subjectAltName `san` (`IP:127.0.0.1`, `DNS:localhost,IP:127.0.0.1`), and `extra` `-addext` values.
pub fn self_signed(cert: &Path, key: &Path, cn: &str, san: &str, extra: &[&str]) {
    let mut cmd = std::process::Command::new("openssl");
    cmd.args([
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "2",
    ])
    .args(["-subj", &format!("/CN={cn}"), "-addext", &format!("subjectAltName={san}")]);
    for e in extra {
        cmd.args(["-addext", e]);
    }
    let ok = cmd
        .arg("-keyout")
        .arg(key)
        .arg("-out")
        .arg(cert)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success(), "openssl req failed");
}

/// The real `proxwatch demo` binary on a free port, logged in as the demo admin with curl's cookie
/// jar: for the tests that put a real peer (Prometheus, mosquitto) in front of the appliance. Killed
/// on drop.
pub struct DemoProcess {
    child: std::process::Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    jar: PathBuf,
    csrf: String,
}

impl DemoProcess {
    /// Starts the demo with its data in `dir/data` and logs in (its first stdout line says where it
    /// listens: no polling).
    pub fn start(dir: &Path) -> DemoProcess {
        DemoProcess::start_with(dir, 0, &[])
    }

    /// [`DemoProcess::start`] on `port` (0: any) with extra environment (`PROXWATCH_*` settings).
    pub fn start_with(dir: &Path, port: u16, env: &[(&str, &str)]) -> DemoProcess {
        use std::io::{BufRead, BufReader};
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_proxwatch"))
            .args(["demo", "--port", &port.to_string(), "--data-dir"])
            .arg(dir.join("data"))
            .env("PROXWATCH_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let line = BufReader::new(child.stdout.take().unwrap()).lines().next().unwrap().unwrap();
        let base =
            line.strip_prefix("proxwatch demo listening on ").expect(&line).trim_end_matches('/').to_string();
        let jar = dir.join("jar");
        let mut d = DemoProcess { child, base, jar, csrf: String::new() };
        let login = d.curl(&[
            "-c",
            d.jar.to_str().unwrap(),
            "-H",
            "content-type: application/json",
            "-d",
            r#"{"username":"demo","password":"demo"}"#,
            &format!("{}/api/auth/login", d.base),
        ]);
        d.csrf =
            serde_json::from_str::<Value>(&login).unwrap()["csrf_token"].as_str().expect(&login).to_string();
        d
    }

    /// curl with a 10 s limit; its stdout.
    pub fn curl(&self, args: &[&str]) -> String {
        let out =
            // -k: a demo served over HTTPS shows a self-signed certificate.
            std::process::Command::new("curl").args(["-sSk", "--max-time", "10"]).args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// A JSON call to `path` in the admin's session (with the CSRF header); the answer as JSON.
    pub fn api(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let csrf = format!("x-csrf-token: {}", self.csrf);
        let url = format!("{}{path}", self.base);
        let body = body.map(|b| b.to_string());
        let mut args = vec![
            "-b",
            self.jar.to_str().unwrap(),
            "-X",
            method,
            "-H",
            "content-type: application/json",
            "-H",
            &csrf,
        ];
        if let Some(b) = &body {
            args.extend(["-d", b.as_str()]);
        }
        args.push(&url);
        let out = self.curl(&args);
        // A 204 has no body.
        if out.is_empty() && method == "DELETE" {
            return Value::Null;
        }
        serde_json::from_str(&out).unwrap_or_else(|_| panic!("{method} {path}: not JSON: {out}"))
    }

    /// A new API token of `scope`, made the way an admin makes one (with the password again).
    pub fn token(&self, scope: &str) -> String {
        let made = self.api(
            "POST",
            "/api/auth/tokens",
            Some(serde_json::json!({ "name": format!("test-{scope}"), "scope": scope, "password": "demo" })),
        );
        made["token"].as_str().unwrap_or_else(|| panic!("no token: {made}")).to_string()
    }

    /// Stops the appliance now (SIGKILL: no goodbye, as a crash).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for DemoProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A TLS acceptor for `localhost` / 127.0.0.1 with a fresh self-signed end-entity certificate
/// (`CA:FALSE`, so rustls' verdict is "unknown issuer") valid for two days, written under `dir`.
pub fn localhost_tls(dir: &Path) -> tokio_rustls::TlsAcceptor {
    let (cert, key) = (dir.join("c.pem"), dir.join("k.pem"));
    self_signed(
        &cert,
        &key,
        "localhost",
        "DNS:localhost,IP:127.0.0.1",
        &["basicConstraints=critical,CA:FALSE"],
    );
    tls_acceptor(&cert, &key)
}

/// A rustls server acceptor for a PEM certificate chain and key (the local TLS peers of the HTTP
/// client and PVE API tests).
pub fn tls_acceptor(cert: &Path, key: &Path) -> tokio_rustls::TlsAcceptor {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(cert).unwrap().collect::<Result<_, _>>().unwrap();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config))
}

/// Reads one HTTP/1.1 request (head, then `Content-Length` bytes of body) from `s`, or what came
/// before the peer closed.
pub async fn read_http_request<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> String {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).await.unwrap_or(0);
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if let Some(end) = text.find("\r\n\r\n") {
            let len = text[..end]
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length: ").map(str::to_string))
                .map_or(0, |v| v.trim().parse::<usize>().unwrap());
            if buf.len() >= end + 4 + len {
                break;
            }
        }
        if n == 0 {
            break;
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}
