use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    AbsenceResolution, Attendance, CancelledBy, ChainAnalysis, ConcernKind, EnforcementAction,
    ReferralRoute, SessionContent, SessionMode, TriggerCategory, WithdrawalReason,
};
use crate::programme::ProgrammeTerms;
use crate::Sealed;

// A chain analysis is larger than most variants; these values are short-lived and few, so
// boxing would only add noise to every match.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EnrolmentCommand {
    /// The write side resolves the programme's terms (from the Programme aggregate) and checks
    /// the subject exists before this command reaches the enrolment.
    Refer {
        subject_id: String,
        programme: ProgrammeTerms,
        route: ReferralRoute,
        occurred_at: DateTime<Utc>,
    },
    AssessSuitability {
        suitable: bool,
        occurred_at: DateTime<Utc>,
    },
    Allocate {
        practitioner: String,
        occurred_at: DateTime<Utc>,
    },
    Start {
        occurred_at: DateTime<Utc>,
    },
    Pause {
        reason: Option<Sealed>,
        occurred_at: DateTime<Utc>,
    },
    Resume {
        occurred_at: DateTime<Utc>,
    },
    ScheduleSession {
        session_id: String,
        number: u16,
        scheduled_at: DateTime<Utc>,
        mode: SessionMode,
        occurred_at: DateTime<Utc>,
    },
    RescheduleSession {
        session_id: String,
        new_session_id: String,
        scheduled_at: DateTime<Utc>,
        occurred_at: DateTime<Utc>,
    },
    CancelSession {
        session_id: String,
        by: CancelledBy,
        reason: Sealed,
        occurred_at: DateTime<Utc>,
    },
    RecordAttendance {
        session_id: String,
        attendance: Attendance,
        occurred_at: DateTime<Utc>,
    },
    ResolveAbsence {
        session_id: String,
        resolution: AbsenceResolution,
        occurred_at: DateTime<Utc>,
    },
    CorrectAttendance {
        session_id: String,
        attendance: Attendance,
        reason: Sealed,
        occurred_at: DateTime<Utc>,
    },
    RecordSessionContent {
        session_id: String,
        content: SessionContent,
        occurred_at: DateTime<Utc>,
    },
    RaiseConcern {
        concern_id: String,
        session_id: String,
        kind: ConcernKind,
        text: Sealed,
        notify_probation: bool,
        occurred_at: DateTime<Utc>,
    },
    AcknowledgeConcern {
        concern_id: String,
        occurred_at: DateTime<Utc>,
    },
    RecordChainAnalysis {
        chain_id: String,
        session_id: Option<String>,
        chain: ChainAnalysis,
        occurred_at: DateTime<Utc>,
    },
    IdentifyTrigger {
        trigger_id: String,
        category: TriggerCategory,
        description: Sealed,
        occurred_at: DateTime<Utc>,
    },
    RecordCopingPlan {
        trigger_id: String,
        plan: Sealed,
        occurred_at: DateTime<Utc>,
    },
    RecordEnforcementAction {
        action: EnforcementAction,
        note: Option<Sealed>,
        occurred_at: DateTime<Utc>,
    },
    Complete {
        occurred_at: DateTime<Utc>,
    },
    Withdraw {
        reason: WithdrawalReason,
        reason_text: Option<Sealed>,
        occurred_at: DateTime<Utc>,
    },
}

impl EnrolmentCommand {
    pub fn occurred_at(&self) -> DateTime<Utc> {
        match self {
            Self::Refer { occurred_at, .. }
            | Self::AssessSuitability { occurred_at, .. }
            | Self::Allocate { occurred_at, .. }
            | Self::Start { occurred_at }
            | Self::Pause { occurred_at, .. }
            | Self::Resume { occurred_at }
            | Self::ScheduleSession { occurred_at, .. }
            | Self::RescheduleSession { occurred_at, .. }
            | Self::CancelSession { occurred_at, .. }
            | Self::RecordAttendance { occurred_at, .. }
            | Self::ResolveAbsence { occurred_at, .. }
            | Self::CorrectAttendance { occurred_at, .. }
            | Self::RecordSessionContent { occurred_at, .. }
            | Self::RaiseConcern { occurred_at, .. }
            | Self::AcknowledgeConcern { occurred_at, .. }
            | Self::RecordChainAnalysis { occurred_at, .. }
            | Self::IdentifyTrigger { occurred_at, .. }
            | Self::RecordCopingPlan { occurred_at, .. }
            | Self::RecordEnforcementAction { occurred_at, .. }
            | Self::Complete { occurred_at }
            | Self::Withdraw { occurred_at, .. } => *occurred_at,
        }
    }
}
