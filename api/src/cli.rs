//! The `desist` command line.

use clap::{Parser, Subcommand};
use desist_store::Store;

use crate::config::{database_url, DEFAULT_MAX_CONNECTIONS};
use crate::Error;

#[derive(Debug, Parser)]
#[command(
    name = "desist",
    version,
    about = "Desist: the system of record for stalking perpetrator intervention programmes"
)]
pub struct Cli {
    /// PostgreSQL connection URL.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the database if needed and bring its schema up to date. Safe to run again.
    Migrate,
}

/// Runs the command line as given.
pub async fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Migrate => {
            let url = database_url(cli.database_url)?;
            Store::create_database_if_missing(&url).await?;
            let store = Store::connect(&url, DEFAULT_MAX_CONNECTIONS).await?;
            store.migrate().await?;
            desist_store::horizon::check_xid_horizon(store.pool()).await?;
            println!("database is up to date");
            Ok(())
        }
    }
}
