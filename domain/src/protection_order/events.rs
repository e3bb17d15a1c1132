use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::Sealed;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderKind {
    Interim,
    Full,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConditionKind {
    Prohibition,
    Requirement,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConditionCategory {
    NoContact,
    ExclusionZone,
    NoOnlineContact,
    AttendProgramme,
    MentalHealthAssessment,
    Other,
}

/// A condition as the court worded it. Protected people appear only as opaque tokens in
/// `description`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionTerms {
    pub condition_id: String,
    pub kind: ConditionKind,
    pub category: ConditionCategory,
    pub from: NaiveDate,
    /// The last day in force; `None` while the order lasts.
    pub until: Option<NaiveDate>,
    pub description: Option<Sealed>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    Initial,
    NameChange,
    AddressChange,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppealOutcome {
    Dismissed,
    /// The order is quashed from the date of the decision.
    Allowed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreachDecision {
    Nfa,
    Warning,
    Charged,
    Convicted,
    NotProven,
}

impl BreachDecision {
    /// Only a charge leads to a later decision (conviction or not proven).
    pub fn is_final(self) -> bool {
        self != Self::Charged
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecidedBy {
    Police,
    Cps,
    Court,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OrderEvent {
    /// Followed by one `ConditionImposed` per condition the court set.
    OrderMade {
        subject_id: String,
        kind: OrderKind,
        ends_on: Option<NaiveDate>,
        occurred_at: DateTime<Utc>,
    },
    ConditionImposed {
        condition: ConditionTerms,
        occurred_at: DateTime<Utc>,
    },
    /// A variation as of `occurred_at`; the conditions it touches follow as their own events.
    OrderVaried {
        occurred_at: DateTime<Utc>,
    },
    /// From the variation date the condition reads as `terms` (its id unchanged).
    ConditionChanged {
        condition: ConditionTerms,
        occurred_at: DateTime<Utc>,
    },
    /// Not in force from the variation date on.
    ConditionRemoved {
        condition_id: String,
        occurred_at: DateTime<Utc>,
    },
    /// Service starts the notification duty.
    OrderServed {
        occurred_at: DateTime<Utc>,
    },
    NotificationGiven {
        kind: NotificationKind,
        occurred_at: DateTime<Utc>,
    },
    OrderRenewed {
        previous_ends_on: Option<NaiveDate>,
        ends_on: Option<NaiveDate>,
        occurred_at: DateTime<Utc>,
    },
    OrderDischarged {
        occurred_at: DateTime<Utc>,
    },
    AppealDetermined {
        outcome: AppealOutcome,
        occurred_at: DateTime<Utc>,
    },
    /// Reported at `occurred_at`; the breach itself happened on `occurred_on`.
    BreachReported {
        breach_id: String,
        condition_id: String,
        occurred_on: NaiveDate,
        description: Option<Sealed>,
        occurred_at: DateTime<Utc>,
    },
    BreachAssessed {
        breach_id: String,
        reasonable_excuse: bool,
        occurred_at: DateTime<Utc>,
    },
    BreachOutcomeRecorded {
        breach_id: String,
        decision: BreachDecision,
        decided_by: DecidedBy,
        occurred_at: DateTime<Utc>,
    },
}

impl DomainEvent for OrderEvent {
    fn event_type(&self) -> String {
        match self {
            Self::OrderMade { .. } => "OrderMade",
            Self::ConditionImposed { .. } => "ConditionImposed",
            Self::OrderVaried { .. } => "OrderVaried",
            Self::ConditionChanged { .. } => "ConditionChanged",
            Self::ConditionRemoved { .. } => "ConditionRemoved",
            Self::OrderServed { .. } => "OrderServed",
            Self::NotificationGiven { .. } => "NotificationGiven",
            Self::OrderRenewed { .. } => "OrderRenewed",
            Self::OrderDischarged { .. } => "OrderDischarged",
            Self::AppealDetermined { .. } => "AppealDetermined",
            Self::BreachReported { .. } => "BreachReported",
            Self::BreachAssessed { .. } => "BreachAssessed",
            Self::BreachOutcomeRecorded { .. } => "BreachOutcomeRecorded",
        }
        .into()
    }

    fn event_version(&self) -> String {
        "1.0.0".into()
    }
}
