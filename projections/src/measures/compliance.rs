//! A subject's compliance status as of a date (DOMAIN.md, "Compliance rules").

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::dates::{add_months, days_between};

/// A held session as compliance sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionFact {
    pub held_at: DateTime<Utc>,
    /// attended | late | sent_home | absent | provider_cancelled | rescheduled | scheduled
    pub state: String,
    /// For absences: provisional | acceptable | unacceptable.
    pub absence: Option<String>,
    pub absence_resolved_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConcernFact {
    pub raised_at: DateTime<Utc>,
    pub notify_probation: bool,
    pub acknowledged_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct EnrolmentFacts {
    pub enrolment_id: String,
    pub started_on: Option<NaiveDate>,
    pub ended_on: Option<NaiveDate>,
    /// (paused on, resumed on)
    pub pauses: Vec<(NaiveDate, Option<NaiveDate>)>,
    pub sessions: Vec<SessionFact>,
    /// (dated, action) with action warning | referred_for_enforcement | no_further_action |
    /// breach_concluded
    pub enforcement: Vec<(NaiveDate, String)>,
    pub concerns: Vec<ConcernFact>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BreachFact {
    pub reported_on: NaiveDate,
    pub first_outcome_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderFacts {
    pub order_id: String,
    pub made_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    pub served_on: Option<NaiveDate>,
    pub discharged_on: Option<NaiveDate>,
    pub initial_notification_on: Option<NaiveDate>,
    pub breaches: Vec<BreachFact>,
}

/// One SRP assessment: its date and whether each domain was rated high
/// (violence, persistence, recurrence, psychosocial damage).
#[derive(Debug, Clone, PartialEq)]
pub struct SrpFact {
    pub assessed_on: NaiveDate,
    pub high: [bool; 4],
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct SubjectFacts {
    pub subject_id: String,
    pub enrolments: Vec<EnrolmentFacts>,
    pub orders: Vec<OrderFacts>,
    /// In the order recorded.
    pub srp: Vec<SrpFact>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Rag {
    Green,
    Amber,
    Red,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NextStep {
    None,
    WarningDue,
    ReferForEnforcement,
}

/// Why a subject is RED or AMBER. Ordered by name, as reports list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    EnrolmentPaused,
    FailureToComply,
    FailuresToComply,
    NotificationOverdue,
    OpenBreachReport,
    OrderEndingSoon,
    ProvisionalAbsenceOverdue,
    RiskRaised,
    UnacknowledgedConcern,
}

impl Reason {
    pub fn rag(self) -> Rag {
        match self {
            Self::OpenBreachReport
            | Self::NotificationOverdue
            | Self::FailuresToComply
            | Self::RiskRaised
            | Self::UnacknowledgedConcern => Rag::Red,
            Self::FailureToComply
            | Self::ProvisionalAbsenceOverdue
            | Self::OrderEndingSoon
            | Self::EnrolmentPaused => Rag::Amber,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComplianceStatus {
    pub rag: Rag,
    pub reasons: Vec<Reason>,
    pub failures_since_reset: u32,
    pub next_step: NextStep,
}

/// Days after service by which the notification duty is overdue (served on D, due by D+2).
const NOTIFICATION_OVERDUE_AFTER_DAYS: i64 = 3;
/// A provisional absence older than this many days needs resolving.
const PROVISIONAL_ABSENCE_DAYS: i64 = 7;
/// "Recent" for a risk assessment and "soon" for an order's end.
const WINDOW_DAYS: i64 = 28;
/// A warning covers failures for this many months.
const WARNING_MONTHS: u32 = 12;

/// An enrolment counts on `as_of` when it started on or before it and did not end on or
/// before it.
fn in_scope(e: &EnrolmentFacts, as_of: NaiveDate) -> bool {
    e.started_on.is_some_and(|s| s <= as_of) && e.ended_on.is_none_or(|end| end > as_of)
}

/// The absence status known on `as_of`: a resolution dated later is not known yet.
fn absence_on(s: &SessionFact, as_of: NaiveDate) -> Option<&str> {
    if s.state != "absent" {
        return None;
    }
    match (s.absence.as_deref(), s.absence_resolved_on) {
        (Some(resolution), Some(on)) if on <= as_of => Some(resolution),
        _ => Some("provisional"),
    }
}

/// What one enrolment contributes: failure dates since the reset and its ladder step.
struct EnrolmentCompliance {
    failures: BTreeSet<NaiveDate>,
    next_step: NextStep,
}

fn enrolment_compliance(e: &EnrolmentFacts, as_of: NaiveDate) -> EnrolmentCompliance {
    let actions: Vec<(NaiveDate, &str)> = e
        .enforcement
        .iter()
        .filter(|(on, _)| *on <= as_of)
        .map(|(on, action)| (*on, action.as_str()))
        .collect();
    let reset = actions
        .iter()
        .filter(|(_, a)| *a == "breach_concluded")
        .map(|(on, _)| *on)
        .max();
    let start = e.started_on.unwrap_or(NaiveDate::MIN);
    let failures: BTreeSet<NaiveDate> = e
        .sessions
        .iter()
        .filter(|s| s.held_at.date_naive() <= as_of)
        .filter(|s| s.state == "sent_home" || absence_on(s, as_of) == Some("unacceptable"))
        .map(|s| s.held_at.date_naive())
        .filter(|day| *day >= start && reset.is_none_or(|r| *day > r))
        .collect();
    let dated = |kind: &str| -> Vec<NaiveDate> {
        actions
            .iter()
            .filter(|(on, a)| *a == kind && reset.is_none_or(|r| *on > r))
            .map(|(on, _)| *on)
            .collect()
    };
    let warnings = dated("warning");
    let referrals = dated("referred_for_enforcement");
    let referred_since = |day: NaiveDate| referrals.iter().any(|r| *r >= day);
    let refer = failures.iter().any(|f| {
        warnings
            .iter()
            .any(|w| w < f && *f <= add_months(*w, WARNING_MONTHS))
            && !referred_since(*f)
    });
    let next_step = if refer {
        NextStep::ReferForEnforcement
    } else if failures
        .last()
        .is_some_and(|latest| !warnings.iter().any(|w| w >= latest) && !referred_since(*latest))
    {
        NextStep::WarningDue
    } else {
        NextStep::None
    };
    EnrolmentCompliance {
        failures,
        next_step,
    }
}

fn order_in_force(o: &OrderFacts, as_of: NaiveDate) -> bool {
    o.made_on <= as_of
        && o.ends_on.is_none_or(|end| as_of <= end)
        && o.discharged_on.is_none_or(|d| d > as_of)
}

/// The subject's status on `as_of`, from facts dated on or before it.
pub fn assess(facts: &SubjectFacts, as_of: NaiveDate) -> ComplianceStatus {
    let mut reasons = BTreeSet::new();
    let enrolments: Vec<&EnrolmentFacts> = facts
        .enrolments
        .iter()
        .filter(|e| in_scope(e, as_of))
        .collect();
    let orders: Vec<&OrderFacts> = facts.orders.iter().filter(|o| o.made_on <= as_of).collect();

    let mut failures = 0u32;
    let mut next_step = NextStep::None;
    for e in &enrolments {
        let c = enrolment_compliance(e, as_of);
        failures += c.failures.len() as u32;
        next_step = next_step.max(c.next_step);

        let paused = e
            .pauses
            .iter()
            .any(|(from, to)| *from <= as_of && to.is_none_or(|to| to > as_of));
        if paused {
            reasons.insert(Reason::EnrolmentPaused);
        }
        let overdue_absence = e.sessions.iter().any(|s| {
            absence_on(s, as_of) == Some("provisional")
                && days_between(s.held_at.date_naive(), as_of) > PROVISIONAL_ABSENCE_DAYS
        });
        if overdue_absence {
            reasons.insert(Reason::ProvisionalAbsenceOverdue);
        }
        let unacknowledged = e.concerns.iter().any(|c| {
            c.notify_probation
                && c.raised_at.date_naive() <= as_of
                && c.acknowledged_on.is_none_or(|a| a > as_of)
        });
        if unacknowledged {
            reasons.insert(Reason::UnacknowledgedConcern);
        }
    }
    match failures {
        0 => {}
        1 => {
            reasons.insert(Reason::FailureToComply);
        }
        _ => {
            reasons.insert(Reason::FailuresToComply);
        }
    }

    for o in &orders {
        let open_breach = o
            .breaches
            .iter()
            .any(|b| b.reported_on <= as_of && b.first_outcome_on.is_none_or(|on| on > as_of));
        if open_breach {
            reasons.insert(Reason::OpenBreachReport);
        }
        let overdue = order_in_force(o, as_of)
            && o.served_on.is_some_and(|served| {
                days_between(served, as_of) >= NOTIFICATION_OVERDUE_AFTER_DAYS
            })
            && o.initial_notification_on.is_none_or(|n| n > as_of);
        if overdue {
            reasons.insert(Reason::NotificationOverdue);
        }
        let discharged = o.discharged_on.is_some_and(|d| d <= as_of);
        let ending_soon = !discharged
            && o.ends_on.is_some_and(|end| {
                let days = days_between(as_of, end);
                days > 0 && days <= WINDOW_DAYS
            });
        if ending_soon {
            reasons.insert(Reason::OrderEndingSoon);
        }
    }

    if risk_raised(&facts.srp, as_of) {
        reasons.insert(Reason::RiskRaised);
    }

    let rag = reasons.iter().map(|r| r.rag()).max().unwrap_or(Rag::Green);
    ComplianceStatus {
        rag,
        reasons: reasons.into_iter().collect(),
        failures_since_reset: failures,
        next_step,
    }
}

/// The latest SRP assessment is recent and rates high a domain the previous one did not.
fn risk_raised(srp: &[SrpFact], as_of: NaiveDate) -> bool {
    let mut known: Vec<&SrpFact> = srp.iter().filter(|a| a.assessed_on <= as_of).collect();
    // Stable: assessments on the same day keep the order they were recorded in.
    known.sort_by_key(|a| a.assessed_on);
    let Some(latest) = known.last() else {
        return false;
    };
    if days_between(latest.assessed_on, as_of) >= WINDOW_DAYS {
        return false;
    }
    match known.len().checked_sub(2).map(|i| known[i]) {
        None => latest.high.iter().any(|h| *h),
        Some(previous) => latest
            .high
            .iter()
            .zip(previous.high.iter())
            .any(|(now, before)| *now && !*before),
    }
}
