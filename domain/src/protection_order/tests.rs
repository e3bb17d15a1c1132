use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use cqrs_es::test::TestFramework;

use super::*;
use crate::{DomainError, DomainServices, Sealed};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 1, 12, 0, 0).unwrap()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 9, 0, 0).unwrap()
}

fn framework() -> TestFramework<ProtectionOrder> {
    TestFramework::with(DomainServices::fixed(now()))
}

fn no_contact(id: &str, from: NaiveDate) -> ConditionTerms {
    ConditionTerms {
        condition_id: id.into(),
        kind: ConditionKind::Prohibition,
        category: ConditionCategory::NoContact,
        from,
        until: None,
        description: Some(Sealed::plain("must not contact V-7f3a")),
    }
}

fn make(kind: OrderKind, ends_on: Option<NaiveDate>) -> OrderCommand {
    OrderCommand::MakeOrder {
        subject_id: "S0001".into(),
        kind,
        ends_on,
        conditions: vec![no_contact("C1", date(2023, 12, 1))],
        occurred_at: at(2023, 12, 1),
    }
}

fn made() -> Vec<OrderEvent> {
    vec![
        OrderEvent::OrderMade {
            subject_id: "S0001".into(),
            kind: OrderKind::Full,
            ends_on: Some(date(2025, 12, 1)),
            occurred_at: at(2023, 12, 1),
        },
        OrderEvent::ConditionImposed {
            condition: no_contact("C1", date(2023, 12, 1)),
            occurred_at: at(2023, 12, 1),
        },
    ]
}

fn served() -> Vec<OrderEvent> {
    let mut events = made();
    events.push(OrderEvent::OrderServed {
        occurred_at: at(2023, 12, 3),
    });
    events
}

fn reported() -> Vec<OrderEvent> {
    let mut events = served();
    events.push(OrderEvent::BreachReported {
        breach_id: "B1".into(),
        condition_id: "C1".into(),
        occurred_on: date(2024, 3, 1),
        description: None,
        occurred_at: at(2024, 3, 2),
    });
    events
}

fn error_of(given: Vec<OrderEvent>, command: OrderCommand) -> DomainError {
    framework()
        .given(given)
        .when(command)
        .inspect_result()
        .expect_err("the command should have been refused")
}

fn report(condition: &str, occurred_on: NaiveDate, reported: DateTime<Utc>) -> OrderCommand {
    OrderCommand::ReportBreach {
        breach_id: "B2".into(),
        condition_id: condition.into(),
        occurred_on,
        description: None,
        occurred_at: reported,
    }
}

fn outcome(decision: BreachDecision, on: DateTime<Utc>) -> OrderCommand {
    OrderCommand::RecordBreachOutcome {
        breach_id: "B1".into(),
        decision,
        decided_by: DecidedBy::Cps,
        occurred_at: on,
    }
}

#[test]
fn making_a_full_order_records_the_order_and_each_condition() {
    framework()
        .given_no_previous_events()
        .when(make(OrderKind::Full, Some(date(2025, 12, 1))))
        .then_expect_events(made());
}

#[test]
fn a_full_order_may_run_until_further_order() {
    let events = framework()
        .given_no_previous_events()
        .when(make(OrderKind::Full, None))
        .inspect_result()
        .unwrap();
    assert_eq!(events.len(), 2);
}

#[test]
fn a_full_order_shorter_than_two_years_is_refused() {
    let err = error_of(vec![], make(OrderKind::Full, Some(date(2025, 11, 30))));
    assert_eq!(
        err,
        DomainError::FullOrderTooShort {
            earliest_end: date(2025, 12, 1)
        }
    );
}

#[test]
fn an_interim_order_needs_an_end_after_it_is_made() {
    assert_eq!(
        error_of(vec![], make(OrderKind::Interim, None)),
        DomainError::InterimOrderWithoutEnd
    );
    let err = error_of(vec![], make(OrderKind::Interim, Some(date(2023, 12, 1))));
    assert_eq!(err.field(), "ends_on");
    let ok = framework()
        .given_no_previous_events()
        .when(make(OrderKind::Interim, Some(date(2024, 3, 1))))
        .inspect_result();
    assert!(ok.is_ok());
}

