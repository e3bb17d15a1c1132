//! Turns a parsed timeline into the domain commands that record it, in the order they happened.
//!
//! Every command gets a deterministic id derived from the document's refs, so importing the
//! same file again replays nothing new (the command log answers each id with its first outcome).

use chrono::{DateTime, NaiveDate, Utc};
use desist_domain::enrolment::{
    AbsenceReason, AbsenceResolution, Attendance, CancelledBy, ConcernKind, EnrolmentCommand,
    SessionMode,
};
use desist_domain::programme::{programme_id, ProgrammeCommand, ProgrammeTerms};
use desist_domain::protection_order::{ConditionTerms, OrderCommand, OrderKind};
use desist_domain::subject::{Demographics, RiskAssessment, SubjectCommand};
use desist_domain::Sealed;

use super::timeline::{Absence, EndKind, Enrolment, Order, Outcome, Subject, Timeline};

/// Where a command goes.
pub enum Target {
    Programme(String, ProgrammeCommand),
    Subject(String, SubjectCommand),
    /// Boxed: enrolment commands are the largest, and a plan holds thousands of steps.
    Enrolment(String, Box<EnrolmentCommand>),
    Order(String, OrderCommand),
}

pub struct Step {
    /// The JSON path of the entry the command comes from, for error messages.
    pub path: String,
    pub command_id: String,
    pub target: Target,
}

/// Timelines carry no concern text; the record says so rather than inventing one.
const IMPORTED_CONCERN_TEXT: &str = "concern recorded in the imported timeline (no text)";

pub(crate) fn midnight(date: NaiveDate) -> DateTime<Utc> {
    date.and_time(chrono::NaiveTime::MIN).and_utc()
}

pub fn plan(timeline: &Timeline) -> Vec<Step> {
    let mut steps = Vec::new();
    for p in &timeline.programmes {
        steps.push(Step {
            path: p.path.clone(),
            command_id: format!("timeline/programme/{}/{}", p.code, p.version),
            target: Target::Programme(
                programme_id(&p.code, &p.version),
                ProgrammeCommand::DefineProgramme {
                    terms: terms(p),
                    modules: Vec::new(),
                    occurred_at: earliest_date(timeline).map_or_else(Utc::now, midnight),
                },
            ),
        });
    }
    for s in &timeline.subjects {
        subject_steps(timeline, s, &mut steps);
    }
    steps
}

fn terms(p: &super::timeline::Programme) -> ProgrammeTerms {
    ProgrammeTerms {
        code: p.code.clone(),
        version: p.version.clone(),
        planned_sessions: p.planned_sessions,
        min_attended_for_completion: p.min_attended_for_completion,
    }
}

/// The first day anything in the document happened: when programmes are taken as defined.
fn earliest_date(timeline: &Timeline) -> Option<NaiveDate> {
    timeline
        .subjects
        .iter()
        .filter_map(subject_first_date)
        .min()
}

fn subject_first_date(s: &Subject) -> Option<NaiveDate> {
    let risk = s.risk_assessments.iter().map(|r| r.date);
    let orders = s.orders.iter().map(|o| o.made);
    let enrolments = s.enrolments.iter().map(|e| e.referred);
    let offences = s.offences.iter().map(|o| o.offence_date);
    risk.chain(orders).chain(enrolments).chain(offences).min()
}

