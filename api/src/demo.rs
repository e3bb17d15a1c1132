//! `desist demo`: a realistic synthetic programme, recorded through the ordinary commands.
//!
//! The cohort is generated as a desist-timeline/1 document and imported, so every fact passes
//! the same rules as any other. Three areas, six quarterly cohorts, orders with conditions and
//! breaches, courses with absences, warnings, pauses, concerns, withdrawals, and proven
//! reoffences: enough that every view, the evaluator's included, shows real numbers.
//! The same seed always gives the same cohort.

use chrono::{Duration, NaiveDate};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

pub const AREAS: [&str; 3] = ["Sussex", "Kent", "Surrey"];

/// How people are shared among offender managers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caseloads {
    /// One offender manager per area (`om-sussex`), as the demo prints tokens for.
    OnePerArea,
    /// Managers holding `n` people each, numbered by person (`om-sussex-000`): a national
    /// service's caseloads stay the same size however many people there are.
    Of(usize),
}

/// The offender manager who holds person `index`'s caseload.
pub fn offender_manager(area: &str, index: usize, caseloads: Caseloads) -> String {
    match caseloads {
        Caseloads::OnePerArea => format!("om-{}", area.to_lowercase()),
        Caseloads::Of(n) => format!("om-{}-{:03}", area.to_lowercase(), index / n.max(1)),
    }
}

fn date(d: NaiveDate) -> String {
    d.to_string()
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// Generates `subjects` people with `seed`.
pub fn timeline(seed: u64, subjects: usize) -> Value {
    let mut rng = StdRng::seed_from_u64(seed);
    let first_referral = NaiveDate::from_ymd_opt(2023, 1, 2).unwrap_or_default();
    // Referrals over about 500 days: with the weeks to a start, six quarterly cohorts.
    let window_days = 500;
    let people: Vec<Value> = (0..subjects)
        .map(|i| {
            let referred = first_referral + Duration::days(rng.random_range(0..window_days));
            person(&mut rng, i, referred)
        })
        .collect();
    json!({
        "format": "desist-timeline/1",
        "programmes": [{"code": "COBI", "version": "2022", "planned_sessions": 12,
                        "min_attended_for_completion": 10}],
        "subjects": people,
    })
}

fn rating(rng: &mut StdRng) -> &'static str {
    const RATINGS: [&str; 5] = ["low", "low", "moderate", "moderate", "high"];
    RATINGS[rng.random_range(0..RATINGS.len())]
}

fn person(rng: &mut StdRng, i: usize, referred: NaiveDate) -> Value {
    let reference = format!("DEMO-S{i:04}");
    let area = *pick(rng, &AREAS);
    let srp = json!({
        "date": date(referred - Duration::days(7)), "tool": "SRP", "tool_version": "2",
        "assessor": "psy-01",
        "stalker_type": pick(rng, &["rejected", "rejected", "resentful", "intimacy_seeking",
                                    "incompetent_suitor", "predatory"]),
        "ratings": {"violence": rating(rng), "persistence": rating(rng),
                    "recurrence": rating(rng), "psychosocial_damage": rating(rng)}
    });
    let (enrolment, started) = course(rng, i, referred, area);
    json!({
        "ref": reference,
        "birth_year": rng.random_range(1960..2001),
        "sex": if rng.random_bool(0.85) { "male" } else { *pick(rng, &["female", "other"]) },
        "area": area,
        "risk_assessments": [srp],
        "orders": order(rng, i, referred),
        "enrolments": [enrolment],
        "offences": offences(rng, started.unwrap_or(referred)),
    })
}

fn order(rng: &mut StdRng, i: usize, referred: NaiveDate) -> Vec<Value> {
    if rng.random_bool(0.15) {
        return Vec::new();
    }
    let made = referred - Duration::days(rng.random_range(20..90));
    let interim = rng.random_bool(0.15);
    let ends = if interim {
        Some(made + Duration::days(180))
    } else if rng.random_bool(0.2) {
        None
    } else {
        Some(made + Duration::days(731))
    };
    let served = made + Duration::days(rng.random_range(0..3));
    let notifications = match rng.random_range(0..20) {
        0..=14 => vec![
            json!({"kind": "initial", "date": date(served + Duration::days(rng.random_range(0..3)))}),
        ],
        15..=17 => vec![
            json!({"kind": "initial", "date": date(served + Duration::days(rng.random_range(3..11)))}),
        ],
        _ => Vec::new(),
    };
    let last_day = ends
        .unwrap_or(made + Duration::days(900))
        .min(NaiveDate::from_ymd_opt(2026, 6, 1).unwrap_or(made));
    let mut breaches = Vec::new();
    if rng.random_bool(0.25) {
        for b in 0..rng.random_range(1..3) {
            let span = (last_day - made).num_days().max(2);
            let occurred = made + Duration::days(rng.random_range(1..span));
            let reported = occurred + Duration::days(rng.random_range(0..4));
            let outcome = rng.random_bool(0.7).then(|| {
                json!({"decision": pick(rng, &["nfa", "warning", "charged", "convicted"]),
                       "decided_by": pick(rng, &["police", "cps", "court"]),
                       "date": date(reported + Duration::days(rng.random_range(5..60)))})
            });
            breaches.push(
                json!({"ref": format!("DEMO-B{i:04}-{b}"), "condition": "C1",
                                 "occurred": date(occurred), "reported": date(reported),
                                 "outcome": outcome}),
            );
        }
    }
    vec![json!({
        "ref": format!("DEMO-O{i:04}"), "interim": interim, "made": date(made),
        "ends": ends.map(date), "served": date(served), "discharged": null,
        "conditions": [
            {"id": "C1", "kind": "prohibition", "category": "no_contact", "from": date(made)},
            {"id": "C2", "kind": "prohibition", "category": "exclusion_zone", "from": date(made)},
            {"id": "C3", "kind": "requirement", "category": "attend_programme", "from": date(made)}
        ],
        "notifications": notifications,
        "breaches": breaches,
    })]
}

