//! What the database itself allows, measured beside Desist's own figures (`desist bench`):
//! the fastest a client can append an event-sized row, and the fastest it can read the log.
//! Backend-specific like the rest of the store, so it lives here.

use std::time::{Duration, Instant};

use futures::TryStreamExt;
use serde_json::json;

use crate::{Db, StoreError};

/// The columns of SQLite's `events` that a writer fills or the table defaults, for the
/// scratch tables below.
const SQLITE_EVENT_COLUMNS: &str = "aggregate_type text NOT NULL, aggregate_id text NOT NULL,
    sequence integer NOT NULL, event_type text NOT NULL, event_version text NOT NULL,
    payload text NOT NULL, metadata text NOT NULL,
    recorded_at text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))";

/// A scratch table shaped like `events`, so that the append limit writes the same kind of row
/// into the same kind of table without touching the event log: on PostgreSQL a copy of
/// `events` with its indexes and defaults (not its triggers, which are Desist's own work).
pub async fn create_append_table(db: &Db) -> Result<(), StoreError> {
    let sql = match db {
        Db::Postgres { .. } => {
            "CREATE TABLE IF NOT EXISTS bench_append (LIKE events INCLUDING ALL)".to_string()
        }
        Db::Sqlite { .. } => format!(
            "CREATE TABLE IF NOT EXISTS bench_append ({SQLITE_EVENT_COLUMNS},
                PRIMARY KEY (aggregate_type, aggregate_id, sequence))"
        ),
    };
    crate::db::query(sql).execute(db.writer()).await?;
    Ok(())
}

/// The payload and metadata of the attendance-sized event the limits write, under `command_id`.
pub fn attendance_event(command_id: &str) -> (serde_json::Value, serde_json::Value) {
    let payload = json!({"AttendanceRecorded": {"session_id": "s-000001", "attendance": "attended",
        "occurred_at": "2026-01-05T10:00:00Z"}});
    let metadata = json!({"command_id": command_id, "command": "RecordAttendance",
        "correlation_id": command_id, "actor_id": "bench-01", "actor_role": "therapist",
        "agency": "bench", "attempt": "00000000000000000000000000000000"});
    (payload, metadata)
}

/// The append limit's statement: one event-sized row (aggregate id, sequence, payload,
/// metadata).
pub const APPEND: &str = "INSERT INTO bench_append (aggregate_type, aggregate_id, sequence,
    event_type, event_version, payload, metadata) VALUES ('Enrolment', $1, $2,
    'AttendanceRecorded', '1.0.0', $3, $4)";

/// The command floor's load: one enrolment's events, as a command loads its aggregate.
pub const FLOOR_LOAD: &str = "SELECT event_type, event_version, payload, metadata, sequence
    FROM events WHERE aggregate_type = 'Enrolment' AND aggregate_id = $1 ORDER BY sequence";

/// The command floor's append: [`APPEND`]'s row with its command id.
pub const FLOOR_APPEND: &str = "INSERT INTO bench_command_floor (aggregate_type, aggregate_id,
    sequence, event_type, event_version, payload, metadata, command_id) VALUES ('Enrolment',
    $1, $2, 'AttendanceRecorded', '1.0.0', $3, $4, $5)";

/// One client's appends for `duration`: single-row INSERTs of an attendance-sized event, one
/// per transaction (as a command commits). Returns how many it made.
pub async fn append_for(db: &Db, client: usize, duration: Duration) -> Result<u64, StoreError> {
    let (payload, metadata) = attendance_event("00000000-0000-0000-0000-000000000000");
    let aggregate_id = format!("bench-{client}-{}", rand::random::<u32>());
    let deadline = Instant::now() + duration;
    let mut sequence = 0i64;
    while Instant::now() < deadline {
        sequence += 1;
        crate::db::query(APPEND)
            .bind(&aggregate_id)
            .bind(sequence)
            .bind(&payload)
            .bind(&metadata)
            .execute(db.writer())
            .await?;
    }
    Ok(sequence as u64)
}

