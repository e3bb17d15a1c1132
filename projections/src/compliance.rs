//! The compliance projection: the dated facts behind a subject's compliance status, so that the
//! status can be computed for any as-of date (`measures::compliance`).

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::Aggregate;
use desist_domain::enrolment::{Enrolment, EnrolmentEvent, EnrolmentStatus};
use desist_domain::protection_order::{
    AppealOutcome, NotificationKind, OrderEvent, ProtectionOrder,
};
use desist_domain::subject::{RiskAssessment, Subject, SubjectEvent};
use desist_store::db::Tx;

use crate::decode::Decoded;
use crate::projection::{name_of, Applied, Failure};
use crate::rows::{self, Loads, Rows};
use crate::sessions::{self, session_change, Session};
use crate::table_row;
use crate::{Generation, Projection};

#[derive(Clone, Copy)]
pub struct ComplianceProjection;

impl Projection for ComplianceProjection {
    const NAME: &'static str = "compliance";
    /// 2: subjects carry their offender manager.
    /// 3: id columns compare bytes on PostgreSQL (`projection::id_column`).
    const VERSION: i32 = 3;
    /// Compliance reads neither a subject's offences (outcomes do), an order's conditions
    /// (only breaches of them), nor the therapist's record of what a session covered (progress
    /// does).
    const IGNORES: &'static [&'static str] = &[
        "OffenceRecorded",
        "OffenceProven",
        "ConditionImposed",
        "SessionContentRecorded",
        "ChainAnalysisRecorded",
        "TriggerIdentified",
        "CopingPlanRecorded",
    ];
    const TABLES: &'static [&'static str] = &[
        "compliance_subjects",
        "compliance_enrolments",
        "compliance_pauses",
        "compliance_sessions",
        "compliance_enforcement",
        "compliance_orders",
        "compliance_breaches",
        "compliance_concerns",
        "compliance_risk",
    ];
    const SCHEMA: &'static [&'static str] = &[
        "CREATE TABLE compliance_subjects{g} (
            subject_id {id} PRIMARY KEY, area text NOT NULL, birth_year integer NOT NULL,
            sex text NOT NULL, offender_manager text)",
        "CREATE TABLE compliance_enrolments{g} (
            enrolment_id {id} PRIMARY KEY, subject_id {id} NOT NULL, practitioner text,
            status text NOT NULL, started_on date, ended_on date, end_kind text)",
        "CREATE TABLE compliance_pauses{g} (
            enrolment_id {id} NOT NULL, global_position bigint PRIMARY KEY,
            paused_on date NOT NULL, resumed_on date)",
        "CREATE INDEX compliance_pauses{g}_enrolment_id ON compliance_pauses{g} (enrolment_id)",
        concat!(
            "CREATE TABLE compliance_sessions{g} (",
            crate::session_columns!(),
            ")"
        ),
        "CREATE TABLE compliance_enforcement{g} (
            global_position bigint PRIMARY KEY, enrolment_id {id} NOT NULL,
            action_on date NOT NULL, action text NOT NULL)",
        "CREATE TABLE compliance_orders{g} (
            order_id {id} PRIMARY KEY, subject_id {id} NOT NULL, kind text NOT NULL,
            made_on date NOT NULL, ends_on date, served_on date, discharged_on date,
            initial_notification_on date)",
        "CREATE TABLE compliance_breaches{g} (
            order_id {id} NOT NULL, breach_id {id} NOT NULL, condition_id {id} NOT NULL,
            occurred_on date NOT NULL, reported_on date NOT NULL,
            first_outcome_on date, decision text,
            PRIMARY KEY (order_id, breach_id))",
        "CREATE TABLE compliance_concerns{g} (
            enrolment_id {id} NOT NULL, concern_id {id} NOT NULL, raised_at timestamptz NOT NULL,
            kind text NOT NULL, notify_probation boolean NOT NULL, acknowledged_on date,
            PRIMARY KEY (enrolment_id, concern_id))",
        "CREATE TABLE compliance_risk{g} (
            global_position bigint PRIMARY KEY, subject_id {id} NOT NULL,
            assessed_on date NOT NULL, stalker_type text NOT NULL, violence text NOT NULL,
            persistence text NOT NULL, recurrence text NOT NULL,
            psychosocial_damage text NOT NULL)",
    ];

    /// The indexes that serve the views' readers (the caseload, by offender manager and by
    /// person): applying events looks rows up by their owner only, and never looks up the
    /// enforcement actions and risk assessments, which are each one event's.
    const KEYS_BUILT_LAST: &'static [&'static str] = &[
        "CREATE INDEX IF NOT EXISTS compliance_subjects{g}_offender_manager ON compliance_subjects{g} (offender_manager)",
        "CREATE INDEX IF NOT EXISTS compliance_enrolments{g}_subject_id ON compliance_enrolments{g} (subject_id)",
        "CREATE INDEX IF NOT EXISTS compliance_enforcement{g}_enrolment_id ON compliance_enforcement{g} (enrolment_id)",
        "CREATE INDEX IF NOT EXISTS compliance_orders{g}_subject_id ON compliance_orders{g} (subject_id)",
        "CREATE INDEX IF NOT EXISTS compliance_risk{g}_subject_id ON compliance_risk{g} (subject_id)",
    ];

    type Changes = Batch;

    async fn prepare(
        &self,
        tx: &mut Tx,
        g: Generation,
        events: &[Applied<'_>],
        after: Option<&Batch>,
    ) -> Result<Batch, Failure> {
        let subjects = rows::owners(events, Subject::TYPE);
        let enrolments = rows::owners(events, Enrolment::TYPE);
        let orders = rows::owners(events, ProtectionOrder::TYPE);
        let mut load = Loads { tx, g, after };
        let mut batch = Batch {
            subjects: load
                .rows("compliance_subjects", &subjects, |a| &a.subjects)
                .await?,
            enrolments: load
                .rows("compliance_enrolments", &enrolments, |a| &a.enrolments)
                .await?,
            pauses: load
                .rows("compliance_pauses", &enrolments, |a| &a.pauses)
                .await?,
            sessions: load
                .rows("compliance_sessions", &enrolments, |a| &a.sessions)
                .await?,
            concerns: load
                .rows("compliance_concerns", &enrolments, |a| &a.concerns)
                .await?,
            enforcement: Rows::of_events("compliance_enforcement"),
            orders: load
                .rows("compliance_orders", &orders, |a| &a.orders)
                .await?,
            breaches: load
                .rows("compliance_breaches", &orders, |a| &a.breaches)
                .await?,
            risk: Rows::of_events("compliance_risk"),
        };
        for applied in events {
            batch.apply(applied);
        }
        Ok(batch)
    }

    async fn save(batch: &Batch, tx: &mut Tx, g: Generation) -> Result<(), sqlx::Error> {
        batch.save(tx, g).await
    }
}

