//! The application: shared handles ([`App`]), the HTTP router, and [`run`], which starts the workers
//! and the server and stops them all gracefully (HTTP drains, workers stop, history is flushed and the
//! database closed) when the cancellation token fires.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::FromRef;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::api::{ApiState, Shared};
use crate::auth::Auth;
use crate::auth::fail2ban::Bans;
use crate::auth::origin::HostCheck;
use crate::config::Config;
use crate::db::Db;
use crate::health::{Bus, HealthSnapshot};
use crate::history::History;
use crate::host::Host;
use crate::model::{Clock, Identity, ProcessSnapshot};
use crate::series::Series;
use crate::workers::gpu::GpuSnapshot;
use crate::workers::hardware::HardwareSnapshot;
use crate::workers::inventory::Inventory;
use crate::workers::journal::Journal;
use crate::workers::network::NetworkSnapshot;
use crate::workers::ups::UpsSnapshot;
use crate::workers::{Loops, ProcessDemand};

pub use crate::api::SystemCache;
pub use crate::model::{DemoInfo, LiveSample};

/// The composition root: the workers' senders, the services they share, and the API's state built
/// from receivers of the same channels. Built once per process (or per test); nothing below this
/// floor sees it.
pub struct App {
    pub config: Config,
    /// The configuration's layers and sources, the Settings page's stored layer, the restart request.
    pub settings: Arc<crate::settings::Settings>,
    pub host: Arc<Host>,
    pub db: Db,
    pub history: Arc<History>,
    /// Auxiliary history series (gateway latency, temperatures, UPS charge, GPU load, ...).
    pub series: Arc<Series>,
    pub vitals: watch::Sender<Option<Arc<LiveSample>>>,
    pub identity: watch::Sender<Option<Arc<Identity>>>,
    pub processes: watch::Sender<Arc<ProcessSnapshot>>,
    pub process_demand: Arc<ProcessDemand>,
    /// The latest inventory (guests, storage, disks), published by the inventory poller.
    pub inventory: watch::Sender<Arc<Inventory>>,
    /// Interfaces, bridges, bonds and the gateway probe (network worker).
    pub network: watch::Sender<Arc<NetworkSnapshot>>,
    /// Sensors, IPMI and static hardware (hardware worker).
    pub hardware: watch::Sender<Arc<HardwareSnapshot>>,
    /// UPSes from NUT's upsd (ups worker).
    pub ups: watch::Sender<Arc<UpsSnapshot>>,
    /// GPUs (gpu worker).
    pub gpu: watch::Sender<Arc<GpuSnapshot>>,
    /// The health monitor's latest evaluation (the same channel as `health_bus.snapshot`).
    pub health: watch::Sender<Arc<HealthSnapshot>>,
    /// The health monitor's events channel, thresholds, exclusions, facts and run trigger.
    pub health_bus: Arc<Bus>,
    /// The notification engine.
    pub notify: Arc<crate::notify::engine::Engine>,
    notify_started: Mutex<bool>,
    /// The MQTT client for Home Assistant (off until configured).
    pub mqtt: Arc<crate::mqtt::Mqtt>,
    /// The PVE API token proxwatch uses (`None` until connected), shared with whoever calls the API.
    pub pve: crate::host::pveapi::PveLink,
    /// The connect step: the stored token, `pveum`, and the link above.
    pub pve_conn: Arc<crate::pveconn::PveConn>,
    /// The journal reader (queries and live follows, bounded).
    pub journal: Arc<Journal>,
    pub auth: Arc<Auth>,
    pub bans: Bans,
    /// The `Host` names and `Origin`s proxwatch answers to (DNS rebinding, cross-site websockets).
    pub hosts: Arc<HostCheck>,
    pub demo: Option<DemoInfo>,
    /// The terminal's session manager (the API's, shared).
    pub terminal: Arc<crate::terminal::Terminal>,
    /// Guests' RRD answers (the API's, shared).
    pub rrd_cache: Arc<crate::api::rrd_cache::RrdCache>,
    /// The service monitors: the runner and its published states, the change signal.
    pub monitors: Arc<crate::monitors::worker::Monitors>,
    /// The fleet's peers and their poller's published states.
    pub fleet: Arc<crate::fleet::Fleet>,
    /// The Docker push agents' reports.
    pub agents: Arc<crate::agents::Agents>,
    action_queue: Mutex<Option<crate::workers::actions::Queue>>,
    /// What the handlers see.
    pub api: ApiState,
    /// Where every background loop runs (tracker, stop token, the first panic).
    pub loops: Loops,
    pub cancel: CancellationToken,
    pub tracker: TaskTracker,
    /// Set when a background loop panicked ([`Loops::spawn`]): the appliance then stops with an
    /// error so that systemd restarts it.
    pub loop_failed: Arc<OnceLock<String>>,
}

