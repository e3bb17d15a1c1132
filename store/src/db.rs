//! The two backends, PostgreSQL and SQLite, behind one handle.
//!
//! Everything above the store (projections, the API) writes portable SQL and runs it through
//! [`query`], [`query_as`] and [`query_scalar`] here, with `$1`-style placeholders (both
//! drivers accept them) and values collected as [`Arg`]s. Only this module — and the feed, the
//! locks and the backups, which are backend-specific by nature — looks at which backend it is
//! on. sqlx has an `Any` driver, but it carries no dates, times or JSON, which every Desist
//! table uses; dispatching here keeps sqlx's own types on both sides.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::persist::{
    PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot,
};
use cqrs_es::Aggregate;
use futures::FutureExt;
use serde_json::Value;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{
    Connection, FromRow, PgConnection, PgPool, Postgres, Sqlite, SqliteConnection, SqlitePool,
    Transaction,
};
use tokio::sync::{watch, Mutex, OwnedMutexGuard};

use crate::StoreError;

/// Which database Desist is running on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    /// `postgres://…` or `postgresql://…` selects PostgreSQL; anything else is SQLite.
    pub fn of_url(url: &str) -> Backend {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    /// How many values one statement should bind at most; callers with long lists chunk them.
    /// PostgreSQL allows 65,535. SQLite allows 32,766, but it finds each `$N` by name in a
    /// list, when the statement is parsed and again when sqlx binds it, so a statement of n
    /// values costs n² to prepare and bind: at 30,000 values that was four fifths of a
    /// projection rebuild's time (perf). A few hundred keep that small beside the statement.
    pub fn values_per_statement(self) -> usize {
        match self {
            Backend::Postgres => 30_000,
            Backend::Sqlite => 500,
        }
    }
}

/// How long an SQLite connection waits for another process's write lock before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Readers beside the one SQLite writer.
const SQLITE_READERS: u32 = 4;

/// A connection pool on either backend. Cheap to clone.
#[derive(Clone)]
pub enum Db {
    Postgres {
        pool: PgPool,
        notifier: CommitNotifier,
    },
    /// SQLite allows one writer at a time; Desist keeps exactly one writing connection, so
    /// writers queue in the process instead of failing with `SQLITE_BUSY`, and reads (WAL
    /// mode) never wait for them.
    Sqlite {
        writer: SqlitePool,
        reader: SqlitePool,
        local: Arc<SqliteLocal>,
    },
}

/// What PostgreSQL does across processes (advisory locks, LISTEN/NOTIFY) and an embedded
/// database needs only within its one process.
pub struct SqliteLocal {
    /// Counts commits of events; a runner that subscribes sees every change after it looked.
    pub events: watch::Sender<u64>,
    locks: std::sync::Mutex<HashMap<String, Arc<Mutex<()>>>>,
    /// Whether the writer may be at `synchronous = NORMAL` (see [`Db::begin_derived`]).
    writer_relaxed: AtomicBool,
}

impl Default for SqliteLocal {
    fn default() -> Self {
        Self {
            events: watch::Sender::new(0),
            locks: Default::default(),
            writer_relaxed: AtomicBool::new(false),
        }
    }
}

/// Sends PostgreSQL's `desist_events` notification after events commit, from a task of its
/// own, instead of from a trigger inside the writing transaction. A transaction that notifies
/// holds PostgreSQL's one notification lock from the start of its commit until the commit is
/// on disk, so concurrent commands committed one at a time: pgbench, 8 clients inserting into
/// a copy of `events` with its indexes, 4,446 inserts/s without the trigger and 2,076 with it
/// (docs/benchmarks.md). One NOTIFY goes out for however many commits came in while the last
/// was being sent; listeners read everything new on each wake-up anyway.
#[derive(Clone)]
pub struct CommitNotifier(Arc<watch::Sender<u64>>);

impl CommitNotifier {
    fn start(pool: PgPool) -> Self {
        let (commits, mut heard) = watch::channel(0u64);
        tokio::spawn(async move {
            // Ends when the last `Db` handle, which holds the sender, is dropped.
            while heard.changed().await.is_ok() {
                heard.mark_unchanged();
                // A notification that fails to go out costs a listener one polling interval.
                let _ = sqlx::query("SELECT pg_notify('desist_events', '')")
                    .execute(&pool)
                    .await;
            }
        });
        Self(Arc::new(commits))
    }

    fn committed(&self) {
        self.0
            .send_modify(|commits| *commits = commits.wrapping_add(1));
    }
}

