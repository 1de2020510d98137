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
//!   trims every 60 s);
//! - **database bytes per day**: the growth of the database file (page_count × page_size, after a
//!   `wal_checkpoint(TRUNCATE)` has emptied the WAL into it) over the window, extrapolated to a
//!   day; the WAL frames one check commits (what the disk is written, as against what the file
//!   keeps); the bytes of one 10-minute rollup row (`monitors::store::roll_up` on the results at
//!   the end); and the steady state: a day of raw results plus 90 days of rollups. The steady state
//!   comes from a full day written into a second database (unless `--no-day`): 2 880 rounds of
//!   `store::record` for every monitor, with the latencies the live checks measured, rolled up every
//!   10 minutes as the worker does; the results' bytes are the pages freed when they are deleted at
//!   the end, the rest of what the day added is the rollups';
//! - the checks done (rows in `monitor_results`) and whether every one found the server up.
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
use proxwatch::monitors::store;
use proxwatch::monitors::uptime::{BUCKET_MS, bucket_of};
use proxwatch::monitors::worker::{self, Monitors};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

const DAY_MS: i64 = 86_400_000;
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

/// Checkpoints the WAL into the file (truncating it) and returns the file's size, page_count ×
/// page_size, read under the same lock (no check commits between the two).
async fn checkpointed_size(db: &Db) -> anyhow::Result<u64> {
    db.call(|c| {
        c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        let pragma = |p: &str| c.query_row(&format!("PRAGMA {p}"), [], |r| r.get::<_, i64>(0));
        Ok((pragma("page_count")? * pragma("page_size")?) as u64)
    })
    .await
}

async fn results_count(db: &Db) -> anyhow::Result<i64> {
    db.call(|c| Ok(c.query_row("SELECT COUNT(*) FROM monitor_results", [], |r| r.get(0))?)).await
}

/// Bytes of the pages in use: (page_count − freelist_count) × page_size. (SQLite's `dbstat` table
/// is left out of the appliance's build, .cargo/config.toml.)
fn used_bytes(c: &rusqlite::Connection) -> anyhow::Result<i64> {
    let pragma = |p: &str| c.query_row(&format!("PRAGMA {p}"), [], |r| r.get::<_, i64>(0));
    Ok((pragma("page_count")? - pragma("freelist_count")?) * pragma("page_size")?)
}

