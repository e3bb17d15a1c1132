//! The authorisation matrix: every query, mutation and subscription × every role × a record on
//! and off the caller's caseload. Denials look the same whether the record exists or not.

mod common;

use common::server::{problems, token, TestServer};
use common::TestDb;
use desist_api::graphql::ids::{encode, Kind};
use desist_domain::Role;
use serde_json::{json, Value};

const SETUP: &str = r#"mutation {
  defineProgramme(input: { code: "COBI", version: "2022", plannedSessions: 12,
      minAttendedForCompletion: 10, occurredAt: "2026-01-01T09:00:00Z" }) { userErrors { code } }
  a: registerSubject(input: { ref: "S-own", birthYear: 1980, sex: MALE, area: "Kent",
      occurredAt: "2026-01-02T09:00:00Z" }) { userErrors { code } }
  b: registerSubject(input: { ref: "S-other", birthYear: 1981, sex: MALE, area: "Kent",
      occurredAt: "2026-01-02T09:00:00Z" }) { userErrors { code } }
  c: allocateOffenderManager(input: { subjectId: "$S-own", officer: "om-1",
      occurredAt: "2026-01-02T10:00:00Z" }) { userErrors { code } }
  d: allocateOffenderManager(input: { subjectId: "$S-other", officer: "om-2",
      occurredAt: "2026-01-02T10:00:00Z" }) { userErrors { code } }
  e1: refer(input: { ref: "E-own", subjectId: "$S-own", programmeCode: "COBI", programmeVersion: "2022",
      route: VOLUNTARY, occurredAt: "2026-01-05T09:00:00Z" }) { userErrors { code } }
  e2: refer(input: { ref: "E-other", subjectId: "$S-other", programmeCode: "COBI", programmeVersion: "2022",
      route: VOLUNTARY, occurredAt: "2026-01-05T09:00:00Z" }) { userErrors { code } }
  f1: assessSuitability(input: { enrolmentId: "$E-own", suitable: true, occurredAt: "2026-01-06T09:00:00Z" }) { userErrors { code } }
  f2: assessSuitability(input: { enrolmentId: "$E-other", suitable: true, occurredAt: "2026-01-06T09:00:00Z" }) { userErrors { code } }
  g1: allocate(input: { enrolmentId: "$E-own", practitioner: "bcp-1", occurredAt: "2026-01-07T09:00:00Z" }) { userErrors { code } }
  g2: allocate(input: { enrolmentId: "$E-other", practitioner: "bcp-2", occurredAt: "2026-01-07T09:00:00Z" }) { userErrors { code } }
  h1: startEnrolment(input: { enrolmentId: "$E-own", occurredAt: "2026-01-08T09:00:00Z" }) { userErrors { code } }
  h2: startEnrolment(input: { enrolmentId: "$E-other", occurredAt: "2026-01-08T09:00:00Z" }) { userErrors { code } }
  i: scheduleSession(input: { enrolmentId: "$E-own", sessionId: "s1", number: 1, mode: IN_PERSON,
      scheduledAt: "2026-01-08T10:00:00Z", occurredAt: "2026-01-08T09:30:00Z" }) { userErrors { code } }
  j: recordAttendance(input: { enrolmentId: "$E-own", sessionId: "s1", attendance: ATTENDED,
      occurredAt: "2026-01-08T10:00:00Z" }) { userErrors { code } }
  k: raiseConcern(input: { enrolmentId: "$E-own", concernId: "K1", sessionId: "s1", kind: RISK,
      text: "ESCALATED-CONCERN-TEXT", notifyProbation: true, occurredAt: "2026-01-08T11:00:00Z" }) { userErrors { code } }
  l: recordChainAnalysis(input: { enrolmentId: "$E-own", chainId: "CA1", vulnerability: "v",
      promptingEvent: "CLINICAL-CHAIN-TEXT", triggerCategory: OTHER, thoughts: "t", emotions: "e",
      urges: "u", action: "a", consequences: "c", alternativeSkill: MINDFULNESS,
      occurredAt: "2026-01-08T11:00:00Z" }) { userErrors { code } }
  o1: makeOrder(input: { ref: "O-own", subjectId: "$S-own", kind: FULL, occurredAt: "2026-01-02T10:00:00Z",
      conditions: [{ conditionId: "C1", kind: PROHIBITION, category: NO_CONTACT, from: "2026-01-02" }] }) { userErrors { code } }
  o2: makeOrder(input: { ref: "O-other", subjectId: "$S-other", kind: FULL, occurredAt: "2026-01-02T10:00:00Z",
      conditions: [{ conditionId: "C1", kind: PROHIBITION, category: NO_CONTACT, from: "2026-01-02" }] }) { userErrors { code } }
  p1: serveOrder(input: { orderId: "$O-own", occurredAt: "2026-01-03T10:00:00Z" }) { userErrors { code } }
  p2: serveOrder(input: { orderId: "$O-other", occurredAt: "2026-01-03T10:00:00Z" }) { userErrors { code } }
  q1: giveNotification(input: { orderId: "$O-own", kind: INITIAL, occurredAt: "2026-01-04T10:00:00Z" }) { userErrors { code } }
  q2: giveNotification(input: { orderId: "$O-other", kind: INITIAL, occurredAt: "2026-01-04T10:00:00Z" }) { userErrors { code } }
}"#;

