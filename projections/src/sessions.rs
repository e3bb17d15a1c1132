//! Sessions as the views record them. Which event puts a session in which state is a rule
//! (a participant's cancellation is an absence; a move supersedes the old session), so it is
//! written once here and every projection that keeps sessions uses it.

use chrono::{DateTime, NaiveDate, Utc};
use desist_domain::enrolment::{AbsenceResolution, Attendance, CancelledBy, EnrolmentEvent};
use desist_store::db::{self, Tx};

use crate::Generation;

/// What an event does to one session.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionChange<'a> {
    Scheduled {
        session_id: &'a str,
        number: u16,
        at: DateTime<Utc>,
    },
    /// `from` is superseded by the new session `to`, with the same number, at `at`.
    Moved {
        from: &'a str,
        to: &'a str,
        at: DateTime<Utc>,
    },
    /// What happened at the session; an absence starts provisional.
    Outcome {
        session_id: &'a str,
        state: &'static str,
        absence: Option<&'static str>,
    },
    AbsenceResolved {
        session_id: &'a str,
        absence: &'static str,
        on: NaiveDate,
    },
}

pub fn attendance_state(attendance: Attendance) -> &'static str {
    match attendance {
        Attendance::Attended => "attended",
        Attendance::Late => "late",
        Attendance::SentHome => "sent_home",
        Attendance::Absent => "absent",
    }
}

fn outcome<'a>(session_id: &'a str, state: &'static str) -> SessionChange<'a> {
    SessionChange::Outcome {
        session_id,
        state,
        absence: (state == "absent").then_some("provisional"),
    }
}

pub fn session_change(event: &EnrolmentEvent) -> Option<SessionChange<'_>> {
    use EnrolmentEvent as E;
    Some(match event {
        E::SessionScheduled {
            session_id,
            number,
            scheduled_at,
            ..
        } => SessionChange::Scheduled {
            session_id,
            number: *number,
            at: *scheduled_at,
        },
        E::SessionRescheduled {
            session_id,
            new_session_id,
            scheduled_at,
            ..
        } => SessionChange::Moved {
            from: session_id,
            to: new_session_id,
            at: *scheduled_at,
        },
        E::SessionCancelled {
            session_id,
            by: CancelledBy::Provider,
            ..
        } => outcome(session_id, "provider_cancelled"),
        E::SessionCancelled {
            session_id,
            by: CancelledBy::Participant,
            ..
        } => outcome(session_id, "absent"),
        E::AttendanceRecorded {
            session_id,
            attendance,
            ..
        }
        | E::AttendanceCorrected {
            session_id,
            corrected: attendance,
            ..
        } => outcome(session_id, attendance_state(*attendance)),
        E::AbsenceResolved {
            session_id,
            resolution,
            occurred_at,
        } => SessionChange::AbsenceResolved {
            session_id,
            absence: match resolution {
                AbsenceResolution::Acceptable { .. } => "acceptable",
                AbsenceResolution::Unacceptable => "unacceptable",
            },
            on: occurred_at.date_naive(),
        },
        _ => return None,
    })
}

/// The columns of every session table, for `concat!` in a projection's schema.
#[macro_export]
macro_rules! session_columns {
    () => {
        "enrolment_id text NOT NULL, session_id text NOT NULL,
        number integer NOT NULL, scheduled_at timestamptz NOT NULL,
        -- scheduled | attended | late | sent_home | absent | provider_cancelled | rescheduled
        state text NOT NULL,
        -- provisional | acceptable | unacceptable, for absences
        absence text, absence_resolved_on date,
        PRIMARY KEY (enrolment_id, session_id)"
    };
}

/// Applies `change` to the session table `table` of generation `g`.
pub async fn apply(
    conn: &mut Tx,
    g: Generation,
    table: &str,
    enrolment_id: &str,
    change: &SessionChange<'_>,
) -> Result<(), sqlx::Error> {
    let sql = |template: &str| g.sql(&template.replace("{table}", table));
    match change {
        SessionChange::Scheduled {
            session_id,
            number,
            at,
        } => {
            db::query(sql(
                "INSERT INTO {table}{g} (enrolment_id, session_id, number, scheduled_at, state)
                 VALUES ($1, $2, $3, $4, 'scheduled')",
            ))
            .bind(enrolment_id)
            .bind(session_id)
            .bind(i32::from(*number))
            .bind(at)
            .execute(conn)
            .await?;
        }
        SessionChange::Moved { from, to, at } => {
            db::query(sql(
                "INSERT INTO {table}{g} (enrolment_id, session_id, number, scheduled_at, state)
                 SELECT enrolment_id, $3, number, $4, 'scheduled' FROM {table}{g}
                  WHERE enrolment_id = $1 AND session_id = $2",
            ))
            .bind(enrolment_id)
            .bind(from)
            .bind(to)
            .bind(at)
            .execute(&mut *conn)
            .await?;
            set(conn, &sql, enrolment_id, from, "rescheduled", None).await?;
        }
        SessionChange::Outcome {
            session_id,
            state,
            absence,
        } => set(conn, &sql, enrolment_id, session_id, state, *absence).await?,
        SessionChange::AbsenceResolved {
            session_id,
            absence,
            on,
        } => {
            db::query(sql(
                "UPDATE {table}{g} SET absence = $3, absence_resolved_on = $4
                  WHERE enrolment_id = $1 AND session_id = $2",
            ))
            .bind(enrolment_id)
            .bind(session_id)
            .bind(absence)
            .bind(on)
            .execute(conn)
            .await?;
        }
    }
    Ok(())
}

async fn set(
    conn: &mut Tx,
    sql: &impl Fn(&str) -> String,
    enrolment_id: &str,
    session_id: &str,
    state: &str,
    absence: Option<&str>,
) -> Result<(), sqlx::Error> {
    db::query(sql(
        "UPDATE {table}{g} SET state = $3, absence = $4, absence_resolved_on = NULL
          WHERE enrolment_id = $1 AND session_id = $2",
    ))
    .bind(enrolment_id)
    .bind(session_id)
    .bind(state)
    .bind(absence)
    .execute(conn)
    .await?;
    Ok(())
}
