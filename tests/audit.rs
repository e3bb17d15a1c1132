//! The read audit: each read leaves exactly one record naming the subjects it touched, and a
//! read whose audit cannot be written is not answered.

mod common;

use common::server::{problems, token, TestServer};
use common::TestDb;
use desist_api::graphql::ids::{encode, Kind};

/// A global id as text.
fn id(kind: Kind, raw: &str) -> String {
    encode(kind, raw).0
}
use desist_domain::Role;
use serde_json::{json, Value};

async fn setup(server: &TestServer) {
    let s1 = id(Kind::Subject, "S1");
    let s2 = id(Kind::Subject, "S2");
    let query = format!(
        r#"mutation {{
          defineProgramme(input: {{ code: "COBI", version: "2022", plannedSessions: 12,
              minAttendedForCompletion: 10, occurredAt: "2026-01-01T09:00:00Z" }}) {{ userErrors {{ code }} }}
          a: registerSubject(input: {{ ref: "S1", birthYear: 1980, sex: MALE, area: "Kent",
              occurredAt: "2026-01-02T09:00:00Z" }}) {{ userErrors {{ code }} }}
          b: registerSubject(input: {{ ref: "S2", birthYear: 1982, sex: FEMALE, area: "Kent",
              occurredAt: "2026-01-02T09:00:00Z" }}) {{ userErrors {{ code }} }}
          refer(input: {{ ref: "E1", subjectId: "{s1}", programmeCode: "COBI",
              programmeVersion: "2022", route: VOLUNTARY, occurredAt: "2026-01-05T09:00:00Z" }}) {{ userErrors {{ code }} }}
          makeOrder(input: {{ ref: "O2", subjectId: "{s2}", kind: FULL, occurredAt: "2026-01-02T10:00:00Z",
              conditions: [{{ conditionId: "C1", kind: PROHIBITION, category: NO_CONTACT, from: "2026-01-02" }}] }}) {{ userErrors {{ code }} }}
        }}"#
    );
    let response = server.graphql(&query, json!({})).await;
    assert!(problems(&response).is_empty(), "{response}");
    server.views_caught_up().await;
}

async fn audit_rows(server: &TestServer) -> Vec<(String, Vec<String>)> {
    let filter = desist_api::audit::AuditFilter {
        limit: 100_000,
        ..Default::default()
    };
    let mut records = desist_api::audit::read(server.db.store.db(), &filter)
        .await
        .unwrap();
    records.reverse();
    records
        .into_iter()
        .map(|r| (r.operation, r.subject_ids))
        .collect()
}

