//! Projection generations: each rebuild writes a new generation of tables beside the live one
//! and switches the plain-named views to it when it has caught up (blue/green).

use desist_store::db::{self, Db, Tx};
use desist_store::feed::events_after;
use desist_store::FeedPosition;
use tokio::task::JoinSet;

use crate::{Generation, Projection, ProjectionError};

/// Serialises changes to the registry across processes.
const REGISTRY_LOCK: &str = "desist:projection-registry";

pub async fn live_generation(pool: &Db, name: &str) -> Result<Option<Generation>, ProjectionError> {
    let generation: Option<i32> = db::query_scalar(
        "SELECT generation FROM projection_generations WHERE name = $1 AND status = 'live'",
    )
    .bind(name)
    .fetch_optional(pool)
    .await?;
    Ok(generation.map(Generation))
}

/// The live generation, created (empty, at the start of the feed) if there is none.
pub async fn ensure_live<P: Projection>(pool: &Db) -> Result<Generation, ProjectionError> {
    if let Some(generation) = live_generation(pool, P::NAME).await? {
        return Ok(generation);
    }
    let mut tx = pool.writer().begin_locked(REGISTRY_LOCK).await?;
    let existing: Option<i32> = db::query_scalar(
        "SELECT generation FROM projection_generations WHERE name = $1 AND status = 'live'",
    )
    .bind(P::NAME)
    .fetch_optional(&mut tx)
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
pub async fn create_building<P: Projection>(pool: &Db) -> Result<Generation, ProjectionError> {
    let mut tx = pool.writer().begin_locked(REGISTRY_LOCK).await?;
    let generation = create_in::<P>(&mut tx, "building").await?;
    tx.commit().await?;
    Ok(generation)
}

async fn create_in<P: Projection>(
    conn: &mut Tx,
    status: &str,
) -> Result<Generation, ProjectionError> {
    let next: i32 = db::query_scalar(
        "SELECT coalesce(max(generation), 0) + 1 FROM projection_generations WHERE name = $1",
    )
    .bind(P::NAME)
    .fetch_one(&mut *conn)
    .await?;
    let generation = Generation(next);
    let id = crate::projection::id_column(conn.backend());
    // A generation being built gets its late keys once it has caught up (`build_keys`).
    let keys: &[&str] = match status {
        "live" => P::KEYS_BUILT_LAST,
        _ => &[],
    };
    for statement in P::SCHEMA.iter().chain(keys) {
        db::query(generation.sql(statement).replace("{id}", id))
            .execute(&mut *conn)
            .await?;
    }
    db::query(
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
    conn: &mut Tx,
    generation: Generation,
) -> Result<(), ProjectionError> {
    for table in P::TABLES {
        db::query(format!("DROP VIEW IF EXISTS {table}"))
            .execute(&mut *conn)
            .await?;
        db::query(format!(
            "CREATE VIEW {table} AS SELECT * FROM {}",
            generation.table(table)
        ))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Builds the keys a generation being rebuilt went without ([`Projection::KEYS_BUILT_LAST`]),
/// once its tables are full. Two at a time, as [`analyze`] does.
pub async fn build_keys<P: Projection>(
    pool: &Db,
    generation: Generation,
) -> Result<(), ProjectionError> {
    two_at_a_time(pool, P::KEYS_BUILT_LAST.iter().map(|s| generation.sql(s))).await
}

/// Gathers the planner's statistics on `generation`'s tables, before it goes live. A rebuild
/// fills them from empty, and until statistics exist every read planned against them guesses:
/// at national scale a caseload took twice as long on a rebuilt, unanalyzed generation
/// (8 clients, p95 62 ms against 25 ms once analyzed), and PostgreSQL's autovacuum, where it
/// is on at all, analyzes a minute or more later.
///
/// Two tables at a time, each on its own connection: one `ANALYZE` keeps one PostgreSQL
/// process busy, and the rebuild's other side, this process, has nothing left to do. (On
/// SQLite the one writer takes them in turn.)
pub async fn analyze<P: Projection>(
    pool: &Db,
    generation: Generation,
) -> Result<(), ProjectionError> {
    two_at_a_time(
        pool,
        P::TABLES
            .iter()
            .map(|table| format!("ANALYZE {}", generation.table(table))),
    )
    .await
}

/// Runs `statements`, two at a time, each on its own connection.
async fn two_at_a_time(
    pool: &Db,
    statements: impl Iterator<Item = String>,
) -> Result<(), ProjectionError> {
    let mut running = JoinSet::new();
    for statement in statements {
        if running.len() == 2 {
            finished(&mut running).await?;
        }
        let pool = pool.clone();
        running.spawn(async move { db::query(statement).one_off().execute(pool.writer()).await });
    }
    while !running.is_empty() {
        finished(&mut running).await?;
    }
    Ok(())
}

/// Waits for one of `running` to finish, and says how it went.
async fn finished(running: &mut JoinSet<Result<u64, sqlx::Error>>) -> Result<(), ProjectionError> {
    match running.join_next().await {
        Some(done) => done?.map(drop).map_err(ProjectionError::from),
        None => Ok(()),
    }
}

/// Makes `generation` live, retires the previous live generation and drops its tables.
pub async fn make_live<P: Projection>(
    pool: &Db,
    generation: Generation,
) -> Result<(), ProjectionError> {
    let mut tx = pool.writer().begin_locked(REGISTRY_LOCK).await?;
    let previous: Option<i32> = db::query_scalar(
        "UPDATE projection_generations SET status = 'retired', updated_at = $2 \
          WHERE name = $1 AND status = 'live' RETURNING generation",
    )
    .bind(P::NAME)
    .bind(chrono::Utc::now())
    .fetch_optional(&mut tx)
    .await?;
    db::query(
        "UPDATE projection_generations SET status = 'live', updated_at = $3 \
          WHERE name = $1 AND generation = $2",
    )
    .bind(P::NAME)
    .bind(generation.0)
    .bind(chrono::Utc::now())
    .execute(&mut tx)
    .await?;
    publish::<P>(&mut tx, generation).await?;
    if let Some(previous) = previous.map(Generation) {
        for table in P::TABLES {
            db::query(format!("DROP TABLE IF EXISTS {}", previous.table(table)))
                .execute(&mut tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

pub async fn checkpoint(
    db: &Db,
    name: &str,
    generation: Generation,
) -> Result<FeedPosition, ProjectionError> {
    let (tx, global_position): (i64, i64) = db::query_as(
        "SELECT checkpoint_tx, checkpoint_position FROM projection_generations \
          WHERE name = $1 AND generation = $2",
    )
    .bind(name)
    .bind(generation.0)
    .fetch_one(db)
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

pub async fn status(pool: &Db) -> Result<Vec<GenerationStatus>, ProjectionError> {
    type StatusRow = (String, i32, String, i64, i64, i64, Option<String>);
    let rows: Vec<StatusRow> = db::query_as(
        "SELECT name, generation, status, checkpoint_tx, checkpoint_position, \
                events_applied, failure \
           FROM projection_generations \
          WHERE status <> 'retired' \
          ORDER BY name, generation",
    )
    .fetch_all(pool)
    .await?;
    let mut statuses = Vec::with_capacity(rows.len());
    for (name, generation, status, tx, global_position, events_applied, failure) in rows {
        let checkpoint = FeedPosition {
            tx,
            global_position,
        };
        statuses.push(GenerationStatus {
            name,
            generation,
            status,
            checkpoint,
            events_applied,
            lag: events_after(pool.reader(), checkpoint).await?,
            failure,
        });
    }
    Ok(statuses)
}

/// Whether every live projection has applied the feed up to `position`.
pub async fn all_live_reached(pool: &Db, position: FeedPosition) -> Result<bool, ProjectionError> {
    let (live, reached): (i64, i64) = db::query_as(
        "SELECT count(*),
                count(CASE WHEN checkpoint_tx > $1
                             OR (checkpoint_tx = $1 AND checkpoint_position >= $2) THEN 1 END)
           FROM projection_generations WHERE status = 'live'",
    )
    .bind(position.tx)
    .bind(position.global_position)
    .fetch_one(pool.reader())
    .await?;
    Ok(live > 0 && reached == live)
}

/// The greatest lag (events beyond the checkpoint) over the live projections. Generations
/// being built are left out: their lag is most of the log, and counting it is not free.
pub async fn max_live_lag(pool: &Db) -> Result<i64, ProjectionError> {
    let checkpoints: Vec<(i64, i64)> = db::query_as(
        "SELECT checkpoint_tx, checkpoint_position FROM projection_generations
          WHERE status = 'live'",
    )
    .fetch_all(pool.reader())
    .await?;
    let mut lag = 0;
    for (tx, global_position) in checkpoints {
        let position = FeedPosition {
            tx,
            global_position,
        };
        lag = lag.max(events_after(pool.reader(), position).await?);
    }
    Ok(lag)
}

/// The version of the code that built the live generation, if there is one.
pub async fn live_version(pool: &Db, name: &str) -> Result<Option<i32>, ProjectionError> {
    Ok(db::query_scalar(
        "SELECT schema_version FROM projection_generations WHERE name = $1 AND status = 'live'",
    )
    .bind(name)
    .fetch_optional(pool)
    .await?)
}
