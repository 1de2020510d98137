//! The `proxwatch` binary: parse the command line, set up logging, load the configuration, dispatch.

use std::process::ExitCode;

use clap::Parser;
use proxwatch::cli::{self, Cli, Command};
use proxwatch::config::{self, Config};
use tracing_subscriber::EnvFilter;

fn init_tracing(level: &str) {
    let filter = std::env::var("PROXWATCH_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .or_else(|| EnvFilter::try_new(level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    // stderr: journald captures it under systemd; no colours unless on a terminal.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::PrintConfig = cli.command {
        print!("{}", config::DEFAULT_TOML);
        return ExitCode::SUCCESS;
    }
    let loaded = Config::load(cli.config.as_deref(), std::env::vars(), &cli.overrides());
    let (cfg, warnings) = match loaded {
        Ok(c) => c,
        Err(e) => {
            eprintln!("proxwatch: configuration error: {e:#}");
            return ExitCode::from(2);
        }
    };
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
    let result = runtime.block_on(async {
        match &cli.command {
            Command::Serve => cli::serve(&cli, cfg).await,
            Command::Demo { .. } => cli::demo(&cli, cfg).await,
            Command::CheckConfig => {
                println!("configuration ok");
                Ok(())
            }
            Command::PrintConfig => Ok(()),
            Command::Healthcheck => cli::healthcheck(&cfg).await,
            Command::RecordScenario { out } => cli::record(out, &cfg).await,
            Command::User { action } => cli::user(&cfg, action).await,
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
