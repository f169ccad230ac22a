use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = api::cli::Cli::parse();
    // `serve` is a long-running process whose operator must see what it does (the listening
    // address, each reminder tick, every failed delivery): `info` by default. One-shot commands
    // print their own results and log only warnings. `RUST_LOG` overrides both.
    let default_filter = if matches!(cli.command, api::cli::Command::Serve { .. }) {
        "info,sqlx=warn"
    } else {
        "warn"
    };
    // One escaped line per event, colour codes only for a terminal (api::logging).
    api::logging::init(default_filter);
    match api::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One clear line, the whole cause chain, no backtrace.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
