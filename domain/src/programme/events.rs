use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

/// The DBT-informed skills modules a COBI course teaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkillsModule {
    Mindfulness,
    DistressTolerance,
    EmotionRegulation,
    InterpersonalEffectiveness,
    ChainAnalysis,
}

/// What an enrolment needs to know of its programme. Copied into the enrolment at referral so
/// that the course keeps the terms it started under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgrammeTerms {
    pub code: String,
    pub version: String,
    pub planned_sessions: u16,
    pub min_attended_for_completion: u16,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ProgrammeEvent {
    ProgrammeDefined {
        terms: ProgrammeTerms,
        modules: Vec<SkillsModule>,
        occurred_at: DateTime<Utc>,
    },
}

impl DomainEvent for ProgrammeEvent {
    fn event_type(&self) -> String {
        match self {
            Self::ProgrammeDefined { .. } => "ProgrammeDefined".into(),
        }
    }

    fn event_version(&self) -> String {
        "1.0.0".into()
    }
}