table_row! {
    pub struct SubjectRow {
        subject_id: String,
        area: String,
        birth_year: i32,
        sex: String,
        offender_manager: Option<String>,
    }
    key (subject_id) as String;
    primary key (subject_id);
    owner subject_id;
}

table_row! {
    pub struct EnrolmentRow {
        enrolment_id: String,
        subject_id: String,
        practitioner: Option<String>,
        status: String,
        started_on: Option<NaiveDate>,
        ended_on: Option<NaiveDate>,
        end_kind: Option<String>,
    }
    key (enrolment_id) as String;
    primary key (enrolment_id);
    owner enrolment_id;
}

table_row! {
    pub struct Pause {
        enrolment_id: String,
        global_position: i64,
        paused_on: NaiveDate,
        resumed_on: Option<NaiveDate>,
    }
    key (global_position) as i64;
    primary key (global_position);
    owner enrolment_id;
}

table_row! {
    pub struct Enforcement {
        global_position: i64,
        enrolment_id: String,
        action_on: NaiveDate,
        action: String,
    }
    key (global_position) as i64;
    primary key (global_position);
    owner enrolment_id;
}

table_row! {
    pub struct OrderRow {
        order_id: String,
        subject_id: String,
        kind: String,
        made_on: NaiveDate,
        ends_on: Option<NaiveDate>,
        served_on: Option<NaiveDate>,
        discharged_on: Option<NaiveDate>,
        initial_notification_on: Option<NaiveDate>,
    }
    key (order_id) as String;
    primary key (order_id);
    owner order_id;
}

table_row! {
    pub struct Breach {
        order_id: String,
        breach_id: String,
        condition_id: String,
        occurred_on: NaiveDate,
        reported_on: NaiveDate,
        first_outcome_on: Option<NaiveDate>,
        decision: Option<String>,
    }
    key (order_id, breach_id) as (String, String);
    primary key (order_id, breach_id);
    owner order_id;
}

