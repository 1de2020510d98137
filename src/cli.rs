//! The command line: `serve`, `demo`, `check-config`, `print-config`, `healthcheck`, `user`, `pve`,
//! `record-scenario`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use crate::app::{self, App, DemoInfo};
use crate::config::{Config, Layers, Loaded, Overrides};
use crate::db::Db;
use crate::host::{Host, Scenario};
use crate::settings::Settings;

#[derive(Debug, Parser)]
#[command(name = "proxwatch", version, about = "Monitoring appliance for Proxmox VE hosts")]
pub struct Cli {
    /// Config file (default /etc/proxwatch/config.toml when it exists).
    #[arg(long, global = true, env = "PROXWATCH_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on (default :: , dual stack).
    #[arg(long, global = true)]
    pub bind: Option<IpAddr>,
    /// TCP port (default 8008).
    #[arg(long, global = true)]
    pub port: Option<u16>,
    /// Directory for the database and state (default: the config's `server.data_dir`; the demo's is
    /// a temporary directory, see `demo --help`).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// Answer host tools and kernel files from a recorded scenario folder instead of this host.
    #[arg(long, global = true, value_name = "DIR")]
    pub replay: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service (what systemd starts); its state lives in /var/lib/proxwatch unless
    /// `--data-dir` or the config's `server.data_dir` say otherwise.
    Serve,
    /// Run the whole appliance on 127.0.0.1 against the embedded demo Proxmox host.
    ///
    /// The demo host is a recorded Proxmox VE node whose live vitals (CPU, memory, load, pressure,
    /// network, disks, processes) are generated as time passes; nothing shown is this machine's.
    /// The demo writes its database and the extracted scenario to a new temporary directory that is
    /// removed when it stops. With `--data-dir DIR` it writes under DIR instead and keeps them there
    /// (a restart on the same DIR reuses them).
    Demo {
        /// Enable the browser root terminal (off in the demo unless asked for).
        #[arg(long)]
        terminal: bool,
    },
    /// Load and validate the configuration, then exit.
    CheckConfig,
    /// Print the commented default configuration.
    PrintConfig,
    /// Exit 0 if the local service answers /api/health/live.
    Healthcheck,
    /// Manage local users (recovers a locked-out host; the service picks changes up within seconds).
    User {
        #[command(subcommand)]
        action: UserCmd,
    },
    /// Connect proxwatch to this node's PVE API (an API token made with `pveum`), or disconnect.
    Pve {
        #[command(subcommand)]
        action: PveCmd,
    },
    /// Check this host for what proxwatch needs: a verdict and a fix per row. Exit 0 when all pass, 1
    /// with warnings, 2 with failures.
    Doctor {
        /// Print the checks as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write the database (a consistent copy, taken while the service runs) and the secret key into
    /// one archive, mode 0600.
    Backup {
        /// The archive to create (it must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// Restore a backup into the data directory (the service must be stopped). The archive is checked
    /// first (entries, integrity, schema version); the current files are moved to before-restore-<time>/.
    Restore { file: PathBuf },
    /// Record this host's tool outputs and kernel files as a replay scenario.
    RecordScenario {
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum PveCmd {
    /// Create the user proxwatch@pve, the role ProxwatchMonitor (Sys.Audit, VM.Audit,
    /// Datastore.Audit, Pool.Audit; VM.PowerMgmt with --actions), their ACL on / and the
    /// privilege-separated token proxwatch@pve!proxwatch; store its secret sealed. Run again to
    /// change --actions or to replace the token. The running service picks it up within seconds.
    Connect {
        /// Allow guest power actions (start, shutdown, stop, reboot, suspend, resume).
        #[arg(long)]
        actions: bool,
    },
    /// Remove the token, the ACLs, the user and the role from PVE, and the stored token.
    Disconnect,
    /// Show the connection (never the secret) and check the token with one API call.
    Status,
}

#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Add a user; the password is read from standard input (never from the command line).
    Add {
        name: String,
        /// viewer, operator or admin.
        #[arg(long, default_value = "admin")]
        role: String,
    },
    /// Set a new password (read from standard input) and end the user's sessions.
    ResetPassword { name: String },
    /// Disable a user and end their sessions.
    Disable { name: String },
    /// Enable a disabled user.
    Enable { name: String },
    /// Remove a user's two-factor authentication (when the phone is lost).
    ResetTotp { name: String },
    /// List users.
    List,
}

impl Cli {
    pub fn overrides(&self) -> Overrides {
        Overrides { bind: self.bind, port: self.port, data_dir: self.data_dir.clone() }
    }
}

pub fn tool_timeout(cfg: &Config) -> Duration {
    Duration::from_secs(cfg.tools.timeout_s)
}

fn open_db(dir: &std::path::Path) -> anyhow::Result<Db> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating data directory {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting {}", dir.display()))?;
    }
    Db::open(&dir.join("proxwatch.db"))
}

/// `proxwatch backup --out FILE`.
pub fn backup(cfg: &Config, out: &std::path::Path) -> anyhow::Result<()> {
    let now = crate::model::Clock::system().now_ms() / 1000;
    let s = crate::backup::backup(&cfg.server.data_dir, out, now)?;
    println!(
        "backup written to {} (database {} KiB at schema {}, and the secret key; mode 0600: keep it private)",
        s.archive.display(),
        s.db_bytes / 1024,
        s.schema
    );
    Ok(())
}

/// `proxwatch restore FILE`: refused while the service answers on its port.
pub async fn restore(cfg: &Config, file: &std::path::Path) -> anyhow::Result<()> {
    // Anything accepting connections on the service's port (HTTP or HTTPS) counts as the service.
    let ip = if cfg.server.bind.is_unspecified() { IpAddr::from([127, 0, 0, 1]) } else { cfg.server.bind };
    let addr = SocketAddr::new(ip, cfg.server.port);
    if let Ok(Ok(_)) =
        tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr)).await
    {
        anyhow::bail!(
            "something accepts connections on {addr}, the service's address: stop proxwatch first \
             (systemctl stop proxwatch), then restore"
        );
    }
    let now = crate::model::Clock::system().now_ms() / 1000;
    let s = crate::backup::restore(file, &cfg.server.data_dir, now)?;
    println!(
        "restored {} (database {} KiB at schema {}); the previous files are in {}",
        file.display(),
        s.db_bytes / 1024,
        s.schema,
        s.archive.display()
    );
    Ok(())
}

