//! Desist's event store on PostgreSQL.
//!
//! - [`Store`]: the connection pool and migrations.
//! - [`CommandBus`]: runs a domain command through cqrs-es and postgres-es with idempotency by
//!   client command id and bounded retries of optimistic-concurrency conflicts.
//! - [`feed`]: the global event feed, read in commit-safe order for projections.
//! - [`horizon`]: start-up checks on the transaction-id horizon the feed relies on.
//!
//! Backend-specific code lives here and nowhere else.

pub mod backup;
pub mod commands;
pub mod error;
pub mod feed;
pub mod horizon;
pub mod metadata;
pub mod sealing;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

pub use commands::{CommandBus, CommandOutcome};
pub use error::{CommandError, StoreError};
pub use feed::{FeedEvent, FeedPosition};
pub use metadata::CommandMetadata;

/// The migrations for PostgreSQL, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// The database behind Desist.
#[derive(Clone)]
pub struct Store {
    pool: PgPool,
    /// Seals free text about subjects; `None` stores it as written (tests of other concerns).
    vault: Option<std::sync::Arc<sealing::KeyVault>>,
}

impl Store {
    /// Connects with a pool of at most `max_connections`.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let options: PgConnectOptions = url.parse().map_err(StoreError::Database)?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .connect_with(options.application_name("desist"))
            .await?;
        Ok(Self { pool, vault: None })
    }

    /// Seals free text about subjects with per-subject keys wrapped by `master`.
    pub fn with_master_key(mut self, master: sealing::MasterKey) -> Self {
        self.vault = Some(std::sync::Arc::new(sealing::KeyVault::new(
            self.pool.clone(),
            master,
        )));
        self
    }

    pub fn vault(&self) -> Option<&std::sync::Arc<sealing::KeyVault>> {
        self.vault.as_ref()
    }

    /// Creates the database named in `url` if the server does not have it yet.
    pub async fn create_database_if_missing(url: &str) -> Result<(), StoreError> {
        use sqlx::migrate::MigrateDatabase;
        if !sqlx::Postgres::database_exists(url).await? {
            sqlx::Postgres::create_database(url).await?;
        }
        Ok(())
    }

    pub fn from_pool(pool: PgPool) -> Self {
        Self { pool, vault: None }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Refuses to work on a schema older than this binary's.
    pub async fn ensure_migrated(&self) -> Result<(), StoreError> {
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.pool)
                .await
                .unwrap_or(None);
        let latest = MIGRATOR.iter().map(|m| m.version).max();
        if applied < latest {
            return Err(StoreError::NotMigrated);
        }
        Ok(())
    }

    /// Applies every pending migration. Safe to run again: applied ones are skipped.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }
}
