//! Every mutation's rejections come back as `userErrors` naming the field and the rule, and
//! nothing is recorded.

mod common;

use common::server::{problems, TestServer};
use common::{count_events, TestDb};
use desist_api::graphql::ids::{encode, Kind};
use serde_json::json;

const SETUP: &str = r#"mutation {
  defineProgramme(input: { code: "COBI", version: "2022", plannedSessions: 12,
      minAttendedForCompletion: 10, occurredAt: "2026-01-01T09:00:00Z" }) { userErrors { code } }
  registerSubject(input: { ref: "S1", birthYear: 1986, sex: MALE, area: "Kent",
      occurredAt: "2026-01-02T09:00:00Z" }) { userErrors { code } }
  refer(input: { ref: "E1", subjectId: "$S1", programmeCode: "COBI", programmeVersion: "2022",
      route: VOLUNTARY, occurredAt: "2026-01-05T09:00:00Z" }) { userErrors { code } }
  assessSuitability(input: { enrolmentId: "$E1", suitable: true,
      occurredAt: "2026-01-07T09:00:00Z" }) { userErrors { code } }
  allocate(input: { enrolmentId: "$E1", practitioner: "bcp-01",
      occurredAt: "2026-01-09T09:00:00Z" }) { userErrors { code } }
  startEnrolment(input: { enrolmentId: "$E1", occurredAt: "2026-01-12T08:00:00Z" }) {
      userErrors { code } }
  s1: scheduleSession(input: { enrolmentId: "$E1", sessionId: "s1", number: 1,
      scheduledAt: "2026-01-12T10:00:00Z", mode: IN_PERSON, occurredAt: "2026-01-12T09:00:00Z" }) {
      userErrors { code } }
  recordAttendance(input: { enrolmentId: "$E1", sessionId: "s1", attendance: ATTENDED,
      occurredAt: "2026-01-12T10:00:00Z" }) { userErrors { code } }
  s2: scheduleSession(input: { enrolmentId: "$E1", sessionId: "s2", number: 2,
      scheduledAt: "2026-01-19T10:00:00Z", mode: VIDEO, occurredAt: "2026-01-12T11:00:00Z" }) {
      userErrors { code } }
  makeOrder(input: { ref: "O1", subjectId: "$S1", kind: FULL, endsOn: "2028-01-02",
      occurredAt: "2026-01-02T10:00:00Z", conditions: [
        { conditionId: "C1", kind: PROHIBITION, category: NO_CONTACT, from: "2026-01-02" },
        { conditionId: "C2", kind: PROHIBITION, category: EXCLUSION_ZONE, from: "2026-03-01" }
      ] }) { userErrors { code } }
  serveOrder(input: { orderId: "$O1", occurredAt: "2026-01-03T10:00:00Z" }) { userErrors { code } }
  giveNotification(input: { orderId: "$O1", kind: INITIAL, occurredAt: "2026-01-04T10:00:00Z" }) {
      userErrors { code } }
  reportBreach(input: { orderId: "$O1", breachId: "B1", conditionId: "C1",
      occurredOn: "2026-02-14", occurredAt: "2026-02-15T10:00:00Z" }) { userErrors { code } }
}"#;

