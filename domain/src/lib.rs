//! Desist's domain: what can be recorded about a stalking perpetrator intervention programme,
//! and the rules a record must obey.
//!
//! Four cqrs-es aggregates own the facts:
//! - [`programme::Programme`]: a programme version (sessions planned, attendance needed to
//!   complete, skills modules). Versions are data, so a new COBI version needs no code.
//! - [`subject::Subject`]: the person, known only by a pseudonymous reference, with risk
//!   assessments (ratings only) and proven offences.
//! - [`enrolment::Enrolment`]: one course, from referral to completion or withdrawal, with its
//!   sessions, attendance, absences, chain analyses, triggers, concerns and enforcement actions.
//! - [`protection_order::ProtectionOrder`]: a Stalking Protection Order (full or interim) with its
//!   conditions, service, notifications, variations and breaches.
//!
//! Nothing here does I/O. The only outside fact a rule needs is "now" (to refuse facts dated in
//! the future), which arrives through [`DomainServices`].

pub mod actor;
pub mod clock;
pub mod enrolment;
pub mod error;
pub mod programme;
pub mod protection_order;
pub mod sealed;
pub mod subject;
pub mod upcasting;
mod validate;

pub use actor::{Actor, Role};
pub use clock::{Clock, DomainServices};
pub use error::DomainError;
pub use sealed::Sealed;
