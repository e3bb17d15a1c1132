//! The identity vault, erasure and subject access, as the API offers them.

use async_graphql::{Context, InputObject, Result, SimpleObject, ID};
use chrono::NaiveDate;
use desist_store::sealing::Identity as VaultIdentity;
use serde_json::{json, Value};

use super::errors::UserError;
use super::errors::{error, NOT_FOUND};
use super::ids::{decode, Kind};
use super::objects::{
    app, caller, forbidden, internal_error, load_subject, opened_history, reaches, reveal, Subject,
    ERASED, WITHHELD,
};
use crate::auth::policy::{self, Record};

/// Who the subject is. Held only in the identity vault, encrypted with the subject's key.
#[derive(SimpleObject, Clone, Default)]
pub struct Identity {
    pub names: Vec<String>,
    pub date_of_birth: Option<NaiveDate>,
    pub addresses: Vec<String>,
    pub police_identifiers: Vec<String>,
    /// The subject was erased: nothing is left to show.
    pub erased: bool,
}

/// A vault write, not an event: writing the same identity again changes nothing.
#[derive(InputObject)]
pub struct RecordIdentityInput {
    pub subject_id: ID,
    pub names: Vec<String>,
    pub date_of_birth: Option<NaiveDate>,
    #[graphql(default)]
    pub addresses: Vec<String>,
    #[graphql(default)]
    pub police_identifiers: Vec<String>,
}

fn vault<'a>(ctx: &Context<'a>) -> Result<&'a std::sync::Arc<desist_store::sealing::KeyVault>> {
    app(ctx)
        .store
        .vault()
        .ok_or_else(|| internal_error(ctx, "no master key is configured"))
}