#[tokio::test]
async fn each_read_leaves_exactly_one_record_with_the_subjects_it_touched() {
    let server = TestServer::start(TestDb::new().await).await;
    setup(&server).await;
    let reads: Vec<(String, &str, Vec<&str>)> = vec![
        (
            format!(
                "{{ subject(id: \"{}\") {{ ref }} }}",
                id(Kind::Subject, "S1")
            ),
            "subject",
            vec!["S1"],
        ),
        (
            format!(
                "{{ enrolment(id: \"{}\") {{ ref }} }}",
                id(Kind::Enrolment, "E1")
            ),
            "enrolment",
            vec!["S1"],
        ),
        (
            format!(
                "{{ protectionOrder(id: \"{}\") {{ ref }} }}",
                id(Kind::ProtectionOrder, "O2")
            ),
            "order",
            vec!["S2"],
        ),
        (
            format!(
                "{{ compliance(subjectId: \"{}\") {{ rag }} }}",
                id(Kind::Subject, "S2")
            ),
            "compliance",
            vec!["S2"],
        ),
        (
            "{ subjects(first: 10) { edges { node { ref } } } }".into(),
            "subjects",
            vec!["S1", "S2"],
        ),
        (
            "{ caseload(first: 10) { edges { node { rag } } } }".into(),
            "caseload",
            vec!["S1", "S2"],
        ),
        // The people's details come with the caseload's facts, not through the subjects'
        // loader, and are audited the same.
        (
            "{ caseload(first: 10) { edges { node { rag subject { ref area } } } } }".into(),
            "caseload,subject",
            vec!["S1", "S2"],
        ),
        (
            format!(
                "{{ enrolment(id: \"{}\") {{ history {{ eventType }} }} }}",
                id(Kind::Enrolment, "E1")
            ),
            "enrolment,history",
            vec!["S1"],
        ),
        ("{ outcomes { position } }".into(), "outcomes", vec![]),
        (
            "{ auditLog(first: 1) { edges { node { operation } } } }".into(),
            "auditLog",
            vec![],
        ),
    ];
    for (query, operation, subjects) in reads {
        let before = audit_rows(&server).await.len();
        let response = server.graphql(&query, json!({})).await;
        assert!(problems(&response).is_empty(), "{query}: {response}");
        let rows = audit_rows(&server).await;
        assert_eq!(rows.len(), before + 1, "{query}: exactly one record");
        let (op, ids) = rows.last().unwrap();
        assert_eq!(op, operation, "{query}");
        let mut ids = ids.clone();
        ids.sort();
        assert_eq!(ids, subjects, "{query}");
    }
    // Who, role, purpose and correlation id are on each record.
    let (actor, role, purpose, correlation): (String, String, Option<String>, String) =
        desist_store::db::query_as(
            "SELECT actor_id, role, purpose, correlation_id FROM audit_log ORDER BY id DESC LIMIT 1",
        )
        .fetch_one(server.db.store.db())
        .await
        .unwrap();
    assert_eq!((actor.as_str(), role.as_str()), ("test-admin", "admin"));
    assert_eq!(purpose.as_deref(), Some("testing"));
    assert!(!correlation.is_empty());
    // A read that found nothing of a subject's record writes nothing.
    let before = audit_rows(&server).await.len();
    let missing = format!(
        "{{ subject(id: \"{}\") {{ ref }} }}",
        id(Kind::Subject, "S9")
    );
    server.graphql(&missing, json!({})).await;
    assert_eq!(audit_rows(&server).await.len(), before);
}

#[tokio::test]
async fn a_read_fails_when_its_audit_cannot_be_written() {
    let server = TestServer::start(TestDb::new().await).await;
    setup(&server).await;
    let refuse: &[&str] = match server.db.store.backend() {
        desist_store::Backend::Postgres => &[
            "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN RAISE EXCEPTION 'audit storage unavailable'; END $$",
            "CREATE TRIGGER audit_unwritable BEFORE INSERT ON audit_log
             FOR EACH ROW EXECUTE FUNCTION refuse_audit()",
        ],
        desist_store::Backend::Sqlite => {
            &["CREATE TRIGGER audit_unwritable BEFORE INSERT ON audit_log
             BEGIN SELECT RAISE(ABORT, 'audit storage unavailable'); END"]
        }
    };
    for statement in refuse {
        desist_store::db::query(*statement)
            .execute(server.db.store.db())
            .await
            .unwrap();
    }
    let response = server
        .graphql(
            &format!(
                "{{ subject(id: \"{}\") {{ ref area }} }}",
                id(Kind::Subject, "S1")
            ),
            json!({}),
        )
        .await;
    assert!(
        response.get("data").is_none_or(Value::is_null),
        "{response}"
    );
    assert_eq!(response["errors"][0]["extensions"]["code"], "INTERNAL");
    assert!(
        !response.to_string().contains("Kent"),
        "nothing read leaves: {response}"
    );
}

#[tokio::test]
async fn the_audit_command_lists_and_filters_records() {
    let server = TestServer::start(TestDb::new().await).await;
    setup(&server).await;
    server
        .graphql_as(
            &token("om-9", Role::Admin),
            &format!(
                "{{ subject(id: \"{}\") {{ ref }} }}",
                id(Kind::Subject, "S2")
            ),
            json!({}),
        )
        .await;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_desist"))
        .args(["audit", "--subject", "S2"])
        .env("DATABASE_URL", &server.db.url)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("om-9") && text.contains("subjects=[S2]"),
        "{text}"
    );
    assert!(!text.contains("subjects=[S1]"), "{text}");
}

