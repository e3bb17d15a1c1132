//! What the database itself allows, measured beside Desist's own figures (`desist bench`):
//! the fastest a client can append an event-sized row, and the fastest it can read the log.
//! Backend-specific like the rest of the store, so it lives here.

use std::time::{Duration, Instant};

use futures::TryStreamExt;
use serde_json::json;

use crate::{Db, StoreError};

/// A scratch table shaped like `events`, so that the append limit writes the same kind of row
/// without touching the event log.
pub async fn create_append_table(db: &Db) -> Result<(), StoreError> {
    let sql = match db {
        Db::Postgres(_) => {
            "CREATE TABLE IF NOT EXISTS bench_append (
                aggregate_type text NOT NULL, aggregate_id text NOT NULL, sequence bigint NOT NULL,
                event_type text NOT NULL, event_version text NOT NULL,
                payload jsonb NOT NULL, metadata jsonb NOT NULL,
                global_position bigint GENERATED ALWAYS AS IDENTITY,
                recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                PRIMARY KEY (aggregate_type, aggregate_id, sequence))"
        }
        Db::Sqlite { .. } => {
            "CREATE TABLE IF NOT EXISTS bench_append (
                aggregate_type text NOT NULL, aggregate_id text NOT NULL, sequence integer NOT NULL,
                event_type text NOT NULL, event_version text NOT NULL,
                payload text NOT NULL, metadata text NOT NULL,
                recorded_at text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
                PRIMARY KEY (aggregate_type, aggregate_id, sequence))"
        }
    };
    crate::db::query(sql).execute(db.writer()).await?;
    Ok(())
}

/// One client's appends for `duration`: single-row INSERTs of an attendance-sized event, one
/// per transaction (as a command commits). Returns how many it made.
pub async fn append_for(db: &Db, client: usize, duration: Duration) -> Result<u64, StoreError> {
    let payload = json!({"AttendanceRecorded": {"session_id": "s-000001", "attendance": "attended",
        "occurred_at": "2026-01-05T10:00:00Z"}});
    let metadata = json!({"command_id": "00000000-0000-0000-0000-000000000000",
        "command": "RecordAttendance", "correlation_id": "00000000-0000-0000-0000-000000000000",
        "actor_id": "bench-01", "actor_role": "therapist", "agency": "bench",
        "attempt": "00000000000000000000000000000000"});
    let aggregate_id = format!("bench-{client}-{}", rand::random::<u32>());
    let deadline = Instant::now() + duration;
    let mut sequence = 0i64;
    while Instant::now() < deadline {
        sequence += 1;
        crate::db::query(
            "INSERT INTO bench_append (aggregate_type, aggregate_id, sequence, event_type,
                event_version, payload, metadata) VALUES ('Enrolment', $1, $2,
                'AttendanceRecorded', '1.0.0', $3, $4)",
        )
        .bind(&aggregate_id)
        .bind(sequence)
        .bind(&payload)
        .bind(&metadata)
        .execute(db.writer())
        .await?;
    }
    Ok(sequence as u64)
}

/// Reads every event once with one plain SELECT, streamed to the client; returns the rows read
/// and how long it took.
pub async fn read_all_events(db: &Db) -> Result<(u64, Duration), StoreError> {
    let started = Instant::now();
    let mut rows = 0u64;
    match db {
        Db::Postgres(pool) => {
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
