//! Who records a fact: every event carries its actor's id, role and agency.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Behaviour change practitioner: records the course.
    Therapist,
    /// Offender manager: checks compliance, records enforcement.
    ProbationOfficer,
    /// Records orders, service, notifications and breaches.
    PoliceSpoOfficer,
    /// Sees only disclosure-controlled aggregates.
    Evaluator,
    /// Registers subjects, allocates staff, manages programmes.
    Admin,
    /// Desist itself: imports and migrations.
    System,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Therapist,
        Role::ProbationOfficer,
        Role::PoliceSpoOfficer,
        Role::Evaluator,
        Role::Admin,
        Role::System,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Therapist => "therapist",
            Self::ProbationOfficer => "probation_officer",
            Self::PoliceSpoOfficer => "police_spo_officer",
            Self::Evaluator => "evaluator",
            Self::Admin => "admin",
            Self::System => "system",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: expected one of therapist, probation_officer, police_spo_officer, evaluator, admin, system")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_string()))
    }
}

/// The person (or process) recording a fact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub id: String,
    pub role: Role,
    pub agency: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_round_trips_through_its_name() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("constable".parse::<Role>().is_err());
    }
}
