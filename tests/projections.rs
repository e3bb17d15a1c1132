//! The read side never misses an event, never applies one twice, and rebuilds to the same views.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use common::{count_events, day, import_pilot, meta, scenario, write_side, TestDb};
use desist_domain::subject::{
    Demographics, OffenceCategory, OffenceDisposal, Sex, SubjectCommand, SubjectEvent,
};
use desist_domain::{Role, Sealed};
use desist_projections::compliance::ComplianceProjection;
use desist_projections::decode::Decoded;
use desist_projections::live::LiveViews;
use desist_projections::measures::outcomes::Split;
use desist_projections::outcome_cache::{cached_outcome_report, OutcomeCache};
use desist_projections::outcomes::OutcomesProjection;
use desist_projections::progress::ProgressProjection;
use desist_projections::projection::{Applied, Failure};
use desist_projections::queries::outcome_report;
use desist_projections::registry::{ensure_live, status, GenerationStatus};
use desist_projections::runner::Progress;
use desist_projections::{Generation, Projection, ProjectionError, Runner, RunnerOptions};
use desist_store::db::{Db, Tx};
use desist_store::FeedPosition;
use serde_json::json;
use sqlx::{Connection, PgConnection};

/// Every row of every view of `P`, as JSON text, sorted.
async fn dump<P: Projection>(pool: &Db) -> Vec<String> {
    let mut rows = Vec::new();
    for table in P::TABLES {
        let table_rows = common::table_rows(pool, table, &[]).await;
        rows.extend(table_rows.into_iter().map(|r| format!("{table}: {r}")));
    }
    rows
}

/// Where projection `name`'s (first) generation that is not retired stands.
async fn status_of(pool: &Db, name: &str) -> GenerationStatus {
    status(pool)
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap()
}

/// How many events the live generation of projection `name` has applied, by its own count.
async fn events_applied(pool: &Db, name: &str) -> i64 {
    status_of(pool, name).await.events_applied
}

/// Commits the transaction `held` has open, then waits (at most 30 s) for the runner
/// `catching_up` to finish.
async fn commit_then_finish(
    held: &mut PgConnection,
    catching_up: tokio::task::JoinHandle<Result<Progress, ProjectionError>>,
) -> Progress {
    desist_store::db::query("COMMIT")
        .execute(held)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(30), catching_up)
        .await
        .expect("the runner finishes once the transaction commits")
        .unwrap()
        .unwrap()
}

/// Catches `P` up as soon as no other runner holds it (within ten seconds).
async fn catch_up_once_free<P: Projection + Clone>(
    projection: P,
    pool: &Db,
    generation: Generation,
) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match Runner::new(projection.clone(), pool.clone())
            .catch_up(generation, |_| {})
            .await
        {
            Ok(_) => return,
            Err(ProjectionError::Busy(_)) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("the projection should be free: {e}"),
        }
    }
}

async fn crash_then_recover<P: Projection>(projection: P, again: P, pool: &Db) {
    let generation = ensure_live::<P>(pool).await.unwrap();
    let batches = Arc::new(AtomicUsize::new(0));
    let counter = batches.clone();
    let crashing = Runner::new(projection, pool.clone()).with_options(RunnerOptions {
        batch_size: 100,
        crash_before_commit: Some(Arc::new(move |_| {
            counter.fetch_add(1, Ordering::SeqCst) == 3
        })),
        ..RunnerOptions::default()
    });
    let err = crashing.catch_up(generation, |_| {}).await.unwrap_err();
    assert!(matches!(err, ProjectionError::SimulatedCrash), "{err}");
    let restarted = Runner::new(again, pool.clone());
    restarted.catch_up(generation, |_| {}).await.unwrap();
}

#[tokio::test]
async fn after_a_crash_between_apply_and_commit_every_view_equals_a_rebuild_from_zero() {
    let db = TestDb::new().await;
    import_pilot(&db.store).await;
    let pool = db.store.db();
    crash_then_recover(ProgressProjection, ProgressProjection, pool).await;
    crash_then_recover(ComplianceProjection, ComplianceProjection, pool).await;
    crash_then_recover(OutcomesProjection, OutcomesProjection, pool).await;
    let events = count_events(&db.store).await;
    for s in status(pool).await.unwrap() {
        assert_eq!(
            s.events_applied, events,
            "{} applied each event once",
            s.name
        );
        assert_eq!(s.lag, 0);
    }

    let live = (
        dump::<ProgressProjection>(pool).await,
        dump::<ComplianceProjection>(pool).await,
        dump::<OutcomesProjection>(pool).await,
    );
    assert!(live.0.len() > 1000 && live.1.len() > 1000 && live.2.len() > 1000);
    for name in desist_projections::NAMES {
        let (generation, _) = desist_projections::rebuild_by_name(name, pool, |_| {})
            .await
            .unwrap();
        assert_eq!(generation, Generation(2));
    }
    let rebuilt = (
        dump::<ProgressProjection>(pool).await,
        dump::<ComplianceProjection>(pool).await,
        dump::<OutcomesProjection>(pool).await,
    );
    assert!(live.0 == rebuilt.0, "progress differs after rebuild");
    assert!(live.1 == rebuilt.1, "compliance differs after rebuild");
    assert!(live.2 == rebuilt.2, "outcomes differ after rebuild");
    // The old generation's tables are gone; the views show the new one.
    for table in ProgressProjection::TABLES
        .iter()
        .chain(ComplianceProjection::TABLES)
        .chain(OutcomesProjection::TABLES)
    {
        assert!(
            !common::table_exists(pool, &format!("{table}_g1")).await,
            "{table}_g1 was dropped"
        );
    }
}

