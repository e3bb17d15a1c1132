//! Tails the global feed and keeps one projection's tables up to date.
//!
//! Each batch of events and the checkpoint after it are written in one transaction, so every
//! event changes the views exactly once: a crash before commit rolls the batch back and the
//! next run starts again from the same checkpoint. One runner per projection generation runs at
//! a time ([`Db::try_lock`]: across processes on PostgreSQL). Runners wake when events commit
//! (PostgreSQL's `desist_events` notification, or the SQLite writer's signal) and also poll, in
//! case a wake-up is missed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use desist_store::db::{self, Db, EventSignal, Lock, Tx};
use desist_store::feed::{has_events_after, read_raw_after, Payloads, RawFeedEvent};
use desist_store::FeedPosition;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::decode::{decode, Decoded};
use crate::projection::Applied;
use crate::registry::{self, checkpoint, ensure_live, live_generation};
use crate::{Generation, Projection, ProjectionError};

/// A test hook called with the batch size just before commit; `true` simulates a crash there.
pub type CrashHook = Arc<dyn Fn(usize) -> bool + Send + Sync>;

#[derive(Clone)]
pub struct RunnerOptions {
    pub batch_size: i64,
    pub poll_interval: Duration,
    pub crash_before_commit: Option<CrashHook>,
    /// Told after every batch commits: a server's mutations wait on it to show their own
    /// writes, instead of asking the database for the checkpoints.
    pub applied: Option<AppliedViews>,
}

impl RunnerOptions {
    /// The test hook's verdict on a batch of `events` about to commit: a simulated crash
    /// (the caller then drops its transaction without committing, as a crash would).
    pub(crate) fn crash_if_asked(&self, events: u64) -> Result<(), ProjectionError> {
        match &self.crash_before_commit {
            Some(crash) if crash(events as usize) => Err(ProjectionError::SimulatedCrash),
            _ => Ok(()),
        }
    }
}

impl Default for RunnerOptions {
    fn default() -> Self {
        Self {
            batch_size: 10_000,
            poll_interval: Duration::from_secs(1),
            crash_before_commit: None,
            applied: None,
        }
    }
}

/// How far this process's runners have applied each live view: where a mutation looks to
/// know its write is visible (read-your-writes) without a query. Asking the database was
/// seven statements a command under load, a quarter of all it ran (PostgreSQL's statement
/// log, docs/benchmarks.md). A view is here only while a runner of this process holds it;
/// views applied by another instance are not, and waiters then ask the database.
#[derive(Clone)]
pub struct AppliedViews(Arc<watch::Sender<HashMap<&'static str, FeedPosition>>>);

impl Default for AppliedViews {
    fn default() -> Self {
        Self(Arc::new(watch::Sender::new(HashMap::new())))
    }
}

impl AppliedViews {
    /// Waiters are woken only when the checkpoint moved: a runner records where it stands
    /// after every wake-up, most of them with nothing new.
    fn record(&self, name: &'static str, checkpoint: FeedPosition) {
        self.0
            .send_if_modified(|views| views.insert(name, checkpoint) != Some(checkpoint));
    }

    fn forget(&self, name: &'static str) {
        self.0
            .send_if_modified(|views| views.remove(name).is_some());
    }

    /// Sees every change from now on.
    pub fn subscribe(&self) -> watch::Receiver<HashMap<&'static str, FeedPosition>> {
        self.0.subscribe()
    }

    /// Whether every view (`crate::NAMES`) in `views` has applied the feed up to `position`.
    pub fn all_reached(
        views: &HashMap<&'static str, FeedPosition>,
        position: FeedPosition,
    ) -> bool {
        crate::NAMES
            .iter()
            .all(|name| views.get(name).is_some_and(|at| *at >= position))
    }

    /// Whether this process's runners apply every view (`crate::NAMES`).
    pub fn all_here(views: &HashMap<&'static str, FeedPosition>) -> bool {
        crate::NAMES.iter().all(|name| views.contains_key(name))
    }
}

pub struct Runner<P: Projection> {
    projection: P,
    db: Db,
    options: RunnerOptions,
}

