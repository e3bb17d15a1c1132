//! `desist import`: timelines come in through the ordinary commands, all or nothing.

mod common;

use common::{count_events, fixture, fixture_path, import_services, meta, TestDb};
use desist_api::import::{check, import, ImportError};
use desist_api::WriteSide;
use desist_domain::enrolment::{EnrolmentCommand, TriggerCategory};
use desist_domain::{Role, Sealed};

/// For tests only: 32 bytes, base64.
const TEST_MASTER_KEY: &str = "dGVzdC1tYXN0ZXIta2V5LTMyLWJ5dGVzLWxvbmchISE=";

#[tokio::test]
async fn the_pilot_fixture_imports_and_a_second_import_adds_nothing() {
    let db = TestDb::new().await;
    let document = fixture("pilot-small.json");
    let first = import(&db.store, import_services(), &document, "test", false)
        .await
        .expect("the fixture is valid");
    assert!(first.recorded > 3000, "{first:?}");
    assert_eq!(first.already_recorded, 0);
    let events = count_events(&db.store).await;
    assert!(events >= first.recorded as i64);

    let second = import(&db.store, import_services(), &document, "test", false)
        .await
        .unwrap();
    assert_eq!(second.recorded, 0);
    assert_eq!(second.already_recorded, first.commands);
    assert_eq!(count_events(&db.store).await, events);

    let subjects: i64 = desist_store::db::query_scalar(
        "SELECT count(DISTINCT aggregate_id) FROM events WHERE aggregate_type = 'Subject'",
    )
    .fetch_one(db.store.db())
    .await
    .unwrap();
    assert_eq!(subjects, 120);
}

/// The events of one aggregate, by type, in the order they were appended.
async fn event_types(store: &desist_store::Store, aggregate_id: &str) -> Vec<String> {
    desist_store::db::query_scalar(
        "SELECT event_type FROM events WHERE aggregate_id = $1 ORDER BY sequence",
    )
    .bind(aggregate_id)
    .fetch_all(store.db())
    .await
    .unwrap()
}

#[tokio::test]
async fn a_course_written_to_between_the_check_and_the_write_gets_both_writes() {
    let db = TestDb::new().await;
    // The fixture without the last session of an open course with no pause or enforcement
    // after it (S030038's E030038), imported; then the whole fixture checked, which decides
    // that session alone.
    let whole = fixture("pilot-small.json");
    let mut earlier = whole.clone();
    let course = &mut earlier["subjects"][38]["enrolments"][0];
    assert_eq!(course["ref"], "E030038");
    course["sessions"].as_array_mut().unwrap().pop();
    import(&db.store, import_services(), &earlier, "test", false)
        .await
        .expect("the shortened fixture is valid");
    let checked = check(&db.store, import_services(), &whole, "test")
        .await
        .expect("the fixture is valid");
    let before = event_types(&db.store, "E030038").await;

    // Meanwhile a therapist records a trigger on that course.
    let therapist = WriteSide::new(&db.store, import_services());
    therapist
        .enrolments
        .execute(
            "E030038",
            EnrolmentCommand::IdentifyTrigger {
                trigger_id: "T-between".into(),
                category: TriggerCategory::OnlineContact,
                description: Sealed::plain("her new profile"),
                occurred_at: "2023-03-20T12:00:00Z".parse().unwrap(),
            },
            &meta(Role::Therapist),
        )
        .await
        .expect("the trigger is recorded");

    let report = checked.write(false).await.expect("the import is written");
    let missing_session = 2; // scheduled, then attended
    assert_eq!(report.recorded, missing_session, "{report:?}");
    assert_eq!(report.already_recorded, report.commands - missing_session);
    let after = event_types(&db.store, "E030038").await;
    assert_eq!(after[..before.len()], before[..], "nothing earlier changed");
    assert_eq!(
        after[before.len()..],
        [
            "TriggerIdentified",
            "SessionScheduled",
            "AttendanceRecorded"
        ],
        "the therapist's write is kept and the session follows it"
    );

    let again = import(&db.store, import_services(), &whole, "test", false)
        .await
        .unwrap();
    assert_eq!(again.recorded, 0, "{again:?}");
}

