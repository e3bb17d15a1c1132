//! Crypto-shredding and what evaluators can ever receive.

mod common;

use common::server::{master_key, problems, token, TestServer};
use common::{import_pilot, TestDb};
use desist_api::graphql::ids::{encode, Kind};
use desist_domain::Role;
use serde_json::{json, Value};

const NAME: &str = "Jonathan Testperson";
const ADDRESS: &str = "12 Known Street, Lewes";
const MARKER: &str = "PLAINTEXT-MARKER-7731";

fn id(kind: Kind, raw: &str) -> String {
    encode(kind, raw).0
}

/// The fixture, imported with sealing on, behind a running server.
async fn pilot() -> TestServer {
    let db = TestDb::new().await;
    let sealed = db.store.clone().with_master_key(master_key());
    import_pilot(&sealed).await;
    let server = TestServer::start(db).await;
    server.views_caught_up().await;
    server
}

/// Rows of every table that contain `needle` anywhere, as text.
async fn raw_hits(server: &TestServer, needle: &str) -> Vec<String> {
    let db = server.db.store.db();
    let sql = match db.backend() {
        desist_store::Backend::Postgres => {
            "SELECT table_name::text FROM information_schema.tables
              WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        }
        desist_store::Backend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table'",
    };
    let tables: Vec<String> = desist_store::db::query_scalar(sql)
        .fetch_all(db)
        .await
        .unwrap();
    let mut hits = Vec::new();
    for table in tables {
        let count = common::table_rows(db, &table, &[])
            .await
            .iter()
            .filter(|row| row.contains(needle))
            .count();
        if count > 0 {
            hits.push(format!("{table}: {count}"));
        }
    }
    hits
}

async fn outcomes(server: &TestServer) -> Value {
    let response = server
        .graphql(
            "{ outcomes(asOf: \"2025-06-30\") { cohorts { cohort n { value } reoffenders { value }
                 rate attendanceRate completionRate }
               comparison { difference } ordersByPeriod { period orders { value } } } }",
            json!({}),
        )
        .await;
    assert!(problems(&response).is_empty(), "{response}");
    response["data"]["outcomes"].clone()
}

#[tokio::test]
async fn erasure_destroys_a_subjects_text_everywhere_and_leaves_the_statistics_unchanged() {
    let server = pilot().await;
    let subject = id(Kind::Subject, "S030000");
    let setup = server
        .graphql(
            &format!(
                r#"mutation {{
                  recordIdentity(input: {{ subjectId: "{subject}", names: ["{NAME}"],
                      dateOfBirth: "1994-03-02", addresses: ["{ADDRESS}"],
                      policeIdentifiers: ["PNC 94/123456X"] }}) {{ userErrors {{ code }} }}
                  correctDemographics(input: {{ subjectId: "{subject}",
                      demographics: {{ birthYear: 1995, sex: MALE, area: "Surrey" }},
                      reason: "{MARKER}" }}) {{ userErrors {{ code }} }}
                }}"#
            ),
            json!({}),
        )
        .await;
    assert!(problems(&setup).is_empty(), "{setup}");
    server.views_caught_up().await;

    let read = format!(
        "{{ subject(id: \"{subject}\") {{ identity {{ names dateOfBirth erased }}
             history {{ eventType data }}
             enrolments {{ history {{ eventType data }} }} }} }}"
    );
    // An admin reads clinical text only with a break-glass reason (audited).
    let read_all = |query: String| {
        let request = server
            .client
            .post(server.url("/graphql"))
            .bearer_auth(token("ad-1", Role::Admin))
            .header("x-purpose", "erasure request 2026/44")
            .header("x-break-glass-reason", "verifying erasure")
            .json(&json!({ "query": query }));
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let before = read_all(read.clone()).await;
    let text = before.to_string();
    assert!(text.contains(NAME) && text.contains(MARKER), "{before}");
    assert!(
        text.contains("concern recorded in the imported timeline"),
        "the subject's concern text"
    );
    // Sealed at rest from the start: the plain text is in no table.
    assert!(raw_hits(&server, MARKER).await.is_empty());
    assert!(raw_hits(&server, NAME).await.is_empty());
    let statistics = outcomes(&server).await;

    let erased = server
        .graphql(
            &format!(
                r#"mutation {{ eraseSubject(input: {{ subjectId: "{subject}",
                    reason: "subject access and erasure request 2026/44" }}) {{
                    subject {{ ref }} userErrors {{ field code }} }} }}"#
            ),
            json!({}),
        )
        .await;
    assert!(problems(&erased).is_empty(), "{erased}");
    server.views_caught_up().await;

    let after = read_all(read.clone()).await;
    let text = after.to_string();
    assert!(!text.contains(NAME) && !text.contains(MARKER), "{after}");
    assert!(
        !text.contains("concern recorded in the imported timeline"),
        "{after}"
    );
    assert!(text.contains("[erased]"), "{after}");
    assert_eq!(after["data"]["subject"]["identity"]["erased"], true);
    // The key itself is gone, and its table rewritten.
    let keys: i64 = desist_store::db::query_scalar(
        "SELECT count(*) FROM subject_keys WHERE subject_id = 'S030000'",
    )
    .fetch_one(server.db.store.db())
    .await
    .unwrap();
    assert_eq!(keys, 0);
    for needle in [MARKER, NAME, ADDRESS, "PNC 94/123456X"] {
        assert!(raw_hits(&server, needle).await.is_empty(), "{needle} found");
    }
    // Counts and statistics are exactly as they were.
    assert_eq!(outcomes(&server).await, statistics);
    // The erasure is an event and an audit record.
    let events: i64 = desist_store::db::query_scalar(
        "SELECT count(*) FROM events WHERE event_type = 'SubjectErased' AND aggregate_id = 'S030000'",
    )
    .fetch_one(server.db.store.db())
    .await
    .unwrap();
    assert_eq!(events, 1);
    let audited: i64 = desist_store::db::query_scalar(
        "SELECT count(*) FROM audit_log a JOIN audit_subjects s ON s.audit_id = a.id
          WHERE a.operation LIKE '%eraseSubject%' AND s.subject_id = 'S030000'",
    )
    .fetch_one(server.db.store.db())
    .await
    .unwrap();
    assert_eq!(audited, 1);
    // Nothing more can be written about them.
    let more = server
        .graphql(
            &format!(
                r#"mutation {{ correctDemographics(input: {{ subjectId: "{subject}",
                    demographics: {{ birthYear: 1996, sex: MALE, area: "Surrey" }}, reason: "x" }}) {{
                    userErrors {{ field code }} }} }}"#
            ),
            json!({}),
        )
        .await;
    assert_eq!(
        more["data"]["correctDemographics"]["userErrors"][0]["code"],
        "SUBJECT_ERASED"
    );
}