impl App {
    /// Builds the app. `config.server.data_dir` must exist: it holds `secret.key` (sealing and
    /// session signing) and, until setup is done, `setup-code`.
    pub fn new(config: Config, host: Host, db: Db, demo: Option<DemoInfo>) -> anyhow::Result<Arc<App>> {
        App::with_clock(config, host, db, demo, Clock::system())
    }

    /// [`App::new`] with the configuration's layers (the Settings page shows each value's source and
    /// stores its own layer; `cli::serve`).
    pub fn with_settings(
        settings: crate::settings::Settings,
        host: Host,
        db: Db,
        demo: Option<DemoInfo>,
    ) -> anyhow::Result<Arc<App>> {
        App::build(settings.config().clone(), host, db, demo, Clock::system(), Some(settings))
    }

    /// [`App::new`] with the clock every loop and handler reads (tests pass a manual one).
    pub fn with_clock(
        config: Config,
        host: Host,
        db: Db,
        demo: Option<DemoInfo>,
        clock: Clock,
    ) -> anyhow::Result<Arc<App>> {
        App::build(config, host, db, demo, clock, None)
    }

    fn build(
        config: Config,
        host: Host,
        db: Db,
        demo: Option<DemoInfo>,
        clock: Clock,
        settings: Option<crate::settings::Settings>,
    ) -> anyhow::Result<Arc<App>> {
        let settings = Arc::new(settings.unwrap_or_else(|| crate::settings::Settings::plain(&config)));
        // Every loop, and the database writes requests leave behind (session touches), run on
        // one tracker, so that shutdown waits for them before the database closes.
        let loops = Loops { clock: clock.clone(), ..Loops::default() };
        let data_dir = config.server.data_dir.clone();
        let keys = crate::auth::seal::Keys::load_or_create(&data_dir.join("secret.key"))?;
        let audit = crate::auth::audit::AuditLog::open_bounded(
            Some(&config.auth.auth_log),
            config.auth.auth_log_max_bytes,
        );
        let notify_keys = keys.clone();
        let fleet = crate::fleet::Fleet::load(db.clone(), keys.clone(), config.fleet.clone(), clock.clone())?;
        let mqtt = crate::mqtt::Mqtt::new(db.clone(), keys.clone(), clock.clone());
        let pve_keys = keys.clone();
        let mut auth = Auth::load(db.clone(), keys, config.auth.clone(), Some(data_dir), audit)?;
        auth.demo = demo.is_some();
        auth.tasks = loops.tracker.clone();
        let auth = Arc::new(auth);
        let host = Arc::new(host);
        let pve = crate::host::pveapi::PveLink::default();
        let pve_conn =
            crate::pveconn::PveConn::new(db.clone(), pve_keys, host.clone(), pve.clone(), clock.clone());
        let bans = Bans::new(&config.auth.fail2ban_jail, host.clone());
        let history = Arc::new(History::new(config.history.live_minutes, config.sampler.interval_ms));
        let series = Arc::new(Series::new(config.history.live_minutes));
        let hosts = Arc::new(HostCheck::new(&config.server.allowed_hosts));
        let terminal = Arc::new(crate::terminal::Terminal::new(
            // The demo turns it off in its config unless started with --terminal (cli::demo).
            config.terminal.enabled,
            crate::terminal::Limits::from_config(&config.terminal),
        ));
        let rrd_cache = Arc::new(crate::api::rrd_cache::RrdCache::default());
        let (actions, queue) = crate::workers::actions::Actions::new();
        let node = crate::workers::inventory::node_name(&host);
        let inventory = watch::Sender::new(Arc::new(Inventory { node, ..Default::default() }));
        let vitals = watch::Sender::new(None);
        let identity = watch::Sender::new(None);
        let processes = watch::Sender::new(Arc::new(ProcessSnapshot::default()));
        let network = watch::Sender::new(Arc::default());
        let hardware = watch::Sender::new(Arc::default());
        let ups = watch::Sender::new(Arc::default());
        let gpu = watch::Sender::new(Arc::default());
        let health_bus = Arc::new(Bus::default());
        let journal = Arc::new(Journal::new(&config.logs));
        let process_demand = Arc::new(ProcessDemand::default());
        let notify = crate::notify::engine::Engine::new(
            db.clone(),
            notify_keys,
            crate::notify::channels::Ctx::new(Duration::from_secs(
                config.notifications.send_timeout_s.max(1),
            ))?,
            clock.clone(),
            host.clone(),
        );
        let monitors = crate::monitors::worker::Monitors::new(
            crate::monitors::runner::Runner::new(
                host.clone(),
                db.clone(),
                inventory.subscribe(),
                pve.clone(),
                jiff::tz::TimeZone::system(),
            )
            .with_clock(clock.clone()),
            &config.monitors,
        );
        let agents = crate::agents::Agents::load(
            db.clone(),
            config.agents.clone(),
            clock.clone(),
            inventory.subscribe(),
        )?;
        let api = ApiState(Arc::new(Shared {
            settings: settings.clone(),
            notify: notify.clone(),
            mqtt: mqtt.clone(),
            pve: pve_conn.clone(),
            started: std::time::Instant::now(),
            listen: OnceLock::new(),
            config: config.clone(),
            host: host.clone(),
            db: db.clone(),
            history: history.clone(),
            series: series.clone(),
            vitals: vitals.subscribe(),
            identity: identity.subscribe(),
            processes: processes.subscribe(),
            process_demand: process_demand.clone(),
            inventory: inventory.subscribe(),
            network: network.subscribe(),
            hardware: hardware.subscribe(),
            ups: ups.subscribe(),
            gpu: gpu.subscribe(),
            health: health_bus.snapshot.subscribe(),
            health_bus: health_bus.clone(),
            metrics: Arc::new(crate::metrics::Exporter::new(
                crate::metrics::Feeds {
                    workers: worker_feeds(
                        &vitals,
                        &identity,
                        &inventory,
                        &network,
                        &hardware,
                        &ups,
                        &gpu,
                        &monitors.runner.out,
                        &fleet.out,
                        &agents.out,
                    ),
                    health: health_bus.snapshot.subscribe(),
                    facts: health_bus.facts.subscribe(),
                },
                crate::VERSION,
            )),
            journal: journal.clone(),
            actions,
            auth: auth.clone(),
            bans: bans.clone(),
            hosts: hosts.clone(),
            terminal: terminal.clone(),
            demo: demo.clone(),
            live_clients: crate::api::live::Slots::new(
                config.server.max_live_clients,
                config.server.max_live_per_user,
                config.server.max_live_per_ip,
            ),
            system_cache: Mutex::new(None),
            rrd_cache: rrd_cache.clone(),
            monitors: monitors.clone(),
            fleet: fleet.clone(),
            agents: agents.clone(),
            cancel: loops.cancel.clone(),
            tracker: loops.tracker.clone(),
            clock,
        }));
        Ok(Arc::new(App {
            settings,
            notify,
            mqtt,
            pve,
            pve_conn,
            notify_started: Mutex::new(false),
            health: health_bus.snapshot.clone(),
            health_bus,
            host,
            db,
            history,
            series,
            vitals,
            identity,
            processes,
            process_demand,
            inventory,
            network,
            hardware,
            ups,
            gpu,
            journal,
            auth,
            bans,
            hosts,
            demo,
            terminal,
            rrd_cache,
            monitors,
            fleet,
            agents,
            action_queue: Mutex::new(Some(queue)),
            api,
            cancel: loops.cancel.clone(),
            tracker: loops.tracker.clone(),
            loop_failed: loops.failed.clone(),
            loops,
            config,
        }))
    }

