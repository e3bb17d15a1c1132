//! Stalking Protection Orders (Stalking Protection Act 2019): full and interim orders, their
//! conditions with history, service and the notification duty, variation, renewal, discharge,
//! appeal, and breaches with their outcomes.

mod aggregate;
mod commands;
mod conditions;
mod events;
#[cfg(test)]
mod tests;

pub use aggregate::ProtectionOrder;
pub use commands::{ConditionChange, OrderCommand};
pub use conditions::{ConditionHistory, ConditionVersion};
pub use events::{
    AppealOutcome, BreachDecision, ConditionCategory, ConditionKind, ConditionTerms, DecidedBy,
    NotificationKind, OrderEvent, OrderKind,
};

/// A full order runs for at least this many months, or until further order.
pub const FULL_ORDER_MINIMUM_MONTHS: u32 = 24;
