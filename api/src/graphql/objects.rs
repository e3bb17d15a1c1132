//! The case-level object types: what therapists, probation officers and police see.

use std::sync::Arc;

use async_graphql::dataloader::DataLoader;
use async_graphql::{ComplexObject, Context, Interface, Object, Result, SimpleObject, ID};
use chrono::{DateTime, NaiveDate, Utc};
use desist_domain::enrolment::EnrolmentStatus as DomainStatus;
use desist_domain::enrolment::ReferralRoute as DomainRoute;
use desist_domain::programme::SkillsModule as DomainModule;
use desist_domain::protection_order::OrderKind as DomainOrderKind;
use desist_domain::subject::{
    Rating as DomainRating, Sex as DomainSex, StalkerType as DomainStalkerType,
};

use super::context::{AppContext, Caller};
use super::enums::*;
use super::errors::{error, internal, FORBIDDEN};
use super::ids::{encode, Kind};
use super::loaders::{
    EnrolmentsOfSubject, OrderLoader, OrderRow, OrdersOfSubject, ProgressLoader, ProgressRow,
    SubjectLoader, SubjectRow,
};
use crate::auth::policy::{self, Caseload, Record};

/// Anything with a global id.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID"))]
pub enum Node {
    Programme(Programme),
    Subject(Subject),
    Enrolment(Enrolment),
    ProtectionOrder(ProtectionOrder),
}

pub fn app<'a>(ctx: &Context<'a>) -> &'a Arc<AppContext> {
    ctx.data_unchecked::<Arc<AppContext>>()
}

pub fn caller<'a>(ctx: &Context<'a>) -> &'a Caller {
    ctx.data_unchecked::<Caller>()
}

/// Maps a storage failure to an internal error carrying the request's correlation id.
pub fn internal_error(ctx: &Context<'_>, e: impl std::fmt::Display) -> async_graphql::Error {
    internal(&caller(ctx).correlation_id, &e)
}

pub fn forbidden() -> async_graphql::Error {
    error(FORBIDDEN, "not allowed for your role or caseload")
}

/// The caller's caseload; case-level reads are refused outright for roles without one.
pub async fn caseload<'a>(ctx: &Context<'a>) -> Result<&'a Caseload> {
    case_reader(ctx)?
        .caseload(app(ctx).store.db())
        .await
        .map_err(|e| internal_error(ctx, e))
}

/// Whether the caller's caseload holds `record` (see [`Caller::reaches`]).
pub async fn reaches(ctx: &Context<'_>, record: Record<'_>) -> Result<bool> {
    case_reader(ctx)?
        .reaches(app(ctx).store.db(), record)
        .await
        .map_err(|e| internal_error(ctx, e))
}

/// The caller, if their role reads cases at all.
fn case_reader<'a>(ctx: &Context<'a>) -> Result<&'a Caller> {
    let caller = caller(ctx);
    if policy::may_read_cases(caller.actor.role) {
        Ok(caller)
    } else {
        Err(forbidden())
    }
}

// --- programme --------------------------------------------------------------------------------

#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct Programme {
    #[graphql(skip)]
    pub programme_id: String,
    pub code: String,
    pub version: String,
    pub planned_sessions: i32,
    pub min_attended_for_completion: i32,
    pub modules: Vec<SkillsModule>,
}

#[ComplexObject]
impl Programme {
    async fn id(&self) -> ID {
        encode(Kind::Programme, &self.programme_id)
    }
}

pub async fn load_programme(ctx: &Context<'_>, programme_id: &str) -> Result<Option<Programme>> {
    let programme = app(ctx)
        .write
        .programmes
        .load(programme_id)
        .await
        .map_err(|e| internal_error(ctx, e))?;
    Ok(programme.terms.map(|t| Programme {
        programme_id: programme_id.to_string(),
        code: t.code,
        version: t.version,
        planned_sessions: i32::from(t.planned_sessions),
        min_attended_for_completion: i32::from(t.min_attended_for_completion),
        modules: programme.modules.into_iter().map(Into::into).collect(),
    }))
}

// --- subject ----------------------------------------------------------------------------------

#[derive(Clone)]
pub struct Subject(pub SubjectRow);

#[Object]
impl Subject {
    async fn id(&self) -> ID {
        encode(Kind::Subject, &self.0.subject_id)
    }

    /// The pseudonymous reference.
    #[graphql(name = "ref")]
    async fn reference(&self) -> &str {
        &self.0.subject_id
    }

    async fn birth_year(&self) -> i32 {
        self.0.birth_year
    }

    async fn sex(&self) -> Option<Sex> {
        from_name::<Sex, DomainSex>(&self.0.sex)
    }

