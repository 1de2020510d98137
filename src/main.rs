//! The `proxwatch` binary: parse the command line, set up logging, load the configuration, dispatch.

use std::process::ExitCode;

use clap::Parser;
use proxwatch::cli::{self, Cli, Command};
use proxwatch::config::{self, Layers};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

/// `PROXWATCH_LOG` (or `RUST_LOG`), else the configured level: a level (`debug`) or per-target
/// directives (`info,proxwatch::notify=debug`). Targets, not `EnvFilter`: the same directive syntax
/// without span-field matching, which would link a regex engine (~0.25 MB of code) for nobody.
fn init_tracing(level: &str) {
    let filter = std::env::var("PROXWATCH_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|f| f.parse::<Targets>().ok())
        .or_else(|| level.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    // stderr: journald captures it under systemd; no colours unless on a terminal.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(ansi))
        .with(filter)
        .with(CountLayer)
        .init();
}

/// Counts proxwatch's own warnings and errors for the self-monitoring (`/api/system/self`).
struct CountLayer;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CountLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        use std::sync::atomic::Ordering;
        let meta = event.metadata();
        let counts = &*proxwatch::host::LOG_COUNTS;
        if *meta.level() == tracing::Level::WARN {
            counts.warnings.fetch_add(1, Ordering::Relaxed);
        } else if *meta.level() == tracing::Level::ERROR {
            counts.errors.fetch_add(1, Ordering::Relaxed);
            let mut message = Message(String::new());
            event.record(&mut message);
            let mut text = message.0;
            if text.len() > 300 {
                let cut = (0..=300).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
                text.truncate(cut);
            }
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            if let Ok(mut last) = counts.last_error.lock() {
                *last = Some((now, meta.target().to_string(), text));
            }
        }
    }
}

/// The event's message and fields, as one line.
struct Message(String);

impl tracing::field::Visit for Message {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if self.0.len() > 300 {
            return;
        }
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        if field.name() == "message" {
            self.0.push_str(&format!("{value:?}"));
        } else {
            self.0.push_str(&format!("{}={value:?}", field.name()));
        }
    }
}

/// Two malloc arenas, one per runtime worker thread, instead of glibc's default of up to eight per
/// core. glibc gives every thread that allocates an arena of its own, and each keeps its freed
/// memory: on this appliance's few, mostly idle threads that is idle RSS (DESIGN.md §6) for
/// contention that does not happen. One arena would save another ~0.2 MiB but costs a quarter of
/// the request throughput (the two workers then queue on its lock; bench/run.sh, issue 13).
/// An operator's `MALLOC_ARENA_MAX` or `GLIBC_TUNABLES` wins.
#[allow(unsafe_code)]
fn bounded_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() && std::env::var_os("GLIBC_TUNABLES").is_none() {
        // SAFETY: mallopt only sets an allocator parameter, and this runs first in main, before
        // any other thread exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

/// Once, a minute after start: lets the kernel take back the pages of proxwatch's own program
/// (code and read-only data) that only start-up used. Every page of the binary that was ever
/// touched stays resident until memory runs short, and start-up touches much that idle never runs
/// again (argument and config parsing, migrations, the demo's extraction, the first pass of every
/// collector): measured on the demo, 8.0 MiB of code and 2.2 MiB of read-only data resident at
/// 100 s, of which idle brings back 5.9 and 1.3 MiB within a minute of their release (bench/run.sh,
/// issue 16). `MADV_PAGEOUT` (Linux 5.4) only reclaims: a page still needed is read back on its
/// next use, and a private page that start-up wrote (relocated data) is never dropped, so it is safe
/// on every mapping of the binary that is not writable. Older kernels answer EINVAL: nothing happens.
#[allow(unsafe_code)]
fn release_startup_pages() {
    #[cfg(target_os = "linux")]
    {
        #[allow(clippy::disallowed_methods)] // proxwatch's own memory map, not the watched host's
        let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else { return };
        let Ok(exe) = std::fs::read_link("/proc/self/exe") else { return };
        let exe = exe.to_string_lossy().into_owned();
        let mut released = 0usize;
        for line in maps.lines() {
            // start-end perms offset dev inode path
            let mut f = line.split_whitespace();
            let (Some(range), Some(perms)) = (f.next(), f.next()) else { continue };
            let path = f.nth(3).unwrap_or("");
            if path != exe || perms.contains('w') {
                continue;
            }
            let Some((a, b)) = range.split_once('-') else { continue };
            let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) else {
                continue;
            };
            // SAFETY: the range is a whole, non-writable mapping of this process's own binary, as
            // the kernel lists it; MADV_PAGEOUT changes no contents, only what is resident.
            if unsafe { libc::madvise(a as *mut libc::c_void, b - a, libc::MADV_PAGEOUT) } == 0 {
                released += b - a;
            }
        }
        tracing::debug!(mapped_kib = released / 1024, "start-up pages of the binary released");
    }
}

