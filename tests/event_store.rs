//! The event store's guarantees, on each backend (see tests/common: `DESIST_TEST_BACKEND`).

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::{day, meta, meta_with_id, scenario, write_side, TestDb};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use desist_domain::enrolment::{EnforcementAction, EnrolmentCommand, SessionMode, TriggerCategory};
use desist_domain::subject::{Demographics, Sex, Subject, SubjectCommand};
use desist_domain::{DomainServices, Role, Sealed};
use desist_store::commands::{Decided, DecidedFor};
use desist_store::feed::read_after;
use desist_store::{CommandBus, CommandError, FeedPosition};
use serde_json::json;
use sqlx::{Connection, PgConnection};

fn trigger(id: &str) -> EnrolmentCommand {
    EnrolmentCommand::IdentifyTrigger {
        trigger_id: id.into(),
        category: TriggerCategory::Loneliness,
        description: Sealed::plain("evenings alone"),
        occurred_at: day(1, 20),
    }
}

fn warning() -> EnrolmentCommand {
    EnrolmentCommand::RecordEnforcementAction {
        action: EnforcementAction::Warning,
        note: None,
        occurred_at: day(2, 1),
    }
}

async fn sequences(db: &TestDb, aggregate_id: &str) -> Vec<i64> {
    desist_store::db::query_scalar(
        "SELECT sequence FROM events WHERE aggregate_id = $1 ORDER BY sequence",
    )
    .bind(aggregate_id)
    .fetch_all(db.store.db())
    .await
    .unwrap()
}

async fn event_count(db: &TestDb) -> i64 {
    desist_store::db::query_scalar("SELECT count(*) FROM events")
        .fetch_one(db.store.db())
        .await
        .unwrap()
}

#[tokio::test]
async fn sixteen_concurrent_writers_on_one_enrolment_lose_nothing_and_leave_no_gaps() {
    let db = TestDb::new().await;
    let ws = Arc::new(write_side(&db));
    scenario::s1_active_in_e1(&ws).await;
    let before = sequences(&db, "E1").await.len() as i64;

    const WRITERS: usize = 16;
    const COMMANDS_EACH: usize = 5;
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let ws = ws.clone();
        tasks.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for n in 0..COMMANDS_EACH {
                let id = format!("w{writer}-c{n}");
                let result = ws
                    .enrolments
                    .execute("E1", trigger(&id), &meta_with_id(&id))
                    .await;
                outcomes.push((id, result));
            }
            outcomes
        }));
    }
    let mut acknowledged = Vec::new();
    for task in tasks {
        for (id, result) in task.await.unwrap() {
            match result {
                Ok(outcome) => acknowledged.push((id, outcome)),
                Err(CommandError::Conflict { .. }) => {}
                Err(other) => panic!("unexpected failure for {id}: {other}"),
            }
        }
    }
    let stored = sequences(&db, "E1").await;
    let expected: Vec<i64> = (1..=stored.len() as i64).collect();
    assert_eq!(stored, expected, "sequences are gapless and unique");
    assert_eq!(
        stored.len() as i64,
        before + acknowledged.len() as i64,
        "exactly the acknowledged commands were recorded"
    );
    for (id, outcome) in &acknowledged {
        let stored_command: String = desist_store::db::query_scalar(
            "SELECT metadata->>'command_id' FROM events WHERE aggregate_id = 'E1' AND sequence = $1",
        )
        .bind(outcome.first_sequence)
        .fetch_one(db.store.db())
        .await
        .unwrap();
        assert_eq!(
            &stored_command, id,
            "the acknowledged event is the command's own"
        );
    }
    // The bound on retries is generous enough that contention alone refuses few commands (a
    // refused one is reported as a conflict and was never acknowledged).
    println!(
        "{} of {} commands acknowledged",
        acknowledged.len(),
        WRITERS * COMMANDS_EACH
    );
    assert!(acknowledged.len() * 4 >= WRITERS * COMMANDS_EACH * 3);
}

