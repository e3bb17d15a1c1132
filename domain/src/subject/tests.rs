use chrono::{DateTime, Duration, TimeZone, Utc};
use cqrs_es::test::TestFramework;

use super::*;
use crate::{DomainError, DomainServices, Sealed};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 1, 12, 0, 0).unwrap()
}

fn day(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
}

fn framework() -> TestFramework<Subject> {
    TestFramework::with(DomainServices::fixed(now()))
}

fn sussex_man() -> Demographics {
    Demographics {
        birth_year: 1984,
        sex: Sex::Male,
        area: "Sussex".into(),
    }
}

fn registered() -> SubjectEvent {
    SubjectEvent::SubjectRegistered {
        demographics: sussex_man(),
        occurred_at: day(2024, 1, 2),
    }
}

fn srp() -> RiskAssessment {
    RiskAssessment::Srp {
        stalker_type: StalkerType::Rejected,
        ratings: SrpRatings {
            violence: Rating::High,
            persistence: Rating::Moderate,
            recurrence: Rating::High,
            psychosocial_damage: Rating::Low,
        },
    }
}

fn offence_recorded() -> SubjectEvent {
    SubjectEvent::OffenceRecorded {
        offence_id: "F1".into(),
        category: OffenceCategory::StalkingHarassment,
        occurred_at: day(2024, 3, 1),
    }
}

fn error_of(given: Vec<SubjectEvent>, command: SubjectCommand) -> DomainError {
    framework()
        .given(given)
        .when(command)
        .inspect_result()
        .expect_err("the command should have been refused")
}

#[test]
fn registering_a_subject_records_only_minimal_demographics() {
    framework()
        .given_no_previous_events()
        .when(SubjectCommand::RegisterSubject {
            demographics: sussex_man(),
            occurred_at: day(2024, 1, 2),
        })
        .then_expect_events(vec![registered()]);
}

#[test]
fn a_subject_is_registered_once() {
    let err = error_of(
        vec![registered()],
        SubjectCommand::RegisterSubject {
            demographics: sussex_man(),
            occurred_at: day(2024, 1, 2),
        },
    );
    assert_eq!(err, DomainError::AlreadyRecorded { what: "subject" });
}

#[test]
fn a_birth_year_under_the_age_of_criminal_responsibility_is_refused() {
    let mut child = sussex_man();
    child.birth_year = 2020;
    let err = error_of(
        vec![],
        SubjectCommand::RegisterSubject {
            demographics: child,
            occurred_at: day(2024, 1, 2),
        },
    );
    assert_eq!(err.field(), "birth_year");
}

#[test]
fn a_blank_area_is_refused() {
    let mut nowhere = sussex_man();
    nowhere.area = "".into();
    let err = error_of(
        vec![],
        SubjectCommand::RegisterSubject {
            demographics: nowhere,
            occurred_at: day(2024, 1, 2),
        },
    );
    assert_eq!(err.field(), "area");
}

#[test]
fn a_correction_keeps_the_previous_and_the_corrected_values() {
    let mut corrected = sussex_man();
    corrected.birth_year = 1985;
    framework()
        .given(vec![registered()])
        .when(SubjectCommand::CorrectDemographics {
            corrected: corrected.clone(),
            reason: Sealed::plain("birth year mistyped at referral"),
            occurred_at: day(2024, 2, 1),
        })
        .then_expect_events(vec![SubjectEvent::DemographicsCorrected {
            previous: sussex_man(),
            corrected,
            reason: Sealed::plain("birth year mistyped at referral"),
            occurred_at: day(2024, 2, 1),
        }]);
}

#[test]
fn a_correction_needs_a_reason_and_a_change() {
    let mut corrected = sussex_man();
    corrected.area = "Kent".into();
    let err = error_of(
        vec![registered()],
        SubjectCommand::CorrectDemographics {
            corrected,
            reason: Sealed::plain("  "),
            occurred_at: day(2024, 2, 1),
        },
    );
    assert_eq!(err.field(), "reason");
    let err = error_of(
        vec![registered()],
        SubjectCommand::CorrectDemographics {
            corrected: sussex_man(),
            reason: Sealed::plain("checked"),
            occurred_at: day(2024, 2, 1),
        },
    );
    assert_eq!(
        err,
        DomainError::CorrectionChangesNothing {
            field: "demographics"
        }
    );
}

