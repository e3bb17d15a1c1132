//! The progress projection: where each course stands now, for the therapist's caseload.

use cqrs_es::Aggregate;
use desist_domain::enrolment::{Enrolment, EnrolmentEvent, EnrolmentStatus};
use desist_domain::subject::{RiskAssessment, SubjectEvent};
use desist_store::db::{self, Tx};
use desist_store::FeedEvent;

use crate::decode::Decoded;
use crate::projection::name_of;
use crate::sessions::{self, session_change};
use crate::{Generation, Projection};

#[derive(Clone, Copy)]
pub struct ProgressProjection;

impl Projection for ProgressProjection {
    const NAME: &'static str = "progress";
    /// 2: `expected_end_on` is computed by readers (date arithmetic is not portable SQL).
    const VERSION: i32 = 2;
    const TABLES: &'static [&'static str] = &[
        "progress",
        "progress_sessions",
        "progress_modules",
        "progress_triggers",
        "progress_risk",
    ];
    const SCHEMA: &'static [&'static str] = &[
        "CREATE TABLE progress{g} (
            enrolment_id text PRIMARY KEY, subject_id text NOT NULL, programme text NOT NULL,
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
        "CREATE INDEX progress{g}_subject_id ON progress{g} (subject_id)",
        "CREATE INDEX progress{g}_practitioner ON progress{g} (practitioner)",
        concat!(
            "CREATE TABLE progress_sessions{g} (",
            crate::session_columns!(),
            ")"
        ),
        "CREATE TABLE progress_modules{g} (
            enrolment_id text NOT NULL, module text NOT NULL, PRIMARY KEY (enrolment_id, module))",
        "CREATE TABLE progress_triggers{g} (
            enrolment_id text NOT NULL, trigger_id text NOT NULL, has_plan boolean NOT NULL,
            PRIMARY KEY (enrolment_id, trigger_id))",
        "CREATE TABLE progress_risk{g} (
            subject_id text PRIMARY KEY, assessed_on date NOT NULL, stalker_type text NOT NULL,
            violence text NOT NULL, persistence text NOT NULL, recurrence text NOT NULL,
            psychosocial_damage text NOT NULL)",
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
            // Derived totals are refreshed once per batch, in `finish_batch`.
            Decoded::Enrolment(e) => enrolment(conn, g, id, e).await,
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
                db::query(g.sql(
                    "INSERT INTO progress_risk{g} (subject_id, assessed_on, stalker_type, violence,
                        persistence, recurrence, psychosocial_damage)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (subject_id) DO UPDATE SET assessed_on = $2, stalker_type = $3,
                        violence = $4, persistence = $5, recurrence = $6, psychosocial_damage = $7
                      WHERE progress_risk{g}.assessed_on <= $2",
                ))
                .bind(id)
                .bind(occurred_at.date_naive())
                .bind(name_of(stalker_type))
                .bind(name_of(&ratings.violence))
                .bind(name_of(&ratings.persistence))
                .bind(name_of(&ratings.recurrence))
                .bind(name_of(&ratings.psychosocial_damage))
                .execute(conn)
                .await?;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    async fn finish_batch(
        &self,
        conn: &mut Tx,
        g: Generation,
        events: &[FeedEvent],
    ) -> Result<(), sqlx::Error> {
        let mut touched: Vec<&str> = events
            .iter()
            .filter(|e| e.aggregate_type == Enrolment::TYPE)
            .map(|e| e.aggregate_id.as_str())
            .collect();
        touched.sort_unstable();
        touched.dedup();
        if touched.is_empty() {
            return Ok(());
        }
        // Bounded lists: SQLite caps the number of values in one statement.
        for chunk in touched.chunks(1000) {
            refresh(conn, g, chunk).await?;
        }
        Ok(())
    }
}

