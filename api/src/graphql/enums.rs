//! GraphQL enums mirroring the domain's. The domain stays free of GraphQL; `remote` derives the
//! conversions both ways, so a variant added to the domain fails to compile here until mirrored.

use async_graphql::Enum;

macro_rules! mirror {
    ($(#[$doc:meta])* $name:ident = $remote:literal { $($variant:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
        #[graphql(remote = $remote)]
        pub enum $name { $($variant),+ }
    };
}

mirror!(Sex = "desist_domain::subject::Sex" { Male, Female, Other, Unknown });
mirror!(
    /// Stalking Risk Profile stalker types.
    StalkerType = "desist_domain::subject::StalkerType" {
        Rejected, Resentful, IntimacySeeking, IncompetentSuitor, Predatory
    }
);
mirror!(Rating = "desist_domain::subject::Rating" { Low, Moderate, High });
mirror!(OffenceCategory = "desist_domain::subject::OffenceCategory" {
    StalkingHarassment, SpoBreach, Violence, Other
});
mirror!(OffenceDisposal = "desist_domain::subject::OffenceDisposal" { Conviction, Caution });
mirror!(ReferralRoute = "desist_domain::enrolment::ReferralRoute" {
    SpoRequirement, CourtOrder, Licence, Voluntary
});
mirror!(SessionMode = "desist_domain::enrolment::SessionMode" { InPerson, Video, Phone });
mirror!(CancelledBy = "desist_domain::enrolment::CancelledBy" { Provider, Participant });
mirror!(
    /// What happened at a held session. ABSENT starts as a provisional absence.
    Attendance = "desist_domain::enrolment::Attendance" { Attended, Late, SentHome, Absent }
);
mirror!(AbsenceReason = "desist_domain::enrolment::AbsenceReason" {
    Medical, Court, Religious, Childcare, Work, Other
});
mirror!(ConcernKind = "desist_domain::enrolment::ConcernKind" { Risk, Behaviour, Safeguarding });
mirror!(TriggerCategory = "desist_domain::enrolment::TriggerCategory" {
    Rejection, Jealousy, Anniversary, SubstanceUse, OnlineContact, Loneliness, Grievance, Other
});
mirror!(EnforcementAction = "desist_domain::enrolment::EnforcementAction" {
    Warning, ReferredForEnforcement, NoFurtherAction, BreachConcluded
});
mirror!(WithdrawalReason = "desist_domain::enrolment::WithdrawalReason" {
    NotEngaging, ReturnedToCustody, MovedOutOfArea, OrderEnded, Other
});
mirror!(EnrolmentStatus = "desist_domain::enrolment::EnrolmentStatus" {
    Referred, Assessed, Closed, Allocated, Active, Paused, Completed, Withdrawn
});
mirror!(SkillsModule = "desist_domain::programme::SkillsModule" {
    Mindfulness, DistressTolerance, EmotionRegulation, InterpersonalEffectiveness, ChainAnalysis
});
mirror!(OrderKind = "desist_domain::protection_order::OrderKind" { Interim, Full });
mirror!(ConditionKind = "desist_domain::protection_order::ConditionKind" { Prohibition, Requirement });
mirror!(ConditionCategory = "desist_domain::protection_order::ConditionCategory" {
    NoContact, ExclusionZone, NoOnlineContact, AttendProgramme, MentalHealthAssessment, Other
});
mirror!(NotificationKind = "desist_domain::protection_order::NotificationKind" {
    Initial, NameChange, AddressChange
});
mirror!(AppealOutcome = "desist_domain::protection_order::AppealOutcome" { Dismissed, Allowed });
mirror!(BreachDecision = "desist_domain::protection_order::BreachDecision" {
    Nfa, Warning, Charged, Convicted, NotProven
});
mirror!(DecidedBy = "desist_domain::protection_order::DecidedBy" { Police, Cps, Court });
mirror!(Role = "desist_domain::Role" {
    Therapist, ProbationOfficer, PoliceSpoOfficer, Evaluator, Admin, System
});
mirror!(Rag = "desist_projections::measures::compliance::Rag" { Green, Amber, Red });
mirror!(NextStep = "desist_projections::measures::compliance::NextStep" {
    None, WarningDue, ReferForEnforcement
});
mirror!(ComplianceReason = "desist_projections::measures::compliance::Reason" {
    EnrolmentPaused, FailureToComply, FailuresToComply, NotificationOverdue, OpenBreachReport,
    OrderEndingSoon, ProvisionalAbsenceOverdue, RiskRaised, UnacknowledgedConcern
});

/// Parses a snake_case name stored in a view column into a mirrored enum.
pub fn from_name<T, R>(name: &str) -> Option<T>
where
    R: serde::de::DeserializeOwned,
    T: From<R>,
{
    serde_json::from_value::<R>(serde_json::Value::String(name.to_string()))
        .ok()
        .map(T::from)
}
