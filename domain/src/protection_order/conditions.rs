//! A condition's history: each variation closes the version in force and may open a new one,
//! so "was this condition in force on that day?" can be answered for any day.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{ConditionCategory, ConditionKind, ConditionTerms};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConditionVersion {
    pub kind: ConditionKind,
    pub category: ConditionCategory,
    pub from: NaiveDate,
    /// Last day in force, inclusive.
    pub until: Option<NaiveDate>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConditionHistory {
    pub versions: Vec<ConditionVersion>,
}

impl ConditionHistory {
    pub fn imposed(terms: &ConditionTerms) -> Self {
        Self {
            versions: vec![version_of(terms)],
        }
    }

    pub fn in_force_on(&self, date: NaiveDate) -> bool {
        self.versions
            .iter()
            .any(|v| v.from <= date && v.until.is_none_or(|until| date <= until))
    }

    /// In force on `date` or at any later day.
    pub fn live_from(&self, date: NaiveDate) -> bool {
        self.versions
            .iter()
            .any(|v| v.until.is_none_or(|until| date <= until))
    }

    /// Ends every version on the day before `date`.
    pub fn end_before(&mut self, date: NaiveDate) {
        let last_day = date.pred_opt().unwrap_or(date);
        for v in &mut self.versions {
            if v.until.is_none_or(|until| until > last_day) {
                v.until = Some(last_day);
            }
        }
    }

    /// From `date` on, the condition reads as `terms`.
    pub fn change_from(&mut self, date: NaiveDate, terms: &ConditionTerms) {
        self.end_before(date);
        let mut next = version_of(terms);
        next.from = next.from.max(date);
        self.versions.push(next);
    }
}

fn version_of(terms: &ConditionTerms) -> ConditionVersion {
    ConditionVersion {
        kind: terms.kind,
        category: terms.category,
        from: terms.from,
        until: terms.until,
    }
}
