//! Projection generations: each rebuild writes a new generation of tables beside the live one
//! and switches the plain-named views to it when it has caught up (blue/green).

use desist_store::FeedPosition;
use sqlx::{Connection, PgConnection, PgPool};

use crate::{Generation, Projection, ProjectionError};

/// Serialises changes to the registry across processes.
const REGISTRY_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtext('desist:projection-registry'))";

pub async fn live_generation(
    pool: &PgPool,
    name: &str,
) -> Result<Option<Generation>, ProjectionError> {
    let generation: Option<i32> = sqlx::query_scalar(
        "SELECT generation FROM projection_generations WHERE name = $1 AND status = 'live'",
    )
    .bind(name)
    .fetch_optional(pool)
    .await?;
    Ok(generation.map(Generation))
}

/// The live generation, created (empty, at the start of the feed) if there is none.
pub async fn ensure_live<P: Projection>(pool: &PgPool) -> Result<Generation, ProjectionError> {
    if let Some(generation) = live_generation(pool, P::NAME).await? {
        return Ok(generation);
    }
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    sqlx::query(REGISTRY_LOCK).execute(&mut *tx).await?;
    let existing: Option<i32> = sqlx::query_scalar(
        "SELECT generation FROM projection_generations WHERE name = $1 AND status = 'live'",
    )
    .bind(P::NAME)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(generation) = existing {
        return Ok(Generation(generation));
    }
    let generation = create_in::<P>(&mut tx, "live").await?;
    publish::<P>(&mut tx, generation).await?;
    tx.commit().await?;
    Ok(generation)
}

/// A new generation being built from the start of the feed, beside the live one.
pub async fn create_building<P: Projection>(pool: &PgPool) -> Result<Generation, ProjectionError> {
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    sqlx::query(REGISTRY_LOCK).execute(&mut *tx).await?;
    let generation = create_in::<P>(&mut tx, "building").await?;
    tx.commit().await?;
    Ok(generation)
}

async fn create_in<P: Projection>(
    conn: &mut PgConnection,
    status: &str,
) -> Result<Generation, ProjectionError> {
    let next: i32 = sqlx::query_scalar(
        "SELECT coalesce(max(generation), 0) + 1 FROM projection_generations WHERE name = $1",
    )
    .bind(P::NAME)
    .fetch_one(&mut *conn)
    .await?;
    let generation = Generation(next);
    for statement in P::SCHEMA {
        sqlx::query(&generation.sql(statement))
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query(
        "INSERT INTO projection_generations (name, generation, status, schema_version)
         VALUES ($1, $2, $3, $4)",
    )
    .bind(P::NAME)
    .bind(next)
    .bind(status)
    .bind(P::VERSION)
    .execute(&mut *conn)
    .await?;
    Ok(generation)
}

/// Points the plain-named views at `generation`.
async fn publish<P: Projection>(
    conn: &mut PgConnection,
    generation: Generation,
) -> Result<(), ProjectionError> {
    for table in P::TABLES {
        sqlx::query(&format!("DROP VIEW IF EXISTS {table}"))
            .execute(&mut *conn)
            .await?;
        sqlx::query(&format!(
            "CREATE VIEW {table} AS SELECT * FROM {}",
            generation.table(table)
        ))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Makes `generation` live, retires the previous live generation and drops its tables.
pub async fn make_live<P: Projection>(
    pool: &PgPool,
    generation: Generation,
) -> Result<(), ProjectionError> {
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    sqlx::query(REGISTRY_LOCK).execute(&mut *tx).await?;
    let previous: Option<i32> = sqlx::query_scalar(
        "UPDATE projection_generations SET status = 'retired', updated_at = now() \
          WHERE name = $1 AND status = 'live' RETURNING generation",
    )
    .bind(P::NAME)
    .fetch_optional(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE projection_generations SET status = 'live', updated_at = now() \
          WHERE name = $1 AND generation = $2",
    )
    .bind(P::NAME)
    .bind(generation.0)
    .execute(&mut *tx)
    .await?;
    publish::<P>(&mut tx, generation).await?;
    if let Some(previous) = previous.map(Generation) {
        for table in P::TABLES {
            sqlx::query(&format!("DROP TABLE IF EXISTS {}", previous.table(table)))
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

pub async fn checkpoint(
    conn: &mut PgConnection,
    name: &str,
    generation: Generation,
) -> Result<FeedPosition, ProjectionError> {
    let (tx, global_position): (i64, i64) = sqlx::query_as(
        "SELECT checkpoint_tx, checkpoint_position FROM projection_generations \
          WHERE name = $1 AND generation = $2",
    )
    .bind(name)
    .bind(generation.0)
    .fetch_one(&mut *conn)
    .await?;
    Ok(FeedPosition {
        tx,
        global_position,
    })
}

/// One projection generation as operators see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerationStatus {
    pub name: String,
    pub generation: i32,
    pub status: String,
    pub checkpoint: FeedPosition,
    pub events_applied: i64,
    /// Events in the store beyond the checkpoint.
    pub lag: i64,
    pub failure: Option<String>,
}

pub async fn status(pool: &PgPool) -> Result<Vec<GenerationStatus>, ProjectionError> {
    type StatusRow = (String, i32, String, i64, i64, i64, Option<String>, i64);
    let rows: Vec<StatusRow> = sqlx::query_as(
        "SELECT g.name, g.generation, g.status, g.checkpoint_tx, g.checkpoint_position, \
                g.events_applied, g.failure, \
                (SELECT count(*) FROM events e \
                  WHERE (e.tx, e.global_position) > (g.checkpoint_tx::text::xid8, g.checkpoint_position)) \
           FROM projection_generations g \
          WHERE g.status <> 'retired' \
          ORDER BY g.name, g.generation",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(name, generation, status, tx, global_position, events_applied, failure, lag)| {
                GenerationStatus {
                    name,
                    generation,
                    status,
                    checkpoint: FeedPosition {
                        tx,
                        global_position,
                    },
                    events_applied,
                    lag,
                    failure,
                }
            },
        )
        .collect())
}

/// Whether every live projection has applied the feed up to `position`.
pub async fn all_live_reached(
    pool: &PgPool,
    position: FeedPosition,
) -> Result<bool, ProjectionError> {
    let reached: Option<bool> = sqlx::query_scalar(
        "SELECT bool_and((checkpoint_tx, checkpoint_position) >= ($1, $2))
           FROM projection_generations WHERE status = 'live'",
    )
    .bind(position.tx)
    .bind(position.global_position)
    .fetch_one(pool)
    .await?;
    Ok(reached.unwrap_or(false))
}

/// The greatest lag (events beyond the checkpoint) over the live projections.
pub async fn max_live_lag(pool: &PgPool) -> Result<i64, ProjectionError> {
    Ok(status(pool)
        .await?
        .into_iter()
        .filter(|s| s.status == "live")
        .map(|s| s.lag)
        .max()
        .unwrap_or(0))
}

/// The version of the code that built the live generation, if there is one.
pub async fn live_version(pool: &PgPool, name: &str) -> Result<Option<i32>, ProjectionError> {
    Ok(sqlx::query_scalar(
        "SELECT schema_version FROM projection_generations WHERE name = $1 AND status = 'live'",
    )
    .bind(name)
    .fetch_optional(pool)
    .await?)
}
