//! The outcomes projection: per-enrolment outcome facts for the evaluator's statistics.
//!
//! Rows are never updated: a change inserts a new version of the row stamped with the feed
//! position of the event that made it. A query pinned to a feed position reads, for each key,
//! the latest version at or before the pin, so the same pinned query always returns the same
//! numbers however many events arrive later.

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::Aggregate;
use desist_domain::enrolment::{Enrolment, EnrolmentEvent};
use desist_domain::protection_order::{
    AppealOutcome, NotificationKind, OrderEvent, ProtectionOrder,
};
use desist_domain::subject::{RiskAssessment, Subject, SubjectEvent};
use desist_store::db::Tx;

use crate::decode::Decoded;
use crate::projection::{name_of, Applied, Failure};
use crate::rows::{self, Loads, Rows, Versioned, Versions};
use crate::sessions::{session_change, SessionChange};
use crate::table_row;
use crate::{Generation, Projection};

#[derive(Clone, Copy)]
pub struct OutcomesProjection;

impl Projection for OutcomesProjection {
    const NAME: &'static str = "outcomes";
    /// 2: id columns compare bytes on PostgreSQL (`projection::id_column`).
    const VERSION: i32 = 2;
    /// The outcome statistics read every table whole (each key's latest version at a pin),
    /// and a rebuild's own lookups do not use statistics: analyzing them after a rebuild
    /// cost 0.46 s at national scale, a tenth of the rebuild, for no plan that changes.
    const READ_BY_KEY: bool = false;
    /// The outcome measures count referrals, starts, ends, sessions held, offences, orders and
    /// breaches reported: not who is allocated, pauses, concerns, enforcement, conditions,
    /// what was decided about a breach, or what a session covered.
    const IGNORES: &'static [&'static str] = &[
        "OffenderManagerAllocated",
        "SuitabilityAssessed",
        "Allocated",
        "Paused",
        "Resumed",
        "ConcernRaised",
        "ConcernAcknowledged",
        "EnforcementActionRecorded",
        "ConditionImposed",
        "BreachOutcomeRecorded",
        "SessionContentRecorded",
        "ChainAnalysisRecorded",
        "TriggerIdentified",
        "CopingPlanRecorded",
    ];
    const TABLES: &'static [&'static str] = &[
        "outcome_subjects",
        "outcome_srp",
        "outcome_enrolments",
        "outcome_schedule",
        "outcome_sessions",
        "outcome_offences",
        "outcome_orders",
        "outcome_breaches",
    ];
    const SCHEMA: &'static [&'static str] = &[
        "CREATE TABLE outcome_subjects{g} (
            subject_id {id} NOT NULL, pos_tx bigint NOT NULL, pos bigint NOT NULL,
            area text NOT NULL, birth_year integer NOT NULL, sex text NOT NULL)",
        "CREATE TABLE outcome_srp{g} (
            subject_id {id} NOT NULL, pos_tx bigint NOT NULL, pos bigint NOT NULL,
            assessed_on date NOT NULL, stalker_type text NOT NULL)",
        "CREATE TABLE outcome_enrolments{g} (
            enrolment_id {id} NOT NULL, pos_tx bigint NOT NULL, pos bigint NOT NULL,
            subject_id {id} NOT NULL, programme text NOT NULL, route text NOT NULL,
            referred_on date NOT NULL, started_on date, end_kind text, ended_on date,
            PRIMARY KEY (enrolment_id, pos))",
        // Where and when each session was scheduled: a lookup for the session rows.
        "CREATE TABLE outcome_schedule{g} (
            enrolment_id {id} NOT NULL, session_id {id} NOT NULL, number integer NOT NULL,
            scheduled_at timestamptz NOT NULL, PRIMARY KEY (enrolment_id, session_id))",
        "CREATE TABLE outcome_sessions{g} (
            enrolment_id {id} NOT NULL, session_id {id} NOT NULL,
            pos_tx bigint NOT NULL, pos bigint NOT NULL,
            number integer NOT NULL, held_at timestamptz NOT NULL, attendance text NOT NULL)",
        "CREATE TABLE outcome_offences{g} (
            subject_id {id} NOT NULL, offence_id {id} NOT NULL,
            pos_tx bigint NOT NULL, pos bigint NOT NULL,
            offence_date date NOT NULL, category text NOT NULL,
            proven_date date, disposal text,
            PRIMARY KEY (subject_id, offence_id, pos))",
        "CREATE TABLE outcome_orders{g} (
            order_id {id} NOT NULL, pos_tx bigint NOT NULL, pos bigint NOT NULL,
            subject_id {id} NOT NULL, made_on date NOT NULL, ends_on date, served_on date,
            discharged_on date, initial_notification_on date,
            PRIMARY KEY (order_id, pos))",
        "CREATE TABLE outcome_breaches{g} (
            order_id {id} NOT NULL, breach_id {id} NOT NULL,
            pos_tx bigint NOT NULL, pos bigint NOT NULL, reported_on date NOT NULL,
            PRIMARY KEY (order_id, breach_id))",
    ];

    /// The keys of the three tables whose rows are each one event's.
    const KEYS_BUILT_LAST: &'static [&'static str] = &[
        "CREATE UNIQUE INDEX IF NOT EXISTS outcome_subjects{g}_key ON outcome_subjects{g} (subject_id, pos)",
        "CREATE UNIQUE INDEX IF NOT EXISTS outcome_srp{g}_key ON outcome_srp{g} (subject_id, pos)",
        "CREATE UNIQUE INDEX IF NOT EXISTS outcome_sessions{g}_key
            ON outcome_sessions{g} (enrolment_id, session_id, pos)",
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
            subjects: Rows::of_events("outcome_subjects"),
            srp: Rows::of_events("outcome_srp"),
            offences: load
                .versions("outcome_offences", &subjects, |a| &a.offences)
                .await?,
            enrolments: load
                .versions("outcome_enrolments", &enrolments, |a| &a.enrolments)
                .await?,
            schedule: load
                .rows("outcome_schedule", &enrolments, |a| &a.schedule)
                .await?,
            sessions: Rows::of_events("outcome_sessions"),
            orders: load
                .versions("outcome_orders", &orders, |a| &a.orders)
                .await?,
            breaches: Rows::new("outcome_breaches"),
        };
        for applied in events {
            batch.apply(applied);
        }
        Ok(batch)
    }

    async fn save(batch: &Batch, tx: &mut Tx, g: Generation) -> Result<(), sqlx::Error> {
        batch.subjects.save(tx, g).await?;
        batch.srp.save(tx, g).await?;
        batch.offences.save(tx, g).await?;
        batch.enrolments.save(tx, g).await?;
        batch.schedule.save(tx, g).await?;
        batch.sessions.save(tx, g).await?;
        batch.orders.save(tx, g).await?;
        batch.breaches.save(tx, g).await
    }
}

