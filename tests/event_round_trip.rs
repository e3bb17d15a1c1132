//! Every event type survives the trip into PostgreSQL and back, with its metadata.

mod common;

use std::collections::BTreeSet;

use chrono::{Duration, NaiveDate};
use common::{day, meta, scenario, write_side, TestDb};
use cqrs_es::DomainEvent;
use desist_domain::enrolment::*;
use desist_domain::programme::{ProgrammeEvent, SkillsModule};
use desist_domain::protection_order::*;
use desist_domain::subject::*;
use desist_domain::{Role, Sealed};
use desist_store::feed::FeedEvent;
use desist_store::FeedPosition;
use serde_json::Value;

const ALL_EVENT_TYPES: &[&str] = &[
    "ProgrammeDefined",
    "SubjectRegistered",
    "DemographicsCorrected",
    "OffenderManagerAllocated",
    "SubjectErased",
    "RiskAssessed",
    "OffenceRecorded",
    "OffenceProven",
    "Referred",
    "SuitabilityAssessed",
    "Allocated",
    "Started",
    "Paused",
    "Resumed",
    "SessionScheduled",
    "SessionRescheduled",
    "SessionCancelled",
    "AttendanceRecorded",
    "AbsenceResolved",
    "AttendanceCorrected",
    "SessionContentRecorded",
    "ConcernRaised",
    "ConcernAcknowledged",
    "ChainAnalysisRecorded",
    "TriggerIdentified",
    "CopingPlanRecorded",
    "EnforcementActionRecorded",
    "Completed",
    "Withdrawn",
    "OrderMade",
    "ConditionImposed",
    "OrderVaried",
    "ConditionChanged",
    "ConditionRemoved",
    "OrderServed",
    "NotificationGiven",
    "OrderRenewed",
    "OrderDischarged",
    "AppealDetermined",
    "BreachReported",
    "BreachAssessed",
    "BreachOutcomeRecorded",
];

fn date(m: u32, d: u32) -> NaiveDate {
    day(m, d).date_naive()
}

async fn record_subject_history(ws: &desist_api::WriteSide) {
    let s = &ws.subjects;
    let m = || meta(Role::Admin);
    let commands = vec![
        SubjectCommand::AllocateOffenderManager {
            officer: "om-07".into(),
            occurred_at: day(1, 3),
        },
        SubjectCommand::CorrectDemographics {
            corrected: Demographics {
                birth_year: 1985,
                sex: Sex::Male,
                area: "Sussex".into(),
            },
            reason: Sealed::plain("birth year mistyped"),
            occurred_at: day(1, 4),
        },
        SubjectCommand::RecordRiskAssessment {
            assessment: RiskAssessment::Srp {
                stalker_type: StalkerType::Rejected,
                ratings: SrpRatings {
                    violence: Rating::High,
                    persistence: Rating::Moderate,
                    recurrence: Rating::High,
                    psychosocial_damage: Rating::Low,
                },
            },
            tool_version: "2".into(),
            assessor: "psy-01".into(),
            occurred_at: day(1, 8),
        },
        SubjectCommand::RecordOffence {
            offence_id: "F1".into(),
            category: OffenceCategory::SpoBreach,
            occurred_at: day(3, 1),
        },
        SubjectCommand::RecordOffenceProven {
            offence_id: "F1".into(),
            disposal: OffenceDisposal::Conviction,
            occurred_at: day(5, 1),
        },
    ];
    for command in commands {
        s.execute("S1", command, &m())
            .await
            .expect("subject command");
    }
}

