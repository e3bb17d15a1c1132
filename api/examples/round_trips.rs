//! What one statement costs the process that sends it, by how it is sent: on a connection
//! held for the purpose, through the pool (a connection taken and given back for it), and in
//! a transaction of its own taken from the pool. The statement is a bare `SELECT 1`, so what is
//! measured is the way there and back, not the work.
//!
//! ```sh
//! cargo build --release -p desist-api --example round_trips
//! taskset -c 1 ./target/release/examples/round_trips              # a scratch SQLite file
//! taskset -c 1 ./target/release/examples/round_trips postgres://postgres@127.0.0.1:5432/postgres
//! ```
//!
//! Pinned to one core, as `desist serve` is in `desist bench`: the SQLite driver runs each
//! connection on a thread of its own, so every trip to it is a switch between threads on that
//! core. It prints the CPU time (this process's, `/proc/self/stat`, read as `desist bench` reads the
//! server's) and the thread switches
//! (every thread's, `/proc/self/task/*/status`) a statement, for each way, twice in turn.
//! docs/benchmarks.md quotes its figures.

use std::error::Error;
use std::time::{Duration, Instant};

use desist_api::bench::cpu_time as cpu_time_of;
use desist_store::db::{query_scalar, Db};

const WINDOW: Duration = Duration::from_secs(3);
/// `SELECT 1`, typed alike on both backends (PostgreSQL would answer a four-byte integer).
const ONE: &str = "SELECT CAST(1 AS BIGINT)";

#[derive(Clone, Copy, Debug)]
enum Way {
    Held,
    Pool,
    Transaction,
}

/// User and system CPU time of this process so far, as the bench reads a server's.
fn cpu_time() -> Result<Duration, Box<dyn Error>> {
    Ok(cpu_time_of(std::process::id()).ok_or("cannot read /proc/self/stat")?)
}

/// Thread switches of every live thread of this process so far.
fn switches() -> Result<u64, Box<dyn Error>> {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task")? {
        // A thread may end between the listing and the read.
        let Ok(status) = std::fs::read_to_string(task?.path().join("status")) else {
            continue;
        };
        for line in status.lines() {
            if line.starts_with("voluntary_ctxt_switches")
                || line.starts_with("nonvoluntary_ctxt_switches")
            {
                total += line
                    .split_whitespace()
                    .nth(1)
                    .ok_or("no count")?
                    .parse::<u64>()?;
            }
        }
    }
    Ok(total)
}

async fn measure(db: &Db, way: Way) -> Result<(), Box<dyn Error>> {
    let mut held = db.reader().acquire().await?;
    let (cpu, switched, started) = (cpu_time()?, switches()?, Instant::now());
    let mut statements = 0u64;
    while started.elapsed() < WINDOW {
        // The answer is decoded, as a real read's would be, and then not needed.
        let _one: i64 = match way {
            Way::Held => query_scalar(ONE).fetch_one(&mut held).await?,
            Way::Pool => query_scalar(ONE).fetch_one(db.reader()).await?,
            Way::Transaction => {
                let mut tx = db.reader().begin_reading("").await?;
                let one = query_scalar(ONE).fetch_one(&mut tx).await?;
                tx.commit().await?;
                one
            }
        };
        statements += 1;
    }
    let cpu = (cpu_time()? - cpu).as_secs_f64() * 1e6;
    let switched = switches()? - switched;
    println!(
        "{way:?}: {statements} statements, {:.1} µs of CPU and {:.1} thread switches each",
        cpu / statements as f64,
        switched as f64 / statements as f64
    );
    Ok(())
}

// One runtime thread, as `desist serve` has on one core.
#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() -> Result<(), Box<dyn Error>> {
    let scratch =
        std::env::temp_dir().join(format!("desist-round-trips-{}.db", std::process::id()));
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| format!("sqlite://{}", scratch.display()));
    let db = Db::connect(&url, 8).await?;
    let result = async {
        for way in [Way::Held, Way::Pool, Way::Transaction].repeat(2) {
            measure(&db, way).await?;
        }
        Ok(())
    }
    .await;
    db.close().await;
    // The scratch file and its write-ahead log and index, if SQLite made them.
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", scratch.display()));
    }
    result
}
