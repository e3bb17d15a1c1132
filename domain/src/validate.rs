//! Checks shared by every aggregate. Each rule is written once, here.

use chrono::{DateTime, NaiveDate, Utc};

use crate::{DomainError, Sealed};

/// No fact may be dated after "now".
pub(crate) fn not_in_future(
    field: &'static str,
    value: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    if value > now {
        return Err(DomainError::InFuture { field, value });
    }
    Ok(())
}

pub(crate) fn not_blank(field: &'static str, value: &str) -> Result<(), DomainError> {
    if value.trim().is_empty() {
        return Err(blank(field));
    }
    Ok(())
}

pub(crate) fn sealed_not_blank(field: &'static str, value: &Sealed) -> Result<(), DomainError> {
    if value.is_blank() {
        return Err(blank(field));
    }
    Ok(())
}

fn blank(field: &'static str) -> DomainError {
    DomainError::InvalidValue {
        field,
        rule: "must not be blank".into(),
    }
}

/// `value` must not come before `earlier`.
pub(crate) fn not_before(
    field: &'static str,
    value: NaiveDate,
    earlier_field: &'static str,
    earlier: NaiveDate,
) -> Result<(), DomainError> {
    if value < earlier {
        return Err(DomainError::OutOfOrder {
            field,
            value,
            earlier_field,
            earlier,
        });
    }
    Ok(())
}
