//! How failures reach clients: domain rejections as `userErrors` in the payload, everything else
//! as a GraphQL error with a stable `extensions.code`. Internal details never leave the server;
//! a correlation id does, and the same id is in the server log.

use async_graphql::{ErrorExtensions, SimpleObject};
use desist_store::CommandError;

/// A rule the input broke. Nothing was recorded.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct UserError {
    /// The input field, in the schema's camelCase.
    pub field: String,
    pub message: String,
    /// A stable code for the rule (for example SESSION_NUMBER_OUT_OF_RANGE).
    pub code: String,
}

pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
pub const FORBIDDEN: &str = "FORBIDDEN";
pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
pub const NOT_FOUND: &str = "NOT_FOUND";
pub const CONFLICT: &str = "CONFLICT";
pub const INTERNAL: &str = "INTERNAL";

/// A transport-level error with its code.
pub fn error(code: &'static str, message: impl Into<String>) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, e| e.set("code", code))
}

/// An internal failure: logged in full with the correlation id, returned with only the id.
pub fn internal(correlation_id: &str, detail: &dyn std::fmt::Display) -> async_graphql::Error {
    tracing::error!(correlation_id, error = %detail, "internal error");
    async_graphql::Error::new("internal error").extend_with(|_, e| {
        e.set("code", INTERNAL);
        e.set("correlationId", correlation_id);
    })
}

/// snake_case → camelCase (`session_id` → `sessionId`).
pub fn camel(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut upper = false;
    for c in field.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Splits a command failure into user errors (the client can fix them) and transport errors.
pub fn classify(
    error: CommandError,
    correlation_id: &str,
) -> Result<Vec<UserError>, async_graphql::Error> {
    match error {
        CommandError::Rejected(rule) => Ok(vec![UserError {
            field: camel(rule.field()),
            message: rule.to_string(),
            code: rule.code().to_string(),
        }]),
        CommandError::InvalidMetadata { field, rule } => Ok(vec![UserError {
            field: camel(field),
            message: format!("{field}: {rule}"),
            code: "INVALID_VALUE".into(),
        }]),
        e @ CommandError::CommandIdReused { .. } => Ok(vec![UserError {
            field: "commandId".into(),
            message: e.to_string(),
            code: "COMMAND_ID_REUSED".into(),
        }]),
        e @ CommandError::Conflict { .. } => Err(self::error(CONFLICT, e.to_string())),
        other => Err(internal(correlation_id, &other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_are_camel_cased() {
        assert_eq!(camel("session_id"), "sessionId");
        assert_eq!(
            camel("min_attended_for_completion"),
            "minAttendedForCompletion"
        );
        assert_eq!(camel("id"), "id");
    }
}
