use chrono::{DateTime, Duration, TimeZone, Utc};
use cqrs_es::test::TestFramework;

use super::*;
use crate::programme::{ProgrammeTerms, SkillsModule};
use crate::{DomainError, DomainServices, Sealed};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 1, 12, 0, 0).unwrap()
}

fn at(m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, m, d, 10, 0, 0).unwrap()
}

fn framework() -> TestFramework<Enrolment> {
    TestFramework::with(DomainServices::fixed(now()))
}

fn cobi() -> ProgrammeTerms {
    ProgrammeTerms {
        code: "COBI".into(),
        version: "2022".into(),
        planned_sessions: 12,
        min_attended_for_completion: 10,
    }
}

fn referred() -> Vec<EnrolmentEvent> {
    vec![EnrolmentEvent::Referred {
        subject_id: "S0001".into(),
        programme: cobi(),
        route: ReferralRoute::SpoRequirement,
        occurred_at: at(1, 2),
    }]
}

fn allocated() -> Vec<EnrolmentEvent> {
    let mut events = referred();
    events.push(EnrolmentEvent::SuitabilityAssessed {
        suitable: true,
        occurred_at: at(1, 9),
    });
    events.push(EnrolmentEvent::Allocated {
        practitioner: "bcp-01".into(),
        occurred_at: at(1, 12),
    });
    events
}

fn active() -> Vec<EnrolmentEvent> {
    let mut events = allocated();
    events.push(EnrolmentEvent::Started {
        occurred_at: at(1, 16),
    });
    events
}

fn paused() -> Vec<EnrolmentEvent> {
    let mut events = active();
    events.push(EnrolmentEvent::Paused {
        reason: None,
        occurred_at: at(2, 1),
    });
    events
}

fn scheduled(id: &str, number: u16, when: DateTime<Utc>) -> EnrolmentEvent {
    EnrolmentEvent::SessionScheduled {
        session_id: id.into(),
        number,
        scheduled_at: when,
        mode: SessionMode::InPerson,
        occurred_at: at(1, 16),
    }
}

fn recorded(id: &str, attendance: Attendance, when: DateTime<Utc>) -> EnrolmentEvent {
    EnrolmentEvent::AttendanceRecorded {
        session_id: id.into(),
        attendance,
        occurred_at: when,
    }
}

/// An active enrolment with session `s1` (number 1) scheduled on 16 January.
fn with_session() -> Vec<EnrolmentEvent> {
    let mut events = active();
    events.push(scheduled("s1", 1, at(1, 16)));
    events
}

fn with_attendance(attendance: Attendance) -> Vec<EnrolmentEvent> {
    let mut events = with_session();
    events.push(recorded("s1", attendance, at(1, 16)));
    events
}

/// An active enrolment whose sessions 1..=n were all attended.
fn attended(n: u16) -> Vec<EnrolmentEvent> {
    let mut events = active();
    for number in 1..=n {
        let id = format!("s{number}");
        let when = at(1, 16) + Duration::weeks(i64::from(number) - 1);
        events.push(scheduled(&id, number, when));
        events.push(recorded(&id, Attendance::Attended, when));
    }
    events
}

fn error_of(given: Vec<EnrolmentEvent>, command: EnrolmentCommand) -> DomainError {
    framework()
        .given(given)
        .when(command)
        .inspect_result()
        .expect_err("the command should have been refused")
}

fn accepts(given: Vec<EnrolmentEvent>, command: EnrolmentCommand) -> Vec<EnrolmentEvent> {
    framework()
        .given(given)
        .when(command)
        .inspect_result()
        .expect("the command should have been accepted")
}

fn schedule(id: &str, number: u16) -> EnrolmentCommand {
    EnrolmentCommand::ScheduleSession {
        session_id: id.into(),
        number,
        scheduled_at: at(1, 23),
        mode: SessionMode::Video,
        occurred_at: at(1, 16),
    }
}

fn record(id: &str, attendance: Attendance) -> EnrolmentCommand {
    EnrolmentCommand::RecordAttendance {
        session_id: id.into(),
        attendance,
        occurred_at: at(1, 16),
    }
}

fn resolve(resolution: AbsenceResolution) -> EnrolmentCommand {
    EnrolmentCommand::ResolveAbsence {
        session_id: "s1".into(),
        resolution,
        occurred_at: at(1, 20),
    }
}

