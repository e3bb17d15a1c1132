//! What sqlx's SQLite driver costs the append limit and the command floor: the same
//! statements (`desist_store::limits`), on the same scratch file, sent through the store's
//! sqlx pools by eight clients as `desist bench` sends them, and run by rusqlite on the
//! thread that asks. sqlx runs each SQLite connection on a thread of its own, so each
//! statement is a trip to that thread and back, and it copies every value of every row it
//! returns; rusqlite calls SQLite where it is. (Eight clients of one SQLite writer take turns
//! anyway, so the direct run is one client.)
//!
//! ```sh
//! cargo build --release -p desist-api --example driver_floor
//! taskset -c 1 ./target/release/examples/driver_floor
//! ```
//!
//! Pinned to one core, as `desist serve` is in `desist bench`. It prints, for each way and
//! twice in turn, rows or rounds a second and this process's CPU time each (user and system,
//! `/proc/self/stat`). docs/benchmarks.md quotes its figures.

use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, Instant};

use desist_api::bench::cpu_time;
use desist_store::db::{query, Db};
use desist_store::limits::{self, attendance_event, APPEND, FLOOR_APPEND, FLOOR_LOAD};

const WINDOW: Duration = Duration::from_secs(3);
const CLIENTS: usize = 8;
/// About a course's events at national scale (823,000 events for 20,000 people).
const EVENTS_EACH: i64 = 40;
const ENROLMENTS: usize = 1_000;

#[derive(Clone, Copy, PartialEq)]
enum Work {
    /// One row a transaction.
    Append,
    /// Load an enrolment's events, then append one row with a new command id.
    Floor,
}

struct Measured {
    count: u64,
    started: Instant,
    cpu: Duration,
}

impl Measured {
    fn start() -> Self {
        Measured {
            count: 0,
            started: Instant::now(),
            cpu: cpu_time(std::process::id()).unwrap_or_default(),
        }
    }

    fn print(&self, what: &str) {
        let cpu = cpu_time(std::process::id()).unwrap_or_default() - self.cpu;
        println!(
            "{what}: {:.0} a second, {:.0} µs of CPU each",
            self.count as f64 / self.started.elapsed().as_secs_f64(),
            cpu.as_secs_f64() * 1e6 / self.count.max(1) as f64
        );
    }
}

fn name(work: Work) -> &'static str {
    match work {
        Work::Append => "append",
        Work::Floor => "command floor",
    }
}

async fn through_sqlx(
    db: &Db,
    enrolments: &Arc<Vec<String>>,
    work: Work,
) -> Result<(), Box<dyn Error>> {
    let mut measured = Measured::start();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (db, enrolments) = (db.clone(), enrolments.clone());
            tokio::spawn(async move {
                match work {
                    Work::Append => limits::append_for(&db, client, WINDOW).await,
                    Work::Floor => {
                        limits::command_floor_for(&db, &enrolments, client, WINDOW).await
                    }
                }
            })
        })
        .collect();
    for client in clients {
        measured.count += client.await??;
    }
    measured.print(&format!("sqlx, {CLIENTS} clients, {}", name(work)));
    Ok(())
}

/// The same statements through rusqlite, decoding the loaded payloads and metadata as JSON as
/// the store does.
fn direct(path: &str, enrolments: &[String], work: Work) -> Result<(), Box<dyn Error>> {
    let conn = rusqlite::Connection::open(path)?;
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000")?;
    let aggregate_id = format!("direct-{}", rand::random::<u32>());
    let mut measured = Measured::start();
    while measured.started.elapsed() < WINDOW {
        measured.count += 1;
        let sequence = measured.count as i64;
        if work == Work::Append {
            let (payload, metadata) = attendance_event("00000000-0000-0000-0000-000000000000");
            conn.prepare_cached(APPEND)?.execute(rusqlite::params![
                aggregate_id,
                sequence,
                payload.to_string(),
                metadata.to_string()
            ])?;
            continue;
        }
        let loaded = &enrolments[measured.count as usize % enrolments.len()];
        let mut load = conn.prepare_cached(FLOOR_LOAD)?;
        let mut rows = load.query([loaded])?;
        let mut events = Vec::new();
        while let Some(row) = rows.next()? {
            events.push((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                serde_json::from_str::<serde_json::Value>(row.get_ref(2)?.as_str()?)?,
                serde_json::from_str::<serde_json::Value>(row.get_ref(3)?.as_str()?)?,
                row.get::<_, i64>(4)?,
            ));
        }
        let command_id = format!("{:032x}", rand::random::<u128>());
        let (payload, metadata) = attendance_event(&command_id);
        conn.prepare_cached(FLOOR_APPEND)?
            .execute(rusqlite::params![
                aggregate_id,
                sequence,
                payload.to_string(),
                metadata.to_string(),
                command_id
            ])?;
    }
    measured.print(&format!("rusqlite, this thread, {}", name(work)));
    Ok(())
}

/// The limits' tables, and an `events` table of their shape holding `ENROLMENTS` courses.
async fn scratch(db: &Db) -> Result<Vec<String>, Box<dyn Error>> {
    limits::create_append_table(db).await?;
    limits::create_command_floor_table(db).await?;
    query("CREATE TABLE events AS SELECT * FROM bench_append WHERE 0")
        .execute(db)
        .await?;
    query("CREATE UNIQUE INDEX events_key ON events (aggregate_type, aggregate_id, sequence)")
        .execute(db)
        .await?;
    let mut tx = db.writer().begin().await?;
    let mut enrolments = Vec::new();
    for n in 0..ENROLMENTS {
        let id = format!("enrolment-{n:05}");
        for sequence in 1..=EVENTS_EACH {
            let (payload, metadata) = attendance_event(&format!("{n}-{sequence}"));
            query(APPEND.replace("bench_append", "events"))
                .bind(&id)
                .bind(sequence)
                .bind(&payload)
                .bind(&metadata)
                .execute(&mut tx)
                .await?;
        }
        enrolments.push(id);
    }
    tx.commit().await?;
    Ok(enrolments)
}

// One runtime thread, as `desist serve` has on one core.
#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() -> Result<(), Box<dyn Error>> {
    let path = std::env::temp_dir().join(format!("desist-driver-floor-{}.db", std::process::id()));
    let path = path.display().to_string();
    let db = Db::connect(&format!("sqlite://{path}"), 8).await?;
    let result = async {
        let enrolments = Arc::new(scratch(&db).await?);
        for _ in 0..2 {
            for work in [Work::Append, Work::Floor] {
                through_sqlx(&db, &enrolments, work).await?;
                let (path, enrolments) = (path.clone(), enrolments.clone());
                tokio::task::spawn_blocking(move || {
                    direct(&path, &enrolments, work).map_err(|e| e.to_string())
                })
                .await??;
            }
        }
        Ok::<_, Box<dyn Error>>(())
    }
    .await;
    db.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{path}{suffix}"));
    }
    result
}
