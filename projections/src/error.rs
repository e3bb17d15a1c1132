use desist_store::StoreError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ProjectionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The projection stopped here and will resume from its checkpoint once the cause is fixed.
    #[error("projection {projection} stopped at event {global_position} ({event_type}): {reason}")]
    Apply {
        projection: &'static str,
        global_position: i64,
        event_type: String,
        reason: String,
    },
    #[error("no projection named {0:?}: expected one of progress, compliance, outcomes")]
    UnknownProjection(String),
    #[error("projection {0} has no live generation: run `desist migrate` and start the server or `desist projections rebuild`")]
    NotLive(&'static str),
    #[error("another runner holds projection {0}")]
    Busy(String),
    /// Another runner moved the checkpoint after this one read it; the batch was not applied.
    #[error("the checkpoint of projection {0} moved under this runner")]
    CheckpointMoved(&'static str),
    #[error(
        "projection {projection} has not reached feed position {pinned} yet (it is at {reached})"
    )]
    NotYetProjected {
        projection: &'static str,
        pinned: String,
        reached: String,
    },
    /// The task reading the feed ahead of the batch being written panicked or was cancelled.
    #[error("reading the feed ahead failed: {0}")]
    ReadAhead(#[from] tokio::task::JoinError),
    /// Raised only by the test hook that simulates a crash before commit.
    #[error("simulated crash before commit")]
    SimulatedCrash,
}
