//! The read audit's records as they are read back: by `desist audit` and the admin's
//! `auditLog` (newest first, filtered), and by a backup (every record, oldest first). The API
//! writes them (`desist_api::audit::write`), one for every request that read people's records.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::db::{self, Db, Tx};

/// One audit record, with the people it names.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct AuditRecord {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_id: String,
    pub role: String,
    pub agency: String,
    pub operation: String,
    /// From `audit_subjects`, filled in after the records are read.
    #[sqlx(skip)]
    pub subject_ids: Vec<String>,
    pub purpose: Option<String>,
    pub break_glass_reason: Option<String>,
    pub correlation_id: String,
}

/// The columns of `audit_log` (as `a`) that make an [`AuditRecord`], found by name. Named
/// with `AS`: without it SQLite leaves a result column's name unspecified.
const COLUMNS: &str = "a.id AS id, a.at AS at, a.actor_id AS actor_id, a.role AS role,
                       a.agency AS agency, a.operation AS operation, a.purpose AS purpose,
                       a.break_glass_reason AS break_glass_reason,
                       a.correlation_id AS correlation_id";

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

/// The records `filter` picks, newest first.
pub async fn read(pool: &Db, filter: &AuditFilter) -> Result<Vec<AuditRecord>, sqlx::Error> {
    // One person's reads are found from their own rows of `audit_subjects`, newest first along
    // its key (subject_id, audit_id). Asking every record whether it names them (`EXISTS`)
    // looked at the whole audit however few records did, and the audit grows with every read
    // (docs/benchmarks.md).
    let (records, id) = match filter.subject_id {
        Some(_) => (
            "audit_subjects s JOIN audit_log a ON a.id = s.audit_id WHERE s.subject_id = $1",
            "s.audit_id",
        ),
        // `$1` (no person) is still named, so the values bound keep their numbers.
        None => ("audit_log a WHERE $1 IS NULL", "a.id"),
    };
    let mut records: Vec<AuditRecord> = db::query_as(format!(
        "SELECT {COLUMNS}
           FROM {records}
            AND ($2 IS NULL OR a.actor_id = $2)
            AND ($3 IS NULL OR a.at >= $3)
            AND ($4 IS NULL OR {id} < $4)
          ORDER BY {id} DESC LIMIT $5"
    ))
    .bind(&filter.subject_id)
    .bind(&filter.actor_id)
    .bind(filter.since)
    .bind(filter.before_id)
    .bind(filter.limit)
    .fetch_all(pool.reader())
    .await?;
    let ids: Vec<i64> = records.iter().map(|r| r.id).collect();
    let mut pairs = Vec::new();
    for chunk in db::id_lists(pool.backend(), &ids) {
        pairs.extend(
            db::query_as::<(i64, String)>(format!(
                "SELECT audit_id, subject_id FROM audit_subjects WHERE audit_id IN ({})
                  ORDER BY audit_id, subject_id",
                db::placeholders(1, chunk.len())
            ))
            .bind_all(chunk.iter().copied())
            .fetch_all(pool.reader())
            .await?,
        );
    }
    name_subjects(&mut records, pairs);
    Ok(records)
}

/// Up to `limit` records after the one numbered `after_id`, oldest first: a backup's page.
pub async fn page_after(
    tx: &mut Tx,
    after_id: i64,
    limit: i64,
) -> Result<Vec<AuditRecord>, sqlx::Error> {
    let mut records: Vec<AuditRecord> = db::query_as(format!(
        "SELECT {COLUMNS} FROM audit_log a WHERE a.id > $1 ORDER BY a.id LIMIT $2"
    ))
    .bind(after_id)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    let Some(last_id) = records.last().map(|r| r.id) else {
        return Ok(records);
    };
    // The page's people in one range of the key, not a list of ids.
    let pairs = db::query_as(
        "SELECT audit_id, subject_id FROM audit_subjects
          WHERE audit_id > $1 AND audit_id <= $2 ORDER BY audit_id, subject_id",
    )
    .bind(after_id)
    .bind(last_id)
    .fetch_all(&mut *tx)
    .await?;
    name_subjects(&mut records, pairs);
    Ok(records)
}

/// Gives each record its people, from `(audit_id, subject_id)` pairs in subject order.
fn name_subjects(records: &mut [AuditRecord], pairs: Vec<(i64, String)>) {
    let mut named: HashMap<i64, Vec<String>> = HashMap::new();
    for (id, subject) in pairs {
        named.entry(id).or_default().push(subject);
    }
    for record in records {
        record.subject_ids = named.remove(&record.id).unwrap_or_default();
    }
}
