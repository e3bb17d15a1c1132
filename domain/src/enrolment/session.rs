use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{AbsenceReason, Attendance, SessionMode};
use crate::DomainError;

/// A provisional absence waits for evidence; it is then acceptable (with a reason) or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum AbsenceStatus {
    Provisional,
    Acceptable { reason: AbsenceReason },
    Unacceptable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum SessionState {
    Scheduled,
    Recorded {
        attendance: Attendance,
        /// Set when `attendance` is `Absent`.
        absence: Option<AbsenceStatus>,
    },
    CancelledByProvider,
    Superseded {
        by: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub number: u16,
    pub scheduled_at: DateTime<Utc>,
    pub mode: SessionMode,
    pub state: SessionState,
}

impl Session {
    pub fn delivered(&self) -> bool {
        matches!(
            self.state,
            SessionState::Recorded { attendance, .. } if attendance.delivers()
        )
    }

    /// A session still waiting to be held.
    pub fn pending(&self) -> bool {
        self.state == SessionState::Scheduled
    }

    /// Refuses anything but a session still waiting to be held.
    pub fn ensure_open(&self, session_id: &str) -> Result<(), DomainError> {
        match &self.state {
            SessionState::Scheduled => Ok(()),
            SessionState::CancelledByProvider => Err(DomainError::SessionNotOpen {
                session_id: session_id.into(),
                how: "cancelled",
            }),
            SessionState::Superseded { .. } => Err(DomainError::SessionNotOpen {
                session_id: session_id.into(),
                how: "rescheduled",
            }),
            SessionState::Recorded { .. } => Err(DomainError::AttendanceAlreadyRecorded {
                session_id: session_id.into(),
            }),
        }
    }

    /// The recorded attendance, or the rule that says there is none.
    pub fn recorded(&self, session_id: &str) -> Result<Attendance, DomainError> {
        match &self.state {
            SessionState::Recorded { attendance, .. } => Ok(*attendance),
            _ => Err(DomainError::AttendanceNotRecorded {
                session_id: session_id.into(),
            }),
        }
    }

    pub fn record(&mut self, attendance: Attendance) {
        let absence = (attendance == Attendance::Absent).then_some(AbsenceStatus::Provisional);
        self.state = SessionState::Recorded {
            attendance,
            absence,
        };
    }
}
