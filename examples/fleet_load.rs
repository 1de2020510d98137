//! What the fleet and the Docker agents cost (issue 19; bench/run.sh runs it): 32 peers polled for
//! their summary every 10 s, and one Docker agent's report taken in every second, through the
//! production path: the peers added with `Fleet::add` (its capability check included) into an
//! on-disk database (`Db::open`), polled by `fleet::run` at the defaults of `FleetCfg`; the reports
//! handed to `Agents::ingest` (parse, mask, link, compare, store) with `agents::run` beside it; all
//! on a runtime shaped like the appliance's (2 workers, at most 8 blocking threads, 2 malloc
//! arenas). Budget: under 0.3 % of a core and under 3 MiB RSS.
//!
//! The peers are one local server standing for 32 appliances: peer `i` is the base URL
//! `http://127.0.0.1:PORT/p<i>`, and the server answers `GET …/p<i>/api/fleet/summary` (with the
//! Bearer token only; 401 otherwise) with a summary of its own (a `Summary` serialized: 10
//! categories, 5 worst findings, a UPS, ~2 KiB), and `GET …/api/health/live`. One request per
//! connection (as `httpc` asks), on a thread and a single-threaded runtime of its own, so that its
//! CPU is read apart from the rest. With `--tls` it serves HTTPS with a fresh self-signed RSA-2048
//! certificate (what `pve-ssl.pem` is), each peer pinned by the fingerprint `Fleet::probe` shows, as
//! the Settings page does.
//!
//! The report is the recorded `tests/fixtures/docker/report.json` (5 containers, 54 KB), its first
//! container's CPU figure changed in place for every report. Every 60th report one container's state
//! changes (`watchtower-stopped` exited ↔ running): that is a history row and a rewrite of the latest
//! report, the write path a report takes when something changes (a report that changes nothing
//! writes nothing, but the latest report every 10 minutes).
//!
//! It measures:
//! - **CPU**: the process's CPU time (`CLOCK_PROCESS_CPUTIME_ID`, exact to the ns, where the 10 ms
//!   ticks of `/proc/self/stat` are 0.017 % each over a minute) over the measuring window, as % of
//!   one core, less the server thread's own (its `pthread_getcpuclockid` clock). The kernel's loopback
//!   work lands on whichever thread sends, so the split is approximate; the total is exact (it
//!   includes the server). `--only fleet` or `--only ingest` runs one side alone, to split the
//!   figure; the wall time of each `Agents::ingest` call is given too;
//! - **RSS added**: `VmRSS` after the warm-up (and at the end, the larger counts) less `VmRSS` once
//!   the server and the database are set up and before the fleet and the agents exist (after a
//!   `malloc_trim` of the setup's garbage); also given after a `malloc_trim` (the appliance trims
//!   every 60 s);
//! - **polls** (the summaries the server answered), **reports** taken in, and the **WAL** committed
//!   over the window (frames × (page + 24 B)), with the writes the agents made in it.
//!
//! Details go to stderr; the last line on stdout is the summary.
//!
//! ```text
//! cargo run --release --example fleet_load [-- --warmup-s 25 --measure-s 60 --peers 32 --report-every-ms 1000 --only fleet|ingest --tls]
//! ```
//!
//! The windows may also come from `FLEET_LOAD_WARMUP_S` and `FLEET_LOAD_MEASURE_S`.

// A benchmark, not the product: it reads its own /proc files directly and runs openssl for --tls.
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use proxwatch::agents::{self, Agents};
use proxwatch::auth::seal::Keys;
use proxwatch::config::{AgentsCfg, FleetCfg};
use proxwatch::db::Db;
use proxwatch::fleet::{self, Fleet, NewPeer};
use proxwatch::health::model::Category;
use proxwatch::model::clock::Clock;
use proxwatch::model::fleet::{
    CategoryBrief, FindingBrief, GuestCounts, HealthBrief, HostIdent, SUMMARY_API, Status, Summary, UpsBrief,
    Vitals,
};
use proxwatch::model::inventory::Inventory;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

const MIB: f64 = 1048576.0;
/// The read token every peer is added with (and the server asks for).
const TOKEN: &str = "pxw_read_4f0c2e9a7b1d4c3e8f6a5b2c9d0e1f3a";
/// The agent's id (its ingest token's, in the appliance).
const AGENT: &str = "bench-agent";
/// The recorded report.
const REPORT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/docker/report.json");
/// One container's state changes every this many reports.
const FLIP_EVERY: u64 = 60;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Only {
    Both,
    Fleet,
    Ingest,
}

