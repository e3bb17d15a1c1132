//! The rules behind every number Desist shows, as pure functions over facts
//! (`../shared/DOMAIN.md`, "Compliance rules" and "Outcome measures"; docs/measures.md).

pub mod compliance;
pub mod dates;
pub mod disclosure;
pub mod outcomes;
pub mod stats;
