//! The `desist` binary as an operator runs it.

mod common;

use std::process::Command;

use common::TestDb;

fn desist() -> Command {
    Command::new(env!("CARGO_BIN_EXE_desist"))
}

#[test]
fn help_lists_the_commands() {
    let output = desist().arg("--help").output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("migrate"), "{text}");
    assert!(text.contains("--database-url"), "{text}");
}

#[tokio::test]
async fn migrate_creates_a_missing_database() {
    let name = format!("desist_test_{}", uuid::Uuid::new_v4().simple());
    let url = common::database_url(&name);
    let output = desist()
        .arg("migrate")
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    let cleanup = common::TestDb::adopt(&name).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(cleanup.store.pool())
        .await
        .unwrap();
    assert_eq!(events, 0);
}

#[tokio::test]
async fn migrate_can_run_twice_against_the_same_database() {
    let db = TestDb::empty().await;
    for run in 1..=2 {
        let output = desist()
            .arg("migrate")
            .env("DATABASE_URL", &db.url)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "run {run}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(String::from_utf8_lossy(&output.stdout).contains("up to date"));
    }
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_name IN ('events', 'command_log')",
    )
    .fetch_one(db.store.pool())
    .await
    .unwrap();
    assert_eq!(tables, 2);
}

#[test]
fn migrate_without_a_database_url_says_what_is_missing() {
    let output = desist()
        .arg("migrate")
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(text.contains("DATABASE_URL"), "{text}");
}