#[tokio::test]
async fn a_subject_access_export_holds_their_record_but_not_third_parties_details() {
    let server = pilot().await;
    let subject = id(Kind::Subject, "S030005");
    server
        .graphql(
            &format!(
                r#"mutation {{ recordIdentity(input: {{ subjectId: "{subject}", names: ["{NAME}"] }}) {{
                    userErrors {{ code }} }} }}"#
            ),
            json!({}),
        )
        .await;
    let export = server
        .graphql(
            &format!("{{ exportSubject(subjectId: \"{subject}\") }}"),
            json!({}),
        )
        .await;
    assert!(problems(&export).is_empty(), "{export}");
    let data = &export["data"]["exportSubject"];
    assert_eq!(data["subject"]["ref"], "S030005");
    assert!(data.to_string().contains(NAME));
    assert!(!data["enrolments"].as_array().unwrap().is_empty());
    assert!(!data["protection_orders"].as_array().unwrap().is_empty());
    assert!(data["withheld"].as_str().unwrap().contains("third parties"));
    let evaluator = server
        .graphql_as(
            &token("ev-1", Role::Evaluator),
            &format!("{{ exportSubject(subjectId: \"{subject}\") }}"),
            json!({}),
        )
        .await;
    assert_eq!(evaluator["errors"][0]["extensions"]["code"], "FORBIDDEN");
}

/// Every count cell an evaluator receives is suppressed or at least 10.
fn small_cells(value: &Value, path: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let (Some(v), Some(Value::Bool(suppressed))) =
                (map.get("value"), map.get("suppressed"))
            {
                if !suppressed && v.as_i64().is_none_or(|n| n < 10) {
                    out.push(format!("{path}: {v}"));
                }
            }
            for (k, v) in map {
                small_cells(v, &format!("{path}.{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                small_cells(v, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn no_evaluator_response_holds_a_reference_name_date_of_birth_or_free_text() {
    let server = pilot().await;
    server
        .graphql(
            &format!(
                r#"mutation {{ recordIdentity(input: {{ subjectId: "{}", names: ["{NAME}"],
                    dateOfBirth: "1994-03-02" }}) {{ userErrors {{ code }} }} }}"#,
                id(Kind::Subject, "S030001")
            ),
            json!({}),
        )
        .await;
    let evaluator = token("ev-1", Role::Evaluator);
    let cohort = "cohort group { name value } final n { value suppressed }
        reoffenders { value suppressed } reoffences { value suppressed }
        completed { value suppressed } ended { value suppressed } attended { value suppressed }
        due { value suppressed } rate rateCi { lower upper } frequency perReoffender
        completionRate attendanceRate stalkingHarassmentRate spoBreachRate medianDaysToStart
        timeToReoffence { day proportion ci { lower upper } }";
    let splits = [
        "",
        "split: { area: true }",
        "split: { programme: true }",
        "split: { route: true }",
        "split: { srpType: true }",
        "split: { area: true, route: true, srpType: true, programme: true }",
    ];
    let mut responses = Vec::new();
    for as_of in ["2023-05-15", "2025-06-30"] {
        for split in splits {
            let sep = if split.is_empty() { "" } else { ", " };
            let query = format!(
                "{{ outcomes(asOf: \"{as_of}\"{sep}{split}) {{ asOf position cohorts {{ {cohort} }}
                   comparison {{ completers {{ n {{ value suppressed }} reoffenders {{ value suppressed }} }}
                     nonCompleters {{ n {{ value suppressed }} reoffenders {{ value suppressed }} }}
                     difference ci {{ lower upper }} label }}
                   ordersByPeriod {{ period orders {{ value suppressed }} notificationDue {{ value suppressed }}
                     notificationOnTime {{ value suppressed }} notificationOnTimeRate
                     breachReports {{ value suppressed }} orderMonths breachesPer100OrderMonths }} }} }}"
            );
            let response = server.graphql_as(&evaluator, &query, json!({})).await;
            assert!(problems(&response).is_empty(), "{response}");
            responses.push(response);
        }
    }
    let reference = regex_like_reference();
    for response in &responses {
        let text = response.to_string();
        for forbidden in [
            NAME,
            "1994-03-02",
            "concern recorded",
            "asked to leave",
            "bcp-0",
            "psy-01",
        ] {
            assert!(!text.contains(forbidden), "{forbidden} in {text}");
        }
        assert!(
            !reference(&text),
            "a subject, enrolment or order reference in {text}"
        );
        let mut small = Vec::new();
        small_cells(response, "", &mut small);
        assert!(small.is_empty(), "cells under 10 shown: {small:?}");
    }
}

