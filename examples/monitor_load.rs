//! What the service monitors cost (issue 18; bench/run.sh runs it): 200 HTTP monitors checked every
//! 30 s against a local server, through the production path: the definitions written with
//! `monitors::store::create` into an on-disk database (`Db::open`), the schedule of
//! `monitors::worker::run` over the `Runner` on a runtime shaped like the appliance's (2 workers,
//! at most 8 blocking threads, 2 malloc arenas). Budget: under 0.5 % of a core and under 4 MiB RSS.
//!
//! The server answers `200 OK` and a small page to every GET, one request per connection (as the
//! monitors' client asks), on a thread and a single-threaded runtime of its own, so that its CPU is
//! read apart from the rest. It measures:
//! - **CPU**: utime + stime of the process (`/proc/self/stat`) over the measuring window, as % of
//!   one core, less the server thread's own (`/proc/<pid>/task/<tid>/stat`). The kernel's loopback
//!   work lands on whichever thread sends, so the split between the two is approximate; the total
//!   is exact (it includes the server);
//! - **RSS added**: `VmRSS` after the warm-up (and at the end, the larger counts) less `VmRSS` once
//!   the server and the database are set up and before the runner exists (after a `malloc_trim` of
//!   the setup's garbage); also given after a `malloc_trim` of the monitors' own (the appliance
//!   trims every 60 s). The checks are held in the runner's memory (each monitor's newest 90 for its
//!   heartbeat, and its open bucket's until the bucket is written), so a short run holds only a few:
//!   with the two days (below) a second runner is read back from them and checks a bucket's worth per
//!   monitor, and the RSS that runner adds (90 beats and a full bucket per monitor) is given too;
//! - **database**: a check writes nothing (unless it changes the monitor's state); the WAL frames
//!   committed over the window say so. Once a 10-minute bucket closes the worker writes it in one
//!   transaction: per monitor a rollup row in `monitor_buckets` (kept 90 days) and a row of its
//!   checks as JSON in `monitor_checks` (kept 24 h, then DELETEd); here that write is forced at the
//!   end (`Runner::persist` of every check held) and its WAL frames and each table's growth
//!   measured. A table's bytes are the pages that emptying it frees, in a transaction rolled back
//!   (`dbstat` is not built in). The day comes from a synthetic history written into a second
//!   database (unless `--no-day`): two days of closed buckets for every monitor through
//!   `store::write_bucket`, a transaction per bucket in time order with `store::expire` as
//!   `Runner::persist` does, the latencies the live checks measured. The first day fills the 24 h
//!   of checks kept; over the second every bucket written also DELETEs the checks of the one 24 h
//!   older, as in the steady state: the WAL it commits is what the disk is written a day, and the
//!   file should grow by the rollups only (the pages the DELETE frees go to the free list and the
//!   next write takes them again), which is checked. Kept a day: the checks' table after the
//!   second day (the last 24 h). The steady state: that, the free list, and 90 days of rollups (half
//!   of what two days of them take). With `--no-day` these are estimated from the forced write (scaled
//!   to a full bucket; the DELETE counted as the pages of a bucket's checks, every one of which it
//!   writes);
//! - the checks done (`Runner::results` of every monitor once the loop has stopped and written
//!   them; the requests the server answered are given too) and whether every one found the
//!   server up.
//!
//! Details go to stderr; the last line on stdout is the summary.
//!
//! ```text
//! cargo run --release --example monitor_load [-- --warmup-s 35 --measure-s 60 --monitors 200 --interval-s 30 --no-day]
//! ```
//!
//! The windows may also come from `MONITOR_LOAD_WARMUP_S` and `MONITOR_LOAD_MEASURE_S`.

// A benchmark, not the product: it reads its own /proc files directly.
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use proxwatch::config::MonitorsCfg;
use proxwatch::db::Db;
use proxwatch::host::Host;
use proxwatch::host::pveapi::PveLink;
use proxwatch::model::clock::Clock;
use proxwatch::model::inventory::Inventory;
use proxwatch::model::monitor::{MonitorSpec, Outcome, Status, Target};
use proxwatch::monitors::runner::Runner;
use proxwatch::monitors::store::{self, StoredCheck};
use proxwatch::monitors::uptime::{BUCKET_MS, bucket_of};
use proxwatch::monitors::worker::{self, Monitors};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

