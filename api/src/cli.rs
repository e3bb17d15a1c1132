//! The `desist` command line.

use clap::{Parser, Subcommand};
use desist_domain::DomainServices;
use desist_store::Store;

use crate::import::{import, ImportError};

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
    /// Import a desist-timeline/1 document through the ordinary commands. An invalid document
    /// is rejected whole, every problem listed; importing the same file again adds nothing.
    Import {
        /// The timeline file (JSON).
        file: std::path::PathBuf,
        /// The agency recorded as the source of the imported facts.
        #[arg(long, default_value = "timeline-import")]
        agency: String,
    },
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
        Command::Import { file, agency } => {
            let store = open(cli.database_url).await?;
            let text = std::fs::read_to_string(&file)
                .map_err(|e| Error::Config(format!("cannot read {}: {e}", file.display())))?;
            let document: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| Error::Invalid(vec![format!("{}: not JSON: {e}", file.display())]))?;
            let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
            match import(
                &store,
                DomainServices::system(),
                &document,
                &agency,
                progress,
            )
            .await
            {
                Ok(report) => {
                    println!(
                        "imported {}: {} commands recorded, {} already recorded",
                        file.display(),
                        report.recorded,
                        report.already_recorded
                    );
                    Ok(())
                }
                Err(ImportError::Invalid(problems)) => Err(Error::Invalid(
                    problems.iter().map(ToString::to_string).collect(),
                )),
                Err(ImportError::Command(e)) => Err(e.into()),
            }
        }
    }
}

/// Connects to a migrated store.
async fn open(database_url_flag: Option<String>) -> Result<Store, Error> {
    let store = Store::connect(&database_url(database_url_flag)?, DEFAULT_MAX_CONNECTIONS).await?;
    desist_store::horizon::check_xid_horizon(store.pool()).await?;
    Ok(store)
}