#[test]
fn an_order_needs_conditions_with_distinct_ids_starting_no_earlier_than_the_order() {
    let with = |conditions| OrderCommand::MakeOrder {
        subject_id: "S0001".into(),
        kind: OrderKind::Full,
        ends_on: None,
        conditions,
        occurred_at: at(2023, 12, 1),
    };
    assert_eq!(error_of(vec![], with(vec![])).field(), "conditions");
    let twice = vec![
        no_contact("C1", date(2023, 12, 1)),
        no_contact("C1", date(2023, 12, 1)),
    ];
    assert_eq!(
        error_of(vec![], with(twice)),
        DomainError::AlreadyRecorded { what: "condition" }
    );
    let early = vec![no_contact("C1", date(2023, 11, 1))];
    assert_eq!(error_of(vec![], with(early)).code(), "OUT_OF_ORDER");
}

#[test]
fn an_order_is_made_once_and_not_in_the_future() {
    assert_eq!(
        error_of(made(), make(OrderKind::Full, None)),
        DomainError::AlreadyRecorded { what: "order" }
    );
    let future = OrderCommand::MakeOrder {
        subject_id: "S0001".into(),
        kind: OrderKind::Full,
        ends_on: None,
        conditions: vec![no_contact("C1", date(2024, 7, 1))],
        occurred_at: at(2024, 7, 1),
    };
    assert_eq!(error_of(vec![], future).code(), "IN_FUTURE");
}

#[test]
fn serving_an_order_starts_the_notification_duty() {
    framework()
        .given(made())
        .when(OrderCommand::ServeOrder {
            occurred_at: at(2023, 12, 3),
        })
        .then_expect_events(vec![OrderEvent::OrderServed {
            occurred_at: at(2023, 12, 3),
        }]);
}

#[test]
fn an_order_is_served_once_while_in_force() {
    let serve = |on| OrderCommand::ServeOrder { occurred_at: on };
    assert_eq!(
        error_of(served(), serve(at(2023, 12, 4))),
        DomainError::AlreadyRecorded { what: "service" }
    );
    assert_eq!(
        error_of(made(), serve(at(2023, 11, 30))),
        DomainError::OrderNotInForce {
            field: "occurred_at",
            date: date(2023, 11, 30)
        }
    );
    assert_eq!(
        error_of(vec![], serve(at(2023, 12, 3))),
        DomainError::NotRecorded { what: "order" }
    );
}

#[test]
fn notifications_follow_service_and_the_initial_one_is_given_once() {
    let notify = |kind, on| OrderCommand::GiveNotification {
        kind,
        occurred_at: on,
    };
    framework()
        .given(served())
        .when(notify(NotificationKind::Initial, at(2023, 12, 5)))
        .then_expect_events(vec![OrderEvent::NotificationGiven {
            kind: NotificationKind::Initial,
            occurred_at: at(2023, 12, 5),
        }]);
    assert_eq!(
        error_of(made(), notify(NotificationKind::Initial, at(2023, 12, 5))),
        DomainError::OrderNotServed
    );
    assert_eq!(
        error_of(served(), notify(NotificationKind::Initial, at(2023, 12, 2))).code(),
        "OUT_OF_ORDER"
    );
    let mut notified = served();
    notified.push(OrderEvent::NotificationGiven {
        kind: NotificationKind::Initial,
        occurred_at: at(2023, 12, 5),
    });
    assert_eq!(
        error_of(
            notified.clone(),
            notify(NotificationKind::Initial, at(2023, 12, 6))
        ),
        DomainError::InitialNotificationAlreadyGiven
    );
    let change = framework()
        .given(notified)
        .when(notify(NotificationKind::AddressChange, at(2024, 2, 1)))
        .inspect_result();
    assert!(change.is_ok());
}

#[test]
fn a_variation_adds_changes_and_removes_conditions_as_of_its_date() {
    let mut zone = no_contact("C2", date(2024, 2, 1));
    zone.category = ConditionCategory::ExclusionZone;
    let mut online = no_contact("C1", date(2023, 12, 1));
    online.category = ConditionCategory::NoOnlineContact;
    framework()
        .given(served())
        .when(OrderCommand::VaryOrder {
            changes: vec![
                ConditionChange::Add {
                    condition: zone.clone(),
                },
                ConditionChange::Change {
                    condition: online.clone(),
                },
            ],
            occurred_at: at(2024, 2, 1),
        })
        .then_expect_events(vec![
            OrderEvent::OrderVaried {
                occurred_at: at(2024, 2, 1),
            },
            OrderEvent::ConditionImposed {
                condition: zone,
                occurred_at: at(2024, 2, 1),
            },
            OrderEvent::ConditionChanged {
                condition: online,
                occurred_at: at(2024, 2, 1),
            },
        ]);
}