#[tokio::test]
async fn a_projection_waits_for_an_earlier_open_transaction_instead_of_skipping_it() {
    if !common::only_on(desist_store::Backend::Postgres) {
        return;
    }
    let db = TestDb::new().await;
    let pool = db.store.db().clone();
    let generation = ensure_live::<ComplianceProjection>(&pool).await.unwrap();

    // A writer's transaction registers S-late and stays open…
    let mut slow = PgConnection::connect(&db.url).await.unwrap();
    desist_store::db::query("BEGIN")
        .execute(&mut slow)
        .await
        .unwrap();
    desist_store::db::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
         VALUES ('Subject', 'S-late', 1, 'SubjectRegistered', '1.0.0', $1, '{}')",
    )
    .bind(json!({"SubjectRegistered": {"demographics": {"birth_year": 1980, "sex": "male", "area": "Kent"},
        "occurred_at": "2024-01-02T12:00:00Z"}}))
    .execute(&mut slow)
    .await
    .unwrap();
    // …while a later registration commits.
    let ws = write_side(&db);
    scenario::subject(&ws, "S-early").await;

    let runner = Runner::new(ComplianceProjection, pool.clone());
    let catching_up = tokio::spawn(async move { runner.catch_up(generation, |_| {}).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !catching_up.is_finished(),
        "the runner must wait for the open transaction"
    );
    let seen: Vec<String> =
        desist_store::db::query_scalar("SELECT subject_id FROM compliance_subjects")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert!(
        seen.is_empty(),
        "nothing after the open transaction was applied: {seen:?}"
    );

    let progress = commit_then_finish(&mut slow, catching_up).await;
    assert_eq!(progress.events, 2);
    let mut seen: Vec<String> =
        desist_store::db::query_scalar("SELECT subject_id FROM compliance_subjects")
            .fetch_all(&pool)
            .await
            .unwrap();
    seen.sort();
    assert_eq!(seen, ["S-early", "S-late"]);
}

/// A projection that refuses offences while `broken` is set, and otherwise records each
/// event's position: a stand-in for a projection with a bug that is later fixed.
struct Fragile {
    broken: Arc<AtomicBool>,
}

