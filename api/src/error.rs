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
}
