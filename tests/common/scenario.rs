//! Building blocks for tests: a programme, a subject and an active enrolment, recorded through
//! the ordinary write side.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use desist_api::WriteSide;
use desist_domain::enrolment::{EnrolmentCommand, ReferralRoute};
use desist_domain::programme::{ProgrammeCommand, ProgrammeTerms, SkillsModule};
use desist_domain::subject::{Demographics, OffenceCategory, Sex, SubjectCommand};
use desist_domain::Role;

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

/// The usual starting point: COBI/2022 defined, subject S1 registered, enrolment E1 active.
pub async fn s1_active_in_e1(ws: &WriteSide) {
    cobi_2022(ws).await;
    subject(ws, "S1").await;
    active_enrolment(ws, "S1", "E1").await;
}
