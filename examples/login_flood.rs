//! Login flood benchmark (bench/run.sh runs it): a legitimate user logs in every `interval` from
//! 127.0.0.1 while `clients` attackers flood `POST /api/auth/login` with wrong passwords, each
//! request from another loopback source address (127.1.0.1 onwards, so the per-address limit sees
//! thousands of addresses), half of them for the legitimate user's name. It samples the server's
//! RSS meanwhile and prints one JSON line:
//! `{legit_n, legit_ok, legit_p50_ms, legit_p99_ms, legit_max_ms, flood_requests, flood_by_status,
//! rss_idle_mib, rss_peak_mib, hwm_mib}`.
//!
//! `cargo run --release --example login_flood -- ADDR PID [SECONDS] [CLIENTS] [USER] [PASSWORD]`
//! (defaults: 20 s, 32 clients, demo/demo). Every request is one connection (`Connection: close`),
//! as a flood from many addresses is; every loop is bounded in time.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

/// One login from `source`; the HTTP status (0 for a connection error) and the latency.
async fn login(addr: SocketAddr, source: [u8; 4], user: &str, password: &str) -> (u16, Duration) {
    let started = Instant::now();
    let attempt = async {
        let sock = TcpSocket::new_v4()?;
        sock.bind(SocketAddr::from((source, 0)))?;
        let mut s = sock.connect(addr).await?;
        let body = serde_json::json!({"username": user, "password": password}).to_string();
        let req = format!(
            "POST /api/auth/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await?;
        let mut head = [0u8; 12];
        s.read_exact(&mut head).await?;
        let status = std::str::from_utf8(&head[9..12]).ok().and_then(|c| c.parse().ok()).unwrap_or(0);
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest).await;
        Ok::<u16, std::io::Error>(status)
    };
    let status =
        tokio::time::timeout(Duration::from_secs(10), attempt).await.ok().and_then(Result::ok).unwrap_or(0);
    (status, started.elapsed())
}

fn vm(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        bail!("usage: login_flood ADDR PID [SECONDS] [CLIENTS] [USER] [PASSWORD]");
    }
    let addr: SocketAddr = args[1].parse().context("ADDR (127.0.0.1:PORT)")?;
    if !addr.ip().is_loopback() {
        bail!("only loopback targets");
    }
    let pid: u32 = args[2].parse().context("PID")?;
    let secs: u64 = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(20);
    let clients: u32 = args.get(4).map(|s| s.parse()).transpose()?.unwrap_or(32);
    let user = args.get(5).cloned().unwrap_or_else(|| "demo".into());
    let password = args.get(6).cloned().unwrap_or_else(|| "demo".into());
    let interval = Duration::from_millis(250);

    // The legitimate user has logged in from their address before.
    let (first, _) = login(addr, [127, 0, 0, 1], &user, &password).await;
    if first != 200 {
        bail!("the legitimate login failed before the flood (HTTP {first})");
    }
    let rss_idle = vm(pid, "VmRSS:").unwrap_or(f64::NAN);

    let stop = Arc::new(AtomicBool::new(false));
    let next_source = Arc::new(AtomicU64::new(0));
    let mut flood = Vec::new();
    for c in 0..clients {
        let (stop, next_source, user) = (stop.clone(), next_source.clone(), user.clone());
        flood.push(tokio::spawn(async move {
            let mut by_status: BTreeMap<u16, u64> = BTreeMap::new();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) && i < 1_000_000 {
                let n = next_source.fetch_add(1, Ordering::Relaxed) % (16 * 254);
                let source = [127, 1, (n / 254) as u8, (n % 254) as u8 + 1];
                let name = if (c + i as u32) % 2 == 0 { user.clone() } else { format!("guess{}", n % 97) };
                let (status, _) = login(addr, source, &name, "wrong-password-123").await;
                *by_status.entry(status).or_default() += 1;
                i += 1;
            }
            by_status
        }));
    }
    let sampler = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut peak = 0f64;
            while !stop.load(Ordering::Relaxed) {
                peak = peak.max(vm(pid, "VmRSS:").unwrap_or(0.0));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            peak
        })
    };
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut legit = Vec::new();
    let mut legit_ok = 0;
    while Instant::now() < deadline {
        let (status, took) = login(addr, [127, 0, 0, 1], &user, &password).await;
        legit_ok += usize::from(status == 200);
        legit.push(took.as_secs_f64() * 1000.0);
        tokio::time::sleep(interval.saturating_sub(took)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut by_status: BTreeMap<u16, u64> = BTreeMap::new();
    for f in flood {
        for (k, v) in f.await? {
            *by_status.entry(k).or_default() += v;
        }
    }
    let rss_peak = sampler.await?;
    let hwm = vm(pid, "VmHWM:").unwrap_or(f64::NAN);
    legit.sort_by(f64::total_cmp);
    let flood_requests: u64 = by_status.values().sum();
    let named: BTreeMap<String, u64> = by_status
        .iter()
        .map(|(k, v)| (if *k == 0 { "conn_error".into() } else { k.to_string() }, *v))
        .collect();
    eprintln!(
        "legitimate logins: {} ({} ok), p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; flood: {} requests {:?}; RSS idle {:.1} MiB, peak {:.1} MiB, HWM {:.1} MiB",
        legit.len(),
        legit_ok,
        percentile(&legit, 0.5),
        percentile(&legit, 0.99),
        legit.last().copied().unwrap_or(f64::NAN),
        flood_requests,
        named,
        rss_idle,
        rss_peak,
        hwm
    );
    println!(
        "{}",
        serde_json::json!({
            "legit_n": legit.len(),
            "legit_ok": legit_ok,
            "legit_p50_ms": percentile(&legit, 0.5).round(),
            "legit_p99_ms": percentile(&legit, 0.99).round(),
            "legit_max_ms": legit.last().copied().unwrap_or(f64::NAN).round(),
            "flood_requests": flood_requests,
            "flood_by_status": named,
            "rss_idle_mib": (rss_idle * 10.0).round() / 10.0,
            "rss_peak_mib": (rss_peak * 10.0).round() / 10.0,
            "hwm_mib": (hwm * 10.0).round() / 10.0,
        })
    );
    Ok(())
}
