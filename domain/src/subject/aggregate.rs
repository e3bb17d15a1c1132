use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use super::{Demographics, RiskAssessment, SubjectCommand, SubjectEvent};
use crate::validate::{not_before, not_blank, not_in_future, sealed_not_blank};
use crate::{DomainError, DomainServices};

/// England and Wales: no one under ten can be criminally responsible.
const AGE_OF_CRIMINAL_RESPONSIBILITY: i32 = 10;
const EARLIEST_BIRTH_YEAR: i32 = 1900;
/// S-DASH asks 24 questions.
const S_DASH_QUESTIONS: u8 = 24;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Subject {
    pub demographics: Option<Demographics>,
    /// The probation officer whose caseload holds the subject.
    pub offender_manager: Option<String>,
    /// Erased subjects take no further facts.
    pub erased: bool,
    /// Offence id → (committed at, proven).
    offences: BTreeMap<String, (DateTime<Utc>, bool)>,
}

impl Subject {
    fn registered(&self) -> Result<&Demographics, DomainError> {
        self.demographics
            .as_ref()
            .ok_or(DomainError::NotRecorded { what: "subject" })
    }
}

impl Aggregate for Subject {
    const TYPE: &'static str = "Subject";
    type Command = SubjectCommand;
    type Event = SubjectEvent;
    type Error = DomainError;
    type Services = DomainServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let now = services.now();
        not_in_future("occurred_at", command.occurred_at(), now)?;
        if self.erased {
            return Err(DomainError::SubjectErased);
        }
        let event = match command {
            SubjectCommand::RegisterSubject {
                demographics,
                occurred_at,
            } => {
                if self.demographics.is_some() {
                    return Err(DomainError::AlreadyRecorded { what: "subject" });
                }
                validate_demographics(&demographics, now)?;
                SubjectEvent::SubjectRegistered {
                    demographics,
                    occurred_at,
                }
            }
            SubjectCommand::CorrectDemographics {
                corrected,
                reason,
                occurred_at,
            } => {
                let previous = self.registered()?.clone();
                validate_demographics(&corrected, now)?;
                sealed_not_blank("reason", &reason)?;
                if previous == corrected {
                    return Err(DomainError::CorrectionChangesNothing {
                        field: "demographics",
                    });
                }
                SubjectEvent::DemographicsCorrected {
                    previous,
                    corrected,
                    reason,
                    occurred_at,
                }
            }
            SubjectCommand::AllocateOffenderManager {
                officer,
                occurred_at,
            } => {
                self.registered()?;
                not_blank("officer", &officer)?;
                if self.offender_manager.as_deref() == Some(officer.as_str()) {
                    return Err(DomainError::AlreadyRecorded {
                        what: "offender manager",
                    });
                }
                SubjectEvent::OffenderManagerAllocated {
                    officer,
                    occurred_at,
                }
            }
            SubjectCommand::EraseSubject {
                reason,
                occurred_at,
            } => {
                self.registered()?;
                not_blank("reason", &reason)?;
                SubjectEvent::SubjectErased {
                    reason,
                    occurred_at,
                }
            }
            SubjectCommand::RecordRiskAssessment {
                assessment,
                tool_version,
                assessor,
                occurred_at,
            } => {
                self.registered()?;
                not_blank("tool_version", &tool_version)?;
                not_blank("assessor", &assessor)?;
                if let RiskAssessment::SDash { yes_count } = assessment {
                    if yes_count > S_DASH_QUESTIONS {
                        return Err(DomainError::InvalidValue {
                            field: "yes_count",
                            rule: format!("S-DASH has {S_DASH_QUESTIONS} questions"),
                        });
                    }
                }
                SubjectEvent::RiskAssessed {
                    assessment,
                    tool_version,
                    assessor,
                    occurred_at,
                }
            }
            SubjectCommand::RecordOffence {
                offence_id,
                category,
                occurred_at,
            } => {
                self.registered()?;
                not_blank("offence_id", &offence_id)?;
                if self.offences.contains_key(&offence_id) {
                    return Err(DomainError::AlreadyRecorded { what: "offence" });
                }
                SubjectEvent::OffenceRecorded {
                    offence_id,
                    category,
                    occurred_at,
                }
            }
            SubjectCommand::RecordOffenceProven {
                offence_id,
                disposal,
                occurred_at,
            } => {
                self.registered()?;
                let (committed_at, proven) = self
                    .offences
                    .get(&offence_id)
                    .ok_or(DomainError::NotRecorded { what: "offence" })?;
                if *proven {
                    return Err(DomainError::OffenceAlreadyProven { offence_id });
                }
                not_before(
                    "occurred_at",
                    occurred_at.date_naive(),
                    "offence_date",
                    committed_at.date_naive(),
                )?;
                SubjectEvent::OffenceProven {
                    offence_id,
                    disposal,
                    occurred_at,
                }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            SubjectEvent::SubjectRegistered { demographics, .. } => {
                self.demographics = Some(demographics);
            }
            SubjectEvent::DemographicsCorrected { corrected, .. } => {
                self.demographics = Some(corrected);
            }
            SubjectEvent::OffenderManagerAllocated { officer, .. } => {
                self.offender_manager = Some(officer);
            }
            SubjectEvent::SubjectErased { .. } => self.erased = true,
            SubjectEvent::RiskAssessed { .. } => {}
            SubjectEvent::OffenceRecorded {
                offence_id,
                occurred_at,
                ..
            } => {
                self.offences.insert(offence_id, (occurred_at, false));
            }
            SubjectEvent::OffenceProven { offence_id, .. } => {
                if let Some(offence) = self.offences.get_mut(&offence_id) {
                    offence.1 = true;
                }
            }
        }
    }
}

fn validate_demographics(d: &Demographics, now: DateTime<Utc>) -> Result<(), DomainError> {
    let latest = now.year() - AGE_OF_CRIMINAL_RESPONSIBILITY;
    if !(EARLIEST_BIRTH_YEAR..=latest).contains(&d.birth_year) {
        return Err(DomainError::InvalidValue {
            field: "birth_year",
            rule: format!("must be between {EARLIEST_BIRTH_YEAR} and {latest}"),
        });
    }
    not_blank("area", &d.area)
}
