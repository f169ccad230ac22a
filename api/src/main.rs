use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = api::cli::Cli::parse();
    // One-shot commands end quietly when their reader goes away (`subsidy projects list | head`),
    // as Unix tools do. The server keeps Rust's default (SIGPIPE ignored): a client that hangs up
    // must cost one write error, not the process.
    #[cfg(unix)]
    if !matches!(cli.command, api::cli::Command::Serve { .. }) {
        // SAFETY: setting a signal disposition is process-wide and async-signal-safe; nothing
        // else in this process changes SIGPIPE.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
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
            // Finance findings are the report's answer, not a failure of the check: their own
            // exit status, so that a script can tell them from an error.
            if let Some(found) = e.downcast_ref::<api::audit::check::FinanceFindings>() {
                eprintln!("audit check: {found}");
                return ExitCode::from(api::audit::check::FinanceFindings::EXIT_CODE);
            }
            // One clear line, the whole cause chain, no backtrace.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
