//! The global event feed, in an order that never skips an event committed late.
//!
//! `global_position` is assigned at insert, not at commit: a transaction that inserts position
//! 10 and commits after position 11 would be skipped by a reader that remembers "11". So the
//! reader only reads events whose writing transaction is below `pg_snapshot_xmin` (every such
//! transaction has ended, committed or not), ordered by `(tx, global_position)`. Everything below
//! the horizon is final, so a checkpoint in that order is a stable prefix of the feed.

use chrono::{DateTime, Utc};
use desist_domain::upcasting::upcast;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgExecutor;

use crate::StoreError;

/// A place in the feed. `FeedPosition::START` is before every event.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct FeedPosition {
    /// The writing transaction's id (xid8, which fits in 63 bits).
    pub tx: i64,
    pub global_position: i64,
}

impl FeedPosition {
    pub const START: FeedPosition = FeedPosition {
        tx: 0,
        global_position: 0,
    };
}

/// One event as a projection sees it: upcast to its current version.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEvent {
    pub position: FeedPosition,
    pub event_id: String,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: Value,
    pub metadata: Value,
    pub recorded_at: DateTime<Utc>,
}

type FeedRow = (
    i64,
    i64,
    String,
    String,
    String,
    i64,
    String,
    String,
    Value,
    Value,
    DateTime<Utc>,
);

/// Up to `limit` events after `after`, in feed order, from the finished part of the log only.
pub async fn read_after<'c>(
    executor: impl PgExecutor<'c>,
    after: FeedPosition,
    limit: i64,
) -> Result<Vec<FeedEvent>, StoreError> {
    let rows: Vec<FeedRow> = sqlx::query_as(
        "SELECT tx::text::bigint, global_position, event_id::text, aggregate_type, aggregate_id, \
                sequence, event_type, event_version, payload, metadata, recorded_at \
           FROM events \
          WHERE (tx, global_position) > ($1::text::xid8, $2) \
            AND tx < pg_snapshot_xmin(pg_current_snapshot()) \
          ORDER BY tx, global_position \
          LIMIT $3",
    )
    .bind(after.tx.to_string())
    .bind(after.global_position)
    .bind(limit)
    .fetch_all(executor)
    .await?;
    Ok(rows.into_iter().map(feed_event).collect())
}

fn feed_event(row: FeedRow) -> FeedEvent {
    let (
        tx,
        global_position,
        event_id,
        aggregate_type,
        aggregate_id,
        sequence,
        event_type,
        stored_version,
        payload,
        metadata,
        recorded_at,
    ) = row;
    let (event_version, payload) = upcast(&event_type, &stored_version, payload);
    FeedEvent {
        position: FeedPosition {
            tx,
            global_position,
        },
        event_id,
        aggregate_type,
        aggregate_id,
        sequence,
        event_type,
        event_version,
        payload,
        metadata,
        recorded_at,
    }
}

/// Whether any committed or in-flight event lies beyond `position` (in feed order), whether or
/// not the horizon lets it be read yet.
pub async fn has_events_after<'c>(
    executor: impl PgExecutor<'c>,
    position: FeedPosition,
) -> Result<bool, StoreError> {
    let more: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM events WHERE (tx, global_position) > ($1::text::xid8, $2))",
    )
    .bind(position.tx.to_string())
    .bind(position.global_position)
    .fetch_one(executor)
    .await?;
    Ok(more)
}

/// Where the event `sequence` of an aggregate sits in the feed.
pub async fn position_of<'c>(
    executor: impl PgExecutor<'c>,
    aggregate_type: &str,
    aggregate_id: &str,
    sequence: i64,
) -> Result<Option<FeedPosition>, StoreError> {
    let row: Option<(i64, i64)> = sqlx::query_as(
        "SELECT tx::text::bigint, global_position FROM events
          WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence = $3",
    )
    .bind(aggregate_type)
    .bind(aggregate_id)
    .bind(sequence)
    .fetch_optional(executor)
    .await?;
    Ok(row.map(|(tx, global_position)| FeedPosition {
        tx,
        global_position,
    }))
}

/// One recorded event of an aggregate, as its history shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: Value,
    pub metadata: Value,
    pub recorded_at: DateTime<Utc>,
}

/// Every event of one aggregate, in order, upcast to the current version.
pub async fn history<'c>(
    executor: impl PgExecutor<'c>,
    aggregate_type: &str,
    aggregate_id: &str,
) -> Result<Vec<HistoryEntry>, StoreError> {
    let rows: Vec<(i64, String, String, Value, Value, DateTime<Utc>)> = sqlx::query_as(
        "SELECT sequence, event_type, event_version, payload, metadata, recorded_at FROM events
          WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence",
    )
    .bind(aggregate_type)
    .bind(aggregate_id)
    .fetch_all(executor)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(sequence, event_type, version, payload, metadata, recorded_at)| {
                let (event_version, payload) = upcast(&event_type, &version, payload);
                HistoryEntry {
                    sequence,
                    event_type,
                    event_version,
                    payload,
                    metadata,
                    recorded_at,
                }
            },
        )
        .collect())
}
