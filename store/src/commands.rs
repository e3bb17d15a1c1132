//! Running a command: idempotent by command id, retried on concurrent writes, never lost.

use std::num::NonZeroUsize;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::{
    PersistedEventRepository, PersistedEventStore, PersistenceError, SerializedEvent,
};
use cqrs_es::{Aggregate, DomainEvent, EventStore};
use desist_domain::upcasting::upcasters;
use desist_domain::{DomainError, DomainServices};
use lru::LruCache;
use rand::Rng;
use serde::Serialize;

use crate::db::{self, Backend, Db, EventRepository};
use crate::sealing::SealingRepository;
use crate::{CommandError, CommandMetadata, FeedPosition, Store, StoreError};

/// How many times a command is tried when other writers keep changing the same aggregate.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 20;
/// Backoff between attempts grows from this, doubling, to `MAX_BACKOFF`, with full jitter so
/// that competing writers spread out instead of colliding again.
const BASE_BACKOFF: Duration = Duration::from_millis(2);
const MAX_BACKOFF: Duration = Duration::from_millis(100);
const MAX_AGGREGATE_ID_LEN: usize = 200;
/// How many aggregates of each type a bus keeps as its last command left them. An enrolment's
/// state is a few kilobytes, so the four buses hold a few tens of megabytes at most.
const KEPT_AGGREGATES: usize = 1_024;

type SealedEventStore<A> = PersistedEventStore<SealingRepository<EventRepository>, A>;

/// What a recorded command produced: the range of events it added to its aggregate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutcome {
    pub command_id: String,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub first_sequence: i64,
    pub last_sequence: i64,
    /// Where its last event sits in the feed: what a reader waits for to see the command.
    pub position: Option<FeedPosition>,
    /// True when the command id had been recorded before: nothing new was written.
    pub replayed: bool,
}

/// Runs commands for one aggregate type.
pub struct CommandBus<A: Aggregate> {
    /// Loads aggregates: their events read, opened and upcast, then applied.
    events: SealedEventStore<A>,
    /// Appends events, sealing their texts on the way in.
    repository: SealingRepository<EventRepository>,
    services: DomainServices,
    /// Aggregates as this bus's last command on each left them, with their last sequence
    /// number (see [`CommandBus::execute`]). Aggregates hold no free text (`Sealed` stays in
    /// the events), so nothing an erasure destroys stays readable here.
    kept: Mutex<LruCache<String, (A, usize)>>,
    db: Db,
    max_attempts: u32,
}

fn repository(store: &Store) -> SealingRepository<EventRepository> {
    SealingRepository::new(
        EventRepository::new(store.db()),
        store.vault().cloned(),
        store.db().clone(),
    )
}

fn event_store<A: Aggregate>(store: &Store) -> SealedEventStore<A> {
    PersistedEventStore::new_event_store(repository(store)).with_upcasters(upcasters())
}

/// A command already decided against the aggregate's state, with the events it produced
/// (see [`CommandBus::append`]).
pub struct Decided<A: Aggregate> {
    pub command: A::Command,
    pub metadata: CommandMetadata,
    pub events: Vec<A::Event>,
}

/// One aggregate's commands, decided in order against it as it stood at `after_sequence`
/// (see [`CommandBus::append`]).
pub struct DecidedFor<'a, A: Aggregate> {
    pub aggregate_id: &'a str,
    pub after_sequence: usize,
    pub decided: &'a [Decided<A>],
}

