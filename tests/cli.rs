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
    let events: i64 = desist_store::db::query_scalar("SELECT count(*) FROM events")
        .fetch_one(cleanup.store.db())
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
    assert!(common::table_exists(db.store.db(), "events").await);
    assert!(common::table_exists(db.store.db(), "command_log").await);
}

#[test]
fn migrate_without_a_database_url_creates_the_embedded_database_in_the_data_directory() {
    let dir = std::env::temp_dir().join(format!("desist-embedded-{}", uuid::Uuid::new_v4()));
    let output = desist()
        .arg("migrate")
        .env_remove("DATABASE_URL")
        .env("DESIST_DATA_DIR", &dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{text}");
    assert!(
        dir.join("desist.db").is_file(),
        "one file under the data directory"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unsupported_database_url_is_refused_by_name() {
    let output = desist()
        .arg("migrate")
        .env("DATABASE_URL", "mysql://root@localhost/desist")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(text.contains("DATABASE_URL"), "{text}");
}
