//! The evaluator's own types: disclosure-controlled aggregates only. Nothing here can lead to a
//! case-level object, a name, a reference or free text.

use async_graphql::{InputObject, SimpleObject};
use desist_projections::measures::disclosure::{
    Cell as DomainCell, ControlledComparison, ControlledOrderPeriod, ControlledRow,
};
use desist_projections::queries::OutcomeReport;

/// A count: `null` with `suppressed: true` when disclosure control withholds it; otherwise
/// rounded to the nearest five.
#[derive(SimpleObject, Clone, Copy)]
pub struct Cell {
    pub value: Option<i64>,
    pub suppressed: bool,
}

impl From<DomainCell> for Cell {
    fn from(c: DomainCell) -> Self {
        Self {
            value: c.value.map(|v| v as i64),
            suppressed: c.suppressed,
        }
    }
}

fn cell(value: Option<u64>, suppressed: bool) -> Cell {
    Cell {
        value: value.map(|v| v as i64),
        suppressed,
    }
}

/// A 95% interval.
#[derive(SimpleObject, Clone, Copy)]
pub struct Interval {
    pub lower: f64,
    pub upper: f64,
}

fn interval(ci: Option<(f64, f64)>) -> Option<Interval> {
    ci.map(|(lower, upper)| Interval { lower, upper })
}

#[derive(SimpleObject, Clone)]
pub struct GroupValue {
    pub name: String,
    pub value: String,
}

/// Proportion with a proven reoffence by a day after the index date (Kaplan–Meier).
#[derive(SimpleObject, Clone)]
pub struct SurvivalPoint {
    pub day: i32,
    /// `null` when withheld by disclosure control.
    pub proportion: Option<f64>,
    pub ci: Option<Interval>,
}

/// One row of the outcome table, after disclosure control.
#[derive(SimpleObject, Clone)]
pub struct CohortOutcome {
    /// `2024Q1`.
    pub cohort: String,
    /// The split values of the row, when split.
    pub group: Vec<GroupValue>,
    /// Final when every index date in the cohort is 18 months or more before the as-of date;
    /// otherwise provisional.
    #[graphql(name = "final")]
    pub is_final: bool,
    pub n: Cell,
    pub reoffenders: Cell,
    pub reoffences: Cell,
    pub completed: Cell,
    pub ended: Cell,
    pub attended: Cell,
    pub due: Cell,
    pub rate: Option<f64>,
    pub rate_ci: Option<Interval>,
    pub frequency: Option<f64>,
    pub per_reoffender: Option<f64>,
    pub completion_rate: Option<f64>,
    pub attendance_rate: Option<f64>,
    pub stalking_harassment_rate: Option<f64>,
    pub stalking_harassment_rate_ci: Option<Interval>,
    pub spo_breach_rate: Option<f64>,
    pub spo_breach_rate_ci: Option<Interval>,
    pub time_to_reoffence: Vec<SurvivalPoint>,
    pub median_days_to_start: Option<f64>,
}

