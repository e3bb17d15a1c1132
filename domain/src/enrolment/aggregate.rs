use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use super::session::{AbsenceStatus, Session, SessionState};
use super::{
    AbsenceResolution, Attendance, CancelledBy, EnrolmentCommand, EnrolmentEvent, SessionContent,
    WithdrawalReason,
};
use crate::programme::ProgrammeTerms;
use crate::validate::{not_before, not_blank, not_in_future, sealed_not_blank};
use crate::{DomainError, DomainServices};

/// Engagement is rated 1 (disengaged) to 5 (fully engaged).
const ENGAGEMENT_SCALE: std::ops::RangeInclusive<u8> = 1..=5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnrolmentStatus {
    Referred,
    Assessed,
    /// Assessed as unsuitable.
    Closed,
    Allocated,
    Active,
    Paused,
    Completed,
    Withdrawn,
}

impl EnrolmentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Referred => "referred",
            Self::Assessed => "assessed",
            Self::Closed => "closed",
            Self::Allocated => "allocated",
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Completed => "completed",
            Self::Withdrawn => "withdrawn",
        }
    }

    fn started(self) -> bool {
        matches!(
            self,
            Self::Active | Self::Paused | Self::Completed | Self::Withdrawn
        )
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Concern {
    session_id: String,
    notify_probation: bool,
    raised_at: DateTime<Utc>,
    acknowledged: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Enrolment {
    pub subject_id: Option<String>,
    pub programme: Option<ProgrammeTerms>,
    pub status: Option<EnrolmentStatus>,
    /// The practitioner whose caseload holds the course.
    pub practitioner: Option<String>,
    /// When the latest lifecycle step happened: the next may not come before it.
    last_step_at: Option<DateTime<Utc>>,
    pub sessions: BTreeMap<String, Session>,
    concerns: BTreeMap<String, Concern>,
    chain_analyses: BTreeSet<String>,
    triggers: BTreeSet<String>,
}

impl Enrolment {
    fn status(&self) -> Result<EnrolmentStatus, DomainError> {
        self.status
            .ok_or(DomainError::NotRecorded { what: "enrolment" })
    }

    fn terms(&self) -> Result<&ProgrammeTerms, DomainError> {
        self.programme
            .as_ref()
            .ok_or(DomainError::NotRecorded { what: "enrolment" })
    }

    /// Refuses `action` unless the enrolment is in one of `allowed`.
    fn require(
        &self,
        action: &'static str,
        allowed: &[EnrolmentStatus],
    ) -> Result<EnrolmentStatus, DomainError> {
        let status = self.status()?;
        if !allowed.contains(&status) {
            return Err(DomainError::EnrolmentStatus {
                action,
                status: status.as_str(),
            });
        }
        Ok(status)
    }

    /// A lifecycle step: allowed from `allowed`, and not dated before the previous step.
    fn step(
        &self,
        action: &'static str,
        allowed: &[EnrolmentStatus],
        occurred_at: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        self.require(action, allowed)?;
        if let Some(last) = self.last_step_at {
            not_before(
                "occurred_at",
                occurred_at.date_naive(),
                "the previous step",
                last.date_naive(),
            )?;
        }
        Ok(())
    }

    fn session(&self, session_id: &str) -> Result<&Session, DomainError> {
        self.sessions
            .get(session_id)
            .ok_or_else(|| DomainError::UnknownSession {
                session_id: session_id.into(),
            })
    }

    fn new_session_id(&self, session_id: &str) -> Result<(), DomainError> {
        not_blank("session_id", session_id)?;
        if self.sessions.contains_key(session_id) {
            return Err(DomainError::AlreadyRecorded { what: "session id" });
        }
        Ok(())
    }

    /// Distinct session numbers delivered (attended or late).
    pub fn sessions_attended(&self) -> u16 {
        let delivered: BTreeSet<u16> = self
            .sessions
            .values()
            .filter(|s| s.delivered())
            .map(|s| s.number)
            .collect();
        delivered.len() as u16
    }

    fn session_mut(&mut self, session_id: &str) -> Option<&mut Session> {
        self.sessions.get_mut(session_id)
    }
}

use EnrolmentStatus::*;

/// Where sessions may be scheduled: after allocation, while the course runs.
const SCHEDULABLE: &[EnrolmentStatus] = &[Allocated, Active];
/// Where an open enrolment may be withdrawn from.
const OPEN: &[EnrolmentStatus] = &[Referred, Assessed, Allocated, Active, Paused];
/// Where work with a participant (chain analyses, triggers) can be recorded.
const RUNNING: &[EnrolmentStatus] = &[Active];

impl Aggregate for Enrolment {
    const TYPE: &'static str = "Enrolment";
    type Command = EnrolmentCommand;
    type Event = EnrolmentEvent;
    type Error = DomainError;
    type Services = DomainServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        not_in_future("occurred_at", command.occurred_at(), services.now())?;
        let event = self.decide(command)?;
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            EnrolmentEvent::Referred {
                subject_id,
                programme,
                occurred_at,
                ..
            } => {
                self.subject_id = Some(subject_id);
                self.programme = Some(programme);
                self.status = Some(Referred);
                self.last_step_at = Some(occurred_at);
            }
            EnrolmentEvent::SuitabilityAssessed {
                suitable,
                occurred_at,
            } => self.to(if suitable { Assessed } else { Closed }, occurred_at),
            EnrolmentEvent::Allocated {
                practitioner,
                occurred_at,
            } => {
                self.practitioner = Some(practitioner);
                self.to(Allocated, occurred_at);
            }
            EnrolmentEvent::Started { occurred_at } => self.to(Active, occurred_at),
            EnrolmentEvent::Paused { occurred_at, .. } => self.to(Paused, occurred_at),
            EnrolmentEvent::Resumed { occurred_at } => self.to(Active, occurred_at),
            EnrolmentEvent::Completed { occurred_at } => self.to(Completed, occurred_at),
            EnrolmentEvent::Withdrawn { occurred_at, .. } => self.to(Withdrawn, occurred_at),
            EnrolmentEvent::SessionScheduled {
                session_id,
                number,
                scheduled_at,
                mode,
                ..
            } => {
                self.sessions.insert(
                    session_id,
                    Session {
                        number,
                        scheduled_at,
                        mode,
                        state: SessionState::Scheduled,
                    },
                );
            }
            EnrolmentEvent::SessionRescheduled {
                session_id,
                new_session_id,
                scheduled_at,
                ..
            } => {
                if let Some(old) = self.session_mut(&session_id) {
                    old.state = SessionState::Superseded {
                        by: new_session_id.clone(),
                    };
                    let replacement = Session {
                        scheduled_at,
                        state: SessionState::Scheduled,
                        ..old.clone()
                    };
                    self.sessions.insert(new_session_id, replacement);
                }
            }
            EnrolmentEvent::SessionCancelled { session_id, by, .. } => {
                if let Some(session) = self.session_mut(&session_id) {
                    match by {
                        CancelledBy::Provider => session.state = SessionState::CancelledByProvider,
                        // Calling a session off is the participant's absence, to be resolved
                        // as acceptable or not like any other.
                        CancelledBy::Participant => session.record(Attendance::Absent),
                    }
                }
            }
            EnrolmentEvent::AttendanceRecorded {
                session_id,
                attendance,
                ..
            }
            | EnrolmentEvent::AttendanceCorrected {
                session_id,
                corrected: attendance,
                ..
            } => {
                if let Some(session) = self.session_mut(&session_id) {
                    session.record(attendance);
                }
            }
            EnrolmentEvent::AbsenceResolved {
                session_id,
                resolution,
                ..
            } => {
                if let Some(Session {
                    state: SessionState::Recorded { absence, .. },
                    ..
                }) = self.session_mut(&session_id)
                {
                    *absence = Some(match resolution {
                        AbsenceResolution::Acceptable { reason } => {
                            AbsenceStatus::Acceptable { reason }
                        }
                        AbsenceResolution::Unacceptable => AbsenceStatus::Unacceptable,
                    });
                }
            }
            EnrolmentEvent::SessionContentRecorded { .. } => {}
            EnrolmentEvent::ConcernRaised {
                concern_id,
                session_id,
                notify_probation,
                occurred_at,
                ..
            } => {
                self.concerns.insert(
                    concern_id,
                    Concern {
                        session_id,
                        notify_probation,
                        raised_at: occurred_at,
                        acknowledged: false,
                    },
                );
            }
            EnrolmentEvent::ConcernAcknowledged { concern_id, .. } => {
                if let Some(concern) = self.concerns.get_mut(&concern_id) {
                    concern.acknowledged = true;
                }
            }
            EnrolmentEvent::ChainAnalysisRecorded { chain_id, .. } => {
                self.chain_analyses.insert(chain_id);
            }
            EnrolmentEvent::TriggerIdentified { trigger_id, .. } => {
                self.triggers.insert(trigger_id);
            }
            EnrolmentEvent::CopingPlanRecorded { .. }
            | EnrolmentEvent::EnforcementActionRecorded { .. } => {}
        }
    }
}