impl<A> CommandBus<A>
where
    A: Aggregate<Error = DomainError, Services = DomainServices>,
    A::Command: Serialize + Clone + Send + Sync,
{
    pub fn new(store: &Store, services: DomainServices) -> Self {
        Self {
            events: event_store(store),
            repository: repository(store),
            services,
            kept: Mutex::new(LruCache::new(
                NonZeroUsize::new(KEPT_AGGREGATES).unwrap_or(NonZeroUsize::MIN),
            )),
            db: store.db().clone(),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        }
    }

    pub fn with_max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts.max(1);
        self
    }

    /// Records `command` against `aggregate_id`, or explains why not.
    ///
    /// A command id seen before returns the first outcome and writes nothing. A conflict with
    /// another writer is retried up to the bound, then reported as [`CommandError::Conflict`];
    /// in every case an `Ok` means the events are committed.
    ///
    /// The command log is not asked before an attempt: the store refuses, in the events' own
    /// transaction, a command id recorded before (the `events_log_command` trigger), and
    /// every refusal looks the first outcome up. A new command, nearly every one, costs no
    /// lookup before its append.
    ///
    /// The command is decided against the aggregate as this bus's last command on it left it,
    /// when that is kept, without reading its events again: a therapist records a session's
    /// attendance, chain analysis, triggers and concerns one after another, and each load
    /// read and decoded the whole course. A kept state is only a guess, since another process
    /// may have written since; the guess is safe. Events decided against an old state carry
    /// sequence numbers already taken, so the append conflicts and the command is decided
    /// again against the store; a refusal is decided again against the store before it is
    /// reported (`decide`).
    pub async fn execute(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: &CommandMetadata,
    ) -> Result<CommandOutcome, CommandError> {
        metadata.validate()?;
        validate_aggregate_id(aggregate_id)?;
        let name = command_name(&command);
        for attempt in 0..self.max_attempts {
            // The command id may have been recorded before (a retry, or a concurrent attempt
            // that won the race): then the rules may refuse it seeing its own effects, or the
            // store refuses this attempt, and the answer is the first outcome.
            let (state, sequence, events) = match self.decide(aggregate_id, &command).await {
                Ok(decided) => decided,
                Err(refused @ CommandError::Rejected(_)) => {
                    return match self.recorded(metadata, &name, aggregate_id).await? {
                        Some(outcome) => Ok(outcome),
                        None => Err(refused),
                    };
                }
                Err(other) => return Err(other),
            };
            let stored = stored_events::<A>(aggregate_id, sequence, &name, metadata, &events)?;
            if stored.is_empty() {
                self.keep(aggregate_id, state, sequence);
                return Err(CommandError::EventStore(
                    "the command produced no events to record".into(),
                ));
            }
            let last_sequence = sequence + stored.len();
            match self.repository.persist::<A>(&stored, None).await {
                Ok(()) => {
                    self.db.events_committed();
                    self.keep(aggregate_id, state, last_sequence);
                    return self
                        .recorded(metadata, &name, aggregate_id)
                        .await?
                        .map(|outcome| CommandOutcome {
                            replayed: false,
                            ..outcome
                        })
                        .ok_or_else(|| {
                            CommandError::EventStore("the command's events were not logged".into())
                        });
                }
                Err(error) => {
                    // (PostgreSQL's store reports a recorded id as a conflict with another
                    // writer, SQLite's command log with an error of its own.)
                    if let Some(outcome) = self.recorded(metadata, &name, aggregate_id).await? {
                        return Ok(outcome);
                    }
                    match error {
                        PersistenceError::OptimisticLockError => {
                            tokio::time::sleep(backoff(attempt)).await
                        }
                        PersistenceError::UnknownError(e)
                            if matches!(
                                e.downcast_ref::<StoreError>(),
                                Some(StoreError::Erased(_))
                            ) =>
                        {
                            return Err(CommandError::Rejected(DomainError::SubjectErased));
                        }
                        other => return Err(CommandError::EventStore(other.to_string())),
                    }
                }
            }
        }
        if let Some(outcome) = self.recorded(metadata, &name, aggregate_id).await? {
            return Ok(outcome);
        }
        Err(CommandError::Conflict {
            attempts: self.max_attempts,
        })
    }

    /// `command`'s events, with the aggregate they were decided against (and now applied to)
    /// and its sequence number before them. Decided first against the kept state, if any
    /// (taken out, so that a failed append leaves nothing behind); refused there, decided
    /// again against the store, whose events another process may have added to. Only the
    /// store's refusal is reported.
    async fn decide(
        &self,
        aggregate_id: &str,
        command: &A::Command,
    ) -> Result<(A, usize, Vec<A::Event>), CommandError> {
        let kept = self.kept().pop(aggregate_id);
        if let Some((state, sequence)) = kept {
            if let Ok((state, events)) = self.handled(state, command).await {
                return Ok((state, sequence, events));
            }
        }
        let (state, sequence) = self.load_versioned(aggregate_id).await?;
        let (state, events) = self
            .handled(state, command)
            .await
            .map_err(CommandError::Rejected)?;
        Ok((state, sequence, events))
    }

    /// The rules' answer to `command` against `state`: its events, applied to it.
    async fn handled(
        &self,
        mut state: A,
        command: &A::Command,
    ) -> Result<(A, Vec<A::Event>), DomainError> {
        let sink = EventSink::default();
        state.handle(command.clone(), &self.services, &sink).await?;
        Ok((state, sink.collect().await))
    }

    /// Keeps `state`, as of `sequence`, for the aggregate's next command.
    fn keep(&self, aggregate_id: &str, state: A, sequence: usize) {
        self.kept().put(aggregate_id.to_string(), (state, sequence));
    }

    /// The kept aggregates. The lock is held for one call on the map at a time, so even a
    /// poisoned one guards a whole map.
    fn kept(&self) -> MutexGuard<'_, LruCache<String, (A, usize)>> {
        self.kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The aggregate's current state, for checks that span aggregates (does the subject exist,
    /// what are the programme's terms).
    pub async fn load(&self, aggregate_id: &str) -> Result<A, CommandError> {
        Ok(self.load_versioned(aggregate_id).await?.0)
    }

    /// The aggregate's current state and the sequence number of its last event.
    pub async fn load_versioned(&self, aggregate_id: &str) -> Result<(A, usize), CommandError> {
        let context = self
            .events
            .load_aggregate(aggregate_id)
            .await
            .map_err(|e| CommandError::EventStore(e.to_string()))?;
        let sequence = context.current_sequence;
        Ok((context.aggregate, sequence))
    }

    /// Appends, in one transaction, the events of commands already decided in order against
    /// each aggregate as it stood at its `after_sequence` (a bulk import decides thousands of
    /// commands in memory first, and writes many aggregates a transaction: one commit each
    /// was most of a national load's time on SQLite). The same repository, sealing, command
    /// log and optimistic lock as [`CommandBus::execute`]: if anyone else wrote to any of the
    /// aggregates meanwhile, or a command id was recorded already, nothing is written and the
    /// answer is [`CommandError::Conflict`]; the caller then appends them one by one.
    pub async fn append(&self, aggregates: &[DecidedFor<'_, A>]) -> Result<usize, CommandError> {
        let mut events = Vec::new();
        for aggregate in aggregates {
            validate_aggregate_id(aggregate.aggregate_id)?;
            // Whatever happens below, a kept state of it may be out of date.
            self.kept().pop(aggregate.aggregate_id);
            let mut sequence = aggregate.after_sequence;
            for Decided {
                command,
                metadata,
                events: produced,
            } in aggregate.decided
            {
                metadata.validate()?;
                let stored = stored_events::<A>(
                    aggregate.aggregate_id,
                    sequence,
                    &command_name(command),
                    metadata,
                    produced,
                )?;
                sequence += stored.len();
                events.extend(stored);
            }
        }
        if events.is_empty() {
            return Ok(0);
        }
        match self.repository.persist::<A>(&events, None).await {
            Ok(()) => {
                self.db.events_committed();
                Ok(events.len())
            }
            Err(cqrs_es::persist::PersistenceError::OptimisticLockError) => {
                Err(CommandError::Conflict { attempts: 1 })
            }
            // SQLite's command log refuses a recorded command id with an error of its own.
            Err(e) if e.to_string().contains("already been recorded") => {
                Err(CommandError::Conflict { attempts: 1 })
            }
            Err(e) => Err(CommandError::EventStore(e.to_string())),
        }
    }

    /// The recorded outcome of this command id, if any; an error if the id was used for
    /// another command or aggregate.
    async fn recorded(
        &self,
        metadata: &CommandMetadata,
        name: &str,
        aggregate_id: &str,
    ) -> Result<Option<CommandOutcome>, CommandError> {
        // With the feed position of the command's last event, which a mutation waits for
        // its views to reach: read here, it costs no statement of its own.
        let sql = match self.db.backend() {
            Backend::Postgres => {
                "SELECT c.command, c.aggregate_type, c.aggregate_id, c.first_sequence, \
                        c.last_sequence, e.tx::text::bigint, e.global_position \
                   FROM command_log c LEFT JOIN events e \
                     ON e.aggregate_type = c.aggregate_type AND e.aggregate_id = c.aggregate_id \
                    AND e.sequence = c.last_sequence \
                  WHERE c.command_id = $1"
            }
            Backend::Sqlite => {
                "SELECT c.command, c.aggregate_type, c.aggregate_id, c.first_sequence, \
                        c.last_sequence, 0, p.global_position \
                   FROM command_log c LEFT JOIN event_positions p \
                     ON p.aggregate_type = c.aggregate_type AND p.aggregate_id = c.aggregate_id \
                    AND p.sequence = c.last_sequence \
                  WHERE c.command_id = $1"
            }
        };
        type Row = (String, String, String, i64, i64, Option<i64>, Option<i64>);
        let row: Option<Row> = db::query_as(sql)
            .bind(&metadata.command_id)
            .fetch_optional(self.db.writer())
            .await
            .map_err(StoreError::from)?;
        let Some((command, aggregate_type, recorded_id, first_sequence, last_sequence, tx, at)) =
            row
        else {
            return Ok(None);
        };
        if command != name || aggregate_type != A::TYPE || recorded_id != aggregate_id {
            return Err(CommandError::CommandIdReused {
                command_id: metadata.command_id.clone(),
                command,
                aggregate_type,
                aggregate_id: recorded_id,
            });
        }
        Ok(Some(CommandOutcome {
            command_id: metadata.command_id.clone(),
            aggregate_type,
            aggregate_id: recorded_id,
            first_sequence,
            last_sequence,
            position: tx.zip(at).map(|(tx, global_position)| FeedPosition {
                tx,
                global_position,
            }),
            replayed: true,
        }))
    }
}

