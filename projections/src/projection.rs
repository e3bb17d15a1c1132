//! What a projection is: tables it owns and how each event changes them.

use std::future::Future;

use desist_store::db::{Backend, Tx};
use desist_store::feed::RawFeedEvent;

use crate::decode::Decoded;

/// One generation of a projection's tables (`<table>_g<n>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation(pub i32);

impl Generation {
    /// `template` with every `{g}` replaced by this generation's table suffix.
    pub fn sql(&self, template: &str) -> String {
        template.replace("{g}", &format!("_g{}", self.0))
    }

    pub fn table(&self, base: &str) -> String {
        format!("{base}_g{}", self.0)
    }
}

/// The type of a view's id columns, `{id}` in a projection's schema. On PostgreSQL they compare
/// byte by byte (`COLLATE "C"`), as Rust compares strings: ids need no linguistic order, and a
/// key in the database's collation costs every index insert and lookup a locale-aware
/// comparison (224,276 outcome session rows inserted into a temporary copy of the table:
/// 418–502 ms, against 345–369 ms).
/// SQLite's default collation already compares bytes.
pub fn id_column(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "text COLLATE \"C\"",
        Backend::Sqlite => "text",
    }
}

pub trait Projection: Send + Sync + 'static {
    const NAME: &'static str;
    /// Bump when the tables or what an event does to them change: a live generation built by
    /// another version is rebuilt beside itself and replaced.
    const VERSION: i32;
    /// The tables this projection owns, without generation suffix. Each is visible to readers
    /// through a view of the same name showing the live generation.
    const TABLES: &'static [&'static str];
    /// Statements creating the tables, with `{g}` for the generation suffix and `{id}` for the
    /// type of an id column ([`id_column`]).
    const SCHEMA: &'static [&'static str];
    /// Indexes (with `{g}`, like [`Projection::SCHEMA`]) that applying events never reads
    /// through: those of tables a batch only adds to, each row one event's
    /// (`Rows::of_events`), and those that serve only the views' readers (a batch loads rows
    /// by their owner, [`crate::rows::TableRow::OWNER`]). A rebuild builds them once it has
    /// caught up, in one pass over the full table: keeping an index up to date row by row
    /// cost more than the rows themselves (a national
    /// rebuild's 240,474 schedule rows in 3,000-row statements: 520 ms with their key, 200 ms
    /// without it, and 160 ms to build the key afterwards). A new, empty generation has them
    /// from the start. Written `IF NOT EXISTS`: a rebuild begun by an earlier version, which
    /// made some of them with the tables, may be finished by this one.
    const KEYS_BUILT_LAST: &'static [&'static str] = &[];
    /// Whether its readers look rows up by key, so that their plans depend on the tables'
    /// statistics: a rebuilt generation is then analyzed before it goes live
    /// ([`crate::registry::analyze`]). A projection read only whole has no plan to choose.
    const READ_BY_KEY: bool = true;
    /// Types of event (`event_type`, as stored) that change none of its tables. The feed sends
    /// them without their payloads and the runner passes over them: a rebuild need not have
    /// the database render a fifth of the log as text for nothing, nor decode it
    /// (docs/benchmarks.md). A type missing here costs only time; a type listed that the
    /// projection does use would leave its views wrong, which the projections' tests check
    /// (`every_view_is_the_same_when_the_events_it_ignores_are_read`).
    const IGNORES: &'static [&'static str] = &[];

    /// What a batch of events changes in the tables, worked out in memory.
    type Changes: Send + Sync + 'static;

    /// Works out what a batch of events (in feed order) changes: loads, through `loads`, the
    /// rows of the aggregates the events are about, and applies the events to them. `after`
    /// is the batch before's changes when that batch is still being written (a rebuild
    /// prepares each batch while the one before is written, see `runner`): its rows are
    /// newer than the database's, and no others have changed since.
    fn prepare(
        &self,
        loads: &mut Tx,
        generation: Generation,
        events: &[Applied<'_>],
        after: Option<&Self::Changes>,
    ) -> impl Future<Output = Result<Self::Changes, Failure>> + Send;

    /// Writes a batch's changes, inside the transaction that moves the checkpoint past it.
    fn save(
        changes: &Self::Changes,
        tx: &mut Tx,
        generation: Generation,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;
}

/// A feed event and its decoded payload.
pub struct Applied<'a> {
    pub event: Decoded,
    pub feed: &'a RawFeedEvent,
}

/// Why a batch was not applied.
#[derive(Debug)]
pub struct Failure {
    /// The index in the batch of the event that could not be applied; `None` when the batch
    /// failed as a whole (writing its rows back).
    pub event: Option<usize>,
    pub error: sqlx::Error,
}

impl From<sqlx::Error> for Failure {
    fn from(error: sqlx::Error) -> Self {
        Failure { event: None, error }
    }
}

/// An enum's snake_case name, as the events spell it (`sent_home`), for text columns.
pub fn name_of<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}