#[test]
fn a_risk_assessment_records_ratings_with_assessor_and_tool_version() {
    framework()
        .given(vec![registered()])
        .when(SubjectCommand::RecordRiskAssessment {
            assessment: srp(),
            tool_version: "2".into(),
            assessor: "psy-01".into(),
            occurred_at: day(2024, 1, 8),
        })
        .then_expect_events(vec![SubjectEvent::RiskAssessed {
            assessment: srp(),
            tool_version: "2".into(),
            assessor: "psy-01".into(),
            occurred_at: day(2024, 1, 8),
        }]);
}

#[test]
fn a_risk_assessment_needs_a_registered_subject_and_an_assessor() {
    let command = |assessor: &str| SubjectCommand::RecordRiskAssessment {
        assessment: srp(),
        tool_version: "2".into(),
        assessor: assessor.into(),
        occurred_at: day(2024, 1, 8),
    };
    assert_eq!(
        error_of(vec![], command("psy-01")),
        DomainError::NotRecorded { what: "subject" }
    );
    assert_eq!(
        error_of(vec![registered()], command("")).field(),
        "assessor"
    );
}

#[test]
fn an_s_dash_count_above_its_question_count_is_refused() {
    let err = error_of(
        vec![registered()],
        SubjectCommand::RecordRiskAssessment {
            assessment: RiskAssessment::SDash { yes_count: 25 },
            tool_version: "2009".into(),
            assessor: "om-01".into(),
            occurred_at: day(2024, 1, 8),
        },
    );
    assert_eq!(err.field(), "yes_count");
}

#[test]
fn an_offence_is_recorded_then_proven() {
    framework()
        .given(vec![registered()])
        .when(SubjectCommand::RecordOffence {
            offence_id: "F1".into(),
            category: OffenceCategory::StalkingHarassment,
            occurred_at: day(2024, 3, 1),
        })
        .then_expect_events(vec![offence_recorded()]);
    framework()
        .given(vec![registered(), offence_recorded()])
        .when(SubjectCommand::RecordOffenceProven {
            offence_id: "F1".into(),
            disposal: OffenceDisposal::Conviction,
            occurred_at: day(2024, 5, 1),
        })
        .then_expect_events(vec![SubjectEvent::OffenceProven {
            offence_id: "F1".into(),
            disposal: OffenceDisposal::Conviction,
            occurred_at: day(2024, 5, 1),
        }]);
}

#[test]
fn an_offence_id_is_recorded_once() {
    let err = error_of(
        vec![registered(), offence_recorded()],
        SubjectCommand::RecordOffence {
            offence_id: "F1".into(),
            category: OffenceCategory::Violence,
            occurred_at: day(2024, 3, 2),
        },
    );
    assert_eq!(err, DomainError::AlreadyRecorded { what: "offence" });
}

#[test]
fn proof_cannot_come_before_the_offence_nor_twice_nor_for_an_unknown_offence() {
    let prove = |id: &str, at| SubjectCommand::RecordOffenceProven {
        offence_id: id.into(),
        disposal: OffenceDisposal::Caution,
        occurred_at: at,
    };
    let err = error_of(
        vec![registered(), offence_recorded()],
        prove("F1", day(2024, 2, 1)),
    );
    assert_eq!(err.code(), "OUT_OF_ORDER");
    let proven = SubjectEvent::OffenceProven {
        offence_id: "F1".into(),
        disposal: OffenceDisposal::Caution,
        occurred_at: day(2024, 4, 1),
    };
    let err = error_of(
        vec![registered(), offence_recorded(), proven],
        prove("F1", day(2024, 5, 1)),
    );
    assert_eq!(
        err,
        DomainError::OffenceAlreadyProven {
            offence_id: "F1".into()
        }
    );
    let err = error_of(vec![registered()], prove("F9", day(2024, 5, 1)));
    assert_eq!(err, DomainError::NotRecorded { what: "offence" });
}