    async fn area(&self) -> &str {
        &self.0.area
    }

    async fn enrolments(&self, ctx: &Context<'_>) -> Result<Vec<Enrolment>> {
        let rows = ctx
            .data_unchecked::<DataLoader<EnrolmentsOfSubject>>()
            .load_one(self.0.subject_id.clone())
            .await
            .map_err(|e| internal_error(ctx, e))?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(Enrolment)
            .collect())
    }

    async fn orders(&self, ctx: &Context<'_>) -> Result<Vec<ProtectionOrder>> {
        let rows = ctx
            .data_unchecked::<DataLoader<OrdersOfSubject>>()
            .load_one(self.0.subject_id.clone())
            .await
            .map_err(|e| internal_error(ctx, e))?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(ProtectionOrder)
            .collect())
    }

    /// Compliance as of a date (default today).
    async fn compliance(&self, ctx: &Context<'_>, as_of: Option<NaiveDate>) -> Result<Compliance> {
        super::queries::compliance_of(ctx, &self.0.subject_id, as_of).await
    }

    /// Names, date of birth, addresses and police identifiers, from the identity vault (never
    /// from events). `erased` once the subject's key was destroyed.
    async fn identity(&self, ctx: &Context<'_>) -> Result<Option<super::privacy::Identity>> {
        super::privacy::identity_of(ctx, &self.0.subject_id).await
    }

    /// Every fact recorded about the subject, in order.
    async fn history(&self, ctx: &Context<'_>) -> Result<Vec<HistoryEntry>> {
        history(
            ctx,
            "Subject",
            &self.0.subject_id,
            &self.0.subject_id,
            Text::Shown,
        )
        .await
    }
}

/// One record through its loader, if the caller's caseload holds it, with the read audited.
/// A record off the caseload looks exactly like one that does not exist.
async fn load_visible<L>(
    ctx: &Context<'_>,
    record: Record<'_>,
    operation: &'static str,
    subject_of: fn(&L::Value) -> &str,
) -> Result<Option<L::Value>>
where
    L: async_graphql::dataloader::Loader<String, Error = Arc<sqlx::Error>>,
    L::Value: Clone,
{
    if !reaches(ctx, record).await? {
        return Ok(None);
    }
    let row = ctx
        .data_unchecked::<DataLoader<L>>()
        .load_one(record.id().to_string())
        .await
        .map_err(|e| internal_error(ctx, e))?;
    if let Some(row) = &row {
        caller(ctx).audit(operation, Some(subject_of(row)));
    }
    Ok(row)
}

/// A subject's row read already (with a caseload's statuses), shown as [`load_subject`] shows
/// a loaded one: only if the caller's caseload holds it, with the read audited.
async fn known_subject(ctx: &Context<'_>, row: &SubjectRow) -> Result<Option<Subject>> {
    if !reaches(ctx, Record::Subject(&row.subject_id)).await? {
        return Ok(None);
    }
    caller(ctx).audit("subject", Some(&row.subject_id));
    Ok(Some(Subject(row.clone())))
}

pub async fn load_subject(ctx: &Context<'_>, subject_id: &str) -> Result<Option<Subject>> {
    let row = load_visible::<SubjectLoader>(ctx, Record::Subject(subject_id), "subject", |r| {
        &r.subject_id
    })
    .await?;
    Ok(row.map(Subject))
}

// --- enrolment --------------------------------------------------------------------------------

#[derive(Clone)]
pub struct Enrolment(pub ProgressRow);

#[Object]
impl Enrolment {
    async fn id(&self) -> ID {
        encode(Kind::Enrolment, &self.0.enrolment_id)
    }

    #[graphql(name = "ref")]
    async fn reference(&self) -> &str {
        &self.0.enrolment_id
    }

    async fn subject(&self, ctx: &Context<'_>) -> Result<Option<Subject>> {
        load_subject(ctx, &self.0.subject_id).await
    }

    /// `CODE/VERSION`.
    async fn programme(&self) -> &str {
        &self.0.programme
    }

    async fn route(&self) -> Option<ReferralRoute> {
        from_name::<ReferralRoute, DomainRoute>(&self.0.route)
    }

    async fn status(&self) -> Option<EnrolmentStatus> {
        from_name::<EnrolmentStatus, DomainStatus>(&self.0.status)
    }

    async fn practitioner(&self) -> Option<&str> {
        self.0.practitioner.as_deref()
    }

    async fn referred_on(&self) -> NaiveDate {
        self.0.referred_on
    }

    async fn started_on(&self) -> Option<NaiveDate> {
        self.0.started_on
    }

