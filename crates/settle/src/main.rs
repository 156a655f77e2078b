//! The `settle` binary: parses the command line and runs it (see `cli`).

use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = settle::cli::Cli::parse();
    match settle::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("settle: {e:#}");
            // Documented exit codes: 2 for a usage or configuration error, 1 for any other failure.
            if e.downcast_ref::<settle::cli::UsageError>().is_some() { std::process::ExitCode::from(2) } else { std::process::ExitCode::FAILURE }
        }
    }
}
