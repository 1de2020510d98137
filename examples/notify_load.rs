//! Notification engine benchmark (bench/run.sh runs it). 10 000 events go through routing and burst
//! aggregation into three webhook channels served by local peers on loopback; one peer answers 503
//! until half of the events have been taken in. It reports, on stderr and as one JSON line on stdout:
//! - `route_us_per_event`: wall time of intake (routing + enqueueing, in transactions of 100 events
//!   against an on-disk SQLite database) divided by the events;
//! - `drain_s`: wall time until every queue is empty (delivery, summaries, retries), with the
//!   engine's clock advanced past each retry and rate-limit wait instead of sleeping, so the figure is
//!   the engine's cost, not its backoff;
//! - `sent` per channel, `rows` (events + outbox rows written), `db_bytes`, `peak_rss_mib` (VmHWM).
//!
//! ```text
//! cargo run --release --example notify_load [-- EVENTS]
//! ```

// A benchmark, not the product: it reads its own /proc status directly.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use proxwatch::auth::seal::Keys;
use proxwatch::db::Db;
use proxwatch::host::Host;
use proxwatch::model::Clock;
use proxwatch::notify::channels::Ctx;
use proxwatch::notify::engine::{Engine, Step};
use proxwatch::notify::{Event, store};

async fn peer(alive: Arc<AtomicBool>, count: Arc<AtomicU64>) -> String {
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(move || {
            let (alive, count) = (alive.clone(), count.clone());
            async move {
                if alive.load(Ordering::SeqCst) {
                    count.fetch_add(1, Ordering::SeqCst);
                    axum::http::StatusCode::NO_CONTENT
                } else {
                    axum::http::StatusCode::SERVICE_UNAVAILABLE
                }
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    url
}

fn hwm_mib() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let dir = tempfile::tempdir()?;
    let db = Db::open(&dir.path().join("bench.db"))?;
    let clock = Clock::manual(1_764_936_000_000);
    let engine = Engine::new(
        db.clone(),
        Keys::ephemeral(),
        Ctx::new(Duration::from_secs(5))?,
        clock.clone(),
        Arc::new(Host::system(Duration::from_secs(5))),
    );
    let mut channels = Vec::new();
    let mut counts = Vec::new();
    let mut alive = Vec::new();
    for i in 0..3 {
        let a = Arc::new(AtomicBool::new(i != 2));
        let c = Arc::new(AtomicU64::new(0));
        let url = peer(a.clone(), c.clone()).await;
        let keys = engine.keys().clone();
        let input: store::ChannelInput = serde_json::from_value(serde_json::json!({
            "name": format!("peer{i}"),
            "config": {"kind": "webhook", "url": url},
            "routing": {"rate_per_minute": 600},
        }))?;
        let id = db.call(move |c| Ok(store::create_channel(c, &keys, &input, 0)?)).await?;
        channels.push(id);
        counts.push(c);
        alive.push(a);
    }
    let kinds =
        ["health.new", "backup.failed", "guest.oom", "kernel.io_error", "host.login_failed", "backup.ok"];
    // Delivery runs beside intake, as in production: each round sends what is due on every channel
    // (the dead one fails and backs off), then the clock moves on to the next thing due.
    async fn round(engine: &Engine, clock: &Clock, channels: &[i64], advance: bool) -> anyhow::Result<bool> {
        let mut waits = Vec::new();
        let mut busy = false;
        // Summaries due now first, so this round sends them.
        if let Some(t) = engine.maintain().await? {
            waits.push(t);
        }
        for &ch in channels {
            loop {
                match engine.deliver(ch).await? {
                    Step::Idle | Step::Paused => break,
                    Step::Wait(t) => {
                        waits.push(t);
                        break;
                    }
                    _ => busy = true,
                }
            }
        }
        if advance && !busy {
            if let Some(t) = waits.iter().min() {
                clock.set((*t).max(clock.now_ms() + 1));
            }
        }
        Ok(busy || !waits.is_empty())
    }
    let mut route = Duration::ZERO;
    let mut deliver = Duration::ZERO;
    let mut taken = 0;
    for batch in 0..n.div_ceil(100) {
        let events: Vec<Event> = (batch * 100..((batch + 1) * 100).min(n))
            .map(|i| {
                let kind = kinds[i % kinds.len()];
                Event::new(kind, format!("bench:{i}"), format!("{kind}:{}", i % 997), clock.now_ms())
                    .field("reason", format!("event {i}"))
                    .field("object", format!("obj{}", i % 997))
            })
            .collect();
        let t = Instant::now();
        taken += engine.take(events).await?;
        route += t.elapsed();
        let t = Instant::now();
        round(&engine, &clock, &channels, false).await?;
        deliver += t.elapsed();
        // 10 000 events over about 30 simulated minutes.
        clock.advance(18_000);
        if batch * 100 >= n / 2 {
            alive[2].store(true, Ordering::SeqCst);
        }
    }
    let route_us = route.as_secs_f64() * 1e6 / n as f64;
    eprintln!("intake: {taken} events in {:.2} s ({route_us:.1} µs/event)", route.as_secs_f64());

    let started = Instant::now();
    let mut rounds = 0;
    while round(&engine, &clock, &channels, true).await? {
        rounds += 1;
        if rounds > 1_000_000 {
            anyhow::bail!("did not drain");
        }
    }
    let drain = deliver + started.elapsed();
    let by_status: std::collections::BTreeMap<String, i64> = db
        .call(|c| {
            let mut st = c.prepare("SELECT status, COUNT(*) FROM notify_outbox GROUP BY status")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await?;
    let retries: i64 = db
        .call(|c| {
            Ok(c.query_row(
                "SELECT COALESCE(SUM(attempts - 1), 0) FROM notify_outbox WHERE attempts > 1",
                [],
                |r| r.get(0),
            )?)
        })
        .await?;
    let (events, rows): (i64, i64) = db
        .call(|c| {
            Ok((
                c.query_row("SELECT COUNT(*) FROM notify_events", [], |r| r.get(0))?,
                c.query_row("SELECT COUNT(*) FROM notify_outbox", [], |r| r.get(0))?,
            ))
        })
        .await?;
    db.call(|c| Ok(c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?)).await?;
    let db_bytes = std::fs::metadata(dir.path().join("bench.db"))?.len();
    let sent: Vec<u64> = counts.iter().map(|c| c.load(Ordering::SeqCst)).collect();
    let hwm = hwm_mib();
    eprintln!(
        "delivery: {:.2} s wall ({} s simulated), sent per channel {sent:?}, {by_status:?}, {retries} retries, {events} events + {rows} outbox rows, {:.1} MiB db, peak RSS {hwm:.1} MiB",
        drain.as_secs_f64(),
        (clock.now_ms() - 1_764_936_000_000) / 1000,
        db_bytes as f64 / 1048576.0
    );
    println!(
        "{}",
        serde_json::json!({
            "events": n, "taken": taken, "route_us_per_event": (route_us * 10.0).round() / 10.0,
            "drain_s": (drain.as_secs_f64() * 100.0).round() / 100.0,
            "simulated_s": (clock.now_ms() - 1_764_936_000_000) / 1000,
            "sent": sent, "by_status": by_status, "retries": retries, "rows": events + rows, "db_bytes": db_bytes, "peak_rss_mib": (hwm * 10.0).round() / 10.0,
        })
    );
    Ok(())
}
