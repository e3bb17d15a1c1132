//! `desist bench`: how close Desist comes to what the machine allows, on each backend.
//!
//! Every figure is measured beside its limit in the same run, because the machine's speed
//! varies from run to run: the ratio is what counts. The server runs as its own process
//! (`desist serve`) pinned to one core and the load driver to the other, so the two do not
//! take turns on the same core; the feed limit and the rebuilds, measured once the server is
//! idle, have every core. docs/benchmarks.md says what limits each figure.

mod driver;
mod setup;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use desist_domain::DomainServices;
use desist_store::{Backend, Store};

use crate::Error;
use driver::{Latencies, Server};

/// A process's CPU time so far, as the bench reads it (also for `examples/round_trips.rs`).
pub use driver::cpu_time;

/// The core `desist serve` runs on, and the one the load driver (this process) runs on.
const SERVER_CORE: usize = 0;
const DRIVER_CORE: &str = "1";

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub backends: Vec<Backend>,
    /// A PostgreSQL server where a scratch database may be created (and is dropped after).
    pub postgres_server: String,
    /// People in the national-scale data (one course each, about 42 events a person).
    pub national_subjects: usize,
    /// People in the pilot-scale data.
    pub pilot_subjects: usize,
    /// How long each timed measurement runs.
    pub window: Duration,
    pub seed: u64,
    /// Where the SQLite scratch file goes.
    pub scratch_dir: PathBuf,
    /// Keep the scratch databases (their URLs are printed), to look into a figure afterwards.
    pub keep: bool,
}

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Figure {
    pub backend: Backend,
    pub name: String,
    pub value: f64,
    pub unit: &'static str,
    /// The limit it is measured against, when it has one.
    pub limit: Option<(String, f64)>,
    /// The target the issue set, as text, and whether this run met it.
    pub target: Option<(String, bool)>,
}

impl Figure {
    pub(crate) fn new(
        backend: Backend,
        name: impl Into<String>,
        value: f64,
        unit: &'static str,
    ) -> Self {
        Self {
            backend,
            name: name.into(),
            value,
            unit,
            limit: None,
            target: None,
        }
    }

    fn against(mut self, limit: &str, value: f64) -> Self {
        self.limit = Some((limit.to_string(), value));
        self
    }

    fn target(mut self, text: &str, met: bool) -> Self {
        self.target = Some((text.to_string(), met));
        self
    }

    pub fn ratio(&self) -> Option<f64> {
        self.limit
            .as_ref()
            .filter(|(_, limit)| *limit > 0.0)
            .map(|(_, limit)| self.value / limit)
    }
}

/// Where a command's CPU goes, in microseconds: what the server spent on each command at eight
/// clients, against what no command can do without — a round of the command floor (this
/// process, the store's two statements) and the cheapest request (the server). Each is the
/// process's own CPU: on SQLite the database works inside it, on PostgreSQL in processes of
/// its own, which neither figure counts. `None` where the time could not be read.
fn command_cpu_figures(
    backend: Backend,
    command: Option<f64>,
    floor_round: Option<f64>,
    request: Option<f64>,
) -> Vec<Figure> {
    let (Some(command), Some(floor_round), Some(request)) = (command, floor_round, request) else {
        return Vec::new();
    };
    vec![
        Figure::new(backend, "server CPU a command, 8 clients", command, "µs")
            .against("a floor round + a request", floor_round + request),
        Figure::new(
            backend,
            "command floor CPU a round (this process), 8 clients",
            floor_round,
            "µs",
        ),
        Figure::new(
            backend,
            "request floor CPU a request (server), 8 clients",
            request,
            "µs",
        ),
    ]
}

/// Runs the whole suite; prints each backend's figures as they come and returns them all.
pub async fn run(options: &BenchOptions) -> Result<Vec<Figure>, Error> {
    driver::pin_this_process(DRIVER_CORE);
    let mut figures = Vec::new();
    for backend in &options.backends {
        eprintln!("== {backend:?} ==");
        let scratch = setup::Scratch::create(*backend, options).await?;
        let result = one_backend(*backend, &scratch, options).await;
        if options.keep {
            eprintln!("kept the scratch database: {}", scratch.url);
        } else {
            scratch.drop_database().await;
        }
        let found = result?;
        print_table(&found);
        figures.extend(found);
    }
    Ok(figures)
}

