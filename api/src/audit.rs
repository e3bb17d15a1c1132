//! The read audit: one append-only record per request that read subjects' records, an export
//! or outcome statistics. Written before the response leaves; if it cannot be written, the
//! response is withheld.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::graphql::context::Caller;

/// What a request read, noted by the resolvers as they run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AuditNote {
    pub operations: BTreeSet<&'static str>,
    pub subject_ids: BTreeSet<String>,
}

impl AuditNote {
    pub fn is_empty(&self) -> bool {
        self.operations.is_empty()
    }
}

/// Writes one audit record for `note`.
pub async fn write(pool: &PgPool, caller: &Caller, note: &AuditNote) -> Result<(), sqlx::Error> {
    let operations: Vec<&str> = note.operations.iter().copied().collect();
    let subjects: Vec<&String> = note.subject_ids.iter().collect();
    sqlx::query(
        "INSERT INTO audit_log (actor_id, role, agency, operation, subject_ids, purpose,
                                break_glass_reason, correlation_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&caller.actor.id)
    .bind(caller.actor.role.as_str())
    .bind(&caller.actor.agency)
    .bind(operations.join(","))
    .bind(&subjects)
    .bind(&caller.purpose)
    .bind(&caller.break_glass)
    .bind(&caller.correlation_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// One audit record, as `desist audit` and the admin's `auditLog` show it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct AuditRecord {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_id: String,
    pub role: String,
    pub agency: String,
    pub operation: String,
    pub subject_ids: Vec<String>,
    pub purpose: Option<String>,
    pub break_glass_reason: Option<String>,
    pub correlation_id: String,
}

/// Filters for reading the audit.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub subject_id: Option<String>,
    pub actor_id: Option<String>,
    pub since: Option<DateTime<Utc>>,
    /// Only records with an id below this (for paging backwards through time).
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// Newest first.
pub async fn read(pool: &PgPool, filter: &AuditFilter) -> Result<Vec<AuditRecord>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, at, actor_id, role, agency, operation, subject_ids, purpose,
                break_glass_reason, correlation_id
           FROM audit_log
          WHERE ($1::text IS NULL OR $1 = ANY(subject_ids))
            AND ($2::text IS NULL OR actor_id = $2)
            AND ($3::timestamptz IS NULL OR at >= $3)
            AND ($4::bigint IS NULL OR id < $4)
          ORDER BY id DESC LIMIT $5",
    )
    .bind(&filter.subject_id)
    .bind(&filter.actor_id)
    .bind(filter.since)
    .bind(filter.before_id)
    .bind(filter.limit)
    .fetch_all(pool)
    .await
}
