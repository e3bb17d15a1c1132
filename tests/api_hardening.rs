//! Hostile requests are refused before any resolver runs: nothing is read, nothing recorded.

mod common;

use common::server::{config, token, TestServer};
use common::{count_events, TestDb};
use desist_domain::Role;
use serde_json::{json, Value};

fn code(response: &Value) -> &str {
    response["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}

/// A mutation that would record a subject if any resolver ran.
fn register(alias: &str) -> String {
    format!(
        r#"{alias}: registerSubject(input: {{ ref: "{alias}", birthYear: 1980, sex: MALE, area: "Kent" }}) {{ replayed }}"#
    )
}

async fn post_raw(server: &TestServer, content_type: &str, body: Vec<u8>) -> (u16, Value) {
    let response = server
        .client
        .post(server.url("/graphql"))
        .bearer_auth(token("test-admin", Role::Admin))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn hostile_requests_are_refused_before_any_resolver_runs() {
    let server = TestServer::start(TestDb::new().await).await;
    let before = count_events(&server.db.store).await;

    // 100 aliases of one field.
    let aliases: Vec<String> = (0..100).map(|i| register(&format!("a{i}"))).collect();
    let response = server
        .graphql(&format!("mutation {{ {} }}", aliases.join(" ")), json!({}))
        .await;
    assert_eq!(code(&response), "BAD_USER_INPUT", "{response}");
    assert!(response["data"].is_null());

    // A 20-level nested query.
    let mut nested = String::from("ref");
    for level in 0..20 {
        nested = if level % 2 == 0 {
            format!("enrolments {{ subject {{ {nested} }} }}")
        } else {
            format!("subject {{ {nested} }}")
        };
    }
    let response = server
        .graphql(
            &format!("{{ subjects(first: 1) {{ edges {{ node {{ {nested} }} }} }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(code(&response), "BAD_USER_INPUT", "{response}");
    assert!(response["data"].is_null(), "{response}");

    // A batch.
    let batch = json!([{"query": format!("mutation {{ {} }}", register("b1"))}]);
    let (status, response) =
        post_raw(&server, "application/json", batch.to_string().into_bytes()).await;
    assert_eq!(status, 400);
    assert_eq!(code(&response), "BAD_USER_INPUT");

    // A 3 MB body.
    let huge =
        json!({"query": format!("mutation {{ {} }} # {}", register("big"), "x".repeat(3 << 20))});
    let (status, response) =
        post_raw(&server, "application/json", huge.to_string().into_bytes()).await;
    assert_eq!(status, 413, "{response}");
    assert_eq!(code(&response), "BAD_USER_INPUT");

    // first: 100000.
    let response = server
        .graphql(
            "{ subjects(first: 100000) { edges { node { ref } } } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&response), "BAD_USER_INPUT", "{response}");
    assert!(response["data"].is_null(), "{response}");

    // A mutation by GET.
    let mutation = format!("mutation {{ {} }}", register("g1"));
    let response = server
        .client
        .get(server.url("/graphql"))
        .bearer_auth(token("test-admin", Role::Admin))
        .query(&[("query", mutation.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    let body: Value = response.json().await.unwrap();
    assert_eq!(code(&body), "BAD_USER_INPUT");

    // A text/plain POST (the "simple request" a browser sends cross-site without a preflight).
    let plain = json!({"query": format!("mutation {{ {} }}", register("t1"))});
    let (status, response) = post_raw(&server, "text/plain", plain.to_string().into_bytes()).await;
    assert_eq!(status, 415);
    assert_eq!(code(&response), "BAD_USER_INPUT");

    // Introspection without the development flag.
    let response = server
        .graphql("{ __schema { types { name } } }", json!({}))
        .await;
    assert!(response["data"].is_null(), "{response}");
    assert_eq!(code(&response), "BAD_USER_INPUT");

    // A misspelt field: refused, with no hint at the real name.
    let response = server
        .graphql(
            "{ subjects(first: 1) { edges { node { areas } } } }",
            json!({}),
        )
        .await;
    assert!(response["data"].is_null(), "{response}");
    let message = response["errors"][0]["message"].as_str().unwrap_or("");
    assert!(message.contains("areas"), "{message}");
    assert!(
        !message.to_lowercase().contains("did you mean"),
        "{message}"
    );
    assert!(!message.contains("\"area\""), "{message}");

    assert_eq!(
        count_events(&server.db.store).await,
        before,
        "nothing was recorded"
    );
    let subjects: i64 = desist_store::db::query_scalar("SELECT count(*) FROM compliance_subjects")
        .fetch_one(server.db.store.db())
        .await
        .unwrap();
    assert_eq!(subjects, 0);
}

#[tokio::test]
async fn development_mode_serves_graphiql_introspection_and_suggestions() {
    let db = TestDb::new().await;
    let mut dev = config(&db);
    dev.dev = true;
    let server = TestServer::start_with(db, dev).await;
    let page = server
        .client
        .get(server.url("/graphql"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("graphiql"), "GraphiQL page expected");
    let response = server
        .graphql("{ __schema { queryType { name } } }", json!({}))
        .await;
    assert_eq!(
        response["data"]["__schema"]["queryType"]["name"],
        "QueryRoot"
    );
    let response = server
        .graphql(
            "{ subjects(first: 1) { edges { node { areas } } } }",
            json!({}),
        )
        .await;
    let message = response["errors"][0]["message"].as_str().unwrap_or("");
    assert!(message.to_lowercase().contains("did you mean"), "{message}");
}

#[tokio::test]
async fn internal_errors_carry_a_correlation_id_and_no_detail() {
    let server = TestServer::start(TestDb::new().await).await;
    // Break a view underneath the server: the next read fails inside a resolver.
    let drop = match server.db.store.backend() {
        desist_store::Backend::Postgres => "DROP VIEW compliance_subjects CASCADE",
        desist_store::Backend::Sqlite => "DROP VIEW compliance_subjects",
    };
    desist_store::db::query(drop)
        .execute(server.db.store.db())
        .await
        .unwrap();
    let response = server
        .client
        .post(server.url("/graphql"))
        .bearer_auth(token("test-admin", Role::Admin))
        .header("x-correlation-id", "trace-123")
        .json(&json!({"query": "{ subjects(first: 5) { edges { node { ref } } } }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers().get("x-correlation-id").unwrap(),
        "trace-123"
    );
    let body: Value = response.json().await.unwrap();
    let error = &body["errors"][0];
    assert_eq!(error["extensions"]["code"], "INTERNAL", "{body}");
    assert_eq!(error["extensions"]["correlationId"], "trace-123");
    assert_eq!(error["message"], "internal error");
    assert!(!body.to_string().contains("compliance_subjects"), "{body}");
}