#[test]
fn an_offence_dated_in_the_future_is_refused() {
    let err = error_of(
        vec![registered()],
        SubjectCommand::RecordOffence {
            offence_id: "F2".into(),
            category: OffenceCategory::Other,
            occurred_at: now() + Duration::hours(1),
        },
    );
    assert_eq!(err.code(), "IN_FUTURE");
}

#[test]
fn a_correction_needs_a_registered_subject_and_valid_values() {
    let correct = |birth_year| SubjectCommand::CorrectDemographics {
        corrected: Demographics {
            birth_year,
            ..sussex_man()
        },
        reason: Sealed::plain("checked the PNC printout"),
        occurred_at: day(2024, 2, 1),
    };
    assert_eq!(
        error_of(vec![], correct(1985)),
        DomainError::NotRecorded { what: "subject" }
    );
    assert_eq!(
        error_of(vec![registered()], correct(1850)).field(),
        "birth_year"
    );
}

#[test]
fn a_risk_assessment_needs_its_tool_version() {
    let err = error_of(
        vec![registered()],
        SubjectCommand::RecordRiskAssessment {
            assessment: srp(),
            tool_version: " ".into(),
            assessor: "psy-01".into(),
            occurred_at: day(2024, 1, 8),
        },
    );
    assert_eq!(err.field(), "tool_version");
}

#[test]
fn an_offence_needs_a_registered_subject_and_an_id() {
    let record = |id: &str| SubjectCommand::RecordOffence {
        offence_id: id.into(),
        category: OffenceCategory::Other,
        occurred_at: day(2024, 3, 1),
    };
    assert_eq!(
        error_of(vec![], record("F1")),
        DomainError::NotRecorded { what: "subject" }
    );
    assert_eq!(
        error_of(vec![registered()], record("")).field(),
        "offence_id"
    );
}

#[test]
fn an_offender_manager_is_allocated_to_a_registered_subject() {
    let allocate = |officer: &str| SubjectCommand::AllocateOffenderManager {
        officer: officer.into(),
        occurred_at: day(2024, 1, 3),
    };
    framework()
        .given(vec![registered()])
        .when(allocate("om-07"))
        .then_expect_events(vec![SubjectEvent::OffenderManagerAllocated {
            officer: "om-07".into(),
            occurred_at: day(2024, 1, 3),
        }]);
    assert_eq!(
        error_of(vec![registered()], allocate(" ")).field(),
        "officer"
    );
    assert_eq!(
        error_of(vec![], allocate("om-07")),
        DomainError::NotRecorded { what: "subject" }
    );
    let allocated = SubjectEvent::OffenderManagerAllocated {
        officer: "om-07".into(),
        occurred_at: day(2024, 1, 3),
    };
    assert_eq!(
        error_of(vec![registered(), allocated], allocate("om-07")).code(),
        "ALREADY_RECORDED"
    );
}

#[test]
fn an_erased_subject_takes_no_further_facts() {
    let erase = SubjectCommand::EraseSubject {
        reason: "request under Article 17, ref 2024/31".into(),
        occurred_at: day(2024, 5, 1),
    };
    framework()
        .given(vec![registered()])
        .when(erase.clone())
        .then_expect_events(vec![SubjectEvent::SubjectErased {
            reason: "request under Article 17, ref 2024/31".into(),
            occurred_at: day(2024, 5, 1),
        }]);
    let erased = SubjectEvent::SubjectErased {
        reason: "r".into(),
        occurred_at: day(2024, 5, 1),
    };
    assert_eq!(
        error_of(vec![registered(), erased], erase),
        DomainError::SubjectErased
    );
    let blank = SubjectCommand::EraseSubject {
        reason: " ".into(),
        occurred_at: day(2024, 5, 1),
    };
    assert_eq!(error_of(vec![registered()], blank).field(), "reason");
}
