//! The GraphQL API end to end: a real `desist serve`, real HTTP, real PostgreSQL.

mod common;

use common::server::{problems, TestServer};
use common::{count_events, fixture, import_pilot, TestDb};
use serde_json::{json, Value};

/// The ```graphql blocks of docs/api.md, each with the ```json variables that follow it.
fn walkthrough() -> Vec<(String, Value)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/api.md"))
        .expect("docs/api.md");
    let mut blocks: Vec<(String, Value)> = Vec::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("```") {
        let after = &rest[start + 3..];
        let (lang, body) = after.split_once('\n').unwrap_or((after, ""));
        let Some(end) = body.find("```") else { break };
        let content = &body[..end];
        match lang.trim() {
            "graphql" => blocks.push((content.to_string(), json!({}))),
            "json" => {
                if let Some(last) = blocks.last_mut() {
                    last.1 = serde_json::from_str(content).expect("variables are JSON");
                }
            }
            _ => {}
        }
        rest = &body[end + 3..];
    }
    blocks
}

#[tokio::test]
async fn the_walkthrough_in_docs_api_md_runs_without_an_error() {
    let server = TestServer::start(TestDb::new().await).await;
    let blocks = walkthrough();
    assert!(blocks.len() >= 10, "found only {} blocks", blocks.len());
    let mut last = Value::Null;
    for (i, (query, variables)) in blocks.iter().enumerate() {
        let response = server.graphql(query, variables.clone()).await;
        let found = problems(&response);
        assert!(found.is_empty(), "block {i} failed: {found:?}\n{query}");
        last = response;
        if i == 6 {
            // After completion: the course's figures.
            let progress = &last["data"]["completeEnrolment"]["enrolment"]["progress"];
            assert_eq!(progress["sessionsAttended"], 11);
            assert_eq!(progress["sessionsDue"], 12);
        }
    }
    // The evaluator sees one person only as suppressed counts.
    let cohort = &last["data"]["outcomes"]["cohorts"][0];
    assert_eq!(cohort["n"], json!({"value": null, "suppressed": true}));
    assert_eq!(cohort["rate"], Value::Null);
}

#[tokio::test]
async fn the_outcome_query_returns_the_fixtures_expected_values() {
    let db = TestDb::new().await;
    import_pilot(&db.store).await;
    let server = TestServer::start(db).await;
    server.views_caught_up().await;
    let expected = fixture("pilot-small.expected-2025-06-30.json");
    let response = server
        .graphql(
            "{ outcomes(asOf: \"2025-06-30\") { cohorts { cohort final
                n { value } reoffenders { value } reoffences { value } completed { value }
                ended { value } attended { value } due { value }
                rate rateCi { lower upper } frequency perReoffender completionRate attendanceRate
                stalkingHarassmentRate spoBreachRate medianDaysToStart
                timeToReoffence { day proportion ci { lower upper } } } } }",
            json!({}),
        )
        .await;
    assert!(problems(&response).is_empty(), "{response}");
    let rows = response["data"]["outcomes"]["cohorts"].as_array().unwrap();
    let wanted = expected["controlled_outcomes_by_cohort"]
        .as_array()
        .unwrap();
    assert_eq!(rows.len(), wanted.len());
    let close = |a: &Value, b: &Value| match (a.as_f64(), b.as_f64()) {
        (Some(a), Some(b)) => (a - b).abs() < 1e-9,
        _ => a.is_null() && b.is_null(),
    };
    for (row, want) in rows.iter().zip(wanted) {
        assert_eq!(row["cohort"], want["cohort"]);
        assert_eq!(row["final"], want["final"]);
        for count in [
            "n",
            "reoffenders",
            "reoffences",
            "completed",
            "ended",
            "attended",
            "due",
        ] {
            assert!(
                close(&row[count]["value"], &want[count]),
                "{count} {row} {want}"
            );
        }
        for (ours, theirs) in [
            ("rate", "rate"),
            ("frequency", "frequency"),
            ("perReoffender", "per_reoffender"),
            ("completionRate", "completion_rate"),
            ("attendanceRate", "attendance_rate"),
            ("stalkingHarassmentRate", "stalking_harassment_rate"),
            ("spoBreachRate", "spo_breach_rate"),
            ("medianDaysToStart", "median_days_to_start"),
        ] {
            assert!(close(&row[ours], &want[theirs]), "{ours} {row} {want}");
        }
        match want["rate_ci"].as_array() {
            Some(ci) => {
                assert!(close(&row["rateCi"]["lower"], &ci[0]));
                assert!(close(&row["rateCi"]["upper"], &ci[1]));
            }
            None => assert!(row["rateCi"].is_null()),
        }
        for point in row["timeToReoffence"].as_array().unwrap() {
            let day = point["day"].to_string();
            let want = &want["km"][&day];
            if want.is_null() {
                assert!(
                    point["proportion"].is_null(),
                    "day {day} should be withheld"
                );
            } else {
                assert!(close(&point["proportion"], &want["proportion"]));
                assert!(close(&point["ci"]["lower"], &want["ci"][0]));
            }
        }
    }
}