fn chain() -> ChainAnalysis {
    ChainAnalysis {
        vulnerability: Sealed::plain("poor sleep"),
        prompting_event: Sealed::plain("saw a photo online"),
        trigger_category: TriggerCategory::OnlineContact,
        thoughts: Sealed::plain("they have moved on"),
        emotions: Sealed::plain("anger"),
        urges: Sealed::plain("to message"),
        action: Sealed::plain("drove past the house"),
        consequences: Sealed::plain("police warning"),
        alternative_skill: SkillsModule::DistressTolerance,
    }
}

fn concern(notify_probation: bool) -> EnrolmentEvent {
    EnrolmentEvent::ConcernRaised {
        concern_id: "K1".into(),
        session_id: "s1".into(),
        kind: ConcernKind::Risk,
        text: Sealed::plain("mentioned a new address"),
        notify_probation,
        occurred_at: at(1, 16),
    }
}

// --- lifecycle -------------------------------------------------------------------------------

#[test]
fn a_referral_opens_the_enrolment_with_the_programme_terms() {
    framework()
        .given_no_previous_events()
        .when(EnrolmentCommand::Refer {
            subject_id: "S0001".into(),
            programme: cobi(),
            route: ReferralRoute::SpoRequirement,
            occurred_at: at(1, 2),
        })
        .then_expect_events(referred());
}

#[test]
fn an_enrolment_is_referred_once_and_names_its_subject() {
    let refer = |subject: &str| EnrolmentCommand::Refer {
        subject_id: subject.into(),
        programme: cobi(),
        route: ReferralRoute::Voluntary,
        occurred_at: at(1, 2),
    };
    assert_eq!(
        error_of(referred(), refer("S0001")),
        DomainError::AlreadyRecorded { what: "enrolment" }
    );
    assert_eq!(error_of(vec![], refer(" ")).field(), "subject_id");
}

#[test]
fn the_lifecycle_runs_referred_assessed_allocated_active() {
    let events = accepts(
        referred(),
        EnrolmentCommand::AssessSuitability {
            suitable: true,
            occurred_at: at(1, 9),
        },
    );
    assert_eq!(events, allocated()[1..2].to_vec());
    let events = accepts(
        allocated()[..2].to_vec(),
        EnrolmentCommand::Allocate {
            practitioner: "bcp-01".into(),
            occurred_at: at(1, 12),
        },
    );
    assert_eq!(events, allocated()[2..].to_vec());
    let events = accepts(
        allocated(),
        EnrolmentCommand::Start {
            occurred_at: at(1, 16),
        },
    );
    assert_eq!(events, active()[3..].to_vec());
}

#[test]
fn an_unsuitable_assessment_closes_the_enrolment() {
    let mut closed = referred();
    closed.push(EnrolmentEvent::SuitabilityAssessed {
        suitable: false,
        occurred_at: at(1, 9),
    });
    assert_eq!(
        error_of(
            closed,
            EnrolmentCommand::Allocate {
                practitioner: "bcp-01".into(),
                occurred_at: at(1, 12)
            }
        ),
        DomainError::EnrolmentStatus {
            action: "allocate",
            status: "closed"
        }
    );
}

#[test]
fn steps_out_of_order_are_refused() {
    assert_eq!(
        error_of(
            referred(),
            EnrolmentCommand::Start {
                occurred_at: at(1, 16)
            }
        ),
        DomainError::EnrolmentStatus {
            action: "start",
            status: "referred"
        }
    );
    let err = error_of(
        referred(),
        EnrolmentCommand::AssessSuitability {
            suitable: true,
            occurred_at: at(1, 1),
        },
    );
    assert_eq!(err.code(), "OUT_OF_ORDER");
    let err = error_of(
        vec![],
        EnrolmentCommand::Start {
            occurred_at: at(1, 16),
        },
    );
    assert_eq!(err, DomainError::NotRecorded { what: "enrolment" });
}

#[test]
fn allocation_needs_a_practitioner() {
    let err = error_of(
        allocated()[..2].to_vec(),
        EnrolmentCommand::Allocate {
            practitioner: "".into(),
            occurred_at: at(1, 12),
        },
    );
    assert_eq!(err.field(), "practitioner");
}

