//! Building blocks for tests: a programme, a subject and an active enrolment, recorded through
//! the ordinary write side.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use desist_api::WriteSide;
use desist_domain::enrolment::{
    Attendance, ChainAnalysis, EnrolmentCommand, ReferralRoute, SessionContent, SessionMode,
    TriggerCategory,
};
use desist_domain::programme::{ProgrammeCommand, ProgrammeTerms, SkillsModule};
use desist_domain::subject::{Demographics, OffenceCategory, Sex, SubjectCommand};
use desist_domain::{Role, Sealed};

use super::{day, meta};

pub async fn cobi_2022(ws: &WriteSide) {
    let command = ProgrammeCommand::DefineProgramme {
        terms: ProgrammeTerms {
            code: "COBI".into(),
            version: "2022".into(),
            planned_sessions: 12,
            min_attended_for_completion: 10,
        },
        modules: vec![
            SkillsModule::Mindfulness,
            SkillsModule::DistressTolerance,
            SkillsModule::EmotionRegulation,
            SkillsModule::InterpersonalEffectiveness,
            SkillsModule::ChainAnalysis,
        ],
        occurred_at: day(1, 1),
    };
    ws.programmes
        .execute("COBI/2022", command, &meta(Role::Admin))
        .await
        .expect("programme defined");
}

pub async fn subject(ws: &WriteSide, subject_id: &str) {
    let command = SubjectCommand::RegisterSubject {
        demographics: Demographics {
            birth_year: 1984,
            sex: Sex::Male,
            area: "Sussex".into(),
        },
        occurred_at: day(1, 2),
    };
    ws.subjects
        .execute(subject_id, command, &meta(Role::Admin))
        .await
        .expect("subject registered");
}

/// An offence of `subject_id`'s, recorded by the police.
pub async fn offence(
    ws: &WriteSide,
    subject_id: &str,
    offence_id: &str,
    category: OffenceCategory,
    occurred_at: DateTime<Utc>,
) {
    let command = SubjectCommand::RecordOffence {
        offence_id: offence_id.into(),
        category,
        occurred_at,
    };
    ws.subjects
        .execute(subject_id, command, &meta(Role::PoliceSpoOfficer))
        .await
        .expect("offence recorded");
}

/// Programme, subject and an enrolment started on 16 January.
pub async fn active_enrolment(ws: &WriteSide, subject_id: &str, enrolment_id: &str) {
    ws.refer(
        enrolment_id,
        subject_id,
        "COBI/2022",
        ReferralRoute::SpoRequirement,
        day(1, 3),
        &meta(Role::ProbationOfficer),
    )
    .await
    .expect("referred");
    for command in [
        EnrolmentCommand::AssessSuitability {
            suitable: true,
            occurred_at: day(1, 9),
        },
        EnrolmentCommand::Allocate {
            practitioner: "bcp-01".into(),
            occurred_at: day(1, 12),
        },
        EnrolmentCommand::Start {
            occurred_at: day(1, 16),
        },
    ] {
        ws.enrolments
            .execute(enrolment_id, command, &meta(Role::Therapist))
            .await
            .expect("lifecycle step");
    }
}

/// A therapist's record of one attended session of an active enrolment: what the session
/// covered, a chain analysis, a trigger and its coping plan (the four kinds of therapy record).
pub async fn therapy_records(ws: &WriteSide, enrolment_id: &str) {
    let held = day(1, 23);
    for command in [
        EnrolmentCommand::ScheduleSession {
            session_id: "therapy-1".into(),
            number: 1,
            scheduled_at: held,
            mode: SessionMode::InPerson,
            occurred_at: day(1, 16),
        },
        EnrolmentCommand::RecordAttendance {
            session_id: "therapy-1".into(),
            attendance: Attendance::Attended,
            occurred_at: held,
        },
        EnrolmentCommand::RecordSessionContent {
            session_id: "therapy-1".into(),
            content: SessionContent {
                modules_covered: vec![SkillsModule::ChainAnalysis],
                skills_practised: vec!["observe".into()],
                homework_set: Some(Sealed::plain("diary card")),
                diary_card_reviewed: false,
                engagement: Some(3),
                notes: Some(Sealed::plain("engaged")),
            },
            occurred_at: held,
        },
        EnrolmentCommand::RecordChainAnalysis {
            chain_id: "chain-1".into(),
            session_id: Some("therapy-1".into()),
            chain: ChainAnalysis {
                vulnerability: Sealed::plain("no sleep"),
                prompting_event: Sealed::plain("a photograph online"),
                trigger_category: TriggerCategory::OnlineContact,
                thoughts: Sealed::plain("she owes me"),
                emotions: Sealed::plain("anger"),
                urges: Sealed::plain("to message"),
                action: Sealed::plain("messaged"),
                consequences: Sealed::plain("a warning"),
                alternative_skill: SkillsModule::DistressTolerance,
            },
            occurred_at: held,
        },
        EnrolmentCommand::IdentifyTrigger {
            trigger_id: "trigger-1".into(),
            category: TriggerCategory::OnlineContact,
            description: Sealed::plain("her profile"),
            occurred_at: held,
        },
        EnrolmentCommand::RecordCopingPlan {
            trigger_id: "trigger-1".into(),
            plan: Sealed::plain("mute the account; call a friend"),
            occurred_at: held,
        },
    ] {
        ws.enrolments
            .execute(enrolment_id, command, &meta(Role::Therapist))
            .await
            .expect("therapy record");
    }
}

/// The usual starting point: COBI/2022 defined, subject S1 registered, enrolment E1 active.
pub async fn s1_active_in_e1(ws: &WriteSide) {
    cobi_2022(ws).await;
    subject(ws, "S1").await;
    active_enrolment(ws, "S1", "E1").await;
}
