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
    /// Look after the read-side views.
    Projections {
        #[command(subcommand)]
        action: ProjectionsCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProjectionsCommand {
    /// Bring every view up to date with the events committed so far.
    CatchUp,
    /// Rebuild a view (or all) from the first event beside the live one, then switch to it.
    Rebuild {
        /// progress, compliance or outcomes; all when omitted.
        name: Option<String>,
    },
    /// Show each view's checkpoint, events applied, lag and any failure.
    Status,
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
        Command::Projections { action } => {
            let store = open(cli.database_url).await?;
            projections(&store, action).await
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

async fn projections(store: &Store, action: ProjectionsCommand) -> Result<(), Error> {
    let pool = store.pool();
    match action {
        ProjectionsCommand::CatchUp => {
            desist_projections::catch_up_all(pool).await?;
            println!("all projections are up to date");
        }
        ProjectionsCommand::Rebuild { name } => {
            let names: Vec<String> = match name {
                Some(name) => vec![name],
                None => desist_projections::NAMES
                    .iter()
                    .map(|n| n.to_string())
                    .collect(),
            };
            let total: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
                .fetch_one(pool)
                .await
                .map_err(desist_store::StoreError::from)?;
            for name in names {
                let bar = progress_bar(total as u64, &name);
                let (generation, progress) =
                    desist_projections::rebuild_by_name(&name, pool, |p| {
                        bar.set_position(p.events)
                    })
                    .await?;
                bar.finish_and_clear();
                println!(
                    "{name}: generation {} is live ({} events applied)",
                    generation.0, progress.events
                );
            }
        }
        ProjectionsCommand::Status => {
            println!(
                "{:<12} {:>10} {:<9} {:>22} {:>14} {:>8}  failure",
                "projection",
                "generation",
                "status",
                "checkpoint (tx:pos)",
                "events applied",
                "lag"
            );
            for s in desist_projections::registry::status(pool).await? {
                let checkpoint = format!("{}:{}", s.checkpoint.tx, s.checkpoint.global_position);
                println!(
                    "{:<12} {:>10} {:<9} {:>22} {:>14} {:>8}  {}",
                    s.name,
                    s.generation,
                    s.status,
                    checkpoint,
                    s.events_applied,
                    s.lag,
                    s.failure.unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}

/// A bar on standard error, drawn only when it is a terminal.
fn progress_bar(total: u64, name: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total).with_style(
        indicatif::ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} events ({eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message(name.to_string());
    bar
}

/// Connects to a migrated store.
async fn open(database_url_flag: Option<String>) -> Result<Store, Error> {
    let store = Store::connect(&database_url(database_url_flag)?, DEFAULT_MAX_CONNECTIONS).await?;
    store.ensure_migrated().await?;
    desist_store::horizon::check_xid_horizon(store.pool()).await?;
    Ok(store)
}