const DAY_MS: i64 = 86_400_000;
/// Buckets in a day (144).
const BUCKETS_PER_DAY: i64 = DAY_MS / BUCKET_MS;
const ROLLUP_DAYS: f64 = 90.0;
const MIB: f64 = 1048576.0;
/// The page every GET gets.
const PAGE: &[u8] = b"<!doctype html><title>ok</title><p>service up</p>\n";

struct Args {
    warmup_s: u64,
    measure_s: u64,
    monitors: usize,
    interval_s: u64,
    day: bool,
}

impl Args {
    fn parse() -> anyhow::Result<Args> {
        let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse().ok());
        let mut a = Args {
            warmup_s: env("MONITOR_LOAD_WARMUP_S").unwrap_or(35),
            measure_s: env("MONITOR_LOAD_MEASURE_S").unwrap_or(60),
            monitors: 200,
            interval_s: 30,
            day: true,
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            if flag == "--no-day" {
                a.day = false;
                continue;
            }
            let value = it.next().with_context(|| format!("{flag} needs a value"))?;
            let n: u64 = value.parse().with_context(|| format!("{flag} {value}: not a number"))?;
            match flag.as_str() {
                "--warmup-s" => a.warmup_s = n,
                "--measure-s" => a.measure_s = n.max(1),
                "--monitors" => a.monitors = n.max(1) as usize,
                "--interval-s" => a.interval_s = n.max(10),
                _ => bail!(
                    "unknown argument {flag} (--warmup-s, --measure-s, --monitors, --interval-s, --no-day)"
                ),
            }
        }
        Ok(a)
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

/// Clock ticks per second (`/proc/*/stat` counts CPU time in them).
#[allow(unsafe_code)]
fn clk_tck() -> f64 {
    // SAFETY: sysconf only reads a constant of the system.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// utime + stime in clock ticks, from a `stat` file of /proc (a process's or a thread's).
fn cpu_ticks(stat: &str) -> anyhow::Result<u64> {
    let s = std::fs::read_to_string(stat).with_context(|| format!("reading {stat}"))?;
    // Fields after the `)` that ends the command name: state is field 3, utime 14, stime 15.
    let rest = s.rsplit_once(')').map(|(_, r)| r).context("no command name in stat")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| -> anyhow::Result<u64> {
        f.get(i).context("short stat")?.parse::<u64>().context("stat field is not a number")
    };
    Ok(field(11)? + field(12)?)
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

/// The local server: its port, its thread's stat file and the requests it answered.
struct Server {
    port: u16,
    stat: String,
    served: Arc<AtomicU64>,
}

/// Starts the server on a thread of its own with a single-threaded runtime; it runs until the
/// process ends.
fn start_server() -> anyhow::Result<Server> {
    let served = Arc::new(AtomicU64::new(0));
    let count = served.clone();
    let (tx, rx) = std::sync::mpsc::channel::<anyhow::Result<(u16, String)>>();
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
                // `<pid>/task/<tid>`: this thread's own stat file.
                let me = std::fs::read_link("/proc/thread-self")?;
                anyhow::Ok((l, port, format!("/proc/{}/stat", me.display())))
            };
            match setup.await {
                Ok((l, port, stat)) => {
                    let _ = tx.send(Ok((port, stat)));
                    serve(l, count).await;
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            }
        });
    })?;
    let (port, stat) = rx.recv().context("the server thread ended")??;
    Ok(Server { port, stat, served })
}