/// Two write sides on one store stand for two server processes: each bus keeps the
/// aggregates its last commands left, and the other's writes make those out of date.
#[tokio::test]
async fn a_command_decided_against_a_kept_state_another_process_moved_past_is_decided_again() {
    let db = TestDb::new().await;
    let here = write_side(&db);
    let elsewhere = write_side(&db);
    scenario::s1_active_in_e1(&here).await;
    here.enrolments
        .execute("E1", trigger("T1"), &meta(Role::Therapist))
        .await
        .unwrap();
    elsewhere
        .enrolments
        .execute("E1", trigger("T2"), &meta(Role::Therapist))
        .await
        .unwrap();
    let count = event_count(&db).await;

    // Here E1 is kept without T2, so the rules allow T2 again; the store has it, and refuses.
    let err = here
        .enrolments
        .execute("E1", trigger("T2"), &meta(Role::Therapist))
        .await
        .unwrap_err();
    let CommandError::Rejected(rule) = err else {
        panic!("expected the store's state to refuse it, got {err}");
    };
    assert_eq!(rule.code(), "ALREADY_RECORDED");
    assert_eq!(event_count(&db).await, count, "nothing was written");

    // And a command the kept state would take lands after the other process's event.
    let outcome = here
        .enrolments
        .execute("E1", trigger("T3"), &meta(Role::Therapist))
        .await
        .unwrap();
    let stored = sequences(&db, "E1").await;
    assert_eq!(stored, (1..=stored.len() as i64).collect::<Vec<_>>());
    assert_eq!(outcome.last_sequence, stored.len() as i64);
}

#[tokio::test]
async fn a_refusal_by_a_kept_state_is_checked_against_the_store_before_it_is_reported() {
    let db = TestDb::new().await;
    let here = write_side(&db);
    let elsewhere = write_side(&db);
    scenario::s1_active_in_e1(&here).await;
    elsewhere
        .enrolments
        .execute(
            "E1",
            EnrolmentCommand::ScheduleSession {
                session_id: "s1".into(),
                number: 1,
                scheduled_at: day(1, 23),
                mode: SessionMode::InPerson,
                occurred_at: day(1, 20),
            },
            &meta(Role::Therapist),
        )
        .await
        .unwrap();

    // Here E1 is kept without session s1, whose attendance the rules would refuse.
    let outcome = here
        .enrolments
        .execute(
            "E1",
            EnrolmentCommand::RecordAttendance {
                session_id: "s1".into(),
                attendance: desist_domain::enrolment::Attendance::Attended,
                occurred_at: day(1, 23),
            },
            &meta(Role::Therapist),
        )
        .await
        .expect("the store's state has the session");
    assert_eq!(
        outcome.last_sequence,
        sequences(&db, "E1").await.len() as i64
    );
}

#[tokio::test]
async fn a_repeated_command_id_records_once_and_returns_the_original_outcome() {
    let db = TestDb::new().await;
    let ws = write_side(&db);
    scenario::s1_active_in_e1(&ws).await;

    let first = ws
        .enrolments
        .execute("E1", warning(), &meta_with_id("cmd-1"))
        .await
        .unwrap();
    let count = event_count(&db).await;
    let second = ws
        .enrolments
        .execute("E1", warning(), &meta_with_id("cmd-1"))
        .await
        .unwrap();
    assert!(!first.replayed);
    assert!(second.replayed);
    assert_eq!(first.first_sequence, second.first_sequence);
    assert_eq!(first.last_sequence, second.last_sequence);
    assert_eq!(event_count(&db).await, count, "the repeat wrote nothing");
    // Both answers say where the command's event sits in the feed: the last event there.
    let feed = common::feed_at_least(&db.store, FeedPosition::START, count as usize).await;
    let last = feed.last().expect("the feed has the command's event");
    assert_eq!(
        (last.aggregate_id.as_str(), last.sequence),
        ("E1", first.last_sequence)
    );
    assert_eq!(first.position, Some(last.position));
    assert_eq!(second.position, first.position);
}

