use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Demographics, OffenceCategory, OffenceDisposal, RiskAssessment};
use crate::Sealed;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SubjectCommand {
    RegisterSubject {
        demographics: Demographics,
        occurred_at: DateTime<Utc>,
    },
    CorrectDemographics {
        corrected: Demographics,
        reason: Sealed,
        occurred_at: DateTime<Utc>,
    },
    AllocateOffenderManager {
        officer: String,
        occurred_at: DateTime<Utc>,
    },
    /// The reason must not describe the person: it is kept after their text is destroyed.
    EraseSubject {
        reason: String,
        occurred_at: DateTime<Utc>,
    },
    RecordRiskAssessment {
        assessment: RiskAssessment,
        tool_version: String,
        assessor: String,
        occurred_at: DateTime<Utc>,
    },
    RecordOffence {
        offence_id: String,
        category: OffenceCategory,
        occurred_at: DateTime<Utc>,
    },
    RecordOffenceProven {
        offence_id: String,
        disposal: OffenceDisposal,
        occurred_at: DateTime<Utc>,
    },
}

impl SubjectCommand {
    pub fn occurred_at(&self) -> DateTime<Utc> {
        match self {
            Self::RegisterSubject { occurred_at, .. }
            | Self::CorrectDemographics { occurred_at, .. }
            | Self::AllocateOffenderManager { occurred_at, .. }
            | Self::EraseSubject { occurred_at, .. }
            | Self::RecordRiskAssessment { occurred_at, .. }
            | Self::RecordOffence { occurred_at, .. }
            | Self::RecordOffenceProven { occurred_at, .. } => *occurred_at,
        }
    }
}
