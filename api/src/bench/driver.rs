//! The load driver: a `desist serve` process on its own core, clients that time every request
//! into a latency histogram, and the raw append clients.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use desist_domain::Role;
use desist_store::{Backend, Store};
use hdrhistogram::Histogram;
use serde_json::{json, Value};

use super::setup::{self, Waiting};
use super::Figure;
use crate::auth::AuthConfig;
use crate::Error;

/// Pins every thread of this process to `cores` (a list as Linux `taskset -c` reads it: "1",
/// "0-1"), so that the driver and the server it measures do not share a core. Without
/// `taskset` the run goes on unpinned.
pub fn pin_this_process(cores: &str) {
    let pid = std::process::id().to_string();
    let pinned = Command::new("taskset")
        .args(["-a", "-p", "-c", cores, &pid])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !pinned {
        eprintln!("taskset is not available: the driver and the server share the cores");
    }
}

/// Every core the machine has online, as `taskset -c` reads them ("0-1"); `None` where Linux's
/// list cannot be read.
pub fn all_cores() -> Option<String> {
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .map(|cores| cores.trim().to_string())
}

/// The CPU time (user and system) process `pid` has used so far, from `/proc/<pid>/stat`;
/// `None` where that cannot be read.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime and stime are the 14th and 15th fields: 12th and 13th after the name. Linux counts
    // them in hundredths of a second (USER_HZ), whatever the kernel's own tick.
    let user: u64 = fields.get(11)?.parse().ok()?;
    let system: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((user + system) * 10))
}

/// The CPU time one process spends over a measurement, to say what each request or round of
/// it cost: a figure's rate says how fast, this says how much of a core.
pub struct CpuMeter {
    pid: u32,
    before: Option<Duration>,
}

impl CpuMeter {
    pub fn start(pid: u32) -> Self {
        Self {
            pid,
            before: cpu_time(pid),
        }
    }

    /// The CPU spent since the start; `None` when the time cannot be read.
    pub fn spent(&self) -> Option<Duration> {
        cpu_time(self.pid)?.checked_sub(self.before?)
    }

    /// Microseconds of CPU each of `units` cost since the start; `None` when the time cannot be
    /// read or nothing was done.
    pub fn micros_each(&self, units: u64) -> Option<f64> {
        micros_each(self.spent()?, units)
    }
}

/// Microseconds of `spent` each of `units` cost; `None` when there were none.
fn micros_each(spent: Duration, units: u64) -> Option<f64> {
    (units > 0).then(|| spent.as_secs_f64() * 1e6 / units as f64)
}

/// Request latencies of one measurement.
pub struct Latencies {
    histogram: Histogram<u64>,
    elapsed: Duration,
    pub failures: u64,
}

impl Latencies {
    fn new() -> Result<Self, Error> {
        Ok(Self {
            // Microseconds, up to a minute, three significant figures.
            histogram: Histogram::new_with_bounds(1, 60_000_000, 3)
                .map_err(|e| Error::Config(format!("histogram: {e}")))?,
            elapsed: Duration::ZERO,
            failures: 0,
        })
    }

    /// How many requests succeeded (and were timed).
    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    pub fn per_second(&self) -> f64 {
        rate(self.histogram.len(), self.elapsed)
    }

    pub fn percentile_ms(&self, percentile: f64) -> f64 {
        self.histogram.value_at_percentile(percentile) as f64 / 1000.0
    }

    pub fn percentiles(&self, backend: Backend, name: &str) -> Vec<Figure> {
        [50.0, 95.0, 99.0]
            .into_iter()
            .map(|p| Figure::new(backend, format!("{name} p{p}"), self.percentile_ms(p), "ms"))
            .collect()
    }
}

/// A `desist serve` process on core 0, on a free port.
pub struct Server {
    child: std::sync::Mutex<Child>,
    pid: u32,
    base: String,
    client: reqwest::Client,
}