impl Projection for Fragile {
    const NAME: &'static str = "fragile";
    const VERSION: i32 = 1;
    const TABLES: &'static [&'static str] = &["fragile_seen"];
    const SCHEMA: &'static [&'static str] =
        &["CREATE TABLE fragile_seen{g} (global_position bigint PRIMARY KEY)"];

    /// The feed positions of the batch's events.
    type Changes = Vec<i64>;

    async fn prepare(
        &self,
        _loads: &mut Tx,
        _g: Generation,
        events: &[Applied<'_>],
        _after: Option<&Vec<i64>>,
    ) -> Result<Vec<i64>, Failure> {
        let mut seen = Vec::with_capacity(events.len());
        for (i, applied) in events.iter().enumerate() {
            if self.broken.load(Ordering::SeqCst)
                && matches!(
                    applied.event,
                    Decoded::Subject(SubjectEvent::OffenceRecorded { .. })
                )
            {
                return Err(Failure {
                    event: Some(i),
                    error: sqlx::Error::Protocol("cannot handle offences yet".into()),
                });
            }
            seen.push(applied.feed.position.global_position);
        }
        Ok(seen)
    }

    async fn save(seen: &Vec<i64>, tx: &mut Tx, g: Generation) -> Result<(), sqlx::Error> {
        for position in seen {
            desist_store::db::query(
                g.sql("INSERT INTO fragile_seen{g} (global_position) VALUES ($1)"),
            )
            .bind(*position)
            .execute(&mut *tx)
            .await?;
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_failing_projection_stops_at_the_event_and_resumes_from_its_checkpoint() {
    let db = TestDb::new().await;
    let ws = write_side(&db);
    scenario::subject(&ws, "S1").await;
    scenario::offence(&ws, "S1", "F1", OffenceCategory::Violence, day(3, 1)).await;
    scenario::subject(&ws, "S2").await;
    let pool = db.store.db().clone();
    let written = count_events(&db.store).await as usize;
    let offence_position = common::feed_at_least(&db.store, FeedPosition::START, written)
        .await
        .into_iter()
        .find(|e| e.event_type == "OffenceRecorded")
        .expect("the offence is in the feed")
        .position
        .global_position;

    let broken = Arc::new(AtomicBool::new(true));
    let generation = ensure_live::<Fragile>(&pool).await.unwrap();
    let runner = Runner::new(
        Fragile {
            broken: broken.clone(),
        },
        pool.clone(),
    )
    .with_options(RunnerOptions {
        batch_size: 1,
        ..RunnerOptions::default()
    });
    let err = runner.catch_up(generation, |_| {}).await.unwrap_err();
    match &err {
        ProjectionError::Apply {
            global_position,
            event_type,
            reason,
            ..
        } => {
            assert_eq!(*global_position, offence_position);
            assert_eq!(event_type, "OffenceRecorded");
            assert!(reason.contains("cannot handle offences"), "{reason}");
        }
        other => panic!("expected the failing event, got {other}"),
    }
    let fragile = status_of(&pool, "fragile").await;
    assert!(fragile.failure.unwrap().contains("cannot handle offences"));
    assert_eq!(
        fragile.events_applied, 1,
        "only the event before the failure"
    );
    // Running again without a fix stops at the same event: it is never skipped.
    assert!(runner.catch_up(generation, |_| {}).await.is_err());

    broken.store(false, Ordering::SeqCst);
    runner.catch_up(generation, |_| {}).await.unwrap();
    let seen: Vec<i64> = desist_store::db::query_scalar(
        "SELECT global_position FROM fragile_seen ORDER BY global_position",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let all: Vec<i64> = common::feed_at_least(&db.store, FeedPosition::START, seen.len())
        .await
        .iter()
        .map(|e| e.position.global_position)
        .collect();
    assert_eq!(seen, all, "every event once, in order, after the fix");
    let fixed = status_of(&pool, "fragile").await;
    assert_eq!(fixed.failure, None);
}

#[tokio::test]
async fn only_one_runner_at_a_time_works_on_a_projection() {
    let db = TestDb::new().await;
    let pool = db.store.db().clone();
    let generation = ensure_live::<ProgressProjection>(&pool).await.unwrap();
    // Another runner (on PostgreSQL, another session, as another process would be).
    let other_runner = pool
        .try_lock("desist:projection:progress:1")
        .await
        .unwrap()
        .expect("the lock is free");
    let err = Runner::new(ProgressProjection, pool.clone())
        .catch_up(generation, |_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, ProjectionError::Busy(_)), "{err}");
    other_runner.release().await;
    // The server ends the other session (and its lock) a moment after the client goes.
    catch_up_once_free(ProgressProjection, &pool, generation).await;
}

#[tokio::test]
async fn a_running_projection_is_woken_by_a_commit_without_waiting_for_its_poll() {
    let db = TestDb::new().await;
    let ws = write_side(&db);
    woken_by(&db, &ws, "S-woken").await;
}

#[tokio::test]
async fn a_commit_by_another_instance_wakes_a_running_projection() {
    if !common::only_on(desist_store::Backend::Postgres) {
        return;
    }
    let db = TestDb::new().await;
    // Another `desist serve` on the same database: its own pool, its own notifier.
    let other = desist_store::Store::connect(&db.url, 4).await.unwrap();
    let ws = desist_api::write::WriteSide::new(
        &other,
        desist_domain::DomainServices::fixed(common::now()),
    );
    woken_by(&db, &ws, "S-elsewhere").await;
}

/// Runs the compliance projection with a poll too slow to matter, registers `subject_id`
/// through `ws`, and waits for the runner to apply it.
async fn woken_by(db: &TestDb, ws: &desist_api::write::WriteSide, subject_id: &str) {
    let pool = db.store.db().clone();
    let runner = Runner::new(ComplianceProjection, pool.clone()).with_options(RunnerOptions {
        poll_interval: Duration::from_secs(3600),
        ..RunnerOptions::default()
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(async move {
        runner
            .run(async {
                let _ = stopped.await;
            })
            .await
    });
    // Let it start and listen.
    tokio::time::sleep(Duration::from_millis(500)).await;
    scenario::subject(ws, subject_id).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let seen: i64 = desist_store::db::query_scalar(
            "SELECT count(*) FROM compliance_subjects WHERE subject_id = $1",
        )
        .bind(subject_id)
        .fetch_one(&pool)
        .await
        .unwrap_or(0);
        if seen == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the runner was not woken"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(());
    running.await.unwrap().unwrap();
}

/// The pilot fixture imported, and every view caught up with it.
async fn pilot_with_views() -> TestDb {
    let db = TestDb::new().await;
    import_pilot(&db.store).await;
    desist_projections::catch_up_all(db.store.db())
        .await
        .unwrap();
    db
}

#[tokio::test]
async fn outcomes_pinned_to_a_feed_position_do_not_change_when_later_events_arrive() {
    let db = pilot_with_views().await;
    let pool = db.store.db();
    let as_of = "2025-06-30".parse().unwrap();
    let pinned = outcome_report(pool, as_of, None, Split::default())
        .await
        .unwrap();
    // A cached report is the report, and is computed once per position.
    let cache = OutcomeCache::default();
    let cached = cached_outcome_report(pool, &cache, as_of, None, Split::default())
        .await
        .unwrap();
    assert_eq!(*cached, pinned);
    let hit = cached_outcome_report(pool, &cache, as_of, None, Split::default())
        .await
        .unwrap();
    assert!(
        Arc::ptr_eq(&cached, &hit),
        "the second asking is answered from memory"
    );

    let by_area = Split {
        area: true,
        ..Split::default()
    };
    let pinned_by_area = outcome_report(pool, as_of, Some(pinned.position), by_area)
        .await
        .unwrap();

    // Later, a new proven reoffence for someone in the 2023Q1 cohort, whose area is corrected.
    let ws = write_side(&db);
    let subject = "S030000";
    let moved_area = SubjectCommand::CorrectDemographics {
        corrected: Demographics {
            birth_year: 1980,
            sex: Sex::Male,
            area: "Elsewhere".into(),
        },
        reason: Sealed::plain("area mistyped"),
        occurred_at: day(3, 1),
    };
    ws.subjects
        .execute(subject, moved_area, &meta(Role::Admin))
        .await
        .unwrap();
    let category = OffenceCategory::StalkingHarassment;
    let committed = Utc.with_ymd_and_hms(2023, 12, 1, 0, 0, 0).unwrap();
    scenario::offence(&ws, subject, "late-1", category, committed).await;
    desist_projections::catch_up_all(pool).await.unwrap();
    let unproven = outcome_report(pool, as_of, None, Split::default())
        .await
        .unwrap();
    let proven = SubjectCommand::RecordOffenceProven {
        offence_id: "late-1".into(),
        disposal: OffenceDisposal::Conviction,
        occurred_at: Utc.with_ymd_and_hms(2024, 1, 15, 0, 0, 0).unwrap(),
    };
    ws.subjects
        .execute(subject, proven, &meta(Role::PoliceSpoOfficer))
        .await
        .unwrap();
    desist_projections::catch_up_all(pool).await.unwrap();

    // Pinned between the offence's two versions, the first counts: recorded, not yet proven.
    let between = outcome_report(pool, as_of, Some(unproven.position), Split::default())
        .await
        .unwrap();
    assert_eq!(between, unproven);
    assert_eq!(
        between.all_cohorts.reoffences, pinned.all_cohorts.reoffences,
        "an offence not yet proven is no reoffence"
    );
    let again = outcome_report(pool, as_of, Some(pinned.position), Split::default())
        .await
        .unwrap();
    assert_eq!(again, pinned, "the same pin gives the same numbers");
    // The person's row has a version after the pin: at the pin, the one before it counts.
    let again_by_area = outcome_report(pool, as_of, Some(pinned.position), by_area)
        .await
        .unwrap();
    assert_eq!(again_by_area, pinned_by_area);
    let latest = outcome_report(pool, as_of, None, Split::default())
        .await
        .unwrap();
    assert_ne!(latest.position, pinned.position);
    assert_ne!(
        latest.all_cohorts.reoffences, pinned.all_cohorts.reoffences,
        "unpinned, the new reoffence counts"
    );
    // The cache follows the feed: the new position is a new report, not the cached one.
    let moved = cached_outcome_report(pool, &cache, as_of, None, Split::default())
        .await
        .unwrap();
    assert_eq!(*moved, latest);
}

#[tokio::test]
async fn an_outcome_report_asked_for_at_the_newest_position_is_made_ready_when_the_view_moves() {
    let db = pilot_with_views().await;
    let pool = db.store.db();
    let as_of = "2025-06-30".parse().unwrap();
    let cache = OutcomeCache::default();
    let first = cached_outcome_report(pool, &cache, as_of, None, Split::default())
        .await
        .unwrap();
    let by_area = Split {
        area: true,
        ..Split::default()
    };
    cached_outcome_report(pool, &cache, as_of, Some(first.position), by_area)
        .await
        .unwrap();
    assert_eq!(
        cache.refresh(pool).await.unwrap(),
        0,
        "the view has not moved: the report asked for is ready"
    );

    let ws = write_side(&db);
    let category = OffenceCategory::StalkingHarassment;
    scenario::offence(&ws, "S030000", "late-2", category, day(2, 1)).await;
    assert_eq!(
        cache.refresh(pool).await.unwrap(),
        0,
        "while the view is behind the feed, nothing is computed"
    );
    desist_projections::catch_up_all(pool).await.unwrap();

    assert_eq!(cache.refresh(pool).await.unwrap(), 1);
    let latest = outcome_report(pool, as_of, None, Split::default())
        .await
        .unwrap();
    assert_ne!(latest.position, first.position);
    assert!(cache.holds(latest.position, as_of, Split::default()));
    assert!(
        !cache.holds(latest.position, as_of, by_area),
        "a report asked for at a pin stays at its pin"
    );
    let asked = cached_outcome_report(pool, &cache, as_of, None, Split::default())
        .await
        .unwrap();
    assert_eq!(*asked, latest, "the report made ready is the report");
}

#[tokio::test]
async fn evaluators_asking_for_the_same_outcome_report_at_once_share_one_computation() {
    let db = pilot_with_views().await;
    let pool = db.store.db();
    let as_of = "2025-06-30".parse().unwrap();
    let cache = OutcomeCache::default();
    let ask = || cached_outcome_report(pool, &cache, as_of, None, Split::default());
    let (one, two, three) = tokio::join!(ask(), ask(), ask());
    let (one, two, three) = (one.unwrap(), two.unwrap(), three.unwrap());
    assert!(Arc::ptr_eq(&one, &two) && Arc::ptr_eq(&one, &three));
}

#[tokio::test]
async fn killing_a_runner_process_mid_catch_up_loses_nothing_and_applies_nothing_twice() {
    let db = TestDb::new().await;
    import_pilot(&db.store).await;
    let pool = db.store.db();
    let desist = || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_desist"));
        command
            .env("DATABASE_URL", &db.url)
            .env("RUST_BACKTRACE", "0");
        command
    };
    // kill -9 a real runner part-way through catching up with ~4,000 events.
    let mut child = desist()
        .args(["projections", "catch-up"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let applied_when_killed: i64 = desist_store::db::query_scalar(
        "SELECT coalesce(sum(events_applied), 0)::bigint FROM projection_generations",
    )
    .fetch_one(pool)
    .await
    .unwrap_or(0);
    println!("events applied across projections when killed: {applied_when_killed}");

    let output = desist().args(["projections", "catch-up"]).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let events = count_events(&db.store).await;
    for s in status(pool).await.unwrap() {
        assert_eq!(
            s.events_applied, events,
            "{}: each event applied once",
            s.name
        );
    }
    let live = (
        dump::<ProgressProjection>(pool).await,
        dump::<ComplianceProjection>(pool).await,
        dump::<OutcomesProjection>(pool).await,
    );
    for name in desist_projections::NAMES {
        desist_projections::rebuild_by_name(name, pool, |_| {})
            .await
            .unwrap();
    }
    assert!(live.0 == dump::<ProgressProjection>(pool).await);
    assert!(live.1 == dump::<ComplianceProjection>(pool).await);
    assert!(live.2 == dump::<OutcomesProjection>(pool).await);
}

#[tokio::test]
async fn the_progress_view_shows_where_a_course_stands() {
    use desist_domain::enrolment::{
        AbsenceResolution, Attendance, EnrolmentCommand, SessionContent, SessionMode,
        TriggerCategory,
    };
    use desist_domain::programme::SkillsModule;
    use desist_domain::subject::{Rating, RiskAssessment, SrpRatings, StalkerType};
    use desist_domain::Sealed;

    let db = TestDb::new().await;
    let ws = write_side(&db);
    scenario::s1_active_in_e1(&ws).await;
    let at = |n: i64| day(1, 16) + chrono::Duration::weeks(n);
    let e = |command| async {
        ws.enrolments
            .execute("E1", command, &meta(Role::Therapist))
            .await
    };
    let outcomes = [
        Attendance::Attended,
        Attendance::Late,
        Attendance::Absent,
        Attendance::Absent,
        Attendance::SentHome,
    ];
    for (i, attendance) in outcomes.into_iter().enumerate() {
        let id = format!("s{i}");
        e(EnrolmentCommand::ScheduleSession {
            session_id: id.clone(),
            number: i as u16 + 1,
            scheduled_at: at(i as i64),
            mode: SessionMode::InPerson,
            occurred_at: day(1, 16),
        })
        .await
        .unwrap();
        e(EnrolmentCommand::RecordAttendance {
            session_id: id,
            attendance,
            occurred_at: at(i as i64),
        })
        .await
        .unwrap();
    }
    e(EnrolmentCommand::ResolveAbsence {
        session_id: "s2".into(),
        resolution: AbsenceResolution::Unacceptable,
        occurred_at: at(2),
    })
    .await
    .unwrap();
    e(EnrolmentCommand::RecordSessionContent {
        session_id: "s1".into(),
        content: SessionContent {
            modules_covered: vec![SkillsModule::Mindfulness, SkillsModule::ChainAnalysis],
            skills_practised: vec![],
            homework_set: None,
            diary_card_reviewed: true,
            engagement: Some(4),
            notes: None,
        },
        occurred_at: at(1),
    })
    .await
    .unwrap();
    for trigger in ["T1", "T2"] {
        e(EnrolmentCommand::IdentifyTrigger {
            trigger_id: trigger.into(),
            category: TriggerCategory::Loneliness,
            description: Sealed::plain("evenings"),
            occurred_at: at(1),
        })
        .await
        .unwrap();
    }
    e(EnrolmentCommand::RecordCopingPlan {
        trigger_id: "T1".into(),
        plan: Sealed::plain("call a friend"),
        occurred_at: at(2),
    })
    .await
    .unwrap();
    e(EnrolmentCommand::ScheduleSession {
        session_id: "next".into(),
        number: 6,
        scheduled_at: day(3, 20),
        mode: SessionMode::Video,
        occurred_at: at(4),
    })
    .await
    .unwrap();
    e(EnrolmentCommand::Pause {
        reason: None,
        occurred_at: day(3, 1),
    })
    .await
    .unwrap();
    e(EnrolmentCommand::Resume {
        occurred_at: day(3, 15),
    })
    .await
    .unwrap();
    ws.subjects
        .execute(
            "S1",
            SubjectCommand::RecordRiskAssessment {
                assessment: RiskAssessment::Srp {
                    stalker_type: StalkerType::Resentful,
                    ratings: SrpRatings {
                        violence: Rating::Low,
                        persistence: Rating::High,
                        recurrence: Rating::Moderate,
                        psychosocial_damage: Rating::Low,
                    },
                },
                tool_version: "2".into(),
                assessor: "psy-01".into(),
                occurred_at: day(1, 10),
            },
            &meta(Role::Therapist),
        )
        .await
        .unwrap();
    desist_projections::catch_up_all(db.store.db())
        .await
        .unwrap();

    type Row = (
        String,
        i32,
        i32,
        Option<f64>,
        i32,
        i32,
        i32,
        String,
        i32,
        i32,
        Option<i32>,
        i32,
        Option<chrono::DateTime<chrono::Utc>>,
    );
    let row: Row = desist_store::db::query_as(
        "SELECT status, sessions_attended, sessions_due, attendance_rate, absences_unacceptable,
                absences_provisional, absences_acceptable, modules_covered, triggers,
                triggers_with_plan, latest_engagement, paused_days, next_session_at
           FROM progress WHERE enrolment_id = 'E1'",
    )
    .fetch_one(db.store.db())
    .await
    .unwrap();
    assert_eq!(row.0, "active");
    assert_eq!((row.1, row.2), (2, 5), "2 attended of 5 due");
    assert_eq!(row.3, Some(0.4));
    assert_eq!(
        (row.4, row.5, row.6),
        (1, 1, 0),
        "one unacceptable, one provisional"
    );
    assert_eq!(row.7, "chain_analysis,mindfulness");
    assert_eq!(
        (row.8, row.9),
        (2, 1),
        "two triggers, one with a coping plan"
    );
    assert_eq!(row.10, Some(4));
    assert_eq!(row.11, 14, "paused from 1 to 15 March");
    assert_eq!(row.12, Some(day(3, 20)));
    let risk: String = desist_store::db::query_scalar(
        "SELECT persistence FROM progress_risk WHERE subject_id = 'S1'",
    )
    .fetch_one(db.store.db())
    .await
    .unwrap();
    assert_eq!(risk, "high");
}

#[tokio::test]
async fn a_runner_stopped_mid_batch_leaves_no_lock_behind() {
    let db = TestDb::new().await;
    import_pilot(&db.store).await;
    let pool = db.store.db().clone();
    let generation = ensure_live::<ComplianceProjection>(&pool).await.unwrap();
    let runner = Runner::new(ComplianceProjection, pool.clone()).with_options(RunnerOptions {
        batch_size: 10,
        ..RunnerOptions::default()
    });
    let running = tokio::spawn(async move { runner.catch_up(generation, |_| {}).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    running.abort();
    let _ = running.await;
    catch_up_once_free(ComplianceProjection, &pool, generation).await;
    let events = count_events(&db.store).await;
    assert_eq!(events_applied(&pool, "compliance").await, events);
}

/// Catches `P` up one event per batch, then rebuilds it with the default batches: a batch's rows
/// are held in memory and its derived totals computed once (`desist_projections::rows`), which
/// must give the same rows as applying every event on its own.
/// Builds `P` with batches of `batch_size` events, makes that generation live, and dumps it.
async fn built_in_batches_of<P: Projection + Clone>(
    projection: &P,
    pool: &Db,
    batch_size: i64,
) -> Vec<String> {
    let generation = desist_projections::registry::create_building::<P>(pool)
        .await
        .unwrap();
    Runner::new(projection.clone(), pool.clone())
        .with_options(RunnerOptions {
            batch_size,
            ..RunnerOptions::default()
        })
        .catch_up(generation, |_| {})
        .await
        .unwrap();
    desist_projections::registry::make_live::<P>(pool, generation)
        .await
        .unwrap();
    dump::<P>(pool).await
}

/// Full batches are prepared while the batch before is written, with the rows that batch
/// holds carried over (`runner`): one event a batch carries the most, and batches of 97
/// events mix rows carried over with rows loaded. Both must build what one batch of all the
/// events does (applied in one transaction, its rows loaded inside it).
async fn every_batch_size_builds_the_same<P: Projection + Clone>(projection: P, pool: &Db) {
    let whole = built_in_batches_of(&projection, pool, 1_000_000).await;
    assert!(whole.len() > 1000, "{} has rows", P::NAME);
    for batch_size in [1, 97] {
        let batched = built_in_batches_of(&projection, pool, batch_size).await;
        assert!(
            whole == batched,
            "{} differs between batches of {batch_size} events and one batch",
            P::NAME
        );
    }
}

#[tokio::test]
async fn every_view_is_the_same_whatever_the_batch_size() {
    let db = TestDb::new().await;
    import_pilot(&db.store).await;
    let pool = db.store.db();
    every_batch_size_builds_the_same(ProgressProjection, pool).await;
    every_batch_size_builds_the_same(ComplianceProjection, pool).await;
    every_batch_size_builds_the_same(OutcomesProjection, pool).await;
}

/// `P` without its list of ignored events: every payload read and applied.
#[derive(Clone)]
struct ReadingEverything<P>(P);

impl<P: Projection> Projection for ReadingEverything<P> {
    const NAME: &'static str = P::NAME;
    const VERSION: i32 = P::VERSION;
    const TABLES: &'static [&'static str] = P::TABLES;
    const SCHEMA: &'static [&'static str] = P::SCHEMA;
    const KEYS_BUILT_LAST: &'static [&'static str] = P::KEYS_BUILT_LAST;
    const READ_BY_KEY: bool = P::READ_BY_KEY;

    type Changes = P::Changes;

    async fn prepare(
        &self,
        loads: &mut Tx,
        generation: Generation,
        events: &[Applied<'_>],
        after: Option<&P::Changes>,
    ) -> Result<P::Changes, Failure> {
        self.0.prepare(loads, generation, events, after).await
    }

    async fn save(
        changes: &P::Changes,
        tx: &mut Tx,
        generation: Generation,
    ) -> Result<(), sqlx::Error> {
        P::save(changes, tx, generation).await
    }
}

/// Rebuilds `P` as it is (its ignored events' payloads left unread) and reading everything,
/// and compares the two; every type it ignores must be in the data for that to show anything.
async fn ignored_events_change_nothing<P: Projection + Clone>(projection: P, db: &TestDb) {
    let pool = db.store.db();
    let present: Vec<String> =
        desist_store::db::query_scalar("SELECT DISTINCT event_type FROM events")
            .fetch_all(pool)
            .await
            .unwrap();
    for ignored in P::IGNORES {
        assert!(
            present.iter().any(|t| t == ignored),
            "{} ignores {ignored}: the test data must hold one to show it changes nothing",
            P::NAME
        );
    }
    let (_, passed) = desist_projections::runner::rebuild(projection.clone(), pool, |_| {})
        .await
        .unwrap();
    assert_eq!(passed.events as i64, count_events(&db.store).await);
    let ignoring = dump::<P>(pool).await;
    desist_projections::runner::rebuild(ReadingEverything(projection), pool, |_| {})
        .await
        .unwrap();
    let reading = dump::<P>(pool).await;
    assert!(ignoring.len() > 1000, "{} has rows", P::NAME);
    assert!(
        ignoring == reading,
        "{} differs when the events it ignores are read",
        P::NAME
    );
}

#[tokio::test]
async fn every_view_is_the_same_when_the_events_it_ignores_are_read() {
    let db = TestDb::new().await;
    // The pilot fixture, and the demo cohort for the types of event the fixture lacks
    // (offender managers allocated, enforcement, breaches' outcomes).
    import_pilot(&db.store).await;
    desist_api::demo::seed(
        &db.store,
        desist_domain::DomainServices::system(),
        7,
        200,
        desist_api::demo::Caseloads::OnePerArea,
    )
    .await
    .expect("the demo cohort obeys every rule");
    // And a therapist's records, which neither the fixture nor the demo holds.
    let ws = write_side(&db);
    scenario::subject(&ws, "S-THERAPY").await;
    scenario::active_enrolment(&ws, "S-THERAPY", "E-THERAPY").await;
    scenario::therapy_records(&ws, "E-THERAPY").await;
    ignored_events_change_nothing(ProgressProjection, &db).await;
    ignored_events_change_nothing(ComplianceProjection, &db).await;
    ignored_events_change_nothing(OutcomesProjection, &db).await;
}

/// The indexes of every table of `P`'s `generation`, their generation suffix left out.
async fn indexes<P: Projection>(pool: &Db, generation: Generation) -> Vec<String> {
    let sql = match pool.backend() {
        desist_store::Backend::Postgres => {
            "SELECT indexdef FROM pg_indexes WHERE tablename = $1 ORDER BY 1"
        }
        desist_store::Backend::Sqlite => {
            "SELECT coalesce(sql, name) FROM sqlite_master
              WHERE type = 'index' AND tbl_name = $1 ORDER BY 1"
        }
    };
    let mut all = Vec::new();
    for table in P::TABLES {
        let defined: Vec<String> = desist_store::db::query_scalar(sql)
            .bind(generation.table(table))
            .fetch_all(pool)
            .await
            .unwrap();
        let suffix = generation.table("");
        all.extend(defined.into_iter().map(|d| d.replace(&suffix, "_g")));
    }
    all
}

/// A rebuild builds some keys only once it has caught up (`Projection::KEYS_BUILT_LAST`): the
/// generation it makes live has every index a new one starts with, and they hold.
#[tokio::test]
async fn a_rebuilt_generation_has_every_index_a_new_one_has() {
    let db = TestDb::new().await;
    import_pilot(&db.store).await;
    let pool = db.store.db();
    let new = ensure_live::<OutcomesProjection>(pool).await.unwrap();
    let of_new = indexes::<OutcomesProjection>(pool, new).await;
    let (rebuilt, _) = desist_projections::runner::rebuild(OutcomesProjection, pool, |_| {})
        .await
        .unwrap();
    assert_ne!(new, rebuilt);
    assert_eq!(indexes::<OutcomesProjection>(pool, rebuilt).await, of_new);
    assert!(
        of_new.iter().any(|i| i.contains("outcome_sessions_g_key")),
        "{of_new:?}"
    );
    // The key holds: a session's version already there cannot be added again.
    let again = desist_store::db::query(format!(
        "INSERT INTO {0} SELECT * FROM {0} LIMIT 1",
        rebuilt.table("outcome_sessions")
    ))
    .execute(pool)
    .await;
    assert!(again.is_err(), "a duplicate session version was accepted");
}

/// A runner that read the checkpoint before its predecessor's last batch committed (the
/// predecessor's lock, on its own connection, ended first) does not apply that batch again.
#[tokio::test]
async fn a_batch_committed_after_the_checkpoint_was_read_is_not_applied_again() {
    if !common::only_on(desist_store::Backend::Postgres) {
        return;
    }
    let db = TestDb::new().await;
    import_pilot(&db.store).await;
    let pool = db.store.db().clone();
    let generation = ensure_live::<ComplianceProjection>(&pool).await.unwrap();
    let events = count_events(&db.store).await;
    let (end_tx, end_position): (i64, i64) = desist_store::db::query_as(
        "SELECT tx::text::bigint, global_position FROM events \
          ORDER BY events.tx DESC, events.global_position DESC LIMIT 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();

    // The predecessor has applied the whole feed and is committing its last batch…
    let mut predecessor = PgConnection::connect(&db.url).await.unwrap();
    desist_store::db::query("BEGIN")
        .execute(&mut predecessor)
        .await
        .unwrap();
    desist_store::db::query(
        "UPDATE projection_generations \
            SET checkpoint_tx = $1, checkpoint_position = $2, events_applied = events_applied + $3 \
          WHERE name = 'compliance' AND generation = $4",
    )
    .bind(end_tx)
    .bind(end_position)
    .bind(events)
    .bind(generation.0)
    .execute(&mut predecessor)
    .await
    .unwrap();
    // …while the next runner reads the checkpoint it leaves behind and applies the feed again.
    let runner = Runner::new(ComplianceProjection, pool.clone());
    let catching_up = tokio::spawn(async move { runner.catch_up(generation, |_| {}).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !catching_up.is_finished(),
        "the runner waits on the predecessor's checkpoint"
    );
    let progress = commit_then_finish(&mut predecessor, catching_up).await;
    assert_eq!(progress.events, 0, "no event was applied a second time");
    assert_eq!(events_applied(&pool, "compliance").await, events);
}

/// Runs `views` in a task of its own until the sender is sent to or dropped.
fn run_live<A: Projection, B: Projection, C: Projection>(
    views: LiveViews<A, B, C>,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), ProjectionError>>,
) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(views.run(async {
        let _ = stopped.await;
    }));
    (stop, running)
}

/// Waits (at most 20 s) until the live view `name` has applied every event in the store.
async fn until_applied_everything(db: &TestDb, name: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let events = count_events(&db.store).await;
        if events_applied(db.store.db(), name).await == events {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{name} did not apply every event"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A store with one subject, S1, and every view caught up with it.
async fn one_subject_in_every_view() -> (TestDb, desist_api::write::WriteSide) {
    let db = TestDb::new().await;
    let ws = write_side(&db);
    scenario::subject(&ws, "S1").await;
    desist_projections::catch_up_all(db.store.db())
        .await
        .unwrap();
    (db, ws)
}

/// A server's three views, told of every commit by `on_commit` (`true` simulates a crash).
fn live_views(
    pool: &Db,
    on_commit: impl Fn(usize) -> bool + Send + Sync + 'static,
) -> LiveViews<ProgressProjection, ComplianceProjection, OutcomesProjection> {
    LiveViews::new(
        (ProgressProjection, ComplianceProjection, OutcomesProjection),
        pool.clone(),
        RunnerOptions {
            // Only a commit wakes them: what the tests show does not wait for a poll.
            poll_interval: Duration::from_secs(3600),
            crash_before_commit: Some(Arc::new(on_commit)),
            ..RunnerOptions::default()
        },
    )
}

#[tokio::test]
async fn the_live_views_apply_a_batch_to_every_view_in_one_transaction() {
    let (db, ws) = one_subject_in_every_view().await;
    let pool = db.store.db().clone();
    let commits = Arc::new(AtomicUsize::new(0));
    let counter = commits.clone();
    let (stop, running) = run_live(live_views(&pool, move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
        false
    }));
    // Let them start and listen.
    tokio::time::sleep(Duration::from_millis(500)).await;
    scenario::subject(&ws, "S2").await;
    for name in desist_projections::NAMES {
        until_applied_everything(&db, name).await;
    }
    let _ = stop.send(());
    running.await.unwrap().unwrap();
    assert_eq!(
        commits.load(Ordering::SeqCst),
        1,
        "the command's one event reached all three views in one commit"
    );
}

#[tokio::test]
async fn after_a_crash_before_the_live_views_commit_no_view_has_moved_and_each_event_is_applied_once(
) {
    let (db, ws) = one_subject_in_every_view().await;
    let pool = db.store.db().clone();
    let before = count_events(&db.store).await;
    let (_stop, crashing) = run_live(live_views(&pool, |_| true));
    tokio::time::sleep(Duration::from_millis(500)).await;
    scenario::subject(&ws, "S2").await;
    let err = tokio::time::timeout(Duration::from_secs(20), crashing)
        .await
        .expect("the views crash at the batch")
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, ProjectionError::SimulatedCrash), "{err}");
    for name in desist_projections::NAMES {
        assert_eq!(events_applied(&pool, name).await, before, "{name} moved");
    }

    let (stop, restarted) = run_live(live_views(&pool, |_| false));
    for name in desist_projections::NAMES {
        until_applied_everything(&db, name).await;
    }
    let _ = stop.send(());
    restarted.await.unwrap().unwrap();
    let s2: i64 = desist_store::db::query_scalar(
        "SELECT count(*) FROM compliance_subjects WHERE subject_id = 'S2'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(s2, 1, "S2 was applied once");
}

#[tokio::test]
async fn an_event_one_live_view_cannot_apply_stops_that_view_alone() {
    let db = TestDb::new().await;
    let ws = write_side(&db);
    let pool = db.store.db().clone();
    let views = LiveViews::new(
        (
            ProgressProjection,
            ComplianceProjection,
            Fragile {
                broken: Arc::new(AtomicBool::new(true)),
            },
        ),
        pool.clone(),
        RunnerOptions::default(),
    );
    let (stop, running) = run_live(views);
    tokio::time::sleep(Duration::from_millis(500)).await;
    scenario::subject(&ws, "S1").await;
    scenario::offence(&ws, "S1", "F1", OffenceCategory::Violence, day(3, 1)).await;
    scenario::subject(&ws, "S2").await;
    until_applied_everything(&db, ProgressProjection::NAME).await;
    until_applied_everything(&db, ComplianceProjection::NAME).await;
    let fragile = status_of(&pool, "fragile").await;
    assert!(
        fragile
            .failure
            .is_some_and(|f| f.contains("cannot handle offences")),
        "the fragile view says where it stopped"
    );
    assert!(fragile.events_applied < count_events(&db.store).await);
    let _ = stop.send(());
    running.await.unwrap().unwrap();
}

#[tokio::test]
async fn the_live_views_follow_a_view_a_rebuild_switched_to_its_new_generation() {
    let (db, ws) = one_subject_in_every_view().await;
    let pool = db.store.db().clone();
    let (stop, running) = run_live(live_views(&pool, |_| false));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (generation, _) =
        desist_projections::rebuild_by_name(ComplianceProjection::NAME, &pool, |_| {})
            .await
            .unwrap();
    assert_eq!(generation, Generation(2));
    scenario::subject(&ws, "S2").await;
    for name in desist_projections::NAMES {
        until_applied_everything(&db, name).await;
    }
    let seen: Vec<String> = desist_store::db::query_scalar(
        "SELECT subject_id FROM compliance_subjects ORDER BY subject_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(seen, ["S1", "S2"], "the new generation has the later event");
    let _ = stop.send(());
    running.await.unwrap().unwrap();
}