/// Implements [`Versioned`] for rows stamped with `pos_tx` and `pos`.
macro_rules! versioned {
    ($($row:ty),+) => {
        $(impl Versioned for $row {
            fn stamp(&self) -> (i64, i64) {
                (self.pos_tx, self.pos)
            }
            fn restamp(&mut self, (tx, pos): (i64, i64)) {
                self.pos_tx = tx;
                self.pos = pos;
            }
        })+
    };
}

table_row! {
    pub struct SubjectVersion {
        subject_id: String,
        pos_tx: i64,
        pos: i64,
        area: String,
        birth_year: i32,
        sex: String,
    }
    key (subject_id, pos) as (String, i64);
    primary key (subject_id, pos);
    owner subject_id;
}

table_row! {
    pub struct SrpVersion {
        subject_id: String,
        pos_tx: i64,
        pos: i64,
        assessed_on: NaiveDate,
        stalker_type: String,
    }
    key (subject_id, pos) as (String, i64);
    primary key (subject_id, pos);
    owner subject_id;
}

table_row! {
    pub struct EnrolmentVersion {
        enrolment_id: String,
        pos_tx: i64,
        pos: i64,
        subject_id: String,
        programme: String,
        route: String,
        referred_on: NaiveDate,
        started_on: Option<NaiveDate>,
        end_kind: Option<String>,
        ended_on: Option<NaiveDate>,
    }
    key (enrolment_id) as String;
    primary key (enrolment_id, pos);
    owner enrolment_id;
}

table_row! {
    /// Where and when a session was scheduled: a lookup for the session rows.
    pub struct Scheduled {
        enrolment_id: String,
        session_id: String,
        number: i32,
        scheduled_at: DateTime<Utc>,
    }
    key (enrolment_id, session_id) as (String, String);
    primary key (enrolment_id, session_id);
    owner enrolment_id;
}

table_row! {
    pub struct SessionVersion {
        enrolment_id: String,
        session_id: String,
        pos_tx: i64,
        pos: i64,
        number: i32,
        held_at: DateTime<Utc>,
        attendance: String,
    }
    key (enrolment_id, session_id, pos) as (String, String, i64);
    primary key (enrolment_id, session_id, pos);
    owner enrolment_id;
}