    async fn ended_on(&self) -> Option<NaiveDate> {
        self.0.ended_on
    }

    async fn progress(&self) -> Progress {
        Progress(self.0.clone())
    }

    /// Every fact recorded about the course: who recorded what, when, and when it happened.
    async fn history(&self, ctx: &Context<'_>) -> Result<Vec<HistoryEntry>> {
        let caller = caller(ctx);
        let own = caller.actor.role == desist_domain::Role::Therapist
            || caller.actor.role == desist_domain::Role::ProbationOfficer;
        // Reaching this object already proved it is on the caller's caseload.
        let text =
            if policy::may_read_clinical_text(caller.actor.role, own, caller.break_glass.is_some())
            {
                Text::Shown
            } else if policy::may_read_escalated_concerns(caller.actor.role, own) {
                Text::EscalatedConcernsOnly
            } else {
                Text::Withheld
            };
        history(
            ctx,
            "Enrolment",
            &self.0.enrolment_id,
            &self.0.subject_id,
            text,
        )
        .await
    }
}

pub async fn load_enrolment(ctx: &Context<'_>, enrolment_id: &str) -> Result<Option<Enrolment>> {
    let row =
        load_visible::<ProgressLoader>(ctx, Record::Enrolment(enrolment_id), "enrolment", |r| {
            &r.subject_id
        })
        .await?;
    Ok(row.map(Enrolment))
}

/// Where a course stands now.
pub struct Progress(pub ProgressRow);

#[derive(SimpleObject)]
pub struct Absences {
    pub unacceptable: i32,
    pub acceptable: i32,
    pub provisional: i32,
}

#[derive(SimpleObject)]
pub struct SrpRatings {
    pub assessed_on: NaiveDate,
    pub stalker_type: Option<StalkerType>,
    pub violence: Option<Rating>,
    pub persistence: Option<Rating>,
    pub recurrence: Option<Rating>,
    pub psychosocial_damage: Option<Rating>,
}

#[Object]
impl Progress {
    async fn planned_sessions(&self) -> i32 {
        self.0.planned_sessions
    }

    async fn min_attended_for_completion(&self) -> i32 {
        self.0.min_attended
    }

    /// Distinct session numbers delivered (attended or late).
    async fn sessions_attended(&self) -> i32 {
        self.0.sessions_attended
    }

    /// Sessions held that were attended, late, sent home or absent.
    async fn sessions_due(&self) -> i32 {
        self.0.sessions_due
    }

    async fn attendance_rate(&self) -> Option<f64> {
        self.0.attendance_rate
    }

    async fn absences(&self) -> Absences {
        Absences {
            unacceptable: self.0.absences_unacceptable,
            acceptable: self.0.absences_acceptable,
            provisional: self.0.absences_provisional,
        }
    }

    async fn modules_covered(&self) -> Vec<SkillsModule> {
        self.0
            .modules_covered
            .split(',')
            .filter_map(from_name::<SkillsModule, DomainModule>)
            .collect()
    }

    async fn triggers(&self) -> i32 {
        self.0.triggers
    }

    async fn triggers_with_coping_plan(&self) -> i32 {
        self.0.triggers_with_plan
    }

    async fn latest_engagement(&self) -> Option<i32> {
        self.0.latest_engagement
    }

    /// Start + one week per planned session + the days the course was paused.
    async fn expected_end_on(&self) -> Option<NaiveDate> {
        self.0.expected_end_on
    }

    async fn last_session_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_session_at
    }

    async fn next_session_at(&self) -> Option<DateTime<Utc>> {
        self.0.next_session_at
    }

    /// The subject's most recent SRP ratings (professional opinion).
    async fn latest_risk(&self, ctx: &Context<'_>) -> Result<Option<SrpRatings>> {
        type Row = (NaiveDate, String, String, String, String, String);
        let row: Option<Row> = desist_store::db::query_as(
            "SELECT assessed_on, stalker_type, violence, persistence, recurrence, psychosocial_damage
               FROM progress_risk WHERE subject_id = $1",
        )
        .bind(&self.0.subject_id)
        .fetch_optional(app(ctx).store.db().reader())
        .await
        .map_err(|e| internal_error(ctx, e))?;
        let rating = |r: &str| from_name::<Rating, DomainRating>(r);
        Ok(row.map(|(on, kind, v, p, r, d)| SrpRatings {
            assessed_on: on,
            stalker_type: from_name::<StalkerType, DomainStalkerType>(&kind),
            violence: rating(&v),
            persistence: rating(&p),
            recurrence: rating(&r),
            psychosocial_damage: rating(&d),
        }))
    }
}