/// `events` as stored after `after_sequence`, each with the command's metadata.
fn stored_events<A: Aggregate>(
    aggregate_id: &str,
    after_sequence: usize,
    command_name: &str,
    metadata: &CommandMetadata,
    events: &[A::Event],
) -> Result<Vec<SerializedEvent>, CommandError> {
    let stored_metadata = serde_json::to_value(metadata.to_event_metadata(command_name))
        .map_err(|e| CommandError::EventStore(e.to_string()))?;
    (after_sequence + 1..)
        .zip(events)
        .map(|(sequence, event)| {
            let payload =
                serde_json::to_value(event).map_err(|e| CommandError::EventStore(e.to_string()))?;
            Ok(SerializedEvent::new(
                aggregate_id.to_string(),
                sequence,
                A::TYPE.to_string(),
                event.event_type(),
                event.event_version(),
                payload,
                stored_metadata.clone(),
            ))
        })
        .collect()
}

fn validate_aggregate_id(aggregate_id: &str) -> Result<(), CommandError> {
    if aggregate_id.trim().is_empty() || aggregate_id.len() > MAX_AGGREGATE_ID_LEN {
        return Err(CommandError::InvalidMetadata {
            field: "id",
            rule: format!("must be 1 to {MAX_AGGREGATE_ID_LEN} bytes and not blank"),
        });
    }
    Ok(())
}