async fn record_course(ws: &desist_api::WriteSide) {
    let e = |command| async {
        ws.enrolments
            .execute("E1", command, &meta(Role::Therapist))
            .await
    };
    let session_at = |n: u16| day(1, 16) + Duration::weeks(i64::from(n) - 1);
    // Session 1: rescheduled, then held late with content, a concern and a chain analysis.
    e(EnrolmentCommand::ScheduleSession {
        session_id: "s1".into(),
        number: 1,
        scheduled_at: session_at(1),
        mode: SessionMode::InPerson,
        occurred_at: day(1, 16),
    })
    .await
    .unwrap();
    e(EnrolmentCommand::RescheduleSession {
        session_id: "s1".into(),
        new_session_id: "s1b".into(),
        scheduled_at: session_at(1) + Duration::hours(2),
        occurred_at: day(1, 16),
    })
    .await
    .unwrap();
    e(EnrolmentCommand::RecordAttendance {
        session_id: "s1b".into(),
        attendance: Attendance::Late,
        occurred_at: session_at(1) + Duration::hours(2),
    })
    .await
    .unwrap();
    e(EnrolmentCommand::RecordSessionContent {
        session_id: "s1b".into(),
        content: SessionContent {
            modules_covered: vec![SkillsModule::Mindfulness],
            skills_practised: vec!["observe".into()],
            homework_set: Some(Sealed::plain("diary card")),
            diary_card_reviewed: false,
            engagement: Some(3),
            notes: Some(Sealed::plain("guarded")),
        },
        occurred_at: day(1, 17),
    })
    .await
    .unwrap();
    e(EnrolmentCommand::RaiseConcern {
        concern_id: "K1".into(),
        session_id: "s1b".into(),
        kind: ConcernKind::Risk,
        text: Sealed::plain("mentioned driving past"),
        notify_probation: true,
        occurred_at: day(1, 17),
    })
    .await
    .unwrap();
    e(EnrolmentCommand::AcknowledgeConcern {
        concern_id: "K1".into(),
        occurred_at: day(1, 18),
    })
    .await
    .unwrap();
    e(EnrolmentCommand::RecordChainAnalysis {
        chain_id: "CA1".into(),
        session_id: Some("s1b".into()),
        chain: ChainAnalysis {
            vulnerability: Sealed::plain("no sleep"),
            prompting_event: Sealed::plain("anniversary"),
            trigger_category: TriggerCategory::Anniversary,
            thoughts: Sealed::plain("unfair"),
            emotions: Sealed::plain("grief"),
            urges: Sealed::plain("to call"),
            action: Sealed::plain("called"),
            consequences: Sealed::plain("arrest"),
            alternative_skill: SkillsModule::DistressTolerance,
        },
        occurred_at: day(1, 17),
    })
    .await
    .unwrap();
    e(EnrolmentCommand::IdentifyTrigger {
        trigger_id: "T1".into(),
        category: TriggerCategory::Anniversary,
        description: Sealed::plain("the separation date"),
        occurred_at: day(1, 17),
    })
    .await
    .unwrap();
    e(EnrolmentCommand::RecordCopingPlan {
        trigger_id: "T1".into(),
        plan: Sealed::plain("plan the day with a friend"),
        occurred_at: day(1, 24),
    })
    .await
    .unwrap();
    // Session 2: absent, resolved unacceptable, a warning; then cancelled and delivered later.
    e(EnrolmentCommand::ScheduleSession {
        session_id: "s2".into(),
        number: 2,
        scheduled_at: session_at(2),
        mode: SessionMode::Video,
        occurred_at: day(1, 16),
    })
    .await
    .unwrap();
    e(EnrolmentCommand::RecordAttendance {
        session_id: "s2".into(),
        attendance: Attendance::Absent,
        occurred_at: session_at(2),
    })
    .await
    .unwrap();
    e(EnrolmentCommand::ResolveAbsence {
        session_id: "s2".into(),
        resolution: AbsenceResolution::Unacceptable,
        occurred_at: session_at(2) + Duration::days(2),
    })
    .await
    .unwrap();
    e(EnrolmentCommand::RecordEnforcementAction {
        action: EnforcementAction::Warning,
        note: None,
        occurred_at: session_at(2) + Duration::days(3),
    })
    .await
    .unwrap();
    e(EnrolmentCommand::ScheduleSession {
        session_id: "s2b".into(),
        number: 2,
        scheduled_at: session_at(3),
        mode: SessionMode::Phone,
        occurred_at: day(1, 31),
    })
    .await
    .unwrap();
    e(EnrolmentCommand::CancelSession {
        session_id: "s2b".into(),
        by: CancelledBy::Provider,
        reason: Sealed::plain("room unavailable"),
        occurred_at: session_at(3) - Duration::days(1),
    })
    .await
    .unwrap();
    e(EnrolmentCommand::Pause {
        reason: Some(Sealed::plain("hospital")),
        occurred_at: day(2, 5),
    })
    .await
    .unwrap();
    e(EnrolmentCommand::Resume {
        occurred_at: day(2, 12),
    })
    .await
    .unwrap();
    // Sessions 2..=11 attended (session 2 recorded absent first, then corrected).
    for n in 2..=11u16 {
        let id = format!("r{n}");
        let when = day(2, 12) + Duration::weeks(i64::from(n) - 2);
        e(EnrolmentCommand::ScheduleSession {
            session_id: id.clone(),
            number: n,
            scheduled_at: when,
            mode: SessionMode::InPerson,
            occurred_at: day(2, 12),
        })
        .await
        .unwrap();
        let first = if n == 2 {
            Attendance::Absent
        } else {
            Attendance::Attended
        };
        e(EnrolmentCommand::RecordAttendance {
            session_id: id.clone(),
            attendance: first,
            occurred_at: when,
        })
        .await
        .unwrap();
    }
    e(EnrolmentCommand::CorrectAttendance {
        session_id: "r2".into(),
        attendance: Attendance::Attended,
        reason: Sealed::plain("paper register shows attendance"),
        occurred_at: day(5, 1),
    })
    .await
    .unwrap();
    e(EnrolmentCommand::Complete {
        occurred_at: day(5, 2),
    })
    .await
    .unwrap();
}

