//! The application: shared handles ([`App`]), the HTTP router, and [`run`], which starts the workers
//! and the server and stops them all gracefully (HTTP drains, workers stop, history is flushed and the
//! database closed) when the cancellation token fires.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use serde::Serialize;
use serde_json::value::RawValue;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::db::Db;
use crate::history::History;
use crate::host::Host;
use crate::model::{Identity, ProcessSnapshot, Sample};

/// A vitals sample with its JSON rendered once, so that every reader (API, live streams) shares it.
#[derive(Debug)]
pub struct LiveSample {
    pub sample: Sample,
    pub json: Box<RawValue>,
}

impl LiveSample {
    pub fn new(sample: Sample) -> anyhow::Result<LiveSample> {
        let json = serde_json::value::to_raw_value(&sample)?;
        Ok(LiveSample { sample, json })
    }
}

pub type SystemCache = std::sync::Mutex<Option<((Option<i64>, Option<usize>), bytes::Bytes)>>;

/// What the demo tells the UI about itself.
#[derive(Debug, Clone, Serialize)]
pub struct DemoInfo {
    pub scenario: String,
    pub note: String,
}

impl DemoInfo {
    /// The demo's only account, shown on its login page (to loopback names only); the demo listens on
    /// 127.0.0.1 only.
    pub const USER: &'static str = "demo";
    pub const PASSWORD: &'static str = "demo";
    /// `PASSWORD` hashed ahead of time, so the demo starts without spending ~100 ms in argon2.
    pub const PHC: &'static str =
        "$argon2id$v=19$m=65536,t=2,p=1$q38YhHsDAgcDRCbSzTSomA$4Jm3mHs+p5RiiXGpHQZfM83EEKU3gxS3JVr2JNhelnk";
}

/// Everything the handlers and workers share. Built once per process (or per test).
pub struct App {
    pub config: Config,
    pub host: Arc<Host>,
    pub db: Db,
    pub history: Arc<History>,
    pub vitals: watch::Sender<Option<Arc<LiveSample>>>,
    pub identity: watch::Sender<Option<Arc<Identity>>>,
    pub processes: watch::Sender<Arc<ProcessSnapshot>>,
    /// When the API last asked for processes (unix ms): the scanner runs only while this is recent.
    pub process_demand_ms: AtomicI64,
    pub process_wakeup: Notify,
    /// Live-stream slots (vitals and log follows), bounded in total, per user and per address.
    pub live_clients: crate::api::live::Slots,
    /// The `Host` names and `Origin`s proxwatch answers to (DNS rebinding, cross-site websockets).
    pub hosts: crate::auth::origin::HostCheck,
    /// `/api/system`'s rendered body, keyed by (sample ts, identity pointer).
    pub system_cache: SystemCache,
    pub demo: Option<DemoInfo>,
    pub auth: crate::auth::Auth,
    /// The latest inventory (guests, storage, disks), published by the inventory poller.
    pub inventory: watch::Sender<Arc<crate::workers::inventory::Inventory>>,
    /// Operator actions (guest power, self-tests) run here, never in handlers.
    pub actions: crate::workers::actions::Actions,
    pub(crate) action_queue: std::sync::Mutex<Option<crate::workers::actions::Queue>>,
    /// Guests' RRD history answers, kept a minute so that open guest pages do not each run `pvesh`.
    pub rrd_cache: crate::api::rrd_cache::RrdCache,
    pub bans: crate::auth::fail2ban::Bans,
    pub terminal: crate::terminal::Terminal,
    /// Interfaces, bridges, bonds and the gateway probe (network worker).
    pub network: watch::Sender<Arc<crate::workers::network::NetworkSnapshot>>,
    /// Sensors, IPMI and static hardware (hardware worker).
    pub hardware: watch::Sender<Arc<crate::workers::hardware::HardwareSnapshot>>,
    /// UPSes from NUT's upsd (ups worker).
    pub ups: watch::Sender<Arc<crate::workers::ups::UpsSnapshot>>,
    /// GPUs (gpu worker).
    pub gpu: watch::Sender<Arc<crate::workers::gpu::GpuSnapshot>>,
    /// The journal reader (queries and live follows, bounded).
    pub journal: crate::workers::journal::Journal,
    /// The health monitor's latest evaluation.
    pub health: watch::Sender<Arc<crate::health::HealthSnapshot>>,
    /// The health monitor's events channel, thresholds, exclusions, facts and run trigger.
    pub health_bus: crate::health::Bus,
    /// Auxiliary history series (gateway latency, temperatures, UPS charge, GPU load, ...).
    pub series: Arc<crate::series::Series>,
    pub cancel: CancellationToken,
    pub tracker: TaskTracker,
    /// Set when a background loop panicked (`workers::spawn_loop`): the appliance then stops with an
    /// error so that systemd restarts it.
    pub loop_failed: std::sync::OnceLock<String>,
}