/// What one call of [`Runner::catch_up`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    pub events: u64,
    pub batches: u64,
    pub checkpoint: FeedPosition,
}

impl<P: Projection> Runner<P> {
    pub fn new(projection: P, db: Db) -> Self {
        Self {
            projection,
            db,
            options: RunnerOptions::default(),
        }
    }

    pub fn with_options(mut self, options: RunnerOptions) -> Self {
        self.options = options;
        self
    }

    /// Takes the generation's lock, or reports that another runner has it.
    async fn lock(&self, generation: Generation) -> Result<Lock, ProjectionError> {
        let key = lock_key(P::NAME, generation);
        match self.db.try_lock(&key).await? {
            Some(lock) => Ok(lock),
            None => Err(ProjectionError::Busy(key)),
        }
    }

    /// Applies everything committed so far to `generation`, waiting for transactions still
    /// in flight below the horizon rather than skipping them, then returns. `on_batch` hears
    /// the running total after each batch (for progress bars).
    pub async fn catch_up(
        &self,
        generation: Generation,
        mut on_batch: impl FnMut(&Progress),
    ) -> Result<Progress, ProjectionError> {
        let lock = self.lock(generation).await?;
        let result = self.drain(generation, None, &mut on_batch, None).await;
        lock.release().await;
        result
    }

    /// Applies batches until the feed has nothing more, from `known` (where this runner left
    /// the checkpoint) or else the stored checkpoint. A `known` checkpoint that someone else
    /// moved since is safe: the first batch's fence finds it moved and starts again from the
    /// stored one. `committed`, when the caller listens for commits, cuts short the wait for
    /// an earlier transaction still open.
    async fn drain(
        &self,
        generation: Generation,
        known: Option<FeedPosition>,
        on_batch: &mut impl FnMut(&Progress),
        mut committed: Option<&mut EventSignal>,
    ) -> Result<Progress, ProjectionError> {
        let start = match known {
            Some(position) => position,
            None => checkpoint(&self.db, P::NAME, generation).await?,
        };
        let mut progress = Progress {
            checkpoint: start,
            ..Progress::default()
        };
        let mut ahead: Option<JoinHandle<Result<Batch, ProjectionError>>> = None;
        // The batch before, still being written while this one is prepared.
        let mut writing: Option<Writing<P>> = None;
        loop {
            let batch = match ahead.take() {
                Some(reading) => reading.await.map_err(ProjectionError::from).and_then(|r| r),
                None => read::<P>(&self.db, progress.checkpoint, self.options.batch_size).await,
            };
            let batch = match batch {
                Ok(batch) => batch,
                Err(e) => {
                    // The batch being written is seen to its end before the runner stops.
                    let step = self.written(writing.take(), &mut progress, on_batch).await;
                    self.went_on(generation, &mut progress, step).await?;
                    return Err(e);
                }
            };
            let Some(last) = batch.events.last() else {
                let step = self.written(writing.take(), &mut progress, on_batch).await;
                if self.went_on(generation, &mut progress, step).await? {
                    continue;
                }
                if !waited_for_hidden(&self.db, progress.checkpoint, committed.as_deref_mut())
                    .await?
                {
                    return Ok(progress);
                }
                continue;
            };
            // Everything below the horizon is final, so the next batch can be read (and
            // decoded) while this one is written: the two overlap on the two sides of the
            // connection instead of taking turns. A short batch was everything below the
            // horizon: reading on would find nothing.
            let last = last.clone();
            let full = batch.events.len() as i64 >= self.options.batch_size;
            let reading = full.then(|| {
                let (db, size, next) = (self.db.clone(), self.options.batch_size, last.position);
                tokio::spawn(async move { read::<P>(&db, next, size).await })
            });
            // A full batch has more behind it (a catch-up or a rebuild): it is prepared while
            // the batch before is written, and written while the next is prepared. A short
            // one (a live view's usual batch of a few commands) is applied in one transaction,
            // its rows loaded inside it.
            let step = if full {
                self.overlapped(
                    generation,
                    &mut progress,
                    (batch, last),
                    &mut writing,
                    on_batch,
                )
                .await
            } else {
                self.in_turn(
                    generation,
                    &mut progress,
                    (batch, last),
                    writing.take(),
                    on_batch,
                )
                .await
            };
            match self.went_on(generation, &mut progress, step).await {
                Ok(false) => {}
                Ok(true) => {
                    reading.inspect(JoinHandle::abort);
                    continue;
                }
                Err(e) => {
                    reading.inspect(JoinHandle::abort);
                    return Err(e);
                }
            }
            // After a short batch, only events committed since (or still hidden by the
            // horizon) are left: one cheap look says whether to read again.
            if reading.is_none() && !has_events_after(self.db.writer(), progress.checkpoint).await?
            {
                return Ok(progress);
            }
            ahead = reading;
        }
    }