impl From<&ControlledRow> for CohortOutcome {
    fn from(r: &ControlledRow) -> Self {
        let hidden = |name: &str| r.suppressed.contains(name);
        let mut time_to_reoffence: Vec<SurvivalPoint> =
            r.km.iter()
                .map(|(day, point)| SurvivalPoint {
                    day: day.parse().unwrap_or_default(),
                    proportion: point.as_ref().map(|p| p.proportion),
                    ci: point.as_ref().map(|p| Interval {
                        lower: p.ci.0,
                        upper: p.ci.1,
                    }),
                })
                .collect();
        time_to_reoffence.sort_by_key(|p| p.day);
        Self {
            cohort: r.cohort.clone(),
            group: r
                .group
                .iter()
                .map(|(name, value)| GroupValue {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect(),
            is_final: r.is_final,
            n: cell(r.n, hidden("n")),
            reoffenders: cell(r.reoffenders, hidden("reoffenders")),
            reoffences: cell(r.reoffences, hidden("reoffences")),
            completed: cell(r.completed, hidden("completed")),
            ended: cell(r.ended, hidden("ended")),
            attended: cell(r.attended, hidden("attended")),
            due: cell(r.due, hidden("due")),
            rate: r.rate,
            rate_ci: interval(r.rate_ci),
            frequency: r.frequency,
            per_reoffender: r.per_reoffender,
            completion_rate: r.completion_rate,
            attendance_rate: r.attendance_rate,
            stalking_harassment_rate: r.stalking_harassment_rate,
            stalking_harassment_rate_ci: interval(r.stalking_harassment_rate_ci),
            spo_breach_rate: r.spo_breach_rate,
            spo_breach_rate_ci: interval(r.spo_breach_rate_ci),
            time_to_reoffence,
            median_days_to_start: r.median_days_to_start,
        }
    }
}

#[derive(SimpleObject, Clone)]
pub struct ComparisonGroup {
    pub n: Cell,
    pub reoffenders: Cell,
}

/// Completers against withdrawn enrolments. Descriptive: a causal claim needs a matched
/// comparison group (Justice Data Lab style, 60 or more treated).
#[derive(SimpleObject, Clone)]
pub struct Comparison {
    pub completers: ComparisonGroup,
    pub non_completers: ComparisonGroup,
    pub difference: Option<f64>,
    pub ci: Option<Interval>,
    pub label: String,
}

impl From<&ControlledComparison> for Comparison {
    fn from(c: &ControlledComparison) -> Self {
        let group =
            |g: &desist_projections::measures::disclosure::ControlledGroup| ComparisonGroup {
                n: g.n.into(),
                reoffenders: g.reoffenders.into(),
            };
        Self {
            completers: group(&c.completers),
            non_completers: group(&c.non_completers),
            difference: c.difference,
            ci: interval(c.ci),
            label: c.label.to_string(),
        }
    }
}

#[derive(SimpleObject, Clone)]
pub struct OrderPeriod {
    /// The quarter the orders were made.
    pub period: String,
    pub orders: Cell,
    pub notification_due: Cell,
    pub notification_on_time: Cell,
    pub notification_on_time_rate: Option<f64>,
    pub breach_reports: Cell,
    pub order_months: f64,
    pub breaches_per_100_order_months: Option<f64>,
}

impl From<&ControlledOrderPeriod> for OrderPeriod {
    fn from(p: &ControlledOrderPeriod) -> Self {
        Self {
            period: p.period.clone(),
            orders: p.orders.into(),
            notification_due: p.notification_due.into(),
            notification_on_time: p.notification_on_time.into(),
            notification_on_time_rate: p.notification_on_time_rate,
            breach_reports: p.breach_reports.into(),
            order_months: p.order_months,
            breaches_per_100_order_months: p.breaches_per_100_order_months,
        }
    }
}

/// Everything an evaluator receives for one as-of date.
#[derive(SimpleObject, Clone)]
pub struct OutcomeReportView {
    pub as_of: chrono::NaiveDate,
    /// The feed position the figures are pinned to: pass it back as `pin` to repeat the query
    /// exactly.
    pub position: String,
    pub cohorts: Vec<CohortOutcome>,
    pub comparison: Comparison,
    pub orders_by_period: Vec<OrderPeriod>,
}

impl From<&OutcomeReport> for OutcomeReportView {
    fn from(r: &OutcomeReport) -> Self {
        use desist_projections::measures::disclosure::{control_comparison, control_orders};
        Self {
            as_of: r.as_of,
            position: format!("{}:{}", r.position.tx, r.position.global_position),
            cohorts: r
                .controlled_outcomes_by_cohort
                .iter()
                .map(Into::into)
                .collect(),
            comparison: (&control_comparison(&r.comparison_completers)).into(),
            orders_by_period: control_orders(&r.orders_by_period)
                .iter()
                .map(Into::into)
                .collect(),
        }
    }
}

/// How to split the cohort table, besides by quarter.
#[derive(InputObject, Default, Clone, Copy)]
pub struct OutcomeSplit {
    #[graphql(default)]
    pub programme: bool,
    #[graphql(default)]
    pub area: bool,
    #[graphql(default)]
    pub srp_type: bool,
    #[graphql(default)]
    pub route: bool,
}