    /// Replaces the terminal (its limits) before the app is shared: tests use durations finer than
    /// the config's units. Returns false (and changes nothing) once the app is shared.
    pub fn set_terminal(self: &mut Arc<Self>, terminal: crate::terminal::Terminal) -> bool {
        let Some(app) = Arc::get_mut(self) else { return false };
        let Some(api) = Arc::get_mut(&mut app.api.0) else { return false };
        let terminal = Arc::new(terminal);
        api.terminal = terminal.clone();
        app.terminal = terminal;
        true
    }

    /// The health cycle's inputs and outputs.
    pub fn health_io(&self) -> crate::health::Io {
        crate::health::Io {
            feeds: worker_feeds(
                &self.vitals,
                &self.identity,
                &self.inventory,
                &self.network,
                &self.hardware,
                &self.ups,
                &self.gpu,
                &self.monitors.runner.out,
                &self.fleet.out,
                &self.agents.out,
            ),
            db: self.db.clone(),
            bus: self.health_bus.clone(),
        }
    }

    /// Spawns every background loop: the workers, the health cycle and its facts, and the loops of
    /// the auth service.
    pub fn spawn_all(self: &Arc<Self>) {
        use crate::workers as w;
        let (loops, cfg) = (&self.loops, &self.config);
        let s = &cfg.sampler;
        loops.spawn(
            "sampler",
            w::run_sampler(
                self.host.clone(),
                self.history.clone(),
                self.vitals.clone(),
                self.loops.every(Duration::from_millis(s.interval_ms)),
            ),
        );
        loops.spawn(
            "processes",
            w::run_processes(
                self.host.clone(),
                self.process_demand.clone(),
                self.processes.clone(),
                s.processes_demand_s,
                self.loops.every(Duration::from_secs(s.processes_interval_s.max(1))),
            ),
        );
        loops.spawn(
            "identity",
            w::run_identity(
                self.host.clone(),
                self.identity.clone(),
                self.loops.every(Duration::from_secs(s.identity_refresh_s.max(60))),
            ),
        );
        let h = &cfg.history;
        let flush = w::run_history_flush(
            self.db.clone(),
            self.history.clone(),
            self.series.clone(),
            Duration::from_secs(h.flush_interval_s),
            &self.loops,
        );
        loops.spawn("history flush", flush);
        loops.spawn(
            "retention",
            w::run_retention(
                self.db.clone(),
                [h.retain_1m_days, h.retain_10m_days, h.retain_1h_days],
                self.loops.every(Duration::from_secs(h.retention_interval_s)),
            ),
        );
        loops.spawn(
            "auth sync",
            crate::auth::sync::run(
                self.db.clone(),
                self.auth.clone(),
                self.loops.every(Duration::from_secs(3)),
            ),
        );
        loops.spawn(
            "fail2ban",
            self.bans.clone().run(
                Duration::from_secs(cfg.auth.fail2ban_interval_s),
                self.auth.audit.failure_counter(),
                self.cancel.clone(),
            ),
        );
        loops.spawn(
            "inventory",
            w::run_inventory(
                self.host.clone(),
                self.db.clone(),
                self.inventory.clone(),
                self.pve.clone(),
                self.loops.every(Duration::from_secs(2)),
            ),
        );
        let network = w::network::Wiring {
            host: self.host.clone(),
            series: self.series.clone(),
            cfg: cfg.network.clone(),
            inventory: self.inventory.subscribe(),
            vitals: self.vitals.subscribe(),
            out: self.network.clone(),
            // The demo (always a replayed host) starts with a day of gateway history.
            backfill: self.demo.is_some(),
        };
        let period = network.period();
        loops.spawn("network", w::network::run(network, self.loops.every(period)));
        let opts = w::hardware::Options::from_config(&cfg.hardware);
        let tick = self.loops.every(opts.period());
        loops.spawn(
            "hardware",
            w::hardware::run(self.host.clone(), self.series.clone(), opts, self.hardware.clone(), tick),
        );
        loops.spawn(
            "ups",
            w::ups::run(
                self.host.clone(),
                self.series.clone(),
                cfg.nut.clone(),
                self.ups.clone(),
                self.loops.every(Duration::from_secs(cfg.nut.interval_s.max(1))),
            ),
        );
        loops.spawn(
            "gpu",
            w::gpu::run(
                self.host.clone(),
                self.series.clone(),
                self.gpu.clone(),
                self.loops.every(Duration::from_secs(cfg.hardware.interval_s.max(1))),
            ),
        );
        self.spawn_services();
        loops.spawn(
            "pve link",
            crate::pveconn::run(self.pve_conn.clone(), self.loops.every(Duration::from_secs(5))),
        );
        loops.spawn(
            "health cycle",
            crate::health::run(
                self.health_io(),
                cfg.health.clone(),
                self.loops.clock.clone(),
                self.cancel.clone(),
            ),
        );
        loops.spawn(
            "health facts",
            crate::health::facts::run(
                self.host.clone(),
                self.db.clone(),
                cfg.tls.clone(),
                cfg.health.clone(),
                self.health_bus.facts.clone(),
                self.health_bus.log_hits.clone(),
                self.loops.every(Duration::from_secs(15)),
            ),
        );
        loops.spawn("host names", watch_host_names(self.clone()));
        if self.monitors.enabled {
            loops.spawn(
                "monitors",
                crate::monitors::worker::run(
                    self.monitors.clone(),
                    self.loops.clock.clone(),
                    self.cancel.clone(),
                ),
            );
        }
        if cfg.fleet.enabled {
            loops.spawn("fleet", crate::fleet::run(self.fleet.clone(), self.cancel.clone()));
        }
        loops.spawn("agents", crate::agents::run(self.agents.clone(), self.cancel.clone()));
        if self.demo.is_some() {
            loops.spawn("demo agent", crate::agents::demo::run(self.agents.clone(), self.cancel.clone()));
        }
        self.spawn_notify();
        let mqtt_inputs = crate::mqtt::Inputs {
            feeds: self.health_io().feeds,
            health: self.health_bus.snapshot.subscribe(),
        };
        loops.spawn("mqtt", crate::mqtt::run(self.mqtt.clone(), mqtt_inputs, self.cancel.clone()));
    }

