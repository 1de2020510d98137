//! Login flood benchmark (bench/run.sh runs it, section 3b). A legitimate user logs in every
//! `interval` from 127.0.0.1 while `clients` attackers flood `POST /api/auth/login` with wrong
//! passwords, each request from another loopback source address (127.1.0.1 … 127.1.15.254, so the
//! per-address limiter sees 4 064 addresses), half of them for the legitimate user's name and half
//! for made-up names. It samples the server's `VmRSS` every 50 ms meanwhile, reads `VmHWM` at the
//! end, prints a summary on stderr and one JSON line on stdout:
//! `{legit_n, legit_ok, legit_p50_ms, legit_p99_ms, legit_max_ms, legit_by_status, flood_requests,
//! flood_by_status: {401, 429, 503, other, conn_error}, flood_mean_ms (per answer kind), rss_idle_mib,
//! rss_peak_mib, hwm_mib, ...}`.
//!
//! ```text
//! cargo run --release --example login_flood -- ADDR PID [SECONDS] [CLIENTS] [USER] [PASSWORD] [INTERVAL_MS]
//! ```
//! ADDR is `127.0.0.1:PORT` (loopback only), PID the server's process (for `/proc/PID/status`).
//! Each optional argument may also come from the environment: `LOGIN_FLOOD_SECS` (20),
//! `LOGIN_FLOOD_CLIENTS` (32), `LOGIN_FLOOD_USER` (`demo`), `LOGIN_FLOOD_PASSWORD` (`demo`),
//! `LOGIN_FLOOD_INTERVAL_MS` (250); a command-line argument wins.
//!
//! Every request, the legitimate ones included, is its own connection (`Connection: close`), as a
//! flood from many addresses is, so each latency includes the TCP connect. A login succeeds when it
//! answers 200 with a `csrf_token` field. Percentiles are nearest-rank over every legitimate attempt
//! (failed ones included; `legit_ok` and `legit_by_status` say how many failed and how).
//! The bench reports, it does not judge: the exit status is 0 whatever the figures, non-zero only
//! when the run cannot happen (bad arguments, no such PID, the first legitimate login fails).
//! Every loop is bounded in time and in count; each request has a 10 s limit.

// A benchmark client, not the product: it reads the server's /proc files and spawns its clients
// directly (clippy.toml's one-door bans are for the appliance).
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

/// One request's limit, connect to the end of the answer.
const REQUEST_LIMIT: Duration = Duration::from_secs(10);
/// Most of an answer kept (a login answer is well under 1 KiB).
const ANSWER_CAP: usize = 64 * 1024;
/// Source addresses the flood cycles through: 127.1.0.1 … 127.1.15.254.
const SOURCES: u64 = 16 * 254;
/// Upper bound on the requests of one flood client (the duration ends it long before).
const MAX_PER_CLIENT: u64 = 1_000_000;
const RSS_EVERY: Duration = Duration::from_millis(50);

/// How a login was answered; `status` 0 = no answer (connect or read failed, or timed out).
struct Answer {
    status: u16,
    csrf: bool,
}