#[test]
fn a_variation_refuses_unknown_removed_or_repeated_conditions() {
    let vary = |changes| OrderCommand::VaryOrder {
        changes,
        occurred_at: at(2024, 2, 1),
    };
    let remove = |id: &str| ConditionChange::Remove {
        condition_id: id.into(),
    };
    assert_eq!(
        error_of(served(), vary(vec![remove("C9")])),
        DomainError::NotRecorded { what: "condition" }
    );
    assert_eq!(error_of(served(), vary(vec![])).field(), "changes");
    assert_eq!(
        error_of(served(), vary(vec![remove("C1"), remove("C1")])).field(),
        "changes"
    );
    let mut removed = served();
    removed.push(OrderEvent::ConditionRemoved {
        condition_id: "C1".into(),
        occurred_at: at(2024, 1, 10),
    });
    assert_eq!(
        error_of(removed, vary(vec![remove("C1")])),
        DomainError::ConditionNotInForce {
            condition_id: "C1".into(),
            date: date(2024, 2, 1)
        }
    );
    assert_eq!(
        error_of(
            served(),
            vary(vec![ConditionChange::Add {
                condition: no_contact("C1", date(2024, 2, 1))
            }])
        ),
        DomainError::AlreadyRecorded { what: "condition" }
    );
}

#[test]
fn a_renewal_extends_the_order() {
    let renew = |ends| OrderCommand::RenewOrder {
        ends_on: ends,
        occurred_at: at(2024, 5, 1),
    };
    framework()
        .given(served())
        .when(renew(Some(date(2026, 6, 1))))
        .then_expect_events(vec![OrderEvent::OrderRenewed {
            previous_ends_on: Some(date(2025, 12, 1)),
            ends_on: Some(date(2026, 6, 1)),
            occurred_at: at(2024, 5, 1),
        }]);
    assert_eq!(
        error_of(served(), renew(Some(date(2025, 12, 1)))).code(),
        "FULL_ORDER_TOO_SHORT"
    );
}

#[test]
fn a_discharged_order_is_no_longer_in_force() {
    let discharge = |on| OrderCommand::DischargeOrder { occurred_at: on };
    framework()
        .given(served())
        .when(discharge(at(2024, 4, 1)))
        .then_expect_events(vec![OrderEvent::OrderDischarged {
            occurred_at: at(2024, 4, 1),
        }]);
    let mut discharged = served();
    discharged.push(OrderEvent::OrderDischarged {
        occurred_at: at(2024, 4, 1),
    });
    assert_eq!(
        error_of(discharged.clone(), discharge(at(2024, 4, 2))),
        DomainError::OrderNotInForce {
            field: "occurred_at",
            date: date(2024, 4, 2)
        }
    );
    assert_eq!(
        error_of(discharged, report("C1", date(2024, 4, 1), at(2024, 4, 2))),
        DomainError::OrderNotInForce {
            field: "occurred_on",
            date: date(2024, 4, 1)
        }
    );
}

#[test]
fn an_allowed_appeal_quashes_the_order_and_a_dismissed_one_leaves_it() {
    let appeal = |outcome| OrderCommand::DetermineAppeal {
        outcome,
        occurred_at: at(2024, 2, 1),
    };
    framework()
        .given(served())
        .when(appeal(AppealOutcome::Dismissed))
        .then_expect_events(vec![OrderEvent::AppealDetermined {
            outcome: AppealOutcome::Dismissed,
            occurred_at: at(2024, 2, 1),
        }]);
    let mut quashed = served();
    quashed.push(OrderEvent::AppealDetermined {
        outcome: AppealOutcome::Allowed,
        occurred_at: at(2024, 2, 1),
    });
    assert_eq!(
        error_of(quashed, report("C1", date(2024, 2, 10), at(2024, 2, 11))).code(),
        "ORDER_NOT_IN_FORCE"
    );
}