#[test]
fn an_enrolment_pauses_and_resumes() {
    let events = accepts(
        active(),
        EnrolmentCommand::Pause {
            reason: Some(Sealed::plain("hospital stay")),
            occurred_at: at(2, 1),
        },
    );
    assert!(matches!(events[..], [EnrolmentEvent::Paused { .. }]));
    let events = accepts(
        paused(),
        EnrolmentCommand::Resume {
            occurred_at: at(2, 20),
        },
    );
    assert_eq!(
        events,
        vec![EnrolmentEvent::Resumed {
            occurred_at: at(2, 20)
        }]
    );
    assert_eq!(
        error_of(
            active(),
            EnrolmentCommand::Resume {
                occurred_at: at(2, 20)
            }
        )
        .code(),
        "ENROLMENT_STATUS"
    );
}

#[test]
fn completion_records_the_end_of_a_course_with_enough_sessions() {
    let events = accepts(
        attended(10),
        EnrolmentCommand::Complete {
            occurred_at: at(4, 20),
        },
    );
    assert_eq!(
        events,
        vec![EnrolmentEvent::Completed {
            occurred_at: at(4, 20)
        }]
    );
}

#[test]
fn completion_with_fewer_attended_sessions_than_required_is_refused() {
    assert_eq!(
        error_of(
            attended(9),
            EnrolmentCommand::Complete {
                occurred_at: at(4, 20)
            }
        ),
        DomainError::TooFewSessionsToComplete {
            attended: 9,
            required: 10
        }
    );
}

#[test]
fn a_withdrawal_for_another_reason_needs_its_text() {
    let withdraw = |reason, text: Option<&str>| EnrolmentCommand::Withdraw {
        reason,
        reason_text: text.map(Sealed::plain),
        occurred_at: at(2, 1),
    };
    let events = accepts(active(), withdraw(WithdrawalReason::NotEngaging, None));
    assert!(matches!(events[..], [EnrolmentEvent::Withdrawn { .. }]));
    assert_eq!(
        error_of(active(), withdraw(WithdrawalReason::Other, None)).field(),
        "reason_text"
    );
    assert_eq!(
        error_of(active(), withdraw(WithdrawalReason::Other, Some(" "))).field(),
        "reason_text"
    );
    assert!(!accepts(
        referred(),
        withdraw(WithdrawalReason::Other, Some("moved abroad"))
    )
    .is_empty());
}

#[test]
fn an_ended_enrolment_cannot_end_again() {
    let mut withdrawn = active();
    withdrawn.push(EnrolmentEvent::Withdrawn {
        reason: WithdrawalReason::ReturnedToCustody,
        reason_text: None,
        occurred_at: at(2, 1),
    });
    assert_eq!(
        error_of(
            withdrawn,
            EnrolmentCommand::Withdraw {
                reason: WithdrawalReason::NotEngaging,
                reason_text: None,
                occurred_at: at(2, 2)
            }
        ),
        DomainError::EnrolmentStatus {
            action: "withdraw",
            status: "withdrawn"
        }
    );
}

#[test]
fn a_fact_dated_in_the_future_is_refused() {
    let err = error_of(
        allocated(),
        EnrolmentCommand::Start {
            occurred_at: now() + Duration::minutes(5),
        },
    );
    assert_eq!(err.code(), "IN_FUTURE");
    assert_eq!(err.field(), "occurred_at");
}

// --- sessions --------------------------------------------------------------------------------

#[test]
fn a_session_is_scheduled_against_a_content_number() {
    let events = accepts(active(), schedule("s1", 1));
    assert_eq!(
        events,
        vec![EnrolmentEvent::SessionScheduled {
            session_id: "s1".into(),
            number: 1,
            scheduled_at: at(1, 23),
            mode: SessionMode::Video,
            occurred_at: at(1, 16),
        }]
    );
    assert_eq!(accepts(allocated(), schedule("s1", 1)).len(), 1);
}

#[test]
fn a_thirteenth_session_of_a_twelve_session_course_is_refused() {
    assert_eq!(
        error_of(active(), schedule("s13", 13)),
        DomainError::SessionNumberOutOfRange {
            number: 13,
            planned: 12
        }
    );
    assert_eq!(
        error_of(active(), schedule("s0", 0)).code(),
        "SESSION_NUMBER_OUT_OF_RANGE"
    );
}