pub async fn serve(cli: &Cli, layers: Layers, base: Loaded) -> anyhow::Result<()> {
    let db = open_db(&base.config.server.data_dir)?;
    // The Settings page's stored layer, between the file and the environment.
    let (loaded, stored_error) = Settings::start(layers.clone(), base, crate::settings::read(&db).await);
    if let Some(e) = &stored_error {
        tracing::error!(
            "the values stored on the Settings page were not applied (fix or reset them there): {e}"
        );
    }
    let cfg = loaded.config.clone();
    let host = match &cli.replay {
        Some(dir) => Host::replay(Scenario::load(dir)?, tool_timeout(&cfg)),
        None => Host::system(tool_timeout(&cfg)),
    };
    let listener = app::bind(SocketAddr::new(cfg.server.bind, cfg.server.port))?;
    tracing::info!(addr = %listener.local_addr()?, data = %cfg.server.data_dir.display(), "proxwatch listening");
    let app = App::with_settings(Settings::new(layers, loaded, stored_error, true), host, db, None)?;
    if let Some(code) = app.auth.setup_code()? {
        let path = app.config.server.data_dir.join("setup-code");
        tracing::warn!(
            "proxwatch is not set up yet: open the dashboard and create the first admin with setup code {code} \
             (also in {})",
            path.display()
        );
    }
    let settings = app.settings.clone();
    run_until_signal(app, listener).await?;
    if settings.restart_requested() {
        // A restart from the Settings page: the same program and arguments, in place (same pid, so
        // systemd sees no exit); the new process reads the stored settings.
        tracing::info!("restarting to apply the settings");
        return Err(crate::host::reexec()).context("restarting proxwatch");
    }
    Ok(())
}

fn cli_terminal(cli: &Cli) -> bool {
    matches!(cli.command, Command::Demo { terminal: true })
}