    /// Starts the notification engine (once): its intake loop and one worker per channel.
    pub fn spawn_notify(&self) {
        if !self.config.notifications.enabled {
            return;
        }
        let first =
            self.notify_started.lock().map(|mut s| !std::mem::replace(&mut *s, true)).unwrap_or(false);
        if first {
            let inputs = crate::notify::run::Inputs {
                health: self.health_bus.events.subscribe(),
                inventory: self.inventory.subscribe(),
                log_hits: self.health_bus.log_hits.subscribe(),
                monitor_events: self.monitors.runner.events.subscribe(),
            };
            self.loops
                .spawn("notify", crate::notify::run::run(self.notify.clone(), inputs, self.loops.clone()));
        }
    }

    /// Starts the services request handlers hand work to (the action runner, the journal reader):
    /// the only loops an API test needs. Each starts once, however often this is called.
    pub fn spawn_services(&self) {
        self.spawn_actions();
        self.loops.spawn(
            "journal",
            crate::workers::journal::run(self.journal.clone(), self.host.clone(), self.loops.clone()),
        );
    }

    /// Starts the action runner (once; tests that drive the API without the other workers call it).
    pub fn spawn_actions(&self) {
        let queue = self.action_queue.lock().ok().and_then(|mut q| q.take());
        if let Some(queue) = queue {
            self.loops.spawn(
                "actions",
                crate::workers::actions::run(self.host.clone(), queue, self.cancel.clone()),
            );
        }
    }
}