impl Server {
    pub async fn start(url: &str, core: usize) -> Result<Server, Error> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| Error::Config(format!("no free port: {e}")))?
            .port();
        let exe = std::env::current_exe()
            .map_err(|e| Error::Config(format!("cannot find the desist binary: {e}")))?;
        let mut command = if Command::new("taskset").arg("-V").output().is_ok() {
            let mut c = Command::new("taskset");
            c.args(["-c", &core.to_string()]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        let child = command
            .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
            .env("DATABASE_URL", url)
            .env("DESIST_JWT_SECRET", setup::JWT_SECRET)
            .env("DESIST_MASTER_KEY", setup::master_key_text())
            .env("DESIST_MASTER_KEY_ID", "bench")
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| Error::Config(format!("cannot start desist serve: {e}")))?;
        let server = Server {
            pid: child.id(),
            child: std::sync::Mutex::new(child),
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            let up = server
                .client
                .get(format!("{}/healthz", server.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if up {
                return Ok(server);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        server.stop();
        Err(Error::Config("desist serve did not come up".into()))
    }

    /// Waits until every view has applied every event.
    pub async fn wait_for_views(&self, store: &Store, at_most: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + at_most;
        while Instant::now() < deadline {
            if desist_projections::registry::max_live_lag(store.db()).await? == 0 {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(Error::Config("the views did not catch up".into()))
    }

    /// Waits (up to `at_most`) until the server is idle: its CPU time grows by at most 5 % of
    /// a core over a second. After a bulk load it still has work beyond the views (the alert
    /// monitor looks at everyone the load touched); reads measured meanwhile would measure
    /// that work. Returns how long it waited.
    pub async fn wait_until_idle(&self, at_most: Duration) -> Duration {
        let started = Instant::now();
        let mut before = cpu_time(self.pid);
        while started.elapsed() < at_most {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let now = cpu_time(self.pid);
            match (before, now) {
                (Some(b), Some(n)) if n.saturating_sub(b) <= Duration::from_millis(50) => break,
                (None, _) | (_, None) => break,
                _ => before = now,
            }
        }
        started.elapsed()
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The server's peak resident memory so far (VmHWM), in MB.
    pub fn peak_resident_mb(&self) -> f64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .ok()
            .and_then(|status| {
                status
                    .lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
            .map_or(f64::NAN, |kb| kb / 1024.0)
    }

    pub fn stop(&self) {
        if let Ok(mut child) = self.child.lock() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Posts one GraphQL request; `Ok(true)` when the answer has no error of any kind.
    async fn post(&self, token: &str, query: &str) -> bool {
        let Ok(response) = self
            .client
            .post(format!("{}/graphql", self.base))
            .bearer_auth(token)
            .json(&json!({ "query": query }))
            .send()
            .await
        else {
            return false;
        };
        let Ok(body) = response.json::<Value>().await else {
            return false;
        };
        body.get("errors").is_none() && body.get("data").is_some() && !has_user_errors(&body)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn has_user_errors(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.iter().any(|(key, v)| {
            (key == "userErrors" && v.as_array().is_some_and(|a| !a.is_empty()))
                || has_user_errors(v)
        }),
        Value::Array(items) => items.iter().any(has_user_errors),
        _ => false,
    }
}

fn token(user: &str, role: Role) -> Result<String, Error> {
    let config = AuthConfig::Local {
        secret: setup::JWT_SECRET.into(),
        issuer: "desist".into(),
        audience: "desist".into(),
    };
    crate::auth::token::mint(
        &config,
        user,
        role,
        "bench",
        Some("benchmark".into()),
        Duration::from_secs(3600),
    )
    .map_err(Error::Config)
}

/// Runs `clients` copies of `request` until `window` ends; each answers whether it succeeded.
async fn timed<F, Fut>(clients: usize, window: Duration, request: F) -> Result<Latencies, Error>
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Option<bool>> + Send,
{
    let request = Arc::new(request);
    let failures = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + window;
    let mut tasks = Vec::new();
    for client in 0..clients {
        let (request, failures) = (request.clone(), failures.clone());
        tasks.push(tokio::spawn(async move {
            let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).ok()?;
            let mut n = 0u64;
            while Instant::now() < deadline {
                let sent = Instant::now();
                // `None`: this client has no more work.
                let Some(ok) = request(client, n).await else {
                    break;
                };
                n += 1;
                if ok {
                    let _ = histogram.record(sent.elapsed().as_micros().max(1) as u64);
                } else {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
            Some(histogram)
        }));
    }
    let mut latencies = Latencies::new()?;
    for task in tasks {
        if let Ok(Some(histogram)) = task.await {
            let _ = latencies.histogram.add(histogram);
        }
    }
    latencies.elapsed = started.elapsed();
    latencies.failures = failures.load(Ordering::Relaxed);
    Ok(latencies)
}

/// The caseload of `officer` (a probation officer), as their screen asks for it.
pub async fn caseload_reads(
    server: &Arc<Server>,
    officer: &str,
    clients: usize,
    window: Duration,
) -> Result<Latencies, Error> {
    let query = "{ caseload(first: 50) { edges { node { rag reasons nextStep \
                 subject { ref area } } } } }";
    reads(
        server,
        token(officer, Role::ProbationOfficer)?,
        query,
        clients,
        window,
    )
    .await
}

/// The cheapest request a caller can make: HTTP, the bearer token and GraphQL, with nothing to
/// look up or store. No command is answered faster by the same server on the same core.
pub async fn request_floor(
    server: &Arc<Server>,
    clients: usize,
    window: Duration,
) -> Result<Latencies, Error> {
    let bearer = token("bench-01", Role::Therapist)?;
    reads(server, bearer, "{ __typename }", clients, window).await
}

/// The evaluator's outcome table, every cohort, split by area.
pub async fn outcome_reads(
    server: &Arc<Server>,
    clients: usize,
    window: Duration,
) -> Result<Latencies, Error> {
    let query = "{ outcomes(split: { area: true }) { cohorts { cohort group { value } \
                 n { value suppressed } rate attendanceRate completionRate } } }";
    reads(
        server,
        token("ev-bench", Role::Evaluator)?,
        query,
        clients,
        window,
    )
    .await
}

async fn reads(
    server: &Arc<Server>,
    bearer: String,
    query: &'static str,
    clients: usize,
    window: Duration,
) -> Result<Latencies, Error> {
    let server = server.clone();
    timed(clients, window, move |_, _| {
        let (server, bearer) = (server.clone(), bearer.clone());
        async move { Some(server.post(&bearer, query).await) }
    })
    .await
}

/// Records attendances through the full GraphQL mutation; each client works through its own
/// courses, session by session, so clients do not contend for one course.
pub async fn record_attendances(
    server: &Arc<Server>,
    courses: &[Vec<Waiting>],
    clients: usize,
    window: Duration,
) -> Result<Latencies, Error> {
    let bearer = token("bench-01", Role::Therapist)?;
    let mut work: Vec<Vec<Waiting>> = vec![Vec::new(); clients];
    for (n, course) in courses.iter().enumerate() {
        work[n % clients].extend(course.iter().cloned());
    }
    let work = Arc::new(work);
    let server = server.clone();
    timed(clients, window, move |client, n| {
        let (server, bearer, work) = (server.clone(), bearer.clone(), work.clone());
        async move {
            let waiting = work.get(client)?.get(n as usize)?.clone();
            let held = waiting.held_at.to_rfc3339();
            let query = format!(
                r#"mutation {{ recordAttendance(input: {{ enrolmentId: "{}", sessionId: "{}",
                    attendance: ATTENDED, occurredAt: "{held}" }}) {{ commandId userErrors {{ code }} }} }}"#,
                waiting.enrolment, waiting.session
            );
            Some(server.post(&bearer, &query).await)
        }
    })
    .await
}

/// The append limit: `clients` clients inserting event-sized rows, one per transaction.
pub async fn appends(store: &Store, clients: usize, window: Duration) -> Result<f64, Error> {
    let appended = rounds(clients, |client| {
        let db = store.db().clone();
        async move { desist_store::limits::append_for(&db, client, window).await }
    })
    .await?;
    Ok(appended.per_second())
}

/// The command floor: `clients` clients each loading an enrolment's events and appending one
/// event with its command id, straight to the store (`limits::command_floor_for`).
pub async fn command_floor(
    store: &Store,
    clients: usize,
    window: Duration,
) -> Result<Rounds, Error> {
    desist_store::limits::create_command_floor_table(store.db()).await?;
    let enrolments = Arc::new(desist_store::limits::enrolment_ids(store.db(), 1_000).await?);
    rounds(clients, |client| {
        let db = store.db().clone();
        let enrolments = enrolments.clone();
        async move {
            desist_store::limits::command_floor_for(&db, &enrolments, client, window).await
        }
    })
    .await
}

/// How many of something happened a second, `count` of them in `elapsed`.
fn rate(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(1e-9)
}

/// Rounds made by the clients of one measurement.
pub struct Rounds {
    pub count: u64,
    pub elapsed: Duration,
    /// This process's CPU over the rounds alone (not the setup before them), from the moment
    /// the clients start to the moment the last one ends; `None` where it cannot be read.
    pub cpu: Option<Duration>,
}

impl Rounds {
    pub fn per_second(&self) -> f64 {
        rate(self.count, self.elapsed)
    }

    /// Microseconds of this process's CPU a round; `None` when unreadable or no round ran.
    pub fn cpu_micros_each(&self) -> Option<f64> {
        micros_each(self.cpu?, self.count)
    }
}

/// Runs `clients` clients at once, each counting its own rounds; the rounds of all of them,
/// how long the whole run took and the CPU this process spent on it.
async fn rounds<F, Fut>(clients: usize, client: F) -> Result<Rounds, Error>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<u64, desist_store::StoreError>> + Send + 'static,
{
    let cpu = CpuMeter::start(std::process::id());
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients).map(|c| tokio::spawn(client(c))).collect();
    let mut count = 0;
    for task in tasks {
        count += task
            .await
            .map_err(|e| Error::Config(format!("bench client: {e}")))??;
    }
    Ok(Rounds {
        count,
        elapsed: started.elapsed(),
        cpu: cpu.spent(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_a_measurement_spent_is_shared_among_its_units_and_none_without_any() {
        let pid = std::process::id();
        let meter = CpuMeter::start(pid);
        let before = cpu_time(pid).expect("a process's CPU time is readable on Linux");
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut x = 1u64;
        while cpu_time(pid).is_some_and(|now| now < before + Duration::from_millis(100))
            && Instant::now() < deadline
        {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let one = meter.micros_each(1).expect("time was spent");
        let ten = meter.micros_each(10).expect("time was spent");
        assert!(one >= 100_000.0, "{one} µs");
        assert!(ten >= one / 10.0 && ten < one, "{ten} µs against {one} µs");
        assert_eq!(meter.micros_each(0), None);
    }
}