pub async fn identity_of(ctx: &Context<'_>, subject_id: &str) -> Result<Option<Identity>> {
    if !reaches(ctx, Record::Subject(subject_id)).await? {
        return Ok(None);
    }
    caller(ctx).audit("identity", Some(subject_id));
    let found = vault(ctx)?
        .identity(subject_id)
        .await
        .map_err(|e| internal_error(ctx, e))?;
    let list = |v: &Value, key: &str| -> Vec<String> {
        v.get(key)
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    Ok(found.map(|identity| match identity {
        VaultIdentity::Erased => Identity {
            erased: true,
            ..Identity::default()
        },
        VaultIdentity::Known(v) => Identity {
            names: list(&v, "names"),
            date_of_birth: v
                .get("date_of_birth")
                .and_then(Value::as_str)
                .and_then(|d| d.parse().ok()),
            addresses: list(&v, "addresses"),
            police_identifiers: list(&v, "police_identifiers"),
            erased: false,
        },
    }))
}

#[derive(SimpleObject)]
pub struct RecordIdentityPayload {
    pub subject: Option<Subject>,
    pub user_errors: Vec<UserError>,
}

#[derive(InputObject)]
pub struct EraseSubjectInput {
    pub command_id: Option<String>,
    pub subject_id: ID,
    /// Why (a reference to the request or the legal basis). Kept after the erasure: it must
    /// not describe the person.
    pub reason: String,
}

#[derive(SimpleObject)]
pub struct EraseSubjectPayload {
    /// The subject, now with `[erased]` text and an erased identity.
    pub subject: Option<Subject>,
    pub user_errors: Vec<UserError>,
    pub command_id: Option<String>,
}

fn user_error(field: &str, message: &str, code: &str) -> UserError {
    UserError {
        field: field.into(),
        message: message.into(),
        code: code.into(),
    }
}

/// Stores the subject's identity (admin).
pub async fn record_identity(
    ctx: &Context<'_>,
    input: RecordIdentityInput,
) -> Result<RecordIdentityPayload> {
    if caller(ctx).actor.role != desist_domain::Role::Admin {
        return Err(forbidden());
    }
    let subject_id = decode(&input.subject_id, Kind::Subject, "subjectId")?;
    let refused = |e: UserError| RecordIdentityPayload {
        subject: None,
        user_errors: vec![e],
    };
    if input.names.iter().all(|n| n.trim().is_empty()) {
        return Ok(refused(user_error(
            "names",
            "names: give at least one name",
            "INVALID_VALUE",
        )));
    }
    let known = app(ctx)
        .write
        .subjects
        .load(&subject_id)
        .await
        .map_err(|e| internal_error(ctx, e))?;
    if known.demographics.is_none() {
        return Ok(refused(user_error(
            "subjectId",
            "no subject has been recorded under this id",
            "NOT_RECORDED",
        )));
    }
    if known.erased {
        return Ok(refused(user_error(
            "subjectId",
            "the subject was erased: nothing more can be recorded about them",
            "SUBJECT_ERASED",
        )));
    }
    let value = json!({
        "names": input.names,
        "date_of_birth": input.date_of_birth.map(|d| d.to_string()),
        "addresses": input.addresses,
        "police_identifiers": input.police_identifiers,
    });
    vault(ctx)?
        .put_identity(&subject_id, &value)
        .await
        .map_err(|e| internal_error(ctx, e))?;
    caller(ctx).audit("recordIdentity", Some(&subject_id));
    Ok(RecordIdentityPayload {
        subject: load_subject(ctx, &subject_id).await?,
        user_errors: Vec::new(),
    })
}

/// Destroys the subject's key: all their text becomes `[erased]`; counts and statistics stay.
/// The erasure is an event (with the admin's reason) and an audit record.
pub async fn erase_subject(
    ctx: &Context<'_>,
    input: EraseSubjectInput,
) -> Result<EraseSubjectPayload> {
    if caller(ctx).actor.role != desist_domain::Role::Admin {
        return Err(forbidden());
    }
    let id = decode(&input.subject_id, Kind::Subject, "subjectId")?;
    let metadata = app(ctx).metadata(caller(ctx), input.command_id);
    let command = desist_domain::subject::SubjectCommand::EraseSubject {
        reason: input.reason,
        occurred_at: app(ctx).services.now(),
    };
    let command_id = match app(ctx)
        .write
        .subjects
        .execute(&id, command, &metadata)
        .await
    {
        Ok(outcome) => Some(outcome.command_id),
        // Erasing twice finishes what a first, interrupted erasure began.
        Err(desist_store::CommandError::Rejected(desist_domain::DomainError::SubjectErased)) => {
            None
        }
        Err(e) => {
            let mut user_errors = super::errors::classify(e, &caller(ctx).correlation_id)?;
            for error in user_errors.iter_mut().filter(|e| e.field == "id") {
                error.field = "subjectId".into();
            }
            return Ok(EraseSubjectPayload {
                subject: None,
                user_errors,
                command_id: None,
            });
        }
    };
    vault(ctx)?
        .erase(&id)
        .await
        .map_err(|e| internal_error(ctx, e))?;
    caller(ctx).audit("eraseSubject", Some(&id));
    Ok(EraseSubjectPayload {
        subject: load_subject(ctx, &id).await?,
        user_errors: Vec::new(),
        command_id,
    })
}

/// Everything held about one subject (a subject access request), as JSON. Victims' and third
/// parties' details (order conditions and breach descriptions) are withheld.
pub async fn export_subject(ctx: &Context<'_>, subject_id: &ID) -> Result<Value> {
    if !policy::may_read_audit(caller(ctx).actor.role) {
        return Err(forbidden());
    }
    let id = decode(subject_id, Kind::Subject, "subjectId")?;
    let subject = app(ctx)
        .write
        .subjects
        .load(&id)
        .await
        .map_err(|e| internal_error(ctx, e))?;
    if subject.demographics.is_none() {
        return Err(error(NOT_FOUND, "no such subject"));
    }
    caller(ctx).audit("exportSubject", Some(&id));
    let pool = app(ctx).store.db();
    let enrolment_ids: Vec<String> = desist_store::db::query_scalar(
        "SELECT enrolment_id FROM progress WHERE subject_id = $1 ORDER BY 1",
    )
    .bind(&id)
    .fetch_all(pool)
    .await
    .map_err(|e| internal_error(ctx, e))?;
    let order_ids: Vec<String> = desist_store::db::query_scalar(
        "SELECT order_id FROM compliance_orders WHERE subject_id = $1 ORDER BY 1",
    )
    .bind(&id)
    .fetch_all(pool)
    .await
    .map_err(|e| internal_error(ctx, e))?;
    let events =
        |entries: Vec<desist_store::feed::HistoryEntry>, third_parties: bool| -> Vec<Value> {
            entries
                .into_iter()
                .map(|e| {
                    let mut body = e
                        .payload
                        .as_object()
                        .and_then(|o| o.values().next())
                        .cloned()
                        .unwrap_or_default();
                    if third_parties {
                        withhold_third_parties(&mut body);
                    }
                    reveal(&mut body, true);
                    json!({
                        "sequence": e.sequence,
                        "event": e.event_type,
                        "recorded_at": e.recorded_at,
                        "recorded_by": e.metadata.get("actor_role"),
                        "data": body,
                    })
                })
                .collect()
        };
    let mut enrolments = Vec::new();
    for enrolment in &enrolment_ids {
        let history = opened_history(ctx, "Enrolment", enrolment).await?;
        enrolments.push(json!({"ref": enrolment, "events": events(history, false)}));
    }
    let mut orders = Vec::new();
    for order in &order_ids {
        let history = opened_history(ctx, "ProtectionOrder", order).await?;
        orders.push(json!({"ref": order, "events": events(history, true)}));
    }
    let identity = identity_of(ctx, &id).await?;
    let subject_events = events(opened_history(ctx, "Subject", &id).await?, false);
    Ok(json!({
        "subject": {
            "ref": id,
            "demographics": subject.demographics,
            "offender_manager": subject.offender_manager,
            "erased": subject.erased,
            "identity": identity.map(|i| json!({
                "names": if i.erased { vec![ERASED.to_string()] } else { i.names },
                "date_of_birth": i.date_of_birth,
                "addresses": i.addresses,
                "police_identifiers": i.police_identifiers,
            })),
            "events": subject_events,
        },
        "enrolments": enrolments,
        "protection_orders": orders,
        "withheld": "details of victims and third parties (order conditions, breach descriptions)",
    }))
}

/// Order texts name protected people (as tokens) and describe third parties: withheld.
fn withhold_third_parties(body: &mut Value) {
    for key in ["description"] {
        if let Some(v) = body.get_mut(key) {
            if !v.is_null() {
                *v = Value::String(WITHHELD.into());
            }
        }
    }
    if let Some(condition) = body.get_mut("condition") {
        withhold_third_parties(condition);
    }
}