/// The command's variant name (`RecordAttendance`), from its serde form.
fn command_name<C: Serialize>(command: &C) -> String {
    match serde_json::to_value(command) {
        Ok(serde_json::Value::Object(map)) => map.keys().next().cloned().unwrap_or_default(),
        Ok(serde_json::Value::String(name)) => name,
        _ => String::new(),
    }
}

fn backoff(attempt: u32) -> Duration {
    let cap = BASE_BACKOFF
        .saturating_mul(1 << attempt.min(16))
        .min(MAX_BACKOFF);
    let millis = rand::rng().random_range(0..=cap.as_millis() as u64);
    Duration::from_millis(millis)
}

/// Which of `command_ids` have been recorded.
pub async fn recorded_command_ids(
    store: &Store,
    command_ids: &[String],
) -> Result<std::collections::HashSet<String>, StoreError> {
    if command_ids.is_empty() {
        return Ok(std::collections::HashSet::new());
    }
    let sql = format!(
        "SELECT command_id FROM command_log WHERE {}",
        db::any_of(store.db().backend(), "command_id", 1)
    );
    let ids: Vec<String> = db::query_scalar(sql)
        .bind(db::Arg::ids(command_ids.iter().cloned()))
        .fetch_all(store.db().reader())
        .await?;
    Ok(ids.into_iter().collect())
}
