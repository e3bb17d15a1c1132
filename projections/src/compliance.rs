//! The compliance projection: the dated facts behind a subject's compliance status, so that the
//! status can be computed for any as-of date (`measures::compliance`).

use desist_domain::enrolment::{EnrolmentEvent, EnrolmentStatus};
use desist_domain::protection_order::{AppealOutcome, NotificationKind, OrderEvent};
use desist_domain::subject::{RiskAssessment, SubjectEvent};
use desist_store::db::{self, Tx};
use desist_store::FeedEvent;

use crate::decode::Decoded;
use crate::projection::name_of;
use crate::sessions::{self, session_change};
use crate::{Generation, Projection};

#[derive(Clone, Copy)]
pub struct ComplianceProjection;

impl Projection for ComplianceProjection {
    const NAME: &'static str = "compliance";
    /// 2: subjects carry their offender manager.
    const VERSION: i32 = 2;
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
            subject_id text PRIMARY KEY, area text NOT NULL, birth_year integer NOT NULL,
            sex text NOT NULL, offender_manager text)",
        "CREATE INDEX compliance_subjects{g}_offender_manager ON compliance_subjects{g} (offender_manager)",
        "CREATE TABLE compliance_enrolments{g} (
            enrolment_id text PRIMARY KEY, subject_id text NOT NULL, practitioner text,
            status text NOT NULL, started_on date, ended_on date, end_kind text)",
        "CREATE INDEX compliance_enrolments{g}_subject_id ON compliance_enrolments{g} (subject_id)",
        "CREATE TABLE compliance_pauses{g} (
            enrolment_id text NOT NULL, global_position bigint PRIMARY KEY,
            paused_on date NOT NULL, resumed_on date)",
        "CREATE INDEX compliance_pauses{g}_enrolment_id ON compliance_pauses{g} (enrolment_id)",
        concat!(
            "CREATE TABLE compliance_sessions{g} (",
            crate::session_columns!(),
            ")"
        ),
        "CREATE TABLE compliance_enforcement{g} (
            global_position bigint PRIMARY KEY, enrolment_id text NOT NULL,
            action_on date NOT NULL, action text NOT NULL)",
        "CREATE INDEX compliance_enforcement{g}_enrolment_id ON compliance_enforcement{g} (enrolment_id)",
        "CREATE TABLE compliance_orders{g} (
            order_id text PRIMARY KEY, subject_id text NOT NULL, kind text NOT NULL,
            made_on date NOT NULL, ends_on date, served_on date, discharged_on date,
            initial_notification_on date)",
        "CREATE INDEX compliance_orders{g}_subject_id ON compliance_orders{g} (subject_id)",
        "CREATE TABLE compliance_breaches{g} (
            order_id text NOT NULL, breach_id text NOT NULL, condition_id text NOT NULL,
            occurred_on date NOT NULL, reported_on date NOT NULL,
            first_outcome_on date, decision text,
            PRIMARY KEY (order_id, breach_id))",
        "CREATE TABLE compliance_concerns{g} (
            enrolment_id text NOT NULL, concern_id text NOT NULL, raised_at timestamptz NOT NULL,
            kind text NOT NULL, notify_probation boolean NOT NULL, acknowledged_on date,
            PRIMARY KEY (enrolment_id, concern_id))",
        "CREATE TABLE compliance_risk{g} (
            global_position bigint PRIMARY KEY, subject_id text NOT NULL,
            assessed_on date NOT NULL, stalker_type text NOT NULL, violence text NOT NULL,
            persistence text NOT NULL, recurrence text NOT NULL,
            psychosocial_damage text NOT NULL)",
        "CREATE INDEX compliance_risk{g}_subject_id ON compliance_risk{g} (subject_id)",
    ];

    async fn apply(
        &self,
        conn: &mut Tx,
        g: Generation,
        event: &Decoded,
        feed: &FeedEvent,
    ) -> Result<(), sqlx::Error> {
        let id = feed.aggregate_id.as_str();
        match event {
            Decoded::Subject(e) => subject(conn, g, id, e, feed).await,
            Decoded::Enrolment(e) => enrolment(conn, g, id, e, feed).await,
            Decoded::Order(e) => order(conn, g, id, e).await,
            Decoded::Programme(_) => Ok(()),
        }
    }
}

