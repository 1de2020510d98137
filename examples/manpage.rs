//! Prints proxwatch's man page (roff), generated from the command line's own definition, so the page
//! and `--help` never disagree. `scripts/package` installs it as `/usr/share/man/man1/proxwatch.1.gz`.
//! Run: `cargo run --release --example manpage > proxwatch.1`.

use clap::CommandFactory;

fn main() -> std::io::Result<()> {
    let cmd = proxwatch::cli::Cli::command();
    clap_mangen::Man::new(cmd).render(&mut std::io::stdout())
}