async fn record_order(ws: &desist_api::WriteSide) {
    let condition = |id: &str, category| ConditionTerms {
        condition_id: id.into(),
        kind: ConditionKind::Prohibition,
        category,
        from: date(1, 10),
        until: None,
        description: Some(Sealed::plain("must not contact V-19ac")),
    };
    ws.make_order(
        "O1",
        OrderCommand::MakeOrder {
            subject_id: "S1".into(),
            kind: OrderKind::Interim,
            ends_on: Some(date(7, 10)),
            conditions: vec![
                condition("C1", ConditionCategory::NoContact),
                condition("C2", ConditionCategory::ExclusionZone),
            ],
            occurred_at: day(1, 10),
        },
        &meta(Role::PoliceSpoOfficer),
    )
    .await
    .unwrap();
    let mut zone = condition("C2", ConditionCategory::ExclusionZone);
    zone.from = date(2, 1);
    let commands = vec![
        OrderCommand::ServeOrder {
            occurred_at: day(1, 11),
        },
        OrderCommand::GiveNotification {
            kind: NotificationKind::Initial,
            occurred_at: day(1, 12),
        },
        OrderCommand::VaryOrder {
            changes: vec![
                ConditionChange::Change { condition: zone },
                ConditionChange::Remove {
                    condition_id: "C1".into(),
                },
                ConditionChange::Add {
                    condition: ConditionTerms {
                        from: date(2, 1),
                        ..condition("C3", ConditionCategory::NoOnlineContact)
                    },
                },
            ],
            occurred_at: day(2, 1),
        },
        OrderCommand::ReportBreach {
            breach_id: "B1".into(),
            condition_id: "C3".into(),
            occurred_on: date(3, 1),
            description: Some(Sealed::plain("messages from a new account")),
            occurred_at: day(3, 2),
        },
        OrderCommand::AssessBreach {
            breach_id: "B1".into(),
            reasonable_excuse: false,
            occurred_at: day(3, 3),
        },
        OrderCommand::RecordBreachOutcome {
            breach_id: "B1".into(),
            decision: BreachDecision::Charged,
            decided_by: DecidedBy::Cps,
            occurred_at: day(4, 1),
        },
        OrderCommand::RenewOrder {
            ends_on: Some(date(9, 10)),
            occurred_at: day(4, 2),
        },
        OrderCommand::DetermineAppeal {
            outcome: AppealOutcome::Dismissed,
            occurred_at: day(4, 20),
        },
        OrderCommand::DischargeOrder {
            occurred_at: day(5, 20),
        },
    ];
    for command in commands {
        ws.orders
            .execute("O1", command, &meta(Role::PoliceSpoOfficer))
            .await
            .expect("order command");
    }
}