/// (mutation, its input, the field and code expected back)
const CASES: &[(&str, &str, &str, &str)] = &[
    (
        "defineProgramme",
        r#"code: "COBI", version: "2023", plannedSessions: 12, minAttendedForCompletion: 13"#,
        "minAttendedForCompletion",
        "INVALID_VALUE",
    ),
    (
        "registerSubject",
        r#"ref: "S2", birthYear: 2024, sex: FEMALE, area: "Kent""#,
        "birthYear",
        "INVALID_VALUE",
    ),
    (
        "correctDemographics",
        r#"subjectId: "$S1", demographics: { birthYear: 1986, sex: MALE, area: "Kent" }, reason: "checked""#,
        "demographics",
        "CORRECTION_CHANGES_NOTHING",
    ),
    (
        "recordIdentity",
        r#"subjectId: "$S1", names: [" "]"#,
        "names",
        "INVALID_VALUE",
    ),
    (
        "eraseSubject",
        r#"subjectId: "$S1", reason: " ""#,
        "reason",
        "INVALID_VALUE",
    ),
    (
        "allocateOffenderManager",
        r#"subjectId: "$S1", officer: " ""#,
        "officer",
        "INVALID_VALUE",
    ),
    (
        "recordRiskAssessment",
        r#"subjectId: "$S1", toolVersion: "2", assessor: "", srp: { stalkerType: REJECTED, violence: LOW, persistence: LOW, recurrence: LOW, psychosocialDamage: LOW }"#,
        "assessor",
        "INVALID_VALUE",
    ),
    (
        "recordOffence",
        r#"subjectId: "$S404", category: VIOLENCE, occurredAt: "2026-03-01T00:00:00Z""#,
        "subjectId",
        "NOT_RECORDED",
    ),
    (
        "recordOffenceProven",
        r#"subjectId: "$S1", offenceId: "F9", disposal: CAUTION"#,
        "offenceId",
        "NOT_RECORDED",
    ),
    (
        "refer",
        r#"ref: "E2", subjectId: "$S404", programmeCode: "COBI", programmeVersion: "2022", route: VOLUNTARY"#,
        "subjectId",
        "NOT_RECORDED",
    ),
    (
        "assessSuitability",
        r#"enrolmentId: "$E1", suitable: true"#,
        "enrolmentId",
        "ENROLMENT_STATUS",
    ),
    (
        "allocate",
        r#"enrolmentId: "$E1", practitioner: "bcp-02""#,
        "enrolmentId",
        "ENROLMENT_STATUS",
    ),
    (
        "startEnrolment",
        r#"enrolmentId: "$E1""#,
        "enrolmentId",
        "ENROLMENT_STATUS",
    ),
    (
        "pauseEnrolment",
        r#"enrolmentId: "$E1", occurredAt: "2099-01-01T00:00:00Z""#,
        "occurredAt",
        "IN_FUTURE",
    ),
    (
        "resumeEnrolment",
        r#"enrolmentId: "$E1""#,
        "enrolmentId",
        "ENROLMENT_STATUS",
    ),
    (
        "scheduleSession",
        r#"enrolmentId: "$E1", number: 13, scheduledAt: "2026-04-01T10:00:00Z", mode: PHONE"#,
        "number",
        "SESSION_NUMBER_OUT_OF_RANGE",
    ),
    (
        "rescheduleSession",
        r#"enrolmentId: "$E1", sessionId: "s1", scheduledAt: "2026-04-01T10:00:00Z""#,
        "sessionId",
        "ATTENDANCE_ALREADY_RECORDED",
    ),
    (
        "cancelSession",
        r#"enrolmentId: "$E1", sessionId: "s2", by: PROVIDER, reason: """#,
        "reason",
        "INVALID_VALUE",
    ),
    (
        "recordAttendance",
        r#"enrolmentId: "$E1", sessionId: "s9", attendance: LATE"#,
        "sessionId",
        "UNKNOWN_SESSION",
    ),
    (
        "resolveAbsence",
        r#"enrolmentId: "$E1", sessionId: "s1", acceptable: false"#,
        "sessionId",
        "NOT_AN_ABSENCE",
    ),
    (
        "correctAttendance",
        r#"enrolmentId: "$E1", sessionId: "s1", attendance: ATTENDED, reason: "re-keyed""#,
        "attendance",
        "CORRECTION_CHANGES_NOTHING",
    ),
    (
        "recordSessionContent",
        r#"enrolmentId: "$E1", sessionId: "s1", engagement: 9"#,
        "engagement",
        "INVALID_VALUE",
    ),
    (
        "raiseConcern",
        r#"enrolmentId: "$E1", sessionId: "s1", kind: RISK, text: "", notifyProbation: true"#,
        "text",
        "INVALID_VALUE",
    ),
    (
        "acknowledgeConcern",
        r#"enrolmentId: "$E1", concernId: "K9""#,
        "concernId",
        "NOT_RECORDED",
    ),
    (
        "recordChainAnalysis",
        r#"enrolmentId: "$E1", vulnerability: "v", promptingEvent: "p", triggerCategory: OTHER, thoughts: "t", emotions: "e", urges: "u", action: "", consequences: "c", alternativeSkill: MINDFULNESS"#,
        "action",
        "INVALID_VALUE",
    ),
    (
        "identifyTrigger",
        r#"enrolmentId: "$E1", category: JEALOUSY, description: """#,
        "description",
        "INVALID_VALUE",
    ),
    (
        "recordCopingPlan",
        r#"enrolmentId: "$E1", triggerId: "T9", plan: "walk""#,
        "triggerId",
        "NOT_RECORDED",
    ),
    (
        "recordEnforcementAction",
        r#"enrolmentId: "$E1", action: WARNING, occurredAt: "2099-01-01T00:00:00Z""#,
        "occurredAt",
        "IN_FUTURE",
    ),
    (
        "completeEnrolment",
        r#"enrolmentId: "$E1""#,
        "enrolmentId",
        "TOO_FEW_SESSIONS_TO_COMPLETE",
    ),
    (
        "withdrawEnrolment",
        r#"enrolmentId: "$E1", reason: OTHER"#,
        "reasonText",
        "INVALID_VALUE",
    ),
    (
        "makeOrder",
        r#"ref: "O2", subjectId: "$S1", kind: FULL, endsOn: "2026-06-01", occurredAt: "2026-01-02T10:00:00Z", conditions: [{ conditionId: "C1", kind: PROHIBITION, category: NO_CONTACT, from: "2026-01-02" }]"#,
        "endsOn",
        "FULL_ORDER_TOO_SHORT",
    ),
    (
        "serveOrder",
        r#"orderId: "$O1""#,
        "orderId",
        "ALREADY_RECORDED",
    ),
    (
        "giveNotification",
        r#"orderId: "$O1", kind: INITIAL"#,
        "kind",
        "INITIAL_NOTIFICATION_ALREADY_GIVEN",
    ),
    (
        "varyOrder",
        r#"orderId: "$O1", remove: ["C9"]"#,
        "conditionId",
        "NOT_RECORDED",
    ),
    (
        "renewOrder",
        r#"orderId: "$O1", endsOn: "2027-01-01""#,
        "endsOn",
        "FULL_ORDER_TOO_SHORT",
    ),
    (
        "dischargeOrder",
        r#"orderId: "$O1", occurredAt: "2025-12-01T00:00:00Z""#,
        "occurredAt",
        "ORDER_NOT_IN_FORCE",
    ),
    (
        "determineAppeal",
        r#"orderId: "$O1", outcome: ALLOWED, occurredAt: "2025-12-01T00:00:00Z""#,
        "occurredAt",
        "ORDER_NOT_IN_FORCE",
    ),
    (
        "reportBreach",
        r#"orderId: "$O1", conditionId: "C2", occurredOn: "2026-02-20", occurredAt: "2026-02-21T00:00:00Z""#,
        "conditionId",
        "CONDITION_NOT_IN_FORCE",
    ),
    (
        "assessBreach",
        r#"orderId: "$O1", breachId: "B9", reasonableExcuse: false"#,
        "breachId",
        "NOT_RECORDED",
    ),
    (
        "recordBreachOutcome",
        r#"orderId: "$O1", breachId: "B1", decision: NFA, decidedBy: POLICE, occurredAt: "2026-02-10T00:00:00Z""#,
        "occurredAt",
        "OUTCOME_BEFORE_REPORT",
    ),
];

