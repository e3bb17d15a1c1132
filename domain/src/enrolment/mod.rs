//! One subject's course on a programme, from referral to completion or withdrawal.
//!
//! Lifecycle: `Referred → Assessed (suitable) | Closed (unsuitable) → Allocated → Active ⇄ Paused
//! → Completed | Withdrawn`. Sessions are scheduled against a content number (1..planned); a
//! rescheduled session is superseded by its replacement and never counts twice.

mod aggregate;
mod commands;
mod events;
mod session;
#[cfg(test)]
mod tests;

pub use aggregate::{Enrolment, EnrolmentStatus};
pub use commands::EnrolmentCommand;
pub use events::{
    AbsenceReason, AbsenceResolution, Attendance, CancelledBy, ChainAnalysis, ConcernKind,
    EnforcementAction, EnrolmentEvent, ReferralRoute, SessionContent, SessionMode, TriggerCategory,
    WithdrawalReason, SESSION_SCHEDULED_VERSION,
};
pub use session::{AbsenceStatus, Session, SessionState};
