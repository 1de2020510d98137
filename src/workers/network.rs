//! The network worker: every `network.interval_s` it re-reads the interfaces (`ip -j -d addr`, one
//! process), their sysfs attributes and `/proc/net/bonding`, classifies them (NICs, bonds, bridges,
//! VLANs, VM taps, CT veths, firewall links, OVS, loopback), maps guest interfaces to their guest, and
//! derives the bridge → bond → NIC topology. Every `network.probe_interval_s` it probes the default
//! gateway (or `probe_target`) with ICMP echo through the host seam and records latency and loss in the
//! auxiliary history (`net.gw.latency_ms`, `net.gw.loss_pct`).
//!
//! Traffic rates are the vitals sampler's (1 s, `/proc/net/dev`), overlaid again at request time so
//! the page is live; error and drop rates come from the sysfs counter deltas between two reads.
//! A missing `ip` or routing table makes its section `unavailable` with the reason.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::config::NetworkCfg;
use crate::host::{Host, ToolError};
use crate::model::{LiveSample, Sample};
use crate::series::Series;
use crate::tools::net::{self, Bonding, Counters, IfKind, Link};
use crate::tools::pvesh::GuestKind;
use crate::workers::inventory::{Inventory, Section, SectionState};

/// Echoes per probe.
pub const PROBE_COUNT: u16 = 3;
pub const LATENCY_KEY: &str = "net.gw.latency_ms";
pub const LOSS_KEY: &str = "net.gw.loss_pct";

pub use crate::model::network::{
    BondSlaveView, BondView, BridgeNode, Gateway, GatewayState, GuestRef, Interface, Interfaces,
    NetworkSnapshot, TopologyGuest, Uplink,
};

/// The worker's state between steps; tests drive [`NetworkWorker::step`].
pub struct NetworkWorker {
    cfg: NetworkCfg,
    pub state: NetworkSnapshot,
    last_read: Option<i64>,
    last_probe: Option<i64>,
    prev: HashMap<String, (i64, Counters)>,
    guests: HashMap<u64, (GuestKind, String)>,
    points: Vec<(&'static str, i64, f64)>,
    /// (sent, received) of the last probes, newest last.
    probes: std::collections::VecDeque<(u16, u16)>,
    unreachable_streak: u16,
    /// The last `ip` answer and when it was read: reused between reads while `/sys/class/net` says
    /// the same links exist in the same states.
    links: Option<(i64, Vec<Link>)>,
}

/// `ip` runs at least this often even when sysfs shows no change (an address can change without a
/// link changing state: a DHCP lease, an address added by hand).
const IP_EVERY_MS: i64 = 600_000;

/// Whether `links` (an earlier `ip` answer) still describes the host's links: `/sys/class/net` lists
/// the same names, and each link's `operstate` there is the one `ip` reported. File reads only.
fn links_unchanged(host: &Host, links: &[Link]) -> bool {
    let Ok(mut names) = host.list_dir("/sys/class/net") else { return false };
    names.retain(|n| n != "bonding_masters");
    let mut known: Vec<&str> = links.iter().map(|l| l.name.as_str()).collect();
    known.sort_unstable();
    if names != known {
        return false;
    }
    links.iter().all(|l| {
        host.read(&format!("/sys/class/net/{}/operstate", l.name))
            .is_ok_and(|s| s.trim().eq_ignore_ascii_case(&l.operstate))
    })
}

/// Probes the windowed loss covers (15 minutes at the default interval).
pub const LOSS_WINDOW: usize = 15;

fn lower(s: &str) -> String {
    s.to_ascii_lowercase()
}

impl NetworkWorker {
    pub fn new(cfg: NetworkCfg) -> Self {
        NetworkWorker {
            cfg,
            state: NetworkSnapshot::default(),
            last_read: None,
            last_probe: None,
            prev: HashMap::new(),
            guests: HashMap::new(),
            points: Vec::new(),
            probes: std::collections::VecDeque::new(),
            unreachable_streak: 0,
            links: None,
        }
    }