#[test]
fn a_delivered_or_already_scheduled_number_cannot_be_scheduled_again() {
    assert_eq!(
        error_of(with_attendance(Attendance::Attended), schedule("s2", 1)),
        DomainError::SessionAlreadyDelivered { number: 1 }
    );
    assert_eq!(
        error_of(with_session(), schedule("s2", 1)),
        DomainError::SessionAlreadyScheduled { number: 1 }
    );
    assert_eq!(
        error_of(with_session(), schedule("s1", 2)),
        DomainError::AlreadyRecorded { what: "session id" }
    );
    // An absence leaves the content undelivered: it is scheduled again.
    assert_eq!(
        accepts(with_attendance(Attendance::Absent), schedule("s2", 1)).len(),
        1
    );
}

#[test]
fn a_session_while_the_enrolment_is_paused_or_ended_is_refused() {
    assert_eq!(
        error_of(paused(), schedule("s1", 1)),
        DomainError::EnrolmentStatus {
            action: "schedule a session",
            status: "paused"
        }
    );
    let mut paused_with_session = with_session();
    paused_with_session.push(EnrolmentEvent::Paused {
        reason: None,
        occurred_at: at(1, 17),
    });
    assert_eq!(
        error_of(paused_with_session, record("s1", Attendance::Attended)),
        DomainError::EnrolmentStatus {
            action: "record attendance",
            status: "paused"
        }
    );
    let mut completed = attended(10);
    completed.push(EnrolmentEvent::Completed {
        occurred_at: at(4, 20),
    });
    assert_eq!(
        error_of(completed, schedule("s11", 11)).code(),
        "ENROLMENT_STATUS"
    );
}

#[test]
fn rescheduling_supersedes_the_old_session_with_a_new_one() {
    let reschedule = EnrolmentCommand::RescheduleSession {
        session_id: "s1".into(),
        new_session_id: "s1b".into(),
        scheduled_at: at(1, 18),
        occurred_at: at(1, 15),
    };
    let events = accepts(with_session(), reschedule.clone());
    assert_eq!(
        events,
        vec![EnrolmentEvent::SessionRescheduled {
            session_id: "s1".into(),
            new_session_id: "s1b".into(),
            scheduled_at: at(1, 18),
            occurred_at: at(1, 15),
        }]
    );
    let mut moved = with_session();
    moved.extend(events);
    assert_eq!(
        error_of(moved.clone(), record("s1", Attendance::Attended)),
        DomainError::SessionNotOpen {
            session_id: "s1".into(),
            how: "rescheduled"
        }
    );
    let held = accepts(
        moved,
        EnrolmentCommand::RecordAttendance {
            session_id: "s1b".into(),
            attendance: Attendance::Attended,
            occurred_at: at(1, 18),
        },
    );
    assert_eq!(held.len(), 1);
    assert_eq!(
        error_of(vec![], reschedule).code(),
        "NOT_RECORDED",
        "nothing can be rescheduled before a referral"
    );
}

#[test]
fn a_session_cancelled_by_the_provider_cannot_take_attendance() {
    let cancel = EnrolmentCommand::CancelSession {
        session_id: "s1".into(),
        by: CancelledBy::Provider,
        reason: Sealed::plain("practitioner ill"),
        occurred_at: at(1, 15),
    };
    let events = accepts(with_session(), cancel);
    let mut cancelled = with_session();
    cancelled.extend(events);
    assert_eq!(
        error_of(cancelled.clone(), record("s1", Attendance::Attended)),
        DomainError::SessionNotOpen {
            session_id: "s1".into(),
            how: "cancelled"
        }
    );
    // The content is delivered by another session with the same number.
    assert_eq!(accepts(cancelled, schedule("s2", 1)).len(), 1);
}

#[test]
fn a_session_the_participant_calls_off_is_a_provisional_absence() {
    let mut called_off = with_session();
    called_off.push(EnrolmentEvent::SessionCancelled {
        session_id: "s1".into(),
        by: CancelledBy::Participant,
        reason: Sealed::plain("said they were unwell"),
        occurred_at: at(1, 15),
    });
    let events = accepts(
        called_off,
        resolve(AbsenceResolution::Acceptable {
            reason: AbsenceReason::Medical,
        }),
    );
    assert_eq!(events.len(), 1);
}