#[tokio::test]
async fn a_command_id_sent_concurrently_records_one_set_of_events() {
    let db = TestDb::new().await;
    let ws = Arc::new(write_side(&db));
    scenario::s1_active_in_e1(&ws).await;
    let count = event_count(&db).await;

    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let ws = ws.clone();
            tokio::spawn(async move {
                ws.enrolments
                    .execute("E1", trigger("T1"), &meta_with_id("same-id"))
                    .await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap().expect("every copy is acknowledged"));
    }
    let first_sequences: BTreeSet<i64> = outcomes.iter().map(|o| o.first_sequence).collect();
    assert_eq!(
        first_sequences.len(),
        1,
        "every copy reports the same events"
    );
    assert_eq!(outcomes.iter().filter(|o| !o.replayed).count(), 1);
    assert_eq!(event_count(&db).await, count + 1);
}

#[tokio::test]
async fn a_command_id_reused_for_another_command_is_refused() {
    let db = TestDb::new().await;
    let ws = write_side(&db);
    scenario::s1_active_in_e1(&ws).await;
    ws.enrolments
        .execute("E1", warning(), &meta_with_id("cmd-2"))
        .await
        .unwrap();
    let count = event_count(&db).await;
    let err = ws
        .enrolments
        .execute("E1", trigger("T1"), &meta_with_id("cmd-2"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, CommandError::CommandIdReused { ref command, .. } if command == "RecordEnforcementAction"),
        "{err}"
    );
    assert_eq!(event_count(&db).await, count);
}

#[tokio::test]
async fn a_rejected_command_writes_nothing() {
    let db = TestDb::new().await;
    let ws = write_side(&db);
    scenario::s1_active_in_e1(&ws).await;
    let count = event_count(&db).await;
    let thirteenth = EnrolmentCommand::ScheduleSession {
        session_id: "s13".into(),
        number: 13,
        scheduled_at: day(2, 1),
        mode: SessionMode::InPerson,
        occurred_at: day(1, 20),
    };
    let err = ws
        .enrolments
        .execute("E1", thirteenth, &meta(Role::Therapist))
        .await
        .unwrap_err();
    let CommandError::Rejected(rule) = err else {
        panic!("expected a rule, got {err}");
    };
    assert_eq!(rule.code(), "SESSION_NUMBER_OUT_OF_RANGE");
    assert_eq!(rule.field(), "number");
    assert_eq!(event_count(&db).await, count);
    let logged: i64 = desist_store::db::query_scalar("SELECT count(*) FROM command_log")
        .fetch_one(db.store.db())
        .await
        .unwrap();
    assert_eq!(
        logged, count,
        "one log row per accepted single-event command"
    );
}

#[tokio::test]
async fn referral_needs_a_registered_subject_and_a_defined_programme() {
    let db = TestDb::new().await;
    let ws = write_side(&db);
    let refer = |subject: &'static str, programme: &'static str| {
        let ws = &ws;
        async move {
            ws.refer(
                "E1",
                subject,
                programme,
                desist_domain::enrolment::ReferralRoute::Voluntary,
                day(1, 3),
                &meta(Role::ProbationOfficer),
            )
            .await
            .unwrap_err()
            .to_string()
        }
    };
    assert_eq!(
        refer("S1", "COBI/2022").await,
        "no subject has been recorded under this id"
    );
    scenario::subject(&ws, "S1").await;
    assert_eq!(
        refer("S1", "COBI/2031").await,
        "no programme has been recorded under this id"
    );
    assert_eq!(event_count(&db).await, 1);
}

