//! Desist's read side.
//!
//! - [`runner`]: a projection runner tails the global feed (`desist_store::feed`) in commit-safe
//!   order and applies each batch and its checkpoint in one transaction: every event affects a
//!   view exactly once, and a crash loses nothing.
//! - [`live`]: a server's live views kept up to date together, each batch applied to all of
//!   them in one transaction.
//! - [`registry`]: projection generations — blue/green rebuilds behind stable SQL view names.
//! - [`progress`], [`compliance`], [`outcomes`]: the three projections and their tables.
//! - [`measures`]: the rules behind every number (compliance status, outcome statistics,
//!   disclosure control) as pure functions over facts.
//! - [`queries`]: loads the facts from the views and applies the measures.
//! - [`outcome_cache`]: outcome reports computed once per feed position, kept ready as the
//!   view moves.

pub mod compliance;
pub mod decode;
pub mod error;
pub mod live;
pub mod measures;
pub mod outcome_cache;
pub mod outcomes;
pub mod progress;
pub mod projection;
pub mod queries;
pub mod registry;
pub mod rows;
pub mod runner;
pub mod sessions;

pub use error::ProjectionError;
pub use projection::{Generation, Projection};
pub use runner::{Runner, RunnerOptions};

use desist_store::db::Db;

/// Brings every projection's live generation up to date with everything committed, creating
/// generations on first use.
pub async fn catch_up_all(pool: &Db) -> Result<(), ProjectionError> {
    async fn one<P: Projection + Clone>(projection: P, pool: &Db) -> Result<(), ProjectionError> {
        let generation = runner::ensure_current(projection.clone(), pool).await?;
        Runner::new(projection, pool.clone())
            .catch_up(generation, |_| {})
            .await?;
        Ok(())
    }
    one(progress::ProgressProjection, pool).await?;
    one(compliance::ComplianceProjection, pool).await?;
    one(outcomes::OutcomesProjection, pool).await?;
    Ok(())
}

/// The projections, by name.
pub const NAMES: [&str; 3] = [
    progress::ProgressProjection::NAME,
    compliance::ComplianceProjection::NAME,
    outcomes::OutcomesProjection::NAME,
];

/// Rebuilds the projection called `name` beside its live generation and switches to it.
pub async fn rebuild_by_name(
    name: &str,
    pool: &Db,
    on_batch: impl FnMut(&runner::Progress),
) -> Result<(Generation, runner::Progress), ProjectionError> {
    match name {
        progress::ProgressProjection::NAME => {
            runner::rebuild(progress::ProgressProjection, pool, on_batch).await
        }
        compliance::ComplianceProjection::NAME => {
            runner::rebuild(compliance::ComplianceProjection, pool, on_batch).await
        }
        outcomes::OutcomesProjection::NAME => {
            runner::rebuild(outcomes::OutcomesProjection, pool, on_batch).await
        }
        other => Err(ProjectionError::UnknownProjection(other.to_string())),
    }
}