#[test]
fn cancelling_needs_a_reason_and_an_open_session() {
    let cancel = |reason: &str| EnrolmentCommand::CancelSession {
        session_id: "s1".into(),
        by: CancelledBy::Provider,
        reason: Sealed::plain(reason),
        occurred_at: at(1, 15),
    };
    assert_eq!(error_of(with_session(), cancel("")).field(), "reason");
    assert_eq!(
        error_of(with_attendance(Attendance::Attended), cancel("room")),
        DomainError::AttendanceAlreadyRecorded {
            session_id: "s1".into()
        }
    );
    assert_eq!(
        error_of(active(), cancel("room")),
        DomainError::UnknownSession {
            session_id: "s1".into()
        }
    );
}

#[test]
fn attendance_is_recorded_once_the_session_is_held() {
    assert_eq!(
        accepts(with_session(), record("s1", Attendance::Late)),
        vec![recorded("s1", Attendance::Late, at(1, 16))]
    );
    let early = EnrolmentCommand::RecordAttendance {
        session_id: "s1".into(),
        attendance: Attendance::Attended,
        occurred_at: at(1, 15),
    };
    assert_eq!(
        error_of(with_session(), early).code(),
        "SESSION_NOT_YET_HELD"
    );
    assert_eq!(
        error_of(
            with_attendance(Attendance::Attended),
            record("s1", Attendance::Late)
        ),
        DomainError::AttendanceAlreadyRecorded {
            session_id: "s1".into()
        }
    );
    assert_eq!(
        error_of(active(), record("s9", Attendance::Late)),
        DomainError::UnknownSession {
            session_id: "s9".into()
        }
    );
}

#[test]
fn a_provisional_absence_is_resolved_acceptable_or_unacceptable() {
    assert_eq!(
        accepts(
            with_attendance(Attendance::Absent),
            resolve(AbsenceResolution::Unacceptable)
        ),
        vec![EnrolmentEvent::AbsenceResolved {
            session_id: "s1".into(),
            resolution: AbsenceResolution::Unacceptable,
            occurred_at: at(1, 20),
        }]
    );
}

#[test]
fn resolving_an_absence_that_is_not_provisional_is_refused() {
    let mut resolved = with_attendance(Attendance::Absent);
    resolved.push(EnrolmentEvent::AbsenceResolved {
        session_id: "s1".into(),
        resolution: AbsenceResolution::Unacceptable,
        occurred_at: at(1, 20),
    });
    assert_eq!(
        error_of(
            resolved,
            resolve(AbsenceResolution::Acceptable {
                reason: AbsenceReason::Court
            })
        ),
        DomainError::AbsenceNotProvisional {
            session_id: "s1".into()
        }
    );
    assert_eq!(
        error_of(
            with_attendance(Attendance::Attended),
            resolve(AbsenceResolution::Unacceptable)
        ),
        DomainError::NotAnAbsence {
            session_id: "s1".into()
        }
    );
}

#[test]
fn a_correction_keeps_the_old_and_new_attendance_with_a_reason() {
    let correct = |attendance, reason: &str| EnrolmentCommand::CorrectAttendance {
        session_id: "s1".into(),
        attendance,
        reason: Sealed::plain(reason),
        occurred_at: at(1, 30),
    };
    assert_eq!(
        accepts(
            with_attendance(Attendance::Absent),
            correct(Attendance::Late, "register mis-keyed")
        ),
        vec![EnrolmentEvent::AttendanceCorrected {
            session_id: "s1".into(),
            previous: Attendance::Absent,
            corrected: Attendance::Late,
            reason: Sealed::plain("register mis-keyed"),
            occurred_at: at(1, 30),
        }]
    );
    assert_eq!(
        error_of(
            with_attendance(Attendance::Late),
            correct(Attendance::Late, "x")
        ),
        DomainError::CorrectionChangesNothing {
            field: "attendance"
        }
    );
    assert_eq!(
        error_of(
            with_attendance(Attendance::Late),
            correct(Attendance::Attended, "")
        )
        .field(),
        "reason"
    );
    assert_eq!(
        error_of(with_session(), correct(Attendance::Attended, "x")),
        DomainError::AttendanceNotRecorded {
            session_id: "s1".into()
        }
    );
}