fn subject_steps(timeline: &Timeline, s: &Subject, steps: &mut Vec<Step>) {
    let id = s.reference.clone();
    let base = format!("timeline/{id}");
    let subject = |path: &str, suffix: String, command| Step {
        path: path.to_string(),
        command_id: format!("{base}/{suffix}"),
        target: Target::Subject(id.clone(), command),
    };
    steps.push(subject(
        &s.path,
        "register".into(),
        SubjectCommand::RegisterSubject {
            demographics: Demographics {
                birth_year: s.birth_year,
                sex: s.sex,
                area: s.area.clone(),
            },
            occurred_at: subject_first_date(s).map_or_else(Utc::now, midnight),
        },
    ));
    for (i, r) in s.risk_assessments.iter().enumerate() {
        steps.push(subject(
            &r.path,
            format!("risk/{i}"),
            SubjectCommand::RecordRiskAssessment {
                assessment: RiskAssessment::Srp {
                    stalker_type: r.stalker_type,
                    ratings: r.ratings,
                },
                tool_version: r.tool_version.clone(),
                assessor: r.assessor.clone(),
                occurred_at: midnight(r.date),
            },
        ));
    }
    for (i, o) in s.offences.iter().enumerate() {
        let offence_id = format!("F{i}");
        steps.push(subject(
            &o.path,
            format!("offence/{i}/recorded"),
            SubjectCommand::RecordOffence {
                offence_id: offence_id.clone(),
                category: o.category,
                occurred_at: midnight(o.offence_date),
            },
        ));
        if let (Some(proven), Some(disposal)) = (o.proven_date, o.disposal) {
            steps.push(subject(
                &o.path,
                format!("offence/{i}/proven"),
                SubjectCommand::RecordOffenceProven {
                    offence_id,
                    disposal,
                    occurred_at: midnight(proven),
                },
            ));
        }
    }
    for o in &s.orders {
        order_steps(&base, &id, o, steps);
    }
    for e in &s.enrolments {
        let programme = timeline
            .programmes
            .iter()
            .find(|p| programme_id(&p.code, &p.version) == e.programme);
        if let Some(programme) = programme {
            enrolment_steps(&base, &id, e, terms(programme), steps);
        }
    }
}

/// Commands of one aggregate, ordered by day, then by their place in that day, then by time.
struct Dated {
    day: NaiveDate,
    rank: u8,
    at: DateTime<Utc>,
    step: Step,
}

fn push_sorted(mut dated: Vec<Dated>, steps: &mut Vec<Step>) {
    // Stable: entries with equal keys keep the order they were planned in.
    dated.sort_by_key(|d| (d.day, d.rank, d.at));
    steps.extend(dated.into_iter().map(|d| d.step));
}

fn order_steps(base: &str, subject_id: &str, o: &Order, steps: &mut Vec<Step>) {
    let id = o.reference.clone();
    let base = format!("{base}/order/{id}");
    let mut dated = Vec::new();
    let mut add = |day: NaiveDate, rank: u8, path: &str, suffix: String, command| {
        dated.push(Dated {
            day,
            rank,
            at: midnight(day),
            step: Step {
                path: path.to_string(),
                command_id: format!("{base}/{suffix}"),
                target: Target::Order(id.clone(), command),
            },
        });
    };
    add(
        o.made,
        0,
        &o.path,
        "made".into(),
        OrderCommand::MakeOrder {
            subject_id: subject_id.to_string(),
            kind: if o.interim {
                OrderKind::Interim
            } else {
                OrderKind::Full
            },
            ends_on: o.ends,
            conditions: o
                .conditions
                .iter()
                .map(|c| ConditionTerms {
                    condition_id: c.id.clone(),
                    kind: c.kind,
                    category: c.category,
                    from: c.from,
                    until: c.until,
                    description: None,
                })
                .collect(),
            occurred_at: midnight(o.made),
        },
    );
    if let Some(served) = o.served {
        add(
            served,
            1,
            &o.path,
            "served".into(),
            OrderCommand::ServeOrder {
                occurred_at: midnight(served),
            },
        );
    }
    for (i, (path, kind, date)) in o.notifications.iter().enumerate() {
        add(
            *date,
            2,
            path,
            format!("notification/{i}"),
            OrderCommand::GiveNotification {
                kind: *kind,
                occurred_at: midnight(*date),
            },
        );
    }
    for b in &o.breaches {
        add(
            b.reported,
            3,
            &b.path,
            format!("breach/{}/reported", b.reference),
            OrderCommand::ReportBreach {
                breach_id: b.reference.clone(),
                condition_id: b.condition.clone(),
                occurred_on: b.occurred,
                description: None,
                occurred_at: midnight(b.reported),
            },
        );
        if let Some((decision, decided_by, date)) = b.outcome {
            add(
                date,
                4,
                &b.path,
                format!("breach/{}/outcome", b.reference),
                OrderCommand::RecordBreachOutcome {
                    breach_id: b.reference.clone(),
                    decision,
                    decided_by,
                    occurred_at: midnight(date),
                },
            );
        }
    }
    if let Some(discharged) = o.discharged {
        add(
            discharged,
            5,
            &o.path,
            "discharged".into(),
            OrderCommand::DischargeOrder {
                occurred_at: midnight(discharged),
            },
        );
    }
    push_sorted(dated, steps);
}