/// Reads the stored payload back as the aggregate's event type and writes it out again.
fn reserialise(event: &FeedEvent) -> (String, String, Value) {
    fn again<E: DomainEvent>(payload: &Value) -> (String, String, Value) {
        let event: E = serde_json::from_value(payload.clone()).expect("payload deserialises");
        let json = serde_json::to_value(&event).expect("serialises");
        (event.event_type(), event.event_version(), json)
    }
    match event.aggregate_type.as_str() {
        "Programme" => again::<ProgrammeEvent>(&event.payload),
        "Subject" => again::<SubjectEvent>(&event.payload),
        "Enrolment" => again::<EnrolmentEvent>(&event.payload),
        "ProtectionOrder" => again::<OrderEvent>(&event.payload),
        other => panic!("unknown aggregate type {other}"),
    }
}

#[tokio::test]
async fn every_event_type_round_trips_with_its_metadata() {
    let db = TestDb::new().await;
    let ws = write_side(&db);
    scenario::cobi_2022(&ws).await;
    scenario::subject(&ws, "S1").await;
    record_subject_history(&ws).await;
    scenario::active_enrolment(&ws, "S1", "E1").await;
    record_course(&ws).await;
    scenario::active_enrolment(&ws, "S1", "E2").await;
    ws.enrolments
        .execute(
            "E2",
            EnrolmentCommand::Withdraw {
                reason: WithdrawalReason::Other,
                reason_text: Some(Sealed::plain("emigrated")),
                occurred_at: day(2, 1),
            },
            &meta(Role::ProbationOfficer),
        )
        .await
        .unwrap();
    record_order(&ws).await;
    scenario::subject(&ws, "S2").await;
    ws.subjects
        .execute(
            "S2",
            SubjectCommand::EraseSubject {
                reason: "request 2024/7".into(),
                occurred_at: day(5, 30),
            },
            &meta(Role::Admin),
        )
        .await
        .unwrap();

    let written: i64 = desist_store::db::query_scalar("SELECT count(*) FROM events")
        .fetch_one(db.store.db())
        .await
        .unwrap();
    let events = common::feed_at_least(&db.store, FeedPosition::START, written as usize).await;
    assert_eq!(events.len() as i64, written, "the feed returns every event");
    let mut seen = BTreeSet::new();
    for event in &events {
        let (event_type, version, json) = reserialise(event);
        assert_eq!(event_type, event.event_type, "{event:?}");
        assert_eq!(version, event.event_version);
        assert_eq!(json, event.payload, "payload changed on the round trip");
        let body = event.payload.as_object().and_then(|o| o.values().next());
        assert!(
            body.and_then(|b| b.get("occurred_at")).is_some(),
            "{} has no occurred_at",
            event.event_type
        );
        for key in [
            "command_id",
            "command",
            "correlation_id",
            "actor_id",
            "actor_role",
            "agency",
        ] {
            assert!(
                event.metadata.get(key).and_then(Value::as_str).is_some(),
                "{} lacks metadata {key}",
                event.event_type
            );
        }
        assert!(!event.event_id.is_empty());
        seen.insert(event.event_type.clone());
    }
    let expected: BTreeSet<String> = ALL_EVENT_TYPES.iter().map(|s| s.to_string()).collect();
    let missing: Vec<_> = expected.difference(&seen).collect();
    assert!(missing.is_empty(), "event types never written: {missing:?}");

    // Aggregates load back to the state the events describe.
    let enrolment = ws.enrolments.load("E1").await.unwrap();
    assert_eq!(enrolment.status, Some(EnrolmentStatus::Completed));
    assert_eq!(enrolment.sessions_attended(), 11);
    let order = ws.orders.load("O1").await.unwrap();
    assert_eq!(order.discharged_on, Some(date(5, 20)));
    assert!(order.conditions["C1"].in_force_on(date(1, 31)));
    assert!(!order.conditions["C1"].in_force_on(date(2, 1)));
}