pub async fn demo(cli: &Cli, layers: Layers, base: Loaded) -> anyhow::Result<()> {
    let tmp = tempfile::Builder::new().prefix("proxwatch-demo-").tempdir()?;
    let data_dir = cli.data_dir.clone().unwrap_or_else(|| tmp.path().join("data"));
    let mut cfg = base.config.clone();
    cfg.server.data_dir = data_dir.clone();
    let (mut scenario, info) = match &cli.replay {
        Some(dir) => (Scenario::load(dir)?, None),
        None => {
            // Kept beside the data (a restart reuses it); a throwaway data dir throws it away too.
            let dir = match &cli.data_dir {
                Some(d) => d.join("demo-scenario"),
                None => tmp.path().join("scenario"),
            };
            crate::host::replay::extract_demo_cached(&dir)?;
            (Scenario::load(&dir)?, Some(()))
        }
    };
    let demo = DemoInfo {
        scenario: scenario.name.clone(),
        note: if info.is_some() {
            "Demo: a recorded Proxmox VE host with generated live vitals; nothing shown is this machine."
                .into()
        } else {
            format!("Demo on scenario {}: a recorded host with generated live vitals.", scenario.name)
        },
    };
    // The recording's backups, tasks and scrubs happened "just now", not years ago.
    let shift = scenario.shift_to(crate::workers::wall_ms() / 1000);
    // Guests' counters and RRD series move with the clock, so live rates and charts are not frozen.
    scenario.animate_from(crate::workers::wall_ms() / 1000);
    if shift != 0 {
        tracing::info!(days = shift / 86_400, "demo timestamps moved to the present");
    }
    let host = Host::demo(scenario, tool_timeout(&cfg));
    let db = open_db(&data_dir)?;
    // The recording's SSD wear history, so the wear-out forecast has the weeks of daily readings a
    // real host builds up (readings already in the database are kept).
    if let Some(text) = host.read_optional("/wear-history.csv")? {
        let today = crate::workers::wall_ms().div_euclid(86_400_000);
        db.call(move |c| crate::wear::import_history(c, &text, today)).await?;
    }
    cfg.auth.auth_log = data_dir.join("auth.log");
    cfg.terminal.enabled = cli_terminal(cli);
    let port = cli.port.unwrap_or(8008);
    // The demo has a well-known password: it never listens beyond this machine.
    let bind = cli.bind.unwrap_or(IpAddr::from([127, 0, 0, 1]));
    if !bind.is_loopback() {
        bail!("the demo listens on loopback only (127.0.0.1 or ::1), not {bind}");
    }
    let listener = app::bind(SocketAddr::new(bind, port))?;
    let addr = listener.local_addr()?;
    // Scripts (the browser test, the bench) wait for exactly this line on stdout.
    let scheme = if cfg.tls.enabled { "https" } else { "http" };
    println!("proxwatch demo listening on {scheme}://{addr}/");
    use std::io::Write;
    std::io::stdout().flush().ok();
    // The Settings page shows the demo's configuration and stores changes, but cannot restart it
    // (its data lives in a temporary directory).
    let stored = crate::settings::read(&db).await;
    let (mut loaded, stored_error) = Settings::start(layers.clone(), base, stored);
    // What the demo decides for itself (where it writes, its terminal) is what runs.
    let demo_cfg = cfg;
    let mut cfg = loaded.config.clone();
    cfg.server.data_dir = demo_cfg.server.data_dir.clone();
    cfg.auth.auth_log = demo_cfg.auth.auth_log.clone();
    cfg.terminal.enabled = demo_cfg.terminal.enabled;
    loaded.config = cfg;
    // Decided by the demo's command line.
    let pinned = ["server.data_dir", "auth.auth_log", "terminal.enabled"];
    for key in pinned {
        loaded.sources.insert(key.to_string(), crate::config::Source::Flag);
    }
    let settings = Settings::new(layers, loaded, stored_error, false).with_pinned(&pinned);
    let app = App::with_settings(settings, host, db, Some(demo))?;
    // The demo is connected to its (replayed) PVE API, so guest actions go through it.
    app.pve_conn.seed_demo().await?;
    // Monitors against what the scenario defines and the demo serves, with a past (first start only).
    let now = crate::workers::wall_ms();
    let seeded = app.db.call(move |c| crate::monitors::demo::seed(c, addr.port(), now)).await?;
    if seeded > 0 {
        app.monitors.changed.notify_one();
    }
    if app.auth.user_role(DemoInfo::USER).is_none() {
        // The demo's only account; it bypasses the password policy on purpose and is shown on the
        // login page. The demo listens on 127.0.0.1 only.
        app.auth.create_user_hashed(DemoInfo::USER, DemoInfo::PHC, crate::auth::Level::Admin).await?;
    }
    tracing::info!("demo login: user {}, password {}", DemoInfo::USER, DemoInfo::PASSWORD);
    // The fleet's demo peer: the demo itself over loopback, with a read token of its own, added once
    // the listener serves (its capability check is a real exchange).
    let demo_app = app.clone();
    app.tracker.spawn(async move {
        let p = crate::auth::Principal {
            user: DemoInfo::USER.into(),
            level: crate::auth::Level::Admin,
            via: crate::auth::Via::Session { id: "demo".into() },
            ip: None,
        };
        let added = async {
            let (_, token) = demo_app
                .auth
                .create_token(&p, "demo fleet peer", crate::auth::Level::Read, None)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            crate::fleet::demo_peer(&demo_app.fleet, &format!("{scheme}://{addr}"), &token).await
        };
        if let Err(e) = added.await {
            tracing::warn!("demo fleet peer: {e:#}");
        }
    });
    let result = run_until_signal(app, listener).await;
    drop(tmp);
    result
}

