//! Disclosure control of the evaluator's outcome table (DOMAIN.md, "Disclosure control"):
//! the 10-5 rule with primary and secondary suppression.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::outcomes::{CohortOutcome, KmPoint};

/// Counts below this are suppressed; a cohort smaller than this is suppressed whole.
pub const THRESHOLD: u64 = 10;
/// Shown counts are rounded to the nearest multiple of this.
pub const ROUNDING: u64 = 5;

/// The count columns, in table order.
pub const COUNTS: [&str; 7] = [
    "n",
    "reoffenders",
    "reoffences",
    "completed",
    "ended",
    "attended",
    "due",
];

fn counts(row: &CohortOutcome) -> [u64; 7] {
    [
        row.n,
        row.reoffenders,
        row.reoffences,
        row.completion.completed,
        row.completion.ended,
        row.attendance.attended,
        row.attendance.due,
    ]
}

pub fn round_to_five(count: u64) -> u64 {
    (count + ROUNDING / 2) / ROUNDING * ROUNDING
}

/// A row as an evaluator may see it. A `None` count is suppressed; `suppressed` names those
/// cells so that a client can tell "suppressed" from "not applicable".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ControlledRow {
    pub cohort: String,
    pub group: BTreeMap<String, String>,
    #[serde(rename = "final")]
    pub is_final: bool,
    pub n: Option<u64>,
    pub reoffenders: Option<u64>,
    pub reoffences: Option<u64>,
    pub completed: Option<u64>,
    pub ended: Option<u64>,
    pub attended: Option<u64>,
    pub due: Option<u64>,
    pub rate: Option<f64>,
    pub rate_ci: Option<(f64, f64)>,
    pub frequency: Option<f64>,
    pub per_reoffender: Option<f64>,
    pub completion_rate: Option<f64>,
    pub attendance_rate: Option<f64>,
    pub stalking_harassment_rate: Option<f64>,
    pub stalking_harassment_rate_ci: Option<(f64, f64)>,
    pub spo_breach_rate: Option<f64>,
    pub spo_breach_rate_ci: Option<(f64, f64)>,
    pub km: BTreeMap<String, Option<KmPoint>>,
    pub median_days_to_start: Option<f64>,
    pub suppressed: BTreeSet<&'static str>,
}

/// Applies disclosure control to one table (the rows of one split, in cohort order).
pub fn control(rows: &[CohortOutcome]) -> Vec<ControlledRow> {
    let raw: Vec<[u64; 7]> = rows.iter().map(counts).collect();
    // Primary suppression: small cells, and every cell of a small cohort.
    let mut hidden: Vec<[bool; 7]> = raw
        .iter()
        .map(|c| {
            let whole = c[0] < THRESHOLD;
            c.map(|v| whole || v < THRESHOLD)
        })
        .collect();
    // Secondary suppression: a lone suppressed cell in a column could be recovered from the
    // published total, so the smallest other shown cell goes too (the earliest on a tie).
    for column in 0..COUNTS.len() {
        let suppressed = hidden.iter().filter(|h| h[column]).count();
        if suppressed != 1 {
            continue;
        }
        let smallest = (0..rows.len())
            .filter(|r| !hidden[*r][column])
            .min_by_key(|r| (raw[*r][column], *r));
        if let Some(r) = smallest {
            hidden[r][column] = true;
        }
    }
    rows.iter()
        .zip(raw.iter().zip(hidden.iter()))
        .map(|(row, (raw, hidden))| controlled(row, raw, hidden))
        .collect()
}