    /// What to do after a step of [`Runner::drain`]: `Ok(false)` go on, `Ok(true)` start again
    /// from the stored checkpoint (another runner's batch landed after this one read it: go
    /// on from where it left the view), or stop with the error, remembering where a failing
    /// event stopped the view. Every step has finished writing by the time it returns.
    async fn went_on(
        &self,
        generation: Generation,
        progress: &mut Progress,
        step: Result<(), ProjectionError>,
    ) -> Result<bool, ProjectionError> {
        match step {
            Ok(()) => Ok(false),
            Err(ProjectionError::CheckpointMoved(_)) => {
                progress.checkpoint = checkpoint(&self.db, P::NAME, generation).await?;
                Ok(true)
            }
            Err(e) => {
                remember_stop(&self.db, generation, &e).await;
                Err(e)
            }
        }
    }

    /// Prepares `batch` (loading its rows apart from the writer) while the batch before is
    /// written, then, once that one has committed, starts writing this one. The rows loaded
    /// for this batch are either the batch before's, held in memory, or rows that batch did
    /// not touch, which are the same whether or not it has committed; and the batch before
    /// that one has committed before this one's rows are read.
    async fn overlapped(
        &self,
        generation: Generation,
        progress: &mut Progress,
        batch: (Batch, RawFeedEvent),
        writing: &mut Option<Writing<P>>,
        on_batch: &mut impl FnMut(&Progress),
    ) -> Result<(), ProjectionError> {
        let after = writing.as_ref().map(|w| w.changes.clone());
        let prepared = self
            .prepare_apart(generation, batch, after.as_deref())
            .await;
        // The batch before comes first: a failure of this one is remembered once it is in.
        self.written(writing.take(), progress, on_batch).await?;
        *writing = Some(self.write_apart(generation, progress.checkpoint, prepared?));
        Ok(())
    }

    /// Prepares `batch` with its rows loaded in a read-only transaction of its own.
    async fn prepare_apart(
        &self,
        generation: Generation,
        batch: (Batch, RawFeedEvent),
        after: Option<&P::Changes>,
    ) -> Result<Prepared<P>, ProjectionError> {
        let mut loads = self.db.reader().begin_reading(LOAD_BY_KEY).await?;
        let (batch, last) = batch;
        let prepared = self
            .prepare(
                &mut loads,
                generation,
                (&batch.events, batch.decoded),
                last,
                after,
            )
            .await?;
        loads.commit().await?;
        Ok(prepared)
    }

    /// Waits for the batch being written, if any, and counts it.
    async fn written(
        &self,
        writing: Option<Writing<P>>,
        progress: &mut Progress,
        on_batch: &mut impl FnMut(&Progress),
    ) -> Result<(), ProjectionError> {
        let Some(writing) = writing else {
            return Ok(());
        };
        writing.task.await??;
        progress.count(writing.events, writing.next);
        on_batch(progress);
        Ok(())
    }