async fn run_until_signal(app: Arc<App>, listener: std::net::TcpListener) -> anyhow::Result<()> {
    let cancel = app.cancel.clone();
    // SIGHUP (`systemctl reload proxwatch`): restart in place, re-reading the configuration, where
    // proxwatch can restart itself (not the demo, whose data is temporary).
    if app.settings.request_restart_possible() {
        let (settings, cancel) = (app.settings.clone(), app.cancel.clone());
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        app.tracker.spawn(async move {
            tokio::select! {
                Some(()) = hup.recv() => {
                    tracing::info!("SIGHUP: restarting to re-read the configuration");
                    settings.request_restart();
                    cancel.cancel();
                }
                _ = cancel.cancelled() => {}
            }
        });
    }
    // On the app's tracker, so it also ends when the app stops for another reason.
    app.tracker.spawn(async move {
        tokio::select! {
            _ = app::shutdown_signal() => {
                tracing::info!("stop requested");
                cancel.cancel();
            }
            _ = cancel.cancelled() => {}
        }
    });
    app::run(app, listener).await
}

/// Asks the local service for `/api/health/live`; Ok when it answers 200 within 3 s.
pub async fn healthcheck(cfg: &Config) -> anyhow::Result<()> {
    let ip = if cfg.server.bind.is_unspecified() { IpAddr::from([127, 0, 0, 1]) } else { cfg.server.bind };
    let addr = SocketAddr::new(ip, cfg.server.port);
    let client = crate::httpc::Client::new(
        concat!("proxwatch-healthcheck/", env!("CARGO_PKG_VERSION")),
        Duration::from_secs(3),
    );
    let resp = client.get(format!("http://{addr}/api/health/live")).send().await?;
    if !resp.status().is_success() {
        bail!("{addr} answered {}: {}", resp.status(), resp.text());
    }
    Ok(())
}

pub async fn record(out: &std::path::Path, cfg: &Config) -> anyhow::Result<()> {
    let host = Host::system(tool_timeout(cfg));
    let summary = crate::record::record(&host, out).await?;
    println!("{summary}");
    Ok(())
}

