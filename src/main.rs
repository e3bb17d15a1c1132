//! The `desist` binary: parses the command line and hands over to `desist_api`.

use clap::Parser;

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