#[test]
fn a_corrected_attendance_counts_towards_completion() {
    let mut events = attended(9);
    events.push(scheduled("s10", 10, at(4, 1)));
    events.push(recorded("s10", Attendance::Absent, at(4, 1)));
    events.push(EnrolmentEvent::AttendanceCorrected {
        session_id: "s10".into(),
        previous: Attendance::Absent,
        corrected: Attendance::Attended,
        reason: Sealed::plain("signed in late on paper"),
        occurred_at: at(4, 2),
    });
    assert_eq!(
        accepts(
            events,
            EnrolmentCommand::Complete {
                occurred_at: at(4, 20)
            }
        )
        .len(),
        1
    );
}

#[test]
fn session_content_is_recorded_for_an_attended_session_only() {
    let content = |engagement| SessionContent {
        modules_covered: vec![SkillsModule::Mindfulness],
        skills_practised: vec!["wise mind".into()],
        homework_set: Some(Sealed::plain("diary card daily")),
        diary_card_reviewed: true,
        engagement: Some(engagement),
        notes: None,
    };
    let command = |engagement| EnrolmentCommand::RecordSessionContent {
        session_id: "s1".into(),
        content: content(engagement),
        occurred_at: at(1, 16),
    };
    assert_eq!(
        accepts(with_attendance(Attendance::Attended), command(4)),
        vec![EnrolmentEvent::SessionContentRecorded {
            session_id: "s1".into(),
            content: content(4),
            occurred_at: at(1, 16),
        }]
    );
    assert_eq!(
        error_of(with_attendance(Attendance::Attended), command(6)).field(),
        "engagement"
    );
    assert_eq!(
        error_of(with_attendance(Attendance::SentHome), command(3)),
        DomainError::SessionNotHeld {
            session_id: "s1".into(),
            required: "attended"
        }
    );
}

// --- concerns, chain analyses, triggers, enforcement ----------------------------------------

#[test]
fn a_concern_is_raised_at_a_held_session_and_acknowledged_by_probation() {
    let raise = EnrolmentCommand::RaiseConcern {
        concern_id: "K1".into(),
        session_id: "s1".into(),
        kind: ConcernKind::Risk,
        text: Sealed::plain("mentioned a new address"),
        notify_probation: true,
        occurred_at: at(1, 16),
    };
    assert_eq!(
        accepts(with_attendance(Attendance::Attended), raise.clone()),
        vec![concern(true)]
    );
    assert_eq!(
        error_of(with_session(), raise).code(),
        "ATTENDANCE_NOT_RECORDED"
    );
    let mut raised = with_attendance(Attendance::Attended);
    raised.push(concern(true));
    let acknowledge = |on| EnrolmentCommand::AcknowledgeConcern {
        concern_id: "K1".into(),
        occurred_at: on,
    };
    assert_eq!(
        accepts(raised.clone(), acknowledge(at(1, 17))),
        vec![EnrolmentEvent::ConcernAcknowledged {
            concern_id: "K1".into(),
            occurred_at: at(1, 17)
        }]
    );
    assert_eq!(
        error_of(raised.clone(), acknowledge(at(1, 15))).code(),
        "OUT_OF_ORDER"
    );
    raised.push(EnrolmentEvent::ConcernAcknowledged {
        concern_id: "K1".into(),
        occurred_at: at(1, 17),
    });
    assert_eq!(
        error_of(raised, acknowledge(at(1, 18))),
        DomainError::AlreadyRecorded {
            what: "acknowledgement"
        }
    );
}

#[test]
fn a_concern_not_flagged_for_probation_cannot_be_acknowledged() {
    let mut raised = with_attendance(Attendance::Attended);
    raised.push(concern(false));
    assert_eq!(
        error_of(
            raised,
            EnrolmentCommand::AcknowledgeConcern {
                concern_id: "K1".into(),
                occurred_at: at(1, 17)
            }
        ),
        DomainError::ConcernNotEscalated {
            concern_id: "K1".into()
        }
    );
    assert_eq!(
        error_of(
            with_session(),
            EnrolmentCommand::AcknowledgeConcern {
                concern_id: "K9".into(),
                occurred_at: at(1, 17)
            }
        ),
        DomainError::NotRecorded { what: "concern" }
    );
}

