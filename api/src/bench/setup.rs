//! The bench's data: a scratch database on each backend, the demo generator at pilot and at
//! national scale, and courses with sessions waiting for their attendance.

use base64::Engine;
use chrono::{DateTime, Duration, TimeZone, Utc};
use desist_domain::enrolment::{EnrolmentCommand, ReferralRoute, SessionMode};
use desist_domain::subject::{Demographics, Sex, SubjectCommand};
use desist_domain::{Actor, DomainServices, Role};
use desist_store::{Backend, CommandMetadata, Store};
use futures::StreamExt;

use super::BenchOptions;
use crate::Error;

/// The secrets the bench's server and its tokens share; made fresh for every run.
pub const JWT_SECRET: &str = "desist-bench-secret-used-for-this-run-only";

pub fn master_key_text() -> String {
    base64::engine::general_purpose::STANDARD.encode([7u8; 32])
}

pub fn master_key() -> Result<desist_store::sealing::MasterKey, Error> {
    desist_store::sealing::MasterKey::from_base64("bench", &master_key_text())
        .map_err(Error::Config)
}

/// A database that exists for one run.
pub struct Scratch {
    pub url: String,
    backend: Backend,
    admin_url: String,
    name: String,
    dir: std::path::PathBuf,
}

impl Scratch {
    pub async fn create(backend: Backend, options: &BenchOptions) -> Result<Scratch, Error> {
        let name = format!("desist_bench_{}", rand::random::<u32>());
        let dir = options.scratch_dir.join(&name);
        let url = match backend {
            Backend::Postgres => {
                let server = &options.postgres_server;
                let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
                format!("{base}/{name}")
            }
            Backend::Sqlite => format!("sqlite://{}", dir.join("desist.db").display()),
        };
        Store::create_database_if_missing(&url).await?;
        Ok(Scratch {
            url,
            backend,
            admin_url: options.postgres_server.clone(),
            name,
            dir,
        })
    }

    /// Removes the scratch database (best effort: a failed bench should not hide its error).
    pub async fn drop_database(&self) {
        match self.backend {
            Backend::Postgres => {
                if let Ok(admin) = Store::connect(&self.admin_url, 1).await {
                    let _ = desist_store::db::query(format!(
                        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                        self.name
                    ))
                    .execute(admin.db())
                    .await;
                }
            }
            Backend::Sqlite => {
                let _ = std::fs::remove_dir_all(&self.dir);
            }
        }
    }
}

/// Loads the demo generator's first `subjects` people (the same people whatever the total, so
/// a national load after a pilot load adds the rest), with offender managers holding forty
/// people each.
pub async fn load(
    store: &Store,
    services: &DomainServices,
    seed: u64,
    subjects: usize,
) -> Result<(), Error> {
    crate::demo::seed(
        store,
        services.clone(),
        seed,
        subjects,
        crate::demo::Caseloads::Of(40),
    )
    .await?;
    Ok(())
}

pub async fn count_events(store: &Store) -> Result<i64, Error> {
    Ok(
        desist_store::db::query_scalar("SELECT count(*) FROM events")
            .fetch_one(store.db().reader())
            .await
            .map_err(desist_store::StoreError::from)?,
    )
}

/// One session waiting for its attendance: the enrolment's global id and the session's id.
#[derive(Debug, Clone)]
pub struct Waiting {
    pub enrolment: String,
    pub session: String,
    pub held_at: DateTime<Utc>,
}