#[tokio::test]
async fn a_persons_audit_lists_the_reads_that_named_them_newest_first_a_page_at_a_time() {
    let server = TestServer::start(TestDb::new().await).await;
    setup(&server).await;
    let read = |subject: &str| {
        format!(
            "{{ subject(id: \"{}\") {{ ref }} }}",
            id(Kind::Subject, subject)
        )
    };
    for (reader, subject) in [
        ("om-7", "S2"),
        ("om-8", "S1"),
        ("om-8", "S2"),
        ("om-9", "S2"),
    ] {
        let response = server
            .graphql_as(&token(reader, Role::Admin), &read(subject), json!({}))
            .await;
        assert!(problems(&response).is_empty(), "{response}");
    }
    let page = |actor: Option<&str>, before_id: Option<i64>, limit: i64| {
        let filter = desist_api::audit::AuditFilter {
            subject_id: Some("S2".into()),
            actor_id: actor.map(str::to_string),
            before_id,
            limit,
            ..Default::default()
        };
        let db = server.db.store.db().clone();
        async move { desist_api::audit::read(&db, &filter).await.unwrap() }
    };
    let readers = |records: &[desist_api::audit::AuditRecord]| {
        records
            .iter()
            .map(|r| (r.actor_id.clone(), r.subject_ids.clone()))
            .collect::<Vec<_>>()
    };
    let s2 = vec!["S2".to_string()];
    let first = page(None, None, 2).await;
    assert_eq!(
        readers(&first),
        [
            ("om-9".to_string(), s2.clone()),
            ("om-8".to_string(), s2.clone())
        ]
    );
    let rest = page(None, first.last().map(|r| r.id), 2).await;
    assert_eq!(readers(&rest), [("om-7".to_string(), s2.clone())]);
    let by_om8 = page(Some("om-8"), None, 10).await;
    assert_eq!(readers(&by_om8), [("om-8".to_string(), s2)]);
}

#[tokio::test]
async fn a_mutation_reads_and_audits_its_object_only_when_the_payload_selects_it() {
    let server = TestServer::start(TestDb::new().await).await;
    setup(&server).await;
    let s1 = id(Kind::Subject, "S1");
    let allocate = |officer: &str, selection: &str| {
        format!(
            r#"mutation {{ allocateOffenderManager(input: {{ subjectId: "{s1}", officer: "{officer}",
                occurredAt: "2026-01-06T09:00:00Z" }}) {{ {selection} }} }}"#
        )
    };

    // Only the command id asked for: the subject is not read, so nobody is recorded as seen.
    let before = audit_rows(&server).await.len();
    let response = server
        .graphql(
            &allocate("om-1", "commandId userErrors { code }"),
            json!({}),
        )
        .await;
    assert!(problems(&response).is_empty(), "{response}");
    assert!(response["data"]["allocateOffenderManager"]["commandId"].is_string());
    assert_eq!(audit_rows(&server).await.len(), before);

    // The subject asked for, under an alias and through a fragment: read, returned and audited.
    let response = server
        .graphql(
            &allocate(
                "om-2",
                "... on AllocateOffenderManagerPayload { person: subject { ref } }",
            ),
            json!({}),
        )
        .await;
    assert!(problems(&response).is_empty(), "{response}");
    assert_eq!(
        response["data"]["allocateOffenderManager"]["person"]["ref"],
        "S1"
    );
    let rows = audit_rows(&server).await;
    assert_eq!(rows.len(), before + 1);
    assert_eq!(rows.last().unwrap().1, vec!["S1".to_string()]);
}