struct Args {
    warmup_s: u64,
    measure_s: u64,
    peers: usize,
    report_every_ms: u64,
    only: Only,
    tls: bool,
}

impl Args {
    fn parse() -> anyhow::Result<Args> {
        let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse().ok());
        let mut a = Args {
            warmup_s: env("FLEET_LOAD_WARMUP_S").unwrap_or(25),
            measure_s: env("FLEET_LOAD_MEASURE_S").unwrap_or(60),
            peers: 32,
            report_every_ms: 1000,
            only: Only::Both,
            tls: false,
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            if flag == "--tls" {
                a.tls = true;
                continue;
            }
            let value = it.next().with_context(|| format!("{flag} needs a value"))?;
            if flag == "--only" {
                a.only = match value.as_str() {
                    "fleet" => Only::Fleet,
                    "ingest" => Only::Ingest,
                    _ => bail!("--only {value}: fleet or ingest"),
                };
                continue;
            }
            let n: u64 = value.parse().with_context(|| format!("{flag} {value}: not a number"))?;
            match flag.as_str() {
                "--warmup-s" => a.warmup_s = n,
                "--measure-s" => a.measure_s = n.max(1),
                "--peers" => a.peers = n.clamp(1, FleetCfg::default().max as u64) as usize,
                "--report-every-ms" => a.report_every_ms = n.max(10),
                _ => bail!(
                    "unknown argument {flag} (--warmup-s, --measure-s, --peers, --report-every-ms, --only fleet|ingest, --tls)"
                ),
            }
        }
        Ok(a)
    }

    fn fleet(&self) -> bool {
        self.only != Only::Ingest
    }

    fn ingest(&self) -> bool {
        self.only != Only::Fleet
    }
}

/// The appliance's two malloc arenas (src/main.rs), so that the RSS figure is the appliance's.
#[allow(unsafe_code)]
fn bounded_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() && std::env::var_os("GLIBC_TUNABLES").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; this runs first in main, before any
        // other thread exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