/// The axum state: a cheap clone of the shared [`App`].
#[derive(Clone)]
pub struct AppState(pub Arc<App>);

impl std::ops::Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

impl App {
    /// Builds the app. `config.server.data_dir` must exist: it holds `secret.key` (sealing and
    /// session signing) and, until setup is done, `setup-code`.
    pub fn new(config: Config, host: Host, db: Db, demo: Option<DemoInfo>) -> anyhow::Result<Arc<App>> {
        let data_dir = config.server.data_dir.clone();
        let keys = crate::auth::seal::Keys::load_or_create(&data_dir.join("secret.key"))?;
        let audit = crate::auth::audit::AuditLog::open_bounded(
            Some(&config.auth.auth_log),
            config.auth.auth_log_max_bytes,
        );
        let mut auth = crate::auth::Auth::load(db.clone(), keys, config.auth.clone(), Some(data_dir), audit)?;
        auth.demo = demo.is_some();
        // The database writes requests leave behind (session touches) are tracked with the workers.
        let tracker = TaskTracker::new();
        auth.tasks = tracker.clone();
        let host = Arc::new(host);
        let bans = crate::auth::fail2ban::Bans::new(&config.auth.fail2ban_jail, host.clone());
        let history = Arc::new(History::new(config.history.live_minutes, config.sampler.interval_ms));
        let live_clients = crate::api::live::Slots::new(
            config.server.max_live_clients,
            config.server.max_live_per_user,
            config.server.max_live_per_ip,
        );
        let hosts = crate::auth::origin::HostCheck::new(&config.server.allowed_hosts);
        let terminal = crate::terminal::Terminal::new(
            // The demo turns it off in its config unless started with --terminal (cli::demo).
            config.terminal.enabled,
            crate::terminal::Limits::from_config(&config.terminal),
        );
        let (actions, queue) = crate::workers::actions::Actions::new();
        let node = crate::workers::inventory::node_name(&host);
        let inventory = crate::workers::inventory::Inventory { node, ..Default::default() };
        Ok(Arc::new(App {
            inventory: watch::Sender::new(Arc::new(inventory)),
            actions,
            action_queue: std::sync::Mutex::new(Some(queue)),
            rrd_cache: crate::api::rrd_cache::RrdCache::default(),
            host,
            db,
            history,
            vitals: watch::Sender::new(None),
            identity: watch::Sender::new(None),
            processes: watch::Sender::new(Arc::new(ProcessSnapshot::default())),
            process_demand_ms: AtomicI64::new(0),
            process_wakeup: Notify::new(),
            live_clients,
            hosts,
            system_cache: std::sync::Mutex::new(None),
            demo,
            auth,
            bans,
            terminal,
            network: watch::Sender::new(Arc::default()),
            hardware: watch::Sender::new(Arc::default()),
            ups: watch::Sender::new(Arc::default()),
            gpu: watch::Sender::new(Arc::default()),
            journal: crate::workers::journal::Journal::new(&config.logs),
            health: watch::Sender::new(Arc::default()),
            health_bus: crate::health::Bus::default(),
            series: Arc::new(crate::series::Series::new(config.history.live_minutes)),
            cancel: CancellationToken::new(),
            tracker,
            loop_failed: std::sync::OnceLock::new(),
            config,
        }))
    }
}

/// The whole HTTP surface: `/api/*` (JSON only) and the embedded SPA for everything else.
pub fn router(app: Arc<App>) -> Router {
    let state = AppState(app);
    let sized = axum::middleware::from_fn(crate::server::limit_request_size);
    Router::new()
        .nest("/api", crate::api::router(state.clone()))
        .fallback(crate::web::serve)
        .layer(axum::middleware::from_fn(crate::api::log_request))
        .layer(axum::extract::DefaultBodyLimit::max(crate::api::MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::auth::layer::check_host))
        .layer(axum::middleware::map_response_with_state(state.clone(), security_headers))
        .layer(sized)
        .with_state(state)
}

/// Headers every response carries; HSTS only when proxwatch itself serves TLS.
async fn security_headers(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut resp: axum::response::Response,
) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    let h = resp.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.entry(header::REFERRER_POLICY).or_insert(HeaderValue::from_static("same-origin"));
    // No page of proxwatch (the terminal least of all) may be framed by another site.
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if state.config.tls.enabled {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    resp
}

/// The router behind the base-path rewrite, as a service for `axum::serve`.
pub fn service(
    app: Arc<App>,
) -> impl tower::Service<
    axum::extract::Request,
    Response = axum::response::Response,
    Error = std::convert::Infallible,
    Future = impl Send,
> + Clone
+ Send
+ 'static {
    let base = app.config.server.base_path.clone();
    let inner = router(app);
    tower::service_fn(move |mut req: axum::extract::Request| {
        let early = crate::server::strip_base(&base, &mut req);
        let mut inner = inner.clone();
        async move {
            match early {
                Some(resp) => Ok(resp),
                None => tower::Service::call(&mut inner, req).await,
            }
        }
    })
}

