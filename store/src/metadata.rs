//! What every event records about the command that produced it.

use std::collections::HashMap;

use desist_domain::Actor;

use crate::CommandError;

/// Command ids are client-chosen; this bounds what we index.
const MAX_ID_LEN: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandMetadata {
    /// Client-supplied; a repeated id records nothing new and returns the first outcome.
    pub command_id: String,
    /// Ties together the commands of one piece of work (an import, a request).
    pub correlation_id: String,
    pub actor: Actor,
}

impl CommandMetadata {
    pub fn new(
        command_id: impl Into<String>,
        correlation_id: impl Into<String>,
        actor: Actor,
    ) -> Self {
        Self {
            command_id: command_id.into(),
            correlation_id: correlation_id.into(),
            actor,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), CommandError> {
        for (field, value) in [
            ("command_id", &self.command_id),
            ("correlation_id", &self.correlation_id),
            ("actor_id", &self.actor.id),
            ("agency", &self.actor.agency),
        ] {
            if value.trim().is_empty() {
                return Err(CommandError::InvalidMetadata {
                    field,
                    rule: "must not be blank".into(),
                });
            }
            if value.len() > MAX_ID_LEN {
                return Err(CommandError::InvalidMetadata {
                    field,
                    rule: format!("must be at most {MAX_ID_LEN} bytes"),
                });
            }
        }
        Ok(())
    }

    /// The map cqrs-es stores with each event. `command` names the command so the command log
    /// can tell a reused id from a retry.
    /// The metadata stored with each event. `attempt` is fresh for every try of a command:
    /// the SQLite command log tells one writer's events from another's by it.
    pub(crate) fn to_event_metadata(&self, command: &str) -> HashMap<String, String> {
        let attempt = format!("{:032x}", rand::random::<u128>());
        HashMap::from([
            ("command_id".into(), self.command_id.clone()),
            ("attempt".into(), attempt),
            ("command".into(), command.to_string()),
            ("correlation_id".into(), self.correlation_id.clone()),
            ("actor_id".into(), self.actor.id.clone()),
            ("actor_role".into(), self.actor.role.as_str().to_string()),
            ("agency".into(), self.actor.agency.clone()),
        ])
    }
}