fn with_ids(text: &str) -> String {
    text.replace("$S1", encode(Kind::Subject, "S1").as_str())
        .replace("$S404", encode(Kind::Subject, "S404").as_str())
        .replace("$E1", encode(Kind::Enrolment, "E1").as_str())
        .replace("$O1", encode(Kind::ProtectionOrder, "O1").as_str())
}

#[tokio::test]
async fn every_mutation_refuses_bad_input_with_the_field_and_rule_and_records_nothing() {
    let server = TestServer::start(TestDb::new().await).await;
    let setup = server.graphql(&with_ids(SETUP), json!({})).await;
    assert!(problems(&setup).is_empty(), "setup: {:?}", problems(&setup));

    let mutations: Vec<String> = desist_api::graphql::sdl()
        .split("type MutationRoot {")
        .nth(1)
        .and_then(|rest| rest.split('}').next())
        .map(|body| {
            body.lines()
                .map(str::trim)
                .filter(|l| l.contains("(input:"))
                .filter_map(|l| l.split('(').next().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(mutations.len(), 40, "{mutations:?}");
    let covered: Vec<&str> = CASES.iter().map(|c| c.0).collect();
    for mutation in &mutations {
        assert!(
            covered.contains(&mutation.as_str()),
            "no rejection case for {mutation}"
        );
    }

    let mut failures = Vec::new();
    for (mutation, input, field, code) in CASES {
        let before = count_events(&server.db.store).await;
        let query = with_ids(&format!(
            "mutation {{ {mutation}(input: {{ {input} }}) {{ userErrors {{ field message code }} }} }}"
        ));
        let response = server.graphql(&query, json!({})).await;
        let errors = &response["data"][mutation]["userErrors"];
        let first = &errors[0];
        if first["field"] != *field || first["code"] != *code {
            failures.push(format!(
                "{mutation}: expected {field}/{code}, got {response}"
            ));
        }
        if first["message"].as_str().is_none_or(str::is_empty) {
            failures.push(format!("{mutation}: no message"));
        }
        if count_events(&server.db.store).await != before {
            failures.push(format!("{mutation}: something was recorded"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