/// A full day of results for `n` monitors written through `store::record` (latencies cycled from
/// `latencies`), rolled up every 10 minutes as the worker does. Returns (bytes of the results,
/// bytes of the rollups, rollup rows, wall seconds): the results' are the pages freed by deleting
/// them at the end, the rollups' the rest of what the day added.
async fn full_day(
    path: &std::path::Path,
    n: usize,
    port: u16,
    interval_s: u64,
    latencies: &[f64],
) -> anyhow::Result<(i64, i64, i64, f64)> {
    let started = Instant::now();
    let db = Db::open(path)?;
    let latencies = latencies.to_vec();
    db.call(move |c| {
        let t0 = bucket_of(Clock::system().now_ms()) - 2 * DAY_MS;
        let tx = c.transaction()?;
        let ids = (0..n)
            .map(|i| store::create(&tx, &spec(i, port, interval_s), t0))
            .collect::<Result<Vec<_>, _>>()?;
        tx.commit()?;
        let before = used_bytes(c)?;
        let interval_ms = interval_s as i64 * 1000;
        let rounds = DAY_MS / interval_ms;
        let mut k = 0usize;
        let mut next_rollup = t0 + BUCKET_MS + 5_000;
        // One transaction per 10 minutes (the live checks commit one each: the same rows in the same
        // order, so the same pages), rolled up after each bucket closes.
        let mut tx = c.transaction()?;
        for round in 0..rounds {
            let base = t0 + round * interval_ms;
            for (i, id) in ids.iter().enumerate() {
                // Spread over the interval, as the schedule does.
                let ts = base + (i as i64 * interval_ms) / n as i64;
                let latency = latencies.get(k % latencies.len().max(1)).copied().unwrap_or(1.0);
                k += 1;
                let o = Outcome {
                    ts,
                    ok: true,
                    latency_ms: Some(latency),
                    error: None,
                    status_code: Some(200),
                    cert_expires: None,
                };
                store::record(&tx, *id, &o, Status::Up, false)?;
            }
            let end = base + interval_ms;
            if end >= next_rollup {
                tx.commit()?;
                store::roll_up(c, end)?;
                next_rollup += BUCKET_MS;
                tx = c.transaction()?;
            }
        }
        tx.commit()?;
        // The day's last bucket.
        store::roll_up(c, t0 + DAY_MS + 5_000)?;
        let day = used_bytes(c)?;
        let rollup_rows: i64 = c.query_row("SELECT COUNT(*) FROM monitor_rollups", [], |r| r.get(0))?;
        c.execute("DELETE FROM monitor_results", [])?;
        let rollups = used_bytes(c)? - before;
        Ok((day - before - rollups, rollups, rollup_rows, started.elapsed().as_secs_f64()))
    })
    .await
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
    let created = Clock::system().now_ms();
    db.call(move |c| {
        let tx = c.transaction()?;
        for i in 0..n {
            store::create(&tx, &spec(i, port, interval_s), created)?;
        }
        tx.commit()?;
        Ok(())
    })
    .await?;
    let size_defined = checkpointed_size(&db).await?;
    trim();
    let rss_base = rss_kib();
    eprintln!(
        "setup: server on 127.0.0.1:{port}, {n} HTTP monitors every {interval_s} s defined, database {}, RSS {:.2} MiB",
        human(size_defined as f64),
        mib(rss_base as i64)
    );

    // The production loop.
    let (_inventory_tx, inventory_rx) = tokio::sync::watch::channel(Arc::new(Inventory::default()));
    let runner = Runner::new(
        Arc::new(Host::system(Duration::from_secs(5))),
        db.clone(),
        inventory_rx,
        PveLink::default(),
        jiff::tz::TimeZone::UTC,
    );
    let monitors = Monitors::new(runner, &MonitorsCfg::default());
    let cancel = CancellationToken::new();
    let mut tasks = JoinSet::new();
    tasks.spawn(worker::run(monitors.clone(), Clock::system(), cancel.clone()));

    eprintln!("warm-up: {} s", args.warmup_s);
    tokio::time::sleep(Duration::from_secs(args.warmup_s)).await;
    let warm_checks = results_count(&db).await?;
    let checked: i64 = db
        .call(
            |c| Ok(c.query_row("SELECT COUNT(DISTINCT monitor_id) FROM monitor_results", [], |r| r.get(0))?),
        )
        .await?;
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

    // The measuring window: the database is read before and after, outside of it.
    let size_a = checkpointed_size(&db).await?;
    let rows_a = results_count(&db).await?;
    let served_a = server.served.load(Ordering::Relaxed);
    let (cpu_a, srv_a, t_a) = (cpu_ticks("/proc/self/stat")?, cpu_ticks(&server.stat)?, Instant::now());
    tokio::time::sleep(Duration::from_secs(args.measure_s)).await;
    let (cpu_b, srv_b, window) = (cpu_ticks("/proc/self/stat")?, cpu_ticks(&server.stat)?, t_a.elapsed());
    let served = server.served.load(Ordering::Relaxed) - served_a;
    let rss_end = rss_kib();
    let rows_b = results_count(&db).await?;
    let size_b = checkpointed_size(&db).await?;
    let window_s = window.as_secs_f64();
    let pct = |ticks: u64| ticks as f64 / tck / window_s * 100.0;
    let total_pct = pct(cpu_b - cpu_a);
    let server_pct = pct(srv_b - srv_a);
    let monitors_pct = total_pct - server_pct;
    let checks = rows_b - rows_a;
    eprintln!(
        "window: {window_s:.1} s, {checks} checks ({:.2}/s, expected {:.2}/s), {served} requests served; CPU {total_pct:.3} % of a core in all, server thread {server_pct:.3} %, monitors {monitors_pct:.3} % ({:.0} µs of CPU per check); RSS at the end {:.2} MiB (+{:.2})",
        checks as f64 / window_s,
        n as f64 / interval_s as f64,
        (cpu_b - cpu_a - (srv_b - srv_a)) as f64 / tck * 1e6 / checks.max(1) as f64,
        mib(rss_end as i64),
        mib(rss_end as i64 - rss_base as i64)
    );

    // What one check commits: the WAL frames written over a few seconds.
    let rows_c = results_count(&db).await?;
    db.call(|c| Ok(c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?)).await?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (frames, page_size, rows_d) = db
        .call(|c| {
            let frames: i64 = c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))?;
            let page: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0))?;
            let rows: i64 = c.query_row("SELECT COUNT(*) FROM monitor_results", [], |r| r.get(0))?;
            Ok((frames, page, rows))
        })
        .await?;
    let frames_per_check = frames as f64 / (rows_d - rows_c).max(1) as f64;

    cancel.cancel();
    match tokio::time::timeout(Duration::from_secs(15), tasks.join_next()).await {
        Ok(Some(Ok(()))) => {}
        Ok(Some(Err(e))) => bail!("the monitors' loop failed: {e}"),
        Ok(None) => {}
        Err(_) => eprintln!("the monitors' loop did not stop within 15 s"),
    }
    let rss_peak = status_kib("VmHWM:");

    // Every check, by what it found.
    let (by_status, latencies, last_ts) = db
        .call(|c| {
            let mut st =
                c.prepare("SELECT status, COUNT(*) FROM monitor_results GROUP BY status ORDER BY status")?;
            let by: Vec<(String, i64)> =
                st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
            let mut st =
                c.prepare("SELECT latency_ms FROM monitor_results WHERE latency_ms IS NOT NULL ORDER BY ts")?;
            let lat: Vec<f64> = st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
            let last: i64 =
                c.query_row("SELECT COALESCE(MAX(ts), 0) FROM monitor_results", [], |r| r.get(0))?;
            Ok((by, lat, last))
        })
        .await?;
    let total_checks: i64 = by_status.iter().map(|(_, k)| k).sum();
    let up: i64 = by_status.iter().filter(|(s, _)| s == "up").map(|(_, k)| k).sum();
    let events: i64 =
        db.call(|c| Ok(c.query_row("SELECT COUNT(*) FROM monitor_events", [], |r| r.get(0))?)).await?;
    let mut sorted = latencies.clone();
    sorted.sort_by(f64::total_cmp);
    let p = |q: f64| {
        sorted.get(((sorted.len() as f64 * q).ceil() as usize).saturating_sub(1)).copied().unwrap_or(0.0)
    };
    eprintln!(
        "checks: {total_checks} in all, by status {by_status:?}, {events} monitor events; latency p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms",
        p(0.5),
        p(0.95),
        p(1.0)
    );

    // Database: the live growth over the window, a day of it, and what a rollup row takes.
    let growth = size_b as i64 - size_a as i64;
    let checks_per_day = n as f64 * 86_400.0 / interval_s as f64;
    let raw_day = growth as f64 * 86_400.0 / window_s;
    let wal_day = checks_per_day * frames_per_check * (page_size as f64 + 24.0);
    eprintln!(
        "database: grew {} over the window ({:.0} B per check) = {} per day raw, {} per monitor per day; WAL: {frames_per_check:.2} frames of {} B per check committed = {} written per day",
        human(growth as f64),
        growth as f64 / checks.max(1) as f64,
        human(raw_day),
        human(raw_day / n as f64),
        page_size + 24,
        human(wal_day)
    );
    let size_c = checkpointed_size(&db).await?;
    let roll_at = bucket_of(last_ts) + BUCKET_MS + 5_000;
    let written = db.call(move |c| store::roll_up(c, roll_at)).await?;
    let size_d = checkpointed_size(&db).await?;
    let live_rollup_row = (size_d as f64 - size_c as f64) / written.max(1) as f64;
    eprintln!(
        "rollup of the live results: {written} rows, the file grew {} ({:.0} B per row)",
        human(size_d as f64 - size_c as f64),
        live_rollup_row
    );
    let rollup_rows_day = n as f64 * (DAY_MS / BUCKET_MS) as f64;

    // The steady state: a day of raw results and 90 days of rollups.
    let (day_raw, rollup_row, how) = if args.day {
        let (raw, rollups, rows, wall) =
            full_day(&dir.path().join("day.db"), n, port, interval_s, &latencies).await?;
        let per_row = rollups as f64 / rows.max(1) as f64;
        eprintln!(
            "a full day written ({wall:.1} s): results {} ({:.0} B per check), rollups {rows} rows in {} ({per_row:.0} B per row)",
            human(raw as f64),
            raw as f64 / checks_per_day,
            human(rollups as f64)
        );
        (raw as f64, per_row, "a full day written")
    } else {
        (raw_day, live_rollup_row, "extrapolated from the window")
    };
    let steady = day_raw + rollup_rows_day * ROLLUP_DAYS * rollup_row;
    eprintln!(
        "steady state ({how}): {} raw + {} of rollups ({n} × 144 × 90 rows × {rollup_row:.0} B) = {}",
        human(day_raw),
        human(rollup_rows_day * ROLLUP_DAYS * rollup_row),
        human(steady)
    );

    let rss_added = rss_warm.max(rss_end) as i64 - rss_base as i64;
    let all_up = if up == total_checks && total_checks > 0 {
        "all up".to_string()
    } else {
        format!("{up} up of {total_checks}")
    };
    let day_note = if args.day { format!("; a full day written: {}", human(day_raw)) } else { String::new() };
    println!(
        "monitors: {n} HTTP at {interval_s} s: cpu {monitors_pct:.2} % of a core (server {server_pct:.2} %, total {total_pct:.2} %), rss +{:.1} MiB (+{:.1} after malloc_trim, peak {:.1} MiB), checks {total_checks} ({all_up}), db {}/day raw ({} per monitor per day{day_note}), wal {}/day written ({frames_per_check:.1} pages per check), steady state {} ({} per monitor)",
        mib(rss_added),
        mib(rss_warm_trimmed as i64 - rss_base as i64),
        mib(rss_peak as i64),
        human(raw_day),
        human(raw_day / n as f64),
        human(wal_day),
        human(steady),
        human(steady / n as f64)
    );
    Ok(())
}
