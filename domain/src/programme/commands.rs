use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ProgrammeTerms, SkillsModule};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ProgrammeCommand {
    /// Define a programme version. A version, once defined, never changes: define a new one.
    DefineProgramme {
        terms: ProgrammeTerms,
        modules: Vec<SkillsModule>,
        occurred_at: DateTime<Utc>,
    },
}