#[test]
fn a_breach_is_reported_against_a_condition_in_force_on_the_day() {
    framework()
        .given(served())
        .when(OrderCommand::ReportBreach {
            breach_id: "B1".into(),
            condition_id: "C1".into(),
            occurred_on: date(2024, 3, 1),
            description: None,
            occurred_at: at(2024, 3, 2),
        })
        .then_expect_events(reported()[3..].to_vec());
}

#[test]
fn a_breach_of_a_condition_not_in_force_on_the_day_is_refused() {
    let mut varied = served();
    varied.push(OrderEvent::ConditionRemoved {
        condition_id: "C1".into(),
        occurred_at: at(2024, 2, 1),
    });
    assert_eq!(
        error_of(
            varied.clone(),
            report("C1", date(2024, 2, 1), at(2024, 2, 2))
        ),
        DomainError::ConditionNotInForce {
            condition_id: "C1".into(),
            date: date(2024, 2, 1)
        }
    );
    // The day before removal the condition was still in force.
    let ok = framework()
        .given(varied)
        .when(report("C1", date(2024, 1, 31), at(2024, 2, 2)))
        .inspect_result();
    assert!(ok.is_ok());
}

#[test]
fn a_breach_must_name_a_known_condition_and_be_reported_after_it_happened() {
    assert_eq!(
        error_of(served(), report("C9", date(2024, 3, 1), at(2024, 3, 2))),
        DomainError::NotRecorded { what: "condition" }
    );
    assert_eq!(
        error_of(served(), report("C1", date(2024, 3, 5), at(2024, 3, 2))).code(),
        "OUT_OF_ORDER"
    );
    assert_eq!(
        error_of(served(), report("C1", date(2023, 11, 20), at(2024, 3, 2))),
        DomainError::OrderNotInForce {
            field: "occurred_on",
            date: date(2023, 11, 20)
        }
    );
    let mut again = reported();
    if let Some(OrderEvent::BreachReported { breach_id, .. }) = again.last_mut() {
        *breach_id = "B2".into();
    }
    assert_eq!(
        error_of(again, report("C1", date(2024, 3, 1), at(2024, 3, 2))),
        DomainError::AlreadyRecorded { what: "breach" }
    );
}

#[test]
fn a_breach_is_assessed_once_after_its_report() {
    let assess = |on| OrderCommand::AssessBreach {
        breach_id: "B1".into(),
        reasonable_excuse: false,
        occurred_at: on,
    };
    framework()
        .given(reported())
        .when(assess(at(2024, 3, 4)))
        .then_expect_events(vec![OrderEvent::BreachAssessed {
            breach_id: "B1".into(),
            reasonable_excuse: false,
            occurred_at: at(2024, 3, 4),
        }]);
    assert_eq!(
        error_of(reported(), assess(at(2024, 3, 1))).code(),
        "OUT_OF_ORDER"
    );
    let mut assessed = reported();
    assessed.push(OrderEvent::BreachAssessed {
        breach_id: "B1".into(),
        reasonable_excuse: false,
        occurred_at: at(2024, 3, 4),
    });
    assert_eq!(
        error_of(assessed, assess(at(2024, 3, 5))),
        DomainError::AlreadyRecorded {
            what: "breach assessment"
        }
    );
    assert_eq!(
        error_of(served(), assess(at(2024, 3, 5))),
        DomainError::NotRecorded { what: "breach" }
    );
}

#[test]
fn a_breach_outcome_is_recorded_with_its_deciding_body() {
    framework()
        .given(reported())
        .when(outcome(BreachDecision::Charged, at(2024, 4, 1)))
        .then_expect_events(vec![OrderEvent::BreachOutcomeRecorded {
            breach_id: "B1".into(),
            decision: BreachDecision::Charged,
            decided_by: DecidedBy::Cps,
            occurred_at: at(2024, 4, 1),
        }]);
}

#[test]
fn an_outcome_before_its_report_is_refused() {
    assert_eq!(
        error_of(reported(), outcome(BreachDecision::Nfa, at(2024, 3, 1))),
        DomainError::OutcomeBeforeReport {
            decided: date(2024, 3, 1),
            reported: date(2024, 3, 2)
        }
    );
}

