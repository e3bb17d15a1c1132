//! The read audit: one append-only record per request that read subjects' records, an export
//! or outcome statistics. Written before the response leaves; if it cannot be written, the
//! response is withheld.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use desist_store::db::{self, Backend, Db};

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

/// The audit record's own row; its values are bound by [`bind_record`] as `$1`…`$8`.
const RECORD: &str = "INSERT INTO audit_log (at, actor_id, role, agency, operation, purpose,
                                           break_glass_reason, correlation_id)
                      VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/// Writes one audit record for `note`, with a row per subject read, atomically.
pub async fn write(pool: &Db, caller: &Caller, note: &AuditNote) -> Result<(), sqlx::Error> {
    let subjects = || db::Arg::ids(note.subject_ids.iter().map(String::as_str));
    // On PostgreSQL one statement writes both (it commits on its own): every read of a
    // person's record is audited, and a transaction around two INSERTs was four round trips.
    // The subjects go as one array, so the statement is the same for every request and stays
    // prepared; the record is written even when the array is empty (a data-modifying WITH
    // runs once whether or not its rows are used).
    if pool.backend() == Backend::Postgres {
        let sql = format!(
            "WITH record AS ({RECORD} RETURNING id)
             INSERT INTO audit_subjects (audit_id, subject_id)
             SELECT record.id, s.subject_id FROM record, UNNEST($9::text[]) AS s (subject_id)"
        );
        bind_record(db::query(sql), caller, note)
            .bind(subjects())
            .execute(pool.writer())
            .await?;
        return Ok(());
    }
    let mut tx = pool.writer().begin().await?;
    let (id,): (i64,) = bind_record(db::query_as(format!("{RECORD} RETURNING id")), caller, note)
        .fetch_one(&mut tx)
        .await?;
    // SQLite: one statement for a request's subjects (a caseload shows forty), not one each,
    // the list bound as one JSON array.
    db::query(
        "INSERT INTO audit_subjects (audit_id, subject_id) SELECT $1, value FROM json_each($2)",
    )
    .bind(id)
    .bind(subjects())
    .execute(&mut tx)
    .await?;
    tx.commit().await
}

/// Binds the record's own values, `$1`…`$8` of [`RECORD`].
fn bind_record<T>(query: db::Query<T>, caller: &Caller, note: &AuditNote) -> db::Query<T> {
    let operations: Vec<&str> = note.operations.iter().copied().collect();
    query
        .bind(Utc::now())
        .bind(&caller.actor.id)
        .bind(caller.actor.role.as_str())
        .bind(&caller.actor.agency)
        .bind(operations.join(","))
        .bind(&caller.purpose)
        .bind(&caller.break_glass)
        .bind(&caller.correlation_id)
}

/// One audit record, as `desist audit` and the admin's `auditLog` show it.
#[derive(Debug, Clone, PartialEq)]
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
pub async fn read(pool: &Db, filter: &AuditFilter) -> Result<Vec<AuditRecord>, sqlx::Error> {
    type Row = (
        i64,
        DateTime<Utc>,
        String,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        String,
    );
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
    let rows: Vec<Row> = db::query_as(format!(
        "SELECT a.id, a.at, a.actor_id, a.role, a.agency, a.operation, a.purpose,
                a.break_glass_reason, a.correlation_id
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
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let mut subjects: std::collections::HashMap<i64, Vec<String>> = Default::default();
    for chunk in db::id_lists(pool.backend(), &ids) {
        let pairs: Vec<(i64, String)> = db::query_as(format!(
            "SELECT audit_id, subject_id FROM audit_subjects WHERE audit_id IN ({})
              ORDER BY audit_id, subject_id",
            db::placeholders(1, chunk.len())
        ))
        .bind_all(chunk.iter().copied())
        .fetch_all(pool.reader())
        .await?;
        for (id, subject) in pairs {
            subjects.entry(id).or_default().push(subject);
        }
    }
    Ok(rows
        .into_iter()
        .map(
            |(
                id,
                at,
                actor_id,
                role,
                agency,
                operation,
                purpose,
                break_glass_reason,
                correlation_id,
            )| {
                AuditRecord {
                    subject_ids: subjects.remove(&id).unwrap_or_default(),
                    id,
                    at,
                    actor_id,
                    role,
                    agency,
                    operation,
                    purpose,
                    break_glass_reason,
                    correlation_id,
                }
            },
        )
        .collect())
}
