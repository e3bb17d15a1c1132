//! The desist-timeline/1 document (shared/fixtures/TIMELINE.md), parsed and checked for
//! everything that can be checked without the domain: shape, types, values, references.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use desist_domain::enrolment::{EnforcementAction, ReferralRoute, WithdrawalReason};
use desist_domain::protection_order::{
    BreachDecision, ConditionCategory, ConditionKind, DecidedBy, NotificationKind,
};
use desist_domain::subject::{
    OffenceCategory, OffenceDisposal, Rating, Sex, SrpRatings, StalkerType,
};
use serde::Deserialize;
use serde_json::Value;

use super::reader::{Obj, Problems};

pub const FORMAT: &str = "desist-timeline/1";

pub struct Timeline {
    pub programmes: Vec<Programme>,
    pub subjects: Vec<Subject>,
}

pub struct Programme {
    pub path: String,
    pub code: String,
    pub version: String,
    pub planned_sessions: u16,
    pub min_attended_for_completion: u16,
}

pub struct Subject {
    pub path: String,
    pub reference: String,
    pub birth_year: i32,
    pub sex: Sex,
    pub area: String,
    pub risk_assessments: Vec<RiskAssessment>,
    pub orders: Vec<Order>,
    pub enrolments: Vec<Enrolment>,
    pub offences: Vec<Offence>,
}

pub struct RiskAssessment {
    pub path: String,
    pub date: NaiveDate,
    pub tool_version: String,
    pub assessor: String,
    pub stalker_type: StalkerType,
    pub ratings: SrpRatings,
}

pub struct Order {
    pub path: String,
    pub reference: String,
    pub interim: bool,
    pub made: NaiveDate,
    pub ends: Option<NaiveDate>,
    pub served: Option<NaiveDate>,
    pub discharged: Option<NaiveDate>,
    pub conditions: Vec<Condition>,
    pub notifications: Vec<(String, NotificationKind, NaiveDate)>,
    pub breaches: Vec<Breach>,
}

pub struct Condition {
    pub id: String,
    pub kind: ConditionKind,
    pub category: ConditionCategory,
    pub from: NaiveDate,
    pub until: Option<NaiveDate>,
}

pub struct Breach {
    pub path: String,
    pub reference: String,
    pub condition: String,
    pub occurred: NaiveDate,
    pub reported: NaiveDate,
    pub outcome: Option<(BreachDecision, DecidedBy, NaiveDate)>,
}

