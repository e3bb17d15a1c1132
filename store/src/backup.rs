//! Logical backup and restore of everything that is not derived: the events, the read audit,
//! the wrapped subject keys, the identity vault and the erasure tombstones. Views are rebuilt
//! from the events after a restore.
//!
//! A restore writes every event in one transaction, in the backup's feed order. They all take
//! that transaction's id and fresh global positions in the same order, so the restored store's
//! transaction ids are never ahead of its xid counter (the logical-restore trap the start-up
//! guard looks for). Feed positions change; pins taken before the restore do not carry over.

use std::io::{BufRead, Write};

use crate::audit;
use crate::db::{self, Db};
use crate::feed::{stored_after, Reach};
use crate::FeedPosition;
use crate::{Backend, StoreError};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Events, and audit records, are read in pages of this many, inside the backup's one snapshot.
const PAGE: i64 = 5_000;

pub const FORMAT: &str = "desist-backup/1";

/// One line of a backup file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Line {
    Header {
        format: String,
        created_at: DateTime<Utc>,
    },
    Event {
        aggregate_type: String,
        aggregate_id: String,
        sequence: i64,
        event_type: String,
        event_version: String,
        payload: Value,
        metadata: Value,
        recorded_at: DateTime<Utc>,
        event_id: String,
    },
    Audit {
        at: DateTime<Utc>,
        actor_id: String,
        role: String,
        agency: String,
        operation: String,
        subject_ids: Vec<String>,
        purpose: Option<String>,
        break_glass_reason: Option<String>,
        correlation_id: String,
    },
    Key {
        subject_id: String,
        master_key_id: String,
        nonce: String,
        wrapped_key: String,
    },
    Identity {
        subject_id: String,
        nonce: String,
        ciphertext: String,
    },
    Erased {
        subject_id: String,
        erased_at: DateTime<Utc>,
    },
}

/// How much a backup or restore moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub events: u64,
    pub audit: u64,
    pub keys: u64,
    pub identities: u64,
    pub erased: u64,
}

fn write_line(out: &mut impl Write, line: &Line) -> Result<(), StoreError> {
    let text = serde_json::to_string(line).map_err(|e| StoreError::Backup(e.to_string()))?;
    writeln!(out, "{text}").map_err(|e| StoreError::Backup(e.to_string()))
}

/// Writes a backup of `pool` to `out`, one JSON object per line. `on_event` hears the count.
pub async fn backup(
    db: &Db,
    out: &mut impl Write,
    mut on_event: impl FnMut(u64),
) -> Result<Counts, StoreError> {
    let mut counts = Counts::default();
    // One snapshot for the whole backup: a consistent cut of every table.
    let mut tx = db.reader().begin_snapshot().await?;
    write_line(
        out,
        &Line::Header {
            format: FORMAT.into(),
            created_at: Utc::now(),
        },
    )?;
    let mut after = FeedPosition::START;
    loop {
        let page = stored_after(&mut tx, after, PAGE, Reach::Visible).await?;
        let Some(last) = page.last() else {
            break;
        };
        after = last.position;
        for event in page {
            write_line(
                out,
                &Line::Event {
                    aggregate_type: event.aggregate_type,
                    aggregate_id: event.aggregate_id,
                    sequence: event.sequence,
                    event_type: event.event_type,
                    event_version: event.event_version,
                    payload: event.payload,
                    metadata: event.metadata,
                    recorded_at: event.recorded_at,
                    event_id: event.event_id,
                },
            )?;
            counts.events += 1;
            if counts.events % 1000 == 0 {
                on_event(counts.events);
            }
        }
    }
    counts.audit = write_audit(&mut tx, out).await?;
    let keys: Vec<(String, String, Vec<u8>, Vec<u8>)> = db::query_as(
        "SELECT subject_id, master_key_id, nonce, wrapped_key FROM subject_keys ORDER BY subject_id",
    )
    .fetch_all(&mut tx)
    .await?;
    for (subject_id, master_key_id, nonce, wrapped) in keys {
        write_line(
            out,
            &Line::Key {
                subject_id,
                master_key_id,
                nonce: STANDARD.encode(nonce),
                wrapped_key: STANDARD.encode(wrapped),
            },
        )?;
        counts.keys += 1;
    }
    let identities: Vec<(String, Vec<u8>, Vec<u8>)> = db::query_as(
        "SELECT subject_id, nonce, ciphertext FROM identity_vault ORDER BY subject_id",
    )
    .fetch_all(&mut tx)
    .await?;
    for (subject_id, nonce, ciphertext) in identities {
        write_line(
            out,
            &Line::Identity {
                subject_id,
                nonce: STANDARD.encode(nonce),
                ciphertext: STANDARD.encode(ciphertext),
            },
        )?;
        counts.identities += 1;
    }
    let erased: Vec<(String, DateTime<Utc>)> =
        db::query_as("SELECT subject_id, erased_at FROM erased_subjects ORDER BY subject_id")
            .fetch_all(&mut tx)
            .await?;
    for (subject_id, erased_at) in erased {
        write_line(
            out,
            &Line::Erased {
                subject_id,
                erased_at,
            },
        )?;
        counts.erased += 1;
    }
    tx.commit().await?;
    out.flush().map_err(|e| StoreError::Backup(e.to_string()))?;
    Ok(counts)
}