#[test]
fn a_concern_needs_text_and_a_new_id() {
    let raise = |id: &str, text: &str| EnrolmentCommand::RaiseConcern {
        concern_id: id.into(),
        session_id: "s1".into(),
        kind: ConcernKind::Safeguarding,
        text: Sealed::plain(text),
        notify_probation: false,
        occurred_at: at(1, 16),
    };
    let mut raised = with_attendance(Attendance::Late);
    assert_eq!(error_of(raised.clone(), raise("K1", "")).field(), "text");
    raised.push(concern(false));
    assert_eq!(
        error_of(raised, raise("K1", "again")),
        DomainError::AlreadyRecorded { what: "concern" }
    );
}

#[test]
fn a_chain_analysis_is_recorded_while_the_course_runs() {
    let command = |id: &str, chain| EnrolmentCommand::RecordChainAnalysis {
        chain_id: id.into(),
        session_id: Some("s1".into()),
        chain,
        occurred_at: at(1, 16),
    };
    let events = accepts(with_session(), command("CA1", chain()));
    assert!(matches!(
        events[..],
        [EnrolmentEvent::ChainAnalysisRecorded { .. }]
    ));
    let mut recorded = with_session();
    recorded.extend(events);
    assert_eq!(
        error_of(recorded, command("CA1", chain())),
        DomainError::AlreadyRecorded {
            what: "chain analysis"
        }
    );
    let mut no_action = chain();
    no_action.action = Sealed::plain(" ");
    assert_eq!(
        error_of(with_session(), command("CA2", no_action)).field(),
        "action"
    );
    assert_eq!(
        error_of(allocated(), command("CA1", chain())).code(),
        "ENROLMENT_STATUS"
    );
}

#[test]
fn a_trigger_is_identified_and_gets_a_coping_plan() {
    let identify = EnrolmentCommand::IdentifyTrigger {
        trigger_id: "T1".into(),
        category: TriggerCategory::Anniversary,
        description: Sealed::plain("the date they separated"),
        occurred_at: at(1, 16),
    };
    let events = accepts(active(), identify.clone());
    let mut identified = active();
    identified.extend(events);
    assert_eq!(
        error_of(identified.clone(), identify),
        DomainError::AlreadyRecorded { what: "trigger" }
    );
    let plan = |id: &str, text: &str| EnrolmentCommand::RecordCopingPlan {
        trigger_id: id.into(),
        plan: Sealed::plain(text),
        occurred_at: at(1, 23),
    };
    assert_eq!(
        accepts(identified.clone(), plan("T1", "call sponsor; walk")),
        vec![EnrolmentEvent::CopingPlanRecorded {
            trigger_id: "T1".into(),
            plan: Sealed::plain("call sponsor; walk"),
            occurred_at: at(1, 23),
        }]
    );
    assert_eq!(
        error_of(identified.clone(), plan("T9", "x")),
        DomainError::NotRecorded { what: "trigger" }
    );
    assert_eq!(error_of(identified, plan("T1", "")).field(), "plan");
}

#[test]
fn enforcement_actions_are_recorded_once_the_course_has_started() {
    let action = |action| EnrolmentCommand::RecordEnforcementAction {
        action,
        note: None,
        occurred_at: at(2, 2),
    };
    assert_eq!(
        accepts(active(), action(EnforcementAction::Warning)),
        vec![EnrolmentEvent::EnforcementActionRecorded {
            action: EnforcementAction::Warning,
            note: None,
            occurred_at: at(2, 2),
        }]
    );
    assert_eq!(
        accepts(paused(), action(EnforcementAction::BreachConcluded)).len(),
        1
    );
    assert_eq!(
        error_of(allocated(), action(EnforcementAction::Warning)),
        DomainError::EnrolmentStatus {
            action: "record an enforcement action",
            status: "allocated"
        }
    );
}

// --- remaining rejections -------------------------------------------------------------------

