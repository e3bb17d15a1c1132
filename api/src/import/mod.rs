//! `desist import FILE`: brings a desist-timeline/1 document in through the ordinary commands.
//!
//! 1. Parse and check the document, listing every problem by JSON path.
//! 2. Plan the commands that record it, each with a deterministic command id.
//! 3. Dry run: apply every command not yet recorded to in-memory aggregates (loaded from the
//!    store), so a rule the document breaks is found before anything is written.
//! 4. Append the decided events through the command buses, many aggregates a transaction. A
//!    second import of the same file replays every id. Steps 1–3 are [`check`], step 4
//!    [`CheckedImport::write`]; [`import`] does both.

mod plan;
mod reader;
mod timeline;

use std::collections::{HashMap, HashSet};

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use desist_domain::{Actor, DomainError, DomainServices, Role};
use desist_store::commands::recorded_command_ids;
use desist_store::commands::{Decided, DecidedFor};
use desist_store::{Backend, CommandBus, CommandError, CommandMetadata, Store};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use thiserror::Error;

pub use reader::Problem;

use crate::WriteSide;
pub(crate) use plan::{midnight, Step, Target};

#[derive(Debug, Error)]
pub enum ImportError {
    #[error("the document has {} problem(s); nothing was written", .0.len())]
    Invalid(Vec<Problem>),
    #[error(transparent)]
    Command(#[from] CommandError),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub commands: usize,
    pub recorded: usize,
    pub already_recorded: usize,
}

/// Imports `document`. `progress` shows a bar on standard error.
pub async fn import(
    store: &Store,
    services: DomainServices,
    document: &Value,
    agency: &str,
    progress: bool,
) -> Result<ImportReport, ImportError> {
    import_with(store, services, document, agency, progress, Vec::new()).await
}

/// Imports `document` and then `more` commands, checked, decided and written with the
/// document's own (the demo puts each person it imports on a caseload this way).
pub(crate) async fn import_with(
    store: &Store,
    services: DomainServices,
    document: &Value,
    agency: &str,
    progress: bool,
    more: Vec<Step>,
) -> Result<ImportReport, ImportError> {
    check_with(store, services, document, agency, more)
        .await?
        .write(progress)
        .await
}

/// Checks `document` against the store as it is now: every command not yet recorded is
/// decided in memory, and nothing is written. A document that breaks a rule is refused whole.
pub async fn check(
    store: &Store,
    services: DomainServices,
    document: &Value,
    agency: &str,
) -> Result<CheckedImport, ImportError> {
    check_with(store, services, document, agency, Vec::new()).await
}

async fn check_with(
    store: &Store,
    services: DomainServices,
    document: &Value,
    agency: &str,
    more: Vec<Step>,
) -> Result<CheckedImport, ImportError> {
    let (timeline, mut problems) = timeline::parse(document);
    let mut steps = plan::plan(&timeline);
    steps.extend(more);
    let ids: Vec<String> = steps.iter().map(|s| s.command_id.clone()).collect();
    let done = recorded_command_ids(store, &ids)
        .await
        .map_err(CommandError::from)?;
    let write = WriteSide::new(store, services.clone());
    let actor = Actor {
        id: "timeline-import".into(),
        role: Role::System,
        agency: agency.to_string(),
    };
    let correlation = format!("import/{}", document_tag(&ids));
    let metadata = |command_id: &str| {
        CommandMetadata::new(command_id.to_string(), correlation.clone(), actor.clone())
    };
    let commands = steps.len();
    let (refused, shadows) = dry_run(&write, &services, steps, &done, metadata).await?;
    problems.0.extend(refused);
    if !problems.0.is_empty() {
        return Err(ImportError::Invalid(problems.0));
    }
    Ok(CheckedImport {
        backend: store.backend(),
        write,
        shadows,
        commands,
        already_recorded: done.len(),
    })
}

/// A document checked against the store, its commands decided but not yet written.
pub struct CheckedImport {
    backend: Backend,
    write: WriteSide,
    shadows: Shadows,
    commands: usize,
    already_recorded: usize,
}

impl CheckedImport {
    /// Appends the decided commands. An aggregate someone else wrote to since the check gets
    /// its commands one at a time, each decided again against what the store holds then
    /// (see `Shadow::write`).
    pub async fn write(self, progress: bool) -> Result<ImportReport, ImportError> {
        let CheckedImport {
            backend,
            write,
            shadows,
            commands,
            already_recorded,
        } = self;
        let bar = if progress {
            ProgressBar::new((commands - already_recorded) as u64).with_style(
                ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} commands ({eta})")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            )
        } else {
            ProgressBar::hidden()
        };
        bar.set_message("importing");
        let mut report = ImportReport {
            commands,
            recorded: 0,
            already_recorded,
        };
        // SQLite has one writer: concurrent appends would only queue for it. On PostgreSQL
        // each append is a commit, and commits in flight together share a WAL flush.
        let concurrency = match backend {
            Backend::Postgres => 8,
            Backend::Sqlite => 1,
        };
        // Programmes before the subjects whose courses copy their terms, subjects before the
        // orders and courses that name them.
        let Shadows {
            programmes,
            subjects,
            enrolments,
            orders,
        } = shadows;
        programmes
            .write(&write.programmes, concurrency, &bar, &mut report)
            .await?;
        subjects
            .write(&write.subjects, concurrency, &bar, &mut report)
            .await?;
        orders
            .write(&write.orders, concurrency, &bar, &mut report)
            .await?;
        enrolments
            .write(&write.enrolments, concurrency, &bar, &mut report)
            .await?;
        bar.finish_and_clear();
        Ok(report)
    }
}

fn document_tag(ids: &[String]) -> String {
    use std::hash::{Hash, Hasher};
    // Only a correlation tag, not a security boundary: std's hasher is enough.
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    ids.hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// The aggregates a document touches, in memory, loaded from the store on first use: each
/// one's state, the sequence it was loaded at, and the commands decided against it with their
/// events.
struct Shadow<A: Aggregate> {
    states: HashMap<String, Result<A, ()>>,
    loaded_at: HashMap<String, usize>,
    decided: HashMap<String, Vec<Decided<A>>>,
    /// Aggregates in the order the document first decided a command for them.
    order: Vec<String>,
}

impl<A> Shadow<A>
where
    A: Aggregate<Error = DomainError, Services = DomainServices>,
    A::Command: serde::Serialize + Clone + Send + Sync,
{
    fn new() -> Self {
        Self {
            states: HashMap::new(),
            loaded_at: HashMap::new(),
            decided: HashMap::new(),
            order: Vec::new(),
        }
    }

    async fn load(&mut self, bus: &CommandBus<A>, id: &str) -> Result<(), CommandError> {
        if !self.states.contains_key(id) {
            let (state, sequence) = bus.load_versioned(id).await?;
            self.states.insert(id.to_string(), Ok(state));
            self.loaded_at.insert(id.to_string(), sequence);
        }
        Ok(())
    }

    /// Decides `command` against the aggregate in memory. Only the first problem of an
    /// aggregate is reported: later commands on it would fail for the same reason.
    async fn apply(
        &mut self,
        bus: &CommandBus<A>,
        services: &DomainServices,
        id: &str,
        command: A::Command,
        metadata: CommandMetadata,
    ) -> Result<Option<DomainError>, CommandError> {
        self.load(bus, id).await?;
        let Some(Ok(state)) = self.states.get_mut(id) else {
            return Ok(None);
        };
        let sink = EventSink::default();
        match state.handle(command.clone(), services, &sink).await {
            Ok(()) => {
                let events = sink.collect().await;
                if !self.decided.contains_key(id) {
                    self.order.push(id.to_string());
                }
                self.decided
                    .entry(id.to_string())
                    .or_default()
                    .push(Decided {
                        command,
                        metadata,
                        events,
                    });
                Ok(None)
            }
            Err(rule) => {
                self.states.insert(id.to_string(), Err(()));
                Ok(Some(rule))
            }
        }
    }

    /// Appends the decided commands, many aggregates a transaction (about
    /// `EVENTS_PER_APPEND` events), `concurrency` transactions at a time. A batch in which
    /// someone else wrote to an aggregate meanwhile (or recorded one of its command ids) falls
    /// back to one aggregate at a time, and such an aggregate to one command at a time, which
    /// answers replays.
    async fn write(
        self,
        bus: &CommandBus<A>,
        concurrency: usize,
        bar: &ProgressBar,
        report: &mut ImportReport,
    ) -> Result<(), CommandError> {
        use futures::StreamExt;
        let Shadow {
            mut decided,
            loaded_at,
            order,
            ..
        } = self;
        let mut batches: Vec<Vec<Appending<A>>> = Vec::new();
        let mut events_in_batch = 0;
        for id in order {
            let Some(commands) = decided.remove(&id) else {
                continue;
            };
            let events: usize = commands.iter().map(|c| c.events.len()).sum();
            if batches.is_empty() || events_in_batch + events > EVENTS_PER_APPEND {
                batches.push(Vec::new());
                events_in_batch = 0;
            }
            events_in_batch += events;
            let after_sequence = loaded_at.get(&id).copied().unwrap_or(0);
            if let Some(batch) = batches.last_mut() {
                batch.push(Appending {
                    id,
                    after_sequence,
                    commands,
                });
            }
        }
        let results: Vec<Result<(usize, usize), CommandError>> =
            futures::stream::iter(batches.iter().map(|batch| write_batch(bus, batch, bar)))
                .buffer_unordered(concurrency)
                .collect()
                .await;
        for result in results {
            let (recorded, replayed) = result?;
            report.recorded += recorded;
            report.already_recorded += replayed;
        }
        Ok(())
    }

    fn get(&self, id: &str) -> Option<&A> {
        self.states.get(id).and_then(|s| s.as_ref().ok())
    }
}

/// How many events an import appends a transaction, at most (unless one aggregate has more):
/// enough that commits are a small part of a load, few enough that a live command waiting
/// for SQLite's one writer waits well under a second.
const EVENTS_PER_APPEND: usize = 2_000;

/// One aggregate's commands decided in the dry run, to be appended after `after_sequence`.
struct Appending<A: Aggregate> {
    id: String,
    after_sequence: usize,
    commands: Vec<Decided<A>>,
}

impl<A: Aggregate> Appending<A> {
    fn decided_for(&self) -> DecidedFor<'_, A> {
        DecidedFor {
            aggregate_id: &self.id,
            after_sequence: self.after_sequence,
            decided: &self.commands,
        }
    }
}

/// Appends `batch` in one transaction; if an aggregate in it changed since the dry run, each
/// aggregate alone, and such an aggregate's commands one by one: how many commands were
/// recorded and how many had been already.
async fn write_batch<A>(
    bus: &CommandBus<A>,
    batch: &[Appending<A>],
    bar: &ProgressBar,
) -> Result<(usize, usize), CommandError>
where
    A: Aggregate<Error = DomainError, Services = DomainServices>,
    A::Command: serde::Serialize + Clone + Send + Sync,
{
    if let Some(commands) = appended(bus, batch, bar).await? {
        return Ok((commands, 0));
    }
    let (mut recorded, mut replayed) = (0, 0);
    for aggregate in batch {
        // A batch of one has just been tried alone.
        if batch.len() > 1 {
            if let Some(commands) = appended(bus, std::slice::from_ref(aggregate), bar).await? {
                recorded += commands;
                continue;
            }
        }
        for decided in &aggregate.commands {
            let outcome = bus
                .execute(&aggregate.id, decided.command.clone(), &decided.metadata)
                .await?;
            if outcome.replayed {
                replayed += 1;
            } else {
                recorded += 1;
            }
            bar.inc(1);
        }
    }
    Ok((recorded, replayed))
}

/// Appends `aggregates` in one transaction: how many commands it recorded, or `None` (nothing
/// written) when one of them changed since the dry run or one of its command ids was recorded
/// meanwhile.
async fn appended<A>(
    bus: &CommandBus<A>,
    aggregates: &[Appending<A>],
    bar: &ProgressBar,
) -> Result<Option<usize>, CommandError>
where
    A: Aggregate<Error = DomainError, Services = DomainServices>,
    A::Command: serde::Serialize + Clone + Send + Sync,
{
    let appending: Vec<_> = aggregates.iter().map(Appending::decided_for).collect();
    match bus.append(&appending).await {
        Ok(_) => {
            let commands: usize = aggregates.iter().map(|a| a.commands.len()).sum();
            bar.inc(commands as u64);
            Ok(Some(commands))
        }
        Err(CommandError::Conflict { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The shadows of every aggregate the timeline touches.
struct Shadows {
    programmes: Shadow<desist_domain::programme::Programme>,
    subjects: Shadow<desist_domain::subject::Subject>,
    enrolments: Shadow<desist_domain::enrolment::Enrolment>,
    orders: Shadow<desist_domain::protection_order::ProtectionOrder>,
}

/// Runs every step not yet recorded against the aggregates in memory: the rules decide each
/// command exactly as they would on the way into the store, and nothing is written.
async fn dry_run(
    write: &WriteSide,
    services: &DomainServices,
    steps: Vec<Step>,
    done: &HashSet<String>,
    metadata: impl Fn(&str) -> CommandMetadata,
) -> Result<(Vec<Problem>, Shadows), CommandError> {
    let mut shadows = Shadows {
        programmes: Shadow::new(),
        subjects: Shadow::new(),
        enrolments: Shadow::new(),
        orders: Shadow::new(),
    };
    let mut problems = Vec::new();
    for step in steps {
        if done.contains(&step.command_id) {
            continue;
        }
        let meta = metadata(&step.command_id);
        let refused = match step.target {
            Target::Programme(id, c) => {
                shadows
                    .programmes
                    .apply(&write.programmes, services, &id, c, meta)
                    .await?
            }
            Target::Subject(id, c) => {
                shadows
                    .subjects
                    .apply(&write.subjects, services, &id, c, meta)
                    .await?
            }
            Target::Enrolment(id, c) => {
                if let desist_domain::enrolment::EnrolmentCommand::Refer { subject_id, .. } = &*c {
                    if !registered(&mut shadows.subjects, write, subject_id).await? {
                        problems.push(Problem {
                            path: step.path.clone(),
                            message: "the subject was not registered".into(),
                        });
                        continue;
                    }
                }
                shadows
                    .enrolments
                    .apply(&write.enrolments, services, &id, *c, meta)
                    .await?
            }
            Target::Order(id, c) => {
                shadows
                    .orders
                    .apply(&write.orders, services, &id, c, meta)
                    .await?
            }
        };
        if let Some(rule) = refused {
            problems.push(Problem {
                path: step.path.clone(),
                message: format!("{} ({}: {})", rule, rule.code(), rule.field()),
            });
        }
    }
    Ok((problems, shadows))
}

async fn registered(
    subjects: &mut Shadow<desist_domain::subject::Subject>,
    write: &WriteSide,
    subject_id: &str,
) -> Result<bool, CommandError> {
    subjects.load(&write.subjects, subject_id).await?;
    Ok(subjects
        .get(subject_id)
        .is_some_and(|s| s.demographics.is_some()))
}