    /// Starts writing a prepared batch in a task of its own, in one transaction that first
    /// moves the checkpoint from `from`.
    fn write_apart(
        &self,
        generation: Generation,
        from: FeedPosition,
        prepared: Prepared<P>,
    ) -> Writing<P> {
        let (db, options) = (self.db.clone(), self.options.clone());
        let (changes, events, next) = (prepared.changes.clone(), prepared.events, prepared.next);
        let task = tokio::spawn(async move {
            let mut tx = db.begin_derived(LOAD_BY_KEY).await?;
            fence::<P>(&mut tx, generation, from, next, events).await?;
            commit(tx, generation, &prepared, &options).await
        });
        Writing {
            task,
            changes,
            events,
            next,
        }
    }

    /// Applies one batch and moves the checkpoint past it, in one transaction, once the batch
    /// before (`writing`) is in.
    async fn in_turn(
        &self,
        generation: Generation,
        progress: &mut Progress,
        (batch, last): (Batch, RawFeedEvent),
        writing: Option<Writing<P>>,
        on_batch: &mut impl FnMut(&Progress),
    ) -> Result<(), ProjectionError> {
        self.written(writing, progress, on_batch).await?;
        let mut tx = self.db.begin_derived(LOAD_BY_KEY).await?;
        // The checkpoint moves first, before the rows are loaded (see `fence`).
        let events = batch.events.len() as u64;
        fence::<P>(
            &mut tx,
            generation,
            progress.checkpoint,
            last.position,
            events,
        )
        .await?;
        let prepared = self
            .prepare(
                &mut tx,
                generation,
                (&batch.events, batch.decoded),
                last,
                None,
            )
            .await?;
        commit(tx, generation, &prepared, &self.options).await?;
        progress.count(prepared.events, prepared.next);
        on_batch(progress);
        Ok(())
    }

    /// Works out what `events` (`decoded`, one for each) change, their rows loaded through
    /// `loads`, up to and including `last`.
    pub(crate) async fn prepare(
        &self,
        loads: &mut Tx,
        generation: Generation,
        (events, decoded): (&[RawFeedEvent], Vec<DecodedPayload>),
        last: RawFeedEvent,
        after: Option<&P::Changes>,
    ) -> Result<Prepared<P>, ProjectionError> {
        let mut applied = Vec::with_capacity(events.len());
        for (event, payload) in events.iter().zip(decoded) {
            match payload {
                // A type of event this view ignores: the checkpoint passes it.
                None => {}
                Some(Ok(d)) => applied.push(Applied {
                    event: d,
                    feed: event,
                }),
                Some(Err(reason)) => return Err(stop(P::NAME, event, reason)),
            }
        }
        match self
            .projection
            .prepare(loads, generation, &applied, after)
            .await
        {
            Ok(changes) => Ok(Prepared {
                changes: Arc::new(changes),
                events: events.len() as u64,
                next: last.position,
                last,
            }),
            Err(failure) => {
                // The failing event's index is among the events applied, not those read.
                let (event, reason) = match failure.event.and_then(|i| applied.get(i)) {
                    Some(applied) => (applied.feed, failure.error.to_string()),
                    None => (
                        &last,
                        format!("applying the batch ending here: {}", failure.error),
                    ),
                };
                Err(stop(P::NAME, event, reason))
            }
        }
    }

    /// Keeps the live generation up to date until `shutdown` resolves. Follows the live
    /// generation when a rebuild switches it.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<(), ProjectionError> {
        // Runners start with a generation built by this code (see `ensure_current`).
        tokio::pin!(shutdown);
        let mut committed = self.db.subscribe_events().await?;
        let poll_interval = self.options.poll_interval;
        let mut following = Following::new(self);
        let result = loop {
            let step = match following.hold().await {
                Ok(true) => following.drain(&mut committed).await,
                Ok(false) => Ok(()),
                Err(e) => Err(e),
            };
            if let Err(e) = step {
                tracing::error!(projection = P::NAME, error = %e, "projection stopped");
                break Err(e);
            }
            tokio::select! {
                _ = &mut shutdown => break Ok(()),
                _ = committed.next() => {}
                _ = tokio::time::sleep(poll_interval) => {}
            }
        };
        following.release().await;
        result
    }
}

