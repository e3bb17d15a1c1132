//! Outcome measures for evaluators (DOMAIN.md, "Outcome measures"), before disclosure control.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::dates::{add_months, days_between, quarter};
use super::stats::{kaplan_meier, median, newcombe, wilson, Observation};

/// Follow-up for reoffending: 12 months, then 6 months for proof (Ministry of Justice).
pub const FOLLOW_UP_MONTHS: u32 = 12;
pub const PROOF_WAIT_MONTHS: u32 = 6;
/// Days at which the Kaplan–Meier proportion is reported.
pub const KM_DAYS: [u32; 3] = [91, 182, 365];

#[derive(Debug, Clone, PartialEq)]
pub struct OffenceFact {
    pub offence_date: NaiveDate,
    pub category: String,
    pub proven_date: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HeldSession {
    pub number: i32,
    pub held_at: DateTime<Utc>,
    /// attended | late | sent_home | absent
    pub attendance: String,
}

/// Everything the measures need about one enrolment.
#[derive(Debug, Clone, PartialEq)]
pub struct EnrolmentOutcome {
    pub enrolment_id: String,
    pub programme: String,
    pub area: String,
    pub route: String,
    pub srp_type: Option<String>,
    pub referred_on: NaiveDate,
    pub started_on: Option<NaiveDate>,
    /// (completed | withdrawn, dated)
    pub end: Option<(String, NaiveDate)>,
    pub sessions: Vec<HeldSession>,
    /// The subject's offences.
    pub offences: Vec<OffenceFact>,
}

/// Optional splits of the cohort table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Split {
    pub programme: bool,
    pub area: bool,
    pub srp_type: bool,
    pub route: bool,
}

/// An end of the day as-of: a date-time counts when it is at or before 23:59:59.999 UTC.
fn on_or_before(at: DateTime<Utc>, as_of: NaiveDate) -> bool {
    at.date_naive() <= as_of
}

/// One enrolment's reoffending as of a date, for one offence category or all.
#[derive(Debug, Clone, PartialEq)]
struct Reoffending {
    /// Days from the index date to each counted offence.
    offence_days: Vec<i64>,
    /// Days to the end of follow-up (for censoring).
    censored_at: i64,
}

