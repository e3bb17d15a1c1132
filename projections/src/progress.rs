//! The progress projection: where each course stands now, for the therapist's caseload.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::Aggregate;
use desist_domain::enrolment::{Enrolment, EnrolmentEvent, EnrolmentStatus};
use desist_domain::subject::{RiskAssessment, Subject, SubjectEvent};
use desist_store::db::Tx;

use crate::decode::Decoded;
use crate::projection::{name_of, Applied, Failure};
use crate::rows::{self, Loads, Rows};
use crate::sessions::{self, session_change, Session};
use crate::table_row;
use crate::{Generation, Projection};

#[derive(Clone, Copy)]
pub struct ProgressProjection;

impl Projection for ProgressProjection {
    const NAME: &'static str = "progress";
    /// 2: `expected_end_on` is computed by readers (date arithmetic is not portable SQL).
    /// 3: id columns compare bytes on PostgreSQL (`projection::id_column`).
    const VERSION: i32 = 3;
    /// A course's progress is its enrolment's events and its subject's risk assessments: not
    /// the rest of the subject's record, nor any protection order.
    const IGNORES: &'static [&'static str] = &[
        "SubjectRegistered",
        "OffenderManagerAllocated",
        "OffenceRecorded",
        "OffenceProven",
        "ConcernRaised",
        "ConcernAcknowledged",
        "EnforcementActionRecorded",
        "OrderMade",
        "ConditionImposed",
        "OrderServed",
        "NotificationGiven",
        "BreachReported",
        "BreachOutcomeRecorded",
    ];
    const TABLES: &'static [&'static str] = &[
        "progress",
        "progress_sessions",
        "progress_modules",
        "progress_triggers",
        "progress_risk",
    ];
    const SCHEMA: &'static [&'static str] = &[
        "CREATE TABLE progress{g} (
            enrolment_id {id} PRIMARY KEY, subject_id {id} NOT NULL, programme text NOT NULL,
            planned_sessions integer NOT NULL, min_attended integer NOT NULL, route text NOT NULL,
            practitioner text, status text NOT NULL, referred_on date NOT NULL,
            started_on date, ended_on date, end_kind text,
            sessions_attended integer NOT NULL DEFAULT 0,
            sessions_due integer NOT NULL DEFAULT 0,
            -- attended ÷ due; NULL before any session is due
            attendance_rate double precision,
            absences_unacceptable integer NOT NULL DEFAULT 0,
            absences_acceptable integer NOT NULL DEFAULT 0,
            absences_provisional integer NOT NULL DEFAULT 0,
            modules_covered text NOT NULL DEFAULT '',
            triggers integer NOT NULL DEFAULT 0,
            triggers_with_plan integer NOT NULL DEFAULT 0,
            latest_engagement integer,
            paused_since date, paused_days integer NOT NULL DEFAULT 0,
            last_session_at timestamptz, next_session_at timestamptz)",
        concat!(
            "CREATE TABLE progress_sessions{g} (",
            crate::session_columns!(),
            ")"
        ),
        "CREATE TABLE progress_modules{g} (
            enrolment_id {id} NOT NULL, module text NOT NULL, PRIMARY KEY (enrolment_id, module))",
        "CREATE TABLE progress_triggers{g} (
            enrolment_id {id} NOT NULL, trigger_id {id} NOT NULL, has_plan boolean NOT NULL,
            PRIMARY KEY (enrolment_id, trigger_id))",
        "CREATE TABLE progress_risk{g} (
            subject_id {id} PRIMARY KEY, assessed_on date NOT NULL, stalker_type text NOT NULL,
            violence text NOT NULL, persistence text NOT NULL, recurrence text NOT NULL,
            psychosocial_damage text NOT NULL)",
    ];

    /// The courses' indexes for the caseload and the practitioner's list: applying events
    /// looks courses up by enrolment only.
    const KEYS_BUILT_LAST: &'static [&'static str] = &[
        "CREATE INDEX IF NOT EXISTS progress{g}_subject_id ON progress{g} (subject_id)",
        "CREATE INDEX IF NOT EXISTS progress{g}_practitioner ON progress{g} (practitioner)",
    ];

    type Changes = Batch;

    async fn prepare(
        &self,
        tx: &mut Tx,
        g: Generation,
        events: &[Applied<'_>],
        after: Option<&Batch>,
    ) -> Result<Batch, Failure> {
        let enrolments = rows::owners(events, Enrolment::TYPE);
        let subjects = rows::owners(events, Subject::TYPE);
        let mut load = Loads { tx, g, after };
        let mut batch = Batch {
            courses: load.rows("progress", &enrolments, |a| &a.courses).await?,
            sessions: load
                .rows("progress_sessions", &enrolments, |a| &a.sessions)
                .await?,
            modules: load
                .rows("progress_modules", &enrolments, |a| &a.modules)
                .await?,
            triggers: load
                .rows("progress_triggers", &enrolments, |a| &a.triggers)
                .await?,
            risk: load.rows("progress_risk", &subjects, |a| &a.risk).await?,
        };
        for applied in events {
            batch.apply(applied);
        }
        // Derived totals depend only on the final rows: once per batch, not per event.
        batch.refresh(&enrolments);
        Ok(batch)
    }

    async fn save(batch: &Batch, tx: &mut Tx, g: Generation) -> Result<(), sqlx::Error> {
        batch.courses.save(tx, g).await?;
        batch.sessions.save(tx, g).await?;
        batch.modules.save(tx, g).await?;
        batch.triggers.save(tx, g).await?;
        batch.risk.save(tx, g).await
    }
}