table_row! {
    pub struct OffenceVersion {
        subject_id: String,
        offence_id: String,
        pos_tx: i64,
        pos: i64,
        offence_date: NaiveDate,
        category: String,
        proven_date: Option<NaiveDate>,
        disposal: Option<String>,
    }
    key (subject_id, offence_id) as (String, String);
    primary key (subject_id, offence_id, pos);
    owner subject_id;
}

table_row! {
    pub struct OrderVersion {
        order_id: String,
        pos_tx: i64,
        pos: i64,
        subject_id: String,
        made_on: NaiveDate,
        ends_on: Option<NaiveDate>,
        served_on: Option<NaiveDate>,
        discharged_on: Option<NaiveDate>,
        initial_notification_on: Option<NaiveDate>,
    }
    key (order_id) as String;
    primary key (order_id, pos);
    owner order_id;
}

table_row! {
    pub struct BreachReport {
        order_id: String,
        breach_id: String,
        pos_tx: i64,
        pos: i64,
        reported_on: NaiveDate,
    }
    key (order_id, breach_id) as (String, String);
    primary key (order_id, breach_id);
    owner order_id;
}

versioned!(EnrolmentVersion, OffenceVersion, OrderVersion);

/// The outcome rows a batch's events are about.
pub struct Batch {
    subjects: Rows<SubjectVersion>,
    srp: Rows<SrpVersion>,
    offences: Versions<OffenceVersion>,
    enrolments: Versions<EnrolmentVersion>,
    schedule: Rows<Scheduled>,
    sessions: Rows<SessionVersion>,
    orders: Versions<OrderVersion>,
    breaches: Rows<BreachReport>,
}

/// The aggregate and the feed position an event writes with.
struct Stamp<'a> {
    id: &'a str,
    tx: i64,
    pos: i64,
}

impl Stamp<'_> {
    fn stamp(&self) -> (i64, i64) {
        (self.tx, self.pos)
    }
}

impl Batch {
    fn apply(&mut self, applied: &Applied<'_>) {
        let feed = applied.feed;
        let at = Stamp {
            id: feed.aggregate_id.as_str(),
            tx: feed.position.tx,
            pos: feed.position.global_position,
        };
        match &applied.event {
            Decoded::Subject(e) => self.subject(&at, e),
            Decoded::Enrolment(e) => self.enrolment(&at, e),
            Decoded::Order(e) => self.order(&at, e),
            Decoded::Programme(_) => {}
        }
    }

    fn subject(&mut self, at: &Stamp<'_>, event: &SubjectEvent) {
        match event {
            SubjectEvent::SubjectRegistered {
                demographics: d, ..
            }
            | SubjectEvent::DemographicsCorrected { corrected: d, .. } => {
                self.subjects.put(SubjectVersion {
                    subject_id: at.id.to_string(),
                    pos_tx: at.tx,
                    pos: at.pos,
                    area: d.area.clone(),
                    birth_year: d.birth_year,
                    sex: name_of(&d.sex),
                })
            }
            SubjectEvent::RiskAssessed {
                assessment: RiskAssessment::Srp { stalker_type, .. },
                occurred_at,
                ..
            } => self.srp.put(SrpVersion {
                subject_id: at.id.to_string(),
                pos_tx: at.tx,
                pos: at.pos,
                assessed_on: occurred_at.date_naive(),
                stalker_type: name_of(stalker_type),
            }),
            SubjectEvent::OffenceRecorded {
                offence_id,
                category,
                occurred_at,
            } => self.offences.push(OffenceVersion {
                subject_id: at.id.to_string(),
                offence_id: offence_id.clone(),
                pos_tx: at.tx,
                pos: at.pos,
                offence_date: occurred_at.date_naive(),
                category: name_of(category),
                proven_date: None,
                disposal: None,
            }),
            SubjectEvent::OffenceProven {
                offence_id,
                disposal,
                occurred_at,
            } => {
                let key = (at.id.to_string(), offence_id.clone());
                self.offences.supersede(&key, at.stamp(), |o| {
                    o.proven_date = Some(occurred_at.date_naive());
                    o.disposal = Some(name_of(disposal));
                });
            }
            _ => {}
        }
    }

