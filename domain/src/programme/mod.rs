//! A programme version: how many sessions it plans, how many must be attended to complete it,
//! and which skills modules it teaches. Versions are data, not code: COBI 2018 had 10 sessions,
//! COBI 2022 has 12, and a service can define its own.

mod aggregate;
mod commands;
mod events;
#[cfg(test)]
mod tests;

pub use aggregate::Programme;
pub use commands::ProgrammeCommand;
pub use events::{ProgrammeEvent, ProgrammeTerms, SkillsModule};

/// A programme's aggregate id: `CODE/VERSION`, as the timeline format writes it (`COBI/2022`).
pub fn programme_id(code: &str, version: &str) -> String {
    format!("{code}/{version}")
}