table_row! {
    /// Where one course stands.
    pub struct Course {
        enrolment_id: String,
        subject_id: String,
        programme: String,
        planned_sessions: i32,
        min_attended: i32,
        route: String,
        practitioner: Option<String>,
        status: String,
        referred_on: NaiveDate,
        started_on: Option<NaiveDate>,
        ended_on: Option<NaiveDate>,
        end_kind: Option<String>,
        sessions_attended: i32,
        sessions_due: i32,
        attendance_rate: Option<f64>,
        absences_unacceptable: i32,
        absences_acceptable: i32,
        absences_provisional: i32,
        modules_covered: String,
        triggers: i32,
        triggers_with_plan: i32,
        latest_engagement: Option<i32>,
        paused_since: Option<NaiveDate>,
        paused_days: i32,
        last_session_at: Option<DateTime<Utc>>,
        next_session_at: Option<DateTime<Utc>>,
    }
    key (enrolment_id) as String;
    primary key (enrolment_id);
    owner enrolment_id;
}

table_row! {
    pub struct Module {
        enrolment_id: String,
        module: String,
    }
    key (enrolment_id, module) as (String, String);
    primary key (enrolment_id, module);
    owner enrolment_id;
}

table_row! {
    pub struct Trigger {
        enrolment_id: String,
        trigger_id: String,
        has_plan: bool,
    }
    key (enrolment_id, trigger_id) as (String, String);
    primary key (enrolment_id, trigger_id);
    owner enrolment_id;
}

table_row! {
    /// The most recent risk assessment of a subject.
    pub struct Risk {
        subject_id: String,
        assessed_on: NaiveDate,
        stalker_type: String,
        violence: String,
        persistence: String,
        recurrence: String,
        psychosocial_damage: String,
    }
    key (subject_id) as String;
    primary key (subject_id);
    owner subject_id;
}

/// The progress rows a batch's events are about.
pub struct Batch {
    courses: Rows<Course>,
    sessions: Rows<Session>,
    modules: Rows<Module>,
    triggers: Rows<Trigger>,
    risk: Rows<Risk>,
}