/// Returns free heap pages to the OS, as the appliance's trimming thread does every 60 s.
#[allow(unsafe_code)]
fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages; glibc takes each arena's lock itself.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// CPU time of a clock (`CLOCK_PROCESS_CPUTIME_ID`, or a thread's), in ns: exact, where the
/// clock ticks of `/proc/*/stat` (10 ms) would be 0.017 % of a core each over a minute.
#[allow(unsafe_code)]
fn cpu_ns(clock: libc::clockid_t) -> anyhow::Result<u64> {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime only writes the timespec it is given.
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        bail!("clock_gettime({clock}): {}", std::io::Error::last_os_error());
    }
    Ok(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// The CPU-time clock of the calling thread, readable from any thread of the process.
#[allow(unsafe_code)]
fn this_thread_clock() -> anyhow::Result<libc::clockid_t> {
    let mut id: libc::clockid_t = 0;
    // SAFETY: pthread_self is the calling thread, alive; pthread_getcpuclockid only writes the id.
    let r = unsafe { libc::pthread_getcpuclockid(libc::pthread_self(), &mut id) };
    if r != 0 {
        bail!("pthread_getcpuclockid: {}", std::io::Error::from_raw_os_error(r));
    }
    Ok(id)
}

/// A `kB` line of /proc/self/status, in KiB.
fn status_kib(key: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn rss_kib() -> u64 {
    status_kib("VmRSS:")
}

fn mib(kib: i64) -> f64 {
    kib as f64 / 1024.0
}

/// `1.23 GiB`, `1.23 MiB`, `45.6 KiB`, `789 B`.
fn human(bytes: f64) -> String {
    if bytes.abs() >= 1024.0 * MIB {
        format!("{:.2} GiB", bytes / MIB / 1024.0)
    } else if bytes.abs() >= MIB {
        format!("{:.2} MiB", bytes / MIB)
    } else if bytes.abs() >= 1024.0 {
        format!("{:.1} KiB", bytes / 1024.0)
    } else {
        format!("{bytes:.0} B")
    }
}

/// Peer `i`'s summary: what a busy appliance answers (10 categories, 5 worst findings, a UPS).
fn summary(i: usize, now_s: i64) -> Summary {
    let statuses = ["ok", "ok", "warning", "ok", "critical", "ok", "ok", "warning", "ok", "ok"];
    let categories = Category::ALL
        .iter()
        .zip(statuses)
        .map(|(c, s)| CategoryBrief { id: c.id().into(), name: c.name().into(), status: s.into() })
        .collect();
    let worst = [
        ("critical", "guests", "VM 104 (win11-build): stopped unexpectedly, its HA state is started"),
        ("warning", "storage", "local-zfs: 87 % used, full in about 19 days at the rate of the last week"),
        ("warning", "logs", "pvedaemon: 14 authentication failures for root@pam in the last hour"),
        ("warning", "storage", "backup-nfs: the last backup of CT 112 (nextcloud) is 3 days old"),
        ("info", "updates", "23 package updates available, 4 of them security updates (pve-manager)"),
    ]
    .into_iter()
    .map(|(s, c, t)| FindingBrief { severity: s.into(), category: c.into(), title: t.into() })
    .collect();
    Summary {
        api: SUMMARY_API,
        version: proxwatch::VERSION.into(),
        scope: Some("read".into()),
        host: HostIdent {
            hostname: format!("pve-{i:02}"),
            node: format!("pve-{i:02}"),
            pve_version: Some("pve-manager/8.3.2/3e76eec21c4a14a7 (running kernel: 6.8.12-5-pve)".into()),
            cluster: Some("homelab".into()),
            kernel: "Linux 6.8.12-5-pve #1 SMP PREEMPT_DYNAMIC PMX 6.8.12-5 (2024-12-03T10:26Z)".into(),
            uptime_s: 3_456_789 + i as u64 * 7_919,
            cpus: 16,
        },
        vitals: Some(Vitals {
            cpu_pct: 12.3 + i as f64 / 10.0,
            load1: 1.42,
            mem_used: 48_213_319_680,
            mem_total: 67_350_491_136,
            storage_used: 3_212_345_678_901,
            storage_total: 7_696_581_394_432,
        }),
        guests: GuestCounts { running: 17, total: 23, vms_running: 6, vms: 9, cts_running: 11, cts: 14 },
        health: HealthBrief { status: "critical".into(), critical: 1, warning: 3, categories, worst },
        ups: Some(UpsBrief {
            name: "eaton5p@localhost".into(),
            status: "OL CHRG".into(),
            on_battery: false,
            charge_pct: Some(97.0),
            runtime_s: Some(2_340),
            load_pct: Some(23.0),
        }),
        domains: ["ups", "zfs", "smart", "monitors", "docker", "notifications"].map(String::from).to_vec(),
        ts: now_s,
    }
}

/// What the server answered.
#[derive(Default)]
struct Served {
    summaries: AtomicU64,
    live: AtomicU64,
    refused: AtomicU64,
}

/// The local server: its port, its thread's CPU clock and what it answered.
struct Server {
    port: u16,
    clock: libc::clockid_t,
    served: Arc<Served>,
}

/// What every connection's service reads.
struct Answers {
    /// Peer `i`'s summary, as JSON.
    summaries: Vec<Bytes>,
    live: Bytes,
    /// `Bearer <TOKEN>`.
    auth: String,
    served: Arc<Served>,
}

/// Starts the server on a thread of its own with a single-threaded runtime; it runs until the
/// process ends.
fn start_server(answers: Answers, tls: Option<tokio_rustls::TlsAcceptor>) -> anyhow::Result<Server> {
    let served = answers.served.clone();
    let answers = Arc::new(answers);
    let (tx, rx) = std::sync::mpsc::channel::<anyhow::Result<(u16, libc::clockid_t)>>();
    std::thread::Builder::new().name("bench-server".into()).spawn(move || {
        let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt,
            Err(e) => {
                let _ = tx.send(Err(e.into()));
                return;
            }
        };
        rt.block_on(async move {
            let setup = async {
                let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                let port = l.local_addr()?.port();
                anyhow::Ok((l, port, this_thread_clock()?))
            };
            match setup.await {
                Ok((l, port, clock)) => {
                    let _ = tx.send(Ok((port, clock)));
                    serve(l, answers, tls).await;
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            }
        });
    })?;
    let (port, clock) = rx.recv().context("the server thread ended")??;
    Ok(Server { port, clock, served })
}

async fn serve(l: tokio::net::TcpListener, answers: Arc<Answers>, tls: Option<tokio_rustls::TlsAcceptor>) {
    let mut conns = JoinSet::new();
    loop {
        let Ok((stream, _)) = l.accept().await else { continue };
        while conns.try_join_next().is_some() {}
        let (answers, tls) = (answers.clone(), tls.clone());
        conns.spawn(async move {
            match tls {
                Some(acceptor) => {
                    if let Ok(s) = acceptor.accept(stream).await {
                        serve_conn(s, answers).await;
                    }
                }
                None => serve_conn(stream, answers).await,
            }
        });
    }
}

fn answer(status: u16, body: Bytes) -> hyper::Response<Full<Bytes>> {
    let mut r = hyper::Response::new(Full::new(body));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
    r.headers_mut()
        .insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
    r
}

/// Answers the summary (token checked), the liveness probe, and 404 to anything else; one request
/// per connection.
async fn serve_conn<S>(io: S, answers: Arc<Answers>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let a = answers.clone();
        async move {
            let path = req.uri().path();
            let r = if let Some(base) = path.strip_suffix("/api/fleet/summary") {
                let authorized = req
                    .headers()
                    .get(hyper::header::AUTHORIZATION)
                    .is_some_and(|v| v.as_bytes() == a.auth.as_bytes());
                let peer = base.strip_prefix("/p").and_then(|i| i.parse::<usize>().ok());
                match peer.and_then(|i| a.summaries.get(i)) {
                    _ if !authorized => {
                        a.served.refused.fetch_add(1, Ordering::Relaxed);
                        answer(401, Bytes::from_static(br#"{"message":"invalid or missing token"}"#))
                    }
                    Some(body) => {
                        a.served.summaries.fetch_add(1, Ordering::Relaxed);
                        answer(200, body.clone())
                    }
                    None => answer(404, Bytes::from_static(br#"{"message":"not found"}"#)),
                }
            } else if path.ends_with("/api/health/live") {
                a.served.live.fetch_add(1, Ordering::Relaxed);
                answer(200, a.live.clone())
            } else {
                answer(404, Bytes::from_static(br#"{"message":"not found"}"#))
            };
            Ok::<_, std::convert::Infallible>(r)
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .keep_alive(false)
        .header_read_timeout(None)
        .serve_connection(TokioIo::new(io), svc)
        .await;
}

/// A fresh self-signed RSA-2048 certificate for 127.0.0.1 (PVE's own `pve-ssl.pem` is RSA-2048),
/// made with the openssl command, and an acceptor serving it.
fn self_signed(dir: &std::path::Path) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=pve-bench"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1", "-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .context("running openssl (--tls needs it)")?;
    if !out.status.success() {
        bail!("openssl req failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(&cert)?.collect::<Result<_, _>>().context("the certificate")?;
    let key = PrivateKeyDer::from_pem_file(&key).context("the key")?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Checkpoints the WAL into the file and empties it. Returns the frames the WAL held (what was
/// committed since the last call) and the page size.
fn drain_wal(c: &rusqlite::Connection) -> anyhow::Result<(i64, i64)> {
    // PASSIVE reports the frames in the WAL (TRUNCATE reports them after emptying it: none).
    let frames: i64 = c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))?;
    c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    let page: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    Ok((frames, page))
}

async fn checkpoint(db: &Db) -> anyhow::Result<(i64, i64)> {
    db.call(|c| drain_wal(c)).await
}

async fn history_rows(db: &Db) -> anyhow::Result<i64> {
    db.call(|c| Ok(c.query_row("SELECT COUNT(*) FROM docker_history", [], |r| r.get(0))?)).await
}

/// The report as two buffers, the second with `watchtower-stopped` running instead of exited, and
/// where in each the first container's CPU figure (4 characters, `5.20`) lies.
fn reports() -> anyhow::Result<([Vec<u8>; 2], [usize; 2])> {
    let base = std::fs::read(REPORT).with_context(|| format!("reading {REPORT}"))?;
    let text = std::str::from_utf8(&base)?;
    let exited = r#""Status": "exited""#;
    if text.matches(exited).count() != 1 {
        bail!("{REPORT}: expected one exited container");
    }
    let flipped = text.replacen(exited, r#""Status": "running""#, 1).into_bytes();
    let cpu = |b: &[u8]| -> anyhow::Result<usize> {
        let key = br#""CPUPerc":""#;
        b.windows(key.len())
            .position(|w| w == key)
            .map(|p| p + key.len())
            .filter(|p| b.get(p + 4) == Some(&b'%'))
            .context("no CPUPerc of the form d.dd% in the report")
    };
    let at = [cpu(&base)?, cpu(&flipped)?];
    Ok(([base, flipped], at))
}

/// What the feeder did.
#[derive(Default)]
struct Fed {
    reports: AtomicU64,
    /// Wall time in `Agents::ingest`, ns.
    wall_ns: AtomicU64,
}

/// One report every `every`, handed to `Agents::ingest` as the API's handler does.
async fn feed(
    agents: Arc<Agents>,
    mut bufs: [Vec<u8>; 2],
    at: [usize; 2],
    every: Duration,
    fed: Arc<Fed>,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n: u64 = 0;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            _ = tick.tick() => {}
        }
        n += 1;
        let v = ((n / FLIP_EVERY) % 2) as usize;
        let buf = &mut bufs[v];
        let cpu = [b'0' + (n / 100 % 10) as u8, b'.', b'0' + (n / 10 % 10) as u8, b'0' + (n % 10) as u8];
        buf[at[v]..at[v] + 4].copy_from_slice(&cpu);
        let t = Instant::now();
        agents.ingest(AGENT, buf).await.map_err(|e| anyhow!("ingest: {e:?}"))?;
        fed.wall_ns.fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
        fed.reports.fetch_add(1, Ordering::Relaxed);
    }
}

fn main() -> anyhow::Result<()> {
    bounded_malloc_arenas();
    let args = Args::parse()?;
    // The appliance's runtime (src/main.rs).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(8)
        .enable_all()
        .build()?;
    rt.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let n = args.peers;
    let fleet_cfg = FleetCfg::default();
    let interval_s = fleet_cfg.interval_s;
    let dir = tempfile::tempdir()?;
    let now_s = Clock::system().now_ms() / 1000;
    let summaries = (0..n)
        .map(|i| serde_json::to_vec(&summary(i, now_s)).map(Bytes::from))
        .collect::<Result<Vec<_>, _>>()?;
    let summary_bytes = summaries.first().map_or(0, |s| s.len());
    let live =
        Bytes::from(serde_json::to_vec(&serde_json::json!({"status": "ok", "version": proxwatch::VERSION}))?);
    let tls = if args.tls { Some(self_signed(dir.path())?) } else { None };
    let answers =
        Answers { summaries, live, auth: format!("Bearer {TOKEN}"), served: Arc::new(Served::default()) };
    let server = start_server(answers, tls)?;
    let db = Db::open(&dir.path().join("proxwatch.db"))?;
    let keys = Keys::ephemeral();
    let (bufs, at) = reports()?;
    let report_bytes = bufs[0].len();
    let (_inventory_tx, inventory_rx) = tokio::sync::watch::channel(Arc::new(Inventory::default()));
    checkpoint(&db).await?;
    trim();
    let rss_base = rss_kib();
    let (anon_base, file_base) = (status_kib("RssAnon:"), status_kib("RssFile:"));
    let threads_base = status_kib("Threads:");
    let scheme = if args.tls { "https" } else { "http" };
    let every = Duration::from_millis(args.report_every_ms);
    let per_s = 1000.0 / args.report_every_ms as f64;
    eprintln!(
        "setup: server on {scheme}://127.0.0.1:{}, summaries of {summary_bytes} B, report of {report_bytes} B, RSS {:.2} MiB",
        server.port,
        mib(rss_base as i64)
    );

    let cancel = CancellationToken::new();
    let mut tasks: JoinSet<anyhow::Result<()>> = JoinSet::new();
    // The fleet: every peer added as the Settings page does (probe over TLS, then add with its
    // capability check), then the poller.
    let fleet = if args.fleet() {
        let fleet = Fleet::load(db.clone(), keys.clone(), fleet_cfg.clone(), Clock::system())?;
        let t = Instant::now();
        for i in 0..n {
            let url = format!("{scheme}://127.0.0.1:{}/p{i}", server.port);
            let fingerprint = if args.tls {
                let p = fleet.probe(&url).await.map_err(|e| anyhow!("probe {url}: {e:?}"))?;
                Some(p.fingerprint.with_context(|| format!("probe {url}: no certificate ({:?})", p.error))?)
            } else {
                None
            };
            let peer = fleet
                .add(NewPeer {
                    name: Some(format!("pve-{i:02}")),
                    url: url.clone(),
                    token: TOKEN.into(),
                    fingerprint,
                })
                .await
                .map_err(|e| anyhow!("adding {url}: {e:?}"))?;
            if peer.status != Status::Ok {
                bail!("peer {url} is {:?} after its check: {:?}", peer.status, peer.error);
            }
        }
        eprintln!(
            "fleet: {n} peers added and checked in {:.0} ms (RSS {:+.2} MiB), polled every {interval_s} s ({} in flight at most, {} s timeout)",
            t.elapsed().as_secs_f64() * 1000.0,
            mib(rss_kib() as i64 - rss_base as i64),
            fleet_cfg.in_flight,
            fleet_cfg.timeout_s
        );
        let (f, c) = (fleet.clone(), cancel.clone());
        tasks.spawn(async move {
            fleet::run(f, c).await;
            Ok(())
        });
        Some(fleet)
    } else {
        None
    };
    // The agents: one registered, its reports fed.
    let fed = Arc::new(Fed::default());
    if args.ingest() {
        let agents = Agents::load(db.clone(), AgentsCfg::default(), Clock::system(), inventory_rx)?;
        agents.add(AGENT, "docker01", Some(101), 60).await.map_err(|e| anyhow!("adding the agent: {e:?}"))?;
        let (a, c) = (agents.clone(), cancel.clone());
        tasks.spawn(async move {
            agents::run(a, c).await;
            Ok(())
        });
        tasks.spawn(feed(agents, bufs, at, every, fed.clone(), cancel.clone()));
        eprintln!(
            "agents: one report every {} ms through Agents::ingest; every {FLIP_EVERY}th changes a container's state (a history row and the report rewritten)",
            args.report_every_ms
        );
    }

    eprintln!("warm-up: {} s", args.warmup_s);
    tokio::time::sleep(Duration::from_secs(args.warmup_s)).await;
    if let Some(Ok(Err(e))) = tasks.try_join_next() {
        bail!("a loop failed in the warm-up: {e:#}");
    }
    let rss_warm = rss_kib();
    trim();
    let rss_warm_trimmed = rss_kib();
    eprintln!(
        "after warm-up: {} summaries and {} liveness probes served, {} reports in; RSS {:.2} MiB (+{:.2}), after malloc_trim {:.2} MiB (+{:.2})",
        server.served.summaries.load(Ordering::Relaxed),
        server.served.live.load(Ordering::Relaxed),
        fed.reports.load(Ordering::Relaxed),
        mib(rss_warm as i64),
        mib(rss_warm as i64 - rss_base as i64),
        mib(rss_warm_trimmed as i64),
        mib(rss_warm_trimmed as i64 - rss_base as i64)
    );

    // The measuring window: the database is checkpointed before and after, outside of it.
    checkpoint(&db).await?;
    let hist_a = history_rows(&db).await?;
    let (polls_a, reports_a, wall_a) = (
        server.served.summaries.load(Ordering::Relaxed),
        fed.reports.load(Ordering::Relaxed),
        fed.wall_ns.load(Ordering::Relaxed),
    );
    let process = libc::CLOCK_PROCESS_CPUTIME_ID;
    let (cpu_a, srv_a, t_a) = (cpu_ns(process)?, cpu_ns(server.clock)?, Instant::now());
    tokio::time::sleep(Duration::from_secs(args.measure_s)).await;
    let (cpu_b, srv_b, window) = (cpu_ns(process)?, cpu_ns(server.clock)?, t_a.elapsed());
    let polls = server.served.summaries.load(Ordering::Relaxed) - polls_a;
    let reports = fed.reports.load(Ordering::Relaxed) - reports_a;
    let wall_ns = fed.wall_ns.load(Ordering::Relaxed) - wall_a;
    let rss_end = rss_kib();
    let (anon_end, file_end) = (status_kib("RssAnon:"), status_kib("RssFile:"));
    let threads_end = status_kib("Threads:");
    let (frames, page) = checkpoint(&db).await?;
    let hist = history_rows(&db).await? - hist_a;
    let wal = (frames * (page + 24)) as f64;
    let window_s = window.as_secs_f64();
    let pct = |ns: u64| ns as f64 / 1e9 / window_s * 100.0;
    let total_pct = pct(cpu_b - cpu_a);
    let server_pct = pct(srv_b - srv_a);
    let own_pct = total_pct - server_pct;
    let own_us = (cpu_b - cpu_a).saturating_sub(srv_b - srv_a) as f64 / 1e3;
    let work = polls + reports;
    eprintln!(
        "window: {window_s:.1} s: {polls} polls ({:.2}/s, expected {:.2}/s), {reports} reports ({:.2}/s); CPU {total_pct:.3} % of a core in all, server thread {server_pct:.3} %, fleet + agents {own_pct:.3} % ({:.0} µs of CPU per poll or report); ingest wall {:.2} ms per report; RSS at the end {:.2} MiB (+{:.2})",
        polls as f64 / window_s,
        if args.fleet() { n as f64 / interval_s as f64 } else { 0.0 },
        reports as f64 / window_s,
        own_us / work.max(1) as f64,
        wall_ns as f64 / 1e6 / reports.max(1) as f64,
        mib(rss_end as i64),
        mib(rss_end as i64 - rss_base as i64)
    );
    eprintln!(
        "RSS at the end by kind: anonymous (heap, stacks) {:+.2} MiB, file-backed (the binary's code and data paged in) {:+.2} MiB; threads {threads_base} → {threads_end}",
        mib(anon_end as i64 - anon_base as i64),
        mib(file_end as i64 - file_base as i64)
    );
    eprintln!(
        "database over the window: {frames} WAL frames = {} committed, {hist} history rows written ({} per day at this rate; a report that changes nothing writes nothing)",
        human(wal),
        human(wal / window_s * 86_400.0)
    );

    cancel.cancel();
    let stop = tokio::time::timeout(Duration::from_secs(15), async {
        while let Some(r) = tasks.join_next().await {
            match r {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e),
                Err(e) => bail!("a loop panicked: {e}"),
            }
        }
        Ok(())
    })
    .await;
    match stop {
        Ok(r) => r?,
        Err(_) => eprintln!("the loops did not stop within 15 s"),
    }
    let rss_peak = status_kib("VmHWM:");
    let mut by_status = std::collections::BTreeMap::<String, usize>::new();
    if let Some(f) = &fleet {
        for p in f.out.borrow().iter() {
            *by_status.entry(format!("{:?}", p.status).to_lowercase()).or_default() += 1;
        }
    }
    let refused = server.served.refused.load(Ordering::Relaxed);
    eprintln!(
        "peers by status: {by_status:?}; requests refused (token): {refused}; served in all: {} summaries, {} liveness probes",
        server.served.summaries.load(Ordering::Relaxed),
        server.served.live.load(Ordering::Relaxed)
    );
    let all_ok = by_status.get("ok").copied().unwrap_or(0) == n && refused == 0;
    let what = match args.only {
        Only::Both => format!("{n} peers at {interval_s} s over {scheme} + {per_s:.0} report/s"),
        Only::Fleet => format!("{n} peers at {interval_s} s over {scheme} (fleet only)"),
        Only::Ingest => format!("{per_s:.0} report/s (ingest only)"),
    };
    let fleet_note = if !args.fleet() {
        String::new()
    } else if all_ok {
        format!(", polls {polls} (all peers ok)")
    } else {
        format!(", polls {polls} (peers {by_status:?}, {refused} refused)")
    };
    let ingest_note = if args.ingest() {
        format!(
            ", reports {reports} ({:.2} ms each), db writes {} in the window ({hist} history rows: every {FLIP_EVERY}th report a state change) = {}/day",
            wall_ns as f64 / 1e6 / reports.max(1) as f64,
            human(wal),
            human(wal / window_s * 86_400.0)
        )
    } else {
        format!(", db writes {} in the window", human(wal))
    };
    let rss_added = rss_warm.max(rss_end) as i64 - rss_base as i64;
    println!(
        "fleet: {what}: cpu {own_pct:.2} % of a core (server {server_pct:.2} %, total {total_pct:.2} %), rss +{:.1} MiB (+{:.1} after malloc_trim, peak {:.1} MiB){fleet_note}{ingest_note}",
        mib(rss_added),
        mib(rss_warm_trimmed as i64 - rss_base as i64),
        mib(rss_peak as i64),
    );
    Ok(())
}