/// Answers every GET with `200 OK` and [`PAGE`], one request per connection.
async fn serve(l: tokio::net::TcpListener, served: Arc<AtomicU64>) {
    let mut conns = JoinSet::new();
    loop {
        let Ok((stream, _)) = l.accept().await else { continue };
        while conns.try_join_next().is_some() {}
        let served = served.clone();
        conns.spawn(async move {
            let svc = hyper::service::service_fn(move |_req: hyper::Request<hyper::body::Incoming>| {
                served.fetch_add(1, Ordering::Relaxed);
                async {
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(Bytes::from_static(
                        PAGE,
                    ))))
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(false)
                .header_read_timeout(None)
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

fn spec(i: usize, port: u16, interval_s: u64) -> MonitorSpec {
    MonitorSpec {
        name: format!("service {i}"),
        target: Target::Http {
            url: format!("http://127.0.0.1:{port}/m/{i}"),
            status: Default::default(),
            keyword: None,
            json_path: None,
            json_expect: None,
            follow_redirects: true,
            verify_tls: true,
            cert_warn_days: 14,
        },
        interval_s,
        timeout_ms: 5000,
        retries: 1,
        degraded_ms: None,
        vmid: None,
    }
}

/// Checkpoints the WAL into the file and empties it. Returns the frames the WAL held (what was
/// committed since the last call) and the file's size, page_count × page_size, read under the same
/// lock (nothing commits between them).
fn drain_wal(c: &rusqlite::Connection) -> anyhow::Result<(i64, i64)> {
    // PASSIVE reports the frames in the WAL (TRUNCATE reports them after emptying it: none).
    let frames: i64 = c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))?;
    c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    let pragma = |p: &str| c.query_row(&format!("PRAGMA {p}"), [], |r| r.get::<_, i64>(0));
    Ok((frames, pragma("page_count")? * pragma("page_size")?))
}

async fn checkpoint(db: &Db) -> anyhow::Result<(i64, i64)> {
    db.call(|c| drain_wal(c)).await
}

/// Bytes of the pages in use: (page_count − freelist_count) × page_size. (SQLite's `dbstat` table
/// is left out of the appliance's build, .cargo/config.toml.)
fn used_bytes(c: &rusqlite::Connection) -> anyhow::Result<i64> {
    let pragma = |p: &str| c.query_row(&format!("PRAGMA {p}"), [], |r| r.get::<_, i64>(0));
    Ok((pragma("page_count")? - pragma("freelist_count")?) * pragma("page_size")?)
}

/// Bytes of a table's pages beyond its root (the empty table's root is part of the defined
/// database): what emptying it frees, in a transaction rolled back, so that nothing changes.
fn table_bytes(c: &mut rusqlite::Connection, table: &str) -> anyhow::Result<i64> {
    let tx = c.transaction()?;
    let used = used_bytes(&tx)?;
    tx.execute(&format!("DELETE FROM {table}"), [])?;
    let freed = used - used_bytes(&tx)?;
    tx.rollback()?;
    Ok(freed)
}

/// What the monitors' two tables hold, and what they take in the file.
#[derive(Debug, Clone, Copy, Default)]
struct Snapshot {
    /// Rollup rows (`monitor_buckets`) and the checks they count (maintenance's included).
    rollups: i64,
    counted: i64,
    /// Rows of checks (`monitor_checks`), the checks in their JSON, and the JSON's bytes.
    check_rows: i64,
    checks: i64,
    raw: i64,
    /// Bytes of each table's pages (beyond the root), of the free list, and of the file.
    rollup_bytes: i64,
    checks_bytes: i64,
    free: i64,
    file: i64,
}

fn snapshot(c: &mut rusqlite::Connection) -> anyhow::Result<Snapshot> {
    let (rollups, counted) = c.query_row(
        "SELECT COUNT(*), COALESCE(SUM(checks + maintenance), 0) FROM monitor_buckets",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let (check_rows, checks, raw) = c.query_row(
        "SELECT COUNT(*), COALESCE(SUM(json_array_length(raw)), 0), COALESCE(SUM(length(raw)), 0)
         FROM monitor_checks",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let pragma = |p: &str| c.query_row(&format!("PRAGMA {p}"), [], |r| r.get::<_, i64>(0));
    let (page_size, pages, free) = (pragma("page_size")?, pragma("page_count")?, pragma("freelist_count")?);
    Ok(Snapshot {
        rollups,
        counted,
        check_rows,
        checks,
        raw,
        rollup_bytes: table_bytes(c, "monitor_buckets")?,
        checks_bytes: table_bytes(c, "monitor_checks")?,
        free: free * page_size,
        file: pages * page_size,
    })
}

/// The checks of monitor `i` of `n` (every `interval_ms`, spread over the interval as the schedule
/// spreads them) in the bucket starting at `start`, with latencies taken in turn from `latencies`.
fn bucket_checks(
    i: usize,
    n: usize,
    interval_ms: i64,
    start: i64,
    latencies: &[f64],
    k: &mut usize,
) -> Vec<StoredCheck> {
    let offset = i as i64 * interval_ms / n as i64;
    let mut ts = start + (offset - start).rem_euclid(interval_ms);
    let mut out = Vec::new();
    while ts < start + BUCKET_MS {
        let latency = latencies.get(*k % latencies.len().max(1)).copied().unwrap_or(1.0);
        *k += 1;
        let o = Outcome {
            ts,
            ok: true,
            latency_ms: Some(latency),
            error: None,
            status_code: Some(200),
            cert_expires: None,
        };
        out.push(StoredCheck::of(&o, Status::Up, false));
        ts += interval_ms;
    }
    out
}

/// Two days of closed buckets written into a second database.
struct Days {
    db: Db,
    ids: Vec<i64>,
    /// The end of the last bucket written (bucket-aligned).
    end: i64,
    page_size: i64,
    /// The file's size before the first bucket.
    base_file: i64,
    /// The tables at the end of the first day (24 h of checks, a day of rollups) and of the second
    /// (the last 24 h of checks, two days of rollups).
    at: [Snapshot; 2],
    /// WAL frames the first day's transactions committed (the rows only: nothing is 24 h old yet)
    /// and the second day's (the rows and the DELETE of the checks 24 h older).
    frames: [i64; 2],
    /// The most the free list held after a bucket write of the second day (bytes).
    max_free: i64,
    wall_s: f64,
}

/// Writes two days of buckets for `n` monitors as the worker writes them: every 10 minutes one
/// transaction with each monitor's bucket just closed (`store::write_bucket`, in id order: its
/// rollup row and its checks' row) and `store::expire` at the time the worker runs it (the bucket's
/// end + the write delay); the WAL is checkpointed after each, so that the frames each commits are
/// read.
async fn full_days(
    path: &std::path::Path,
    n: usize,
    port: u16,
    interval_s: u64,
    latencies: &[f64],
) -> anyhow::Result<Days> {
    let started = Instant::now();
    let db = Db::open(path)?;
    let latencies = latencies.to_vec();
    let end = bucket_of(Clock::system().now_ms()) - BUCKET_MS;
    let t0 = end - 2 * DAY_MS;
    let (ids, page_size, base_file, at, frames, max_free) = db
        .call(move |c| {
            let tx = c.transaction()?;
            let ids = (0..n)
                .map(|i| store::create(&tx, &spec(i, port, interval_s), t0))
                .collect::<Result<Vec<_>, _>>()?;
            tx.commit()?;
            let (_, base_file) = drain_wal(c)?;
            let page_size: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0))?;
            let interval_ms = interval_s as i64 * 1000;
            let mut k = 0usize;
            let mut frames = [0i64; 2];
            let mut at = [Snapshot::default(); 2];
            let mut max_free = 0i64;
            for b in 0..2 * BUCKETS_PER_DAY {
                let start = t0 + b * BUCKET_MS;
                let now = start + BUCKET_MS + worker::WRITE_DELAY_MS;
                let tx = c.transaction()?;
                for (i, id) in ids.iter().enumerate() {
                    let checks = bucket_checks(i, n, interval_ms, start, &latencies, &mut k);
                    if !checks.is_empty() {
                        store::write_bucket(&tx, *id, start, &checks, now)?;
                    }
                }
                store::expire(&tx, now)?;
                tx.commit()?;
                let day = usize::from(b >= BUCKETS_PER_DAY);
                frames[day] += drain_wal(c)?.0;
                if day == 1 {
                    let free: i64 = c.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
                    max_free = max_free.max(free * page_size);
                }
                if (b + 1) % BUCKETS_PER_DAY == 0 {
                    at[day] = snapshot(c)?;
                    // The rolled-back DELETEs leave nothing committed to count.
                    drain_wal(c)?;
                }
            }
            Ok((ids, page_size, base_file, at, frames, max_free))
        })
        .await?;
    Ok(Days {
        db,
        ids,
        end,
        page_size,
        base_file,
        at,
        frames,
        max_free,
        wall_s: started.elapsed().as_secs_f64(),
    })
}

/// What a runner holding its steady-state checks adds to the RSS: a second runner over the two
/// days' database (`reload` reads each monitor's newest 90 checks back, as after a restart) that
/// then checks the local server a bucket's worth of times per monitor (16 in flight) without
/// writing the bucket. Returns the RSS added (KiB) before and after a `malloc_trim`, and the
/// heartbeats and checks held.
async fn full_runner_rss(
    days: &Days,
    host: Arc<Host>,
    interval_s: u64,
) -> anyhow::Result<(i64, i64, usize, usize)> {
    trim();
    let base = rss_kib() as i64;
    let (_inventory_tx, inventory_rx) = tokio::sync::watch::channel(Arc::new(Inventory::default()));
    let runner = Arc::new(
        Runner::new(host, days.db.clone(), inventory_rx, PveLink::default(), jiff::tz::TimeZone::UTC)
            .with_clock(Clock::manual(days.end)),
    );
    runner.reload().await?;
    let interval_ms = interval_s as i64 * 1000;
    let n = days.ids.len();
    let mut checks = 0usize;
    let mut set = JoinSet::new();
    // Round by round (every monitor's first check of the bucket, then the second, ...).
    let mut round = 0i64;
    loop {
        let mut any = false;
        for (i, id) in days.ids.iter().enumerate() {
            let ts = days.end + i as i64 * interval_ms / n as i64 + round * interval_ms;
            if ts >= days.end + BUCKET_MS {
                continue;
            }
            any = true;
            while set.len() >= 16 {
                if let Some(r) = set.join_next().await {
                    r??;
                }
            }
            let (r, id) = (runner.clone(), *id);
            set.spawn(async move { r.check(id, ts).await.map(|_| ()) });
            checks += 1;
        }
        if !any {
            break;
        }
        round += 1;
    }
    while let Some(r) = set.join_next().await {
        r??;
    }
    let full = rss_kib() as i64 - base;
    trim();
    let trimmed = rss_kib() as i64 - base;
    let beats = days.ids.iter().map(|id| runner.beats(*id).len()).sum();
    drop(runner);
    Ok((full, trimmed, beats, checks))
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
    let n = args.monitors;
    let tck = clk_tck();
    let server = start_server()?;
    let dir = tempfile::tempdir()?;
    let db = Db::open(&dir.path().join("monitors.db"))?;
    let (port, interval_s) = (server.port, args.interval_s);
    let interval_ms = interval_s as i64 * 1000;
    let created = Clock::system().now_ms();
    let ids = db
        .call(move |c| {
            let tx = c.transaction()?;
            let ids = (0..n)
                .map(|i| store::create(&tx, &spec(i, port, interval_s), created))
                .collect::<Result<Vec<_>, _>>()?;
            tx.commit()?;
            Ok(ids)
        })
        .await?;
    let page_size: i64 = db.call(|c| Ok(c.query_row("PRAGMA page_size", [], |r| r.get(0))?)).await?;
    let (_, size_defined) = checkpoint(&db).await?;
    let host = Arc::new(Host::system(Duration::from_secs(5)));
    trim();
    let rss_base = rss_kib();
    eprintln!(
        "setup: server on 127.0.0.1:{port}, {n} HTTP monitors every {interval_s} s defined, database {}, RSS {:.2} MiB",
        human(size_defined as f64),
        mib(rss_base as i64)
    );

    // The production loop.
    let (_inventory_tx, inventory_rx) = tokio::sync::watch::channel(Arc::new(Inventory::default()));
    let runner =
        Runner::new(host.clone(), db.clone(), inventory_rx, PveLink::default(), jiff::tz::TimeZone::UTC);
    let monitors = Monitors::new(runner, &MonitorsCfg::default());
    let cancel = CancellationToken::new();
    let mut tasks = JoinSet::new();
    tasks.spawn(worker::run(monitors.clone(), Clock::system(), cancel.clone()));

    eprintln!("warm-up: {} s", args.warmup_s);
    tokio::time::sleep(Duration::from_secs(args.warmup_s)).await;
    let warm_checks = server.served.load(Ordering::Relaxed);
    let checked = ids.iter().filter(|id| !monitors.runner.beats(**id).is_empty()).count();
    let rss_warm = rss_kib();
    trim();
    let rss_warm_trimmed = rss_kib();
    eprintln!(
        "after warm-up: {warm_checks} checks, {checked} of {n} monitors checked at least once, RSS {:.2} MiB (+{:.2}), after malloc_trim {:.2} MiB (+{:.2})",
        mib(rss_warm as i64),
        mib(rss_warm as i64 - rss_base as i64),
        mib(rss_warm_trimmed as i64),
        mib(rss_warm_trimmed as i64 - rss_base as i64)
    );

    // The measuring window: the database is checkpointed before and after, outside of it.
    let (_, size_a) = checkpoint(&db).await?;
    let served_a = server.served.load(Ordering::Relaxed);
    let (cpu_a, srv_a, t_a) = (cpu_ticks("/proc/self/stat")?, cpu_ticks(&server.stat)?, Instant::now());
    tokio::time::sleep(Duration::from_secs(args.measure_s)).await;
    let (cpu_b, srv_b, window) = (cpu_ticks("/proc/self/stat")?, cpu_ticks(&server.stat)?, t_a.elapsed());
    let checks = server.served.load(Ordering::Relaxed) - served_a;
    let rss_end = rss_kib();
    let (window_frames, size_b) = checkpoint(&db).await?;
    let window_s = window.as_secs_f64();
    let pct = |ticks: u64| ticks as f64 / tck / window_s * 100.0;
    let total_pct = pct(cpu_b - cpu_a);
    let server_pct = pct(srv_b - srv_a);
    let monitors_pct = total_pct - server_pct;
    eprintln!(
        "window: {window_s:.1} s, {checks} checks ({:.2}/s, expected {:.2}/s); CPU {total_pct:.3} % of a core in all, server thread {server_pct:.3} %, monitors {monitors_pct:.3} % ({:.0} µs of CPU per check); RSS at the end {:.2} MiB (+{:.2})",
        checks as f64 / window_s,
        n as f64 / interval_s as f64,
        (cpu_b - cpu_a - (srv_b - srv_a)) as f64 / tck * 1e6 / checks.max(1) as f64,
        mib(rss_end as i64),
        mib(rss_end as i64 - rss_base as i64)
    );
    eprintln!(
        "database over the window: {window_frames} WAL frames committed, the file {} → {} (a check writes nothing; a closed bucket is written {} s after it closes)",
        human(size_a as f64),
        human(size_b as f64),
        worker::WRITE_DELAY_MS / 1000
    );

    // The write the worker makes once a bucket has closed, forced now for every check held.
    let before = db.call(snapshot).await?;
    checkpoint(&db).await?;
    let rows = monitors.runner.persist(Clock::system().now_ms(), None).await?;
    let (write_frames, _) = checkpoint(&db).await?;
    let after = db.call(snapshot).await?;
    let w_rollups = (after.rollups - before.rollups).max(1) as f64;
    let w_check_rows = (after.check_rows - before.check_rows).max(1) as f64;
    let w_checks = after.checks - before.checks;
    let live_rollup_row = (after.rollup_bytes - before.rollup_bytes) as f64 / w_rollups;
    let live_check_row = (after.checks_bytes - before.checks_bytes) as f64 / w_check_rows;
    let checks_per_row = w_checks as f64 / w_check_rows;
    let json_per_check = (after.raw - before.raw) as f64 / w_checks.max(1) as f64;
    eprintln!(
        "bucket write (Runner::persist of the {w_checks} checks held, {rows} rows in each table): {write_frames} WAL frames = {} committed; monitor_buckets +{} ({w_rollups:.0} rows, {live_rollup_row:.0} B per row), monitor_checks +{} ({w_check_rows:.0} rows, {live_check_row:.0} B per row: {checks_per_row:.1} checks and {json_per_check:.0} B of JSON per check) (whole pages: rough at this size)",
        human((write_frames * (page_size + 24)) as f64),
        human((after.rollup_bytes - before.rollup_bytes) as f64),
        human((after.checks_bytes - before.checks_bytes) as f64),
    );

    cancel.cancel();
    match tokio::time::timeout(Duration::from_secs(15), tasks.join_next()).await {
        Ok(Some(Ok(()))) => {}
        Ok(Some(Err(e))) => bail!("the monitors' loop failed: {e}"),
        Ok(None) => {}
        Err(_) => eprintln!("the monitors' loop did not stop within 15 s"),
    }
    let rss_peak = status_kib("VmHWM:");

    // Every check, by what it found (all written now: the loop writes what it holds at a stop).
    let mut all = Vec::new();
    for id in &ids {
        all.extend(monitors.runner.results(*id, None, 1_000_000).await?);
    }
    let served = server.served.load(Ordering::Relaxed);
    let total_checks = all.len();
    let mut by_status = std::collections::BTreeMap::<String, usize>::new();
    for c in &all {
        *by_status.entry(c.status.to_string()).or_default() += 1;
    }
    let up = by_status.get("up").copied().unwrap_or(0);
    all.sort_by_key(|c| c.ts);
    let latencies: Vec<f64> = all.iter().filter_map(|c| c.latency_ms).collect();
    let events: i64 =
        db.call(|c| Ok(c.query_row("SELECT COUNT(*) FROM monitor_events", [], |r| r.get(0))?)).await?;
    let mut sorted = latencies.clone();
    sorted.sort_by(f64::total_cmp);
    let p = |q: f64| {
        sorted.get(((sorted.len() as f64 * q).ceil() as usize).saturating_sub(1)).copied().unwrap_or(0.0)
    };
    eprintln!(
        "checks: {total_checks} in all ({served} requests served), by status {by_status:?}, {events} monitor events; latency p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms",
        p(0.5),
        p(0.95),
        p(1.0)
    );

    // The database a day: the WAL written, the checks kept, the steady state.
    let per_bucket = BUCKET_MS as f64 / interval_ms as f64;
    let rows_day = n as f64 * BUCKETS_PER_DAY as f64;
    // (WAL bytes a day, frames per bucket write, checks' bytes kept (24 h), steady state, RSS of a
    // full runner)
    let (wal_day, pages_per_write, raw_day, steady, full_rss) = if args.day {
        let days = full_days(&dir.path().join("days.db"), n, port, interval_s, &latencies).await?;
        let [d1, d2] = days.at;
        let frame = (days.page_size + 24) as f64;
        let per_write = |f: i64| f as f64 / BUCKETS_PER_DAY as f64;
        // The rollups are only appended: a day of them is half of what two days take.
        let rollup_day = d2.rollup_bytes as f64 / 2.0;
        let rollup_row = rollup_day / rows_day;
        // What the file grew by over the second day beyond the rollups' pages: the checks' (their
        // table and the free list), nothing once the pages their DELETE frees are reused.
        let checks_grew = (d2.file - d1.file - (d2.rollup_bytes - d1.rollup_bytes)) as f64;
        eprintln!(
            "two days written ({:.1} s): day 1: {} rollup rows ({} checks counted), monitor_buckets {} ({:.0} B per row); {} rows of checks ({} checks), monitor_checks {} ({:.0} B per row, {:.0} B of JSON per check); the file {}; WAL {} ({:.1} frames per bucket write: its rows)",
            days.wall_s,
            d1.rollups,
            d1.counted,
            human(d1.rollup_bytes as f64),
            d1.rollup_bytes as f64 / d1.rollups.max(1) as f64,
            d1.check_rows,
            d1.checks,
            human(d1.checks_bytes as f64),
            d1.checks_bytes as f64 / d1.check_rows.max(1) as f64,
            d1.raw as f64 / d1.checks.max(1) as f64,
            human((d1.file - days.base_file) as f64),
            human(days.frames[0] as f64 * frame),
            per_write(days.frames[0])
        );
        // They stop growing when what they added is the free list of one DELETE (reused by the
        // next write) and what their table's pages vary by (1 %).
        let reused = checks_grew <= (days.max_free as f64) + 0.01 * d2.checks_bytes as f64;
        eprintln!(
            "day 2 (each write also DELETEs the checks of the bucket 24 h older): WAL {} ({:.1} frames per bucket write, {:+.1} for the DELETE); the file {} → {}: +{} for the rollups (monitor_buckets {} → {}, {} rows), {} for the checks: their table {} → {} ({} rows, the last 24 h), the free list {} → {} (at most {} after a write: the pages a DELETE frees, taken again by the next write) — {}",
            human(days.frames[1] as f64 * frame),
            per_write(days.frames[1]),
            per_write(days.frames[1] - days.frames[0]),
            human((d1.file - days.base_file) as f64),
            human((d2.file - days.base_file) as f64),
            human((d2.rollup_bytes - d1.rollup_bytes) as f64),
            human(d1.rollup_bytes as f64),
            human(d2.rollup_bytes as f64),
            d2.rollups,
            human(checks_grew),
            human(d1.checks_bytes as f64),
            human(d2.checks_bytes as f64),
            d2.check_rows,
            human(d1.free as f64),
            human(d2.free as f64),
            human(days.max_free as f64),
            if reused { "the checks no longer grow the file" } else { "the checks still grow the file" }
        );
        // The last 24 h of checks and the free list as they are after the second day, and 90 days
        // of rollups.
        let steady = (d2.checks_bytes + d2.free) as f64 + ROLLUP_DAYS * rollup_day;
        eprintln!(
            "steady state: 24 h of checks {} + the free list {} + 90 days of rollups at {} a day ({rollup_row:.0} B per row) {} = {} ({} per monitor)",
            human(d2.checks_bytes as f64),
            human(d2.free as f64),
            human(rollup_day),
            human(ROLLUP_DAYS * rollup_day),
            human(steady),
            human(steady / n as f64)
        );
        let (full, trimmed, beats, held) = full_runner_rss(&days, host.clone(), interval_s).await?;
        eprintln!(
            "a runner read back from it holding {beats} heartbeats ({:.0} per monitor) and {held} checks of an open bucket: RSS +{:.2} MiB (+{:.2} after malloc_trim)",
            beats as f64 / n as f64,
            mib(full),
            mib(trimmed)
        );
        (
            days.frames[1] as f64 * frame,
            per_write(days.frames[1]),
            d2.checks_bytes as f64,
            (steady, rollup_row, Some(checks_grew)),
            Some(full),
        )
    } else {
        // Estimated from the forced write, scaled to a full bucket: a row of checks without its
        // checks plus a bucket's at the JSON bytes each took; the WAL frames in proportion to the
        // rows' bytes, and the retention's DELETE counted as the pages of a bucket's checks (it
        // writes every leaf it empties: the two days measure it so).
        let check_row =
            (live_check_row - checks_per_row * json_per_check).max(0.0) + per_bucket * json_per_check;
        let scale = (live_rollup_row + check_row) / (live_rollup_row + live_check_row).max(1.0);
        let pages = write_frames as f64 * scale + n as f64 * check_row / page_size as f64;
        let wal_day = BUCKETS_PER_DAY as f64 * pages * (page_size + 24) as f64;
        let raw_day = rows_day * check_row;
        let steady = raw_day + ROLLUP_DAYS * rows_day * live_rollup_row;
        eprintln!(
            "estimated from the forced write: WAL {} a day ({pages:.1} frames of {} B per bucket write and its DELETE), {} of checks kept ({check_row:.0} B a row), steady state {}",
            human(wal_day),
            page_size + 24,
            human(raw_day),
            human(steady)
        );
        (wal_day, pages, raw_day, (steady, live_rollup_row, None), None)
    };
    let rss_added = rss_warm.max(rss_end) as i64 - rss_base as i64;
    let all_up = if up == total_checks && total_checks > 0 {
        "all up".to_string()
    } else {
        format!("{up} up of {total_checks}")
    };
    let full_note = full_rss
        .map(|k| format!("; a runner holding 90 beats + a bucket per monitor +{:.1} MiB", mib(k)))
        .unwrap_or_default();
    let estimated = if args.day { "" } else { ", estimated" };
    let (steady_bytes, rollup_row, checks_grew) = steady;
    let steady_note = format!(
        "{} ({} per monitor; 24 h of checks + 90 days of rollups at {rollup_row:.0} B a row{})",
        human(steady_bytes),
        human(steady_bytes / n as f64),
        match checks_grew {
            Some(b) => format!("; the file grew {} for the checks over day 2", human(b)),
            None => ", estimated".to_string(),
        }
    );
    println!(
        "monitors: {n} HTTP at {interval_s} s: cpu {monitors_pct:.2} % of a core (server {server_pct:.2} %, total {total_pct:.2} %), rss +{:.1} MiB (+{:.1} after malloc_trim, peak {:.1} MiB{full_note}), checks {total_checks} ({all_up}), db writes {}/day (WAL, 144 bucket writes of {pages_per_write:.0} pages{estimated}), kept {}/day raw ({} per monitor per day{estimated}), steady state {steady_note}",
        mib(rss_added),
        mib(rss_warm_trimmed as i64 - rss_base as i64),
        mib(rss_peak as i64),
        human(wal_day),
        human(raw_day),
        human(raw_day / n as f64)
    );
    Ok(())
}