impl Batch {
    fn apply(&mut self, applied: &Applied<'_>) {
        let id = applied.feed.aggregate_id.as_str();
        match &applied.event {
            Decoded::Enrolment(e) => self.enrolment(id, e),
            Decoded::Subject(SubjectEvent::RiskAssessed {
                assessment:
                    RiskAssessment::Srp {
                        stalker_type,
                        ratings,
                    },
                occurred_at,
                ..
            }) => {
                // Assessments can be recorded late: keep the most recent by date.
                let assessed_on = occurred_at.date_naive();
                if self
                    .risk
                    .get(&id.to_string())
                    .is_some_and(|kept| kept.assessed_on > assessed_on)
                {
                    return;
                }
                self.risk.put(Risk {
                    subject_id: id.to_string(),
                    assessed_on,
                    stalker_type: name_of(stalker_type),
                    violence: name_of(&ratings.violence),
                    persistence: name_of(&ratings.persistence),
                    recurrence: name_of(&ratings.recurrence),
                    psychosocial_damage: name_of(&ratings.psychosocial_damage),
                });
            }
            _ => {}
        }
    }

    fn course(&mut self, id: &str, change: impl FnOnce(&mut Course)) {
        self.courses.update(&id.to_string(), change);
    }

    fn enrolment(&mut self, id: &str, event: &EnrolmentEvent) {
        use EnrolmentEvent as E;
        if let Some(change) = session_change(event) {
            return sessions::apply(&mut self.sessions, id, &change);
        }
        match event {
            E::Referred {
                subject_id,
                programme,
                route,
                occurred_at,
            } => self.courses.put(Course {
                enrolment_id: id.to_string(),
                subject_id: subject_id.clone(),
                programme: desist_domain::programme::programme_id(
                    &programme.code,
                    &programme.version,
                ),
                planned_sessions: i32::from(programme.planned_sessions),
                min_attended: i32::from(programme.min_attended_for_completion),
                route: name_of(route),
                practitioner: None,
                status: EnrolmentStatus::Referred.as_str().to_string(),
                referred_on: occurred_at.date_naive(),
                started_on: None,
                ended_on: None,
                end_kind: None,
                sessions_attended: 0,
                sessions_due: 0,
                attendance_rate: None,
                absences_unacceptable: 0,
                absences_acceptable: 0,
                absences_provisional: 0,
                modules_covered: String::new(),
                triggers: 0,
                triggers_with_plan: 0,
                latest_engagement: None,
                paused_since: None,
                paused_days: 0,
                last_session_at: None,
                next_session_at: None,
            }),
            E::SuitabilityAssessed { suitable, .. } => {
                let status = if *suitable {
                    EnrolmentStatus::Assessed
                } else {
                    EnrolmentStatus::Closed
                };
                self.course(id, |c| c.status = status.as_str().to_string());
            }
            E::Allocated { practitioner, .. } => self.course(id, |c| {
                c.status = EnrolmentStatus::Allocated.as_str().to_string();
                c.practitioner = Some(practitioner.clone());
            }),
            E::Started { occurred_at } => self.course(id, |c| {
                c.status = EnrolmentStatus::Active.as_str().to_string();
                c.started_on = Some(occurred_at.date_naive());
            }),
            E::Paused { occurred_at, .. } => self.course(id, |c| {
                c.status = EnrolmentStatus::Paused.as_str().to_string();
                c.paused_since = Some(occurred_at.date_naive());
            }),
            E::Resumed { occurred_at } => self.course(id, |c| {
                let resumed_on = occurred_at.date_naive();
                let days = c
                    .paused_since
                    .map_or(0, |since| (resumed_on - since).num_days().max(0));
                c.status = EnrolmentStatus::Active.as_str().to_string();
                c.paused_days += i32::try_from(days).unwrap_or(i32::MAX);
                c.paused_since = None;
            }),
            E::Completed { occurred_at } | E::Withdrawn { occurred_at, .. } => {
                let kind = if matches!(event, E::Completed { .. }) {
                    EnrolmentStatus::Completed
                } else {
                    EnrolmentStatus::Withdrawn
                };
                self.course(id, |c| {
                    c.status = kind.as_str().to_string();
                    c.end_kind = Some(kind.as_str().to_string());
                    c.ended_on = Some(occurred_at.date_naive());
                });
            }
            E::SessionContentRecorded { content, .. } => {
                for module in &content.modules_covered {
                    self.modules.put(Module {
                        enrolment_id: id.to_string(),
                        module: name_of(module),
                    });
                }
                if let Some(engagement) = content.engagement {
                    self.course(id, |c| c.latest_engagement = Some(i32::from(engagement)));
                }
            }
            E::TriggerIdentified { trigger_id, .. } => self.triggers.put(Trigger {
                enrolment_id: id.to_string(),
                trigger_id: trigger_id.clone(),
                has_plan: false,
            }),
            E::CopingPlanRecorded { trigger_id, .. } => self
                .triggers
                .update(&(id.to_string(), trigger_id.clone()), |t| t.has_plan = true),
            _ => {}
        }
    }