#[tokio::test]
async fn a_retried_command_id_records_once() {
    let server = TestServer::start(TestDb::new().await).await;
    let register = r#"mutation { registerSubject(input: { commandId: "retry-1", ref: "S9",
        birthYear: 1990, sex: FEMALE, area: "Kent", occurredAt: "2026-01-02T09:00:00Z" }) {
        subject { ref } userErrors { code } commandId replayed } }"#;
    let first = server.graphql(register, json!({})).await;
    let count = count_events(&server.db.store).await;
    let second = server.graphql(register, json!({})).await;
    assert_eq!(
        first["data"]["registerSubject"]["replayed"], false,
        "{first}"
    );
    assert_eq!(
        second["data"]["registerSubject"]["replayed"], true,
        "{second}"
    );
    assert_eq!(second["data"]["registerSubject"]["commandId"], "retry-1");
    assert_eq!(second["data"]["registerSubject"]["subject"]["ref"], "S9");
    assert_eq!(count_events(&server.db.store).await, count);
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let server = TestServer::start(TestDb::new().await).await;
    let health = server
        .client
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let ready = server
        .client
        .get(server.url("/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["ready"], true);
}

#[tokio::test]
async fn docs_schema_graphql_is_the_schema_the_code_serves() {
    let file = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/schema.graphql"))
        .expect("docs/schema.graphql");
    assert!(
        file == desist_api::graphql::sdl(),
        "docs/schema.graphql is out of date: run `cargo run -- schema > docs/schema.graphql`"
    );
}

#[tokio::test]
async fn compliance_alerts_push_a_new_red_reason_over_websocket() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message;

    let server = TestServer::start(TestDb::new().await).await;
    let setup = server
        .graphql(
            r#"mutation {
              registerSubject(input: { ref: "S1", birthYear: 1980, sex: MALE, area: "Kent",
                  occurredAt: "2026-01-01T09:00:00Z" }) { userErrors { code } }
              makeOrder(input: { ref: "O1", subjectId: "U3ViamVjdDpTMQ", kind: FULL,
                  occurredAt: "2026-01-02T09:00:00Z", conditions: [{ conditionId: "C1",
                  kind: PROHIBITION, category: NO_CONTACT, from: "2026-01-02" }] }) {
                  userErrors { code } }
              serveOrder(input: { orderId: "UHJvdGVjdGlvbk9yZGVyOk8x",
                  occurredAt: "2026-01-03T09:00:00Z" }) { userErrors { code } }
              giveNotification(input: { orderId: "UHJvdGVjdGlvbk9yZGVyOk8x", kind: INITIAL,
                  occurredAt: "2026-01-04T09:00:00Z" }) { userErrors { code } }
            }"#,
            json!({}),
        )
        .await;
    assert!(problems(&setup).is_empty(), "{setup}");

    let mut request = format!("ws://{}/graphql/ws", server.addr)
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let bearer = format!(
        "Bearer {}",
        common::server::token("test-admin", desist_domain::Role::Admin)
    );
    socket
        .send(Message::Text(
            json!({"type": "connection_init", "payload": {"authorization": bearer}})
                .to_string()
                .into(),
        ))
        .await
        .unwrap();
    let ack = socket.next().await.unwrap().unwrap();
    assert!(ack.to_string().contains("connection_ack"), "{ack}");
    socket
        .send(Message::Text(
            json!({"id": "1", "type": "subscribe", "payload": {
                "query": "subscription { complianceAlerts { reason asOf subject { ref } } }"
            }})
            .to_string()
            .into(),
        ))
        .await
        .unwrap();
    // Give the server a moment to register the subscription before the breach is reported.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;

    let breach = server
        .graphql(
            r#"mutation { reportBreach(input: { orderId: "UHJvdGVjdGlvbk9yZGVyOk8x",
                breachId: "B1", conditionId: "C1", occurredOn: "2026-02-14" }) {
                userErrors { code } } }"#,
            json!({}),
        )
        .await;
    assert!(problems(&breach).is_empty(), "{breach}");

    let alert = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        while let Some(Ok(message)) = socket.next().await {
            let text = message.to_string();
            if text.contains("OPEN_BREACH_REPORT") {
                return serde_json::from_str::<Value>(&text).unwrap();
            }
        }
        panic!("the socket closed without an alert");
    })
    .await
    .expect("an alert arrives");
    assert_eq!(alert["type"], "next");
    assert_eq!(
        alert["payload"]["data"]["complianceAlerts"]["subject"]["ref"],
        "S1"
    );
}

