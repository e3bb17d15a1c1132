use chrono::{TimeZone, Utc};
use cqrs_es::test::TestFramework;

use super::*;
use crate::{DomainError, DomainServices};

type Framework = TestFramework<Programme>;

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 1, 12, 0, 0).unwrap()
}

fn cobi(planned: u16, min: u16) -> ProgrammeTerms {
    ProgrammeTerms {
        code: "COBI".into(),
        version: "2022".into(),
        planned_sessions: planned,
        min_attended_for_completion: min,
    }
}

fn define(terms: ProgrammeTerms) -> ProgrammeCommand {
    ProgrammeCommand::DefineProgramme {
        terms,
        modules: vec![SkillsModule::Mindfulness, SkillsModule::ChainAnalysis],
        occurred_at: now(),
    }
}

fn defined(terms: ProgrammeTerms) -> ProgrammeEvent {
    ProgrammeEvent::ProgrammeDefined {
        terms,
        modules: vec![SkillsModule::Mindfulness, SkillsModule::ChainAnalysis],
        occurred_at: now(),
    }
}

fn framework() -> Framework {
    Framework::with(DomainServices::fixed(now()))
}

#[test]
fn defining_a_programme_records_its_terms() {
    framework()
        .given_no_previous_events()
        .when(define(cobi(12, 10)))
        .then_expect_events(vec![defined(cobi(12, 10))]);
}

#[test]
fn a_defined_version_cannot_be_redefined() {
    framework()
        .given(vec![defined(cobi(12, 10))])
        .when(define(cobi(12, 9)))
        .then_expect_error(DomainError::AlreadyRecorded {
            what: "programme version",
        });
}

#[test]
fn completion_cannot_need_more_sessions_than_are_planned() {
    let result = framework()
        .given_no_previous_events()
        .when(define(cobi(12, 13)))
        .inspect_result();
    assert_eq!(result.unwrap_err().field(), "min_attended_for_completion");
}

#[test]
fn a_programme_must_plan_at_least_one_session() {
    let result = framework()
        .given_no_previous_events()
        .when(define(cobi(0, 0)))
        .inspect_result();
    assert_eq!(result.unwrap_err().field(), "planned_sessions");
}

#[test]
fn code_and_version_must_not_be_blank_or_contain_a_slash() {
    let mut blank = cobi(12, 10);
    blank.code = " ".into();
    let err = framework()
        .given_no_previous_events()
        .when(define(blank))
        .inspect_result()
        .unwrap_err();
    assert_eq!(err.field(), "code");
    let mut slashed = cobi(12, 10);
    slashed.version = "2022/1".into();
    let err = framework()
        .given_no_previous_events()
        .when(define(slashed))
        .inspect_result()
        .unwrap_err();
    assert_eq!(err.code(), "INVALID_VALUE");
}

#[test]
fn a_programme_cannot_be_defined_in_the_future() {
    let command = ProgrammeCommand::DefineProgramme {
        terms: cobi(12, 10),
        modules: vec![],
        occurred_at: now() + chrono::Duration::days(1),
    };
    let err = framework()
        .given_no_previous_events()
        .when(command)
        .inspect_result()
        .unwrap_err();
    assert_eq!(err.code(), "IN_FUTURE");
}