    /// Guest names and kinds from the inventory snapshot (used at the next read).
    pub fn set_guests(&mut self, inv: &Inventory) {
        if let Some(list) = inv.resources.data.as_ref() {
            self.guests = list
                .iter()
                .filter_map(|r| r.as_guest())
                .map(|g| (g.vmid, (g.kind, g.name.clone())))
                .collect();
        }
    }

    /// History points recorded since the last call (key, unix ms, value), for `app.series`.
    pub fn take_points(&mut self) -> Vec<(&'static str, i64, f64)> {
        std::mem::take(&mut self.points)
    }

    /// Reads interfaces and probes the gateway when each is due. Returns whether the snapshot changed.
    pub async fn step(&mut self, host: &Host, now_ms: i64, vitals: Option<&Sample>) -> bool {
        let mut changed = false;
        let read_due = self.last_read.is_none_or(|t| now_ms - t >= self.cfg.interval_s.max(1) as i64 * 1000);
        if read_due {
            self.last_read = Some(now_ms);
            // `ip` (a process) when a link appeared, went or changed state, and every 10 minutes;
            // between those its last answer with sysfs read fresh.
            let cached = self.links.take().filter(|(at, links)| {
                now_ms - at < IP_EVERY_MS && now_ms >= *at && links_unchanged(host, links)
            });
            let links = match cached {
                Some(c) => Ok(c),
                None => net::links(host).await.map(|l| (now_ms, l)),
            };
            let r = links.map(|(at, links)| {
                let built = self.build(host, &links, now_ms, vitals);
                self.links = Some((at, links));
                built
            });
            apply(&mut self.state.interfaces, "ip -j -d addr", r, now_ms);
            changed = true;
        }
        let probe_due = self.cfg.probe_interval_s > 0
            && self.last_probe.is_none_or(|t| now_ms - t >= self.cfg.probe_interval_s as i64 * 1000);
        if probe_due || (read_due && self.cfg.probe_interval_s == 0) {
            self.last_probe = Some(now_ms);
            self.probe(host, now_ms).await;
            changed = true;
        }
        changed
    }

    fn build(&mut self, host: &Host, links: &[Link], now_ms: i64, vitals: Option<&Sample>) -> Interfaces {
        let mut ports: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for l in links {
            if let Some(m) = l.master.as_deref() {
                ports.entry(m).or_default().push(l.name.clone());
            }
        }
        let mut out = Vec::with_capacity(links.len());
        let mut next_prev = HashMap::with_capacity(links.len());
        for l in links {
            let kind = l.kind();
            // The firewall's veth pairs and bridges (three per guest NIC) mirror the tap's traffic and
            // state: `ip` says enough about them, and skipping their ~13 sysfs reads each keeps a
            // step cheap on a host with many guests.
            let sys =
                if kind == IfKind::Firewall { net::Sysfs::default() } else { net::sysfs(host, &l.name) };
            let mut my_ports = ports.get(l.name.as_str()).cloned().unwrap_or_default();
            for p in sys.bridge_ports.iter().flatten() {
                if !my_ports.contains(p) {
                    my_ports.push(p.clone());
                }
            }
            let bond = (kind == IfKind::Bond).then(|| bond_view(host, l, links)).flatten();
            if let Some(b) = &bond {
                for s in &b.slaves {
                    if !my_ports.contains(&s.name) {
                        my_ports.push(s.name.clone());
                    }
                }
            }
            let guest = net::guest_of(&l.name).map(|(vmid, index)| {
                let known = self.guests.get(&vmid);
                let kind = known.map(|k| k.0).or(match kind {
                    IfKind::Tap => Some(GuestKind::Qemu),
                    IfKind::Veth => Some(GuestKind::Lxc),
                    _ => None,
                });
                GuestRef { vmid, kind, name: known.map(|k| k.1.clone()).filter(|n| !n.is_empty()), index }
            });
            let (mut errors_per_s, mut drops_per_s, mut rx_bps, mut tx_bps) = (None, None, None, None);
            if let Some(c) = sys.counters {
                if let Some((t, p)) = self.prev.get(&l.name)
                    && now_ms > *t
                {
                    let secs = (now_ms - t) as f64 / 1000.0;
                    let d = |a: u64, b: u64| a.saturating_sub(b) as f64 / secs;
                    errors_per_s = Some(d(c.rx_errors + c.tx_errors, p.rx_errors + p.tx_errors));
                    drops_per_s = Some(d(c.rx_dropped + c.tx_dropped, p.rx_dropped + p.tx_dropped));
                    rx_bps = Some(d(c.rx_bytes, p.rx_bytes));
                    tx_bps = Some(d(c.tx_bytes, p.tx_bytes));
                }
                next_prev.insert(l.name.clone(), (now_ms, c));
            }
            out.push(Interface {
                name: l.name.clone(),
                kind,
                operstate: sys.operstate.clone().unwrap_or_else(|| lower(&l.operstate)),
                admin_up: l.flags.iter().any(|f| f == "UP"),
                carrier: sys.carrier.or_else(|| {
                    l.flags.iter().any(|f| f == "UP").then(|| l.flags.iter().any(|f| f == "LOWER_UP"))
                }),
                mtu: l.mtu.or(sys.mtu),
                speed_mbps: sys.speed_mbps,
                duplex: sys.duplex,
                mac: l.mac.clone(),
                addresses: l.addresses.iter().map(|a| format!("{}/{}", a.address, a.prefixlen)).collect(),
                master: l.master.clone(),
                ports: my_ports,
                parent: l.parent.clone(),
                vlan_id: l.vlan_id,
                bond,
                guest,
                rx_bps,
                tx_bps,
                counters: sys.counters,
                errors_per_s,
                drops_per_s,
            });
        }
        self.prev = next_prev;
        if let Some(s) = vitals {
            overlay_rates(&mut out, s);
        }
        let topology = topology(&out);
        Interfaces { interfaces: out, topology }
    }

