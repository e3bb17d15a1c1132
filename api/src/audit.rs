//! The read audit: one append-only record per request that read subjects' records, an export
//! or outcome statistics. Written before the response leaves; if it cannot be written, the
//! response is withheld.

use std::collections::BTreeSet;

use chrono::Utc;
use desist_store::db::{self, Backend, Db};
// Read back by `desist audit`, the admin's `auditLog` and tests, from here as before.
pub use desist_store::audit::{read, AuditFilter, AuditRecord};

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
