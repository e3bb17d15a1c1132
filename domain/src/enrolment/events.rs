use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::programme::{ProgrammeTerms, SkillsModule};
use crate::Sealed;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferralRoute {
    SpoRequirement,
    CourtOrder,
    Licence,
    Voluntary,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionMode {
    InPerson,
    Video,
    Phone,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelledBy {
    Provider,
    Participant,
}

/// What happened at a held session. `Absent` starts as a provisional absence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Attendance {
    Attended,
    Late,
    SentHome,
    Absent,
}

impl Attendance {
    /// Attended and late sessions deliver the session's content.
    pub fn delivers(self) -> bool {
        matches!(self, Self::Attended | Self::Late)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AbsenceReason {
    Medical,
    Court,
    Religious,
    Childcare,
    Work,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum AbsenceResolution {
    Acceptable { reason: AbsenceReason },
    Unacceptable,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionContent {
    pub modules_covered: Vec<SkillsModule>,
    pub skills_practised: Vec<String>,
    pub homework_set: Option<Sealed>,
    pub diary_card_reviewed: bool,
    /// 1 (disengaged) to 5 (fully engaged).
    pub engagement: Option<u8>,
    pub notes: Option<Sealed>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConcernKind {
    Risk,
    Behaviour,
    Safeguarding,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerCategory {
    Rejection,
    Jealousy,
    Anniversary,
    SubstanceUse,
    OnlineContact,
    Loneliness,
    Grievance,
    Other,
}

/// One episode of behaviour broken into its links. No step names a victim: protected people
/// appear, if at all, only as opaque tokens in the text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainAnalysis {
    pub vulnerability: Sealed,
    pub prompting_event: Sealed,
    pub trigger_category: TriggerCategory,
    pub thoughts: Sealed,
    pub emotions: Sealed,
    pub urges: Sealed,
    pub action: Sealed,
    pub consequences: Sealed,
    pub alternative_skill: SkillsModule,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnforcementAction {
    Warning,
    ReferredForEnforcement,
    NoFurtherAction,
    /// Breach proceedings concluded: failures to comply are counted afresh after this.
    BreachConcluded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WithdrawalReason {
    NotEngaging,
    ReturnedToCustody,
    MovedOutOfArea,
    OrderEnded,
    Other,
}

// A chain analysis is larger than most variants; these values are short-lived and few, so
// boxing would only add noise to every match.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EnrolmentEvent {
    Referred {
        subject_id: String,
        programme: ProgrammeTerms,
        route: ReferralRoute,
        occurred_at: DateTime<Utc>,
    },
    SuitabilityAssessed {
        suitable: bool,
        occurred_at: DateTime<Utc>,
    },
    Allocated {
        practitioner: String,
        occurred_at: DateTime<Utc>,
    },
    Started {
        occurred_at: DateTime<Utc>,
    },
    Paused {
        reason: Option<Sealed>,
        occurred_at: DateTime<Utc>,
    },
    Resumed {
        occurred_at: DateTime<Utc>,
    },
    /// Version 2.0 added `mode`; 1.0 payloads are read as in person (see `upcasting`).
    SessionScheduled {
        session_id: String,
        number: u16,
        scheduled_at: DateTime<Utc>,
        mode: SessionMode,
        occurred_at: DateTime<Utc>,
    },
    /// The old session is superseded by the new one, which keeps its number.
    SessionRescheduled {
        session_id: String,
        new_session_id: String,
        scheduled_at: DateTime<Utc>,
        occurred_at: DateTime<Utc>,
    },
    SessionCancelled {
        session_id: String,
        by: CancelledBy,
        reason: Sealed,
        occurred_at: DateTime<Utc>,
    },
    AttendanceRecorded {
        session_id: String,
        attendance: Attendance,
        occurred_at: DateTime<Utc>,
    },
    AbsenceResolved {
        session_id: String,
        resolution: AbsenceResolution,
        occurred_at: DateTime<Utc>,
    },
    AttendanceCorrected {
        session_id: String,
        previous: Attendance,
        corrected: Attendance,
        reason: Sealed,
        occurred_at: DateTime<Utc>,
    },
    SessionContentRecorded {
        session_id: String,
        content: SessionContent,
        occurred_at: DateTime<Utc>,
    },
    ConcernRaised {
        concern_id: String,
        session_id: String,
        kind: ConcernKind,
        text: Sealed,
        notify_probation: bool,
        occurred_at: DateTime<Utc>,
    },
    ConcernAcknowledged {
        concern_id: String,
        occurred_at: DateTime<Utc>,
    },
    ChainAnalysisRecorded {
        chain_id: String,
        session_id: Option<String>,
        chain: ChainAnalysis,
        occurred_at: DateTime<Utc>,
    },
    TriggerIdentified {
        trigger_id: String,
        category: TriggerCategory,
        description: Sealed,
        occurred_at: DateTime<Utc>,
    },
    CopingPlanRecorded {
        trigger_id: String,
        plan: Sealed,
        occurred_at: DateTime<Utc>,
    },
    EnforcementActionRecorded {
        action: EnforcementAction,
        note: Option<Sealed>,
        occurred_at: DateTime<Utc>,
    },
    Completed {
        occurred_at: DateTime<Utc>,
    },
    Withdrawn {
        reason: WithdrawalReason,
        reason_text: Option<Sealed>,
        occurred_at: DateTime<Utc>,
    },
}

/// The version of `SessionScheduled` written today.
pub const SESSION_SCHEDULED_VERSION: &str = "2.0.0";

impl DomainEvent for EnrolmentEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Referred { .. } => "Referred",
            Self::SuitabilityAssessed { .. } => "SuitabilityAssessed",
            Self::Allocated { .. } => "Allocated",
            Self::Started { .. } => "Started",
            Self::Paused { .. } => "Paused",
            Self::Resumed { .. } => "Resumed",
            Self::SessionScheduled { .. } => "SessionScheduled",
            Self::SessionRescheduled { .. } => "SessionRescheduled",
            Self::SessionCancelled { .. } => "SessionCancelled",
            Self::AttendanceRecorded { .. } => "AttendanceRecorded",
            Self::AbsenceResolved { .. } => "AbsenceResolved",
            Self::AttendanceCorrected { .. } => "AttendanceCorrected",
            Self::SessionContentRecorded { .. } => "SessionContentRecorded",
            Self::ConcernRaised { .. } => "ConcernRaised",
            Self::ConcernAcknowledged { .. } => "ConcernAcknowledged",
            Self::ChainAnalysisRecorded { .. } => "ChainAnalysisRecorded",
            Self::TriggerIdentified { .. } => "TriggerIdentified",
            Self::CopingPlanRecorded { .. } => "CopingPlanRecorded",
            Self::EnforcementActionRecorded { .. } => "EnforcementActionRecorded",
            Self::Completed { .. } => "Completed",
            Self::Withdrawn { .. } => "Withdrawn",
        }
        .into()
    }

    fn event_version(&self) -> String {
        match self {
            Self::SessionScheduled { .. } => SESSION_SCHEDULED_VERSION,
            _ => "1.0.0",
        }
        .into()
    }
}