// --- protection order -------------------------------------------------------------------------

#[derive(Clone)]
pub struct ProtectionOrder(pub OrderRow);

#[derive(SimpleObject)]
pub struct ConditionVersion {
    pub kind: Option<ConditionKind>,
    pub category: Option<ConditionCategory>,
    pub from: NaiveDate,
    pub until: Option<NaiveDate>,
}

#[derive(SimpleObject)]
pub struct Condition {
    pub condition_id: String,
    /// Each wording in force over time, oldest first.
    pub versions: Vec<ConditionVersion>,
}

#[derive(SimpleObject)]
pub struct Breach {
    pub breach_id: String,
    pub condition_id: String,
    pub occurred_on: NaiveDate,
    pub reported_on: NaiveDate,
    pub first_outcome_on: Option<NaiveDate>,
    pub decision: Option<BreachDecision>,
}

#[Object]
impl ProtectionOrder {
    async fn id(&self) -> ID {
        encode(Kind::ProtectionOrder, &self.0.order_id)
    }

    #[graphql(name = "ref")]
    async fn reference(&self) -> &str {
        &self.0.order_id
    }

    async fn subject(&self, ctx: &Context<'_>) -> Result<Option<Subject>> {
        load_subject(ctx, &self.0.subject_id).await
    }

    async fn kind(&self) -> Option<OrderKind> {
        from_name::<OrderKind, DomainOrderKind>(&self.0.kind)
    }

    async fn made_on(&self) -> NaiveDate {
        self.0.made_on
    }

    async fn ends_on(&self) -> Option<NaiveDate> {
        self.0.ends_on
    }

    async fn served_on(&self) -> Option<NaiveDate> {
        self.0.served_on
    }

    async fn discharged_on(&self) -> Option<NaiveDate> {
        self.0.discharged_on
    }

    async fn initial_notification_on(&self) -> Option<NaiveDate> {
        self.0.initial_notification_on
    }

    async fn conditions(&self, ctx: &Context<'_>) -> Result<Vec<Condition>> {
        let order = app(ctx)
            .write
            .orders
            .load(&self.0.order_id)
            .await
            .map_err(|e| internal_error(ctx, e))?;
        Ok(order
            .conditions
            .into_iter()
            .map(|(condition_id, history)| Condition {
                condition_id,
                versions: history
                    .versions
                    .into_iter()
                    .map(|v| ConditionVersion {
                        kind: Some(v.kind.into()),
                        category: Some(v.category.into()),
                        from: v.from,
                        until: v.until,
                    })
                    .collect(),
            })
            .collect())
    }

    async fn breaches(&self, ctx: &Context<'_>) -> Result<Vec<Breach>> {
        type Row = (
            String,
            String,
            NaiveDate,
            NaiveDate,
            Option<NaiveDate>,
            Option<String>,
        );
        let rows: Vec<Row> = desist_store::db::query_as(
            "SELECT breach_id, condition_id, occurred_on, reported_on, first_outcome_on, decision
               FROM compliance_breaches WHERE order_id = $1 ORDER BY reported_on, breach_id",
        )
        .bind(&self.0.order_id)
        .fetch_all(app(ctx).store.db().reader())
        .await
        .map_err(|e| internal_error(ctx, e))?;
        Ok(rows
            .into_iter()
            .map(
                |(
                    breach_id,
                    condition_id,
                    occurred_on,
                    reported_on,
                    first_outcome_on,
                    decision,
                )| {
                    Breach {
                        breach_id,
                        condition_id,
                        occurred_on,
                        reported_on,
                        first_outcome_on,
                        decision: decision.and_then(|d| {
                            from_name::<
                                BreachDecision,
                                desist_domain::protection_order::BreachDecision,
                            >(&d)
                        }),
                    }
                },
            )
            .collect())
    }

    async fn history(&self, ctx: &Context<'_>) -> Result<Vec<HistoryEntry>> {
        history(
            ctx,
            "ProtectionOrder",
            &self.0.order_id,
            &self.0.subject_id,
            Text::Shown,
        )
        .await
    }
}

pub async fn load_order(ctx: &Context<'_>, order_id: &str) -> Result<Option<ProtectionOrder>> {
    let row = load_visible::<OrderLoader>(ctx, Record::Order(order_id), "order", |r| &r.subject_id)
        .await?;
    Ok(row.map(ProtectionOrder))
}

// --- compliance and history -------------------------------------------------------------------

/// A subject's compliance as of a date.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct Compliance {
    #[graphql(skip)]
    pub subject_id: String,
    /// The person's row, when it was read with the status (a caseload).
    #[graphql(skip)]
    pub subject: Option<SubjectRow>,
    pub as_of: NaiveDate,
    pub rag: Rag,
    pub reasons: Vec<ComplianceReason>,
    pub failures_since_reset: i32,
    pub next_step: NextStep,
}

