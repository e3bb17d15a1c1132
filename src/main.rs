//! The `desist` binary: parses the command line and hands over to `desist_api`.

use clap::Parser;

// mimalloc, not the system allocator: a caseload request and a rebuild's batch allocate and
// free many small strings and rows, and glibc's malloc and free were a fifth of the server's
// samples under load (`perf record` of `desist serve`, 8 clients reading a caseload).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = desist_api::cli::Cli::parse();
    // The bench loads national data in statements of a thousand rows, some of which take over
    // sqlx's one second: its warning quoted each one whole, 30 KB of placeholders among the
    // bench's phases. Slow statements are expected there; elsewhere they are worth a warning.
    let quiet = if matches!(cli.command, desist_api::cli::Command::Bench(_)) {
        ",sqlx::query=error"
    } else {
        ""
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| format!("info,sqlx=warn{quiet}").into()),
        )
        .with_writer(std::io::stderr)
        .init();
    desist_api::cli::run(cli).await?;
    Ok(())
}