fn controlled(row: &CohortOutcome, raw: &[u64; 7], hidden: &[bool; 7]) -> ControlledRow {
    let shown = |i: usize| (!hidden[i]).then(|| round_to_five(raw[i]));
    let both = |a: usize, b: usize| !hidden[a] && !hidden[b];
    let row_shown = row.n >= THRESHOLD;
    let [n, reoffenders, reoffences, completed, ended, attended, due] = [0, 1, 2, 3, 4, 5, 6];
    let variant = |v: &super::outcomes::Variant| {
        let show = row_shown && v.reoffenders >= THRESHOLD;
        (v.rate.filter(|_| show), v.rate_ci.filter(|_| show))
    };
    let (stalking_harassment_rate, stalking_harassment_rate_ci) = variant(&row.stalking_harassment);
    let (spo_breach_rate, spo_breach_rate_ci) = variant(&row.spo_breach);
    let km = row
        .km
        .iter()
        .map(|(day, point)| {
            let point = point
                .clone()
                .filter(|p| !hidden[reoffenders] && p.reoffences_by_day >= THRESHOLD);
            (day.clone(), point)
        })
        .collect();
    ControlledRow {
        cohort: row.cohort.clone(),
        group: row.group.clone(),
        is_final: row.is_final,
        n: shown(n),
        reoffenders: shown(reoffenders),
        reoffences: shown(reoffences),
        completed: shown(completed),
        ended: shown(ended),
        attended: shown(attended),
        due: shown(due),
        rate: row.rate.filter(|_| both(reoffenders, n)),
        rate_ci: row.rate_ci.filter(|_| both(reoffenders, n)),
        frequency: row.frequency.filter(|_| both(reoffences, n)),
        per_reoffender: row.per_reoffender.filter(|_| both(reoffences, reoffenders)),
        completion_rate: row.completion.rate.filter(|_| both(completed, ended)),
        attendance_rate: row.attendance.rate.filter(|_| both(attended, due)),
        stalking_harassment_rate,
        stalking_harassment_rate_ci,
        spo_breach_rate,
        spo_breach_rate_ci,
        km,
        median_days_to_start: row
            .median_days_to_start
            .filter(|_| row_shown && row.starts >= THRESHOLD),
        suppressed: COUNTS
            .iter()
            .zip(hidden.iter())
            .filter(|(_, h)| **h)
            .map(|(name, _)| *name)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_round_to_the_nearest_five() {
        assert_eq!(round_to_five(10), 10);
        assert_eq!(round_to_five(12), 10);
        assert_eq!(round_to_five(13), 15);
        assert_eq!(round_to_five(341), 340);
        assert_eq!(round_to_five(406), 405);
    }
}

/// A count as an evaluator receives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Cell {
    pub value: Option<u64>,
    pub suppressed: bool,
}

/// The primary rule for a count outside the cohort table: below the threshold it is suppressed,
/// otherwise rounded to the nearest five.
pub fn cell(count: u64) -> Cell {
    if count < THRESHOLD {
        Cell {
            value: None,
            suppressed: true,
        }
    } else {
        Cell {
            value: Some(round_to_five(count)),
            suppressed: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ControlledGroup {
    pub n: Cell,
    pub reoffenders: Cell,
}

/// The completers comparison under disclosure control: the difference and its interval are
/// shown only when all four counts are.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ControlledComparison {
    pub completers: ControlledGroup,
    pub non_completers: ControlledGroup,
    pub difference: Option<f64>,
    pub ci: Option<(f64, f64)>,
    pub label: &'static str,
}

pub fn control_comparison(c: &super::outcomes::Comparison) -> ControlledComparison {
    let group = |g: &super::outcomes::Group| ControlledGroup {
        n: cell(g.n),
        reoffenders: cell(g.reoffenders),
    };
    let completers = group(&c.completers);
    let non_completers = group(&c.non_completers);
    let shown = [
        completers.n,
        completers.reoffenders,
        non_completers.n,
        non_completers.reoffenders,
    ]
    .iter()
    .all(|c| !c.suppressed);
    ControlledComparison {
        difference: c.difference.filter(|_| shown),
        ci: c.ci.filter(|_| shown),
        completers,
        non_completers,
        label: c.label,
    }
}

/// Order measures under disclosure control: counts by the primary rule, rates only from shown
/// counts. Order-months measure time, not people, and are shown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ControlledOrderPeriod {
    pub period: String,
    pub orders: Cell,
    pub notification_due: Cell,
    pub notification_on_time: Cell,
    pub notification_on_time_rate: Option<f64>,
    pub breach_reports: Cell,
    pub order_months: f64,
    pub breaches_per_100_order_months: Option<f64>,
}

pub fn control_orders(periods: &[super::outcomes::OrderPeriod]) -> Vec<ControlledOrderPeriod> {
    periods
        .iter()
        .map(|p| {
            let due = cell(p.notification_due);
            let on_time = cell(p.notification_on_time);
            let breaches = cell(p.breach_reports);
            ControlledOrderPeriod {
                period: p.period.clone(),
                orders: cell(p.orders),
                notification_on_time_rate: p
                    .notification_on_time_rate
                    .filter(|_| !due.suppressed && !on_time.suppressed),
                breaches_per_100_order_months: p
                    .breaches_per_100_order_months
                    .filter(|_| !breaches.suppressed),
                notification_due: due,
                notification_on_time: on_time,
                breach_reports: breaches,
                order_months: p.order_months,
            }
        })
        .collect()
}