/// A runner following its projection's live generation: the lock it holds on it, and where
/// it left the checkpoint.
pub(crate) struct Following<P: Projection> {
    pub(crate) runner: Runner<P>,
    /// Held for as long as the runner follows a generation, not taken for each wake-up: on
    /// PostgreSQL taking it means opening a connection.
    held: Option<(Generation, Lock)>,
    /// Where this runner left the held generation's checkpoint: not asked for again at every
    /// wake-up.
    pub(crate) known: Option<FeedPosition>,
}

impl<P: Projection> Following<P> {
    pub(crate) fn new(runner: Runner<P>) -> Self {
        Self {
            runner,
            held: None,
            known: None,
        }
    }

    /// The generation this runner holds, if it holds one.
    pub(crate) fn generation(&self) -> Option<Generation> {
        self.held.as_ref().map(|(generation, _)| *generation)
    }

    /// Looks up the live generation (creating it on first use) and holds its lock, letting
    /// go of one a rebuild retired. `false` when another runner (another instance) holds it:
    /// this one then stands by, and readers here wait on the database for that view.
    pub(crate) async fn hold(&mut self) -> Result<bool, ProjectionError> {
        let db = &self.runner.db;
        let generation = match live_generation(db, P::NAME).await? {
            Some(generation) => generation,
            None => ensure_live::<P>(db).await?,
        };
        if self.generation() != Some(generation) {
            if let Some((_, lock)) = self.held.take() {
                lock.release().await;
            }
            self.known = None;
            match self.runner.lock(generation).await {
                Ok(lock) => self.held = Some((generation, lock)),
                Err(ProjectionError::Busy(_)) => {}
                Err(e) => return Err(e),
            }
        }
        if self.held.is_none() {
            self.forget();
        }
        Ok(self.held.is_some())
    }

    /// Applies everything committed since to the held generation.
    pub(crate) async fn drain(
        &mut self,
        committed: &mut EventSignal,
    ) -> Result<(), ProjectionError> {
        let Some(generation) = self.generation() else {
            return Ok(());
        };
        let progress = self
            .runner
            .drain(generation, self.known, &mut |_| {}, Some(committed))
            .await?;
        self.reached(progress.checkpoint);
        Ok(())
    }

    /// Notes that the held generation's checkpoint stands at `checkpoint`, for this runner
    /// and for the mutations waiting on it.
    pub(crate) fn reached(&mut self, checkpoint: FeedPosition) {
        self.known = Some(checkpoint);
        if let Some(applied) = &self.runner.options.applied {
            applied.record(P::NAME, checkpoint);
        }
    }

    /// Forgets where the checkpoint stands, and tells the waiters this runner no longer
    /// applies the view.
    pub(crate) fn forget(&mut self) {
        self.known = None;
        if let Some(applied) = &self.runner.options.applied {
            applied.forget(P::NAME);
        }
    }

    pub(crate) async fn release(mut self) {
        self.forget();
        if let Some((_, lock)) = self.held.take() {
            lock.release().await;
        }
    }
}

/// A feed event's payload decoded, or why it does not decode; `None` for a type of event the
/// projection ignores, whose payload was not read.
pub(crate) type DecodedPayload = Option<Result<Decoded, String>>;

/// After a read found nothing beyond `after`: whether events exist there all the same, hidden
/// by the horizon because an earlier transaction is still open. If so, waits for it before
/// saying so: until the next commit (most likely that one's, when `committed` listens for
/// them), or 20 ms in case it rolls back. The reader then reads again; it never skips them.
pub(crate) async fn waited_for_hidden(
    db: &Db,
    after: FeedPosition,
    committed: Option<&mut EventSignal>,
) -> Result<bool, ProjectionError> {
    if !has_events_after(db.writer(), after).await? {
        return Ok(false);
    }
    let wait = Duration::from_millis(20);
    match committed {
        Some(signal) => {
            let _ = tokio::time::timeout(wait, signal.next()).await;
        }
        None => tokio::time::sleep(wait).await,
    }
    Ok(true)
}

/// Events read from the feed, and their payloads decoded.
struct Batch {
    events: Vec<RawFeedEvent>,
    decoded: Vec<DecodedPayload>,
}