async fn subject(
    conn: &mut Tx,
    g: Generation,
    id: &str,
    event: &SubjectEvent,
    feed: &FeedEvent,
) -> Result<(), sqlx::Error> {
    match event {
        SubjectEvent::SubjectRegistered {
            demographics: d, ..
        }
        | SubjectEvent::DemographicsCorrected { corrected: d, .. } => {
            db::query(g.sql(
                "INSERT INTO compliance_subjects{g} (subject_id, area, birth_year, sex)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (subject_id) DO UPDATE SET area = $2, birth_year = $3, sex = $4",
            ))
            .bind(id)
            .bind(&d.area)
            .bind(d.birth_year)
            .bind(name_of(&d.sex))
            .execute(conn)
            .await?;
        }
        SubjectEvent::OffenderManagerAllocated { officer, .. } => {
            db::query(g.sql(
                "UPDATE compliance_subjects{g} SET offender_manager = $2 WHERE subject_id = $1",
            ))
            .bind(id)
            .bind(officer)
            .execute(conn)
            .await?;
        }
        SubjectEvent::RiskAssessed {
            assessment:
                RiskAssessment::Srp {
                    stalker_type,
                    ratings,
                },
            occurred_at,
            ..
        } => {
            db::query(g.sql(
                "INSERT INTO compliance_risk{g} (global_position, subject_id, assessed_on,
                    stalker_type, violence, persistence, recurrence, psychosocial_damage)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            ))
            .bind(feed.position.global_position)
            .bind(id)
            .bind(occurred_at.date_naive())
            .bind(name_of(stalker_type))
            .bind(name_of(&ratings.violence))
            .bind(name_of(&ratings.persistence))
            .bind(name_of(&ratings.recurrence))
            .bind(name_of(&ratings.psychosocial_damage))
            .execute(conn)
            .await?;
        }
        _ => {}
    }
    Ok(())
}

async fn set_status(
    conn: &mut Tx,
    g: Generation,
    id: &str,
    status: EnrolmentStatus,
) -> Result<(), sqlx::Error> {
    db::query(g.sql("UPDATE compliance_enrolments{g} SET status = $2 WHERE enrolment_id = $1"))
        .bind(id)
        .bind(name_of(&status))
        .execute(conn)
        .await?;
    Ok(())
}

async fn enrolment(
    conn: &mut Tx,
    g: Generation,
    id: &str,
    event: &EnrolmentEvent,
    feed: &FeedEvent,
) -> Result<(), sqlx::Error> {
    use EnrolmentEvent as E;
    if let Some(change) = session_change(event) {
        return sessions::apply(conn, g, "compliance_sessions", id, &change).await;
    }
    match event {
        E::Referred { subject_id, .. } => {
            db::query(g.sql(
                "INSERT INTO compliance_enrolments{g} (enrolment_id, subject_id, status)
                 VALUES ($1, $2, 'referred')",
            ))
            .bind(id)
            .bind(subject_id)
            .execute(conn)
            .await?;
        }
        E::SuitabilityAssessed { suitable, .. } => {
            let status = if *suitable {
                EnrolmentStatus::Assessed
            } else {
                EnrolmentStatus::Closed
            };
            set_status(conn, g, id, status).await?;
        }
        E::Allocated { practitioner, .. } => {
            db::query(g.sql(
                "UPDATE compliance_enrolments{g} SET status = 'allocated', practitioner = $2
                  WHERE enrolment_id = $1",
            ))
            .bind(id)
            .bind(practitioner)
            .execute(conn)
            .await?;
        }
        E::Started { occurred_at } => {
            db::query(g.sql(
                "UPDATE compliance_enrolments{g} SET status = 'active', started_on = $2
                  WHERE enrolment_id = $1",
            ))
            .bind(id)
            .bind(occurred_at.date_naive())
            .execute(conn)
            .await?;
        }
        E::Paused { occurred_at, .. } => {
            set_status(conn, g, id, EnrolmentStatus::Paused).await?;
            db::query(g.sql(
                "INSERT INTO compliance_pauses{g} (enrolment_id, global_position, paused_on)
                 VALUES ($1, $2, $3)",
            ))
            .bind(id)
            .bind(feed.position.global_position)
            .bind(occurred_at.date_naive())
            .execute(conn)
            .await?;
        }
        E::Resumed { occurred_at } => {
            set_status(conn, g, id, EnrolmentStatus::Active).await?;
            db::query(g.sql(
                "UPDATE compliance_pauses{g} SET resumed_on = $2
                  WHERE enrolment_id = $1 AND resumed_on IS NULL",
            ))
            .bind(id)
            .bind(occurred_at.date_naive())
            .execute(conn)
            .await?;
        }
        E::Completed { occurred_at } | E::Withdrawn { occurred_at, .. } => {
            let kind = if matches!(event, E::Completed { .. }) {
                EnrolmentStatus::Completed
            } else {
                EnrolmentStatus::Withdrawn
            };
            db::query(g.sql(
                "UPDATE compliance_enrolments{g} SET status = $2, end_kind = $2, ended_on = $3
                  WHERE enrolment_id = $1",
            ))
            .bind(id)
            .bind(name_of(&kind))
            .bind(occurred_at.date_naive())
            .execute(conn)
            .await?;
        }
        E::ConcernRaised {
            concern_id,
            kind,
            notify_probation,
            occurred_at,
            ..
        } => {
            db::query(g.sql(
                "INSERT INTO compliance_concerns{g}
                    (enrolment_id, concern_id, raised_at, kind, notify_probation)
                 VALUES ($1, $2, $3, $4, $5)",
            ))
            .bind(id)
            .bind(concern_id)
            .bind(occurred_at)
            .bind(name_of(kind))
            .bind(notify_probation)
            .execute(conn)
            .await?;
        }
        E::ConcernAcknowledged {
            concern_id,
            occurred_at,
        } => {
            db::query(g.sql(
                "UPDATE compliance_concerns{g} SET acknowledged_on = $3
                  WHERE enrolment_id = $1 AND concern_id = $2",
            ))
            .bind(id)
            .bind(concern_id)
            .bind(occurred_at.date_naive())
            .execute(conn)
            .await?;
        }
        E::EnforcementActionRecorded {
            action,
            occurred_at,
            ..
        } => {
            db::query(g.sql(
                "INSERT INTO compliance_enforcement{g} (global_position, enrolment_id, action_on, action)
                 VALUES ($1, $2, $3, $4)",
            ))
            .bind(feed.position.global_position)
            .bind(id)
            .bind(occurred_at.date_naive())
            .bind(name_of(action))
            .execute(conn)
            .await?;
        }
        _ => {}
    }
    Ok(())
}