async fn one_backend(
    backend: Backend,
    scratch: &setup::Scratch,
    options: &BenchOptions,
) -> Result<Vec<Figure>, Error> {
    let mut figures = Vec::new();
    let store = Store::connect(&scratch.url, 16).await?;
    store.migrate().await?;
    let store = store.with_master_key(setup::master_key()?);
    let services = DomainServices::system();

    // Limits first, on an empty store: the raw append rate.
    desist_store::limits::create_append_table(store.db()).await?;
    let append_1 = driver::appends(&store, 1, options.window).await?;
    let append_8 = driver::appends(&store, 8, options.window).await?;
    figures.push(Figure::new(
        backend,
        "append limit, 1 client",
        append_1,
        "rows/s",
    ));
    figures.push(Figure::new(
        backend,
        "append limit, 8 clients",
        append_8,
        "rows/s",
    ));

    // Pilot-scale data, then the server.
    let loaded = std::time::Instant::now();
    setup::load(&store, &services, options.seed, options.pilot_subjects).await?;
    desist_projections::catch_up_all(store.db()).await?;
    setup::settle_database(&store).await?;
    eprintln!(
        "pilot data: {} events in {:.1} s",
        setup::count_events(&store).await?,
        loaded.elapsed().as_secs_f64()
    );
    let server = Arc::new(Server::start(&scratch.url, SERVER_CORE).await?);
    // The offender manager of the first person: the same forty people at either scale.
    let officer = setup::officer_of(&store, "DEMO-S0000").await?;
    server.wait_until_idle(Duration::from_secs(300)).await;
    eprintln!("measuring reads (pilot)");
    let pilot_reads = reads(&server, &officer, options).await?;

    // The command path, against the pilot-scale store. A third of the sessions go to the one
    // client, the rest to the eight: work for the whole window up to about 660 and 1,300
    // commands a second. (A client out of work stops early, and the rest of the window would
    // be measured with fewer clients.)
    let wanted = (options.window.as_secs_f64() * 2_000.0).ceil() as usize;
    let sessions = setup::sessions_to_record(&store, &services, wanted).await?;
    server
        .wait_for_views(&store, Duration::from_secs(600))
        .await?;
    let (one, eight) = sessions.split_at(sessions.len() / 3);
    eprintln!("measuring the command path");
    let command_1 = driver::record_attendances(&server, one, 1, options.window).await?;
    let server_cpu = driver::CpuMeter::start(server.pid());
    let command_8 = driver::record_attendances(&server, eight, 8, options.window).await?;
    let command_cpu = server_cpu.micros_each(command_8.count() + command_8.failures);
    for (clients, latencies, limit) in [(1, &command_1, append_1), (8, &command_8, append_8)] {
        let mut figure = Figure::new(
            backend,
            format!("command path (recordAttendance), {clients} client(s)"),
            latencies.per_second(),
            "cmd/s",
        )
        .against(&format!("append limit, {clients}"), limit);
        if clients == 8 {
            let ratio = figure.ratio().unwrap_or(0.0);
            figure = match backend {
                Backend::Postgres => figure.target(
                    "≥ 0.5 × append, p99 ≤ 20 ms",
                    ratio >= 0.5 && latencies.percentile_ms(99.0) <= 20.0,
                ),
                Backend::Sqlite => figure.target("≥ 0.5 × append", ratio >= 0.5),
            };
        }
        figures.push(figure);
        figures.extend(
            latencies.percentiles(backend, &format!("command latency, {clients} client(s)")),
        );
        if latencies.failures > 0 {
            figures.push(Figure::new(
                backend,
                format!("command failures, {clients} client(s)"),
                latencies.failures as f64,
                "responses",
            ));
        }
    }

    // The least the store itself is asked for a command, with no server around it: were
    // this below half the append limit, so would the command path be, whatever the server did.
    let command_floor = driver::command_floor(&store, 8, options.window).await?;
    let floor_cpu = command_floor.cpu_micros_each();
    figures.push(
        Figure::new(
            backend,
            "command floor (load + append, no server), 8 clients",
            command_floor.per_second(),
            "cmd/s",
        )
        .against("append limit, 8", append_8),
    );

    // What the server's core allows any request: the ceiling of the command path on this
    // machine, whatever the store does.
    let request_cpu = driver::CpuMeter::start(server.pid());
    let floor = driver::request_floor(&server, 8, options.window).await?;
    let request_cpu = request_cpu.micros_each(floor.count() + floor.failures);
    figures.push(
        Figure::new(
            backend,
            "request floor ({ __typename }), 8 clients",
            floor.per_second(),
            "req/s",
        )
        .against("append limit, 8", append_8),
    );
    figures.extend(command_cpu_figures(
        backend,
        command_cpu,
        floor_cpu,
        request_cpu,
    ));

    // National-scale data: the same people first, then the rest.
    let loaded = std::time::Instant::now();
    setup::load(&store, &services, options.seed, options.national_subjects).await?;
    let events = setup::count_events(&store).await?;
    let load_seconds = loaded.elapsed().as_secs_f64();
    eprintln!("national data: {events} events in {load_seconds:.1} s");
    figures.push(Figure::new(
        backend,
        "national data: events",
        events as f64,
        "events",
    ));
    server
        .wait_for_views(&store, Duration::from_secs(600))
        .await?;
    let waited = server.wait_until_idle(Duration::from_secs(300)).await;
    let settling = std::time::Instant::now();
    setup::settle_database(&store).await?;
    eprintln!(
        "measuring reads (national), after the server was busy for {:.1} s more and the \
         database settled in {:.1} s",
        waited.as_secs_f64(),
        settling.elapsed().as_secs_f64()
    );
    let national_reads = reads(&server, &officer, options).await?;
    for (name, pilot, national) in [
        ("caseload", &pilot_reads.caseload, &national_reads.caseload),
        (
            "caseload, 8 clients",
            &pilot_reads.caseload_8,
            &national_reads.caseload_8,
        ),
        ("outcomes", &pilot_reads.outcomes, &national_reads.outcomes),
        (
            "outcomes, 8 clients",
            &pilot_reads.outcomes_8,
            &national_reads.outcomes_8,
        ),
    ] {
        let p95_national = national.percentile_ms(95.0);
        // With the number of requests each p95 is of: a window of few requests has a p95
        // that one slow request (a first, uncached report) can be.
        let mut figure = Figure::new(
            backend,
            format!("{name} query p95, national (n = {})", national.count()),
            p95_national,
            "ms",
        )
        .against(
            &format!("same query, pilot, n = {}", pilot.count()),
            pilot.percentile_ms(95.0),
        );
        if name.ends_with("8 clients") && backend == Backend::Postgres {
            let bound = if name.starts_with("caseload") {
                20.0
            } else {
                100.0
            };
            figure = figure.target(&format!("≤ {bound} ms"), p95_national <= bound);
        }
        figures.push(figure);
        if national.failures + pilot.failures > 0 {
            figures.push(Figure::new(
                backend,
                format!("{name} failures"),
                (national.failures + pilot.failures) as f64,
                "responses",
            ));
        }
    }

    // The feed limit and each projection's rebuild, on the national data, with this process on
    // every core, as `desist projections rebuild` runs: the server is idle by now, and a
    // rebuild reads, prepares and writes its batches on tasks of their own, which one core
    // would make take turns (on SQLite, with the database's own threads too).
    eprintln!("measuring the feed limit and rebuilds");
    if let Some(cores) = driver::all_cores() {
        driver::pin_this_process(&cores);
    }
    let (rows, took) = desist_store::limits::read_all_events(store.db()).await?;
    let feed = rows as f64 / took.as_secs_f64();
    figures.push(Figure::new(
        backend,
        "feed limit (one SELECT, streamed)",
        feed,
        "rows/s",
    ));
    for name in desist_projections::NAMES {
        let started = std::time::Instant::now();
        let (_, progress) = desist_projections::rebuild_by_name(name, store.db(), |_| {}).await?;
        let rate = progress.events as f64 / started.elapsed().as_secs_f64();
        let figure = Figure::new(backend, format!("rebuild {name}"), rate, "events/s")
            .against("feed limit", feed);
        let met = rate >= 100_000.0 && figure.ratio().unwrap_or(0.0) >= 0.3;
        figures.push(figure.target("≥ 100k/s and ≥ 0.3 × feed", met));
    }
    driver::pin_this_process(DRIVER_CORE);

    let peak = server.peak_resident_mb();
    figures.push(
        Figure::new(backend, "peak resident memory of desist serve", peak, "MB")
            .target("≤ 250 MB", peak <= 250.0),
    );
    server.stop();
    store.db().close().await;
    Ok(figures)
}

