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
    /// A task of the runner's (reading the feed ahead of the batch being written, analyzing
    /// a rebuilt table) panicked or was cancelled.
    #[error("a projection task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// Raised only by the test hook that simulates a crash before commit.
    #[error("simulated crash before commit")]
    SimulatedCrash,
}
