//! Desist's outer layer: the write-side wiring over the event store and the command line.
//! The GraphQL API and authentication join here.

pub mod audit;
pub mod auth;
pub mod bench;
pub mod cli;
pub mod config;
pub mod demo;
pub mod error;
pub mod graphql;
pub mod http;
pub mod import;
pub mod write;

pub use error::Error;
pub use write::WriteSide;