struct Reads {
    caseload: Latencies,
    caseload_8: Latencies,
    outcomes: Latencies,
    outcomes_8: Latencies,
}

async fn reads(
    server: &Arc<Server>,
    officer: &str,
    options: &BenchOptions,
) -> Result<Reads, Error> {
    let window = options.window;
    Ok(Reads {
        caseload: driver::caseload_reads(server, officer, 1, window).await?,
        caseload_8: driver::caseload_reads(server, officer, 8, window).await?,
        outcomes: driver::outcome_reads(server, 1, window).await?,
        outcomes_8: driver::outcome_reads(server, 8, window).await?,
    })
}

/// The table: figure, value, limit, ratio, target.
pub fn print_table(figures: &[Figure]) {
    println!("| backend | figure | value | limit | ratio | target |\n|---|---|---|---|---|---|");
    for f in figures {
        let limit = f
            .limit
            .as_ref()
            .map(|(name, value)| format!("{} ({name})", human(*value)))
            .unwrap_or_default();
        let ratio = f.ratio().map(|r| format!("{r:.2}")).unwrap_or_default();
        let target = f
            .target
            .as_ref()
            .map(|(text, met)| format!("{text}: {}", if *met { "met" } else { "missed" }))
            .unwrap_or_default();
        println!(
            "| {:?} | {} | {} {} | {limit} | {ratio} | {target} |",
            f.backend,
            f.name,
            human(f.value),
            f.unit
        );
    }
}

fn human(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}