fn reoffending(
    e: &EnrolmentOutcome,
    index: NaiveDate,
    as_of: NaiveDate,
    category: Option<&str>,
) -> Reoffending {
    let window_end = add_months(index, FOLLOW_UP_MONTHS);
    let proof_deadline = add_months(index, FOLLOW_UP_MONTHS + PROOF_WAIT_MONTHS).min(as_of);
    let mut offence_days: Vec<i64> = e
        .offences
        .iter()
        .filter(|o| category.is_none_or(|c| o.category == c))
        .filter(|o| o.offence_date > index && o.offence_date <= window_end)
        .filter(|o| o.proven_date.is_some_and(|p| p <= proof_deadline))
        .map(|o| days_between(index, o.offence_date))
        .collect();
    offence_days.sort_unstable();
    Reoffending {
        offence_days,
        censored_at: days_between(index, window_end.min(as_of)),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KmPoint {
    pub proportion: f64,
    pub ci: (f64, f64),
    /// Counted reoffences on or before the day (for disclosure control).
    #[serde(skip)]
    pub reoffences_by_day: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Variant {
    pub n: u64,
    pub reoffenders: u64,
    pub reoffences: u64,
    pub rate: Option<f64>,
    pub rate_ci: Option<(f64, f64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attendance {
    pub attended: u64,
    pub due: u64,
    pub rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Completion {
    pub completed: u64,
    pub ended: u64,
    pub rate: Option<f64>,
}

/// One row of the outcome table, before disclosure control.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CohortOutcome {
    /// `2024Q1`, or `all` for the all-cohorts figures.
    pub cohort: String,
    /// The split values of this row (programme, area, srp_type, route), when split.
    pub group: BTreeMap<String, String>,
    #[serde(rename = "final")]
    pub is_final: bool,
    pub n: u64,
    pub reoffenders: u64,
    pub reoffences: u64,
    pub rate: Option<f64>,
    pub rate_ci: Option<(f64, f64)>,
    pub frequency: Option<f64>,
    pub per_reoffender: Option<f64>,
    pub km: BTreeMap<String, Option<KmPoint>>,
    pub stalking_harassment: Variant,
    pub spo_breach: Variant,
    pub attendance: Attendance,
    pub completion: Completion,
    pub median_days_to_start: Option<f64>,
    /// How many people have a start (first attended session), for disclosure control.
    #[serde(skip)]
    pub starts: u64,
}

fn ratio(numerator: u64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

/// The table's rows for enrolments started on or before `as_of`, by quarter of index date (and
/// by the chosen splits), in cohort order.
pub fn cohort_outcomes(
    enrolments: &[EnrolmentOutcome],
    as_of: NaiveDate,
    split: Split,
) -> Vec<CohortOutcome> {
    let mut groups: BTreeMap<(String, BTreeMap<String, String>), Vec<&EnrolmentOutcome>> =
        BTreeMap::new();
    for e in enrolments {
        let Some(index) = e.started_on.filter(|s| *s <= as_of) else {
            continue;
        };
        groups
            .entry((quarter(index), group_of(e, split)))
            .or_default()
            .push(e);
    }
    groups
        .into_iter()
        .map(|((cohort, group), members)| measure(cohort, group, &members, as_of))
        .collect()
}

/// The all-cohorts figures (a published total).
pub fn all_cohorts(enrolments: &[EnrolmentOutcome], as_of: NaiveDate) -> CohortOutcome {
    let members: Vec<&EnrolmentOutcome> = enrolments
        .iter()
        .filter(|e| e.started_on.is_some_and(|s| s <= as_of))
        .collect();
    measure("all".into(), BTreeMap::new(), &members, as_of)
}

fn group_of(e: &EnrolmentOutcome, split: Split) -> BTreeMap<String, String> {
    let mut group = BTreeMap::new();
    if split.programme {
        group.insert("programme".into(), e.programme.clone());
    }
    if split.area {
        group.insert("area".into(), e.area.clone());
    }
    if split.srp_type {
        let srp = e.srp_type.clone().unwrap_or_else(|| "unknown".into());
        group.insert("srp_type".into(), srp);
    }
    if split.route {
        group.insert("route".into(), e.route.clone());
    }
    group
}

fn variant(
    members: &[(&EnrolmentOutcome, NaiveDate)],
    as_of: NaiveDate,
    category: &str,
) -> Variant {
    let per: Vec<Reoffending> = members
        .iter()
        .map(|(e, index)| reoffending(e, *index, as_of, Some(category)))
        .collect();
    let n = per.len() as u64;
    let reoffenders = per.iter().filter(|r| !r.offence_days.is_empty()).count() as u64;
    let reoffences = per.iter().map(|r| r.offence_days.len() as u64).sum();
    Variant {
        n,
        reoffenders,
        reoffences,
        rate: ratio(reoffenders, n),
        rate_ci: wilson(reoffenders, n),
    }
}

fn measure(
    cohort: String,
    group: BTreeMap<String, String>,
    members: &[&EnrolmentOutcome],
    as_of: NaiveDate,
) -> CohortOutcome {
    let indexed: Vec<(&EnrolmentOutcome, NaiveDate)> = members
        .iter()
        .filter_map(|e| e.started_on.map(|s| (*e, s)))
        .collect();
    let latest_index = indexed.iter().map(|(_, i)| *i).max();
    let is_final = latest_index
        .is_some_and(|latest| as_of >= add_months(latest, FOLLOW_UP_MONTHS + PROOF_WAIT_MONTHS));
    let reoffending: Vec<Reoffending> = indexed
        .iter()
        .map(|(e, index)| self::reoffending(e, *index, as_of, None))
        .collect();
    let n = indexed.len() as u64;
    let reoffenders = reoffending
        .iter()
        .filter(|r| !r.offence_days.is_empty())
        .count() as u64;
    let reoffences: u64 = reoffending
        .iter()
        .map(|r| r.offence_days.len() as u64)
        .sum();

    let observations: Vec<Observation> = reoffending
        .iter()
        .map(|r| match r.offence_days.first() {
            Some(first) => Observation {
                time: *first as f64,
                event: true,
            },
            None => Observation {
                time: r.censored_at as f64,
                event: false,
            },
        })
        .collect();
    let km = KM_DAYS
        .iter()
        .map(|day| {
            let point = kaplan_meier(&observations, f64::from(*day)).map(|k| KmPoint {
                proportion: k.proportion,
                ci: k.ci,
                reoffences_by_day: reoffending
                    .iter()
                    .flat_map(|r| r.offence_days.iter())
                    .filter(|d| **d <= i64::from(*day))
                    .count() as u64,
            });
            (day.to_string(), point)
        })
        .collect();

    let mut attended = 0u64;
    let mut due = 0u64;
    let mut completed = 0u64;
    let mut ended = 0u64;
    let mut days_to_start = Vec::new();
    for (e, _) in &indexed {
        let held: Vec<&HeldSession> = e
            .sessions
            .iter()
            .filter(|s| on_or_before(s.held_at, as_of))
            .collect();
        let delivered: Vec<&HeldSession> = held
            .iter()
            .copied()
            .filter(|s| s.attendance == "attended" || s.attendance == "late")
            .collect();
        due += held
            .iter()
            .filter(|s| {
                matches!(
                    s.attendance.as_str(),
                    "attended" | "late" | "sent_home" | "absent"
                )
            })
            .count() as u64;
        attended += delivered
            .iter()
            .map(|s| s.number)
            .collect::<BTreeSet<_>>()
            .len() as u64;
        if let Some(first) = delivered.iter().map(|s| s.held_at).min() {
            days_to_start.push(days_between(e.referred_on, first.date_naive()) as f64);
        }
        match &e.end {
            Some((kind, on)) if *on <= as_of => {
                ended += 1;
                if kind == "completed" {
                    completed += 1;
                }
            }
            _ => {}
        }
    }

    CohortOutcome {
        cohort,
        group,
        is_final,
        n,
        reoffenders,
        reoffences,
        rate: ratio(reoffenders, n),
        rate_ci: wilson(reoffenders, n),
        frequency: ratio(reoffences, n),
        per_reoffender: ratio(reoffences, reoffenders),
        km,
        stalking_harassment: variant(&indexed, as_of, "stalking_harassment"),
        spo_breach: variant(&indexed, as_of, "spo_breach"),
        attendance: Attendance {
            attended,
            due,
            rate: ratio(attended, due),
        },
        completion: Completion {
            completed,
            ended,
            rate: ratio(completed, ended),
        },
        median_days_to_start: median(&days_to_start),
        starts: days_to_start.len() as u64,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    pub n: u64,
    pub reoffenders: u64,
}

/// Completers against withdrawn enrolments, across all cohorts. Descriptive only: a causal
/// claim needs a matched comparison group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub completers: Group,
    pub non_completers: Group,
    pub difference: Option<f64>,
    pub ci: Option<(f64, f64)>,
    pub label: &'static str,
}

pub fn completers_comparison(enrolments: &[EnrolmentOutcome], as_of: NaiveDate) -> Comparison {
    let mut completers = Group {
        n: 0,
        reoffenders: 0,
    };
    let mut withdrawn = Group {
        n: 0,
        reoffenders: 0,
    };
    for e in enrolments {
        let (Some(index), Some((kind, ended))) = (e.started_on, &e.end) else {
            continue;
        };
        if index > as_of || *ended > as_of {
            continue;
        }
        let group = match kind.as_str() {
            "completed" => &mut completers,
            "withdrawn" => &mut withdrawn,
            _ => continue,
        };
        group.n += 1;
        if !reoffending(e, index, as_of, None).offence_days.is_empty() {
            group.reoffenders += 1;
        }
    }
    let interval = newcombe(
        completers.reoffenders,
        completers.n,
        withdrawn.reoffenders,
        withdrawn.n,
    );
    Comparison {
        difference: interval.map(|(d, _, _)| d),
        ci: interval.map(|(_, l, u)| (l, u)),
        completers,
        non_completers: withdrawn,
        label: "descriptive",
    }
}

/// One protection order as the order measures see it.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderOutcome {
    pub made_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    pub served_on: Option<NaiveDate>,
    pub discharged_on: Option<NaiveDate>,
    pub initial_notification_on: Option<NaiveDate>,
    pub breach_reports: Vec<NaiveDate>,
}

/// Days in a month for order-months (365.25 / 12).
pub const DAYS_PER_MONTH: f64 = 30.4375;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderPeriod {
    pub period: String,
    pub orders: u64,
    pub notification_due: u64,
    pub notification_on_time: u64,
    pub notification_on_time_rate: Option<f64>,
    pub breach_reports: u64,
    pub order_months: f64,
    pub breaches_per_100_order_months: Option<f64>,
}

/// Orders grouped by the quarter they were made.
pub fn orders_by_period(orders: &[OrderOutcome], as_of: NaiveDate) -> Vec<OrderPeriod> {
    let mut periods: BTreeMap<String, Vec<&OrderOutcome>> = BTreeMap::new();
    for o in orders.iter().filter(|o| o.made_on <= as_of) {
        periods.entry(quarter(o.made_on)).or_default().push(o);
    }
    periods
        .into_iter()
        .map(|(period, orders)| {
            let due: Vec<&&OrderOutcome> = orders
                .iter()
                .filter(|o| o.served_on.is_some_and(|s| days_between(s, as_of) > 2))
                .collect();
            let on_time = due
                .iter()
                .filter(|o| match (o.served_on, o.initial_notification_on) {
                    (Some(served), Some(notified)) => {
                        notified <= as_of && days_between(served, notified) <= 2
                    }
                    _ => false,
                })
                .count() as u64;
            let breach_reports = orders
                .iter()
                .flat_map(|o| o.breach_reports.iter())
                .filter(|r| **r <= as_of)
                .count() as u64;
            let order_days: i64 = orders
                .iter()
                .map(|o| {
                    let end = [o.ends_on, o.discharged_on, Some(as_of)]
                        .into_iter()
                        .flatten()
                        .min()
                        .unwrap_or(as_of);
                    days_between(o.made_on, end).max(0)
                })
                .sum();
            let order_months = order_days as f64 / DAYS_PER_MONTH;
            OrderPeriod {
                period,
                orders: orders.len() as u64,
                notification_due: due.len() as u64,
                notification_on_time: on_time,
                notification_on_time_rate: ratio(on_time, due.len() as u64),
                breach_reports,
                order_months,
                breaches_per_100_order_months: (order_months > 0.0)
                    .then(|| breach_reports as f64 / order_months * 100.0),
            }
        })
        .collect()
}