#[tokio::test]
async fn connections_page_and_filter_and_node_finds_what_they_list() {
    let db = TestDb::new().await;
    import_pilot(&db.store).await;
    let server = TestServer::start(db).await;
    server.views_caught_up().await;

    let page = |after: Option<&str>| {
        let after = after
            .map(|a| format!(", after: \"{a}\""))
            .unwrap_or_default();
        format!(
            "{{ enrolments(first: 5, status: COMPLETED, area: \"Kent\"{after}) {{
                edges {{ cursor node {{ id ref status subject {{ area }} progress {{ sessionsAttended }} }} }}
                pageInfo {{ hasNextPage hasPreviousPage endCursor }} }} }}"
        )
    };
    let first = server.graphql(&page(None), json!({})).await;
    assert!(problems(&first).is_empty(), "{first}");
    let edges = first["data"]["enrolments"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 5);
    for edge in edges {
        assert_eq!(edge["node"]["status"], "COMPLETED");
        assert_eq!(edge["node"]["subject"]["area"], "Kent");
        assert!(
            edge["node"]["progress"]["sessionsAttended"]
                .as_i64()
                .unwrap()
                >= 10
        );
    }
    let end = first["data"]["enrolments"]["pageInfo"]["endCursor"]
        .as_str()
        .unwrap()
        .to_string();
    let second = server.graphql(&page(Some(&end)), json!({})).await;
    let next = &second["data"]["enrolments"]["edges"][0]["node"]["ref"];
    assert!(next.as_str().unwrap() > edges[4]["node"]["ref"].as_str().unwrap());
    assert_eq!(
        second["data"]["enrolments"]["pageInfo"]["hasPreviousPage"],
        true
    );

    // node(id) finds the listed object.
    let id = edges[0]["node"]["id"].as_str().unwrap();
    let node = server
        .graphql(
            "query($id: ID!) { node(id: $id) { id ... on Enrolment { ref } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(node["data"]["node"]["ref"], edges[0]["node"]["ref"]);

    // RAG filter and the caseload agree.
    let red = server
        .graphql(
            "{ subjects(first: 100, rag: RED, asOf: \"2023-05-15\") { edges { node { ref } } }
               caseload(first: 100, asOf: \"2023-05-15\") { edges { node { rag } } } }",
            json!({}),
        )
        .await;
    let reds = red["data"]["subjects"]["edges"].as_array().unwrap().len();
    let caseload = red["data"]["caseload"]["edges"].as_array().unwrap();
    assert_eq!(reds, 38, "the fixture has 38 RED subjects on 15 May 2023");
    assert!(caseload[..reds].iter().all(|e| e["node"]["rag"] == "RED"));
    assert_eq!(caseload[reds]["node"]["rag"], "AMBER");

    // Neither first nor last: refused.
    let unbounded = server
        .graphql("{ enrolments { edges { node { ref } } } }", json!({}))
        .await;
    assert_eq!(
        unbounded["errors"][0]["extensions"]["code"],
        "BAD_USER_INPUT"
    );
}