fn bytes(text: &str) -> Result<Vec<u8>, StoreError> {
    STANDARD
        .decode(text)
        .map_err(|_| StoreError::Backup("a key or identity is not base64".into()))
}

/// Writes the read audit a page of records at a time, each page with its records' people:
/// every audited read adds a record, so the audit outgrows memory long before the people do.
/// Returns how many records it wrote.
async fn write_audit(tx: &mut db::Tx, out: &mut impl Write) -> Result<u64, StoreError> {
    let (mut written, mut after_id) = (0, 0_i64);
    loop {
        let records = audit::page_after(tx, after_id, PAGE).await?;
        let Some(last_id) = records.last().map(|r| r.id) else {
            break;
        };
        for record in records {
            write_line(
                out,
                &Line::Audit {
                    at: record.at,
                    actor_id: record.actor_id,
                    role: record.role,
                    agency: record.agency,
                    operation: record.operation,
                    subject_ids: record.subject_ids,
                    purpose: record.purpose,
                    break_glass_reason: record.break_glass_reason,
                    correlation_id: record.correlation_id,
                },
            )?;
            written += 1;
        }
        after_id = last_id;
    }
    Ok(written)
}

/// Rows of one table waiting to be restored, written a multi-row INSERT at a time: a national
/// backup is nearly two million rows, and a statement each (a round trip each) kept a
/// PostgreSQL restore at three minutes (docs/operations.md).
struct Pending {
    /// `INSERT INTO table (columns) VALUES `, the placeholders to follow.
    insert: String,
    /// Each column's cast (see [`db::cast_row_placeholders`]).
    casts: &'static [&'static str],
    rows_per_statement: usize,
    values: Vec<db::Arg>,
}

impl Pending {
    fn new(backend: Backend, insert: String, casts: &'static [&'static str]) -> Self {
        let rows_per_statement = (backend.values_per_statement() / casts.len()).clamp(1, 1_000);
        Self {
            insert,
            casts,
            rows_per_statement,
            values: Vec::with_capacity(rows_per_statement * casts.len()),
        }
    }

    fn rows(&self) -> usize {
        self.values.len() / self.casts.len()
    }

    fn push<const N: usize>(&mut self, row: [db::Arg; N]) {
        debug_assert_eq!(N, self.casts.len());
        self.values.extend(row);
    }

    fn is_full(&self) -> bool {
        self.rows() >= self.rows_per_statement
    }

    /// Writes the rows waiting, if any. A full statement's text recurs, so it stays prepared;
    /// the last, shorter one is run once.
    async fn flush(&mut self, tx: &mut db::Tx) -> Result<(), sqlx::Error> {
        let rows = self.rows();
        if rows == 0 {
            return Ok(());
        }
        let sql = format!(
            "{}{}",
            self.insert,
            db::cast_row_placeholders(rows, self.casts)
        );
        let values = std::mem::take(&mut self.values);
        let insert = db::query(sql).bind_all(values);
        let insert = if rows == self.rows_per_statement {
            insert
        } else {
            insert.one_off()
        };
        insert.execute(tx).await?;
        self.values
            .reserve(self.rows_per_statement * self.casts.len());
        Ok(())
    }
}

/// A time for a column whose default stamps it: on SQLite in the default's own text
/// (`strftime('%Y-%m-%dT%H:%M:%fZ')`, to the millisecond), which is how every other row of
/// the column holds it and how times there compare, as text; on PostgreSQL the time itself.
fn defaulted_time(backend: Backend, at: DateTime<Utc>) -> db::Arg {
    match backend {
        Backend::Postgres => at.into(),
        Backend::Sqlite => at.to_rfc3339_opts(SecondsFormat::Millis, true).into(),
    }
}