async fn read<P: Projection>(
    db: &Db,
    after: FeedPosition,
    limit: i64,
) -> Result<Batch, ProjectionError> {
    let events = read_raw_after(db.reader(), after, limit, Payloads::Except(P::IGNORES)).await?;
    let decoded = events.iter().map(decode).collect();
    Ok(Batch { events, decoded })
}

fn lock_key(name: &str, generation: Generation) -> String {
    format!("desist:projection:{name}:{}", generation.0)
}

/// Sent with a batch's `BEGIN`, and with its rows' loads apart from the writer. A batch reads
/// its rows by their owner's id, always through the primary key: a rebuild's tables grow from
/// empty faster than autovacuum analyzes them, and without statistics PostgreSQL guesses that
/// a few hundred ids match most of the table and scans all of it (the rebuild slowed as its
/// tables grew). The setting goes with the BEGIN: a statement of its own was a round trip a
/// batch, and a live runner's batch carries only a few commands.
pub(crate) const LOAD_BY_KEY: &str = "SET LOCAL enable_seqscan = off";

/// A batch's changes, worked out and waiting to be written.
pub(crate) struct Prepared<P: Projection> {
    changes: Arc<P::Changes>,
    /// Events read, those the view ignores included.
    events: u64,
    /// Where the checkpoint moves: the batch's last event.
    next: FeedPosition,
    /// The batch's last event, to say where writing it failed.
    last: RawFeedEvent,
}

/// A batch being written in a task of its own ([`Runner::write_apart`]).
struct Writing<P: Projection> {
    task: JoinHandle<Result<(), ProjectionError>>,
    /// Its changes: newer than the database's until the task has committed them.
    changes: Arc<P::Changes>,
    events: u64,
    next: FeedPosition,
}

impl Progress {
    fn count(&mut self, events: u64, next: FeedPosition) {
        self.events += events;
        self.batches += 1;
        self.checkpoint = next;
    }
}

/// Moves the checkpoint past a batch (to `to`, `events` on), and only from where the batch
/// began: that takes the generation's row lock, so a runner whose predecessor's last commit is
/// still in flight (its lock connection closed first) waits for it, and then finds the
/// checkpoint moved instead of applying the same events again.
async fn fence<P: Projection>(
    tx: &mut Tx,
    generation: Generation,
    from: FeedPosition,
    to: FeedPosition,
    events: u64,
) -> Result<(), ProjectionError> {
    let moved = move_checkpoints(tx, &[(P::NAME, generation)], from, to, events, false).await?;
    if moved == 0 {
        return Err(ProjectionError::CheckpointMoved(P::NAME));
    }
    Ok(())
}

