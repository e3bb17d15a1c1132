//! Shared set-up for tests that need a database: each test gets its own, created fresh and
//! dropped afterwards (even when the test panics), so tests run in parallel and repeat.
//!
//! The backend is a matrix dimension: `DESIST_TEST_BACKEND=sqlite` runs every test on an
//! SQLite file in a temporary directory, anything else (the default) on a new PostgreSQL
//! database. `scripts/test` runs the suite once per backend.
#![allow(dead_code)]

pub mod scenario;
pub mod server;

use chrono::{DateTime, TimeZone, Utc};
use desist_api::WriteSide;
use desist_domain::{Actor, DomainServices, Role};
use desist_store::{Backend, CommandMetadata, Store};
use sqlx::{Connection, Executor, PgConnection};

/// The backend this run of the suite tests.
pub fn backend() -> Backend {
    match std::env::var("DESIST_TEST_BACKEND").as_deref() {
        Ok("sqlite") => Backend::Sqlite,
        _ => Backend::Postgres,
    }
}

/// True (and says so) when a test is about behaviour only `backend` has.
pub fn only_on(backend: Backend) -> bool {
    if self::backend() != backend {
        eprintln!("skipped: this test is about {backend:?} only");
        return false;
    }
    true
}

/// The server tests create their databases on. Override with DESIST_TEST_DATABASE_URL.
pub fn server_url() -> String {
    std::env::var("DESIST_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub struct TestDb {
    pub name: String,
    pub url: String,
    pub store: Store,
}

impl TestDb {
    /// A new, migrated database.
    pub async fn new() -> Self {
        let db = Self::empty().await;
        db.store.migrate().await.expect("migrations apply");
        db
    }

    /// A new database with no schema.
    pub async fn empty() -> Self {
        let name = format!("desist_test_{}", uuid::Uuid::new_v4().simple());
        if backend() == Backend::Postgres {
            let mut admin = PgConnection::connect(&server_url())
                .await
                .expect("PostgreSQL is reachable (see README: tests need it)");
            admin
                .execute(format!("CREATE DATABASE {name}").as_str())
                .await
                .expect("create test database");
        }
        Self::adopt(&name).await
    }
}

impl TestDb {
    /// Takes charge of a database something else created (or will create), so it is dropped
    /// after the test.
    pub async fn adopt(name: &str) -> Self {
        let url = database_url(name);
        let store = Store::connect(&url, 20).await.expect("connect test db");
        Self {
            name: name.to_string(),
            url,
            store,
        }
    }
}

/// The URL of the test database called `name` on this run's backend.
pub fn database_url(name: &str) -> String {
    match backend() {
        Backend::Postgres => {
            let server = server_url();
            let base = server.rsplit_once('/').map(|(b, _)| b).unwrap_or(&server);
            format!("{base}/{name}")
        }
        Backend::Sqlite => format!("sqlite://{}", sqlite_dir(name).join("desist.db").display()),
    }
}

fn sqlite_dir(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(name)
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if backend() == Backend::Sqlite {
            let _ = std::fs::remove_dir_all(sqlite_dir(&self.name));
            return;
        }
        // Drop runs outside async code (and during panics): use a thread with its own runtime.
        let name = self.name.clone();
        let handle = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                if let Ok(mut admin) = PgConnection::connect(&server_url()).await {
                    let _ = admin
                        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                        .await;
                }
            });
        });
        let _ = handle.join();
    }
}

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 1, 12, 0, 0).unwrap()
}

/// Midday UTC on a 2024 date.
pub fn day(m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, m, d, 12, 0, 0).unwrap()
}

pub fn write_side(db: &TestDb) -> WriteSide {
    WriteSide::new(&db.store, DomainServices::fixed(now()))
}

pub fn actor(role: Role) -> Actor {
    Actor {
        id: "user-01".into(),
        role,
        agency: "sussex-probation".into(),
    }
}

/// Metadata with a fresh command id.
pub fn meta(role: Role) -> CommandMetadata {
    let id = uuid::Uuid::new_v4().to_string();
    CommandMetadata::new(id.clone(), id, actor(role))
}