/// One course, and the day it started (if it did).
fn course(
    rng: &mut StdRng,
    i: usize,
    referred: NaiveDate,
    area: &str,
) -> (Value, Option<NaiveDate>) {
    let assessed = referred + Duration::days(rng.random_range(3..11));
    let route = *pick(
        rng,
        &[
            "spo_requirement",
            "spo_requirement",
            "court_order",
            "licence",
            "voluntary",
        ],
    );
    let mut enrolment = json!({
        "ref": format!("DEMO-E{i:04}"), "programme": "COBI/2022", "route": route,
        "referred": date(referred), "assessed": date(assessed),
    });
    if rng.random_bool(0.08) {
        enrolment["suitable"] = json!(false);
        return (enrolment, None);
    }
    let allocated = assessed + Duration::days(rng.random_range(1..6));
    let started = allocated + Duration::days(rng.random_range(3..11));
    let area_index = AREAS.iter().position(|a| *a == area).unwrap_or(0);
    enrolment["suitable"] = json!(true);
    enrolment["allocated"] = json!(date(allocated));
    enrolment["practitioner"] = json!(format!(
        "bcp-{:02}",
        area_index * 2 + rng.random_range(1..3)
    ));
    enrolment["started"] = json!(date(started));

    let withdraw_after = rng.random_bool(0.2).then(|| rng.random_range(2..10u32));
    let pause_after = rng.random_bool(0.06).then(|| rng.random_range(3..9u32));
    let mut sessions = Vec::new();
    let mut pauses = Vec::new();
    let mut enforcement: Vec<Value> = Vec::new();
    let mut failures = 0;
    let mut delivered = 0;
    let mut day = started;
    let mut n = 1u32;
    let mut held_count = 0u32;
    while n <= 12 {
        let at = format!("{}T10:00:00Z", date(day));
        let roll = rng.random_range(0..100);
        let (outcome, absence) = match roll {
            0..=74 => ("attended", None),
            75..=81 => ("late", None),
            82..=91 => (
                "absent",
                Some(*pick(
                    rng,
                    &[
                        "acceptable",
                        "acceptable",
                        "unacceptable",
                        "unacceptable",
                        "provisional",
                    ],
                )),
            ),
            92..=94 => ("sent_home", None),
            95..=97 => ("provider_cancelled", None),
            _ => ("rescheduled", None),
        };
        let concern =
            (matches!(outcome, "attended" | "late") && rng.random_bool(0.05)).then(|| {
                let notify = rng.random_bool(0.5);
                let acknowledged = (notify && rng.random_bool(0.8))
                    .then(|| date(day + Duration::days(rng.random_range(1..6))));
                json!({"notify_probation": notify, "acknowledged": acknowledged})
            });
        sessions.push(
            json!({"n": n, "at": at, "outcome": outcome, "absence": absence, "concern": concern}),
        );
        if outcome == "sent_home" || absence == Some("unacceptable") {
            failures += 1;
            let action = if failures == 1 {
                "warning"
            } else {
                "referred_for_enforcement"
            };
            enforcement.push(json!({"date": date(day + Duration::days(2)), "action": action}));
        }
        if matches!(outcome, "attended" | "late") {
            delivered += 1;
            n += 1;
        }
        held_count += 1;
        day += Duration::days(7);
        if withdraw_after.is_some_and(|k| held_count >= k) {
            let reason = *pick(
                rng,
                &["not_engaging", "returned_to_custody", "moved_out_of_area"],
            );
            enrolment["end"] = json!({"kind": "withdrawn", "date": date(day), "reason": reason});
            break;
        }
        if pause_after == Some(held_count) {
            let from = day - Duration::days(5);
            let to = from + Duration::days(rng.random_range(14..22));
            pauses.push(json!({"from": date(from), "to": date(to)}));
            day = to + Duration::days(1);
        }
        if held_count > 20 {
            break;
        }
    }
    if enrolment.get("end").is_none() {
        enrolment["end"] = if delivered >= 10 {
            json!({"kind": "completed", "date": date(day)})
        } else {
            json!({"kind": "withdrawn", "date": date(day), "reason": "not_engaging"})
        };
    }
    enrolment["sessions"] = json!(sessions);
    enrolment["pauses"] = json!(pauses);
    enrolment["enforcement"] = json!(enforcement);
    (enrolment, Some(started))
}