#[tokio::test]
async fn a_checked_import_written_after_the_same_import_only_replays() {
    let db = TestDb::new().await;
    let document = fixture("pilot-small.json");
    let checked = check(&db.store, import_services(), &document, "test")
        .await
        .expect("the fixture is valid");
    let first = import(&db.store, import_services(), &document, "test", false)
        .await
        .unwrap();
    let events = count_events(&db.store).await;

    // Every aggregate it decided for has changed since, and every command id is recorded.
    let late = checked.write(false).await.expect("replays are not errors");
    assert_eq!(late.recorded, 0, "{late:?}");
    assert_eq!(late.already_recorded, first.commands);
    assert_eq!(count_events(&db.store).await, events, "nothing was added");
}

fn broken_fixture() -> serde_json::Value {
    let mut document = fixture("pilot-small.json");
    let subjects = document["subjects"].as_array_mut().unwrap();
    subjects[3]["enrolments"][0]["sessions"][5]["outcome"] = "atended".into();
    subjects[4]["birth_year"] = "nineteen-eighty".into();
    subjects[5]["orders"][0]["breaches"] = serde_json::json!([{
        "ref": "B9", "condition": "C1", "occurred": "2030-01-01", "reported": "2030-01-02"
    }]);
    let referred = subjects[6]["enrolments"][0]["referred"].clone();
    subjects[6]["enrolments"][0]["end"] =
        serde_json::json!({"kind": "completed", "date": referred});
    subjects[7]["enrolments"][0]["programme"] = "COBI/1999".into();
    document
}

#[tokio::test]
async fn an_invalid_timeline_lists_every_problem_by_path_and_writes_nothing() {
    let db = TestDb::new().await;
    let err = import(
        &db.store,
        import_services(),
        &broken_fixture(),
        "test",
        false,
    )
    .await
    .unwrap_err();
    let ImportError::Invalid(problems) = err else {
        panic!("expected problems, got {err}");
    };
    let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
    let expect = [
        "subjects[3].enrolments[0].sessions[5].outcome: unknown value \"atended\"",
        "subjects[4].birth_year: must be a whole number",
        "subjects[5].orders[0].breaches[0]: occurred_at is 2030-01-02",
        "subjects[6].enrolments[0].end: ",
        "subjects[7].enrolments[0].programme: programme \"COBI/1999\" is not defined",
    ];
    for expected in expect {
        assert!(
            lines.iter().any(|l| l.starts_with(expected)),
            "missing {expected:?} in {lines:#?}"
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains("TOO_FEW_SESSIONS_TO_COMPLETE") || l.contains("ENROLMENT_STATUS")),
        "{lines:#?}"
    );
    assert_eq!(count_events(&db.store).await, 0, "nothing was written");
}

#[tokio::test]
async fn the_import_command_prints_each_problem_and_fails() {
    let db = TestDb::new().await;
    let file = std::env::temp_dir().join(format!("{}.json", db.name));
    std::fs::write(&file, broken_fixture().to_string()).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_desist"))
        .args(["import", file.to_str().unwrap()])
        .env("DATABASE_URL", &db.url)
        .env("DESIST_MASTER_KEY", TEST_MASTER_KEY)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("subjects[3].enrolments[0].sessions[5].outcome: unknown value \"atended\""),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was written"), "{stderr}");
    assert_eq!(count_events(&db.store).await, 0);

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_desist"))
        .args(["import", fixture_path("pilot-small.json").to_str().unwrap()])
        .env("DATABASE_URL", &db.url)
        .env("DESIST_MASTER_KEY", TEST_MASTER_KEY)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("commands recorded"));
}

#[test]
fn the_import_command_needs_a_master_key_to_seal_text() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_desist"))
        .args(["import", "/nonexistent.json"])
        .env(
            "DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/postgres",
        )
        .env_remove("DESIST_MASTER_KEY")
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("DESIST_MASTER_KEY"));
}
