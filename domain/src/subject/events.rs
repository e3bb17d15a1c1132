use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::Sealed;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Male,
    Female,
    Other,
    Unknown,
}

/// The minimal demographics analytics need: birth year, never date of birth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Demographics {
    pub birth_year: i32,
    pub sex: Sex,
    pub area: String,
}

/// The Stalking Risk Profile's stalker types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StalkerType {
    Rejected,
    Resentful,
    IntimacySeeking,
    IncompetentSuitor,
    Predatory,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rating {
    Low,
    Moderate,
    High,
}

/// The SRP's four risk domains, rated. Only ratings are stored: the tool's items are licensed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SrpRatings {
    pub violence: Rating,
    pub persistence: Rating,
    pub recurrence: Rating,
    pub psychosocial_damage: Rating,
}

/// The result of one structured assessment: ratings and scores only, never the questions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "tool", rename_all = "snake_case")]
pub enum RiskAssessment {
    /// Stalking Risk Profile.
    Srp {
        stalker_type: StalkerType,
        ratings: SrpRatings,
    },
    /// Stalking screening (S-DASH): how many of its questions were answered yes.
    SDash { yes_count: u8 },
    /// Screening Assessment for Stalking and Harassment: the overall concern level.
    Sash { concern: Rating },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OffenceCategory {
    StalkingHarassment,
    SpoBreach,
    Violence,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OffenceDisposal {
    Conviction,
    Caution,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SubjectEvent {
    SubjectRegistered {
        demographics: Demographics,
        occurred_at: DateTime<Utc>,
    },
    /// A correction keeps both values and says why; history is never edited.
    DemographicsCorrected {
        previous: Demographics,
        corrected: Demographics,
        reason: Sealed,
        occurred_at: DateTime<Utc>,
    },
    /// The probation officer (offender manager) who holds the subject on their caseload.
    OffenderManagerAllocated {
        officer: String,
        occurred_at: DateTime<Utc>,
    },
    /// The subject's key was destroyed at their request (or by law): every text about them is
    /// gone, counts remain. The reason is the admin's, recorded for accountability.
    SubjectErased {
        reason: String,
        occurred_at: DateTime<Utc>,
    },
    /// A professional opinion: tagged with its tool version, assessor and date.
    RiskAssessed {
        assessment: RiskAssessment,
        tool_version: String,
        assessor: String,
        occurred_at: DateTime<Utc>,
    },
    /// An offence, dated when it was committed. It counts as reoffending only once proven.
    OffenceRecorded {
        offence_id: String,
        category: OffenceCategory,
        occurred_at: DateTime<Utc>,
    },
    /// Proof of an offence by caution or conviction, dated when it was proven.
    OffenceProven {
        offence_id: String,
        disposal: OffenceDisposal,
        occurred_at: DateTime<Utc>,
    },
}

impl DomainEvent for SubjectEvent {
    fn event_type(&self) -> String {
        match self {
            Self::SubjectRegistered { .. } => "SubjectRegistered",
            Self::DemographicsCorrected { .. } => "DemographicsCorrected",
            Self::OffenderManagerAllocated { .. } => "OffenderManagerAllocated",
            Self::SubjectErased { .. } => "SubjectErased",
            Self::RiskAssessed { .. } => "RiskAssessed",
            Self::OffenceRecorded { .. } => "OffenceRecorded",
            Self::OffenceProven { .. } => "OffenceProven",
        }
        .into()
    }

    fn event_version(&self) -> String {
        "1.0.0".into()
    }
}