table_row! {
    pub struct Concern {
        enrolment_id: String,
        concern_id: String,
        raised_at: DateTime<Utc>,
        kind: String,
        notify_probation: bool,
        acknowledged_on: Option<NaiveDate>,
    }
    key (enrolment_id, concern_id) as (String, String);
    primary key (enrolment_id, concern_id);
    owner enrolment_id;
}

table_row! {
    pub struct Risk {
        global_position: i64,
        subject_id: String,
        assessed_on: NaiveDate,
        stalker_type: String,
        violence: String,
        persistence: String,
        recurrence: String,
        psychosocial_damage: String,
    }
    key (global_position) as i64;
    primary key (global_position);
    owner subject_id;
}

/// The compliance rows a batch's events are about.
pub struct Batch {
    subjects: Rows<SubjectRow>,
    enrolments: Rows<EnrolmentRow>,
    pauses: Rows<Pause>,
    sessions: Rows<Session>,
    concerns: Rows<Concern>,
    enforcement: Rows<Enforcement>,
    orders: Rows<OrderRow>,
    breaches: Rows<Breach>,
    risk: Rows<Risk>,
}

impl Batch {
    fn apply(&mut self, applied: &Applied<'_>) {
        let feed = applied.feed;
        let id = feed.aggregate_id.as_str();
        match &applied.event {
            Decoded::Subject(e) => self.subject(id, e, feed.position.global_position),
            Decoded::Enrolment(e) => self.enrolment(id, e, feed.position.global_position),
            Decoded::Order(e) => self.order(id, e),
            Decoded::Programme(_) => {}
        }
    }

    async fn save(&self, tx: &mut Tx, g: Generation) -> Result<(), sqlx::Error> {
        self.subjects.save(tx, g).await?;
        self.enrolments.save(tx, g).await?;
        self.pauses.save(tx, g).await?;
        self.sessions.save(tx, g).await?;
        self.concerns.save(tx, g).await?;
        self.enforcement.save(tx, g).await?;
        self.orders.save(tx, g).await?;
        self.breaches.save(tx, g).await?;
        self.risk.save(tx, g).await
    }

    fn subject(&mut self, id: &str, event: &SubjectEvent, position: i64) {
        match event {
            SubjectEvent::SubjectRegistered {
                demographics: d, ..
            }
            | SubjectEvent::DemographicsCorrected { corrected: d, .. } => {
                // A correction keeps the offender manager.
                let offender_manager = self
                    .subjects
                    .get(&id.to_string())
                    .and_then(|s| s.offender_manager.clone());
                self.subjects.put(SubjectRow {
                    subject_id: id.to_string(),
                    area: d.area.clone(),
                    birth_year: d.birth_year,
                    sex: name_of(&d.sex),
                    offender_manager,
                });
            }
            SubjectEvent::OffenderManagerAllocated { officer, .. } => {
                self.subjects.update(&id.to_string(), |s| {
                    s.offender_manager = Some(officer.clone());
                });
            }
            SubjectEvent::RiskAssessed {
                assessment:
                    RiskAssessment::Srp {
                        stalker_type,
                        ratings,
                    },
                occurred_at,
                ..
            } => self.risk.put(Risk {
                global_position: position,
                subject_id: id.to_string(),
                assessed_on: occurred_at.date_naive(),
                stalker_type: name_of(stalker_type),
                violence: name_of(&ratings.violence),
                persistence: name_of(&ratings.persistence),
                recurrence: name_of(&ratings.recurrence),
                psychosocial_damage: name_of(&ratings.psychosocial_damage),
            }),
            _ => {}
        }
    }

    fn set_status(&mut self, id: &str, status: EnrolmentStatus) {
        self.enrolments
            .update(&id.to_string(), |e| e.status = name_of(&status));
    }

