//! The global event feed, in an order that never skips an event committed late.
//!
//! `global_position` is assigned at insert, not at commit: a transaction that inserts position
//! 10 and commits after position 11 would be skipped by a reader that remembers "11". So the
//! reader only reads events whose writing transaction is below `pg_snapshot_xmin` (every such
//! transaction has ended, committed or not), ordered by `(tx, global_position)`. Everything below
//! the horizon is final, so a checkpoint in that order is a stable prefix of the feed.
//!
//! On SQLite one writer commits at a time, so the position a trigger hands out at insert is
//! already commit order (see migrations/sqlite/0001_event_store.sql).

use chrono::{DateTime, Utc};
use desist_domain::upcasting::upcast;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::db::{self, Arg, Pool, Target};
use crate::{Backend, StoreError};

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

/// One event as a projection sees it: upcast to its current version (or as stored, from
/// [`stored_after`]).
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

/// Up to `limit` events after `after`, in feed order, from the finished part of the log only,
/// upcast to their current versions.
pub async fn read_after(
    pool: Pool<'_>,
    after: FeedPosition,
    limit: i64,
) -> Result<Vec<FeedEvent>, StoreError> {
    upcast_all(stored(pool.into(), after, limit, Reach::Finished).await?)
}

/// A feed event with its payload as the stored JSON text, not yet upcast. For the projections:
/// they decode the text straight into the domain's types, one pass instead of building a
/// `serde_json::Value` per event and dropping it again, and upcast only what needs it
/// (`desist_domain::upcasting::read_event`). Who recorded an event and why (its metadata) is
/// twice the size of what happened and is left out.
#[derive(Debug, Clone, PartialEq)]
pub struct RawFeedEvent {
    pub position: FeedPosition,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub event_type: String,
    pub event_version: String,
    /// `None` when the read left it out ([`Payloads`]).
    pub payload: Option<String>,
}

/// Which payloads a read of the feed brings back. Every event is still read, in order, so a
/// reader's checkpoint passes the ones it ignores; but PostgreSQL renders each payload it sends
/// as text (`jsonb` to JSON), and the reader decodes it, for nothing when the reader does
/// nothing with that type of event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payloads<'a> {
    /// Every payload but those of events of these types (as stored in `event_type`).
    Except(&'a [&'a str]),
    /// No payloads: the reader wants only which aggregates the events are about.
    None,
}

/// Up to `limit` events after `after`, in feed order, from the finished part of the log only,
/// with their payloads as stored, where `payloads` asks for them.
pub async fn read_raw_after(
    pool: Pool<'_>,
    after: FeedPosition,
    limit: i64,
    payloads: Payloads<'_>,
) -> Result<Vec<RawFeedEvent>, StoreError> {
    let backend = pool.backend();
    let (columns, event_type, payload) = match backend {
        Backend::Postgres => (
            "tx::text::bigint, global_position, aggregate_type, aggregate_id, event_type, \
             event_version",
            "event_type",
            "payload::text",
        ),
        Backend::Sqlite => (
            "0, p.global_position, e.aggregate_type, e.aggregate_id, e.event_type, \
             e.event_version",
            "e.event_type",
            "e.payload",
        ),
    };
    let payload = match payloads {
        Payloads::Except(_) => format!(
            "CASE WHEN {} THEN NULL ELSE {payload} END",
            db::any_of(backend, event_type, 4)
        ),
        Payloads::None => "NULL".to_string(),
    };
    let select = format!("{columns}, {payload}");
    type RawRow = (i64, i64, String, String, String, String, Option<String>);
    let mut query = bind_position(
        db::query_as(feed_sql(backend, Reach::Finished, &select)),
        backend,
        after,
    )
    .bind(limit);
    if let Payloads::Except(types) = payloads {
        query = query.bind(Arg::ids(types.iter().copied()));
    }
    let rows: Vec<RawRow> = query.fetch_all(pool).await?;
    let event = |(tx, global_position, kind, id, event_type, version, payload): RawRow| {
        let position = FeedPosition {
            tx,
            global_position,
        };
        RawFeedEvent {
            position,
            aggregate_type: kind,
            aggregate_id: id,
            event_type,
            event_version: version,
            payload,
        }
    };
    Ok(rows.into_iter().map(event).collect())
}

fn upcast_all(mut events: Vec<FeedEvent>) -> Result<Vec<FeedEvent>, StoreError> {
    for event in &mut events {
        let payload = std::mem::take(&mut event.payload);
        let (version, payload) = upcast(&event.event_type, &event.event_version, payload);
        event.event_version = version;
        event.payload = payload;
    }
    Ok(events)
}

/// How far a read of the feed may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Only where every writing transaction has ended: what a tailing reader may checkpoint.
    Finished,
    /// Everything the reader's transaction sees: for a backup taken in one snapshot.
    Visible,
}

/// Up to `limit` events after `after`, in feed order, as stored (not upcast).
///
/// PostgreSQL orders by `(tx, global_position)`; `Reach::Finished` stops below the transaction
/// horizon. SQLite: one writer at a time, so every committed event is final and positions are
/// in commit order; `tx` is always 0.
pub async fn stored_after<'e>(
    target: impl Into<Target<'e>>,
    after: FeedPosition,
    limit: i64,
    reach: Reach,
) -> Result<Vec<FeedEvent>, StoreError> {
    stored(target.into(), after, limit, reach).await
}

