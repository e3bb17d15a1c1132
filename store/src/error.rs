use desist_domain::DomainError;
use thiserror::Error;

/// Failures of the store itself (not of a rule).
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("configuration: {0}")]
    Config(String),
    #[error("backup: {0}")]
    Backup(String),
    #[error("sealing: {0}")]
    Sealing(String),
    #[error("subject {0} was erased: nothing more can be recorded about them")]
    Erased(String),
    #[error("the database schema is older than this version of Desist: run `desist migrate`")]
    NotMigrated,
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error(
        "stored event {global_position} ({event_type} {event_version}) cannot be read: {reason}"
    )]
    UnreadableEvent {
        global_position: i64,
        event_type: String,
        event_version: String,
        reason: String,
    },
    #[error("the database's transaction id ({current}) is behind the newest stored event's ({stored}): this looks like a logical restore into a new cluster. Projections would wait forever; see docs/architecture.md, 'Restores'")]
    XidBehindStoredEvents { current: i64, stored: i64 },
}

/// Why a command was not recorded.
#[derive(Debug, Error)]
pub enum CommandError {
    /// A domain rule refused the command. Nothing was written.
    #[error(transparent)]
    Rejected(#[from] DomainError),
    /// Bad command metadata (for example a blank command id). Nothing was written.
    #[error("{field}: {rule}")]
    InvalidMetadata { field: &'static str, rule: String },
    /// The command id was already used for a different command or aggregate.
    #[error(
        "command id {command_id} was already used for {command} on {aggregate_type} {aggregate_id}"
    )]
    CommandIdReused {
        command_id: String,
        command: String,
        aggregate_type: String,
        aggregate_id: String,
    },
    /// Other writers kept changing the same record; the command was not recorded.
    #[error("the record kept changing under {attempts} attempts: try again")]
    Conflict { attempts: u32 },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// cqrs-es reported a failure other than a rule or a conflict.
    #[error("event store failure: {0}")]
    EventStore(String),
}