async fn exec(
    conn: &mut Tx,
    sql: String,
    id: &str,
    values: &[Value<'_>],
) -> Result<(), sqlx::Error> {
    let mut query = db::query(sql).bind(id);
    for value in values {
        query = match value {
            Value::Text(t) => query.bind(*t),
            Value::OwnedText(t) => query.bind(t.clone()),
            Value::Date(d) => query.bind(*d),
            Value::Int(i) => query.bind(*i),
        };
    }
    query.execute(conn).await?;
    Ok(())
}

/// A bind value, so each statement below is one line of SQL and its values.
enum Value<'a> {
    Text(&'a str),
    OwnedText(String),
    Date(chrono::NaiveDate),
    Int(i32),
}

async fn enrolment(
    conn: &mut Tx,
    g: Generation,
    id: &str,
    event: &EnrolmentEvent,
) -> Result<(), sqlx::Error> {
    use EnrolmentEvent as E;
    use Value::*;
    if let Some(change) = session_change(event) {
        return sessions::apply(conn, g, "progress_sessions", id, &change).await;
    }
    let status = |s: EnrolmentStatus| OwnedText(name_of(&s));
    match event {
        E::Referred {
            subject_id,
            programme,
            route,
            occurred_at,
        } => {
            let sql = g.sql(
                "INSERT INTO progress{g} (enrolment_id, subject_id, programme, planned_sessions,
                    min_attended, route, status, referred_on)
                 VALUES ($1, $2, $3, $4, $5, $6, 'referred', $7)",
            );
            let programme_id =
                desist_domain::programme::programme_id(&programme.code, &programme.version);
            exec(
                conn,
                sql,
                id,
                &[
                    Text(subject_id),
                    OwnedText(programme_id),
                    Int(i32::from(programme.planned_sessions)),
                    Int(i32::from(programme.min_attended_for_completion)),
                    OwnedText(name_of(route)),
                    Date(occurred_at.date_naive()),
                ],
            )
            .await
        }
        E::SuitabilityAssessed { suitable, .. } => {
            let s = if *suitable {
                EnrolmentStatus::Assessed
            } else {
                EnrolmentStatus::Closed
            };
            let sql = g.sql("UPDATE progress{g} SET status = $2 WHERE enrolment_id = $1");
            exec(conn, sql, id, &[status(s)]).await
        }
        E::Allocated { practitioner, .. } => {
            let sql = g.sql(
                "UPDATE progress{g} SET status = 'allocated', practitioner = $2 WHERE enrolment_id = $1",
            );
            exec(conn, sql, id, &[Text(practitioner)]).await
        }
        E::Started { occurred_at } => {
            let sql = g.sql(
                "UPDATE progress{g} SET status = 'active', started_on = $2 WHERE enrolment_id = $1",
            );
            exec(conn, sql, id, &[Date(occurred_at.date_naive())]).await
        }
        E::Paused { occurred_at, .. } => {
            let sql = g.sql(
                "UPDATE progress{g} SET status = 'paused', paused_since = $2 WHERE enrolment_id = $1",
            );
            exec(conn, sql, id, &[Date(occurred_at.date_naive())]).await
        }
        E::Resumed { occurred_at } => {
            // Date arithmetic differs between the backends; it is done here instead.
            let since: Option<Option<chrono::NaiveDate>> = db::query_scalar(
                g.sql("SELECT paused_since FROM progress{g} WHERE enrolment_id = $1"),
            )
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
            let resumed_on = occurred_at.date_naive();
            let days = since
                .flatten()
                .map_or(0, |since| (resumed_on - since).num_days().max(0));
            let sql = g.sql(
                "UPDATE progress{g} SET status = 'active',
                    paused_days = paused_days + $2, paused_since = NULL
                  WHERE enrolment_id = $1",
            );
            exec(conn, sql, id, &[Int(days as i32)]).await
        }
        E::Completed { occurred_at } | E::Withdrawn { occurred_at, .. } => {
            let kind = if matches!(event, E::Completed { .. }) {
                EnrolmentStatus::Completed
            } else {
                EnrolmentStatus::Withdrawn
            };
            let sql = g.sql(
                "UPDATE progress{g} SET status = $2, end_kind = $2, ended_on = $3 WHERE enrolment_id = $1",
            );
            exec(
                conn,
                sql,
                id,
                &[status(kind), Date(occurred_at.date_naive())],
            )
            .await
        }
        E::SessionContentRecorded { content, .. } => {
            for module in &content.modules_covered {
                let sql = g.sql(
                    "INSERT INTO progress_modules{g} (enrolment_id, module) VALUES ($1, $2)
                     ON CONFLICT DO NOTHING",
                );
                exec(conn, sql, id, &[OwnedText(name_of(module))]).await?;
            }
            if let Some(engagement) = content.engagement {
                let sql =
                    g.sql("UPDATE progress{g} SET latest_engagement = $2 WHERE enrolment_id = $1");
                exec(conn, sql, id, &[Int(i32::from(engagement))]).await?;
            }
            Ok(())
        }
        E::TriggerIdentified { trigger_id, .. } => {
            let sql = g.sql(
                "INSERT INTO progress_triggers{g} (enrolment_id, trigger_id, has_plan)
                 VALUES ($1, $2, false)",
            );
            exec(conn, sql, id, &[Text(trigger_id)]).await
        }
        E::CopingPlanRecorded { trigger_id, .. } => {
            let sql = g.sql(
                "UPDATE progress_triggers{g} SET has_plan = true WHERE enrolment_id = $1 AND trigger_id = $2",
            );
            exec(conn, sql, id, &[Text(trigger_id)]).await
        }
        _ => Ok(()),
    }
}