    /// Recomputes each course's derived columns from its sessions, modules and triggers.
    fn refresh(&mut self, enrolment_ids: &[&str]) {
        // Grouped once: filtering every row of the batch for each course was quadratic in
        // the batch (a tenth of a rebuild's CPU, `perf`).
        let sessions = self.sessions.by_owner();
        let modules = self.modules.by_owner();
        let triggers = self.triggers.by_owner();
        for &enrolment_id in enrolment_ids {
            let sessions = rows::owned_by(&sessions, enrolment_id);
            let held = |s: &&&Session| HELD.contains(&s.state.as_str());
            let attended: BTreeSet<i32> = sessions
                .iter()
                .filter(|s| s.state == "attended" || s.state == "late")
                .map(|s| s.number)
                .collect();
            let due = sessions.iter().filter(held).count();
            let absences = |kind: &str| {
                sessions
                    .iter()
                    .filter(|s| s.state == "absent" && s.absence.as_deref() == Some(kind))
                    .count()
            };
            let totals = Totals {
                attended: attended.len(),
                due,
                unacceptable: absences("unacceptable"),
                acceptable: absences("acceptable"),
                provisional: absences("provisional"),
                last_held: sessions.iter().filter(held).map(|s| s.scheduled_at).max(),
                next_pending: sessions
                    .iter()
                    .filter(|s| s.state == "scheduled")
                    .map(|s| s.scheduled_at)
                    .min(),
            };
            // Sorted by name: the rows are keyed (enrolment, module).
            let modules: Vec<&str> = rows::owned_by(&modules, enrolment_id)
                .iter()
                .map(|m| m.module.as_str())
                .collect();
            let triggers = rows::owned_by(&triggers, enrolment_id);
            let (trigger_count, with_plan) = (
                count(triggers.len()),
                count(triggers.iter().filter(|t| t.has_plan).count()),
            );
            let modules_covered = modules.join(",");
            self.courses.update(&enrolment_id.to_string(), |c| {
                c.sessions_attended = count(totals.attended);
                c.sessions_due = count(totals.due);
                c.attendance_rate =
                    (totals.due > 0).then(|| totals.attended as f64 / totals.due as f64);
                c.absences_unacceptable = count(totals.unacceptable);
                c.absences_acceptable = count(totals.acceptable);
                c.absences_provisional = count(totals.provisional);
                c.last_session_at = totals.last_held;
                c.next_session_at = totals.next_pending;
                c.modules_covered = modules_covered;
                c.triggers = trigger_count;
                c.triggers_with_plan = with_plan;
            });
        }
    }
}

/// Session states that count as held (due): the participant came, or should have.
const HELD: [&str; 4] = ["attended", "late", "sent_home", "absent"];

struct Totals {
    attended: usize,
    due: usize,
    unacceptable: usize,
    acceptable: usize,
    provisional: usize,
    last_held: Option<DateTime<Utc>>,
    next_pending: Option<DateTime<Utc>>,
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}