#[tokio::test]
async fn conflicts_beyond_the_retry_bound_are_reported_and_nothing_is_recorded() {
    if !common::only_on(desist_store::Backend::Postgres) {
        return;
    }
    let db = TestDb::new().await;
    let ws = write_side(&db);
    scenario::s1_active_in_e1(&ws).await;
    let next = sequences(&db, "E1").await.len() as i64 + 1;

    // Another writer holds the next sequence number in an open transaction.
    let mut rival = PgConnection::connect(&db.url).await.unwrap();
    desist_store::db::query("BEGIN")
        .execute(&mut rival)
        .await
        .unwrap();
    desist_store::db::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
         VALUES ('Enrolment', 'E1', $1, 'EnforcementActionRecorded', '1.0', $2, '{}')",
    )
    .bind(next)
    .bind(json!({"EnforcementActionRecorded": {"action": "warning", "note": null, "occurred_at": "2024-02-01T12:00:00Z"}}))
    .execute(&mut rival)
    .await
    .unwrap();

    let impatient = CommandBus::<desist_domain::enrolment::Enrolment>::new(
        &db.store,
        DomainServices::fixed(common::now()),
    )
    .with_max_attempts(1);
    let attempt = tokio::spawn(async move {
        impatient
            .execute("E1", trigger("T1"), &meta_with_id("late"))
            .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    desist_store::db::query("COMMIT")
        .execute(&mut rival)
        .await
        .unwrap();
    let err = attempt.await.unwrap().unwrap_err();
    assert!(
        matches!(err, CommandError::Conflict { attempts: 1 }),
        "{err}"
    );
    let logged: i64 = desist_store::db::query_scalar(
        "SELECT count(*) FROM command_log WHERE command_id = 'late'",
    )
    .fetch_one(db.store.db())
    .await
    .unwrap();
    assert_eq!(logged, 0);

    // With retries allowed, the same command goes through on the fresh state.
    let outcome = ws
        .enrolments
        .execute("E1", trigger("T1"), &meta_with_id("late"))
        .await
        .unwrap();
    assert_eq!(outcome.first_sequence, next + 1);
}

#[tokio::test]
async fn the_feed_waits_for_an_earlier_transaction_rather_than_skipping_it() {
    if !common::only_on(desist_store::Backend::Postgres) {
        return;
    }
    let db = TestDb::new().await;
    let insert = "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
                  VALUES ('Enrolment', $1, 1, 'Started', '1.0', $2, '{}')";
    let payload = json!({"Started": {"occurred_at": "2024-01-16T12:00:00Z"}});

    // Event N is inserted in a transaction that stays open…
    let mut slow = PgConnection::connect(&db.url).await.unwrap();
    desist_store::db::query("BEGIN")
        .execute(&mut slow)
        .await
        .unwrap();
    desist_store::db::query(insert)
        .bind("N")
        .bind(&payload)
        .execute(&mut slow)
        .await
        .unwrap();
    // …while event N+1 commits.
    desist_store::db::query(insert)
        .bind("N+1")
        .bind(&payload)
        .execute(db.store.db())
        .await
        .unwrap();

    let visible = read_after(db.store.db().reader(), FeedPosition::START, 100)
        .await
        .unwrap();
    assert!(
        visible.is_empty(),
        "neither N nor N+1 may be read while N is in flight: {visible:?}"
    );

    desist_store::db::query("COMMIT")
        .execute(&mut slow)
        .await
        .unwrap();
    let visible = common::feed_at_least(&db.store, FeedPosition::START, 2).await;
    let ids: Vec<&str> = visible.iter().map(|e| e.aggregate_id.as_str()).collect();
    assert_eq!(ids, ["N", "N+1"]);

    // A checkpoint after N resumes at N+1.
    let rest = read_after(db.store.db().reader(), visible[0].position, 100)
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].aggregate_id, "N+1");
}