    fn enrolment(&mut self, id: &str, event: &EnrolmentEvent, position: i64) {
        use EnrolmentEvent as E;
        if let Some(change) = session_change(event) {
            return sessions::apply(&mut self.sessions, id, &change);
        }
        let key = id.to_string();
        match event {
            E::Referred { subject_id, .. } => self.enrolments.put(EnrolmentRow {
                enrolment_id: key,
                subject_id: subject_id.clone(),
                practitioner: None,
                status: name_of(&EnrolmentStatus::Referred),
                started_on: None,
                ended_on: None,
                end_kind: None,
            }),
            E::SuitabilityAssessed { suitable, .. } => {
                let status = if *suitable {
                    EnrolmentStatus::Assessed
                } else {
                    EnrolmentStatus::Closed
                };
                self.set_status(id, status);
            }
            E::Allocated { practitioner, .. } => self.enrolments.update(&key, |e| {
                e.status = name_of(&EnrolmentStatus::Allocated);
                e.practitioner = Some(practitioner.clone());
            }),
            E::Started { occurred_at } => self.enrolments.update(&key, |e| {
                e.status = name_of(&EnrolmentStatus::Active);
                e.started_on = Some(occurred_at.date_naive());
            }),
            E::Paused { occurred_at, .. } => {
                self.set_status(id, EnrolmentStatus::Paused);
                self.pauses.put(Pause {
                    enrolment_id: key,
                    global_position: position,
                    paused_on: occurred_at.date_naive(),
                    resumed_on: None,
                });
            }
            E::Resumed { occurred_at } => {
                self.set_status(id, EnrolmentStatus::Active);
                self.pauses.update_where(
                    |p| p.enrolment_id == id && p.resumed_on.is_none(),
                    |p| p.resumed_on = Some(occurred_at.date_naive()),
                );
            }
            E::Completed { occurred_at } | E::Withdrawn { occurred_at, .. } => {
                let kind = name_of(&if matches!(event, E::Completed { .. }) {
                    EnrolmentStatus::Completed
                } else {
                    EnrolmentStatus::Withdrawn
                });
                self.enrolments.update(&key, |e| {
                    e.status = kind.clone();
                    e.end_kind = Some(kind.clone());
                    e.ended_on = Some(occurred_at.date_naive());
                });
            }
            E::ConcernRaised {
                concern_id,
                kind,
                notify_probation,
                occurred_at,
                ..
            } => self.concerns.put(Concern {
                enrolment_id: key,
                concern_id: concern_id.clone(),
                raised_at: *occurred_at,
                kind: name_of(kind),
                notify_probation: *notify_probation,
                acknowledged_on: None,
            }),
            E::ConcernAcknowledged {
                concern_id,
                occurred_at,
            } => self.concerns.update(&(key, concern_id.clone()), |c| {
                c.acknowledged_on = Some(occurred_at.date_naive());
            }),
            E::EnforcementActionRecorded {
                action,
                occurred_at,
                ..
            } => self.enforcement.put(Enforcement {
                global_position: position,
                enrolment_id: key,
                action_on: occurred_at.date_naive(),
                action: name_of(action),
            }),
            _ => {}
        }
    }

    fn order(&mut self, id: &str, event: &OrderEvent) {
        use OrderEvent as E;
        let key = id.to_string();
        match event {
            E::OrderMade {
                subject_id,
                kind,
                ends_on,
                occurred_at,
            } => self.orders.put(OrderRow {
                order_id: key,
                subject_id: subject_id.clone(),
                kind: name_of(kind),
                made_on: occurred_at.date_naive(),
                ends_on: *ends_on,
                served_on: None,
                discharged_on: None,
                initial_notification_on: None,
            }),
            E::OrderServed { occurred_at } => self.orders.update(&key, |o| {
                o.served_on = Some(occurred_at.date_naive());
            }),
            E::NotificationGiven {
                kind: NotificationKind::Initial,
                occurred_at,
            } => self.orders.update(&key, |o| {
                o.initial_notification_on = Some(occurred_at.date_naive());
            }),
            E::OrderRenewed { ends_on, .. } => self.orders.update(&key, |o| o.ends_on = *ends_on),
            E::OrderDischarged { occurred_at }
            | E::AppealDetermined {
                outcome: AppealOutcome::Allowed,
                occurred_at,
            } => self.orders.update(&key, |o| {
                o.discharged_on = Some(occurred_at.date_naive());
            }),
            E::BreachReported {
                breach_id,
                condition_id,
                occurred_on,
                occurred_at,
                ..
            } => self.breaches.put(Breach {
                order_id: key,
                breach_id: breach_id.clone(),
                condition_id: condition_id.clone(),
                occurred_on: *occurred_on,
                reported_on: occurred_at.date_naive(),
                first_outcome_on: None,
                decision: None,
            }),
            E::BreachOutcomeRecorded {
                breach_id,
                decision,
                occurred_at,
                ..
            } => self.breaches.update(&(key, breach_id.clone()), |b| {
                b.first_outcome_on.get_or_insert(occurred_at.date_naive());
                b.decision = Some(name_of(decision));
            }),
            E::NotificationGiven { .. }
            | E::ConditionImposed { .. }
            | E::OrderVaried { .. }
            | E::ConditionChanged { .. }
            | E::ConditionRemoved { .. }
            | E::AppealDetermined { .. }
            | E::BreachAssessed { .. } => {}
        }
    }
}
