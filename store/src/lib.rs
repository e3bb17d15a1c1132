//! Desist's event store, on PostgreSQL or on an embedded SQLite file.
//!
//! - [`db`]: the two backends behind one handle; the only place that branches on them.
//! - [`Store`]: the database, its migrations and the key vault.
//! - [`CommandBus`]: runs a domain command through cqrs-es (postgres-es or sqlite-es) with
//!   idempotency by client command id and bounded retries of optimistic-concurrency conflicts.
//! - [`feed`]: the global event feed, read in commit-safe order for projections.
//! - [`audit`]: the read audit's records, read back.
//! - [`horizon`]: start-up checks on the transaction-id horizon the PostgreSQL feed relies on.

pub mod audit;
pub mod backup;
pub mod commands;
pub mod db;
pub mod error;
pub mod feed;
pub mod horizon;
pub mod limits;
pub mod metadata;
pub mod sealing;

pub use commands::{CommandBus, CommandOutcome};
pub use db::{Backend, Db};
pub use error::{CommandError, StoreError};
pub use feed::{FeedEvent, FeedPosition};
pub use metadata::CommandMetadata;

/// The migrations for PostgreSQL, embedded in the binary.
pub static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");
/// The migrations for SQLite, embedded in the binary.
pub static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

/// The database behind Desist.
#[derive(Clone)]
pub struct Store {
    db: Db,
    /// Seals free text about subjects; `None` stores it as written (tests of other concerns).
    vault: Option<std::sync::Arc<sealing::KeyVault>>,
}

impl Store {
    /// Connects to `url` (`postgres://…`, or an SQLite file) with a pool of at most
    /// `max_connections`.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        Ok(Self::from_db(Db::connect(url, max_connections).await?))
    }

    /// Connects and makes sure the schema is this binary's. The embedded database belongs to
    /// whoever opens it and is brought up to date on the spot; PostgreSQL is migrated by an
    /// operator (`desist migrate`), once for every instance, and refused if behind.
    pub async fn open(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let store = Self::connect(url, max_connections).await?;
        if store.backend() == Backend::Sqlite {
            store.migrate().await?;
        }
        store.ensure_migrated().await?;
        horizon::check_xid_horizon(store.db()).await?;
        Ok(store)
    }

    /// Seals free text about subjects with per-subject keys wrapped by `master`.
    pub fn with_master_key(mut self, master: sealing::MasterKey) -> Self {
        self.vault = Some(std::sync::Arc::new(sealing::KeyVault::new(
            self.db.clone(),
            master,
        )));
        self
    }

    pub fn vault(&self) -> Option<&std::sync::Arc<sealing::KeyVault>> {
        self.vault.as_ref()
    }

    /// Creates the database named in `url` if the server does not have it yet (an SQLite file
    /// is created when it is first opened).
    pub async fn create_database_if_missing(url: &str) -> Result<(), StoreError> {
        use sqlx::migrate::MigrateDatabase;
        if Backend::of_url(url) == Backend::Postgres
            && !sqlx::Postgres::database_exists(url).await?
        {
            sqlx::Postgres::create_database(url).await?;
        }
        Ok(())
    }

    pub fn from_db(db: Db) -> Self {
        Self { db, vault: None }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn backend(&self) -> Backend {
        self.db.backend()
    }

    fn migrator(&self) -> &'static sqlx::migrate::Migrator {
        match self.db.backend() {
            Backend::Postgres => &POSTGRES_MIGRATOR,
            Backend::Sqlite => &SQLITE_MIGRATOR,
        }
    }

    /// Refuses to work on a schema older than this binary's.
    pub async fn ensure_migrated(&self) -> Result<(), StoreError> {
        let applied: Option<i64> =
            db::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(self.db.reader())
                .await
                .unwrap_or(None);
        let latest = self.migrator().iter().map(|m| m.version).max();
        if applied < latest {
            return Err(StoreError::NotMigrated);
        }
        Ok(())
    }

    /// Applies every pending migration. Safe to run again: applied ones are skipped.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.db {
            Db::Postgres { pool, .. } => POSTGRES_MIGRATOR.run(pool).await?,
            Db::Sqlite { writer, .. } => SQLITE_MIGRATOR.run(writer).await?,
        }
        Ok(())
    }
}