/// Starts courses for bench subjects and schedules all twelve sessions of each, so that at
/// least `wanted` attendances can be recorded; returned grouped by course, in session order.
pub async fn sessions_to_record(
    store: &Store,
    services: &DomainServices,
    wanted: usize,
) -> Result<Vec<Vec<Waiting>>, Error> {
    let write = crate::WriteSide::new(store, services.clone());
    let courses = wanted.div_ceil(12);
    let actor = Actor {
        id: "desist-bench".into(),
        role: Role::System,
        agency: "desist-bench".into(),
    };
    let start = Utc
        .with_ymd_and_hms(2026, 1, 5, 10, 0, 0)
        .single()
        .unwrap_or_else(|| services.now());
    let results: Vec<Result<Vec<Waiting>, Error>> = futures::stream::iter(0..courses)
        .map(|n| {
            let (write, actor) = (&write, &actor);
            async move {
                let subject = format!("BENCH-S{n:05}");
                let enrolment = format!("BENCH-E{n:05}");
                let meta = |step: &str| {
                    CommandMetadata::new(
                        format!("bench/{enrolment}/{step}"),
                        "desist-bench",
                        actor.clone(),
                    )
                };
                write
                    .subjects
                    .execute(
                        &subject,
                        SubjectCommand::RegisterSubject {
                            demographics: Demographics {
                                birth_year: 1980,
                                sex: Sex::Male,
                                area: "Bench".into(),
                            },
                            occurred_at: start - Duration::days(30),
                        },
                        &meta("register"),
                    )
                    .await?;
                write
                    .refer(
                        &enrolment,
                        &subject,
                        "COBI/2022",
                        ReferralRoute::SpoRequirement,
                        start - Duration::days(20),
                        &meta("refer"),
                    )
                    .await?;
                let lifecycle = [
                    (
                        "assess",
                        EnrolmentCommand::AssessSuitability {
                            suitable: true,
                            occurred_at: start - Duration::days(10),
                        },
                    ),
                    (
                        "allocate",
                        EnrolmentCommand::Allocate {
                            practitioner: "bench-01".into(),
                            occurred_at: start - Duration::days(5),
                        },
                    ),
                    (
                        "start",
                        EnrolmentCommand::Start {
                            occurred_at: start - Duration::days(1),
                        },
                    ),
                ];
                for (step, command) in lifecycle {
                    write
                        .enrolments
                        .execute(&enrolment, command, &meta(step))
                        .await?;
                }
                let mut waiting = Vec::new();
                for number in 1..=12u16 {
                    let session = format!("bench-{n:05}-{number:02}");
                    let scheduled_at = start + Duration::weeks(i64::from(number) - 1);
                    write
                        .enrolments
                        .execute(
                            &enrolment,
                            EnrolmentCommand::ScheduleSession {
                                session_id: session.clone(),
                                number,
                                scheduled_at,
                                mode: SessionMode::InPerson,
                                occurred_at: start - Duration::days(1),
                            },
                            &meta(&format!("schedule-{number}")),
                        )
                        .await?;
                    waiting.push(Waiting {
                        enrolment: crate::graphql::ids::encode(
                            crate::graphql::ids::Kind::Enrolment,
                            &enrolment,
                        )
                        .to_string(),
                        session,
                        held_at: scheduled_at,
                    });
                }
                Ok(waiting)
            }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    results.into_iter().collect()
}

/// Who holds `subject`'s caseload.
pub async fn officer_of(store: &Store, subject: &str) -> Result<String, Error> {
    let officer: Option<Option<String>> = desist_store::db::query_scalar(
        "SELECT offender_manager FROM compliance_subjects WHERE subject_id = $1",
    )
    .bind(subject)
    .fetch_optional(store.db().reader())
    .await
    .map_err(desist_store::StoreError::from)?;
    officer
        .flatten()
        .ok_or_else(|| Error::Config(format!("{subject} has no offender manager")))
}

/// What an operator does after a bulk import (docs/operations.md), so that reads measured
/// next measure the queries and not the database catching up with the load: fresh planner
/// statistics, the visibility maps written (else autovacuum does it during the reads), and
/// the dirty pages flushed (else the checkpointer does). PostgreSQL: `VACUUM (ANALYZE)` and
/// `CHECKPOINT`; SQLite: `ANALYZE` and a WAL checkpoint.
pub async fn settle_database(store: &Store) -> Result<(), Error> {
    let statements: &[&str] = match store.db().backend() {
        Backend::Postgres => &["VACUUM (ANALYZE)", "CHECKPOINT"],
        Backend::Sqlite => &["ANALYZE", "PRAGMA wal_checkpoint(TRUNCATE)"],
    };
    for statement in statements {
        desist_store::db::query(*statement)
            .execute(store.db().writer())
            .await
            .map_err(desist_store::StoreError::from)?;
    }
    Ok(())
}