pub struct Enrolment {
    pub path: String,
    pub reference: String,
    pub programme: String,
    pub route: ReferralRoute,
    pub referred: NaiveDate,
    pub assessed: Option<(NaiveDate, bool)>,
    pub allocated: Option<(NaiveDate, String)>,
    pub started: Option<NaiveDate>,
    pub sessions: Vec<Session>,
    pub pauses: Vec<(String, NaiveDate, Option<NaiveDate>)>,
    pub enforcement: Vec<(String, NaiveDate, EnforcementAction)>,
    pub end: Option<End>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Attended,
    Late,
    SentHome,
    Absent,
    ProviderCancelled,
    Rescheduled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Absence {
    Provisional,
    Acceptable,
    Unacceptable,
}

pub struct Concern {
    pub notify_probation: bool,
    pub acknowledged: Option<NaiveDate>,
}

pub struct Session {
    pub path: String,
    pub n: u16,
    pub at: DateTime<Utc>,
    pub outcome: Outcome,
    pub absence: Option<Absence>,
    pub concern: Option<Concern>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndKind {
    Completed,
    Withdrawn,
}

pub struct End {
    pub path: String,
    pub kind: EndKind,
    pub date: NaiveDate,
    pub reason: Option<WithdrawalReason>,
    pub reason_text: Option<String>,
}

pub struct Offence {
    pub path: String,
    pub offence_date: NaiveDate,
    pub proven_date: Option<NaiveDate>,
    pub disposal: Option<OffenceDisposal>,
    pub category: OffenceCategory,
}

/// Parses the whole document and lists every problem found. Subjects with a problem of their
/// own are left out of the returned timeline, so that the rules are checked only on entries
/// that could be read whole.
pub fn parse(document: &Value) -> (Timeline, Problems) {
    let mut p = Problems::default();
    let root = Obj::new(document, "", &mut p);
    match root.string("format", &mut p) {
        Some(format) if format == FORMAT => {}
        Some(format) => p.add(
            "format",
            format!("unknown format {format:?}: expected {FORMAT:?}"),
        ),
        None => {}
    }
    let programmes: Vec<Programme> = root
        .array("programmes", &mut p)
        .into_iter()
        .filter_map(|(path, v)| programme(Obj::new(v, path, &mut p), &mut p))
        .collect();
    let subjects: Vec<Subject> = root
        .array("subjects", &mut p)
        .into_iter()
        .filter_map(|(path, v)| subject(Obj::new(v, path, &mut p), &mut p))
        .collect();
    check_references(&programmes, &subjects, &mut p);
    let readable = |path: &str| {
        !p.0.iter().any(|problem| {
            problem.path == path
                || problem.path.starts_with(&format!("{path}."))
                || problem.path.starts_with(&format!("{path}["))
        })
    };
    let subjects = subjects.into_iter().filter(|s| readable(&s.path)).collect();
    (
        Timeline {
            programmes,
            subjects,
        },
        p,
    )
}

fn programme(o: Obj, p: &mut Problems) -> Option<Programme> {
    let code = o.string("code", p);
    let version = o.string("version", p);
    let planned = o.int("planned_sessions", 1..=52, p);
    let min = o.int("min_attended_for_completion", 1..=52, p);
    Some(Programme {
        code: code?,
        version: version?,
        planned_sessions: planned?,
        min_attended_for_completion: min?,
        path: o.path,
    })
}

fn subject(o: Obj, p: &mut Problems) -> Option<Subject> {
    let reference = o.string("ref", p);
    let birth_year = o.int("birth_year", 1900..=2100, p);
    let sex = o.choice("sex", p);
    let area = o.string("area", p);
    let risk_assessments: Vec<_> = o
        .array("risk_assessments", p)
        .into_iter()
        .filter_map(|(path, v)| risk_assessment(Obj::new(v, path, p), p))
        .collect();
    let orders: Vec<_> = o
        .array("orders", p)
        .into_iter()
        .filter_map(|(path, v)| order(Obj::new(v, path, p), p))
        .collect();
    let enrolments: Vec<_> = o
        .array("enrolments", p)
        .into_iter()
        .filter_map(|(path, v)| enrolment(Obj::new(v, path, p), p))
        .collect();
    let offences: Vec<_> = o
        .array("offences", p)
        .into_iter()
        .filter_map(|(path, v)| offence(Obj::new(v, path, p), p))
        .collect();
    Some(Subject {
        reference: reference?,
        birth_year: birth_year?,
        sex: sex?,
        area: area?,
        risk_assessments,
        orders,
        enrolments,
        offences,
        path: o.path,
    })
}

fn risk_assessment(o: Obj, p: &mut Problems) -> Option<RiskAssessment> {
    let date = o.date("date", p);
    if let Some(tool) = o.string("tool", p) {
        if tool != "SRP" {
            p.add(
                o.at("tool"),
                format!("unknown value {tool:?}: timelines carry SRP ratings only"),
            );
        }
    }
    let tool_version = o.string("tool_version", p);
    let assessor = o.string("assessor", p);
    let stalker_type = o.choice("stalker_type", p);
    let ratings = o.object("ratings", p).and_then(|r| {
        let violence: Option<Rating> = r.choice("violence", p);
        let persistence = r.choice("persistence", p);
        let recurrence = r.choice("recurrence", p);
        let psychosocial_damage = r.choice("psychosocial_damage", p);
        Some(SrpRatings {
            violence: violence?,
            persistence: persistence?,
            recurrence: recurrence?,
            psychosocial_damage: psychosocial_damage?,
        })
    });
    Some(RiskAssessment {
        date: date?,
        tool_version: tool_version?,
        assessor: assessor?,
        stalker_type: stalker_type?,
        ratings: ratings?,
        path: o.path,
    })
}

fn order(o: Obj, p: &mut Problems) -> Option<Order> {
    let reference = o.string("ref", p);
    let interim = o.bool("interim", p);
    let made = o.date("made", p);
    let ends = o.opt_date("ends", p);
    let served = o.opt_date("served", p);
    let discharged = o.opt_date("discharged", p);
    let conditions: Vec<_> = o
        .array("conditions", p)
        .into_iter()
        .filter_map(|(path, v)| {
            let c = Obj::new(v, path, p);
            let id = c.string("id", p);
            let kind = c.choice("kind", p);
            let category = c.choice("category", p);
            let from = c.date("from", p);
            let until = c.opt_date("until", p);
            Some(Condition {
                id: id?,
                kind: kind?,
                category: category?,
                from: from?,
                until,
            })
        })
        .collect();
    let notifications: Vec<_> = o
        .array("notifications", p)
        .into_iter()
        .filter_map(|(path, v)| {
            let n = Obj::new(v, path, p);
            let kind = n.choice("kind", p);
            let date = n.date("date", p);
            Some((n.path, kind?, date?))
        })
        .collect();
    let breaches: Vec<_> = o
        .array("breaches", p)
        .into_iter()
        .filter_map(|(path, v)| {
            let b = Obj::new(v, path, p);
            let reference = b.string("ref", p);
            let condition = b.string("condition", p);
            let occurred = b.date("occurred", p);
            let reported = b.date("reported", p);
            let outcome = b.opt_object("outcome", p).map(|out| {
                let decision = out.choice("decision", p);
                let decided_by = out.choice("decided_by", p);
                let date = out.date("date", p);
                decision
                    .zip(decided_by)
                    .zip(date)
                    .map(|((a, b), c)| (a, b, c))
            });
            let outcome = match outcome {
                Some(None) => return None,
                Some(Some(o)) => Some(o),
                None => None,
            };
            Some(Breach {
                reference: reference?,
                condition: condition?,
                occurred: occurred?,
                reported: reported?,
                outcome,
                path: b.path,
            })
        })
        .collect();
    Some(Order {
        reference: reference?,
        interim: interim?,
        made: made?,
        ends,
        served,
        discharged,
        conditions,
        notifications,
        breaches,
        path: o.path,
    })
}

fn enrolment(o: Obj, p: &mut Problems) -> Option<Enrolment> {
    let reference = o.string("ref", p);
    let programme = o.string("programme", p);
    let route = o.choice("route", p);
    let referred = o.date("referred", p);
    let assessed = o.opt_date("assessed", p);
    let suitable = o.opt_bool("suitable", p);
    let assessed = match (assessed, suitable) {
        (Some(date), Some(suitable)) => Some((date, suitable)),
        (Some(_), None) => {
            p.add(o.at("suitable"), "is required when assessed is given");
            None
        }
        (None, Some(_)) => {
            p.add(o.at("assessed"), "is required when suitable is given");
            None
        }
        (None, None) => None,
    };
    let allocated = o.opt_date("allocated", p);
    let practitioner = o.opt_string("practitioner", p);
    let allocated = match (allocated, practitioner) {
        (Some(date), Some(who)) => Some((date, who)),
        (Some(_), None) => {
            p.add(o.at("practitioner"), "is required when allocated is given");
            None
        }
        (None, Some(_)) => {
            p.add(o.at("allocated"), "is required when practitioner is given");
            None
        }
        (None, None) => None,
    };
    let started = o.opt_date("started", p);
    let sessions: Vec<_> = o
        .array("sessions", p)
        .into_iter()
        .filter_map(|(path, v)| session(Obj::new(v, path, p), p))
        .collect();
    let pauses: Vec<_> = o
        .array("pauses", p)
        .into_iter()
        .filter_map(|(path, v)| {
            let pause = Obj::new(v, path, p);
            let from = pause.date("from", p);
            let to = pause.opt_date("to", p);
            Some((pause.path, from?, to))
        })
        .collect();
    let enforcement: Vec<_> = o
        .array("enforcement", p)
        .into_iter()
        .filter_map(|(path, v)| {
            let e = Obj::new(v, path, p);
            let date = e.date("date", p);
            let action = e.choice("action", p);
            Some((e.path, date?, action?))
        })
        .collect();
    let end = o.opt_object("end", p).and_then(|e| {
        let kind = e.choice("kind", p);
        let date = e.date("date", p);
        let reason = e.opt_choice("reason", p);
        let reason_text = e.opt_string("reason_text", p);
        if kind == Some(EndKind::Withdrawn) && reason.is_none() {
            p.add(e.at("reason"), "is required when kind is withdrawn");
        }
        Some(End {
            kind: kind?,
            date: date?,
            reason,
            reason_text,
            path: e.path,
        })
    });
    Some(Enrolment {
        reference: reference?,
        programme: programme?,
        route: route?,
        referred: referred?,
        assessed,
        allocated,
        started,
        sessions,
        pauses,
        enforcement,
        end,
        path: o.path,
    })
}

fn session(o: Obj, p: &mut Problems) -> Option<Session> {
    let n = o.int("n", 1..=52, p);
    let at = o.datetime("at", p);
    let outcome = o.choice("outcome", p);
    let absence = o.opt_choice("absence", p);
    match (outcome, absence) {
        (Some(Outcome::Absent), None) => p.add(o.at("absence"), "is required when absent"),
        (Some(other), Some(_)) if other != Outcome::Absent => {
            p.add(o.at("absence"), "is only for absent sessions")
        }
        _ => {}
    }
    let concern = o.opt_object("concern", p).and_then(|c| {
        let notify_probation = c.bool("notify_probation", p);
        let acknowledged = c.opt_date("acknowledged", p);
        Some(Concern {
            notify_probation: notify_probation?,
            acknowledged,
        })
    });
    Some(Session {
        n: n?,
        at: at?,
        outcome: outcome?,
        absence,
        concern,
        path: o.path,
    })
}

fn offence(o: Obj, p: &mut Problems) -> Option<Offence> {
    let offence_date = o.date("offence_date", p);
    let proven_date = o.opt_date("proven_date", p);
    let disposal = o.opt_choice("disposal", p);
    let category = o.choice("category", p);
    if proven_date.is_some() && disposal.is_none() {
        p.add(o.at("disposal"), "is required when proven_date is given");
    }
    Some(Offence {
        offence_date: offence_date?,
        proven_date,
        disposal,
        category: category?,
        path: o.path,
    })
}

/// Refs are unique, programmes and conditions referred to exist.
fn check_references(programmes: &[Programme], subjects: &[Subject], p: &mut Problems) {
    let defined: BTreeSet<String> = programmes
        .iter()
        .map(|pr| desist_domain::programme::programme_id(&pr.code, &pr.version))
        .collect();
    // (kind, ref) → path of its first use.
    let mut first_use: BTreeMap<(&'static str, String), String> = BTreeMap::new();
    let mut unique =
        |kind: &'static str, reference: &str, path: &str, p: &mut Problems| match first_use
            .get(&(kind, reference.to_string()))
        {
            Some(first) => p.add(
                format!("{path}.ref"),
                format!("{kind} ref {reference:?} is already used at {first}"),
            ),
            None => {
                first_use.insert((kind, reference.to_string()), path.to_string());
            }
        };
    for s in subjects {
        unique("subject", &s.reference, &s.path, p);
        for o in &s.orders {
            unique("order", &o.reference, &o.path, p);
            let ids: BTreeSet<&str> = o.conditions.iter().map(|c| c.id.as_str()).collect();
            for b in &o.breaches {
                if !ids.contains(b.condition.as_str()) {
                    p.add(
                        format!("{}.condition", b.path),
                        format!("no condition {:?} in this order", b.condition),
                    );
                }
            }
        }
        for e in &s.enrolments {
            unique("enrolment", &e.reference, &e.path, p);
            if !defined.contains(&e.programme) {
                p.add(
                    format!("{}.programme", e.path),
                    format!("programme {:?} is not defined in programmes", e.programme),
                );
            }
        }
    }
}
