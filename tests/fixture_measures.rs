//! The measures reproduce, value for value, what an independent implementation computed for
//! the pilot fixture (`../shared/fixtures/pilot-small.expected-*.json`).

mod common;

use chrono::NaiveDate;
use common::{fixture, import_pilot, TestDb};
use desist_projections::measures::outcomes::Split;
use desist_projections::queries::{compliance, compliance_facts, outcome_report};
use serde_json::{json, Value};

const TOLERANCE: f64 = 1e-9;

/// Every value in `expected` must be in `actual` at the same path (extra keys in `actual` are
/// allowed). Collects every mismatch; returns how many values were compared.
fn compare(path: &str, expected: &Value, actual: &Value, out: &mut Vec<String>) -> usize {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => e
            .iter()
            .map(|(key, value)| match a.get(key) {
                Some(actual) => compare(&format!("{path}.{key}"), value, actual, out),
                None => {
                    out.push(format!("{path}.{key}: missing (expected {value})"));
                    1
                }
            })
            .sum(),
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                out.push(format!("{path}: {} items, expected {}", a.len(), e.len()));
            }
            let items: usize = e
                .iter()
                .zip(a.iter())
                .enumerate()
                .map(|(i, (e, a))| compare(&format!("{path}[{i}]"), e, a, out))
                .sum();
            items.max(1)
        }
        (Value::Number(e), Value::Number(a)) => {
            let (e, a) = (
                e.as_f64().unwrap_or(f64::NAN),
                a.as_f64().unwrap_or(f64::NAN),
            );
            if (e - a).abs() > TOLERANCE {
                out.push(format!("{path}: {a}, expected {e}"));
            }
            1
        }
        (e, a) => {
            if e != a {
                out.push(format!("{path}: {a}, expected {e}"));
            }
            1
        }
    }
}

async fn check(db: &TestDb, expected_file: &str) -> (usize, Vec<String>) {
    let expected = fixture(expected_file);
    let as_of: NaiveDate = expected["as_of"].as_str().unwrap().parse().unwrap();
    let report = outcome_report(db.store.db(), as_of, None, Split::default())
        .await
        .expect("outcome report");
    let statuses = compliance(db.store.db(), as_of, None)
        .await
        .expect("compliance");
    let actual = json!({
        "as_of": as_of.to_string(),
        "outcomes_by_cohort": report.outcomes_by_cohort,
        "controlled_outcomes_by_cohort": report.controlled_outcomes_by_cohort,
        "all_cohorts": report.all_cohorts,
        "comparison_completers": report.comparison_completers,
        "orders_by_period": report.orders_by_period,
        "compliance": statuses,
    });
    let mut mismatches = Vec::new();
    let compared = compare(expected_file, &expected, &actual, &mut mismatches);
    (compared, mismatches)
}

/// A fresh database holding the pilot fixture, with every view caught up.
async fn pilot() -> TestDb {
    let db = TestDb::new().await;
    import_pilot(&db.store).await;
    desist_projections::catch_up_all(db.store.db())
        .await
        .expect("projections catch up");
    db
}

#[tokio::test]
async fn the_measures_reproduce_the_independent_values_for_the_pilot_fixture() {
    let db = pilot().await;
    let (late, mut mismatches) = check(&db, "pilot-small.expected-2025-06-30.json").await;
    let (early, more) = check(&db, "pilot-small.expected-2023-05-15.json").await;
    mismatches.extend(more);
    println!("compared {late} + {early} values");
    // Every leaf of both files: 730 and 673 values (120 subjects' compliance, the outcome
    // tables, the comparison and the order measures).
    assert_eq!(
        (late, early),
        (730, 673),
        "every expected value was compared"
    );
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[tokio::test]
async fn compliance_for_some_subjects_equals_their_part_of_everyones() {
    let db = pilot().await;
    let as_of: NaiveDate = "2023-05-15".parse().unwrap();
    let everyone = compliance(db.store.db(), as_of, None).await.unwrap();
    let some: Vec<String> = ["S030004", "S030005", "S030098"].map(String::from).to_vec();
    let theirs = compliance(db.store.db(), as_of, Some(&some)).await.unwrap();
    assert_eq!(theirs.len(), 3);
    for id in &some {
        assert_eq!(theirs[id], everyone[id], "{id}");
    }
}

#[tokio::test]
async fn compliance_facts_list_sessions_by_time_and_breaches_by_report_date() {
    let db = pilot().await;
    let everyone = compliance_facts(db.store.db(), None).await.unwrap();
    let (mut sessions, mut breaches) = (0, 0);
    for facts in everyone.values() {
        for enrolment in &facts.enrolments {
            let times: Vec<_> = enrolment.sessions.iter().map(|s| s.held_at).collect();
            assert!(times.is_sorted(), "{}: {times:?}", enrolment.enrolment_id);
            sessions += times.len();
        }
        for order in &facts.orders {
            let reported: Vec<_> = order.breaches.iter().map(|b| b.reported_on).collect();
            assert!(reported.is_sorted(), "{}: {reported:?}", order.order_id);
            breaches += reported.len();
        }
    }
    // The fixture has courses of many sessions and orders with more than one breach.
    assert!(
        sessions > 1000 && breaches > 10,
        "{sessions} sessions, {breaches} breaches"
    );
    // A few people's facts, read on their own, are exactly their part of everyone's.
    let some: Vec<String> = everyone.keys().step_by(7).cloned().collect();
    let theirs = compliance_facts(db.store.db(), Some(&some)).await.unwrap();
    assert_eq!(theirs.len(), some.len());
    for id in &some {
        assert_eq!(theirs[id], everyone[id], "{id}");
    }
}
