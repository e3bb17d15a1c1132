use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{
    AppealOutcome, BreachDecision, ConditionTerms, DecidedBy, NotificationKind, OrderKind,
};
use crate::Sealed;

/// One change a variation makes to the conditions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "change")]
pub enum ConditionChange {
    Add { condition: ConditionTerms },
    Change { condition: ConditionTerms },
    Remove { condition_id: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OrderCommand {
    MakeOrder {
        subject_id: String,
        kind: OrderKind,
        ends_on: Option<NaiveDate>,
        conditions: Vec<ConditionTerms>,
        occurred_at: DateTime<Utc>,
    },
    ServeOrder {
        occurred_at: DateTime<Utc>,
    },
    GiveNotification {
        kind: NotificationKind,
        occurred_at: DateTime<Utc>,
    },
    VaryOrder {
        changes: Vec<ConditionChange>,
        occurred_at: DateTime<Utc>,
    },
    RenewOrder {
        ends_on: Option<NaiveDate>,
        occurred_at: DateTime<Utc>,
    },
    DischargeOrder {
        occurred_at: DateTime<Utc>,
    },
    DetermineAppeal {
        outcome: AppealOutcome,
        occurred_at: DateTime<Utc>,
    },
    ReportBreach {
        breach_id: String,
        condition_id: String,
        occurred_on: NaiveDate,
        description: Option<Sealed>,
        occurred_at: DateTime<Utc>,
    },
    AssessBreach {
        breach_id: String,
        reasonable_excuse: bool,
        occurred_at: DateTime<Utc>,
    },
    RecordBreachOutcome {
        breach_id: String,
        decision: BreachDecision,
        decided_by: DecidedBy,
        occurred_at: DateTime<Utc>,
    },
}

impl OrderCommand {
    pub fn occurred_at(&self) -> DateTime<Utc> {
        match self {
            Self::MakeOrder { occurred_at, .. }
            | Self::ServeOrder { occurred_at }
            | Self::GiveNotification { occurred_at, .. }
            | Self::VaryOrder { occurred_at, .. }
            | Self::RenewOrder { occurred_at, .. }
            | Self::DischargeOrder { occurred_at }
            | Self::DetermineAppeal { occurred_at, .. }
            | Self::ReportBreach { occurred_at, .. }
            | Self::AssessBreach { occurred_at, .. }
            | Self::RecordBreachOutcome { occurred_at, .. } => *occurred_at,
        }
    }
}
