//! The outcomes projection: per-enrolment outcome facts for the evaluator's statistics.
//!
//! Rows are never updated: a change inserts a new version of the row stamped with the feed
//! position of the event that made it. A query pinned to a feed position reads, for each key,
//! the latest version at or before the pin, so the same pinned query always returns the same
//! numbers however many events arrive later.

use desist_domain::enrolment::EnrolmentEvent;
use desist_domain::protection_order::{AppealOutcome, NotificationKind, OrderEvent};
use desist_domain::subject::{RiskAssessment, SubjectEvent};
use desist_store::db::{self, Tx};
use desist_store::FeedEvent;

use crate::decode::Decoded;
use crate::projection::name_of;
use crate::sessions::{session_change, SessionChange};
use crate::{Generation, Projection};

#[derive(Clone, Copy)]
pub struct OutcomesProjection;

impl Projection for OutcomesProjection {
    const NAME: &'static str = "outcomes";
    const VERSION: i32 = 1;
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
            subject_id text NOT NULL, pos_tx bigint NOT NULL, pos bigint NOT NULL,
            area text NOT NULL, birth_year integer NOT NULL, sex text NOT NULL,
            PRIMARY KEY (subject_id, pos))",
        "CREATE TABLE outcome_srp{g} (
            subject_id text NOT NULL, pos_tx bigint NOT NULL, pos bigint NOT NULL,
            assessed_on date NOT NULL, stalker_type text NOT NULL,
            PRIMARY KEY (subject_id, pos))",
        "CREATE TABLE outcome_enrolments{g} (
            enrolment_id text NOT NULL, pos_tx bigint NOT NULL, pos bigint NOT NULL,
            subject_id text NOT NULL, programme text NOT NULL, route text NOT NULL,
            referred_on date NOT NULL, started_on date, end_kind text, ended_on date,
            PRIMARY KEY (enrolment_id, pos))",
        // Where and when each session was scheduled: a lookup for the session rows.
        "CREATE TABLE outcome_schedule{g} (
            enrolment_id text NOT NULL, session_id text NOT NULL, number integer NOT NULL,
            scheduled_at timestamptz NOT NULL, PRIMARY KEY (enrolment_id, session_id))",
        "CREATE TABLE outcome_sessions{g} (
            enrolment_id text NOT NULL, session_id text NOT NULL,
            pos_tx bigint NOT NULL, pos bigint NOT NULL,
            number integer NOT NULL, held_at timestamptz NOT NULL, attendance text NOT NULL,
            PRIMARY KEY (enrolment_id, session_id, pos))",
        "CREATE TABLE outcome_offences{g} (
            subject_id text NOT NULL, offence_id text NOT NULL,
            pos_tx bigint NOT NULL, pos bigint NOT NULL,
            offence_date date NOT NULL, category text NOT NULL,
            proven_date date, disposal text,
            PRIMARY KEY (subject_id, offence_id, pos))",
        "CREATE TABLE outcome_orders{g} (
            order_id text NOT NULL, pos_tx bigint NOT NULL, pos bigint NOT NULL,
            subject_id text NOT NULL, made_on date NOT NULL, ends_on date, served_on date,
            discharged_on date, initial_notification_on date,
            PRIMARY KEY (order_id, pos))",
        "CREATE TABLE outcome_breaches{g} (
            order_id text NOT NULL, breach_id text NOT NULL,
            pos_tx bigint NOT NULL, pos bigint NOT NULL, reported_on date NOT NULL,
            PRIMARY KEY (order_id, breach_id))",
    ];

    async fn apply(
        &self,
        conn: &mut Tx,
        g: Generation,
        event: &Decoded,
        feed: &FeedEvent,
    ) -> Result<(), sqlx::Error> {
        let at = Stamp {
            g,
            id: feed.aggregate_id.as_str(),
            tx: feed.position.tx,
            pos: feed.position.global_position,
        };
        match event {
            Decoded::Subject(e) => subject(conn, &at, e).await,
            Decoded::Enrolment(e) => enrolment(conn, &at, e).await,
            Decoded::Order(e) => order(conn, &at, e).await,
            Decoded::Programme(_) => Ok(()),
        }
    }
}

/// The generation, the aggregate and the feed position an event writes with.
struct Stamp<'a> {
    g: Generation,
    id: &'a str,
    tx: i64,
    pos: i64,
}

impl Stamp<'_> {
    /// Inserts a new version of `table`'s row for this aggregate, copying the latest version
    /// with `changes` (a SELECT list over the old row, `$1` = id, `$2`/`$3` = position,
    /// `$4` = the new value).
    fn new_version(&self, table: &str, key: &str, columns: &str, select: &str) -> String {
        self.g.sql(&format!(
            "INSERT INTO {table}{{g}} ({key}, pos_tx, pos, {columns})
             SELECT {key}, $2, $3, {select} FROM {table}{{g}} WHERE {key} = $1
              ORDER BY pos_tx DESC, pos DESC LIMIT 1"
        ))
    }
}