#[ComplexObject]
impl Compliance {
    async fn subject(&self, ctx: &Context<'_>) -> Result<Option<Subject>> {
        match &self.subject {
            Some(row) => known_subject(ctx, row).await,
            None => load_subject(ctx, &self.subject_id).await,
        }
    }
}

#[derive(SimpleObject)]
pub struct RecordedBy {
    pub actor_id: Option<String>,
    pub role: Option<String>,
    pub agency: Option<String>,
}

/// One recorded fact: what, when it happened, when and by whom it was recorded.
#[derive(SimpleObject)]
pub struct HistoryEntry {
    pub sequence: i32,
    pub event_type: String,
    pub event_version: String,
    pub occurred_at: Option<DateTime<Utc>>,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: RecordedBy,
    pub command_id: Option<String>,
    pub correlation_id: Option<String>,
    /// The event's fields.
    pub data: async_graphql::Json<serde_json::Value>,
}

/// An aggregate's events with their sealed text opened (or marked erased).
pub async fn opened_history(
    ctx: &Context<'_>,
    aggregate_type: &str,
    id: &str,
) -> Result<Vec<desist_store::feed::HistoryEntry>> {
    let store = &app(ctx).store;
    let mut entries = desist_store::feed::history(store.db().reader(), aggregate_type, id)
        .await
        .map_err(|e| internal_error(ctx, e))?;
    if let Some(vault) = store.vault() {
        let mut payloads: Vec<&mut serde_json::Value> =
            entries.iter_mut().map(|e| &mut e.payload).collect();
        vault
            .open_payloads(&mut payloads)
            .await
            .map_err(|e| internal_error(ctx, e))?;
    }
    Ok(entries)
}

/// How free text in an event's data is shown to this caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text {
    Shown,
    /// Only the text of concerns flagged "notify probation officer".
    EscalatedConcernsOnly,
    Withheld,
}

/// Shown in place of text the caller may not read.
pub const WITHHELD: &str = "[withheld]";

/// Shown in place of text whose subject was erased.
pub const ERASED: &str = "[erased]";

/// Replaces every sealed text in `value` by what this caller may see of it.
pub fn reveal(value: &mut serde_json::Value, show: bool) {
    match value {
        serde_json::Value::Object(map) if map.contains_key("scheme") => {
            let scheme = map
                .get("scheme")
                .and_then(|s| s.as_str())
                .unwrap_or_default();
            let text = match scheme {
                "erased" => serde_json::Value::String(ERASED.into()),
                "plain" if show => map.get("text").cloned().unwrap_or_default(),
                _ => serde_json::Value::String(WITHHELD.into()),
            };
            *value = text;
        }
        serde_json::Value::Object(map) => map.values_mut().for_each(|v| reveal(v, show)),
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| reveal(v, show)),
        _ => {}
    }
}

async fn history(
    ctx: &Context<'_>,
    aggregate_type: &str,
    id: &str,
    subject_id: &str,
    text: Text,
) -> Result<Vec<HistoryEntry>> {
    caller(ctx).audit("history", Some(subject_id));
    let entries = opened_history(ctx, aggregate_type, id).await?;
    let field =
        |v: &serde_json::Value, key: &str| v.get(key).and_then(|s| s.as_str()).map(String::from);
    Ok(entries
        .into_iter()
        .map(|e| {
            let mut body = e
                .payload
                .as_object()
                .and_then(|o| o.values().next())
                .cloned()
                .unwrap_or_default();
            let escalated = e.event_type == "ConcernRaised"
                && body.get("notify_probation") == Some(&serde_json::Value::Bool(true));
            let show = match text {
                Text::Shown => true,
                Text::EscalatedConcernsOnly => escalated,
                Text::Withheld => false,
            };
            reveal(&mut body, show);
            HistoryEntry {
                sequence: e.sequence as i32,
                occurred_at: field(&body, "occurred_at").and_then(|s| s.parse().ok()),
                recorded_by: RecordedBy {
                    actor_id: field(&e.metadata, "actor_id"),
                    role: field(&e.metadata, "actor_role"),
                    agency: field(&e.metadata, "agency"),
                },
                command_id: field(&e.metadata, "command_id"),
                correlation_id: field(&e.metadata, "correlation_id"),
                event_type: e.event_type,
                event_version: e.event_version,
                recorded_at: e.recorded_at,
                data: async_graphql::Json(body),
            }
        })
        .collect())
}