#[tokio::test]
async fn a_version_one_event_is_read_upcast_by_aggregates_and_the_feed() {
    let db = TestDb::new().await;
    let ws = write_side(&db);
    scenario::s1_active_in_e1(&ws).await;
    let next = sequences(&db, "E1").await.len() as i64 + 1;
    // A payload as version 1.0 wrote it: no `mode`.
    desist_store::db::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
         VALUES ('Enrolment', 'E1', $1, 'SessionScheduled', '1.0', $2, '{}')",
    )
    .bind(next)
    .bind(json!({"SessionScheduled": {"session_id": "old", "number": 1,
        "scheduled_at": "2024-01-23T10:00:00Z", "occurred_at": "2024-01-16T12:00:00Z"}}))
    .execute(db.store.db())
    .await
    .unwrap();

    let enrolment = ws.enrolments.load("E1").await.unwrap();
    assert_eq!(enrolment.sessions["old"].mode, SessionMode::InPerson);

    let feed = common::feed_at_least(
        &db.store,
        FeedPosition::START,
        event_count(&db).await as usize,
    )
    .await;
    let upcast = feed
        .iter()
        .find(|e| e.event_type == "SessionScheduled")
        .expect("the old event is in the feed");
    assert_eq!(upcast.event_version, "2.0.0");
    assert_eq!(upcast.payload["SessionScheduled"]["mode"], "in_person");

    // And a command on top of it works.
    ws.enrolments
        .execute(
            "E1",
            EnrolmentCommand::RecordAttendance {
                session_id: "old".into(),
                attendance: desist_domain::enrolment::Attendance::Attended,
                occurred_at: day(1, 23),
            },
            &meta(Role::Therapist),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn stored_events_cannot_be_edited_or_deleted() {
    let db = TestDb::new().await;
    let ws = write_side(&db);
    scenario::subject(&ws, "S1").await;
    let update = desist_store::db::query("UPDATE events SET payload = '{}'")
        .execute(db.store.db())
        .await;
    assert!(update.unwrap_err().to_string().contains("immutable"));
    let delete = desist_store::db::query("DELETE FROM events")
        .execute(db.store.db())
        .await;
    assert!(delete.unwrap_err().to_string().contains("immutable"));
    assert_eq!(event_count(&db).await, 1);
}

#[tokio::test]
async fn migrations_run_twice_without_change() {
    let db = TestDb::new().await;
    db.store.migrate().await.expect("second run is a no-op");
    let applied: i64 = desist_store::db::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(db.store.db())
        .await
        .unwrap();
    let migrator = match db.store.backend() {
        desist_store::Backend::Postgres => &desist_store::POSTGRES_MIGRATOR,
        desist_store::Backend::Sqlite => &desist_store::SQLITE_MIGRATOR,
    };
    assert_eq!(applied as usize, migrator.iter().count());
}

#[tokio::test]
async fn a_list_of_ids_bound_as_one_value_finds_exactly_those_rows_however_many() {
    use desist_store::db::{self, Arg};
    let db = TestDb::new().await;
    let pool = db.store.db();
    db::query("CREATE TABLE listed (id text PRIMARY KEY)")
        .execute(pool.writer())
        .await
        .unwrap();
    // More ids than SQLite takes as placeholders in one statement, and ids that a JSON array
    // or a SQL list must escape.
    let mut ids: Vec<String> = (0..1_200).map(|i| format!("id-{i:04}")).collect();
    ids.extend(["a,b", "it's", "\"quoted\"", "back\\slash"].map(String::from));
    for id in &ids {
        db::query("INSERT INTO listed (id) VALUES ($1)")
            .bind(id)
            .execute(pool.writer())
            .await
            .unwrap();
    }
    let wanted: Vec<String> = ids.iter().skip(1).step_by(2).cloned().collect();
    let sql = format!(
        "SELECT id FROM listed WHERE {} ORDER BY id",
        db::any_of(pool.backend(), "id", 1)
    );
    let found: Vec<String> = db::query_scalar(sql.clone())
        .bind(Arg::ids(wanted.iter().cloned()))
        .fetch_all(pool.reader())
        .await
        .unwrap();
    let mut expected = wanted.clone();
    expected.sort();
    assert_eq!(found, expected);
    // The same statement with no ids finds nothing (an empty `IN ()` is an error).
    let none: Vec<String> = db::query_scalar(sql)
        .bind(Arg::ids(Vec::<String>::new()))
        .fetch_all(pool.reader())
        .await
        .unwrap();
    assert!(none.is_empty());
}

#[tokio::test]
async fn start_up_refuses_a_store_whose_events_are_ahead_of_the_transaction_counter() {
    if !common::only_on(desist_store::Backend::Postgres) {
        return;
    }
    let db = TestDb::new().await;
    desist_store::horizon::check_xid_horizon(db.store.db())
        .await
        .expect("a fresh store is fine");
    // What a logical restore into a new cluster looks like: stored tx far beyond the counter.
    desist_store::db::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, tx) \
         VALUES ('Subject', 'S1', 1, 'SubjectRegistered', '1.0', '{}', '{}', '9000000000'::xid8)",
    )
    .execute(db.store.db())
    .await
    .unwrap();
    let err = desist_store::horizon::check_xid_horizon(db.store.db())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("logical restore"), "{err}");
}