/// Ranks within one day: the course's steps, then the sessions held that day, then what
/// followed from them.
mod rank {
    pub const REFERRED: u8 = 0;
    pub const ASSESSED: u8 = 1;
    pub const ALLOCATED: u8 = 2;
    pub const STARTED: u8 = 3;
    pub const RESUMED: u8 = 4;
    pub const SESSION: u8 = 5;
    pub const ACKNOWLEDGED: u8 = 6;
    pub const ENFORCEMENT: u8 = 7;
    pub const PAUSED: u8 = 8;
    pub const ENDED: u8 = 9;
}

fn enrolment_steps(
    base: &str,
    subject_id: &str,
    e: &Enrolment,
    programme: ProgrammeTerms,
    steps: &mut Vec<Step>,
) {
    let id = e.reference.clone();
    let base = format!("{base}/enrolment/{id}");
    let mut dated = Vec::new();
    let mut add = |at: DateTime<Utc>, rank: u8, path: &str, suffix: String, command| {
        dated.push(Dated {
            day: at.date_naive(),
            rank,
            at,
            step: Step {
                path: path.to_string(),
                command_id: format!("{base}/{suffix}"),
                target: Target::Enrolment(id.clone(), Box::new(command)),
            },
        });
    };
    add(
        midnight(e.referred),
        rank::REFERRED,
        &e.path,
        "referred".into(),
        EnrolmentCommand::Refer {
            subject_id: subject_id.to_string(),
            programme,
            route: e.route,
            occurred_at: midnight(e.referred),
        },
    );
    if let Some((date, suitable)) = e.assessed {
        add(
            midnight(date),
            rank::ASSESSED,
            &e.path,
            "assessed".into(),
            EnrolmentCommand::AssessSuitability {
                suitable,
                occurred_at: midnight(date),
            },
        );
    }
    if let Some((date, practitioner)) = &e.allocated {
        add(
            midnight(*date),
            rank::ALLOCATED,
            &e.path,
            "allocated".into(),
            EnrolmentCommand::Allocate {
                practitioner: practitioner.clone(),
                occurred_at: midnight(*date),
            },
        );
    }
    if let Some(date) = e.started {
        add(
            midnight(date),
            rank::STARTED,
            &e.path,
            "started".into(),
            EnrolmentCommand::Start {
                occurred_at: midnight(date),
            },
        );
    }
    // Sessions created by a reschedule are not scheduled again.
    let mut scheduled_by_move = std::collections::BTreeSet::new();
    for (i, s) in e.sessions.iter().enumerate() {
        let session_id = format!("{id}-{i}");
        let here = format!("session/{i}");
        if !scheduled_by_move.contains(&i) {
            add(
                s.at,
                rank::SESSION,
                &s.path,
                format!("{here}/scheduled"),
                EnrolmentCommand::ScheduleSession {
                    session_id: session_id.clone(),
                    number: s.n,
                    scheduled_at: s.at,
                    mode: SessionMode::InPerson,
                    occurred_at: s.at,
                },
            );
        }
        let attendance = |attendance| EnrolmentCommand::RecordAttendance {
            session_id: session_id.clone(),
            attendance,
            occurred_at: s.at,
        };
        let cancel = |reason: &str| EnrolmentCommand::CancelSession {
            session_id: session_id.clone(),
            by: CancelledBy::Provider,
            reason: Sealed::plain(reason),
            occurred_at: s.at,
        };
        let outcome = match s.outcome {
            Outcome::Attended => attendance(Attendance::Attended),
            Outcome::Late => attendance(Attendance::Late),
            Outcome::SentHome => attendance(Attendance::SentHome),
            Outcome::Absent => attendance(Attendance::Absent),
            Outcome::ProviderCancelled => cancel("cancelled by the provider"),
            Outcome::Rescheduled => {
                let successor = e.sessions[i + 1..]
                    .iter()
                    .position(|later| later.n == s.n)
                    .map(|offset| i + 1 + offset);
                match successor {
                    Some(j) => {
                        scheduled_by_move.insert(j);
                        EnrolmentCommand::RescheduleSession {
                            session_id: session_id.clone(),
                            new_session_id: format!("{id}-{j}"),
                            scheduled_at: e.sessions[j].at,
                            occurred_at: s.at,
                        }
                    }
                    // Moved and never held: nothing replaced it.
                    None => cancel("rescheduled and never held"),
                }
            }
        };
        add(
            s.at,
            rank::SESSION,
            &s.path,
            format!("{here}/outcome"),
            outcome,
        );
        // The timeline gives an absence's latest resolution without its date: it is taken
        // as known when the session was held.
        let resolution = match s.absence {
            Some(Absence::Acceptable) => Some(AbsenceResolution::Acceptable {
                reason: AbsenceReason::Other,
            }),
            Some(Absence::Unacceptable) => Some(AbsenceResolution::Unacceptable),
            Some(Absence::Provisional) | None => None,
        };
        if let Some(resolution) = resolution {
            add(
                s.at,
                rank::SESSION,
                &s.path,
                format!("{here}/resolved"),
                EnrolmentCommand::ResolveAbsence {
                    session_id: session_id.clone(),
                    resolution,
                    occurred_at: s.at,
                },
            );
        }
        if let Some(concern) = &s.concern {
            add(
                s.at,
                rank::SESSION,
                &s.path,
                format!("{here}/concern"),
                EnrolmentCommand::RaiseConcern {
                    concern_id: session_id.clone(),
                    session_id: session_id.clone(),
                    kind: ConcernKind::Risk,
                    text: Sealed::plain(IMPORTED_CONCERN_TEXT),
                    notify_probation: concern.notify_probation,
                    occurred_at: s.at,
                },
            );
            if let Some(date) = concern.acknowledged {
                add(
                    midnight(date),
                    rank::ACKNOWLEDGED,
                    &s.path,
                    format!("{here}/acknowledged"),
                    EnrolmentCommand::AcknowledgeConcern {
                        concern_id: session_id.clone(),
                        occurred_at: midnight(date),
                    },
                );
            }
        }
    }
    for (i, (path, from, to)) in e.pauses.iter().enumerate() {
        add(
            midnight(*from),
            rank::PAUSED,
            path,
            format!("pause/{i}"),
            EnrolmentCommand::Pause {
                reason: None,
                occurred_at: midnight(*from),
            },
        );
        if let Some(to) = to {
            add(
                midnight(*to),
                rank::RESUMED,
                path,
                format!("resume/{i}"),
                EnrolmentCommand::Resume {
                    occurred_at: midnight(*to),
                },
            );
        }
    }
    for (i, (path, date, action)) in e.enforcement.iter().enumerate() {
        add(
            midnight(*date),
            rank::ENFORCEMENT,
            path,
            format!("enforcement/{i}"),
            EnrolmentCommand::RecordEnforcementAction {
                action: *action,
                note: None,
                occurred_at: midnight(*date),
            },
        );
    }
    if let Some(end) = &e.end {
        let command = match end.kind {
            EndKind::Completed => EnrolmentCommand::Complete {
                occurred_at: midnight(end.date),
            },
            EndKind::Withdrawn => EnrolmentCommand::Withdraw {
                reason: end
                    .reason
                    .unwrap_or(desist_domain::enrolment::WithdrawalReason::Other),
                reason_text: end.reason_text.as_deref().map(Sealed::plain),
                occurred_at: midnight(end.date),
            },
        };
        add(
            midnight(end.date),
            rank::ENDED,
            &end.path,
            "end".into(),
            command,
        );
    }
    push_sorted(dated, steps);
}