impl Db {
    /// Connects to `url`: `postgres://…` with a pool of at most `max_connections`, or an
    /// SQLite file (`sqlite://path` or a plain path), created if missing.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Db, StoreError> {
        match Backend::of_url(url) {
            Backend::Postgres => {
                let options: PgConnectOptions = url.parse().map_err(StoreError::Database)?;
                // No ping before each use (sqlx's default): it doubled the round trips of every
                // statement, and a projection runner's wake-up is four statements. A connection
                // that died (the server restarted) fails its next statement, which reports an
                // error and writes nothing, and the pool then replaces it.
                let pool = PgPoolOptions::new()
                    .max_connections(max_connections)
                    .test_before_acquire(false)
                    .connect_with(
                        options
                            .application_name("desist")
                            // A page read at random costs little more than one read in order
                            // when the views are cached, as a working set this size is. At
                            // PostgreSQL's default (4, for spinning disks) a caseload's
                            // breaches were found by scanning every breach of every order
                            // (1.0 ms at national scale, 0.06 ms through the key).
                            .options([("random_page_cost", "1.1")]),
                    )
                    .await?;
                let notifier = CommitNotifier::start(pool.clone());
                Ok(Db::Postgres { pool, notifier })
            }
            Backend::Sqlite => {
                let options = sqlite_options(url)?;
                if let Some(dir) = options.get_filename().parent() {
                    if !dir.as_os_str().is_empty() {
                        std::fs::create_dir_all(dir).map_err(|e| {
                            StoreError::Config(format!("cannot create {}: {e}", dir.display()))
                        })?;
                    }
                }
                // The one writer keeps a larger page cache (16 MB, not SQLite's 2 MB): a
                // projection's batch reads and rewrites index pages all over a file that at
                // national scale is a gigabyte. It also keeps its temporary files in memory
                // (`temp_store`): a statement that changes several rows inside a transaction
                // keeps the pages it changes in a journal of its own, and past 64 KiB SQLite
                // moved that journal to a new file in /var/tmp. An audited read's one INSERT
                // of the people it showed (a page of the audit's subject index each) did
                // that on every caseload page: the database's pages written to a file outside
                // it, where `secure_delete` and an erasure's rewrite do not reach, and a dozen
                // more system calls a request. Such a journal lasts one statement, so it
                // holds little memory for little time.
                // A view's batch leaves the writer at `synchronous = NORMAL`
                // (`Db::begin_derived`); it is made FULL again as it goes back to the pool,
                // whether the batch committed or was dropped half-way, so the next user (a
                // command's append) is durable again. Only then: a statement at every use was
                // a round trip to the connection's worker thread, fourteen a command.
                // (sqlx's own ping as a connection goes back orders a dropped transaction's
                // rollback before the next `BEGIN`.)
                let local = Arc::new(SqliteLocal::default());
                let relaxed = local.clone();
                let writer = SqlitePoolOptions::new()
                    .max_connections(1)
                    .test_before_acquire(false)
                    .after_release(move |conn, _| {
                        let relaxed = relaxed.clone();
                        Box::pin(async move {
                            if relaxed.writer_relaxed.swap(false, Ordering::AcqRel) {
                                sqlx::Executor::execute(conn, "PRAGMA synchronous = FULL").await?;
                            }
                            Ok(true)
                        })
                    })
                    .connect_with(
                        options
                            .clone()
                            .pragma("cache_size", "-16384")
                            .pragma("temp_store", "MEMORY"),
                    )
                    .await?;
                let reader = SqlitePoolOptions::new()
                    .max_connections(SQLITE_READERS.min(max_connections.max(1)))
                    .connect_with(options.read_only(true))
                    .await?;
                Ok(Db::Sqlite {
                    writer,
                    reader,
                    local,
                })
            }
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Db::Postgres { .. } => Backend::Postgres,
            Db::Sqlite { .. } => Backend::Sqlite,
        }
    }

    /// Where writes (and reads that must see them at once) go.
    pub fn writer(&self) -> Pool<'_> {
        match self {
            Db::Postgres { pool, .. } => Pool::Postgres(pool),
            Db::Sqlite { writer, .. } => Pool::Sqlite(writer),
        }
    }

    /// Where read-only queries go: on SQLite they do not queue behind the writer.
    pub fn reader(&self) -> Pool<'_> {
        match self {
            Db::Postgres { pool, .. } => Pool::Postgres(pool),
            Db::Sqlite { reader, .. } => Pool::Sqlite(reader),
        }
    }

    /// Closes every connection (SQLite checkpoints its WAL into the file).
    pub async fn close(&self) {
        match self {
            Db::Postgres { pool, .. } => pool.close().await,
            Db::Sqlite { writer, reader, .. } => {
                reader.close().await;
                writer.close().await;
            }
        }
    }

    /// Rewrites `tables` so that no deleted row lingers in the database's files: PostgreSQL's
    /// VACUUM FULL writes the live rows to new files; SQLite overwrites deleted rows as it goes
    /// (secure_delete) and here moves the write-ahead log into the file and truncates it.
    pub async fn rewrite_tables(&self, tables: &[&str]) -> Result<(), sqlx::Error> {
        match self {
            Db::Postgres { pool, .. } => {
                for table in tables {
                    // It cannot run inside a transaction.
                    sqlx::query(&format!("VACUUM FULL {table}"))
                        .execute(pool)
                        .await?;
                }
            }
            Db::Sqlite { writer, .. } => {
                sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(writer)
                    .await?;
            }
        }
        Ok(())
    }

    /// Begins, on the writer, a transaction of rows derived from events that are already
    /// durable (a view's batch and its checkpoint, in one transaction): its commit does not
    /// wait for the disk. A crash may lose it, checkpoint and all, and the runner then applies
    /// the same events again; nothing acknowledged is lost. PostgreSQL: `synchronous_commit =
    /// off` for this transaction. SQLite: `synchronous = NORMAL` until the connection goes
    /// back to the pool (see [`Db::connect`]), and the next `FULL` commit flushes the
    /// write-ahead log up to and including this one.
    ///
    /// A command waits for its views, so a flush at each of their commits would be on the
    /// command's path.
    ///
    /// `postgres_settings` (`SET LOCAL …` statements, or nothing) go to PostgreSQL with the
    /// `BEGIN`, in the same round trip; SQLite has no use for them.
    pub async fn begin_derived(&self, postgres_settings: &'static str) -> Result<Tx, sqlx::Error> {
        match self {
            Db::Postgres { .. } => {
                self.writer()
                    .begin_with(format!(
                        "BEGIN; SET LOCAL synchronous_commit = off; {postgres_settings}"
                    ))
                    .await
            }
            Db::Sqlite { writer, local, .. } => {
                let (writer, local) = (writer.clone(), local.clone());
                begun(async move {
                    let connection = writer.acquire().await?;
                    // Marked while this task holds the one writing connection, so the mark
                    // is this transaction's, whether its BEGIN succeeds or not. (Hence the
                    // acquire and `Transaction::begin` apart, which is all sqlx's own
                    // `Pool::begin_with` does; that function is hidden from sqlx's docs, and
                    // Cargo.lock pins sqlx.)
                    local.writer_relaxed.store(true, Ordering::Release);
                    Transaction::begin(
                        connection,
                        Some(Cow::Borrowed(
                            "PRAGMA synchronous = NORMAL; BEGIN IMMEDIATE",
                        )),
                    )
                    .await
                    .map(Tx::Sqlite)
                })
                .await
            }
        }
    }

    /// Tells listeners that events were committed: on PostgreSQL every process's (a NOTIFY,
    /// see [`CommitNotifier`]), on SQLite this process's, the only one that writes. Every
    /// writer of events calls it after its commit; a listener that misses one still polls.
    pub fn events_committed(&self) {
        match self {
            Db::Postgres { notifier, .. } => notifier.committed(),
            Db::Sqlite { local, .. } => local.events.send_modify(|commits| *commits += 1),
        }
    }

    /// Takes the named lock if no one holds it; held until the returned guard is dropped.
    /// PostgreSQL: a session advisory lock on a connection of its own (so that a stopped
    /// holder's lock goes with its connection). SQLite: a lock in this process, the only one
    /// that writes.
    pub async fn try_lock(&self, key: &str) -> Result<Option<Lock>, StoreError> {
        match self {
            Db::Postgres { pool, .. } => {
                let options = (*pool.connect_options()).clone();
                let mut conn = PgConnection::connect_with(&options).await?;
                let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtext($1))")
                    .bind(key)
                    .fetch_one(&mut conn)
                    .await?;
                Ok(locked.then_some(Lock::Postgres(conn)))
            }
            Db::Sqlite { local, .. } => {
                let mutex = {
                    let mut locks = local
                        .locks
                        .lock()
                        .map_err(|_| StoreError::Config("a lock table was poisoned".into()))?;
                    locks.entry(key.to_string()).or_default().clone()
                };
                Ok(mutex.try_lock_owned().ok().map(Lock::Sqlite))
            }
        }
    }
}