    fn enrolment(&mut self, at: &Stamp<'_>, event: &EnrolmentEvent) {
        use EnrolmentEvent as E;
        match session_change(event) {
            Some(SessionChange::Scheduled {
                session_id,
                number,
                at: scheduled_at,
            }) => {
                return self.schedule.put(Scheduled {
                    enrolment_id: at.id.to_string(),
                    session_id: session_id.to_string(),
                    number: i32::from(number),
                    scheduled_at,
                })
            }
            Some(SessionChange::Moved {
                from,
                to,
                at: moved_to,
            }) => {
                let from = (at.id.to_string(), from.to_string());
                if let Some(old) = self.schedule.get(&from).cloned() {
                    self.schedule.put(Scheduled {
                        session_id: to.to_string(),
                        scheduled_at: moved_to,
                        ..old
                    });
                }
                return;
            }
            // Only sessions that took place (or were missed) are due; cancellations never are.
            Some(SessionChange::Outcome {
                session_id, state, ..
            }) if state != "provider_cancelled" => return self.held(at, session_id, state),
            _ => {}
        }
        match event {
            E::Referred {
                subject_id,
                programme,
                route,
                occurred_at,
            } => self.enrolments.push(EnrolmentVersion {
                enrolment_id: at.id.to_string(),
                pos_tx: at.tx,
                pos: at.pos,
                subject_id: subject_id.clone(),
                programme: desist_domain::programme::programme_id(
                    &programme.code,
                    &programme.version,
                ),
                route: name_of(route),
                referred_on: occurred_at.date_naive(),
                started_on: None,
                end_kind: None,
                ended_on: None,
            }),
            E::Started { occurred_at } => {
                self.enrolments
                    .supersede(&at.id.to_string(), at.stamp(), |e| {
                        e.started_on = Some(occurred_at.date_naive());
                    })
            }
            E::Completed { occurred_at } | E::Withdrawn { occurred_at, .. } => {
                let kind = if matches!(event, E::Completed { .. }) {
                    "completed"
                } else {
                    "withdrawn"
                };
                self.enrolments
                    .supersede(&at.id.to_string(), at.stamp(), |e| {
                        e.end_kind = Some(kind.to_string());
                        e.ended_on = Some(occurred_at.date_naive());
                    });
            }
            _ => {}
        }
    }

    /// A session that took place (or was missed): a new version of its row.
    fn held(&mut self, at: &Stamp<'_>, session_id: &str, attendance: &str) {
        let key = (at.id.to_string(), session_id.to_string());
        if let Some(scheduled) = self.schedule.get(&key) {
            let version = SessionVersion {
                enrolment_id: scheduled.enrolment_id.clone(),
                session_id: scheduled.session_id.clone(),
                pos_tx: at.tx,
                pos: at.pos,
                number: scheduled.number,
                held_at: scheduled.scheduled_at,
                attendance: attendance.to_string(),
            };
            self.sessions.put(version);
        }
    }

    fn order(&mut self, at: &Stamp<'_>, event: &OrderEvent) {
        use OrderEvent as E;
        let key = at.id.to_string();
        // Each change is a new version of the order's row with one column replaced.
        match event {
            E::OrderMade {
                subject_id,
                ends_on,
                occurred_at,
                ..
            } => self.orders.push(OrderVersion {
                order_id: key,
                pos_tx: at.tx,
                pos: at.pos,
                subject_id: subject_id.clone(),
                made_on: occurred_at.date_naive(),
                ends_on: *ends_on,
                served_on: None,
                discharged_on: None,
                initial_notification_on: None,
            }),
            E::BreachReported {
                breach_id,
                occurred_at,
                ..
            } => self.breaches.put(BreachReport {
                order_id: key,
                breach_id: breach_id.clone(),
                pos_tx: at.tx,
                pos: at.pos,
                reported_on: occurred_at.date_naive(),
            }),
            E::OrderServed { occurred_at } => self.orders.supersede(&key, at.stamp(), |o| {
                o.served_on = Some(occurred_at.date_naive());
            }),
            E::NotificationGiven {
                kind: NotificationKind::Initial,
                occurred_at,
            } => self.orders.supersede(&key, at.stamp(), |o| {
                o.initial_notification_on = Some(occurred_at.date_naive());
            }),
            E::OrderRenewed { ends_on, .. } => self
                .orders
                .supersede(&key, at.stamp(), |o| o.ends_on = *ends_on),
            E::OrderDischarged { occurred_at }
            | E::AppealDetermined {
                outcome: AppealOutcome::Allowed,
                occurred_at,
            } => self.orders.supersede(&key, at.stamp(), |o| {
                o.discharged_on = Some(occurred_at.date_naive());
            }),
            _ => {}
        }
    }
}