/// Restores a backup into an empty, migrated store, in one transaction: all or nothing.
pub async fn restore(
    db: &Db,
    input: impl BufRead,
    mut on_event: impl FnMut(u64),
) -> Result<Counts, StoreError> {
    let existing: i64 = db::query_scalar("SELECT count(*) FROM events")
        .fetch_one(db.writer())
        .await?;
    if existing > 0 {
        return Err(StoreError::Backup(
            "the target store already holds events: restore into an empty database".into(),
        ));
    }
    let mut counts = Counts::default();
    let mut tx = db.writer().begin().await?;
    let backend = db.backend();
    let mut events = Pending::new(
        backend,
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version,
                             payload, metadata, recorded_at, event_id) VALUES "
            .into(),
        match backend {
            Backend::Postgres => &["", "", "", "", "", "", "", "", "::uuid"],
            Backend::Sqlite => &["", "", "", "", "", "", "", "", ""],
        },
    );
    // Each record's id is given here, so that its subjects' rows can name it in statements
    // of their own; they follow the ids already taken, in the backup's order, as the
    // database would have numbered them.
    let mut audit_id: i64 = db::query_scalar("SELECT COALESCE(MAX(id), 0) FROM audit_log")
        .fetch_one(&mut tx)
        .await?;
    let overriding = match backend {
        Backend::Postgres => "OVERRIDING SYSTEM VALUE ",
        Backend::Sqlite => "",
    };
    let mut records = Pending::new(
        backend,
        format!(
            "INSERT INTO audit_log (id, at, actor_id, role, agency, operation, purpose,
                                    break_glass_reason, correlation_id) {overriding}VALUES "
        ),
        &["", "", "", "", "", "", "", "", ""],
    );
    let mut audited = Pending::new(
        backend,
        "INSERT INTO audit_subjects (audit_id, subject_id) VALUES ".into(),
        &["", ""],
    );
    let mut header_seen = false;
    for (number, line) in input.lines().enumerate() {
        let line = line.map_err(|e| StoreError::Backup(e.to_string()))?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Line = serde_json::from_str(&line)
            .map_err(|e| StoreError::Backup(format!("line {}: {e}", number + 1)))?;
        match parsed {
            Line::Header { format, .. } => {
                if format != FORMAT {
                    return Err(StoreError::Backup(format!(
                        "unknown backup format {format:?}"
                    )));
                }
                header_seen = true;
            }
            _ if !header_seen => {
                return Err(StoreError::Backup("not a Desist backup (no header)".into()))
            }
            Line::Event {
                aggregate_type,
                aggregate_id,
                sequence,
                event_type,
                event_version,
                payload,
                metadata,
                recorded_at,
                event_id,
            } => {
                events.push([
                    aggregate_type.into(),
                    aggregate_id.into(),
                    sequence.into(),
                    event_type.into(),
                    event_version.into(),
                    payload.into(),
                    metadata.into(),
                    defaulted_time(backend, recorded_at),
                    event_id.into(),
                ]);
                counts.events += 1;
                if events.is_full() {
                    events.flush(&mut tx).await?;
                    on_event(counts.events);
                }
            }
            Line::Audit {
                at,
                actor_id,
                role,
                agency,
                operation,
                subject_ids,
                purpose,
                break_glass_reason,
                correlation_id,
            } => {
                audit_id += 1;
                records.push([
                    audit_id.into(),
                    at.into(),
                    actor_id.into(),
                    role.into(),
                    agency.into(),
                    operation.into(),
                    purpose.into(),
                    break_glass_reason.into(),
                    correlation_id.into(),
                ]);
                if records.is_full() {
                    records.flush(&mut tx).await?;
                }
                for subject_id in subject_ids {
                    audited.push([audit_id.into(), subject_id.into()]);
                    if audited.is_full() {
                        // The records first: on SQLite a subject's row must find its record.
                        records.flush(&mut tx).await?;
                        audited.flush(&mut tx).await?;
                    }
                }
                counts.audit += 1;
            }
            Line::Key {
                subject_id,
                master_key_id,
                nonce,
                wrapped_key,
            } => {
                db::query(
                    "INSERT INTO subject_keys (subject_id, master_key_id, nonce, wrapped_key)
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(subject_id)
                .bind(master_key_id)
                .bind(bytes(&nonce)?)
                .bind(bytes(&wrapped_key)?)
                .execute(&mut tx)
                .await?;
                counts.keys += 1;
            }
            Line::Identity {
                subject_id,
                nonce,
                ciphertext,
            } => {
                db::query(
                    "INSERT INTO identity_vault (subject_id, nonce, ciphertext) VALUES ($1, $2, $3)",
                )
                .bind(subject_id)
                .bind(bytes(&nonce)?)
                .bind(bytes(&ciphertext)?)
                .execute(&mut tx)
                .await?;
                counts.identities += 1;
            }
            Line::Erased {
                subject_id,
                erased_at,
            } => {
                db::query("INSERT INTO erased_subjects (subject_id, erased_at) VALUES ($1, $2)")
                    .bind(subject_id)
                    .bind(defaulted_time(backend, erased_at))
                    .execute(&mut tx)
                    .await?;
                counts.erased += 1;
            }
        }
    }
    events.flush(&mut tx).await?;
    on_event(counts.events);
    records.flush(&mut tx).await?;
    audited.flush(&mut tx).await?;
    if backend == Backend::Postgres && counts.audit > 0 {
        // The identity's own counter goes on from the last id given here.
        db::query("SELECT setval(pg_get_serial_sequence('audit_log', 'id'), $1)")
            .bind(audit_id)
            .execute(&mut tx)
            .await?;
    }
    if !header_seen {
        return Err(StoreError::Backup("not a Desist backup (empty)".into()));
    }
    tx.commit().await?;
    db.events_committed();
    Ok(counts)
}
