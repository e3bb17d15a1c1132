use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use super::{ProgrammeCommand, ProgrammeEvent, ProgrammeTerms, SkillsModule};
use crate::validate::{not_blank, not_in_future};
use crate::{DomainError, DomainServices};

/// The largest course a programme may plan. Guards against typos (120 for 12), not practice.
const MAX_PLANNED_SESSIONS: u16 = 52;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Programme {
    pub terms: Option<ProgrammeTerms>,
    pub modules: Vec<SkillsModule>,
}

impl Aggregate for Programme {
    const TYPE: &'static str = "Programme";
    type Command = ProgrammeCommand;
    type Event = ProgrammeEvent;
    type Error = DomainError;
    type Services = DomainServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        match command {
            ProgrammeCommand::DefineProgramme {
                terms,
                modules,
                occurred_at,
            } => {
                not_in_future("occurred_at", occurred_at, services.now())?;
                if self.terms.is_some() {
                    return Err(DomainError::AlreadyRecorded {
                        what: "programme version",
                    });
                }
                validate_terms(&terms)?;
                sink.write(
                    ProgrammeEvent::ProgrammeDefined {
                        terms,
                        modules,
                        occurred_at,
                    },
                    self,
                )
                .await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            ProgrammeEvent::ProgrammeDefined { terms, modules, .. } => {
                self.terms = Some(terms);
                self.modules = modules;
            }
        }
    }
}

fn validate_terms(terms: &ProgrammeTerms) -> Result<(), DomainError> {
    not_blank("code", &terms.code)?;
    not_blank("version", &terms.version)?;
    if terms.code.contains('/') || terms.version.contains('/') {
        return Err(DomainError::InvalidValue {
            field: "code",
            rule: "code and version must not contain '/', which separates them in CODE/VERSION"
                .into(),
        });
    }
    if !(1..=MAX_PLANNED_SESSIONS).contains(&terms.planned_sessions) {
        return Err(DomainError::InvalidValue {
            field: "planned_sessions",
            rule: format!("must be between 1 and {MAX_PLANNED_SESSIONS}"),
        });
    }
    if !(1..=terms.planned_sessions).contains(&terms.min_attended_for_completion) {
        return Err(DomainError::InvalidValue {
            field: "min_attended_for_completion",
            rule: format!(
                "must be between 1 and the planned sessions ({})",
                terms.planned_sessions
            ),
        });
    }
    Ok(())
}
