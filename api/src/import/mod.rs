//! `desist import FILE`: brings a desist-timeline/1 document in through the ordinary commands.
//!
//! 1. Parse and check the document, listing every problem by JSON path.
//! 2. Plan the commands that record it, each with a deterministic command id.
//! 3. Dry run: apply every command not yet recorded to in-memory aggregates (loaded from the
//!    store), so a rule the document breaks is found before anything is written.
//! 4. Execute through the command buses. A second import of the same file replays every id.

mod plan;
mod reader;
mod timeline;

use std::collections::{HashMap, HashSet};

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use desist_domain::{Actor, DomainError, DomainServices, Role};
use desist_store::commands::recorded_command_ids;
use desist_store::{CommandBus, CommandError, CommandMetadata, Store};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use thiserror::Error;

pub use reader::Problem;

use crate::WriteSide;
use plan::{Step, Target};

#[derive(Debug, Error)]
pub enum ImportError {
    #[error("the document has {} problem(s); nothing was written", .0.len())]
    Invalid(Vec<Problem>),
    #[error(transparent)]
    Command(#[from] CommandError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
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
    let (timeline, mut problems) = timeline::parse(document);
    let steps = plan::plan(&timeline);
    let ids: Vec<String> = steps.iter().map(|s| s.command_id.clone()).collect();
    let done = recorded_command_ids(store, &ids)
        .await
        .map_err(CommandError::from)?;
    let write = WriteSide::new(store, services.clone());
    problems
        .0
        .extend(dry_run(&write, &services, &steps, &done).await?);
    if !problems.0.is_empty() {
        return Err(ImportError::Invalid(problems.0));
    }

    let bar = if progress {
        ProgressBar::new(steps.len() as u64).with_style(
            ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} commands ({eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        )
    } else {
        ProgressBar::hidden()
    };
    bar.set_message("importing");
    let actor = Actor {
        id: "timeline-import".into(),
        role: Role::System,
        agency: agency.to_string(),
    };
    let correlation = format!("import/{}", document_tag(&ids));
    let mut report = ImportReport {
        commands: steps.len(),
        recorded: 0,
        already_recorded: 0,
    };
    for step in steps {
        let metadata = CommandMetadata::new(step.command_id, correlation.clone(), actor.clone());
        let outcome = match step.target {
            Target::Programme(id, c) => write.programmes.execute(&id, c, &metadata).await,
            Target::Subject(id, c) => write.subjects.execute(&id, c, &metadata).await,
            Target::Enrolment(id, c) => write.enrolments.execute(&id, *c, &metadata).await,
            Target::Order(id, c) => write.orders.execute(&id, c, &metadata).await,
        }?;
        if outcome.replayed {
            report.already_recorded += 1;
        } else {
            report.recorded += 1;
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(report)
}

/// A short, stable tag for one document's commands (ties them together in the log).
fn document_tag(ids: &[String]) -> String {
    use std::hash::{Hash, Hasher};
    // Only a correlation tag, not a security boundary: std's hasher is enough.
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    ids.hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// In-memory state of the aggregates a document touches, loaded from the store on first use.
struct Shadow<A> {
    states: HashMap<String, Result<A, ()>>,
}

impl<A> Shadow<A>
where
    A: Aggregate<Error = DomainError, Services = DomainServices>,
    A::Command: serde::Serialize + Clone + Send + Sync,
{
    fn new() -> Self {
        Self {
            states: HashMap::new(),
        }
    }

    /// Applies `command` unless it is recorded already. Only the first problem of an aggregate
    /// is reported: later commands on it would fail for the same reason.
    async fn apply(
        &mut self,
        bus: &CommandBus<A>,
        services: &DomainServices,
        id: &str,
        command: A::Command,
    ) -> Result<Option<DomainError>, CommandError> {
        if !self.states.contains_key(id) {
            self.states.insert(id.to_string(), Ok(bus.load(id).await?));
        }
        let Some(Ok(state)) = self.states.get_mut(id) else {
            return Ok(None);
        };
        let sink = EventSink::default();
        match state.handle(command, services, &sink).await {
            Ok(()) => Ok(None),
            Err(rule) => {
                self.states.insert(id.to_string(), Err(()));
                Ok(Some(rule))
            }
        }
    }

    fn get(&self, id: &str) -> Option<&A> {
        self.states.get(id).and_then(|s| s.as_ref().ok())
    }
}

async fn dry_run(
    write: &WriteSide,
    services: &DomainServices,
    steps: &[Step],
    done: &HashSet<String>,
) -> Result<Vec<Problem>, CommandError> {
    let mut programmes = Shadow::new();
    let mut subjects = Shadow::<desist_domain::subject::Subject>::new();
    let mut enrolments = Shadow::new();
    let mut orders = Shadow::new();
    let mut problems = Vec::new();
    for step in steps {
        if done.contains(&step.command_id) {
            continue;
        }
        let refused = match &step.target {
            Target::Programme(id, c) => {
                programmes
                    .apply(&write.programmes, services, id, c.clone())
                    .await?
            }
            Target::Subject(id, c) => {
                subjects
                    .apply(&write.subjects, services, id, c.clone())
                    .await?
            }
            Target::Enrolment(id, c) => {
                if let desist_domain::enrolment::EnrolmentCommand::Refer { subject_id, .. } = &**c {
                    if !registered(&mut subjects, write, subject_id).await? {
                        problems.push(Problem {
                            path: step.path.clone(),
                            message: "the subject was not registered".into(),
                        });
                        continue;
                    }
                }
                enrolments
                    .apply(&write.enrolments, services, id, (**c).clone())
                    .await?
            }
            Target::Order(id, c) => orders.apply(&write.orders, services, id, c.clone()).await?,
        };
        if let Some(rule) = refused {
            problems.push(Problem {
                path: step.path.clone(),
                message: format!("{} ({}: {})", rule, rule.code(), rule.field()),
            });
        }
    }
    Ok(problems)
}

async fn registered(
    subjects: &mut Shadow<desist_domain::subject::Subject>,
    write: &WriteSide,
    subject_id: &str,
) -> Result<bool, CommandError> {
    if subjects.get(subject_id).is_none() && !subjects.states.contains_key(subject_id) {
        let loaded = write.subjects.load(subject_id).await?;
        subjects.states.insert(subject_id.to_string(), Ok(loaded));
    }
    Ok(subjects
        .get(subject_id)
        .is_some_and(|s| s.demographics.is_some()))
}