/// Binds the listening socket: `::` is made dual-stack explicitly (IPV6_V6ONLY off), and falls back
/// to `0.0.0.0` when the host has IPv6 disabled.
pub fn bind(addr: SocketAddr) -> anyhow::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let try_bind = |addr: SocketAddr| -> std::io::Result<std::net::TcpListener> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
        if addr.is_ipv6() {
            socket.set_only_v6(false)?;
        }
        socket.set_reuse_address(true)?;
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        socket.listen(1024)?;
        Ok(socket.into())
    };
    match try_bind(addr) {
        Ok(l) => Ok(l),
        Err(e) if addr.ip().is_unspecified() && addr.is_ipv6() => {
            let v4 = SocketAddr::from(([0, 0, 0, 0], addr.port()));
            tracing::warn!(error = %e, "IPv6 unavailable; listening on IPv4 only");
            try_bind(v4).with_context(|| format!("binding {v4}"))
        }
        Err(e) => Err(e).with_context(|| format!("binding {addr}")),
    }
}

/// Runs the workers and the server until `app.cancel` fires, then stops everything within the
/// configured shutdown timeout.
pub async fn run(app: Arc<App>, listener: std::net::TcpListener) -> anyhow::Result<()> {
    // The identity is read once before serving so the first page load has it.
    match crate::workers::sampler::identity(&app.host).await {
        Ok(id) => {
            app.identity.send_replace(Some(Arc::new(id)));
        }
        Err(e) => tracing::error!(error = %format!("{e:#}"), "cannot read the host identity"),
    }
    crate::workers::spawn_all(&app);
    crate::workers::spawn_loop(&app, "health cycle", crate::health::run(app.clone()));
    crate::workers::spawn_loop(&app, "health facts", crate::health::facts::run(app.clone()));
    crate::workers::spawn_loop(&app, "host names", watch_host_names(app.clone()));
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let cancel = app.cancel.clone();
    let limit = Duration::from_secs(app.config.server.shutdown_timeout_s);
    let tls = if app.config.tls.enabled {
        Some(crate::tls::acceptor(app.host.clone(), app.config.tls.clone(), cancel.clone())?)
    } else {
        None
    };
    let served = crate::server::serve(
        listener,
        router(app.clone()),
        app.config.server.base_path.clone(),
        tls,
        crate::server::Limits::from_config(&app.config),
        cancel,
        limit,
    )
    .await;
    app.cancel.cancel();
    app.tracker.close();
    if tokio::time::timeout(limit, app.tracker.wait()).await.is_err() {
        tracing::warn!("workers did not stop within {limit:?}");
    }
    let db = app.db.clone();
    tokio::task::spawn_blocking(move || db.close()).await.context("closing database")??;
    if let Some(which) = app.loop_failed.get() {
        anyhow::bail!("stopped because a background loop panicked ({which})");
    }
    tracing::info!("stopped cleanly");
    served
}

/// The machine's own names and addresses for the `Host` check: the hostname, the names
/// `/etc/hosts` gives it, and every interface address (re-read when the identity or the network
/// snapshot changes, so a new address or a renamed host is allowed without a restart).
pub fn machine_names(app: &App) -> Vec<crate::auth::origin::HostName> {
    use crate::auth::origin::{HostName, names_from_etc_hosts};
    let mut out = Vec::new();
    let hostname = app.identity.borrow().as_ref().map(|i| i.hostname.clone()).unwrap_or_default();
    if !hostname.is_empty() {
        let etc_hosts = app.host.read("/etc/hosts").unwrap_or_default();
        out.extend(
            std::iter::once(hostname.clone())
                .chain(names_from_etc_hosts(&etc_hosts, &hostname))
                .filter_map(|n| HostName::parse(&n)),
        );
    }
    // The address proxwatch listens on, when it is a specific one (known before any network read).
    if !app.config.server.bind.is_unspecified() {
        out.push(HostName::Ip(crate::auth::canonical(app.config.server.bind)));
    }
    if let Some(ifs) = app.network.borrow().interfaces.data.as_ref() {
        for i in &ifs.interfaces {
            for a in &i.addresses {
                let addr = a.split('/').next().unwrap_or(a);
                if let Ok(ip) = addr.parse::<std::net::IpAddr>() {
                    out.push(HostName::Ip(crate::auth::canonical(ip)));
                }
            }
        }
    }
    out
}

async fn watch_host_names(app: Arc<App>) {
    let mut identity = app.identity.subscribe();
    let mut network = app.network.subscribe();
    loop {
        app.hosts.set_machine(machine_names(&app));
        tokio::select! {
            _ = app.cancel.cancelled() => break,
            r = identity.changed() => if r.is_err() { break },
            r = network.changed() => if r.is_err() { break },
        }
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = term => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
