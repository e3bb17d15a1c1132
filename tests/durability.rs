//! No acknowledged write is lost: a `desist serve` process killed with SIGKILL in the middle of
//! a stream of mutations keeps every command it acknowledged. Runs on both backends; on SQLite
//! it is what `synchronous=FULL` and the write-ahead log are for.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::server::{master_key_text, token, SECRET};
use common::TestDb;
use desist_domain::Role;
use desist_store::Backend;
use serde_json::{json, Value};

/// A free port on localhost (bound, then released for the server to take).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn start_server(db: &TestDb, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_desist"))
        .arg("serve")
        .env("DATABASE_URL", &db.url)
        .env("DESIST_ADDR", format!("127.0.0.1:{port}"))
        .env("DESIST_JWT_SECRET", SECRET)
        .env("DESIST_MASTER_KEY", master_key_text())
        .env("DESIST_MASTER_KEY_ID", "test-master")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("desist serve starts")
}

async fn wait_until_serving(client: &reqwest::Client, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let url = format!("http://127.0.0.1:{port}/healthz");
    while Instant::now() < deadline {
        if client
            .get(&url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("desist serve did not come up on port {port}");
}

/// Registers subject `n`; returns its command id when the server acknowledged it.
async fn register(client: &reqwest::Client, port: u16, token: &str, n: usize) -> Option<String> {
    let command_id = format!("kill-test-{n}");
    let query = format!(
        r#"mutation {{ registerSubject(input: {{ commandId: "{command_id}", ref: "K{n:05}",
            birthYear: 1980, sex: MALE, area: "Sussex" }}) {{ commandId userErrors {{ code }} }} }}"#
    );
    let response = client
        .post(format!("http://127.0.0.1:{port}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query }))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .ok()?;
    let body: Value = response.json().await.ok()?;
    let payload = &body["data"]["registerSubject"];
    let acknowledged = body.get("errors").is_none()
        && payload["userErrors"].as_array().is_some_and(Vec::is_empty)
        && payload["commandId"] == json!(command_id);
    if !acknowledged {
        eprintln!("not acknowledged: {body}");
    }
    acknowledged.then_some(command_id)
}

#[tokio::test]
async fn killing_serve_during_a_stream_of_mutations_loses_no_acknowledged_command() {
    let db = TestDb::new().await;
    let port = free_port();
    let mut server = start_server(&db, port);
    let client = reqwest::Client::new();
    wait_until_serving(&client, port).await;
    let token = token("kill-test", Role::Admin);

    // Four clients write as fast as the server acknowledges; the server is killed while they
    // are still writing.
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut writers = Vec::new();
    for client_no in 0..4 {
        let (client, token, acknowledged) = (client.clone(), token.clone(), acknowledged.clone());
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                match register(&client, port, &token, client_no * 100_000 + i).await {
                    Some(id) => acknowledged.lock().unwrap().push(id),
                    None => return,
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while acknowledged.lock().unwrap().len() < 200 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill().expect("SIGKILL"); // Child::kill is SIGKILL on Unix: no shutdown, no flush.
    server.wait().expect("the server is gone");
    for writer in writers {
        writer.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 200,
        "only {} acknowledged",
        acknowledged.len()
    );
    println!(
        "{} commands acknowledged before the kill",
        acknowledged.len()
    );

    // Reopen the database as a restarted server would.
    let reopened = desist_store::Store::connect(&db.url, 2).await.unwrap();
    let recorded = desist_store::commands::recorded_command_ids(&reopened, &acknowledged)
        .await
        .unwrap();
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !recorded.contains(*id))
        .collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    let events: i64 = desist_store::db::query_scalar(
        "SELECT count(*) FROM events WHERE event_type = 'SubjectRegistered'",
    )
    .fetch_one(reopened.db())
    .await
    .unwrap();
    assert!(events >= acknowledged.len() as i64);

    // And a restarted server serves them.
    let mut again = start_server(&db, port);
    wait_until_serving(&client, port).await;
    again.kill().unwrap();
    again.wait().unwrap();
}

/// Whether a commit made in `target`'s session waits for the disk: PostgreSQL's
/// `synchronous_commit`, SQLite's `synchronous` (2 is FULL).
async fn commits_wait_for_the_disk<'e>(target: impl Into<desist_store::db::Target<'e>>) -> bool {
    let target = target.into();
    match target.backend() {
        Backend::Postgres => {
            desist_store::db::query_scalar::<String>("SELECT current_setting('synchronous_commit')")
                .fetch_one(target)
                .await
                .unwrap()
                != "off"
        }
        Backend::Sqlite => {
            desist_store::db::query_scalar::<i64>("PRAGMA synchronous")
                .fetch_one(target)
                .await
                .unwrap()
                >= 2
        }
    }
}

/// A view's batch can be derived again from events that are already durable, so its commit
/// does not wait for the disk; the writer's next user (a command's append) waits again,
/// whether the batch committed or was dropped half-way.
#[tokio::test]
async fn view_batches_skip_the_flush_and_the_writers_next_commit_waits_for_the_disk() {
    let db = TestDb::new().await;
    let writer = db.store.db().writer();

    let mut batch = db.store.db().begin_derived("").await.unwrap();
    assert!(!commits_wait_for_the_disk(&mut batch).await);
    batch.commit().await.unwrap();
    let mut command = writer.begin().await.unwrap();
    assert!(commits_wait_for_the_disk(&mut command).await);
    drop(command);
    assert!(commits_wait_for_the_disk(writer).await);

    let mut abandoned = db.store.db().begin_derived("").await.unwrap();
    assert!(!commits_wait_for_the_disk(&mut abandoned).await);
    drop(abandoned);
    assert!(commits_wait_for_the_disk(writer).await);
}