/// Once a minute, gives the allocator's free memory back to the OS. glibc keeps what a burst freed
/// (a large API answer, a notification burst, start-up parsing) in its arenas; `malloc_trim`
/// releases whole free pages from the top and the middle of every arena. Measured on the demo at
/// 90 s: 4.5 -> 3.9 MiB anonymous memory (issue 13). The call walks the arenas' free lists under
/// their locks: microseconds at this heap size, once a minute, so neither the idle CPU nor the
/// request latency notices. A thread of its own (64 KiB stack), not a runtime task: it needs no
/// runtime and stops with the process.
#[allow(unsafe_code)]
fn spawn_heap_trimmer() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let spawned = std::thread::Builder::new().name("heap-trim".into()).stack_size(64 << 10).spawn(|| {
            let mut first = true;
            loop {
                std::thread::sleep(std::time::Duration::from_secs(60));
                // SAFETY: malloc_trim only returns free pages to the OS; glibc takes each arena's
                // lock itself, so it is safe beside other threads' allocations.
                unsafe {
                    libc::malloc_trim(0);
                }
                if std::mem::take(&mut first) {
                    release_startup_pages();
                }
            }
        });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "heap trimming thread not started; idle memory stays higher");
        }
    }
}

fn main() -> ExitCode {
    bounded_malloc_arenas();
    let cli = Cli::parse();
    if let Command::PrintConfig = cli.command {
        print!("{}", config::DEFAULT_TOML);
        return ExitCode::SUCCESS;
    }
    let layers = match Layers::read(cli.config.as_deref(), std::env::vars(), &cli.overrides()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("proxwatch: configuration error: {e:#}");
            return ExitCode::from(2);
        }
    };
    // The Settings page's stored layer joins these once the database is open (cli::serve).
    let base = match layers.compose(&Default::default()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("proxwatch: configuration error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let (cfg, warnings) = (base.config.clone(), base.warnings.clone());
    init_tracing(&cfg.log.level);
    for w in warnings {
        tracing::warn!("{w}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(8)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("proxwatch: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if matches!(cli.command, Command::Serve | Command::Demo { .. }) {
        spawn_heap_trimmer();
    }
    if let Command::Doctor { json } = cli.command {
        let host = match &cli.replay {
            Some(dir) => match proxwatch::host::Scenario::load(dir) {
                Ok(s) => proxwatch::host::Host::replay(s, cli::tool_timeout(&cfg)),
                Err(e) => {
                    eprintln!("proxwatch: {e:#}");
                    return ExitCode::FAILURE;
                }
            },
            None => proxwatch::host::Host::system(cli::tool_timeout(&cfg)),
        };
        let now = proxwatch::model::Clock::system().now_ms() / 1000;
        let checks = runtime.block_on(proxwatch::doctor::run(&host, &cfg, now));
        if json {
            println!("{}", serde_json::to_string_pretty(&checks).unwrap_or_default());
        } else {
            print!("{}", proxwatch::doctor::table(&checks));
        }
        return ExitCode::from(proxwatch::doctor::exit_code(&checks));
    }
    let result = runtime.block_on(async {
        match &cli.command {
            Command::Serve => cli::serve(&cli, layers, base).await,
            Command::Demo { .. } => cli::demo(&cli, layers, base).await,
            Command::CheckConfig => {
                println!("configuration ok");
                Ok(())
            }
            Command::PrintConfig => Ok(()),
            Command::Healthcheck => cli::healthcheck(&cfg).await,
            Command::RecordScenario { out } => cli::record(out, &cfg).await,
            Command::User { action } => cli::user(&cfg, action).await,
            Command::Pve { action } => cli::pve(&cli, &cfg, action).await,
            Command::Doctor { .. } => Ok(()),
            Command::Backup { out } => cli::backup(&cfg, out),
            Command::Restore { file } => cli::restore(&cfg, file).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("proxwatch: {e:#}");
            ExitCode::FAILURE
        }
    }
}
