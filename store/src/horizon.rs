//! Checks on the transaction-id horizon the feed relies on.

use std::time::Duration;

use crate::Db;

use crate::StoreError;

/// Refuses to start when the cluster's next transaction id is not beyond every stored event's.
///
/// After a logical restore (pg_dump into a new cluster) the xid counter restarts low while the
/// stored `tx` values stay high: new events would sort before old ones and feed readers would
/// skip them. Advance the counter past the stored maximum before serving
/// (docs/architecture.md, "Restores").
/// SQLite has no transaction ids: nothing to check.
pub async fn check_xid_horizon(db: &Db) -> Result<(), StoreError> {
    let Db::Postgres { pool, .. } = db else {
        return Ok(());
    };
    let (next, stored): (i64, Option<i64>) = sqlx::query_as(
        "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint, \
                (SELECT tx::text::bigint FROM events ORDER BY events.tx DESC LIMIT 1)",
    )
    .fetch_one(pool)
    .await?;
    match stored {
        Some(stored) if stored >= next => Err(StoreError::XidBehindStoredEvents {
            current: next,
            stored,
        }),
        _ => Ok(()),
    }
}

/// A transaction holding the feed horizon back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LongTransaction {
    pub pid: i32,
    pub age_seconds: i64,
    pub application: String,
    pub state: String,
}

/// Transactions open longer than `older_than`. While one is open, no event written after it
/// started reaches the projections, so operators should hear about it.
pub async fn long_running_transactions(
    db: &Db,
    older_than: Duration,
) -> Result<Vec<LongTransaction>, StoreError> {
    // On SQLite the one writer is this process's; readers never hold the feed back.
    let Db::Postgres { pool, .. } = db else {
        return Ok(Vec::new());
    };
    let rows: Vec<(i32, i64, String, String)> = sqlx::query_as(
        "SELECT pid, extract(epoch FROM now() - xact_start)::bigint, \
                coalesce(application_name, ''), coalesce(state, '') \
           FROM pg_stat_activity \
          WHERE xact_start < now() - make_interval(secs => $1) \
            AND (backend_xid IS NOT NULL OR backend_xmin IS NOT NULL) \
            AND pid <> pg_backend_pid() \
          ORDER BY xact_start",
    )
    .bind(older_than.as_secs_f64())
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(pid, age_seconds, application, state)| LongTransaction {
            pid,
            age_seconds,
            application,
            state,
        })
        .collect())
}
