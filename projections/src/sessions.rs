//! Sessions as the views record them. Which event puts a session in which state is a rule
//! (a participant's cancellation is an absence; a move supersedes the old session), so it is
//! written once here and every projection that keeps sessions uses it.

use crate::rows::Rows;
use chrono::{DateTime, NaiveDate, Utc};
use desist_domain::enrolment::{AbsenceResolution, Attendance, CancelledBy, EnrolmentEvent};

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
        "enrolment_id {id} NOT NULL, session_id {id} NOT NULL,
        number integer NOT NULL, scheduled_at timestamptz NOT NULL,
        -- scheduled | attended | late | sent_home | absent | provider_cancelled | rescheduled
        state text NOT NULL,
        -- provisional | acceptable | unacceptable, for absences
        absence text, absence_resolved_on date,
        PRIMARY KEY (enrolment_id, session_id)"
    };
}

crate::table_row! {
    /// A row of a session table (`compliance_sessions`, `progress_sessions`).
    pub struct Session {
        enrolment_id: String,
        session_id: String,
        number: i32,
        scheduled_at: DateTime<Utc>,
        state: String,
        absence: Option<String>,
        absence_resolved_on: Option<NaiveDate>,
    }
    key (enrolment_id, session_id) as (String, String);
    primary key (enrolment_id, session_id);
    owner enrolment_id;
}

fn key(enrolment_id: &str, session_id: &str) -> (String, String) {
    (enrolment_id.to_string(), session_id.to_string())
}

/// Applies `change` to the sessions of `enrolment_id`.
pub fn apply(sessions: &mut Rows<Session>, enrolment_id: &str, change: &SessionChange<'_>) {
    match change {
        SessionChange::Scheduled {
            session_id,
            number,
            at,
        } => sessions.put(Session {
            enrolment_id: enrolment_id.to_string(),
            session_id: session_id.to_string(),
            number: i32::from(*number),
            scheduled_at: *at,
            state: "scheduled".to_string(),
            absence: None,
            absence_resolved_on: None,
        }),
        SessionChange::Moved { from, to, at } => {
            let Some(old) = sessions.get(&key(enrolment_id, from)).cloned() else {
                return;
            };
            sessions.put(Session {
                session_id: to.to_string(),
                scheduled_at: *at,
                state: "scheduled".to_string(),
                absence: None,
                absence_resolved_on: None,
                ..old
            });
            set(sessions, enrolment_id, from, "rescheduled", None);
        }
        SessionChange::Outcome {
            session_id,
            state,
            absence,
        } => set(sessions, enrolment_id, session_id, state, *absence),
        SessionChange::AbsenceResolved {
            session_id,
            absence,
            on,
        } => sessions.update(&key(enrolment_id, session_id), |s| {
            s.absence = Some(absence.to_string());
            s.absence_resolved_on = Some(*on);
        }),
    }
}

fn set(
    sessions: &mut Rows<Session>,
    enrolment_id: &str,
    session_id: &str,
    state: &str,
    absence: Option<&str>,
) {
    sessions.update(&key(enrolment_id, session_id), |s| {
        s.state = state.to_string();
        s.absence = absence.map(str::to_string);
        s.absence_resolved_on = None;
    });
}
