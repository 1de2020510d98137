//! `/metrics`: the Prometheus exposition of what the workers already publish. Nothing is collected
//! on the request path: the text is rendered from the current snapshots, cached until one of them
//! changes (about once a second, with the vitals), and shared by every scrape; gzip is made once per
//! rendered text when a scraper asks for it.
//!
//! Names follow the exporters whose dashboards Proxmox admins already run (docs/metrics.md has the
//! table and every deviation): prometheus-pve-exporter (`pve_*`), node_exporter (`node_*`),
//! smartctl_exporter (`smartctl_*`), DRuggeri's nut_exporter (`network_ups_tools_*`, with the `ups`
//! label it leaves to relabelling), and `proxwatch_*` for what no exporter has.
//!
//! It takes narrow handles: the workers' receivers ([`Feeds`]), nothing of the app.

mod expo;
mod render;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::watch;

pub use expo::{Expo, Type};

use crate::health::HealthSnapshot;
use crate::health::facts::Facts;
use crate::model::gpu::GpuSnapshot;
use crate::model::hardware::HardwareSnapshot;
use crate::model::inventory::Inventory;
use crate::model::network::NetworkSnapshot;
use crate::model::ups::UpsSnapshot;
use crate::model::{Identity, LiveSample};

/// `Content-Type` of the text format; Prometheus 3 refuses a scrape without one it knows.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The snapshots the exposition is rendered from: the workers' (the same receivers the health cycle
/// reads) and the health cycle's own.
#[derive(Clone)]
pub struct Feeds {
    pub workers: crate::health::Feeds,
    pub health: watch::Receiver<Arc<HealthSnapshot>>,
    /// The facts collector's slow reads (filesystems, updates, reboot, certificates).
    pub facts: watch::Receiver<Arc<Facts>>,
}

/// One borrowed view of every feed, and the identity of each snapshot (its `Arc`'s address).
pub struct View {
    pub vitals: Option<Arc<LiveSample>>,
    pub identity: Option<Arc<Identity>>,
    pub inventory: Arc<Inventory>,
    pub network: Arc<NetworkSnapshot>,
    pub hardware: Arc<HardwareSnapshot>,
    pub ups: Arc<UpsSnapshot>,
    pub gpu: Arc<GpuSnapshot>,
    pub health: Arc<HealthSnapshot>,
    pub facts: Arc<Facts>,
    pub monitors: crate::monitors::runner::Snapshot,
}

type Key = [usize; 10];

impl View {
    fn key(&self) -> Key {
        fn opt<T>(a: &Option<Arc<T>>) -> usize {
            a.as_ref().map_or(0, |a| Arc::as_ptr(a) as usize)
        }
        fn p<T>(a: &Arc<T>) -> usize {
            Arc::as_ptr(a) as usize
        }
        [
            opt(&self.vitals),
            opt(&self.identity),
            p(&self.inventory),
            p(&self.network),
            p(&self.hardware),
            p(&self.ups),
            p(&self.gpu),
            p(&self.health),
            p(&self.facts),
            p(&self.monitors),
        ]
    }
}

impl Feeds {
    pub fn view(&self) -> View {
        let w = &self.workers;
        View {
            vitals: w.vitals.borrow().clone(),
            identity: w.identity.borrow().clone(),
            inventory: w.inventory.borrow().clone(),
            network: w.network.borrow().clone(),
            hardware: w.hardware.borrow().clone(),
            ups: w.ups.borrow().clone(),
            gpu: w.gpu.borrow().clone(),
            health: self.health.borrow().clone(),
            facts: self.facts.borrow().clone(),
            monitors: w.monitors.borrow().clone(),
        }
    }
}

/// One rendered exposition.
pub struct Rendered {
    pub text: Bytes,
    gzip: OnceLock<Bytes>,
    pub series: usize,
}

impl Rendered {
    /// The text gzipped (made on the first scrape that asks, then kept with the text).
    pub fn gzip(&self) -> &Bytes {
        self.gzip.get_or_init(|| {
            let mut enc = flate2::write::GzEncoder::new(
                Vec::with_capacity(self.text.len() / 5),
                flate2::Compression::fast(),
            );
            // Writing into a Vec cannot fail.
            let _ = enc.write_all(&self.text);
            Bytes::from(enc.finish().unwrap_or_default())
        })
    }
}

/// The exporter: the feeds and the last rendering.
pub struct Exporter {
    feeds: Feeds,
    version: &'static str,
    cache: Mutex<Option<(Key, Arc<Rendered>)>>,
}

impl Exporter {
    pub fn new(feeds: Feeds, version: &'static str) -> Exporter {
        Exporter { feeds, version, cache: Mutex::new(None) }
    }

    /// The exposition of the current snapshots: the cached one while none of them changed.
    pub fn current(&self) -> Arc<Rendered> {
        let view = self.feeds.view();
        let key = view.key();
        if let Some((k, r)) = &*self.cache.lock().unwrap_or_else(|e| e.into_inner())
            && *k == key
        {
            return r.clone();
        }
        // Rendered outside the lock: two scrapes that race on a new snapshot both render (the same
        // text), and neither waits on the other.
        let rendered = Arc::new(render_view(&view, self.version));
        *self.cache.lock().unwrap_or_else(|e| e.into_inner()) = Some((key, rendered.clone()));
        rendered
    }
}

/// Renders one view (public for tests and the bench).
pub fn render_view(view: &View, version: &'static str) -> Rendered {
    let started = Instant::now();
    let mut e = Expo::new();
    render::all(&mut e, view, version);
    let series = e.series() + 2;
    let took = started.elapsed().as_secs_f64();
    e.gauge(
        "proxwatch_metrics_render_seconds",
        "How long rendering this exposition took (it is cached until a snapshot changes).",
        &[],
        took,
    );
    e.gauge("proxwatch_metrics_series", "Series in this exposition.", &[], series as f64);
    debug_assert_eq!(e.duplicates(), 0, "a series was added twice");
    Rendered { text: Bytes::from(e.finish()), gzip: OnceLock::new(), series }
}