#[tokio::test]
async fn a_long_open_transaction_is_reported() {
    if !common::only_on(desist_store::Backend::Postgres) {
        return;
    }
    let db = TestDb::new().await;
    let mut slow = PgConnection::connect(&db.url).await.unwrap();
    desist_store::db::query("BEGIN")
        .execute(&mut slow)
        .await
        .unwrap();
    desist_store::db::query("SELECT pg_current_xact_id()")
        .execute(&mut slow)
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let long = desist_store::horizon::long_running_transactions(
        db.store.db(),
        std::time::Duration::from_secs(1),
    )
    .await
    .unwrap();
    assert!(!long.is_empty(), "the open transaction is listed");
    desist_store::db::query("ROLLBACK")
        .execute(&mut slow)
        .await
        .unwrap();
}

/// SQLite allows one writer at a time. Desist keeps a single writing connection, so concurrent
/// requests queue for it instead of failing with "database is locked", and reads go on beside.
#[tokio::test]
async fn on_sqlite_concurrent_writers_queue_for_the_one_writer_and_none_is_refused() {
    if !common::only_on(desist_store::Backend::Sqlite) {
        return;
    }
    let db = TestDb::new().await;
    let ws = Arc::new(write_side(&db));
    const WRITERS: usize = 24;
    let mut tasks = Vec::new();
    for n in 0..WRITERS {
        let ws = ws.clone();
        tasks.push(tokio::spawn(async move {
            scenario::subject(&ws, &format!("S{n}")).await;
        }));
    }
    // Reads are served while the writers queue.
    let reader = db.store.db().reader();
    for _ in 0..20 {
        let _: i64 = desist_store::db::query_scalar("SELECT count(*) FROM events")
            .fetch_one(reader)
            .await
            .expect("reads do not wait for the writer");
    }
    for task in tasks {
        task.await.expect("every writer's commands were recorded");
    }
    let registered: i64 = desist_store::db::query_scalar(
        "SELECT count(*) FROM events WHERE event_type = 'SubjectRegistered'",
    )
    .fetch_one(db.store.db())
    .await
    .unwrap();
    assert_eq!(registered, WRITERS as i64);
    let desist_store::Db::Sqlite { writer, .. } = db.store.db() else {
        unreachable!("only on SQLite");
    };
    assert_eq!(writer.size(), 1, "exactly one writing connection");
    // The feed numbers the events without gaps, in the order they were committed.
    let feed = common::feed_at_least(&db.store, FeedPosition::START, WRITERS).await;
    let positions: Vec<i64> = feed.iter().map(|e| e.position.global_position).collect();
    let expected: Vec<i64> = (1..=positions.len() as i64).collect();
    assert_eq!(positions, expected);
}

/// The one SQLite writer keeps a statement's journal in memory, where SQLite's default moved
/// a journal past 64 KiB to a file it created and deleted again (an audited caseload read did,
/// every time: see `Db::connect`). `temp_store` 2 is MEMORY.
#[tokio::test]
async fn on_sqlite_the_writer_keeps_its_temporary_files_in_memory() {
    if !common::only_on(desist_store::Backend::Sqlite) {
        return;
    }
    let db = TestDb::new().await;
    let temp_store: i64 = desist_store::db::query_scalar("PRAGMA temp_store")
        .fetch_one(db.store.db().writer())
        .await
        .unwrap();
    assert_eq!(temp_store, 2, "temp_store = MEMORY on the writer");
}

