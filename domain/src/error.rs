//! Every rule a clerk could break, by name.
//!
//! One error type for the whole domain so that the API can turn any rejection into a
//! `userError { field, message, code }` without knowing which aggregate refused it.

use chrono::{DateTime, NaiveDate, Utc};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    #[error(
        "{field} is {value}, which is in the future: only facts that have happened can be recorded"
    )]
    InFuture {
        field: &'static str,
        value: DateTime<Utc>,
    },
    #[error("{field}: {rule}")]
    InvalidValue { field: &'static str, rule: String },
    #[error("{field} ({value}) is before {earlier_field} ({earlier}): facts must follow the order they happened in")]
    OutOfOrder {
        field: &'static str,
        value: NaiveDate,
        earlier_field: &'static str,
        earlier: NaiveDate,
    },
    #[error("this {what} has already been recorded")]
    AlreadyRecorded { what: &'static str },
    #[error("no {what} has been recorded under this id")]
    NotRecorded { what: &'static str },
    #[error("cannot {action}: the enrolment is {status}")]
    EnrolmentStatus {
        action: &'static str,
        status: &'static str,
    },
    #[error("session {number} does not exist in a {planned}-session course")]
    SessionNumberOutOfRange { number: u16, planned: u16 },
    #[error("session {number} has already been delivered")]
    SessionAlreadyDelivered { number: u16 },
    #[error(
        "session {number} is already scheduled and not yet held: reschedule or cancel it instead"
    )]
    SessionAlreadyScheduled { number: u16 },
    #[error("no session {session_id} in this enrolment")]
    UnknownSession { session_id: String },
    #[error("session {session_id} was {how}: attendance is recorded against the session that replaced it")]
    SessionNotOpen {
        session_id: String,
        how: &'static str,
    },
    #[error("session {session_id} is scheduled for {scheduled_at}, after {occurred_at}: attendance can be recorded only once it is held")]
    SessionNotYetHeld {
        session_id: String,
        scheduled_at: DateTime<Utc>,
        occurred_at: DateTime<Utc>,
    },
    #[error(
        "session {session_id} already has attendance recorded: use a correction with a reason"
    )]
    AttendanceAlreadyRecorded { session_id: String },
    #[error("session {session_id} has no attendance recorded yet")]
    AttendanceNotRecorded { session_id: String },
    #[error("session {session_id} was not {required}")]
    SessionNotHeld {
        session_id: String,
        required: &'static str,
    },
    #[error("the absence from session {session_id} is not provisional: it was already resolved")]
    AbsenceNotProvisional { session_id: String },
    #[error("session {session_id} was not an absence")]
    NotAnAbsence { session_id: String },
    #[error("a correction must change the recorded value")]
    CorrectionChangesNothing { field: &'static str },
    #[error("completion needs {required} attended sessions; {attended} were attended")]
    TooFewSessionsToComplete { attended: u16, required: u16 },
    #[error("a full order must run for at least two years (until {earliest_end}) or until further order")]
    FullOrderTooShort { earliest_end: NaiveDate },
    #[error("an interim order must have an end date")]
    InterimOrderWithoutEnd,
    #[error("condition {condition_id} was not in force on {date}")]
    ConditionNotInForce {
        condition_id: String,
        date: NaiveDate,
    },
    #[error("the order was not in force on {date}")]
    OrderNotInForce {
        field: &'static str,
        date: NaiveDate,
    },
    #[error("the order has not been served")]
    OrderNotServed,
    #[error("an initial notification has already been given for this order")]
    InitialNotificationAlreadyGiven,
    #[error("the outcome ({decided}) is dated before the breach was reported ({reported})")]
    OutcomeBeforeReport {
        decided: NaiveDate,
        reported: NaiveDate,
    },
    #[error("breach {breach_id} already has a final outcome")]
    BreachOutcomeFinal { breach_id: String },
    #[error("concern {concern_id} was not flagged to notify the probation officer")]
    ConcernNotEscalated { concern_id: String },
    #[error("offence {offence_id} has already been proven")]
    OffenceAlreadyProven { offence_id: String },
    #[error("the subject was erased: nothing more can be recorded about them")]
    SubjectErased,
}