fn offences(rng: &mut StdRng, index: NaiveDate) -> Vec<Value> {
    if !rng.random_bool(0.45) {
        return Vec::new();
    }
    let latest = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap_or(index);
    (0..rng.random_range(1..4))
        .map(|_| {
            let committed = index + Duration::days(rng.random_range(10..540));
            let proven = committed + Duration::days(rng.random_range(30..200));
            let proven = (rng.random_bool(0.8) && proven <= latest && committed <= latest)
                .then(|| date(proven));
            json!({
                "offence_date": date(committed.min(latest)),
                "proven_date": proven,
                "disposal": if rng.random_bool(0.7) { "conviction" } else { "caution" },
                "category": pick(rng, &["stalking_harassment", "stalking_harassment", "spo_breach",
                                        "violence", "other"]),
            })
        })
        .collect()
}

/// What `seed` put in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoReport {
    pub subjects: usize,
    pub commands: usize,
    pub recorded: usize,
}

/// People per import when seeding.
const IMPORT_CHUNK: usize = 1_000;

/// Generates the cohort, imports it, and puts each subject on their area's offender manager's
/// caseload. Running it again with the same seed adds nothing.
pub async fn seed(
    store: &desist_store::Store,
    services: desist_domain::DomainServices,
    seed: u64,
    subjects: usize,
    caseloads: Caseloads,
) -> Result<DemoReport, crate::Error> {
    let document = timeline(seed, subjects);
    let people = document["subjects"].as_array().cloned().unwrap_or_default();
    // A chunk of people per import: an import holds what it decides in memory until it
    // appends, and national scale is hundreds of thousands of events.
    let mut report = crate::import::ImportReport::default();
    for (number, chunk) in people.chunks(IMPORT_CHUNK).enumerate() {
        let part = json!({
            "format": document["format"],
            "programmes": document["programmes"],
            "subjects": chunk,
        });
        // The allocations go in with the people they place, as commands of the same import:
        // one at a time, they were a tenth of a national load.
        let first = number * IMPORT_CHUNK;
        let allocations = chunk
            .iter()
            .enumerate()
            .filter_map(|(n, person)| allocation(person, first + n, caseloads))
            .collect();
        let done = crate::import::import_with(
            store,
            services.clone(),
            &part,
            "desist-demo",
            false,
            allocations,
        )
        .await?;
        report.commands += done.commands;
        report.recorded += done.recorded;
        report.already_recorded += done.already_recorded;
    }
    Ok(DemoReport {
        subjects,
        commands: report.commands,
        recorded: report.recorded,
    })
}

/// Puts person `index` on their offender manager's caseload from the day of their first
/// referral; `None` for a person the timeline gives no area or referral.
fn allocation(person: &Value, index: usize, caseloads: Caseloads) -> Option<crate::import::Step> {
    use crate::import::{Step, Target};
    let (reference, area) = (person["ref"].as_str()?, person["area"].as_str()?);
    let referred = person["enrolments"][0]["referred"].as_str()?;
    let occurred_at =
        crate::import::midnight(NaiveDate::parse_from_str(referred, "%Y-%m-%d").ok()?);
    Some(Step {
        path: format!("subjects[{index}]"),
        command_id: format!("demo/{reference}/offender-manager"),
        target: Target::Subject(
            reference.to_string(),
            desist_domain::subject::SubjectCommand::AllocateOffenderManager {
                officer: offender_manager(area, index, caseloads),
                occurred_at,
            },
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_cohort_and_another_seed_another() {
        assert_eq!(timeline(7, 30), timeline(7, 30));
        assert_ne!(timeline(7, 30), timeline(8, 30));
    }

    #[test]
    fn the_cohort_spans_three_areas_and_six_quarters() {
        let document = timeline(1, 200);
        let subjects = document["subjects"].as_array().unwrap();
        let areas: std::collections::BTreeSet<&str> =
            subjects.iter().filter_map(|s| s["area"].as_str()).collect();
        assert_eq!(areas.len(), 3);
        let quarters: std::collections::BTreeSet<String> = subjects
            .iter()
            .filter_map(|s| s["enrolments"][0]["referred"].as_str())
            .map(|d| {
                let d: NaiveDate = d.parse().unwrap();
                desist_projections::measures::dates::quarter(d)
            })
            .collect();
        assert!(quarters.len() >= 6, "{quarters:?}");
    }
}