async fn subject(conn: &mut Tx, at: &Stamp<'_>, event: &SubjectEvent) -> Result<(), sqlx::Error> {
    match event {
        SubjectEvent::SubjectRegistered {
            demographics: d, ..
        }
        | SubjectEvent::DemographicsCorrected { corrected: d, .. } => {
            db::query(at.g.sql(
                "INSERT INTO outcome_subjects{g} (subject_id, pos_tx, pos, area, birth_year, sex)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            ))
            .bind(at.id)
            .bind(at.tx)
            .bind(at.pos)
            .bind(&d.area)
            .bind(d.birth_year)
            .bind(name_of(&d.sex))
            .execute(conn)
            .await?;
        }
        SubjectEvent::RiskAssessed {
            assessment: RiskAssessment::Srp { stalker_type, .. },
            occurred_at,
            ..
        } => {
            db::query(at.g.sql(
                "INSERT INTO outcome_srp{g} (subject_id, pos_tx, pos, assessed_on, stalker_type)
                 VALUES ($1, $2, $3, $4, $5)",
            ))
            .bind(at.id)
            .bind(at.tx)
            .bind(at.pos)
            .bind(occurred_at.date_naive())
            .bind(name_of(stalker_type))
            .execute(conn)
            .await?;
        }
        SubjectEvent::OffenceRecorded {
            offence_id,
            category,
            occurred_at,
        } => {
            db::query(at.g.sql(
                "INSERT INTO outcome_offences{g}
                    (subject_id, offence_id, pos_tx, pos, offence_date, category)
                 VALUES ($1, $4, $2, $3, $5, $6)",
            ))
            .bind(at.id)
            .bind(at.tx)
            .bind(at.pos)
            .bind(offence_id)
            .bind(occurred_at.date_naive())
            .bind(name_of(category))
            .execute(conn)
            .await?;
        }
        SubjectEvent::OffenceProven {
            offence_id,
            disposal,
            occurred_at,
        } => {
            db::query(at.g.sql(
                "INSERT INTO outcome_offences{g}
                    (subject_id, offence_id, pos_tx, pos, offence_date, category, proven_date, disposal)
                 SELECT subject_id, offence_id, $2, $3, offence_date, category, $5, $6
                   FROM outcome_offences{g} WHERE subject_id = $1 AND offence_id = $4
                  ORDER BY pos_tx DESC, pos DESC LIMIT 1",
            ))
            .bind(at.id)
            .bind(at.tx)
            .bind(at.pos)
            .bind(offence_id)
            .bind(occurred_at.date_naive())
            .bind(name_of(disposal))
            .execute(conn)
            .await?;
        }
        _ => {}
    }
    Ok(())
}

const ENROLMENT_COLUMNS: &str =
    "subject_id, programme, route, referred_on, started_on, end_kind, ended_on";

async fn enrolment(
    conn: &mut Tx,
    at: &Stamp<'_>,
    event: &EnrolmentEvent,
) -> Result<(), sqlx::Error> {
    use EnrolmentEvent as E;
    match session_change(event) {
        Some(SessionChange::Scheduled {
            session_id,
            number,
            at: scheduled_at,
        }) => return schedule(conn, at, session_id, number, scheduled_at).await,
        Some(SessionChange::Moved {
            from,
            to,
            at: moved_to,
        }) => {
            db::query(at.g.sql(
                "INSERT INTO outcome_schedule{g} (enrolment_id, session_id, number, scheduled_at)
                 SELECT enrolment_id, $3, number, $4 FROM outcome_schedule{g}
                  WHERE enrolment_id = $1 AND session_id = $2",
            ))
            .bind(at.id)
            .bind(from)
            .bind(to)
            .bind(moved_to)
            .execute(conn)
            .await?;
            return Ok(());
        }
        // Only sessions that took place (or were missed) are due; cancellations never are.
        Some(SessionChange::Outcome {
            session_id, state, ..
        }) if state != "provider_cancelled" => return held(conn, at, session_id, state).await,
        _ => {}
    }
    match event {
        E::Referred {
            subject_id,
            programme,
            route,
            occurred_at,
        } => {
            db::query(at.g.sql(
                "INSERT INTO outcome_enrolments{g}
                    (enrolment_id, pos_tx, pos, subject_id, programme, route, referred_on)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            ))
            .bind(at.id)
            .bind(at.tx)
            .bind(at.pos)
            .bind(subject_id)
            .bind(desist_domain::programme::programme_id(
                &programme.code,
                &programme.version,
            ))
            .bind(name_of(route))
            .bind(occurred_at.date_naive())
            .execute(conn)
            .await?;
        }
        E::Started { occurred_at } => {
            let sql = at.new_version(
                "outcome_enrolments",
                "enrolment_id",
                ENROLMENT_COLUMNS,
                "subject_id, programme, route, referred_on, $4, end_kind, ended_on",
            );
            db::query(sql)
                .bind(at.id)
                .bind(at.tx)
                .bind(at.pos)
                .bind(occurred_at.date_naive())
                .execute(conn)
                .await?;
        }
        E::Completed { occurred_at } | E::Withdrawn { occurred_at, .. } => {
            let kind = if matches!(event, E::Completed { .. }) {
                "completed"
            } else {
                "withdrawn"
            };
            let sql = at.new_version(
                "outcome_enrolments",
                "enrolment_id",
                ENROLMENT_COLUMNS,
                "subject_id, programme, route, referred_on, started_on, $5, $4",
            );
            db::query(sql)
                .bind(at.id)
                .bind(at.tx)
                .bind(at.pos)
                .bind(occurred_at.date_naive())
                .bind(kind)
                .execute(conn)
                .await?;
        }
        _ => {}
    }
    Ok(())
}

async fn schedule(
    conn: &mut Tx,
    at: &Stamp<'_>,
    session_id: &str,
    number: u16,
    scheduled_at: chrono::DateTime<chrono::Utc>,
) -> Result<(), sqlx::Error> {
    db::query(at.g.sql(
        "INSERT INTO outcome_schedule{g} (enrolment_id, session_id, number, scheduled_at)
         VALUES ($1, $2, $3, $4)",
    ))
    .bind(at.id)
    .bind(session_id)
    .bind(i32::from(number))
    .bind(scheduled_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// A session that took place (or was missed): a new version of its row.
async fn held(
    conn: &mut Tx,
    at: &Stamp<'_>,
    session_id: &str,
    attendance: &str,
) -> Result<(), sqlx::Error> {
    db::query(at.g.sql(
        "INSERT INTO outcome_sessions{g}
            (enrolment_id, session_id, pos_tx, pos, number, held_at, attendance)
         SELECT enrolment_id, session_id, $2, $3, number, scheduled_at, $5
           FROM outcome_schedule{g} WHERE enrolment_id = $1 AND session_id = $4",
    ))
    .bind(at.id)
    .bind(at.tx)
    .bind(at.pos)
    .bind(session_id)
    .bind(attendance)
    .execute(conn)
    .await?;
    Ok(())
}

const ORDER_COLUMNS: &str =
    "subject_id, made_on, ends_on, served_on, discharged_on, initial_notification_on";

async fn order(conn: &mut Tx, at: &Stamp<'_>, event: &OrderEvent) -> Result<(), sqlx::Error> {
    use OrderEvent as E;
    // Each change copies the latest row with one column replaced by $4.
    let change = |column: &str| {
        let select = ORDER_COLUMNS
            .split(", ")
            .map(|c| if c == column { "$4" } else { c })
            .collect::<Vec<_>>()
            .join(", ");
        at.new_version("outcome_orders", "order_id", ORDER_COLUMNS, &select)
    };
    let (sql, value) = match event {
        E::OrderMade {
            subject_id,
            ends_on,
            occurred_at,
            ..
        } => {
            db::query(at.g.sql(
                "INSERT INTO outcome_orders{g} (order_id, pos_tx, pos, subject_id, made_on, ends_on)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            ))
            .bind(at.id)
            .bind(at.tx)
            .bind(at.pos)
            .bind(subject_id)
            .bind(occurred_at.date_naive())
            .bind(ends_on)
            .execute(conn)
            .await?;
            return Ok(());
        }
        E::BreachReported {
            breach_id,
            occurred_at,
            ..
        } => {
            db::query(at.g.sql(
                "INSERT INTO outcome_breaches{g} (order_id, breach_id, pos_tx, pos, reported_on)
                 VALUES ($1, $4, $2, $3, $5)",
            ))
            .bind(at.id)
            .bind(at.tx)
            .bind(at.pos)
            .bind(breach_id)
            .bind(occurred_at.date_naive())
            .execute(conn)
            .await?;
            return Ok(());
        }
        E::OrderServed { occurred_at } => (change("served_on"), Some(occurred_at.date_naive())),
        E::NotificationGiven {
            kind: NotificationKind::Initial,
            occurred_at,
        } => (
            change("initial_notification_on"),
            Some(occurred_at.date_naive()),
        ),
        E::OrderRenewed { ends_on, .. } => (change("ends_on"), *ends_on),
        E::OrderDischarged { occurred_at }
        | E::AppealDetermined {
            outcome: AppealOutcome::Allowed,
            occurred_at,
        } => (change("discharged_on"), Some(occurred_at.date_naive())),
        _ => return Ok(()),
    };
    db::query(sql)
        .bind(at.id)
        .bind(at.tx)
        .bind(at.pos)
        .bind(value)
        .execute(conn)
        .await?;
    Ok(())
}
