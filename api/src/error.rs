use desist_store::{CommandError, StoreError};
use thiserror::Error;

/// Everything that can stop a Desist command-line command or request.
#[derive(Debug, Error)]
pub enum Error {
    #[error("configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error(transparent)]
    Projection(#[from] desist_projections::ProjectionError),
    /// Input that was refused whole; each line names where and why.
    #[error("{} problem(s); nothing was written:\n{}", .0.len(), .0.join("\n"))]
    Invalid(Vec<String>),
}

/// An import refused whole lists its problems; a command that failed while writing is itself.
impl From<crate::import::ImportError> for Error {
    fn from(e: crate::import::ImportError) -> Self {
        match e {
            crate::import::ImportError::Invalid(problems) => {
                Error::Invalid(problems.iter().map(ToString::to_string).collect())
            }
            crate::import::ImportError::Command(e) => e.into(),
        }
    }
}