impl DomainError {
    /// A stable, machine-readable code for the rule (clients switch on this, not on the text).
    pub fn code(&self) -> &'static str {
        match self {
            Self::InFuture { .. } => "IN_FUTURE",
            Self::InvalidValue { .. } => "INVALID_VALUE",
            Self::OutOfOrder { .. } => "OUT_OF_ORDER",
            Self::AlreadyRecorded { .. } => "ALREADY_RECORDED",
            Self::NotRecorded { .. } => "NOT_RECORDED",
            Self::EnrolmentStatus { .. } => "ENROLMENT_STATUS",
            Self::SessionNumberOutOfRange { .. } => "SESSION_NUMBER_OUT_OF_RANGE",
            Self::SessionAlreadyDelivered { .. } => "SESSION_ALREADY_DELIVERED",
            Self::SessionAlreadyScheduled { .. } => "SESSION_ALREADY_SCHEDULED",
            Self::UnknownSession { .. } => "UNKNOWN_SESSION",
            Self::SessionNotOpen { .. } => "SESSION_NOT_OPEN",
            Self::SessionNotYetHeld { .. } => "SESSION_NOT_YET_HELD",
            Self::AttendanceAlreadyRecorded { .. } => "ATTENDANCE_ALREADY_RECORDED",
            Self::AttendanceNotRecorded { .. } => "ATTENDANCE_NOT_RECORDED",
            Self::SessionNotHeld { .. } => "SESSION_NOT_HELD",
            Self::AbsenceNotProvisional { .. } => "ABSENCE_NOT_PROVISIONAL",
            Self::NotAnAbsence { .. } => "NOT_AN_ABSENCE",
            Self::CorrectionChangesNothing { .. } => "CORRECTION_CHANGES_NOTHING",
            Self::TooFewSessionsToComplete { .. } => "TOO_FEW_SESSIONS_TO_COMPLETE",
            Self::FullOrderTooShort { .. } => "FULL_ORDER_TOO_SHORT",
            Self::InterimOrderWithoutEnd => "INTERIM_ORDER_WITHOUT_END",
            Self::ConditionNotInForce { .. } => "CONDITION_NOT_IN_FORCE",
            Self::OrderNotInForce { .. } => "ORDER_NOT_IN_FORCE",
            Self::OrderNotServed => "ORDER_NOT_SERVED",
            Self::InitialNotificationAlreadyGiven => "INITIAL_NOTIFICATION_ALREADY_GIVEN",
            Self::OutcomeBeforeReport { .. } => "OUTCOME_BEFORE_REPORT",
            Self::BreachOutcomeFinal { .. } => "BREACH_OUTCOME_FINAL",
            Self::ConcernNotEscalated { .. } => "CONCERN_NOT_ESCALATED",
            Self::OffenceAlreadyProven { .. } => "OFFENCE_ALREADY_PROVEN",
            Self::SubjectErased => "SUBJECT_ERASED",
        }
    }

    /// The input field the rule is about, named as in the command (snake_case).
    pub fn field(&self) -> &'static str {
        match self {
            Self::InFuture { field, .. }
            | Self::InvalidValue { field, .. }
            | Self::OutOfOrder { field, .. }
            | Self::CorrectionChangesNothing { field }
            | Self::OrderNotInForce { field, .. } => field,
            // The record the command names; "id" is the aggregate's own id.
            Self::AlreadyRecorded { what } | Self::NotRecorded { what } => match *what {
                "offence" => "offence_id",
                "concern" | "acknowledgement" => "concern_id",
                "trigger" => "trigger_id",
                "breach" | "breach assessment" => "breach_id",
                "condition" => "condition_id",
                "session id" => "session_id",
                "chain analysis" => "chain_id",
                "offender manager" => "officer",
                _ => "id",
            },
            Self::EnrolmentStatus { .. } => "enrolment_id",
            Self::SessionNumberOutOfRange { .. }
            | Self::SessionAlreadyDelivered { .. }
            | Self::SessionAlreadyScheduled { .. } => "number",
            Self::UnknownSession { .. }
            | Self::SessionNotOpen { .. }
            | Self::SessionNotHeld { .. }
            | Self::AttendanceAlreadyRecorded { .. }
            | Self::AttendanceNotRecorded { .. }
            | Self::AbsenceNotProvisional { .. }
            | Self::NotAnAbsence { .. } => "session_id",
            Self::SessionNotYetHeld { .. } => "occurred_at",
            Self::TooFewSessionsToComplete { .. } => "enrolment_id",
            Self::FullOrderTooShort { .. } | Self::InterimOrderWithoutEnd => "ends_on",
            Self::ConditionNotInForce { .. } => "condition_id",
            Self::OrderNotServed => "order_id",
            Self::InitialNotificationAlreadyGiven => "kind",
            Self::OutcomeBeforeReport { .. } => "occurred_at",
            Self::BreachOutcomeFinal { .. } => "breach_id",
            Self::ConcernNotEscalated { .. } => "concern_id",
            Self::OffenceAlreadyProven { .. } => "offence_id",
            Self::SubjectErased => "id",
        }
    }
}