async fn order(
    conn: &mut Tx,
    g: Generation,
    id: &str,
    event: &OrderEvent,
) -> Result<(), sqlx::Error> {
    use OrderEvent as E;
    let set = |column: &str| {
        g.sql(&format!(
            "UPDATE compliance_orders{{g}} SET {column} = $2 WHERE order_id = $1"
        ))
    };
    match event {
        E::OrderMade {
            subject_id,
            kind,
            ends_on,
            occurred_at,
        } => {
            db::query(g.sql(
                "INSERT INTO compliance_orders{g} (order_id, subject_id, kind, made_on, ends_on)
                 VALUES ($1, $2, $3, $4, $5)",
            ))
            .bind(id)
            .bind(subject_id)
            .bind(name_of(kind))
            .bind(occurred_at.date_naive())
            .bind(ends_on)
            .execute(conn)
            .await?;
        }
        E::OrderServed { occurred_at } => {
            db::query(set("served_on"))
                .bind(id)
                .bind(occurred_at.date_naive())
                .execute(conn)
                .await?;
        }
        E::NotificationGiven {
            kind: NotificationKind::Initial,
            occurred_at,
        } => {
            db::query(set("initial_notification_on"))
                .bind(id)
                .bind(occurred_at.date_naive())
                .execute(conn)
                .await?;
        }
        E::OrderRenewed { ends_on, .. } => {
            db::query(set("ends_on"))
                .bind(id)
                .bind(ends_on)
                .execute(conn)
                .await?;
        }
        E::OrderDischarged { occurred_at }
        | E::AppealDetermined {
            outcome: AppealOutcome::Allowed,
            occurred_at,
        } => {
            db::query(set("discharged_on"))
                .bind(id)
                .bind(occurred_at.date_naive())
                .execute(conn)
                .await?;
        }
        E::BreachReported {
            breach_id,
            condition_id,
            occurred_on,
            occurred_at,
            ..
        } => {
            db::query(g.sql(
                "INSERT INTO compliance_breaches{g}
                    (order_id, breach_id, condition_id, occurred_on, reported_on)
                 VALUES ($1, $2, $3, $4, $5)",
            ))
            .bind(id)
            .bind(breach_id)
            .bind(condition_id)
            .bind(occurred_on)
            .bind(occurred_at.date_naive())
            .execute(conn)
            .await?;
        }
        E::BreachOutcomeRecorded {
            breach_id,
            decision,
            occurred_at,
            ..
        } => {
            db::query(g.sql(
                "UPDATE compliance_breaches{g}
                    SET first_outcome_on = coalesce(first_outcome_on, $3), decision = $4
                  WHERE order_id = $1 AND breach_id = $2",
            ))
            .bind(id)
            .bind(breach_id)
            .bind(occurred_at.date_naive())
            .bind(name_of(decision))
            .execute(conn)
            .await?;
        }
        E::NotificationGiven { .. }
        | E::ConditionImposed { .. }
        | E::OrderVaried { .. }
        | E::ConditionChanged { .. }
        | E::ConditionRemoved { .. }
        | E::AppealDetermined { .. }
        | E::BreachAssessed { .. } => {}
    }
    Ok(())
}