/// The people in the matrix, and which records are theirs.
const ROLES: [(Role, &str); 5] = [
    (Role::Therapist, "bcp-1"),
    (Role::ProbationOfficer, "om-1"),
    (Role::PoliceSpoOfficer, "pc-1"),
    (Role::Evaluator, "ev-1"),
    (Role::Admin, "ad-1"),
];

#[derive(Clone, Copy, Debug)]
enum Class {
    Administer,
    Course,
    Compliance,
    CourseOrCompliance,
    Offences,
    Orders,
}

/// What the matrix expects of a command of `class` against an own (or other) record.
fn allowed(role: Role, class: Class, own: bool) -> bool {
    use Class::*;
    match (role, class) {
        (Role::Admin, _) => true,
        (Role::Therapist, Course | CourseOrCompliance) => own,
        (Role::ProbationOfficer, Compliance | CourseOrCompliance | Offences) => own,
        (Role::PoliceSpoOfficer, Orders | Offences) => true,
        _ => false,
    }
}

/// Each mutation with an input the domain refuses (so an allowed call records nothing) and
/// its class. `$S`, `$E`, `$O` stand for the target subject, enrolment and order.
const MUTATIONS: &[(&str, &str, Class)] = &[
    (
        "defineProgramme",
        r#"code: "COBI", version: "2022", plannedSessions: 12, minAttendedForCompletion: 13"#,
        Class::Administer,
    ),
    (
        "registerSubject",
        r#"ref: "S-x", birthYear: 2024, sex: MALE, area: "Kent""#,
        Class::Administer,
    ),
    (
        "correctDemographics",
        r#"subjectId: "$S", demographics: { birthYear: 2024, sex: MALE, area: "Kent" }, reason: "r""#,
        Class::Administer,
    ),
    (
        "allocateOffenderManager",
        r#"subjectId: "$S", officer: " ""#,
        Class::Administer,
    ),
    (
        "recordRiskAssessment",
        r#"subjectId: "$S", toolVersion: "2", assessor: "", sashConcern: HIGH"#,
        Class::CourseOrCompliance,
    ),
    (
        "recordOffence",
        r#"subjectId: "$S", category: VIOLENCE, occurredAt: "2099-01-01T00:00:00Z""#,
        Class::Offences,
    ),
    (
        "recordOffenceProven",
        r#"subjectId: "$S", offenceId: "F9", disposal: CAUTION"#,
        Class::Offences,
    ),
    (
        "refer",
        r#"subjectId: "$S", programmeCode: "COBI", programmeVersion: "1999", route: VOLUNTARY"#,
        Class::Compliance,
    ),
    (
        "assessSuitability",
        r#"enrolmentId: "$E", suitable: true"#,
        Class::Administer,
    ),
    (
        "allocate",
        r#"enrolmentId: "$E", practitioner: "x""#,
        Class::Administer,
    ),
    ("startEnrolment", r#"enrolmentId: "$E""#, Class::Course),
    (
        "pauseEnrolment",
        r#"enrolmentId: "$E", occurredAt: "2099-01-01T00:00:00Z""#,
        Class::Course,
    ),
    ("resumeEnrolment", r#"enrolmentId: "$E""#, Class::Course),
    (
        "scheduleSession",
        r#"enrolmentId: "$E", number: 13, scheduledAt: "2026-04-01T10:00:00Z", mode: PHONE"#,
        Class::Course,
    ),
    (
        "rescheduleSession",
        r#"enrolmentId: "$E", sessionId: "s9", scheduledAt: "2026-04-01T10:00:00Z""#,
        Class::Course,
    ),
    (
        "cancelSession",
        r#"enrolmentId: "$E", sessionId: "s9", by: PROVIDER, reason: "r""#,
        Class::Course,
    ),
    (
        "recordAttendance",
        r#"enrolmentId: "$E", sessionId: "s9", attendance: LATE"#,
        Class::Course,
    ),
    (
        "resolveAbsence",
        r#"enrolmentId: "$E", sessionId: "s9", acceptable: false"#,
        Class::CourseOrCompliance,
    ),
    (
        "correctAttendance",
        r#"enrolmentId: "$E", sessionId: "s9", attendance: LATE, reason: "r""#,
        Class::Course,
    ),
    (
        "recordSessionContent",
        r#"enrolmentId: "$E", sessionId: "s9""#,
        Class::Course,
    ),
    (
        "raiseConcern",
        r#"enrolmentId: "$E", sessionId: "s9", kind: RISK, text: "t", notifyProbation: false"#,
        Class::Course,
    ),
    (
        "acknowledgeConcern",
        r#"enrolmentId: "$E", concernId: "K9""#,
        Class::Compliance,
    ),
    (
        "recordChainAnalysis",
        r#"enrolmentId: "$E", vulnerability: "v", promptingEvent: "p", triggerCategory: OTHER, thoughts: "t", emotions: "e", urges: "u", action: "", consequences: "c", alternativeSkill: MINDFULNESS"#,
        Class::Course,
    ),
    (
        "identifyTrigger",
        r#"enrolmentId: "$E", category: JEALOUSY, description: """#,
        Class::Course,
    ),
    (
        "recordCopingPlan",
        r#"enrolmentId: "$E", triggerId: "T9", plan: "p""#,
        Class::Course,
    ),
    (
        "recordEnforcementAction",
        r#"enrolmentId: "$E", action: WARNING, occurredAt: "2099-01-01T00:00:00Z""#,
        Class::Compliance,
    ),
    ("completeEnrolment", r#"enrolmentId: "$E""#, Class::Course),
    (
        "withdrawEnrolment",
        r#"enrolmentId: "$E", reason: OTHER"#,
        Class::CourseOrCompliance,
    ),
    (
        "makeOrder",
        r#"subjectId: "$S", kind: FULL, endsOn: "2026-06-01", occurredAt: "2026-01-02T10:00:00Z", conditions: [{ conditionId: "C1", kind: PROHIBITION, category: NO_CONTACT, from: "2026-01-02" }]"#,
        Class::Orders,
    ),
    ("serveOrder", r#"orderId: "$O""#, Class::Orders),
    (
        "giveNotification",
        r#"orderId: "$O", kind: INITIAL"#,
        Class::Orders,
    ),
    (
        "varyOrder",
        r#"orderId: "$O", remove: ["C9"]"#,
        Class::Orders,
    ),
    (
        "renewOrder",
        r#"orderId: "$O", endsOn: "2027-01-01""#,
        Class::Orders,
    ),
    (
        "dischargeOrder",
        r#"orderId: "$O", occurredAt: "2025-12-01T00:00:00Z""#,
        Class::Orders,
    ),
    (
        "determineAppeal",
        r#"orderId: "$O", outcome: ALLOWED, occurredAt: "2025-12-01T00:00:00Z""#,
        Class::Orders,
    ),
    (
        "reportBreach",
        r#"orderId: "$O", conditionId: "C9", occurredOn: "2026-02-20""#,
        Class::Orders,
    ),
    (
        "assessBreach",
        r#"orderId: "$O", breachId: "B9", reasonableExcuse: false"#,
        Class::Orders,
    ),
    (
        "recordBreachOutcome",
        r#"orderId: "$O", breachId: "B9", decision: NFA, decidedBy: POLICE"#,
        Class::Orders,
    ),
];

fn ids(text: &str, which: &str) -> String {
    let (s, e, o) = match which {
        "own" => ("S-own", "E-own", "O-own"),
        "other" => ("S-other", "E-other", "O-other"),
        _ => ("S-none", "E-none", "O-none"),
    };
    text.replace("$S-own", encode(Kind::Subject, "S-own").as_str())
        .replace("$S-other", encode(Kind::Subject, "S-other").as_str())
        .replace("$E-own", encode(Kind::Enrolment, "E-own").as_str())
        .replace("$E-other", encode(Kind::Enrolment, "E-other").as_str())
        .replace("$O-own", encode(Kind::ProtectionOrder, "O-own").as_str())
        .replace(
            "$O-other",
            encode(Kind::ProtectionOrder, "O-other").as_str(),
        )
        .replace("$S", encode(Kind::Subject, s).as_str())
        .replace("$E", encode(Kind::Enrolment, e).as_str())
        .replace("$O", encode(Kind::ProtectionOrder, o).as_str())
}

fn code(v: &Value) -> &str {
    v["errors"][0]["extensions"]["code"].as_str().unwrap_or("")
}

/// A server holding the matrix's records (`SETUP`), its views caught up.
async fn matrix_server() -> TestServer {
    let server = TestServer::start(TestDb::new().await).await;
    let setup = server.graphql(&ids(SETUP, "own"), json!({})).await;
    assert!(problems(&setup).is_empty(), "{:?}", problems(&setup));
    server.views_caught_up().await;
    server
}

#[tokio::test]
async fn every_mutation_is_allowed_or_denied_by_role_and_caseload() {
    let server = matrix_server().await;

    let mut failures = Vec::new();
    for (role, user) in ROLES {
        let bearer = token(user, role);
        for (mutation, input, class) in MUTATIONS {
            for target in ["own", "other"] {
                let query = ids(
                    &format!("mutation {{ {mutation}(input: {{ {input} }}) {{ userErrors {{ code }} }} }}"),
                    target,
                );
                let response = server.graphql_as(&bearer, &query, json!({})).await;
                let expect = allowed(role, *class, target == "own");
                let denied = code(&response) == "FORBIDDEN";
                if expect == denied {
                    failures.push(format!(
                        "{role} {mutation} on {target}: expected allowed={expect}, got {response}"
                    ));
                }
                if denied {
                    // The same refusal for a record that does not exist at all.
                    let missing = ids(
                        &format!("mutation {{ {mutation}(input: {{ {input} }}) {{ userErrors {{ code }} }} }}"),
                        "none",
                    );
                    let other = server.graphql_as(&bearer, &missing, json!({})).await;
                    if other != response {
                        failures.push(format!("{role} {mutation}: denial differs for a missing record: {response} vs {other}"));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// What a role may read of a subject, an enrolment and an order, on and off its caseload.
fn may_read(role: Role, kind: &str, own: bool) -> bool {
    match (role, kind) {
        (Role::Admin, _) => true,
        (Role::Evaluator, _) => false,
        (Role::PoliceSpoOfficer, "subject" | "order") => true,
        (Role::PoliceSpoOfficer, _) => false,
        (Role::Therapist, "order") => false,
        (Role::Therapist | Role::ProbationOfficer, _) => own,
        _ => false,
    }
}

#[tokio::test]
async fn every_query_shows_only_the_callers_caseload() {
    let server = matrix_server().await;

    let mut failures = Vec::new();
    let reads = [
        ("subject", "{ x: subject(id: \"$S\") { ref } }"),
        ("subject", "{ x: node(id: \"$S\") { id } }"),
        ("subject", "{ x: compliance(subjectId: \"$S\") { rag } }"),
        ("enrolment", "{ x: enrolment(id: \"$E\") { ref } }"),
        ("enrolment", "{ x: node(id: \"$E\") { id } }"),
        ("order", "{ x: protectionOrder(id: \"$O\") { ref } }"),
        ("order", "{ x: node(id: \"$O\") { id } }"),
    ];
    for (role, user) in ROLES {
        let bearer = token(user, role);
        for (kind, query) in reads {
            for target in ["own", "other"] {
                let response = server
                    .graphql_as(&bearer, &ids(query, target), json!({}))
                    .await;
                let shown = response["data"]["x"].is_object();
                let expect = may_read(role, kind, target == "own");
                if shown != expect {
                    failures.push(format!(
                        "{role} {query} on {target}: expected {expect}, got {response}"
                    ));
                }
                if !shown {
                    let missing = server
                        .graphql_as(&bearer, &ids(query, "none"), json!({}))
                        .await;
                    if missing != response {
                        failures.push(format!("{role} {query}: denial differs for a missing record: {response} vs {missing}"));
                    }
                }
            }
        }
        // Lists and the caseload hold exactly what the caller may read.
        let lists = server
            .graphql_as(
                &bearer,
                "{ subjects(first: 100) { edges { node { ref } } }
                   enrolments(first: 100) { edges { node { ref } } }
                   protectionOrders(first: 100) { edges { node { ref } } }
                   caseload(first: 100) { edges { node { subject { ref } } } } }",
                json!({}),
            )
            .await;
        if role == Role::Evaluator {
            if code(&lists) != "FORBIDDEN" {
                failures.push(format!("evaluator lists: {lists}"));
            }
        } else {
            let refs = |path: &str, field: &str| -> Vec<String> {
                lists["data"][path]["edges"]
                    .as_array()
                    .map(|edges| {
                        edges
                            .iter()
                            .filter_map(|e| {
                                let node = &e["node"];
                                node[field]
                                    .as_str()
                                    .or_else(|| node["subject"]["ref"].as_str())
                                    .map(String::from)
                            })
                            .collect()
                    })
                    .unwrap_or_default()
            };
            for (path, kind, own, other) in [
                ("subjects", "subject", "S-own", "S-other"),
                ("caseload", "subject", "S-own", "S-other"),
                ("enrolments", "enrolment", "E-own", "E-other"),
                ("protectionOrders", "order", "O-own", "O-other"),
            ] {
                let listed = refs(path, "ref");
                for (record, is_own) in [(own, true), (other, false)] {
                    if listed.contains(&record.to_string()) != may_read(role, kind, is_own) {
                        failures.push(format!("{role} {path}: {record} listed={listed:?}"));
                    }
                }
            }
        }
        // Reference data is for everyone signed in; a subject access export only for admins,
        // and it is refused the same way for a subject that does not exist.
        let programme = server
            .graphql_as(
                &bearer,
                "{ programme(code: \"COBI\", version: \"2022\") { plannedSessions } }",
                json!({}),
            )
            .await;
        if programme["data"]["programme"]["plannedSessions"] != 12 {
            failures.push(format!("{role} programme: {programme}"));
        }
        for target in ["own", "other"] {
            let export = server
                .graphql_as(
                    &bearer,
                    &ids("{ exportSubject(subjectId: \"$S\") }", target),
                    json!({}),
                )
                .await;
            if (code(&export) == "FORBIDDEN") == (role == Role::Admin) {
                failures.push(format!("{role} exportSubject {target}: {export}"));
            }
            if role != Role::Admin {
                let missing = server
                    .graphql_as(
                        &bearer,
                        &ids("{ exportSubject(subjectId: \"$S\") }", "none"),
                        json!({}),
                    )
                    .await;
                if missing != export {
                    failures.push(format!(
                        "{role} exportSubject: denial differs for a missing subject"
                    ));
                }
            }
        }
        // Outcome statistics: evaluators and admins; the audit: admins.
        let outcomes = server
            .graphql_as(&bearer, "{ outcomes { position } }", json!({}))
            .await;
        let may = matches!(role, Role::Evaluator | Role::Admin);
        if (code(&outcomes) == "FORBIDDEN") == may {
            failures.push(format!("{role} outcomes: {outcomes}"));
        }
        let audit = server
            .graphql_as(
                &bearer,
                "{ auditLog(first: 5) { edges { node { operation } } } }",
                json!({}),
            )
            .await;
        if (code(&audit) == "FORBIDDEN") == (role == Role::Admin) {
            failures.push(format!("{role} auditLog: {audit}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn clinical_text_is_shown_to_the_therapist_withheld_from_others_and_opened_by_break_glass() {
    let server = matrix_server().await;
    let query = ids(
        "{ enrolment(id: \"$E-own\") { history { eventType data } } }",
        "own",
    );
    let history = |response: &Value| response["data"]["enrolment"]["history"].to_string();

    let therapist = server
        .graphql_as(&token("bcp-1", Role::Therapist), &query, json!({}))
        .await;
    assert!(
        history(&therapist).contains("CLINICAL-CHAIN-TEXT"),
        "{therapist}"
    );
    assert!(history(&therapist).contains("ESCALATED-CONCERN-TEXT"));

    let probation = server
        .graphql_as(&token("om-1", Role::ProbationOfficer), &query, json!({}))
        .await;
    assert!(
        !history(&probation).contains("CLINICAL-CHAIN-TEXT"),
        "{probation}"
    );
    assert!(history(&probation).contains("[withheld]"));
    assert!(
        history(&probation).contains("ESCALATED-CONCERN-TEXT"),
        "a concern escalated to probation is theirs to read"
    );

    let admin = token("ad-1", Role::Admin);
    let plain = server.graphql_as(&admin, &query, json!({})).await;
    assert!(!history(&plain).contains("CLINICAL-CHAIN-TEXT"), "{plain}");
    let opened: Value = server
        .client
        .post(server.url("/graphql"))
        .bearer_auth(&admin)
        .header("x-purpose", "complaint investigation")
        .header("x-break-glass-reason", "ombudsman request 2026/118")
        .json(&json!({"query": query}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(history(&opened).contains("CLINICAL-CHAIN-TEXT"), "{opened}");
    let reason: Option<String> = desist_store::db::query_scalar(
        "SELECT break_glass_reason FROM audit_log WHERE break_glass_reason IS NOT NULL",
    )
    .fetch_optional(server.db.store.db())
    .await
    .unwrap();
    assert_eq!(reason.as_deref(), Some("ombudsman request 2026/118"));
}

#[tokio::test]
async fn compliance_alerts_are_for_the_people_who_act_on_them() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message;

    let server = TestServer::start(TestDb::new().await).await;
    for (role, user) in ROLES {
        let mut request = format!("ws://{}/graphql/ws", server.addr)
            .into_client_request()
            .unwrap();
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        let init = json!({"type": "connection_init",
            "payload": {"authorization": format!("Bearer {}", token(user, role))}});
        socket
            .send(Message::Text(init.to_string().into()))
            .await
            .unwrap();
        let _ack = socket.next().await;
        let subscribe = json!({"id": "1", "type": "subscribe",
            "payload": {"query": "subscription { complianceAlerts { reason } }"}});
        socket
            .send(Message::Text(subscribe.to_string().into()))
            .await
            .unwrap();
        let reply = tokio::time::timeout(std::time::Duration::from_secs(2), socket.next()).await;
        let refused = matches!(&reply, Ok(Some(Ok(Message::Text(t)))) if t.contains("FORBIDDEN") || t.contains("not allowed"));
        let may = matches!(
            role,
            Role::ProbationOfficer | Role::PoliceSpoOfficer | Role::Admin
        );
        assert_eq!(refused, !may, "{role}: {reply:?}");
    }
}

#[tokio::test]
async fn a_caseload_asked_about_one_record_answers_as_the_whole_caseload_does() {
    use desist_api::auth::policy::{Caseload, Record};
    let server = matrix_server().await;

    let db = server.db.store.db();
    let records = [
        Record::Subject("S-own"),
        Record::Subject("S-other"),
        Record::Subject("S-missing"),
        Record::Enrolment("E-own"),
        Record::Enrolment("E-other"),
        Record::Enrolment("E-missing"),
        Record::Order("O-own"),
        Record::Order("O-other"),
        Record::Order("O-missing"),
    ];
    let mut reached = 0;
    for (role, user) in ROLES.into_iter().chain([(Role::ProbationOfficer, "om-2")]) {
        let whole = Caseload::of(role, user, db).await.unwrap();
        for record in records {
            let one = Caseload::has(role, user, record, db).await.unwrap();
            assert_eq!(one, whole.holds(record), "{role:?} {user} {record:?}");
            reached += usize::from(one);
        }
    }
    // Not an agreement on "nothing": the caseloads hold records, and not all of them.
    assert!(reached > 0 && reached < 6 * records.len(), "{reached}");
}
