//! The person on the programme, known only by a pseudonymous reference. Names, dates of birth,
//! addresses and police identifiers never enter these events (they belong in the identity vault).

mod aggregate;
mod commands;
mod events;
#[cfg(test)]
mod tests;

pub use aggregate::Subject;
pub use commands::SubjectCommand;
pub use events::{
    Demographics, OffenceCategory, OffenceDisposal, Rating, RiskAssessment, Sex, SrpRatings,
    StalkerType, SubjectEvent,
};