/// A scratch table for the command floor: the append limit's table with the command id in a
/// unique column of its own. That is the cheapest way to record a command id with its event;
/// Desist's own log is a second table filled by a trigger, so the floor errs on the fast side.
pub async fn create_command_floor_table(db: &Db) -> Result<(), StoreError> {
    let sql = match db {
        Db::Postgres { .. } => "CREATE TABLE IF NOT EXISTS bench_command_floor
            (LIKE events INCLUDING ALL, command_id text NOT NULL UNIQUE)"
            .to_string(),
        Db::Sqlite { .. } => format!(
            "CREATE TABLE IF NOT EXISTS bench_command_floor ({SQLITE_EVENT_COLUMNS},
                command_id text NOT NULL UNIQUE,
                PRIMARY KEY (aggregate_type, aggregate_id, sequence))"
        ),
    };
    crate::db::query(sql).execute(db.writer()).await?;
    Ok(())
}

/// Enrolments with events, for the command floor to load (at most `limit`).
pub async fn enrolment_ids(db: &Db, limit: i64) -> Result<Vec<String>, StoreError> {
    Ok(crate::db::query_scalar(
        "SELECT DISTINCT aggregate_id FROM events WHERE aggregate_type = 'Enrolment' LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db.reader())
    .await?)
}

/// One client's command floor for `duration`: the least the store is asked for a command,
/// with nothing else around it (no HTTP, no authorisation, no domain rules, no views). Each
/// round reads one enrolment's events, as a command loads its aggregate, then appends one
/// attendance-sized event with a new command id, in one autocommitted INSERT (as the append
/// limit does). Returns the rounds made.
pub async fn command_floor_for(
    db: &Db,
    enrolments: &[String],
    client: usize,
    duration: Duration,
) -> Result<u64, StoreError> {
    if enrolments.is_empty() {
        return Err(StoreError::Config(
            "the command floor needs enrolments to load".into(),
        ));
    }
    let aggregate_id = format!("floor-{client}-{}", rand::random::<u32>());
    let deadline = Instant::now() + duration;
    let mut rounds = 0u64;
    while Instant::now() < deadline {
        let loaded = &enrolments[(rounds as usize * 8 + client) % enrolments.len()];
        let _events: Vec<(String, String, serde_json::Value, serde_json::Value, i64)> =
            crate::db::query_as(FLOOR_LOAD)
                .bind(loaded)
                .fetch_all(db.writer())
                .await?;
        rounds += 1;
        let command_id = format!("{:032x}", rand::random::<u128>());
        let (payload, metadata) = attendance_event(&command_id);
        crate::db::query(FLOOR_APPEND)
            .bind(&aggregate_id)
            .bind(rounds as i64)
            .bind(&payload)
            .bind(&metadata)
            .bind(&command_id)
            .execute(db.writer())
            .await?;
    }
    Ok(rounds)
}

/// Reads every event once with one plain SELECT, streamed to the client; returns the rows read
/// and how long it took.
pub async fn read_all_events(db: &Db) -> Result<(u64, Duration), StoreError> {
    let started = Instant::now();
    let mut rows = 0u64;
    match db {
        Db::Postgres { pool, .. } => {
            let mut stream = sqlx::query_as::<_, (String, String, i64, String, serde_json::Value)>(
                "SELECT aggregate_type, aggregate_id, sequence, event_type, payload FROM events",
            )
            .fetch(pool);
            while stream.try_next().await?.is_some() {
                rows += 1;
            }
        }
        Db::Sqlite { reader, .. } => {
            let mut stream = sqlx::query_as::<_, (String, String, i64, String, serde_json::Value)>(
                "SELECT aggregate_type, aggregate_id, sequence, event_type, payload FROM events",
            )
            .fetch(reader);
            while stream.try_next().await?.is_some() {
                rows += 1;
            }
        }
    }
    Ok((rows, started.elapsed()))
}