/// One login over a fresh connection bound to `source`.
async fn login_once(addr: SocketAddr, source: [u8; 4], user: &str, password: &str) -> anyhow::Result<Answer> {
    let sock = TcpSocket::new_v4()?;
    sock.bind(SocketAddr::from((source, 0))).with_context(|| format!("binding {source:?}"))?;
    let mut s = sock.connect(addr).await.with_context(|| format!("connecting to {addr}"))?;
    let body = serde_json::json!({"username": user, "password": password}).to_string();
    let req = format!(
        "POST /api/auth/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await?;
    let mut answer = Vec::with_capacity(1024);
    let mut buf = [0u8; 4096];
    while answer.len() < ANSWER_CAP {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
    }
    // "HTTP/1.1 200 OK"
    let status = answer
        .get(9..12)
        .and_then(|c| std::str::from_utf8(c).ok())
        .and_then(|c| c.parse().ok())
        .context("no HTTP status line in the answer")?;
    let body_at = answer.windows(4).position(|w| w == b"\r\n\r\n").map_or(answer.len(), |i| i + 4);
    let needle = b"\"csrf_token\":\"";
    let csrf = answer[body_at..].windows(needle.len()).any(|w| w == needle);
    Ok(Answer { status, csrf })
}

/// [`login_once`] under [`REQUEST_LIMIT`]; the latency is measured either way.
async fn login(
    addr: SocketAddr,
    source: [u8; 4],
    user: &str,
    password: &str,
) -> (anyhow::Result<Answer>, Duration) {
    let started = Instant::now();
    let answer = match tokio::time::timeout(REQUEST_LIMIT, login_once(addr, source, user, password)).await {
        Ok(a) => a,
        Err(_) => Err(anyhow::anyhow!("no answer within {} s", REQUEST_LIMIT.as_secs())),
    };
    (answer, started.elapsed())
}

/// A `Vm…:` line of /proc/PID/status, in MiB.
fn vm_mib(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Nearest-rank percentile of sorted values (NaN when there are none).
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Positional argument `i`, else environment variable `env`, else `default`.
fn arg<T: FromStr>(args: &[String], i: usize, env: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    match args.get(i).cloned().or_else(|| std::env::var(env).ok()) {
        Some(v) => v.parse().with_context(|| format!("argument {i} / {env}: {v:?}")),
        None => Ok(default),
    }
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

const USAGE: &str =
    "usage: login_flood 127.0.0.1:PORT PID [SECONDS] [CLIENTS] [USER] [PASSWORD] [INTERVAL_MS]";

/// Errors end the run with one line on stderr (the bench shows the last line), exit status 1.
#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("login_flood: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 || args.iter().any(|a| a == "-h" || a == "--help") {
        bail!(USAGE);
    }
    let addr: SocketAddr = args[1].parse().context("ADDR (127.0.0.1:PORT)")?;
    if !addr.ip().is_loopback() || !addr.is_ipv4() {
        bail!("only IPv4 loopback targets (127.0.0.1:PORT), not {addr}");
    }
    let pid: u32 = args[2].parse().context("PID")?;
    let secs: u64 = arg(&args, 3, "LOGIN_FLOOD_SECS", 20)?;
    let clients: u64 = arg(&args, 4, "LOGIN_FLOOD_CLIENTS", 32)?;
    let user: String = arg(&args, 5, "LOGIN_FLOOD_USER", "demo".to_string())?;
    let password: String = arg(&args, 6, "LOGIN_FLOOD_PASSWORD", "demo".to_string())?;
    let interval_ms: u64 = arg(&args, 7, "LOGIN_FLOOD_INTERVAL_MS", 250)?;
    if !(1..=3600).contains(&secs) || !(1..=1024).contains(&clients) || interval_ms == 0 {
        bail!("SECONDS must be 1..=3600, CLIENTS 1..=1024, INTERVAL_MS > 0");
    }
    let interval = Duration::from_millis(interval_ms);
    let rss_idle = vm_mib(pid, "VmRSS:").with_context(|| format!("no process {pid} (/proc/{pid}/status)"))?;

    // The legitimate user has logged in from their own address before the flood.
    let (first, took) = login(addr, [127, 0, 0, 1], &user, &password).await;
    let first = first.context("the legitimate login before the flood")?;
    if first.status != 200 || !first.csrf {
        bail!(
            "the legitimate login before the flood failed: HTTP {} (csrf_token: {})",
            first.status,
            first.csrf
        );
    }
    eprintln!(
        "login_flood: {addr}, pid {pid}: {clients} flood clients for {secs} s, {user} every {interval_ms} ms \
         (first login {:.0} ms, RSS {rss_idle:.1} MiB)",
        took.as_secs_f64() * 1000.0
    );

    let stop = Arc::new(AtomicBool::new(false));
    let next_source = Arc::new(AtomicU64::new(0));
    let mut flood = Vec::new();
    for c in 0..clients {
        let (stop, next_source, user) = (stop.clone(), next_source.clone(), user.clone());
        flood.push(tokio::spawn(async move {
            // status -> (answers, total latency in ms)
            let mut by_status: BTreeMap<u16, (u64, f64)> = BTreeMap::new();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) && i < MAX_PER_CLIENT {
                let n = next_source.fetch_add(1, Ordering::Relaxed) % SOURCES;
                let source = [127, 1, (n / 254) as u8, (n % 254) as u8 + 1];
                // Half the attempts guess the legitimate user's password, half try other names.
                let name = if (c + i) % 2 == 0 { user.clone() } else { format!("guess{}", n % 97) };
                let (answer, took) = login(addr, source, &name, "wrong-password-123").await;
                let e = by_status.entry(answer.map_or(0, |a| a.status)).or_default();
                e.0 += 1;
                e.1 += took.as_secs_f64() * 1000.0;
                i += 1;
            }
            by_status
        }));
    }
    let sampler = {
        let stop = stop.clone();
        let max_samples = (secs + 2 * REQUEST_LIMIT.as_secs()) * 1000 / RSS_EVERY.as_millis() as u64;
        tokio::spawn(async move {
            let mut peak = f64::NAN;
            for _ in 0..max_samples {
                if let Some(rss) = vm_mib(pid, "VmRSS:") {
                    peak = peak.max(rss);
                }
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                tokio::time::sleep(RSS_EVERY).await;
            }
            peak
        })
    };

    let flood_started = Instant::now();
    let deadline = flood_started + Duration::from_secs(secs);
    let max_legit = secs * 1000 / interval_ms + 1;
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut legit = Vec::new();
    let mut legit_ok = 0u64;
    let mut legit_by_status: BTreeMap<String, u64> = BTreeMap::new();
    while Instant::now() < deadline && (legit.len() as u64) < max_legit {
        ticks.tick().await;
        let (answer, took) = login(addr, [127, 0, 0, 1], &user, &password).await;
        let key = match &answer {
            Ok(a) if a.status == 200 && !a.csrf => "200_no_csrf".to_string(),
            Ok(a) => a.status.to_string(),
            Err(_) => "conn_error".to_string(),
        };
        legit_ok += u64::from(matches!(&answer, Ok(a) if a.status == 200 && a.csrf));
        *legit_by_status.entry(key).or_default() += 1;
        legit.push(took.as_secs_f64() * 1000.0);
    }
    stop.store(true, Ordering::Relaxed);
    let mut by_status: BTreeMap<u16, u64> = BTreeMap::new();
    let mut took_ms: BTreeMap<u16, f64> = BTreeMap::new();
    for f in flood {
        for (k, (n, ms)) in f.await? {
            *by_status.entry(k).or_default() += n;
            *took_ms.entry(k).or_default() += ms;
        }
    }
    let flood_s = flood_started.elapsed().as_secs_f64();
    let rss_peak = sampler.await?;
    let hwm = vm_mib(pid, "VmHWM:").unwrap_or(f64::NAN);

    legit.sort_by(f64::total_cmp);
    let (p50, p99) = (percentile(&legit, 0.50), percentile(&legit, 0.99));
    let max = legit.last().copied().unwrap_or(f64::NAN);
    let flood_requests: u64 = by_status.values().sum();
    let count = |s: u16| by_status.get(&s).copied().unwrap_or(0);
    let others: BTreeMap<u16, u64> =
        by_status.iter().filter(|(s, _)| ![0, 401, 429, 503].contains(*s)).map(|(s, n)| (*s, *n)).collect();
    let flood_by_status = serde_json::json!({
        "401": count(401),
        "429": count(429),
        "503": count(503),
        "other": others.values().sum::<u64>(),
        "conn_error": count(0),
    });
    // Mean time to each kind of answer (null when there was none).
    let mean = |codes: &[u16]| {
        let n: u64 = codes.iter().map(|c| count(*c)).sum();
        let ms: f64 = codes.iter().filter_map(|c| took_ms.get(c)).sum();
        if n == 0 { f64::NAN } else { round1(ms / n as f64) }
    };
    let other_codes: Vec<u16> = others.keys().copied().collect();
    let flood_mean_ms = serde_json::json!({
        "401": mean(&[401]),
        "429": mean(&[429]),
        "503": mean(&[503]),
        "other": mean(&other_codes),
        "conn_error": mean(&[0]),
    });

    eprintln!(
        "legitimate logins: {} ({legit_ok} ok, {legit_by_status:?}), p50 {p50:.0} ms, p99 {p99:.0} ms, max {max:.0} ms",
        legit.len()
    );
    eprintln!(
        "flood: {flood_requests} requests in {flood_s:.1} s ({:.0}/s): {flood_by_status}{}; mean ms {flood_mean_ms}",
        flood_requests as f64 / flood_s,
        if others.is_empty() { String::new() } else { format!(" (other: {others:?})") }
    );
    eprintln!("server RSS: idle {rss_idle:.1} MiB, peak sampled {rss_peak:.1} MiB, VmHWM {hwm:.1} MiB");
    // serde_json writes NaN (nothing measured) as null.
    println!(
        "{}",
        serde_json::json!({
            "legit_n": legit.len(),
            "legit_ok": legit_ok,
            "legit_p50_ms": round1(p50),
            "legit_p99_ms": round1(p99),
            "legit_max_ms": round1(max),
            "legit_by_status": legit_by_status,
            "flood_requests": flood_requests,
            "flood_by_status": flood_by_status,
            "flood_mean_ms": flood_mean_ms,
            "flood_clients": clients,
            "flood_s": round1(flood_s),
            "interval_ms": interval_ms,
            "rss_idle_mib": round1(rss_idle),
            "rss_peak_mib": round1(rss_peak),
            "hwm_mib": round1(hwm),
        })
    );
    Ok(())
}
