//! The `desist` binary: parses the command line and hands over to `desist_api`.

use clap::Parser;

// mimalloc, not the system allocator: a caseload request and a rebuild's batch allocate and
// free many small strings and rows, and glibc's malloc and free were a fifth of the server's
// samples under load (`perf record` of `desist serve`, 8 clients reading a caseload).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    desist_api::cli::run(desist_api::cli::Cli::parse()).await?;
    Ok(())
}