/// Moves the checkpoints of `views` (each a projection's generation) past a batch (to `to`,
/// `events` on), and only where each stands at `from` and, with `live_only`, is still live.
/// Says how many moved.
pub(crate) async fn move_checkpoints(
    tx: &mut Tx,
    views: &[(&'static str, Generation)],
    from: FeedPosition,
    to: FeedPosition,
    events: u64,
    live_only: bool,
) -> Result<u64, sqlx::Error> {
    let which: Vec<String> = (0..views.len())
        .map(|i| format!("(${}, ${})", 7 + 2 * i, 8 + 2 * i))
        .collect();
    let sql = format!(
        "UPDATE projection_generations \
            SET checkpoint_tx = $1, checkpoint_position = $2, \
                events_applied = events_applied + $3, \
                failed_position = NULL, failed_event_type = NULL, failure = NULL, \
                updated_at = $4 \
          WHERE checkpoint_tx = $5 AND checkpoint_position = $6 {} \
            AND (name, generation) IN ({})",
        if live_only { "AND status = 'live'" } else { "" },
        which.join(", ")
    );
    let mut update = db::query(sql)
        .bind(to.tx)
        .bind(to.global_position)
        .bind(events as i64)
        .bind(chrono::Utc::now())
        .bind(from.tx)
        .bind(from.global_position);
    for (name, generation) in views {
        update = update.bind(*name).bind(generation.0);
    }
    update.execute(tx).await
}

/// Writes a prepared batch's rows in `tx`, which has moved the checkpoint past it, and
/// commits. The commit need not wait for the disk (`Db::begin_derived`): a batch lost in a
/// crash is lost with its checkpoint, and applied again.
async fn commit<P: Projection>(
    mut tx: Tx,
    generation: Generation,
    batch: &Prepared<P>,
    options: &RunnerOptions,
) -> Result<(), ProjectionError> {
    save(&mut tx, generation, batch).await?;
    options.crash_if_asked(batch.events)?;
    tx.commit().await?;
    if let Some(applied) = &options.applied {
        applied.record(P::NAME, batch.next);
    }
    Ok(())
}

/// Writes a prepared batch's rows in `tx`.
pub(crate) async fn save<P: Projection>(
    tx: &mut Tx,
    generation: Generation,
    batch: &Prepared<P>,
) -> Result<(), ProjectionError> {
    P::save(&batch.changes, tx, generation).await.map_err(|e| {
        let reason = format!("writing the batch ending here: {e}");
        stop(P::NAME, &batch.last, reason)
    })
}

/// The error that says `event` stopped the view, and why.
fn stop(name: &'static str, event: &RawFeedEvent, reason: String) -> ProjectionError {
    ProjectionError::Apply {
        projection: name,
        global_position: event.position.global_position,
        event_type: event.event_type.clone(),
        reason,
    }
}

/// Remembers where and why a projection stopped, for `desist projections status`, when
/// `error` says an event stopped it. Only once no batch of its is being written: a batch's
/// commit clears the failure.
async fn remember_stop(db: &Db, generation: Generation, error: &ProjectionError) {
    let ProjectionError::Apply {
        projection,
        global_position,
        event_type,
        reason,
    } = error
    else {
        return;
    };
    let result = db::query(
        "UPDATE projection_generations \
            SET failed_position = $3, failed_event_type = $4, failure = $5, updated_at = $6 \
          WHERE name = $1 AND generation = $2",
    )
    .bind(*projection)
    .bind(generation.0)
    .bind(*global_position)
    .bind(event_type.as_str())
    .bind(reason.as_str())
    .bind(chrono::Utc::now())
    .execute(db)
    .await;
    if let Err(e) = result {
        tracing::error!(projection, error = %e, "could not record the projection's failure");
    }
}

/// Builds a new generation of `P` from the start of the feed beside the live one and makes it
/// live once it has caught up. `on_batch` hears progress.
pub async fn rebuild<P: Projection>(
    projection: P,
    pool: &Db,
    on_batch: impl FnMut(&Progress),
) -> Result<(Generation, Progress), ProjectionError> {
    let generation = registry::create_building::<P>(pool).await?;
    let runner = Runner::new(projection, pool.clone());
    let progress = runner.catch_up(generation, on_batch).await?;
    registry::build_keys::<P>(pool, generation).await?;
    if P::READ_BY_KEY {
        registry::analyze::<P>(pool, generation).await?;
    }
    registry::make_live::<P>(pool, generation).await?;
    // Events that committed between catching up and the switch are picked up by the live
    // runner, which now follows this generation from its checkpoint.
    Ok((generation, progress))
}

/// The live generation of `P`, built by this version of the code: created on first use, and
/// rebuilt beside the old one (then switched to) when the code's `VERSION` changed.
pub async fn ensure_current<P: Projection>(
    projection: P,
    pool: &Db,
) -> Result<Generation, ProjectionError> {
    match registry::live_version(pool, P::NAME).await? {
        Some(version) if version == P::VERSION => registry::ensure_live::<P>(pool).await,
        Some(version) => {
            tracing::info!(
                projection = P::NAME,
                from = version,
                to = P::VERSION,
                "the view's code changed: rebuilding it beside the live one"
            );
            let (generation, _) = rebuild(projection, pool, |_| {}).await?;
            Ok(generation)
        }
        None => registry::ensure_live::<P>(pool).await,
    }
}