impl FromRef<ApiState> for crate::web::BasePath {
    fn from_ref(state: &ApiState) -> Self {
        crate::web::BasePath(state.config.server.base_path.as_str().into())
    }
}

/// The loopback listener's surface: the PVE webhook receiver only.
pub fn pve_router(app: Arc<App>) -> Router {
    crate::api::pve_webhook_router(app.api.clone())
}

/// The whole HTTP surface: `/api/*` (JSON only) and the embedded SPA for everything else.
pub fn router(app: Arc<App>) -> Router {
    let state = app.api.clone();
    let gate = crate::api::gate(&state);
    let sized = axum::middleware::from_fn(crate::server::limit_request_size);
    // Validated with the config; an unparsable allow-list would have stopped the start.
    let metrics = crate::api::metrics::router(&state).unwrap_or_else(|e| {
        tracing::error!(error = %e, "metrics.public: /metrics is not served");
        Router::new()
    });
    Router::new()
        .nest("/api", crate::api::router(state.clone()))
        .merge(metrics)
        .route("/agent/docker.sh", axum::routing::get(crate::api::agent_script))
        .fallback(crate::web::serve)
        .layer(axum::middleware::from_fn(crate::api::log_request))
        .layer(axum::extract::DefaultBodyLimit::max(crate::api::MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(gate, crate::auth::layer::check_host))
        .layer(axum::middleware::map_response_with_state(state.clone(), security_headers))
        .layer(sized)
        .with_state(state)
}

/// Receivers of the workers' channels, for a reader of all of them (the health cycle, `/metrics`).
// One receiver per worker's channel: the composition root's list of them.
#[allow(clippy::too_many_arguments)]
fn worker_feeds(
    vitals: &watch::Sender<Option<Arc<LiveSample>>>,
    identity: &watch::Sender<Option<Arc<Identity>>>,
    inventory: &watch::Sender<Arc<Inventory>>,
    network: &watch::Sender<Arc<NetworkSnapshot>>,
    hardware: &watch::Sender<Arc<HardwareSnapshot>>,
    ups: &watch::Sender<Arc<UpsSnapshot>>,
    gpu: &watch::Sender<Arc<GpuSnapshot>>,
    monitors: &watch::Sender<crate::monitors::runner::Snapshot>,
    fleet: &watch::Sender<crate::model::fleet::Peers>,
    agents: &watch::Sender<crate::model::docker::Agents>,
) -> crate::health::Feeds {
    crate::health::Feeds {
        vitals: vitals.subscribe(),
        identity: identity.subscribe(),
        inventory: inventory.subscribe(),
        network: network.subscribe(),
        hardware: hardware.subscribe(),
        ups: ups.subscribe(),
        gpu: gpu.subscribe(),
        monitors: monitors.subscribe(),
        fleet: fleet.subscribe(),
        agents: agents.subscribe(),
    }
}

/// Headers every response carries; HSTS only when proxwatch itself serves TLS.
async fn security_headers(
    axum::extract::State(state): axum::extract::State<ApiState>,
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
        // A port in use or a permission refused is the same on IPv4: say that, not "IPv6 unavailable".
        Err(e)
            if addr.ip().is_unspecified()
                && addr.is_ipv6()
                && !matches!(
                    e.kind(),
                    std::io::ErrorKind::AddrInUse | std::io::ErrorKind::PermissionDenied
                ) =>
        {
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
    app.spawn_all();
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let _ = app.api.listen.set(listener.local_addr()?);
    let cancel = app.cancel.clone();
    let limit = Duration::from_secs(app.config.server.shutdown_timeout_s);
    let tls = if app.config.tls.enabled {
        // The demo's host is its recorded scenario (whose Proxmox certificate it serves by default);
        // a certificate the admin names is a file on this machine.
        let host = if app.demo.is_some() && !app.config.tls.cert.is_empty() {
            Arc::new(Host::system(Duration::from_secs(5)))
        } else {
            app.host.clone()
        };
        Some(crate::tls::acceptor(host, app.config.tls.clone(), &app.loops)?)
    } else {
        None
    };
    // PVE's webhook target checks certificates against the system store, so with HTTPS on it posts to
    // a plain-HTTP loopback listener that serves the webhook receiver and nothing else.
    if tls.is_some() && app.config.notifications.enabled && !app.config.notifications.pve_listen.is_empty() {
        let addr: SocketAddr = app.config.notifications.pve_listen.parse().with_context(|| {
            format!("notifications.pve_listen {:?} is not an address", app.config.notifications.pve_listen)
        })?;
        if !addr.ip().is_loopback() {
            anyhow::bail!("notifications.pve_listen must be a loopback address, not {addr}");
        }
        let l = tokio::net::TcpListener::from_std(bind(addr)?)?;
        tracing::info!(addr = %addr, "PVE webhook receiver listening (plain HTTP, loopback)");
        let (router, limits, cancel) =
            (pve_router(app.clone()), crate::server::Limits::from_config(&app.config), app.cancel.clone());
        app.tracker.spawn(async move {
            if let Err(e) = crate::server::serve(l, router, String::new(), None, limits, cancel, limit).await
            {
                tracing::error!(error = %format!("{e:#}"), "PVE webhook listener failed");
            }
        });
    }
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

#[cfg(test)]
mod tests {
    #[test]
    fn a_port_in_use_is_reported_as_in_use_not_as_missing_ipv6() {
        let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = held.local_addr().unwrap().port();
        let addr = std::net::SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, port));
        let err = format!("{:#}", super::bind(addr).unwrap_err());
        assert!(err.contains("in use"), "{err}");
        // Where IPv6 exists, the error names the address asked for, not an IPv4 fallback.
        if std::net::TcpListener::bind("[::1]:0").is_ok() {
            assert!(err.starts_with(&format!("binding [::]:{port}")), "{err}");
        }
    }
}