/// Reads a password from standard input (one line); prompts on stderr when it is a terminal.
fn read_password(prompt: &str) -> anyhow::Result<String> {
    use std::io::{BufRead, IsTerminal, Write};
    if std::io::stdin().is_terminal() {
        eprint!("{prompt}: ");
        std::io::stderr().flush().ok();
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("reading the password from standard input")?;
    let pw = line.trim_end_matches(['\n', '\r']).to_string();
    if pw.is_empty() {
        bail!("no password given on standard input");
    }
    Ok(pw)
}

pub async fn user(cfg: &Config, action: &UserCmd) -> anyhow::Result<()> {
    use crate::auth::{Level, password};
    let dir = &cfg.server.data_dir;
    let db = open_db(dir)?;
    let keys = crate::auth::seal::Keys::load_or_create(&dir.join("secret.key"))?;
    let audit = crate::auth::audit::AuditLog::open(Some(&cfg.auth.auth_log));
    let auth = crate::auth::Auth::load(db.clone(), keys, cfg.auth.clone(), Some(dir.clone()), audit)?;
    let result = match action {
        UserCmd::Add { name, role } => {
            let level = Level::from_role(role)
                .with_context(|| format!("unknown role {role:?}; valid: viewer, operator, admin"))?;
            let pw = read_password(&format!("password for {name}"))?;
            password::check_policy(name, &pw).map_err(|e| anyhow::anyhow!(e))?;
            auth.create_user(name, &pw, level).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("user {name} added ({})", level.role());
            Ok(())
        }
        UserCmd::ResetPassword { name } => {
            let pw = read_password(&format!("new password for {name}"))?;
            password::check_policy(name, &pw).map_err(|e| anyhow::anyhow!(e))?;
            auth.set_password(name, &pw).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            let n = auth.revoke_user_sessions(name, None).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("password of {name} changed; {n} session(s) ended");
            Ok(())
        }
        UserCmd::Disable { name } => {
            auth.update_user(name, None, Some(true)).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("user {name} disabled");
            Ok(())
        }
        UserCmd::Enable { name } => {
            auth.update_user(name, None, Some(false)).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("user {name} enabled");
            Ok(())
        }
        UserCmd::ResetTotp { name } => {
            auth.reset_totp(name).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("two-factor authentication of {name} removed");
            Ok(())
        }
        UserCmd::List => {
            for u in auth.list_users() {
                let state = if u.disabled { "disabled" } else { "enabled" };
                let twofa = if u.totp_enabled { "2FA" } else { "-" };
                println!("{:<24} {:<9} {:<9} {twofa}", u.name, u.role.role(), state);
            }
            Ok(())
        }
    };
    db.close()?;
    result
}

fn print_connection(c: &crate::pveconn::PveConnection) {
    if !c.connected {
        println!("not connected to the PVE API: {}", crate::tools::pveapi::CONNECT_HINT);
        return;
    }
    println!("connected: token {}", c.token_id.as_deref().unwrap_or("?"));
    println!("privileges: {}", c.privileges.join(", "));
    println!("guest power actions: {}", if c.actions { "allowed" } else { "not allowed" });
    if let Some(created) = &c.created {
        println!(
            "in PVE: user {}, role {}, ACL on {} for the user and the token (privilege-separated: {})",
            created.user,
            created.role,
            created.acl_paths.join(", "),
            created.privsep
        );
    }
    if let Some(check) = &c.last_check {
        println!("check: {} {}", if check.ok { "ok," } else { "FAILED:" }, check.message);
    }
}

/// `proxwatch pve connect|disconnect|status`, on this host (or the `--replay` scenario).
pub async fn pve(cli: &Cli, cfg: &Config, action: &PveCmd) -> anyhow::Result<()> {
    let host = match &cli.replay {
        Some(dir) => Host::replay(Scenario::load(dir)?, tool_timeout(cfg)),
        None => Host::system(tool_timeout(cfg)),
    };
    let dir = &cfg.server.data_dir;
    let db = open_db(dir)?;
    let keys = crate::auth::seal::Keys::load_or_create(&dir.join("secret.key"))?;
    let link = crate::host::pveapi::PveLink::default();
    let conn =
        crate::pveconn::PveConn::new(db.clone(), keys, Arc::new(host), link, crate::model::Clock::system());
    conn.reload().await?;
    let result = match action {
        PveCmd::Connect { actions } => conn.connect(*actions).await.map(|r| {
            for argv in &r.commands {
                println!("ran: {}", argv.join(" "));
            }
            print_connection(&r.connection);
            r.connection.last_check.is_none_or(|c| c.ok)
        }),
        PveCmd::Disconnect => conn.disconnect().await.map(|r| {
            for argv in &r.commands {
                println!("ran: {}", argv.join(" "));
            }
            for w in &r.warnings {
                println!("warning: {w}");
            }
            println!("disconnected: the token, its ACLs, the user and the role are removed");
            r.warnings.is_empty()
        }),
        PveCmd::Status => {
            let check = conn.check().await;
            conn.status().await.map(|c| {
                print_connection(&c);
                !c.connected || check.ok
            })
        }
    };
    db.close()?;
    if !result? {
        bail!("the PVE API connection is not working (see above)");
    }
    Ok(())
}