impl Enrolment {
    fn to(&mut self, status: EnrolmentStatus, occurred_at: DateTime<Utc>) {
        self.status = Some(status);
        self.last_step_at = Some(occurred_at);
    }

    /// Checks a command against the rules and names the one event it produces.
    fn decide(&self, command: EnrolmentCommand) -> Result<EnrolmentEvent, DomainError> {
        use EnrolmentCommand as C;
        use EnrolmentEvent as E;
        Ok(match command {
            C::Refer {
                subject_id,
                programme,
                route,
                occurred_at,
            } => {
                if self.status.is_some() {
                    return Err(DomainError::AlreadyRecorded { what: "enrolment" });
                }
                not_blank("subject_id", &subject_id)?;
                E::Referred {
                    subject_id,
                    programme,
                    route,
                    occurred_at,
                }
            }
            C::AssessSuitability {
                suitable,
                occurred_at,
            } => {
                self.step("assess suitability", &[Referred], occurred_at)?;
                E::SuitabilityAssessed {
                    suitable,
                    occurred_at,
                }
            }
            C::Allocate {
                practitioner,
                occurred_at,
            } => {
                self.step("allocate", &[Assessed], occurred_at)?;
                not_blank("practitioner", &practitioner)?;
                E::Allocated {
                    practitioner,
                    occurred_at,
                }
            }
            C::Start { occurred_at } => {
                self.step("start", &[Allocated], occurred_at)?;
                E::Started { occurred_at }
            }
            C::Pause {
                reason,
                occurred_at,
            } => {
                self.step("pause", &[Active], occurred_at)?;
                E::Paused {
                    reason,
                    occurred_at,
                }
            }
            C::Resume { occurred_at } => {
                self.step("resume", &[Paused], occurred_at)?;
                E::Resumed { occurred_at }
            }
            C::Complete { occurred_at } => {
                self.step("complete", &[Active], occurred_at)?;
                let required = self.terms()?.min_attended_for_completion;
                let attended = self.sessions_attended();
                if attended < required {
                    return Err(DomainError::TooFewSessionsToComplete { attended, required });
                }
                E::Completed { occurred_at }
            }
            C::Withdraw {
                reason,
                reason_text,
                occurred_at,
            } => {
                self.step("withdraw", OPEN, occurred_at)?;
                if reason == WithdrawalReason::Other {
                    match &reason_text {
                        Some(text) => sealed_not_blank("reason_text", text)?,
                        None => {
                            return Err(DomainError::InvalidValue {
                                field: "reason_text",
                                rule: "is required when the reason is other".into(),
                            })
                        }
                    }
                }
                E::Withdrawn {
                    reason,
                    reason_text,
                    occurred_at,
                }
            }
            C::ScheduleSession {
                session_id,
                number,
                scheduled_at,
                mode,
                occurred_at,
            } => {
                self.require("schedule a session", SCHEDULABLE)?;
                self.new_session_id(&session_id)?;
                let planned = self.terms()?.planned_sessions;
                if !(1..=planned).contains(&number) {
                    return Err(DomainError::SessionNumberOutOfRange { number, planned });
                }
                let same_number = || self.sessions.values().filter(|s| s.number == number);
                if same_number().any(Session::delivered) {
                    return Err(DomainError::SessionAlreadyDelivered { number });
                }
                if same_number().any(Session::pending) {
                    return Err(DomainError::SessionAlreadyScheduled { number });
                }
                E::SessionScheduled {
                    session_id,
                    number,
                    scheduled_at,
                    mode,
                    occurred_at,
                }
            }
            C::RescheduleSession {
                session_id,
                new_session_id,
                scheduled_at,
                occurred_at,
            } => {
                self.require("reschedule a session", &[Allocated, Active, Paused])?;
                self.session(&session_id)?.ensure_open(&session_id)?;
                self.new_session_id(&new_session_id)?;
                E::SessionRescheduled {
                    session_id,
                    new_session_id,
                    scheduled_at,
                    occurred_at,
                }
            }
            C::CancelSession {
                session_id,
                by,
                reason,
                occurred_at,
            } => {
                self.require("cancel a session", &[Allocated, Active, Paused])?;
                self.session(&session_id)?.ensure_open(&session_id)?;
                sealed_not_blank("reason", &reason)?;
                E::SessionCancelled {
                    session_id,
                    by,
                    reason,
                    occurred_at,
                }
            }
            C::RecordAttendance {
                session_id,
                attendance,
                occurred_at,
            } => {
                self.require("record attendance", &[Active])?;
                let session = self.session(&session_id)?;
                session.ensure_open(&session_id)?;
                if session.scheduled_at > occurred_at {
                    return Err(DomainError::SessionNotYetHeld {
                        session_id,
                        scheduled_at: session.scheduled_at,
                        occurred_at,
                    });
                }
                E::AttendanceRecorded {
                    session_id,
                    attendance,
                    occurred_at,
                }
            }
            C::ResolveAbsence {
                session_id,
                resolution,
                occurred_at,
            } => {
                self.status()?;
                match &self.session(&session_id)?.state {
                    SessionState::Recorded {
                        absence: Some(AbsenceStatus::Provisional),
                        ..
                    } => {}
                    SessionState::Recorded {
                        absence: Some(_), ..
                    } => return Err(DomainError::AbsenceNotProvisional { session_id }),
                    _ => return Err(DomainError::NotAnAbsence { session_id }),
                }
                E::AbsenceResolved {
                    session_id,
                    resolution,
                    occurred_at,
                }
            }
            C::CorrectAttendance {
                session_id,
                attendance,
                reason,
                occurred_at,
            } => {
                self.status()?;
                let previous = self.session(&session_id)?.recorded(&session_id)?;
                sealed_not_blank("reason", &reason)?;
                if previous == attendance {
                    return Err(DomainError::CorrectionChangesNothing {
                        field: "attendance",
                    });
                }
                E::AttendanceCorrected {
                    session_id,
                    previous,
                    corrected: attendance,
                    reason,
                    occurred_at,
                }
            }
            C::RecordSessionContent {
                session_id,
                content,
                occurred_at,
            } => {
                self.status()?;
                let attendance = self.session(&session_id)?.recorded(&session_id)?;
                if !attendance.delivers() {
                    return Err(DomainError::SessionNotHeld {
                        session_id,
                        required: "attended",
                    });
                }
                validate_content(&content)?;
                E::SessionContentRecorded {
                    session_id,
                    content,
                    occurred_at,
                }
            }
            C::RaiseConcern {
                concern_id,
                session_id,
                kind,
                text,
                notify_probation,
                occurred_at,
            } => {
                self.status()?;
                self.session(&session_id)?.recorded(&session_id)?;
                not_blank("concern_id", &concern_id)?;
                if self.concerns.contains_key(&concern_id) {
                    return Err(DomainError::AlreadyRecorded { what: "concern" });
                }
                sealed_not_blank("text", &text)?;
                E::ConcernRaised {
                    concern_id,
                    session_id,
                    kind,
                    text,
                    notify_probation,
                    occurred_at,
                }
            }
            C::AcknowledgeConcern {
                concern_id,
                occurred_at,
            } => {
                let concern = self
                    .concerns
                    .get(&concern_id)
                    .ok_or(DomainError::NotRecorded { what: "concern" })?;
                if !concern.notify_probation {
                    return Err(DomainError::ConcernNotEscalated { concern_id });
                }
                if concern.acknowledged {
                    return Err(DomainError::AlreadyRecorded {
                        what: "acknowledgement",
                    });
                }
                not_before(
                    "occurred_at",
                    occurred_at.date_naive(),
                    "the concern",
                    concern.raised_at.date_naive(),
                )?;
                E::ConcernAcknowledged {
                    concern_id,
                    occurred_at,
                }
            }
            C::RecordChainAnalysis {
                chain_id,
                session_id,
                chain,
                occurred_at,
            } => {
                self.require("record a chain analysis", RUNNING)?;
                not_blank("chain_id", &chain_id)?;
                if self.chain_analyses.contains(&chain_id) {
                    return Err(DomainError::AlreadyRecorded {
                        what: "chain analysis",
                    });
                }
                if let Some(session_id) = &session_id {
                    self.session(session_id)?;
                }
                sealed_not_blank("prompting_event", &chain.prompting_event)?;
                sealed_not_blank("action", &chain.action)?;
                E::ChainAnalysisRecorded {
                    chain_id,
                    session_id,
                    chain,
                    occurred_at,
                }
            }
            C::IdentifyTrigger {
                trigger_id,
                category,
                description,
                occurred_at,
            } => {
                self.require("identify a trigger", RUNNING)?;
                not_blank("trigger_id", &trigger_id)?;
                if self.triggers.contains(&trigger_id) {
                    return Err(DomainError::AlreadyRecorded { what: "trigger" });
                }
                sealed_not_blank("description", &description)?;
                E::TriggerIdentified {
                    trigger_id,
                    category,
                    description,
                    occurred_at,
                }
            }
            C::RecordCopingPlan {
                trigger_id,
                plan,
                occurred_at,
            } => {
                self.require("record a coping plan", RUNNING)?;
                if !self.triggers.contains(&trigger_id) {
                    return Err(DomainError::NotRecorded { what: "trigger" });
                }
                sealed_not_blank("plan", &plan)?;
                E::CopingPlanRecorded {
                    trigger_id,
                    plan,
                    occurred_at,
                }
            }
            C::RecordEnforcementAction {
                action,
                note,
                occurred_at,
            } => {
                let status = self.status()?;
                if !status.started() {
                    return Err(DomainError::EnrolmentStatus {
                        action: "record an enforcement action",
                        status: status.as_str(),
                    });
                }
                E::EnforcementActionRecorded {
                    action,
                    note,
                    occurred_at,
                }
            }
        })
    }
}

fn validate_content(content: &SessionContent) -> Result<(), DomainError> {
    if let Some(engagement) = content.engagement {
        if !ENGAGEMENT_SCALE.contains(&engagement) {
            return Err(DomainError::InvalidValue {
                field: "engagement",
                rule: "must be between 1 and 5".into(),
            });
        }
    }
    if content.skills_practised.iter().any(|s| s.trim().is_empty()) {
        return Err(DomainError::InvalidValue {
            field: "skills_practised",
            rule: "must not contain blank entries".into(),
        });
    }
    Ok(())
}