    async fn probe(&mut self, host: &Host, now_ms: i64) {
        let route = net::default_route(host);
        let configured = self.cfg.probe_target.trim();
        let (address, interface) = match &route {
            Ok(Some(r)) => (Some(r.gateway.to_string()), Some(r.interface.clone())),
            _ => (None, None),
        };
        let target: Option<Result<IpAddr, String>> = if configured.is_empty() {
            match &route {
                Ok(Some(r)) => Some(Ok(r.gateway)),
                _ => None,
            }
        } else {
            Some(
                configured
                    .parse::<IpAddr>()
                    .map_err(|_| format!("probe_target {configured:?} is not an IP address")),
            )
        };
        let base = Gateway {
            address,
            interface,
            target: None,
            state: GatewayState::Pending,
            latency_ms: None,
            min_ms: None,
            max_ms: None,
            loss_pct: None,
            window_loss_pct: None,
            window_probes: 0,
            unreachable_streak: 0,
            sent: 0,
            received: 0,
            last_probe: None,
            method: None,
            error: None,
            probe_interval_s: self.cfg.probe_interval_s,
        };
        let sec = &mut self.state.gateway;
        let Some(target) = target else {
            match route {
                Err(e) => apply(sec, "routing table", Err(e), now_ms),
                Ok(_) => {
                    sec.state = SectionState::Unavailable;
                    sec.reason = Some("this host has no default route".into());
                    sec.data = None;
                }
            }
            return;
        };
        let target = match target {
            Ok(t) => t,
            Err(reason) => {
                sec.state = SectionState::Error;
                sec.reason = Some(reason.clone());
                sec.data = Some(Gateway { state: GatewayState::Error, error: Some(reason), ..base });
                return;
            }
        };
        let mut g = Gateway { target: Some(target.to_string()), ..base };
        if self.cfg.probe_interval_s == 0 {
            g.state = GatewayState::Disabled;
            apply(sec, "gateway", Ok(g), now_ms);
            return;
        }
        let timeout = Duration::from_millis(self.cfg.probe_timeout_ms.clamp(50, 10_000));
        match host.ping(target, PROBE_COUNT, timeout, now_ms as u64).await {
            Ok(p) => {
                let loss = p.loss_pct();
                g.state = match p.received {
                    0 => GatewayState::Unreachable,
                    n if n < p.sent => GatewayState::Loss,
                    _ => GatewayState::Ok,
                };
                g.latency_ms = p.avg_ms();
                g.min_ms = p.min_ms();
                g.max_ms = p.max_ms();
                g.loss_pct = Some(loss);
                if self.probes.len() == LOSS_WINDOW {
                    self.probes.pop_front();
                }
                self.probes.push_back((p.sent, p.received));
                let (sent, got) = self
                    .probes
                    .iter()
                    .fold((0u32, 0u32), |(s, r), (a, b)| (s + u32::from(*a), r + u32::from(*b)));
                g.window_loss_pct = (sent > 0).then(|| f64::from(sent - got) * 100.0 / f64::from(sent));
                g.window_probes = self.probes.len() as u16;
                self.unreachable_streak =
                    if p.received == 0 { self.unreachable_streak.saturating_add(1) } else { 0 };
                g.unreachable_streak = self.unreachable_streak;
                g.sent = p.sent;
                g.received = p.received;
                g.last_probe = Some(now_ms);
                g.method = Some(p.method);
                if let Some(l) = g.latency_ms {
                    self.points.push((LATENCY_KEY, now_ms, l));
                }
                self.points.push((LOSS_KEY, now_ms, loss));
                apply(sec, "gateway probe", Ok(g), now_ms);
            }
            Err(e) => {
                let missing = e.is_missing();
                let reason = e.to_string();
                if sec.state == SectionState::Ok || sec.state == SectionState::Pending {
                    tracing::warn!(error = %reason, %target, "gateway probe failed");
                }
                // Keep the last good probe's numbers next to the reason.
                let mut data = sec.data.take().unwrap_or(g.clone());
                data.address = g.address;
                data.interface = g.interface;
                data.target = g.target;
                data.error = Some(reason.clone());
                if data.last_probe.is_none() {
                    data.state = GatewayState::Error;
                }
                sec.state = if missing {
                    SectionState::Unavailable
                } else if data.last_probe.is_some() {
                    SectionState::Stale
                } else {
                    SectionState::Error
                };
                sec.reason = Some(reason);
                sec.data = Some(data);
            }
        }
    }
}

/// Folds a result into a section (the inventory's rules: missing → unavailable, failure → stale with
/// the last good data, or error when there never was any).
fn apply<T>(sec: &mut Section<T>, what: &str, r: Result<T, ToolError>, now_ms: i64) {
    super::fold(sec, what, r, now_ms.div_euclid(1000), super::missing_reason);
}

fn bond_view(host: &Host, l: &Link, links: &[Link]) -> Option<BondView> {
    let procfs: Option<Bonding> = match net::bonding(host, &l.name) {
        Ok(b) => b,
        Err(e) => {
            tracing::debug!(bond = %l.name, error = %e, "cannot read /proc/net/bonding; using ip's details");
            None
        }
    };
    if let Some(b) = procfs {
        let slaves: Vec<BondSlaveView> = b
            .slaves
            .iter()
            .map(|s| BondSlaveView {
                name: s.name.clone(),
                mii_status: lower(&s.mii_status),
                active: b.active_slave.as_deref() == Some(s.name.as_str()),
                link_failures: Some(s.link_failures),
                speed: s.speed.clone(),
                duplex: s.duplex.clone(),
            })
            .collect();
        let degraded = lower(&b.mii_status) != "up" || slaves.iter().any(|s| s.mii_status != "up");
        return Some(BondView {
            mode: b.short_mode(),
            active_slave: b.active_slave.clone(),
            mii_status: lower(&b.mii_status),
            slaves,
            degraded,
            xmit_hash_policy: b.xmit_hash_policy.clone(),
            lacp_rate: b.lacp_rate.clone(),
            source: "proc",
        });
    }
    let info = l.bond.clone().unwrap_or_default();
    let slaves: Vec<BondSlaveView> = links
        .iter()
        .filter(|s| s.master.as_deref() == Some(l.name.as_str()))
        .map(|s| {
            let bs = s.bond_slave.clone().unwrap_or_default();
            BondSlaveView {
                name: s.name.clone(),
                mii_status: lower(
                    bs.mii_status.as_deref().unwrap_or(if s.flags.iter().any(|f| f == "LOWER_UP") {
                        "up"
                    } else {
                        "down"
                    }),
                ),
                active: info.active_slave.as_deref() == Some(s.name.as_str())
                    || bs.state.as_deref() == Some("ACTIVE"),
                link_failures: bs.link_failure_count,
                speed: None,
                duplex: None,
            }
        })
        .collect();
    let mii = if l.flags.iter().any(|f| f == "LOWER_UP") { "up" } else { "down" };
    Some(BondView {
        mode: info.mode.unwrap_or_else(|| "unknown".into()),
        active_slave: info.active_slave,
        mii_status: mii.into(),
        degraded: mii != "up" || slaves.iter().any(|s| s.mii_status != "up"),
        slaves,
        xmit_hash_policy: None,
        lacp_rate: None,
        source: "ip",
    })
}

/// Puts the vitals sampler's per-interface rates on the interfaces it lists.
pub fn overlay_rates(ifaces: &mut [Interface], sample: &Sample) {
    let rates: HashMap<&str, (f64, f64)> =
        sample.net.iter().map(|n| (n.name.as_str(), (n.rx_bps, n.tx_bps))).collect();
    for i in ifaces {
        if let Some((rx, tx)) = rates.get(i.name.as_str()) {
            i.rx_bps = Some(*rx);
            i.tx_bps = Some(*tx);
        }
    }
}

fn topology(ifaces: &[Interface]) -> Vec<BridgeNode> {
    let by_name: HashMap<&str, &Interface> = ifaces.iter().map(|i| (i.name.as_str(), i)).collect();
    let slave_views = |i: &Interface| -> Vec<BondSlaveView> {
        if let Some(b) = &i.bond {
            return b.slaves.clone();
        }
        i.parent
            .iter()
            .map(|p| BondSlaveView {
                name: p.clone(),
                mii_status: by_name.get(p.as_str()).map(|x| x.operstate.clone()).unwrap_or_default(),
                active: true,
                link_failures: None,
                speed: None,
                duplex: None,
            })
            .collect()
    };
    let mut nodes = Vec::new();
    for br in ifaces.iter().filter(|i| matches!(i.kind, IfKind::Bridge | IfKind::Ovs) && i.guest.is_none()) {
        if br.kind == IfKind::Ovs && br.ports.is_empty() {
            continue;
        }
        let mut node = BridgeNode {
            name: br.name.clone(),
            operstate: br.operstate.clone(),
            addresses: br.addresses.clone(),
            uplinks: Vec::new(),
            guests: Vec::new(),
            vlans: ifaces
                .iter()
                .filter(|v| v.kind == IfKind::Vlan && v.parent.as_deref() == Some(br.name.as_str()))
                .map(|v| v.name.clone())
                .collect(),
            other_ports: Vec::new(),
        };
        for p in &br.ports {
            let Some(port) = by_name.get(p.as_str()) else {
                node.other_ports.push(p.clone());
                continue;
            };
            match port.kind {
                IfKind::Physical | IfKind::Bond | IfKind::Vlan => node.uplinks.push(Uplink {
                    name: port.name.clone(),
                    kind: port.kind,
                    operstate: port.operstate.clone(),
                    speed_mbps: port.speed_mbps,
                    members: if port.kind == IfKind::Physical { Vec::new() } else { slave_views(port) },
                }),
                IfKind::Tap | IfKind::Veth if port.guest.is_some() => {
                    if let Some(g) = &port.guest {
                        node.guests.push(TopologyGuest {
                            interface: port.name.clone(),
                            guest: g.clone(),
                            firewall: false,
                            operstate: port.operstate.clone(),
                        });
                    }
                }
                IfKind::Firewall => {
                    // fwpr<vmid>p<n> → its peer fwln in fwbr<vmid>i<n> → the guest's tap/veth there.
                    let Some((vmid, idx)) = net::guest_of(&port.name) else { continue };
                    let fwbr = format!("fwbr{vmid}i{idx}");
                    let nic = by_name.get(fwbr.as_str()).and_then(|b| {
                        b.ports.iter().filter_map(|n| by_name.get(n.as_str())).find(|n| {
                            matches!(n.kind, IfKind::Tap | IfKind::Veth)
                                && n.guest.as_ref().is_some_and(|g| g.vmid == vmid)
                        })
                    });
                    match nic {
                        Some(n) => node.guests.push(TopologyGuest {
                            interface: n.name.clone(),
                            guest: n.guest.clone().unwrap_or(GuestRef {
                                vmid,
                                kind: None,
                                name: None,
                                index: idx,
                            }),
                            firewall: true,
                            operstate: n.operstate.clone(),
                        }),
                        None => node.other_ports.push(port.name.clone()),
                    }
                }
                _ => node.other_ports.push(port.name.clone()),
            }
        }
        node.guests.sort_by_key(|g| (g.guest.vmid, g.guest.index));
        nodes.push(node);
    }
    nodes
}

/// What the network worker reads and where it publishes.
pub struct Wiring {
    pub host: Arc<Host>,
    pub series: Arc<Series>,
    pub cfg: NetworkCfg,
    /// The guests, to name the ports on each bridge.
    pub inventory: watch::Receiver<Arc<Inventory>>,
    /// The vitals, whose interface counters give the rates.
    pub vitals: watch::Receiver<Option<Arc<LiveSample>>>,
    pub out: watch::Sender<Arc<NetworkSnapshot>>,
    /// Start with a day of gateway history from the scenario (the demo).
    pub backfill: bool,
}

/// The worker loop (wired by `app::run`).
/// `tick` should run every [`Wiring::period`].
pub async fn run(w: Wiring, mut tick: super::Periodic) {
    let cfg = w.cfg.clone();
    w.series.describe(LATENCY_KEY, "Gateway latency", "ms");
    w.series.describe(LOSS_KEY, "Gateway packet loss", "percent");
    if w.backfill {
        backfill_demo(&w.host, &w.series, &cfg, tick.now_ms()).await;
    }
    let mut worker = NetworkWorker::new(cfg);
    while tick.next().await {
        worker.set_guests(&w.inventory.borrow());
        let vitals = w.vitals.borrow().clone();
        let now = tick.now_ms();
        if worker.step(&w.host, now, vitals.as_ref().map(|v| &v.sample)).await {
            w.out.send_replace(Arc::new(worker.state.clone()));
        }
        for (key, ts, v) in worker.take_points() {
            w.series.record(key, ts, v);
        }
    }
}

impl Wiring {
    /// The worker's tick: often enough for both the interface reads and the gateway probes.
    pub fn period(&self) -> Duration {
        let cfg = &self.cfg;
        let gcd = |mut a: u64, mut b: u64| {
            while b != 0 {
                (a, b) = (b, a % b);
            }
            a
        };
        let period = match cfg.probe_interval_s {
            0 => cfg.interval_s,
            p => gcd(cfg.interval_s.max(1), p),
        }
        .clamp(1, 60);
        Duration::from_secs(period)
    }
}

/// The demo starts with a day of gateway history, answered by the scenario's `icmp.toml` exactly as
/// the live probes are, so its latency chart is not empty on first open.
async fn backfill_demo(host: &Host, series: &Series, cfg: &NetworkCfg, now: i64) {
    let Ok(Some(route)) = net::default_route(host) else { return };
    let step_ms = cfg.probe_interval_s.max(60) as i64 * 1000;
    let mut ts = now - 24 * 3600 * 1000;
    while ts < now - step_ms {
        let Ok(p) = host.ping(route.gateway, PROBE_COUNT, Duration::from_secs(1), ts as u64).await else {
            return;
        };
        if let Some(l) = p.avg_ms() {
            series.record(LATENCY_KEY, ts, l);
        }
        series.record(LOSS_KEY, ts, p.loss_pct());
        ts += step_ms;
    }
}
