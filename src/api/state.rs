//! The state the handlers share: the feeds they read (receivers, never senders of the workers'
//! snapshots), the database, the auth service and the request-side services. Built by the
//! composition root (`app.rs`); nothing here knows how the workers are wired.

use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::Auth;
use crate::auth::fail2ban::Bans;
use crate::auth::origin::HostCheck;
use crate::config::Config;
use crate::db::Db;
use crate::health::{Bus, HealthSnapshot};
use crate::history::History;
use crate::host::Host;
use crate::model::gpu::GpuSnapshot;
use crate::model::hardware::HardwareSnapshot;
use crate::model::inventory::Inventory;
use crate::model::network::NetworkSnapshot;
use crate::model::ups::UpsSnapshot;
use crate::model::{Clock, DemoInfo, Identity, LiveSample, ProcessSnapshot};
use crate::series::Series;
use crate::terminal::Terminal;
use crate::workers::ProcessDemand;
use crate::workers::actions::Actions;
use crate::workers::journal::Journal;

/// `/api/system`'s rendered body, keyed by (sample ts, identity pointer).
pub type SystemCache = std::sync::Mutex<Option<((Option<i64>, Option<usize>), bytes::Bytes)>>;

/// Everything a handler may touch.
pub struct Shared {
    /// The configuration's layers and sources (the Settings page), and the restart request.
    pub settings: Arc<crate::settings::Settings>,
    /// The notification engine (channels, test sends, history).
    pub notify: Arc<crate::notify::engine::Engine>,
    /// The MQTT client's settings and status (Home Assistant).
    pub mqtt: Arc<crate::mqtt::Mqtt>,
    /// The PVE API connection: the token (its link, for guest actions) and connect/disconnect.
    pub pve: Arc<crate::pveconn::PveConn>,
    /// When the app was made (`GET /api/system/self`).
    pub started: std::time::Instant,
    /// The address the main listener is bound to, once it is (the configured port may be 0).
    pub listen: std::sync::OnceLock<std::net::SocketAddr>,
    pub config: Config,
    /// For the few reads a handler makes on demand (a guest's config file, the RRD via actions).
    pub host: Arc<Host>,
    pub db: Db,
    pub history: Arc<History>,
    /// Auxiliary history series (gateway latency, temperatures, UPS charge, GPU load, ...).
    pub series: Arc<Series>,
    pub vitals: watch::Receiver<Option<Arc<LiveSample>>>,
    pub identity: watch::Receiver<Option<Arc<Identity>>>,
    pub processes: watch::Receiver<Arc<ProcessSnapshot>>,
    /// Asking for processes wakes the scanner, which otherwise idles.
    pub process_demand: Arc<ProcessDemand>,
    /// The latest inventory (guests, storage, disks), published by the inventory poller.
    pub inventory: watch::Receiver<Arc<Inventory>>,
    /// Interfaces, bridges, bonds and the gateway probe (network worker).
    pub network: watch::Receiver<Arc<NetworkSnapshot>>,
    /// Sensors, IPMI and static hardware (hardware worker).
    pub hardware: watch::Receiver<Arc<HardwareSnapshot>>,
    /// UPSes from NUT's upsd (ups worker).
    pub ups: watch::Receiver<Arc<UpsSnapshot>>,
    /// GPUs (gpu worker).
    pub gpu: watch::Receiver<Arc<GpuSnapshot>>,
    /// The health monitor's latest evaluation.
    pub health: watch::Receiver<Arc<HealthSnapshot>>,
    /// The health monitor's events channel, thresholds, exclusions, facts, ledger and run trigger.
    pub health_bus: Arc<Bus>,
    /// `/metrics`: the exposition rendered from the receivers above, cached per snapshot.
    pub metrics: Arc<crate::metrics::Exporter>,
    /// The journal reader (queries and live follows, bounded).
    pub journal: Arc<Journal>,
    /// Operator actions (guest power, self-tests) and on-demand reads run here, never in handlers.
    pub actions: Actions,
    pub auth: Arc<Auth>,
    pub bans: Bans,
    /// The `Host` names and `Origin`s proxwatch answers to (DNS rebinding, cross-site websockets).
    pub hosts: Arc<HostCheck>,
    pub terminal: Arc<Terminal>,
    pub demo: Option<DemoInfo>,
    /// Live-stream slots (vitals and log follows), bounded in total, per user and per address.
    pub live_clients: super::live::Slots,
    pub system_cache: SystemCache,
    /// Guests' RRD history answers, kept a minute so that open guest pages do not each run `pvesh`.
    pub rrd_cache: Arc<super::rrd_cache::RrdCache>,
    /// The service monitors (definitions, states, run now).
    pub monitors: Arc<crate::monitors::worker::Monitors>,
    /// The fleet's peers (Settings → Fleet, the Fleet page).
    pub fleet: Arc<crate::fleet::Fleet>,
    /// The Docker push agents (reports in, the Containers page).
    pub agents: Arc<crate::agents::Agents>,
    /// Long-lived answers (live streams, the terminal) stop on this and run on this tracker.
    pub cancel: CancellationToken,
    pub tracker: TaskTracker,
    /// The wall clock handlers read (a test's manual one, or the system's).
    pub clock: Clock,
}

/// The axum state: a cheap clone of [`Shared`].
#[derive(Clone)]
pub struct ApiState(pub Arc<Shared>);

impl std::ops::Deref for ApiState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// A receiver that sees only changes from now on (what `Sender::subscribe` gives).
pub fn follow<T>(rx: &watch::Receiver<T>) -> watch::Receiver<T> {
    let mut r = rx.clone();
    r.mark_unchanged();
    r
}