/// Whether `text` holds a fixture reference (S030000, E030000, O030000, …).
fn regex_like_reference() -> impl Fn(&str) -> bool {
    |text: &str| {
        let bytes = text.as_bytes();
        bytes
            .windows(7)
            .any(|w| matches!(w[0], b'S' | b'E' | b'O') && w[1..].iter().all(u8::is_ascii_digit))
    }
}

#[tokio::test]
async fn rotating_the_master_key_keeps_every_text_readable_under_the_new_key_only() {
    let server = pilot().await;
    let subject = id(Kind::Subject, "S030002");
    server
        .graphql(
            &format!(
                r#"mutation {{ recordIdentity(input: {{ subjectId: "{subject}", names: ["{NAME}"] }}) {{
                    userErrors {{ code }} }} }}"#
            ),
            json!({}),
        )
        .await;
    let new_key = "bmV3LW1hc3Rlci1rZXktYWxzby0zMi1ieXRlcy0hISE=";
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_desist"))
        .arg("rotate-master-key")
        .env("DATABASE_URL", &server.db.url)
        .env(
            "DESIST_MASTER_KEY",
            "dGVzdC1tYXN0ZXIta2V5LTMyLWJ5dGVzLWxvbmchISE=",
        )
        .env("DESIST_NEW_MASTER_KEY", new_key)
        .env("DESIST_NEW_MASTER_KEY_ID", "master-2")
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let ids: Vec<String> =
        desist_store::db::query_scalar("SELECT DISTINCT master_key_id FROM subject_keys")
            .fetch_all(server.db.store.db())
            .await
            .unwrap();
    assert_eq!(ids, ["master-2"]);

    let rotated = desist_store::sealing::MasterKey::from_base64("master-2", new_key).unwrap();
    let vault = desist_store::sealing::KeyVault::new(server.db.store.db().clone(), rotated);
    let identity = vault.identity("S030002").await.unwrap();
    assert!(format!("{identity:?}").contains(NAME), "{identity:?}");
    let old = desist_store::sealing::KeyVault::new(server.db.store.db().clone(), master_key());
    assert!(
        old.identity("S030002").await.is_err(),
        "the old key opens nothing"
    );
}

#[tokio::test]
async fn texts_opened_together_each_open_with_their_own_subjects_key_or_show_as_erased() {
    let db = TestDb::new().await;
    let vault = desist_store::sealing::KeyVault::new(db.store.db().clone(), master_key());
    let plain = |text: &str| json!({ "note": { "scheme": "plain", "text": text } });
    let (mut s1_first, mut s1_second, mut s2_only) = (
        plain("first of S1"),
        plain("second of S1"),
        plain("only of S2"),
    );
    vault
        .seal_payloads(&mut [&mut s1_first, &mut s1_second], "S1")
        .await
        .unwrap();
    vault
        .seal_payloads(&mut [&mut s2_only], "S2")
        .await
        .unwrap();
    vault.erase("S2").await.unwrap();
    assert_eq!(s1_first["note"]["scheme"], "aes256_gcm", "{s1_first}");

    vault
        .open_payloads(&mut [&mut s1_first, &mut s2_only, &mut s1_second])
        .await
        .unwrap();
    assert_eq!(s1_first, plain("first of S1"));
    assert_eq!(s1_second, plain("second of S1"));
    assert_eq!(s2_only, json!({ "note": { "scheme": "erased" } }));
}