async fn stored(
    target: Target<'_>,
    after: FeedPosition,
    limit: i64,
    reach: Reach,
) -> Result<Vec<FeedEvent>, StoreError> {
    let backend = target.backend();
    let select = match backend {
        Backend::Postgres => {
            "tx::text::bigint, global_position, event_id::text, aggregate_type, aggregate_id, \
             sequence, event_type, event_version, payload, metadata, recorded_at"
        }
        Backend::Sqlite => {
            "0, p.global_position, e.event_id, e.aggregate_type, e.aggregate_id, e.sequence, \
             e.event_type, e.event_version, e.payload, e.metadata, e.recorded_at"
        }
    };
    let rows: Vec<FeedRow> = bind_position(
        db::query_as(feed_sql(backend, reach, select)),
        backend,
        after,
    )
    .bind(limit)
    .fetch_all(target)
    .await?;
    Ok(rows.into_iter().map(feed_event).collect())
}

/// A read of `select` for up to `$3` events after the position `($1, $2)`, in feed order.
fn feed_sql(backend: Backend, reach: Reach, select: &str) -> String {
    // `events.tx`, qualified: a bare `tx` in ORDER BY names the output column
    // `tx::text::bigint`, which no index orders, and each read would sort every event after
    // the position (quadratic over a catch-up: the national-scale views never caught up).
    let sql = match (backend, reach) {
        (Backend::Postgres, Reach::Finished) => {
            "SELECT {select} FROM events \
              WHERE (tx, global_position) > ($1::text::xid8, $2) \
                AND tx < pg_snapshot_xmin(pg_current_snapshot()) \
              ORDER BY events.tx, events.global_position \
              LIMIT $3"
        }
        (Backend::Postgres, Reach::Visible) => {
            "SELECT {select} FROM events \
              WHERE (tx, global_position) > ($1::text::xid8, $2) \
              ORDER BY events.tx, events.global_position \
              LIMIT $3"
        }
        (Backend::Sqlite, _) => {
            "SELECT {select} \
               FROM event_positions p \
               JOIN events e ON e.aggregate_type = p.aggregate_type \
                            AND e.aggregate_id = p.aggregate_id AND e.sequence = p.sequence \
              WHERE p.global_position > $2 \
              ORDER BY p.global_position \
              LIMIT $3"
        }
    };
    sql.replace("{select}", select)
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
        event_version,
        payload,
        metadata,
        recorded_at,
    ) = row;
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
pub async fn has_events_after(pool: Pool<'_>, position: FeedPosition) -> Result<bool, StoreError> {
    // The last event in feed order, one probe at the end of the index. (`EXISTS (… WHERE
    // position > $)` was planned as a scan of the whole table from its start: on every
    // projection's wake-up, once per command.)
    let sql = match pool.backend() {
        Backend::Postgres => {
            "SELECT (tx, global_position) > ($1::text::xid8, $2) FROM events \
              ORDER BY events.tx DESC, events.global_position DESC LIMIT 1"
        }
        Backend::Sqlite => {
            "SELECT global_position > $2 FROM event_positions \
              ORDER BY global_position DESC LIMIT 1"
        }
    };
    let more: Option<(bool,)> =
        bind_position(db::query_as::<(bool,)>(sql), pool.backend(), position)
            .fetch_optional(pool)
            .await?;
    Ok(more.is_some_and(|(more,)| more))
}

/// How many events lie beyond `position` in feed order (a projection's lag).
pub async fn events_after(pool: Pool<'_>, position: FeedPosition) -> Result<i64, StoreError> {
    let sql = match pool.backend() {
        Backend::Postgres => {
            "SELECT count(*) FROM events WHERE (tx, global_position) > ($1::text::xid8, $2)"
        }
        Backend::Sqlite => "SELECT count(*) FROM event_positions WHERE global_position > $2",
    };
    let (count,) = bind_position(db::query_as::<(i64,)>(sql), pool.backend(), position)
        .fetch_one(pool)
        .await?;
    Ok(count)
}

/// Binds a feed position as `$1` (the transaction, PostgreSQL only) and `$2`.
fn bind_position<T>(query: db::Query<T>, backend: Backend, position: FeedPosition) -> db::Query<T> {
    match backend {
        Backend::Postgres => query
            .bind(position.tx.to_string())
            .bind(position.global_position),
        // `$2` without `$1`: SQLite numbers parameters by name, so `$1` is simply unused.
        Backend::Sqlite => query.bind(None::<String>).bind(position.global_position),
    }
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
pub async fn history(
    pool: Pool<'_>,
    aggregate_type: &str,
    aggregate_id: &str,
) -> Result<Vec<HistoryEntry>, StoreError> {
    let rows: Vec<(i64, String, String, Value, Value, DateTime<Utc>)> = db::query_as(
        "SELECT sequence, event_type, event_version, payload, metadata, recorded_at FROM events
          WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence",
    )
    .bind(aggregate_type)
    .bind(aggregate_id)
    .fetch_all(pool)
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