#[test]
fn pausing_needs_a_running_course_and_completion_an_active_one() {
    assert_eq!(
        error_of(
            paused(),
            EnrolmentCommand::Pause {
                reason: None,
                occurred_at: at(2, 2)
            }
        ),
        DomainError::EnrolmentStatus {
            action: "pause",
            status: "paused"
        }
    );
    assert_eq!(
        error_of(
            paused(),
            EnrolmentCommand::Complete {
                occurred_at: at(4, 20)
            }
        ),
        DomainError::EnrolmentStatus {
            action: "complete",
            status: "paused"
        }
    );
}

#[test]
fn a_session_id_must_not_be_blank() {
    assert_eq!(error_of(active(), schedule(" ", 1)).field(), "session_id");
}

#[test]
fn only_a_session_waiting_to_be_held_can_be_rescheduled() {
    let mut cancelled = with_session();
    cancelled.push(EnrolmentEvent::SessionCancelled {
        session_id: "s1".into(),
        by: CancelledBy::Provider,
        reason: Sealed::plain("room"),
        occurred_at: at(1, 15),
    });
    let reschedule = |new_id: &str| EnrolmentCommand::RescheduleSession {
        session_id: "s1".into(),
        new_session_id: new_id.into(),
        scheduled_at: at(1, 20),
        occurred_at: at(1, 15),
    };
    assert_eq!(
        error_of(cancelled, reschedule("s1b")),
        DomainError::SessionNotOpen {
            session_id: "s1".into(),
            how: "cancelled"
        }
    );
    assert_eq!(
        error_of(with_session(), reschedule("s1")),
        DomainError::AlreadyRecorded { what: "session id" }
    );
    // Moving a session is allowed during a pause.
    let mut paused_with_session = with_session();
    paused_with_session.push(EnrolmentEvent::Paused {
        reason: None,
        occurred_at: at(1, 15),
    });
    assert_eq!(accepts(paused_with_session, reschedule("s1b")).len(), 1);
}

#[test]
fn resolving_an_absence_of_an_unknown_session_is_refused() {
    assert_eq!(
        error_of(active(), resolve(AbsenceResolution::Unacceptable)),
        DomainError::UnknownSession {
            session_id: "s1".into()
        }
    );
}

#[test]
fn skills_practised_must_not_contain_blank_entries() {
    let err = error_of(
        with_attendance(Attendance::Attended),
        EnrolmentCommand::RecordSessionContent {
            session_id: "s1".into(),
            content: SessionContent {
                modules_covered: vec![],
                skills_practised: vec!["".into()],
                homework_set: None,
                diary_card_reviewed: false,
                engagement: None,
                notes: None,
            },
            occurred_at: at(1, 16),
        },
    );
    assert_eq!(err.field(), "skills_practised");
}

#[test]
fn a_concern_must_name_a_known_session() {
    let err = error_of(
        active(),
        EnrolmentCommand::RaiseConcern {
            concern_id: "K1".into(),
            session_id: "s9".into(),
            kind: ConcernKind::Behaviour,
            text: Sealed::plain("x"),
            notify_probation: true,
            occurred_at: at(1, 16),
        },
    );
    assert_eq!(
        err,
        DomainError::UnknownSession {
            session_id: "s9".into()
        }
    );
}

#[test]
fn a_chain_analysis_needs_a_prompting_event_and_a_known_session() {
    let mut no_trigger = chain();
    no_trigger.prompting_event = Sealed::plain("");
    let command = |session: &str, chain| EnrolmentCommand::RecordChainAnalysis {
        chain_id: "CA1".into(),
        session_id: Some(session.into()),
        chain,
        occurred_at: at(1, 16),
    };
    assert_eq!(
        error_of(with_session(), command("s1", no_trigger)).field(),
        "prompting_event"
    );
    assert_eq!(
        error_of(with_session(), command("s9", chain())),
        DomainError::UnknownSession {
            session_id: "s9".into()
        }
    );
}

#[test]
fn a_trigger_is_identified_only_while_the_course_runs_and_needs_a_description() {
    let identify = |text: &str| EnrolmentCommand::IdentifyTrigger {
        trigger_id: "T1".into(),
        category: TriggerCategory::Grievance,
        description: Sealed::plain(text),
        occurred_at: at(2, 2),
    };
    assert_eq!(error_of(active(), identify("")).field(), "description");
    assert_eq!(
        error_of(paused(), identify("x")),
        DomainError::EnrolmentStatus {
            action: "identify a trigger",
            status: "paused"
        }
    );
}
