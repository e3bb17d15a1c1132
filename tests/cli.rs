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

/// The README's first command on a fresh machine: no configuration at all, `desist demo`, then
/// `desist serve`; the tokens `desist token` mints (from the trial secrets the demo made) read
/// the demo's data. Always the embedded default, so it runs in the SQLite leg of the matrix.
#[tokio::test]
async fn with_no_configuration_demo_then_serve_answers_each_role() {
    if !common::only_on(desist_store::Backend::Sqlite) {
        return;
    }
    let dir = std::env::temp_dir().join(format!("desist-first-hour-{}", uuid::Uuid::new_v4()));
    let bare = |args: &[&str]| {
        let mut command = desist();
        command
            .args(args)
            .current_dir(std::env::temp_dir())
            .env_remove("DATABASE_URL")
            .env_remove("DESIST_JWT_SECRET")
            .env_remove("DESIST_MASTER_KEY")
            .env("DESIST_DATA_DIR", &dir);
        command
    };
    let demo = bare(&["demo", "--subjects", "40"]).output().unwrap();
    let printed = String::from_utf8_lossy(&demo.stdout);
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    assert!(
        printed.contains("evaluator") && printed.contains("curl"),
        "{printed}"
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = bare(&["serve", "--addr", &format!("127.0.0.1:{port}")])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let graphql = |token: String, query: &'static str| {
        let client = client.clone();
        async move {
            client
                .post(format!("http://127.0.0.1:{port}/graphql"))
                .bearer_auth(token)
                .json(&serde_json::json!({ "query": query }))
                .send()
                .await
                .ok()?
                .json::<serde_json::Value>()
                .await
                .ok()
        }
    };
    let token = |user: &str, role: &str| {
        let out = bare(&["token", "--user", user, "--role", role])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let cases = [
        (
            "om-sussex",
            "probation_officer",
            "{ caseload(first: 5) { edges { node { rag subject { ref } } } } }",
        ),
        (
            "bcp-01",
            "therapist",
            "{ enrolments(first: 5) { edges { node { ref status } } } }",
        ),
        (
            "ev-01",
            "evaluator",
            "{ outcomes { cohorts { cohort n { value } attendanceRate } } }",
        ),
    ];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    for (user, role, query) in cases {
        let bearer = token(user, role);
        loop {
            let answer = graphql(bearer.clone(), query).await;
            let text = answer.map(|a| a["data"].to_string()).unwrap_or_default();
            if text.contains("\"ref\"") || text.contains("attendanceRate\":0") {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{role} got no data: {text}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(
        dir.join("desist.db").is_file(),
        "one file under the data directory"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