#[test]
fn a_charge_can_be_followed_by_a_verdict_but_a_final_outcome_cannot() {
    let mut charged = reported();
    charged.push(OrderEvent::BreachOutcomeRecorded {
        breach_id: "B1".into(),
        decision: BreachDecision::Charged,
        decided_by: DecidedBy::Cps,
        occurred_at: at(2024, 4, 1),
    });
    let verdict = framework()
        .given(charged.clone())
        .when(outcome(BreachDecision::Convicted, at(2024, 5, 1)))
        .inspect_result();
    assert!(verdict.is_ok());
    charged.push(OrderEvent::BreachOutcomeRecorded {
        breach_id: "B1".into(),
        decision: BreachDecision::Convicted,
        decided_by: DecidedBy::Court,
        occurred_at: at(2024, 5, 1),
    });
    assert_eq!(
        error_of(charged, outcome(BreachDecision::NotProven, at(2024, 5, 2))),
        DomainError::BreachOutcomeFinal {
            breach_id: "B1".into()
        }
    );
}

#[test]
fn the_minimum_term_of_a_full_order_made_on_the_29th_of_february_ends_on_the_28th() {
    let command = OrderCommand::MakeOrder {
        subject_id: "S0001".into(),
        kind: OrderKind::Full,
        ends_on: Some(date(2026, 2, 27)),
        conditions: vec![no_contact("C1", date(2024, 2, 29))],
        occurred_at: at(2024, 2, 29),
    };
    assert_eq!(
        error_of(vec![], command),
        DomainError::FullOrderTooShort {
            earliest_end: date(2026, 2, 28)
        }
    );
}

#[test]
fn an_order_names_its_subject_and_conditions_end_after_they_start() {
    let with = |subject: &str, until| OrderCommand::MakeOrder {
        subject_id: subject.into(),
        kind: OrderKind::Full,
        ends_on: None,
        conditions: vec![ConditionTerms {
            until,
            ..no_contact("C1", date(2023, 12, 5))
        }],
        occurred_at: at(2023, 12, 1),
    };
    assert_eq!(error_of(vec![], with("", None)).field(), "subject_id");
    let err = error_of(vec![], with("S0001", Some(date(2023, 12, 4))));
    assert_eq!(err.code(), "OUT_OF_ORDER");
    assert_eq!(err.field(), "until");
}

#[test]
fn an_order_until_further_order_cannot_be_renewed() {
    let mut indefinite = made();
    indefinite[0] = OrderEvent::OrderMade {
        subject_id: "S0001".into(),
        kind: OrderKind::Full,
        ends_on: None,
        occurred_at: at(2023, 12, 1),
    };
    let err = error_of(
        indefinite,
        OrderCommand::RenewOrder {
            ends_on: None,
            occurred_at: at(2024, 5, 1),
        },
    );
    assert_eq!(err.field(), "ends_on");
}

#[test]
fn an_expired_order_cannot_be_varied_or_discharged() {
    let mut interim = made();
    interim[0] = OrderEvent::OrderMade {
        subject_id: "S0001".into(),
        kind: OrderKind::Interim,
        ends_on: Some(date(2024, 1, 31)),
        occurred_at: at(2023, 12, 1),
    };
    // In force on its end date, not the day after.
    assert_eq!(
        framework()
            .given(interim.clone())
            .when(OrderCommand::DischargeOrder {
                occurred_at: at(2024, 1, 31)
            })
            .inspect_result()
            .map(|events| events.len()),
        Ok(1)
    );
    assert_eq!(
        error_of(
            interim.clone(),
            OrderCommand::DischargeOrder {
                occurred_at: at(2024, 2, 1)
            }
        ),
        DomainError::OrderNotInForce {
            field: "occurred_at",
            date: date(2024, 2, 1)
        }
    );
    assert_eq!(
        error_of(
            interim,
            OrderCommand::VaryOrder {
                changes: vec![ConditionChange::Remove {
                    condition_id: "C1".into()
                }],
                occurred_at: at(2024, 2, 1)
            }
        )
        .code(),
        "ORDER_NOT_IN_FORCE"
    );
}

#[test]
fn a_breach_needs_an_id() {
    let err = error_of(
        served(),
        OrderCommand::ReportBreach {
            breach_id: " ".into(),
            condition_id: "C1".into(),
            occurred_on: date(2024, 3, 1),
            description: None,
            occurred_at: at(2024, 3, 2),
        },
    );
    assert_eq!(err.field(), "breach_id");
}