pub fn meta_with_id(command_id: &str) -> CommandMetadata {
    CommandMetadata::new(command_id, "corr-1", actor(Role::Therapist))
}

/// The feed after `after`, once it holds at least `count` events.
///
/// The feed horizon is cluster-wide: a transaction open in another test's database holds it back
/// for a moment, so tests wait for the feed rather than read it once.
pub async fn feed_at_least(
    store: &Store,
    after: desist_store::FeedPosition,
    count: usize,
) -> Vec<desist_store::FeedEvent> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let events = desist_store::feed::read_after(store.db().reader(), after, 100_000)
            .await
            .expect("feed reads");
        if events.len() >= count || std::time::Instant::now() > deadline {
            return events;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A file from `../shared/fixtures`, beside the repository.
pub fn fixture_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures")
        .join(name)
}

pub fn fixture(name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(fixture_path(name))
        .unwrap_or_else(|e| panic!("fixture {name}: {e}"));
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// Today, as far as imports of the fixtures are concerned (they end in 2025).
pub fn import_services() -> DomainServices {
    DomainServices::fixed(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap())
}

pub async fn count_events(store: &Store) -> i64 {
    desist_store::db::query_scalar("SELECT count(*) FROM events")
        .fetch_one(store.db())
        .await
        .expect("count events")
}

/// Imports the pilot fixture into `store`, sealed only if `store` has a master key.
pub async fn import_pilot(store: &Store) {
    desist_api::import::import(
        store,
        import_services(),
        &fixture("pilot-small.json"),
        "test",
        false,
    )
    .await
    .expect("the pilot fixture imports");
}

/// The pilot fixture, imported with sealing on (as `desist import` does).
pub async fn import_fixture_sealed(db: &TestDb) -> Store {
    let sealed = db.store.clone().with_master_key(server::master_key());
    import_pilot(&sealed).await;
    sealed
}

/// Every row of `table` (or view) as text, sorted, leaving out the `without` columns. The same
/// on both backends, so views can be compared before and after a rebuild or a restore.
pub async fn table_rows(db: &desist_store::Db, table: &str, without: &[&str]) -> Vec<String> {
    let sql = match db.backend() {
        Backend::Postgres => {
            "SELECT column_name::text FROM information_schema.columns
              WHERE table_name = $1 AND table_schema = current_schema() ORDER BY ordinal_position"
        }
        Backend::Sqlite => "SELECT name FROM pragma_table_info($1) ORDER BY cid",
    };
    let columns: Vec<String> = desist_store::db::query_scalar(sql)
        .bind(table)
        .fetch_all(db.reader())
        .await
        .expect("columns");
    assert!(!columns.is_empty(), "{table} has columns");
    let text = |c: &str| match db.backend() {
        Backend::Postgres => format!("CAST({c} AS text)"),
        // Blobs (nonces, ciphertext) as hex: their bytes are not text.
        Backend::Sqlite => {
            format!("CASE WHEN typeof({c}) = 'blob' THEN hex({c}) ELSE CAST({c} AS text) END")
        }
    };
    let row = columns
        .iter()
        .filter(|c| !without.contains(&c.as_str()))
        .map(|c| format!("'{c}=' || coalesce({}, 'NULL')", text(c)))
        .collect::<Vec<_>>()
        .join(" || ', ' || ");
    let mut rows: Vec<String> =
        desist_store::db::query_scalar(format!("SELECT {row} FROM {table}"))
            .fetch_all(db.reader())
            .await
            .expect("rows");
    rows.sort();
    rows
}

/// Whether a table (not a view) of this name exists.
pub async fn table_exists(db: &desist_store::Db, table: &str) -> bool {
    let sql = match db.backend() {
        Backend::Postgres => {
            "SELECT count(*) FROM information_schema.tables
              WHERE table_name = $1 AND table_type = 'BASE TABLE'"
        }
        Backend::Sqlite => "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $1",
    };
    let count: i64 = desist_store::db::query_scalar(sql)
        .bind(table)
        .fetch_one(db.reader())
        .await
        .expect("table lookup");
    count > 0
}