/// The bundled SQLite is built as `.cargo/config.toml` says: without STAT4 (a statement
/// planned again for every value bound to it) and without its memory statistics (a lock
/// shared by every connection, taken at every allocation of SQLite's).
#[tokio::test]
async fn on_sqlite_the_bundled_library_is_built_without_stat4_or_memory_statistics() {
    if !common::only_on(desist_store::Backend::Sqlite) {
        return;
    }
    let db = TestDb::new().await;
    let (stat4, memstatus): (i64, i64) = desist_store::db::query_as(
        "SELECT sqlite_compileoption_used('ENABLE_STAT4'),
                sqlite_compileoption_used('DEFAULT_MEMSTATUS=0')",
    )
    .fetch_one(db.store.db().reader())
    .await
    .unwrap();
    assert_eq!((stat4, memstatus), (0, 1));
}

/// Decides `commands` in order against `state` in memory, as a bulk import does.
async fn decided(state: &mut Subject, commands: Vec<SubjectCommand>) -> Vec<Decided<Subject>> {
    let mut out = Vec::new();
    for command in commands {
        let sink = EventSink::default();
        state
            .handle(command.clone(), &DomainServices::system(), &sink)
            .await
            .expect("the command obeys the rules");
        out.push(Decided {
            command,
            metadata: meta(Role::Admin),
            events: sink.collect().await,
        });
    }
    out
}

fn demographics(birth_year: i32) -> Demographics {
    Demographics {
        birth_year,
        sex: Sex::Male,
        area: "Sussex".into(),
    }
}

fn correction(birth_year: i32, reason: &str) -> SubjectCommand {
    SubjectCommand::CorrectDemographics {
        corrected: demographics(birth_year),
        reason: Sealed::plain(reason),
        occurred_at: day(2, 1),
    }
}

fn registration() -> SubjectCommand {
    SubjectCommand::RegisterSubject {
        demographics: demographics(1980),
        occurred_at: day(1, 1),
    }
}

#[tokio::test]
async fn an_append_of_several_aggregates_is_all_or_nothing_and_seals_each_for_its_own_subject() {
    let db = TestDb::new().await;
    let store = db
        .store
        .clone()
        .with_master_key(common::server::master_key());
    let subjects = desist_api::WriteSide::new(&store, DomainServices::system()).subjects;
    subjects
        .execute("S1", registration(), &meta(Role::Admin))
        .await
        .unwrap();
    let (mut s1, s1_sequence) = subjects.load_versioned("S1").await.unwrap();
    let mut s2 = Subject::default();
    let s2_commands = decided(
        &mut s2,
        vec![registration(), correction(1981, "typed for S2")],
    )
    .await;
    let s1_commands = decided(&mut s1, vec![correction(1982, "typed for S1")]).await;

    // The new S2, and S1 as it stood after `s1_after` events.
    let both = |s1_after| {
        [
            DecidedFor {
                aggregate_id: "S2",
                after_sequence: 0,
                decided: &s2_commands,
            },
            DecidedFor {
                aggregate_id: "S1",
                after_sequence: s1_after,
                decided: &s1_commands,
            },
        ]
    };

    // S1 as it stood before its registration: someone else wrote to it since.
    assert!(matches!(
        subjects.append(&both(0)).await,
        Err(CommandError::Conflict { .. })
    ));
    assert_eq!(sequences(&db, "S2").await, Vec::<i64>::new());
    assert_eq!(sequences(&db, "S1").await, vec![1]);

    assert_eq!(subjects.append(&both(s1_sequence)).await.unwrap(), 3);
    assert_eq!(sequences(&db, "S2").await, vec![1, 2]);
    assert_eq!(sequences(&db, "S1").await, vec![1, 2]);
    for subject in ["S1", "S2"] {
        let stored: serde_json::Value = desist_store::db::query_scalar(
            "SELECT payload FROM events WHERE aggregate_id = $1 AND sequence = 2",
        )
        .bind(subject)
        .fetch_one(db.store.db())
        .await
        .unwrap();
        let reason = &stored["DemographicsCorrected"]["reason"];
        assert_eq!(reason["scheme"], "aes256_gcm", "{stored}");
        assert_eq!(reason["subject"], subject, "{stored}");
    }
    let (s2, _) = subjects.load_versioned("S2").await.unwrap();
    assert_eq!(s2.demographics, Some(demographics(1981)));
}