/// Recomputes the derived columns of the given enrolments from their sessions, modules and
/// triggers, in one statement. Depends only on the tables' current state, so it runs once per
/// batch for every enrolment the batch touched.
async fn refresh(conn: &mut Tx, g: Generation, enrolment_ids: &[&str]) -> Result<(), sqlx::Error> {
    db::query(g.sql(
        "UPDATE progress{g} AS p SET
            sessions_attended = s.attended, sessions_due = s.due,
            attendance_rate = CAST(s.attended AS double precision) / nullif(s.due, 0),
            absences_unacceptable = s.unacceptable, absences_acceptable = s.acceptable,
            absences_provisional = s.provisional,
            last_session_at = s.last_held, next_session_at = s.next_pending,
            modules_covered = coalesce((SELECT string_agg(module, ',' ORDER BY module)
                                          FROM progress_modules{g} m
                                         WHERE m.enrolment_id = p.enrolment_id), ''),
            triggers = (SELECT count(*) FROM progress_triggers{g} t
                         WHERE t.enrolment_id = p.enrolment_id),
            triggers_with_plan = (SELECT count(*) FROM progress_triggers{g} t
                                   WHERE t.enrolment_id = p.enrolment_id AND t.has_plan)
          FROM (SELECT
                  e.id AS enrolment_id,
                  count(DISTINCT ps.number) FILTER (WHERE ps.state IN ('attended', 'late')) AS attended,
                  count(*) FILTER (WHERE ps.state IN ('attended', 'late', 'sent_home', 'absent')) AS due,
                  count(*) FILTER (WHERE ps.state = 'absent' AND ps.absence = 'unacceptable') AS unacceptable,
                  count(*) FILTER (WHERE ps.state = 'absent' AND ps.absence = 'acceptable') AS acceptable,
                  count(*) FILTER (WHERE ps.state = 'absent' AND ps.absence = 'provisional') AS provisional,
                  max(ps.scheduled_at) FILTER (WHERE ps.state IN ('attended', 'late', 'sent_home', 'absent')) AS last_held,
                  min(ps.scheduled_at) FILTER (WHERE ps.state = 'scheduled') AS next_pending
                  FROM (SELECT enrolment_id AS id FROM progress{g}
                         WHERE enrolment_id IN ({ids})) AS e
                  LEFT JOIN progress_sessions{g} ps ON ps.enrolment_id = e.id
                 GROUP BY e.id) AS s
         WHERE p.enrolment_id = s.enrolment_id",
    ).replace("{ids}", &db::placeholders(1, enrolment_ids.len())))
    .bind_all(enrolment_ids.iter().copied())
    .execute(conn)
    .await?;
    Ok(())
}