impl Db {
    /// Hears every commit of events from now on: PostgreSQL's `desist_events` notification
    /// (from any process), or the SQLite writer's signal (this process is the only writer).
    pub async fn subscribe_events(&self) -> Result<EventSignal, StoreError> {
        Ok(match self {
            Db::Postgres { pool, .. } => {
                let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
                listener.listen("desist_events").await?;
                EventSignal::Postgres(Box::new(listener))
            }
            Db::Sqlite { local, .. } => EventSignal::Sqlite(local.events.subscribe()),
        })
    }
}

/// Commits one wake-up of an [`EventSignal`] takes in at most.
const MAX_COALESCED: usize = 100_000;

/// See [`Db::subscribe_events`].
pub enum EventSignal {
    Postgres(Box<sqlx::postgres::PgListener>),
    Sqlite(watch::Receiver<u64>),
}

impl EventSignal {
    /// Resolves at the next commit of events (or at once if one happened since the last call).
    /// A broken connection also resolves it: callers poll anyway.
    pub async fn next(&mut self) {
        match self {
            EventSignal::Postgres(listener) => {
                let _ = listener.recv().await;
                // One wake-up for every commit already received: the caller reads them all.
                // (After a bulk load, waking once per commit kept the server busy for minutes
                // after the views had caught up.)
                self.take_pending().await;
            }
            EventSignal::Sqlite(commits) => {
                if commits.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        }
    }

    /// Takes in, without waiting, every commit heard so far, so that the next [`next`] waits
    /// for a later one: a reader about to read the feed calls it, since what it reads includes
    /// those commits (or, for one an earlier open transaction hides, the reader looks for
    /// hidden events itself). Without it, the commits heard while a batch was applied woke
    /// the reader again for events it had already read.
    ///
    /// [`next`]: EventSignal::next
    pub async fn take_pending(&mut self) {
        match self {
            // They are in the socket, not only in the listener's buffer (`next_buffered`):
            // receive each that is there without waiting. At most a bounded number, so a
            // steady stream of commits still wakes the caller. Polled once each, not under a
            // zero timeout: tokio's timer counts whole milliseconds, so a timeout of zero
            // waited for its next tick, a millisecond on every wake-up (PostgreSQL's log:
            // 2–3 ms from a command's notification to the views' read at one client).
            EventSignal::Postgres(listener) => {
                for _ in 0..MAX_COALESCED {
                    match listener.try_recv().now_or_never() {
                        Some(Ok(Some(_))) => {}
                        _ => break,
                    }
                }
            }
            EventSignal::Sqlite(commits) => {
                commits.borrow_and_update();
            }
        }
    }
}

/// A held lock (see [`Db::try_lock`]).
pub enum Lock {
    Postgres(PgConnection),
    Sqlite(OwnedMutexGuard<()>),
}

impl Lock {
    pub async fn release(self) {
        match self {
            Lock::Postgres(conn) => {
                // Closing the session releases every advisory lock it holds.
                let _ = conn.close().await;
            }
            Lock::Sqlite(guard) => drop(guard),
        }
    }
}

/// The SQLite settings Desist relies on: WAL (readers beside the writer), `synchronous=FULL`
/// (a command acknowledged is on disk, even if the machine loses power), a busy timeout for
/// other processes on the same file, and foreign keys.
fn sqlite_options(url: &str) -> Result<SqliteConnectOptions, StoreError> {
    let options = if url.starts_with("sqlite:") {
        SqliteConnectOptions::from_str(url).map_err(StoreError::Database)?
    } else {
        SqliteConnectOptions::new().filename(Path::new(url))
    };
    Ok(options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .foreign_keys(true)
        // Deleted rows (an erased subject's key) are overwritten, not just unlinked.
        .pragma("secure_delete", "ON"))
}

/// A borrowed pool to run statements on.
#[derive(Clone, Copy)]
pub enum Pool<'a> {
    Postgres(&'a PgPool),
    Sqlite(&'a SqlitePool),
}

impl<'a> Pool<'a> {
    pub fn backend(&self) -> Backend {
        match self {
            Pool::Postgres(_) => Backend::Postgres,
            Pool::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Begins a transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`),
    /// so a transaction that reads before it writes cannot fail half-way on a lock upgrade.
    ///
    /// The BEGIN runs in a task of its own, so that a caller dropped while it is in flight (a
    /// request's timeout, an aborted runner) cannot leave it half done: sqlx's `begin` is not
    /// cancel-safe (launchbadge/sqlx#2054, #4393), and a connection whose BEGIN ran without
    /// its `Transaction` goes back to the pool still inside it, failing its next user
    /// ("attempted to call begin_with at non-zero transaction depth" on SQLite). Finished in
    /// its task, the transaction is dropped there and rolled back as any other.
    pub async fn begin(self) -> Result<Tx, sqlx::Error> {
        match self {
            Pool::Postgres(_) => self.begin_with("BEGIN").await,
            Pool::Sqlite(_) => self.begin_with("BEGIN IMMEDIATE").await,
        }
    }

    /// Begins a transaction with `statement`, in a task of its own (see [`Pool::begin`]).
    async fn begin_with(self, statement: impl Into<Cow<'static, str>>) -> Result<Tx, sqlx::Error> {
        let statement = statement.into();
        match self {
            Pool::Postgres(pool) => {
                let pool = pool.clone();
                begun(async move { pool.begin_with(statement).await.map(Tx::Postgres) }).await
            }
            Pool::Sqlite(pool) => {
                let pool = pool.clone();
                begun(async move { pool.begin_with(statement).await.map(Tx::Sqlite) }).await
            }
        }
    }
}

/// Awaits a transaction's beginning run in a task of its own (see [`Pool::begin`]).
async fn begun(
    beginning: impl std::future::Future<Output = Result<Tx, sqlx::Error>> + Send + 'static,
) -> Result<Tx, sqlx::Error> {
    tokio::spawn(beginning)
        .await
        .map_err(|e| sqlx::Error::Io(std::io::Error::other(e)))?
}

impl Pool<'_> {
    /// Begins a transaction that holds the named lock until it ends: an advisory transaction
    /// lock on PostgreSQL; on SQLite the write lock `BEGIN IMMEDIATE` takes serialises it.
    pub async fn begin_locked(self, key: &str) -> Result<Tx, sqlx::Error> {
        let mut tx = self.begin().await?;
        if let Tx::Postgres(pg) = &mut tx {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
                .bind(key)
                .execute(&mut **pg)
                .await?;
        }
        Ok(tx)
    }

    /// Begins a read-only transaction that sees one consistent snapshot throughout (for
    /// backups): REPEATABLE READ on PostgreSQL, a read transaction on SQLite (WAL; use a
    /// reader pool).
    pub async fn begin_snapshot(self) -> Result<Tx, sqlx::Error> {
        match self {
            Pool::Postgres(_) => {
                self.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .await
            }
            Pool::Sqlite(_) => self.begin_with("BEGIN").await,
        }
    }

    /// Begins a read-only transaction, with `postgres_settings` (`SET LOCAL …` statements, or
    /// nothing) sent with the `BEGIN` on PostgreSQL. Use a reader pool on SQLite.
    pub async fn begin_reading(self, postgres_settings: &'static str) -> Result<Tx, sqlx::Error> {
        match self {
            Pool::Postgres(_) => {
                self.begin_with(format!("BEGIN READ ONLY; {postgres_settings}"))
                    .await
            }
            Pool::Sqlite(_) => self.begin_with("BEGIN").await,
        }
    }

    /// Takes one connection from the pool for several statements in a row. Each statement
    /// run on the pool itself takes a connection and gives it back, and sqlx tests every
    /// connection it takes back with a round trip (`return_to_pool` pings it): a caseload's
    /// seven statements cost seven more round trips that way.
    pub async fn acquire(self) -> Result<Conn, sqlx::Error> {
        Ok(match self {
            Pool::Postgres(pool) => Conn::Postgres(pool.acquire().await?),
            Pool::Sqlite(pool) => Conn::Sqlite(pool.acquire().await?),
        })
    }
}

/// A connection taken from a pool ([`Pool::acquire`]); dropped, it goes back.
pub enum Conn {
    Postgres(sqlx::pool::PoolConnection<Postgres>),
    Sqlite(sqlx::pool::PoolConnection<Sqlite>),
}

/// A transaction on either backend. Dropped without [`Tx::commit`], it rolls back.
pub enum Tx {
    Postgres(Transaction<'static, Postgres>),
    Sqlite(Transaction<'static, Sqlite>),
}

impl Tx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Postgres(tx) => tx.commit().await,
            Tx::Sqlite(tx) => tx.commit().await,
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Tx::Postgres(_) => Backend::Postgres,
            Tx::Sqlite(_) => Backend::Sqlite,
        }
    }
}

/// Where a statement runs: a pool or an open transaction.
pub enum Target<'e> {
    PgPool(&'e PgPool),
    PgConn(&'e mut PgConnection),
    SqlitePool(&'e SqlitePool),
    SqliteConn(&'e mut SqliteConnection),
}

impl Target<'_> {
    pub fn backend(&self) -> Backend {
        match self {
            Target::PgPool(_) | Target::PgConn(_) => Backend::Postgres,
            Target::SqlitePool(_) | Target::SqliteConn(_) => Backend::Sqlite,
        }
    }
}

impl<'e> From<Pool<'e>> for Target<'e> {
    fn from(pool: Pool<'e>) -> Self {
        match pool {
            Pool::Postgres(p) => Target::PgPool(p),
            Pool::Sqlite(p) => Target::SqlitePool(p),
        }
    }
}

impl<'e> From<&'e Db> for Target<'e> {
    fn from(db: &'e Db) -> Self {
        db.writer().into()
    }
}

impl<'e> From<&'e mut PgConnection> for Target<'e> {
    fn from(conn: &'e mut PgConnection) -> Self {
        Target::PgConn(conn)
    }
}

impl<'e> From<&'e mut SqliteConnection> for Target<'e> {
    fn from(conn: &'e mut SqliteConnection) -> Self {
        Target::SqliteConn(conn)
    }
}

impl<'e> From<&'e mut Conn> for Target<'e> {
    fn from(conn: &'e mut Conn) -> Self {
        match conn {
            Conn::Postgres(c) => Target::PgConn(c),
            Conn::Sqlite(c) => Target::SqliteConn(c),
        }
    }
}

impl<'e> From<&'e mut Tx> for Target<'e> {
    fn from(tx: &'e mut Tx) -> Self {
        match tx {
            Tx::Postgres(tx) => Target::PgConn(tx),
            Tx::Sqlite(tx) => Target::SqliteConn(tx),
        }
    }
}

/// A value bound to a placeholder. Nulls keep their type, which PostgreSQL needs.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Text(Option<String>),
    Int(Option<i64>),
    Int4(Option<i32>),
    Float(Option<f64>),
    Bool(Option<bool>),
    Date(Option<NaiveDate>),
    Time(Option<DateTime<Utc>>),
    Json(Option<Value>),
    Bytes(Option<Vec<u8>>),
    /// A whole column of values, bound as one PostgreSQL array (see [`Column`]).
    Column(Column),
}

/// One column's values for a multi-row statement on PostgreSQL: bound as a single array and
/// spread back into rows by `UNNEST($n::type[])`. A statement with an array per column has
/// the same text whatever the number of rows, so it is prepared once; a VALUES list of
/// thousands of placeholders was parsed and planned again for every batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    Text(Vec<Option<String>>),
    Int(Vec<Option<i64>>),
    Int4(Vec<Option<i32>>),
    Float(Vec<Option<f64>>),
    Bool(Vec<Option<bool>>),
    Date(Vec<Option<NaiveDate>>),
    Time(Vec<Option<DateTime<Utc>>>),
    Json(Vec<Option<Value>>),
    Bytes(Vec<Option<Vec<u8>>>),
}

impl Column {
    /// The column of `values`, which must all be of one kind (one table column's values).
    /// `None` when there are none to tell the kind by, or they mix kinds.
    pub fn of(values: Vec<Arg>) -> Option<Column> {
        macro_rules! column_of {
            ($($kind:ident),+) => {
                match values.first()? {
                    $(Arg::$kind(_) => Column::$kind(
                        values
                            .into_iter()
                            .map(|arg| match arg {
                                Arg::$kind(value) => Some(value),
                                _ => None,
                            })
                            .collect::<Option<_>>()?,
                    ),)+
                    Arg::Column(_) => return None,
                }
            };
        }
        Some(column_of!(
            Text, Int, Int4, Float, Bool, Date, Time, Json, Bytes
        ))
    }

    /// The array type to cast its placeholder to, so that `UNNEST` knows each column's type.
    pub fn array_type(&self) -> &'static str {
        match self {
            Column::Text(_) => "text[]",
            Column::Int(_) => "int8[]",
            Column::Int4(_) => "int4[]",
            Column::Float(_) => "float8[]",
            Column::Bool(_) => "bool[]",
            Column::Date(_) => "date[]",
            Column::Time(_) => "timestamptz[]",
            Column::Json(_) => "jsonb[]",
            Column::Bytes(_) => "bytea[]",
        }
    }
}

macro_rules! arg_from {
    ($variant:ident, $ty:ty, $conv:expr) => {
        impl From<$ty> for Arg {
            fn from(value: $ty) -> Arg {
                #[allow(clippy::redundant_closure_call)]
                Arg::$variant(Some(($conv)(value)))
            }
        }
        impl From<Option<$ty>> for Arg {
            fn from(value: Option<$ty>) -> Arg {
                #[allow(clippy::redundant_closure_call)]
                Arg::$variant(value.map($conv))
            }
        }
    };
}

arg_from!(Text, String, |v| v);
arg_from!(Text, &str, |v: &str| v.to_string());
arg_from!(Text, &String, |v: &String| v.clone());
arg_from!(Text, &&str, |v: &&str| v.to_string());
arg_from!(Int, i64, |v| v);
arg_from!(Int, &i64, |v: &i64| *v);
arg_from!(Int4, i32, |v| v);
arg_from!(Float, f64, |v| v);
arg_from!(Bool, bool, |v| v);
arg_from!(Date, NaiveDate, |v| v);
arg_from!(Date, &NaiveDate, |v: &NaiveDate| *v);
arg_from!(Time, DateTime<Utc>, |v| v);
arg_from!(Time, &DateTime<Utc>, |v: &DateTime<Utc>| *v);
arg_from!(Json, Value, |v| v);
arg_from!(Json, &Value, |v: &Value| v.clone());
arg_from!(Bytes, Vec<u8>, |v| v);
arg_from!(Bytes, &[u8], |v: &[u8]| v.to_vec());
arg_from!(Bytes, &Vec<u8>, |v: &Vec<u8>| v.clone());

arg_from!(Int4, &i32, |v: &i32| *v);
arg_from!(Float, &f64, |v: &f64| *v);
arg_from!(Bool, &bool, |v: &bool| *v);

impl<T: Clone> From<&Option<T>> for Arg
where
    Arg: From<Option<T>>,
{
    fn from(value: &Option<T>) -> Arg {
        Arg::from(value.clone())
    }
}

impl Arg {
    /// A list of ids bound as one value, for [`any_of`].
    pub fn ids<I: IntoIterator<Item = S>, S: Into<String>>(ids: I) -> Arg {
        Arg::Column(Column::Text(
            ids.into_iter().map(|id| Some(id.into())).collect(),
        ))
    }

    fn add_pg(self, args: &mut PgArguments) -> Result<(), sqlx::Error> {
        use sqlx::Arguments;
        let result = match self {
            Arg::Text(v) => args.add(v),
            Arg::Int(v) => args.add(v),
            Arg::Int4(v) => args.add(v),
            Arg::Float(v) => args.add(v),
            Arg::Bool(v) => args.add(v),
            Arg::Date(v) => args.add(v),
            Arg::Time(v) => args.add(v),
            Arg::Json(v) => args.add(v),
            Arg::Bytes(v) => args.add(v),
            Arg::Column(column) => match column {
                Column::Text(v) => args.add(v),
                Column::Int(v) => args.add(v),
                Column::Int4(v) => args.add(v),
                Column::Float(v) => args.add(v),
                Column::Bool(v) => args.add(v),
                Column::Date(v) => args.add(v),
                Column::Time(v) => args.add(v),
                Column::Json(v) => args.add(v),
                Column::Bytes(v) => args.add(v),
            },
        };
        result.map_err(sqlx::Error::Encode)
    }

    fn add_sqlite(self, args: &mut SqliteArguments<'static>) -> Result<(), sqlx::Error> {
        use sqlx::Arguments;
        let result = match self {
            Arg::Text(v) => args.add(v),
            Arg::Int(v) => args.add(v),
            Arg::Int4(v) => args.add(v),
            Arg::Float(v) => args.add(v),
            Arg::Bool(v) => args.add(v),
            Arg::Date(v) => args.add(v),
            // One text form for every stored time, so that times compare as text.
            Arg::Time(v) => {
                args.add(v.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)))
            }
            Arg::Json(v) => args.add(v.map(|j| j.to_string())),
            Arg::Bytes(v) => args.add(v),
            // SQLite has no arrays: a list of ids goes as one JSON array, for `json_each`
            // (see [`any_of`]). Other columns are written as VALUES lists there.
            Arg::Column(Column::Text(ids)) => args.add(serde_json::to_string(&ids).ok()),
            Arg::Column(_) => return Err(sqlx::Error::Encode("SQLite has no array values".into())),
        };
        result.map_err(sqlx::Error::Encode)
    }
}

/// `$start, $start+1, …` for `count` values, or `NULL` when there are none (an empty `IN ()`
/// is an error on PostgreSQL), for `column IN (…)` lists that work on both backends.
pub fn placeholders(start: usize, count: usize) -> String {
    if count == 0 {
        return "NULL".to_string();
    }
    let mut list = String::with_capacity(count * 7);
    push_placeholders(&mut list, start, count);
    list
}

/// `column` is one of the ids bound at `$n` as one value ([`Arg::ids`]): `column = ANY($n)` on
/// PostgreSQL, `column IN (SELECT value FROM json_each($n))` on SQLite. Unlike an `IN ($1, …)`
/// list, the statement's text is the same however many ids there are, so it is prepared once
/// and its plan kept: a caseload's statements were parsed and planned again for every request.
pub fn any_of(backend: Backend, column: &str, n: usize) -> String {
    match backend {
        Backend::Postgres => format!("{column} = ANY(${n})"),
        Backend::Sqlite => format!("{column} IN (SELECT value FROM json_each(${n}))"),
    }
}

/// `ids` in lists short enough for one `… IN (…)` statement each (at most a thousand, fewer
/// where the backend wants fewer values in a statement).
pub fn id_lists<T>(backend: Backend, ids: &[T]) -> std::slice::Chunks<'_, T> {
    ids.chunks(backend.values_per_statement().min(1_000))
}

/// `($1, …, $width), ($width+1, …), …` for `rows` rows: the VALUES list of a multi-row INSERT.
pub fn row_placeholders(rows: usize, width: usize) -> String {
    values_list(rows, width, |_| "")
}

/// [`row_placeholders`] with a cast after each column's placeholder (`"::uuid"`, or `""` for
/// none): PostgreSQL takes a text value for a uuid column only when told.
pub fn cast_row_placeholders(rows: usize, casts: &[&str]) -> String {
    values_list(rows, casts.len(), |column| casts[column])
}

/// The VALUES list of `rows` rows of `width` placeholders, each followed by its column's cast.
fn values_list<'a>(rows: usize, width: usize, cast: impl Fn(usize) -> &'a str) -> String {
    use std::fmt::Write;
    // Written into one string: a projection batch's upserts list tens of thousands of values,
    // and a string per value was a visible share of a rebuild.
    let mut list = String::with_capacity(rows * (width * 9 + 4));
    for row in 0..rows {
        if row > 0 {
            list.push_str(", ");
        }
        list.push('(');
        for column in 0..width {
            if column > 0 {
                list.push_str(", ");
            }
            // Writing to a String cannot fail.
            let _ = write!(list, "${}{}", row * width + column + 1, cast(column));
        }
        list.push(')');
    }
    list
}

fn push_placeholders(list: &mut String, start: usize, count: usize) {
    use std::fmt::Write;
    for i in start..start + count {
        if i > start {
            list.push_str(", ");
        }
        // Writing to a String cannot fail.
        let _ = write!(list, "${i}");
    }
}

/// A statement and its values, run on whichever backend the target is.
#[must_use]
pub struct Query<T> {
    sql: Cow<'static, str>,
    args: Vec<Arg>,
    persistent: bool,
    _row: std::marker::PhantomData<fn() -> T>,
}

/// A statement whose result rows are not read.
pub fn query(sql: impl Into<Cow<'static, str>>) -> Query<()> {
    Query {
        sql: sql.into(),
        args: Vec::new(),
        persistent: true,
        _row: std::marker::PhantomData,
    }
}

/// A statement whose rows decode as `T` (usually a tuple) on both backends.
pub fn query_as<T>(sql: impl Into<Cow<'static, str>>) -> Query<T> {
    Query {
        sql: sql.into(),
        args: Vec::new(),
        persistent: true,
        _row: std::marker::PhantomData,
    }
}

/// The bounds a row type needs to decode on both backends.
pub trait Row:
    for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin + 'static
{
}
impl<T> Row for T where
    T: for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin + 'static
{
}

impl<T> Query<T> {
    pub fn bind(mut self, value: impl Into<Arg>) -> Self {
        self.args.push(value.into());
        self
    }

    /// Binds every value in turn (for [`placeholders`] lists).
    pub fn bind_all<V: Into<Arg>>(mut self, values: impl IntoIterator<Item = V>) -> Self {
        self.args.extend(values.into_iter().map(Into::into));
        self
    }

    /// For a statement whose text varies with its values (a list's length): it is not kept
    /// prepared, where each variant would push a statement that recurs out of the cache.
    pub fn one_off(mut self) -> Self {
        self.persistent = false;
        self
    }

    /// The values, moved out for the driver (a bound column can hold thousands of values).
    fn pg_args(&mut self) -> Result<PgArguments, sqlx::Error> {
        let mut args = PgArguments::default();
        for arg in std::mem::take(&mut self.args) {
            arg.add_pg(&mut args)?;
        }
        Ok(args)
    }

    fn sqlite_args(&mut self) -> Result<SqliteArguments<'static>, sqlx::Error> {
        let mut args = SqliteArguments::default();
        for arg in std::mem::take(&mut self.args) {
            arg.add_sqlite(&mut args)?;
        }
        Ok(args)
    }

    /// Runs the statement; returns how many rows it changed.
    pub async fn execute<'e>(mut self, target: impl Into<Target<'e>>) -> Result<u64, sqlx::Error> {
        let sql = std::mem::take(&mut self.sql);
        let sql = sql.as_ref();
        let done = match target.into() {
            Target::PgPool(p) => sqlx::query_with(sql, self.pg_args()?)
                .persistent(self.persistent)
                .execute(p)
                .await?
                .rows_affected(),
            Target::PgConn(c) => sqlx::query_with(sql, self.pg_args()?)
                .persistent(self.persistent)
                .execute(c)
                .await?
                .rows_affected(),
            Target::SqlitePool(p) => sqlx::query_with(sql, self.sqlite_args()?)
                .persistent(self.persistent)
                .execute(p)
                .await?
                .rows_affected(),
            Target::SqliteConn(c) => sqlx::query_with(sql, self.sqlite_args()?)
                .persistent(self.persistent)
                .execute(c)
                .await?
                .rows_affected(),
        };
        Ok(done)
    }
}

impl<T: Row> Query<T> {
    pub async fn fetch_all<'e>(
        mut self,
        target: impl Into<Target<'e>>,
    ) -> Result<Vec<T>, sqlx::Error> {
        let sql = std::mem::take(&mut self.sql);
        let sql = sql.as_ref();
        match target.into() {
            Target::PgPool(p) => {
                sqlx::query_as_with(sql, self.pg_args()?)
                    .persistent(self.persistent)
                    .fetch_all(p)
                    .await
            }
            Target::PgConn(c) => {
                sqlx::query_as_with(sql, self.pg_args()?)
                    .persistent(self.persistent)
                    .fetch_all(c)
                    .await
            }
            Target::SqlitePool(p) => {
                sqlx::query_as_with(sql, self.sqlite_args()?)
                    .persistent(self.persistent)
                    .fetch_all(p)
                    .await
            }
            Target::SqliteConn(c) => {
                sqlx::query_as_with(sql, self.sqlite_args()?)
                    .persistent(self.persistent)
                    .fetch_all(c)
                    .await
            }
        }
    }

    pub async fn fetch_optional<'e>(
        mut self,
        target: impl Into<Target<'e>>,
    ) -> Result<Option<T>, sqlx::Error> {
        let sql = std::mem::take(&mut self.sql);
        let sql = sql.as_ref();
        match target.into() {
            Target::PgPool(p) => {
                sqlx::query_as_with(sql, self.pg_args()?)
                    .persistent(self.persistent)
                    .fetch_optional(p)
                    .await
            }
            Target::PgConn(c) => {
                sqlx::query_as_with(sql, self.pg_args()?)
                    .persistent(self.persistent)
                    .fetch_optional(c)
                    .await
            }
            Target::SqlitePool(p) => {
                sqlx::query_as_with(sql, self.sqlite_args()?)
                    .persistent(self.persistent)
                    .fetch_optional(p)
                    .await
            }
            Target::SqliteConn(c) => {
                sqlx::query_as_with(sql, self.sqlite_args()?)
                    .persistent(self.persistent)
                    .fetch_optional(c)
                    .await
            }
        }
    }

    pub async fn fetch_one<'e>(self, target: impl Into<Target<'e>>) -> Result<T, sqlx::Error> {
        self.fetch_optional(target)
            .await?
            .ok_or(sqlx::Error::RowNotFound)
    }
}

/// A statement whose rows are one column of `S` (see [`query_scalar`]).
#[must_use]
pub struct Scalar<S>(Query<(S,)>);

/// A statement whose rows are one column of `S`.
pub fn query_scalar<S>(sql: impl Into<Cow<'static, str>>) -> Scalar<S> {
    Scalar(query_as(sql))
}

impl<S> Scalar<S>
where
    (S,): Row,
{
    pub fn bind(self, value: impl Into<Arg>) -> Self {
        Scalar(self.0.bind(value))
    }

    pub fn bind_all<V: Into<Arg>>(self, values: impl IntoIterator<Item = V>) -> Self {
        Scalar(self.0.bind_all(values))
    }

    /// See [`Query::one_off`].
    pub fn one_off(self) -> Self {
        Scalar(self.0.one_off())
    }

    pub async fn fetch_all<'e>(self, target: impl Into<Target<'e>>) -> Result<Vec<S>, sqlx::Error> {
        Ok(self
            .0
            .fetch_all(target)
            .await?
            .into_iter()
            .map(|(s,)| s)
            .collect())
    }

    pub async fn fetch_one<'e>(self, target: impl Into<Target<'e>>) -> Result<S, sqlx::Error> {
        Ok(self.0.fetch_one(target).await?.0)
    }

    pub async fn fetch_optional<'e>(
        self,
        target: impl Into<Target<'e>>,
    ) -> Result<Option<S>, sqlx::Error> {
        Ok(self.0.fetch_optional(target).await?.map(|(s,)| s))
    }
}

/// The cqrs-es event repository for the backend: postgres-es or sqlite-es, used as they are.
pub enum EventRepository {
    Postgres(postgres_es::PostgresEventRepository, PgPool),
    Sqlite(sqlite_es::SqliteEventRepository, SqlitePool),
}

/// Events written by one INSERT at most (seven values each), fewer where the backend wants
/// fewer values in a statement.
fn events_per_insert(backend: Backend) -> usize {
    (backend.values_per_statement() / 7).min(1_000)
}

impl EventRepository {
    pub fn new(db: &Db) -> Self {
        match db {
            Db::Postgres { pool, .. } => EventRepository::Postgres(
                postgres_es::PostgresEventRepository::new(pool.clone()),
                pool.clone(),
            ),
            Db::Sqlite { writer, .. } => EventRepository::Sqlite(
                sqlite_es::SqliteEventRepository::new(writer.clone()),
                writer.clone(),
            ),
        }
    }

    /// Appends `events` in one transaction, in multi-row INSERTs. The crates insert
    /// one row per statement: a course imported at once (forty events) was forty round trips.
    /// The rows, and what a clash means, are the crates' own.
    async fn insert_events<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
    ) -> Result<(), PersistenceError> {
        let pool = match self {
            EventRepository::Postgres(_, pool) => Pool::Postgres(pool),
            EventRepository::Sqlite(_, pool) => Pool::Sqlite(pool),
        };
        let full = events_per_insert(pool.backend());
        let chunks: Vec<&[SerializedEvent]> = events.chunks(full).collect();
        if let [only] = chunks.as_slice() {
            // One statement is atomic on its own, its triggers (the command log, SQLite's
            // positions) and all: no BEGIN and COMMIT, two round trips fewer a command.
            insert_chunk::<A>(only, full)
                .execute(pool)
                .await
                .map_err(persistence_error)?;
            return Ok(());
        }
        let mut tx = pool.begin().await.map_err(persistence_error)?;
        for chunk in chunks {
            insert_chunk::<A>(chunk, full)
                .execute(&mut tx)
                .await
                .map_err(persistence_error)?;
        }
        tx.commit().await.map_err(persistence_error)
    }
}

/// One multi-row INSERT of `chunk` into `events`. Two lengths recur, so their statements are
/// kept prepared: a single event (most commands') and a `full` chunk (a bulk import's every
/// statement but its last). Other lengths vary with the batch and are prepared once.
fn insert_chunk<A: Aggregate>(chunk: &[SerializedEvent], full: usize) -> Query<()> {
    let insert = query(format!(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
                             event_version, payload, metadata) VALUES {}",
        row_placeholders(chunk.len(), 7)
    ))
    .bind_all(chunk.iter().flat_map(|e| {
        [
            Arg::from(A::TYPE),
            Arg::from(e.aggregate_id.as_str()),
            Arg::Int(i64::try_from(e.sequence).ok()),
            Arg::from(e.event_type.as_str()),
            Arg::from(e.event_version.as_str()),
            Arg::from(&e.payload),
            Arg::from(&e.metadata),
        ]
    }));
    if chunk.len() == 1 || chunk.len() == full {
        insert
    } else {
        insert.one_off()
    }
}

/// A write error as the event store crates report it: a duplicate key (PostgreSQL 23505,
/// SQLite 1555) means another writer got there first.
fn persistence_error(e: sqlx::Error) -> PersistenceError {
    if let sqlx::Error::Database(d) = &e {
        if matches!(d.code().as_deref(), Some("23505") | Some("1555")) {
            return PersistenceError::OptimisticLockError;
        }
    }
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) => PersistenceError::ConnectionError(Box::new(e)),
        other => PersistenceError::UnknownError(Box::new(other)),
    }
}

impl PersistedEventRepository for EventRepository {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        match self {
            EventRepository::Postgres(r, _) => r.get_events::<A>(aggregate_id).await,
            EventRepository::Sqlite(r, _) => r.get_events::<A>(aggregate_id).await,
        }
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        match self {
            EventRepository::Postgres(r, _) => {
                r.get_last_events::<A>(aggregate_id, last_sequence).await
            }
            EventRepository::Sqlite(r, _) => {
                r.get_last_events::<A>(aggregate_id, last_sequence).await
            }
        }
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        match self {
            EventRepository::Postgres(r, _) => r.get_snapshot::<A>(aggregate_id).await,
            EventRepository::Sqlite(r, _) => r.get_snapshot::<A>(aggregate_id).await,
        }
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        match (self, snapshot_update) {
            (_, None) => self.insert_events::<A>(events).await,
            (EventRepository::Postgres(r, _), snapshot) => r.persist::<A>(events, snapshot).await,
            (EventRepository::Sqlite(r, _), snapshot) => r.persist::<A>(events, snapshot).await,
        }
    }

    async fn stream_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        match self {
            EventRepository::Postgres(r, _) => r.stream_events::<A>(aggregate_id).await,
            EventRepository::Sqlite(r, _) => r.stream_events::<A>(aggregate_id).await,
        }
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        match self {
            EventRepository::Postgres(r, _) => r.stream_all_events::<A>().await,
            EventRepository::Sqlite(r, _) => r.stream_all_events::<A>().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_column_keeps_its_values_in_order_with_their_nulls() {
        let values = vec![Arg::from("a"), Arg::Text(None), Arg::from("c")];
        let column = Column::of(values);
        assert_eq!(
            column,
            Some(Column::Text(vec![Some("a".into()), None, Some("c".into())]))
        );
        assert_eq!(column.map(|c| c.array_type()), Some("text[]"));
    }

    #[test]
    fn a_column_of_mixed_kinds_or_of_nothing_is_refused() {
        assert_eq!(Column::of(vec![Arg::from(1_i32), Arg::from("x")]), None);
        assert_eq!(Column::of(Vec::new()), None);
    }

    #[test]
    fn a_values_list_numbers_its_placeholders_row_after_row_with_their_casts() {
        assert_eq!(row_placeholders(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(
            cast_row_placeholders(2, &["", "::uuid"]),
            "($1, $2::uuid), ($3, $4::uuid)"
        );
    }
}
