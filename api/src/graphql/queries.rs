//! The query root.

use async_graphql::connection::{query, Connection, Edge, OpaqueCursor};
use async_graphql::{Context, Object, OutputType, Result, ID};
use chrono::NaiveDate;
use desist_projections::measures::compliance::assess;
use desist_projections::measures::outcomes::Split;
use desist_store::FeedPosition;

use super::enums::*;
use super::errors::{error, BAD_USER_INPUT};
use super::evaluator::{OutcomeReportView, OutcomeSplit};
use super::ids::{decode, decode_any, Kind};
use super::loaders::{
    OrderRow, ProgressRow, SubjectRow, ORDER_COLUMNS, PROGRESS_COLUMNS, SUBJECT_COLUMNS,
};
use super::objects::*;
use crate::auth::policy::{self, Record};

/// Pages hold at most this many items.
pub const MAX_PAGE: i32 = 100;

pub struct QueryRoot;

type Page<T> = Connection<OpaqueCursor<String>, T>;

/// Keyset pagination over `items` sorted by key. `first` or `last` is required.
async fn paginate<T: OutputType>(
    items: Vec<(String, T)>,
    after: Option<String>,
    before: Option<String>,
    first: Option<i32>,
    last: Option<i32>,
) -> Result<Page<T>> {
    if first.is_none() && last.is_none() {
        return Err(error(BAD_USER_INPUT, "first or last is required"));
    }
    query(
        after,
        before,
        first,
        last,
        |after: Option<OpaqueCursor<String>>, before: Option<OpaqueCursor<String>>, first, last| async move {
            let after_key = after.map(|a| a.0);
            let before_key = before.map(|b| b.0);
            // Items cut off by the cursors still count as pages before and after.
            let cut_before = after_key
                .as_ref()
                .is_some_and(|a| items.iter().any(|(k, _)| k <= a));
            let cut_after = before_key
                .as_ref()
                .is_some_and(|b| items.iter().any(|(k, _)| k >= b));
            let window: Vec<(String, T)> = items
                .into_iter()
                .filter(|(k, _)| after_key.as_ref().is_none_or(|a| k > a))
                .filter(|(k, _)| before_key.as_ref().is_none_or(|b| k < b))
                .collect();
            let total = window.len();
            let (start, end) = match (first, last) {
                (Some(first), _) => (0, first.min(total)),
                (None, Some(last)) => (total.saturating_sub(last), total),
                (None, None) => (0, total),
            };
            let mut connection = Connection::new(start > 0 || cut_before, end < total || cut_after);
            connection.edges.extend(
                window
                    .into_iter()
                    .skip(start)
                    .take(end - start)
                    .map(|(k, node)| Edge::new(OpaqueCursor(k), node)),
            );
            Ok::<_, async_graphql::Error>(connection)
        },
    )
    .await
}

/// A page of case records, each read noted for the audit under `operation` with its subject.
async fn audited_page<T: OutputType>(
    ctx: &Context<'_>,
    operation: &'static str,
    items: Vec<(String, T, String)>,
    after: Option<String>,
    before: Option<String>,
    first: Option<i32>,
    last: Option<i32>,
) -> Result<Page<T>> {
    let subjects: std::collections::HashMap<String, String> = items
        .iter()
        .map(|(key, _, subject)| (key.clone(), subject.clone()))
        .collect();
    let items = items
        .into_iter()
        .map(|(key, node, _)| (key, node))
        .collect();
    let page = paginate(items, after, before, first, last).await?;
    for edge in &page.edges {
        if let Some(subject) = subjects.get(&edge.cursor.0) {
            caller(ctx).audit(operation, Some(subject));
        }
    }
    Ok(page)
}

fn today(ctx: &Context<'_>) -> NaiveDate {
    app(ctx).services.now().date_naive()
}

pub async fn compliance_of(
    ctx: &Context<'_>,
    subject_id: &str,
    as_of: Option<NaiveDate>,
) -> Result<Compliance> {
    // Not on the caseload reads exactly like not there at all.
    if !reaches(ctx, Record::Subject(subject_id)).await? {
        return Err(error(super::errors::NOT_FOUND, "no such subject"));
    }
    let as_of = as_of.unwrap_or_else(|| today(ctx));
    let only = [subject_id.to_string()];
    let facts = desist_projections::queries::compliance_facts(app(ctx).store.db(), Some(&only))
        .await
        .map_err(|e| internal_error(ctx, e))?;
    let facts = facts
        .get(subject_id)
        .ok_or_else(|| error(super::errors::NOT_FOUND, "no such subject"))?;
    caller(ctx).audit("compliance", Some(subject_id));
    Ok(to_compliance(
        subject_id,
        as_of,
        &assess(facts, as_of),
        None,
    ))
}

fn to_compliance(
    subject_id: &str,
    as_of: NaiveDate,
    status: &desist_projections::measures::compliance::ComplianceStatus,
    subject: Option<SubjectRow>,
) -> Compliance {
    Compliance {
        subject_id: subject_id.to_string(),
        subject,
        as_of,
        rag: status.rag.into(),
        reasons: status.reasons.iter().map(|r| (*r).into()).collect(),
        failures_since_reset: status.failures_since_reset as i32,
        next_step: status.next_step.into(),
    }
}

fn parse_pin(pin: &str) -> Result<FeedPosition> {
    pin.split_once(':')
        .and_then(|(tx, pos)| {
            Some(FeedPosition {
                tx: tx.parse().ok()?,
                global_position: pos.parse().ok()?,
            })
        })
        .ok_or_else(|| {
            error(
                BAD_USER_INPUT,
                "pin: expected a position as returned in `position`",
            )
        })
}

#[Object]
impl QueryRoot {
    /// Any object by its global id.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        let Some((kind, raw)) = decode_any(&id) else {
            return Ok(None);
        };
        Ok(match kind {
            Kind::Programme => load_programme(ctx, &raw).await?.map(Node::Programme),
            Kind::Subject => load_subject(ctx, &raw).await?.map(Node::Subject),
            Kind::Enrolment => load_enrolment(ctx, &raw).await?.map(Node::Enrolment),
            Kind::ProtectionOrder => load_order(ctx, &raw).await?.map(Node::ProtectionOrder),
        })
    }

    /// A programme version, e.g. code COBI, version 2022.
    async fn programme(
        &self,
        ctx: &Context<'_>,
        code: String,
        version: String,
    ) -> Result<Option<Programme>> {
        load_programme(
            ctx,
            &desist_domain::programme::programme_id(&code, &version),
        )
        .await
    }

    async fn subject(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Subject>> {
        load_subject(ctx, &decode(&id, Kind::Subject, "id")?).await
    }

    async fn enrolment(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Enrolment>> {
        load_enrolment(ctx, &decode(&id, Kind::Enrolment, "id")?).await
    }

    async fn protection_order(&self, ctx: &Context<'_>, id: ID) -> Result<Option<ProtectionOrder>> {
        load_order(ctx, &decode(&id, Kind::ProtectionOrder, "id")?).await
    }

    /// Subjects, by reference. Filter by area, or by RAG status as of a date (default today).
    #[allow(clippy::too_many_arguments)]
    async fn subjects(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        #[graphql(validator(minimum = 1, maximum = 100))] first: Option<i32>,
        #[graphql(validator(minimum = 1, maximum = 100))] last: Option<i32>,
        area: Option<String>,
        rag: Option<Rag>,
        as_of: Option<NaiveDate>,
    ) -> Result<Page<Subject>> {
        let caseload = caseload(ctx).await?;
        let pool = app(ctx).store.db();
        let rows: Vec<SubjectRow> = desist_store::db::query_as(format!(
            "SELECT {SUBJECT_COLUMNS} FROM compliance_subjects
                  WHERE ($1 IS NULL OR area = $1) ORDER BY subject_id"
        ))
        .bind(&area)
        .fetch_all(pool.reader())
        .await
        .map_err(|e| internal_error(ctx, e))?;
        let statuses = match rag {
            Some(_) => Some(
                desist_projections::queries::compliance(
                    pool,
                    as_of.unwrap_or_else(|| today(ctx)),
                    caseload.subject_ids().as_deref(),
                )
                .await
                .map_err(|e| internal_error(ctx, e))?,
            ),
            None => None,
        };
        let items = rows
            .into_iter()
            .filter(|r| caseload.subjects.contains(&r.subject_id))
            .filter(|r| match (&statuses, rag) {
                (Some(s), Some(rag)) => s
                    .get(&r.subject_id)
                    .is_some_and(|st| Rag::from(st.rag) == rag),
                _ => true,
            })
            .map(|r| {
                let subject = r.subject_id.clone();
                (subject.clone(), Subject(r), subject)
            })
            .collect();
        audited_page(ctx, "subjects", items, after, before, first, last).await
    }

    /// Enrolments, by reference. Filter by status, the subject's area, or practitioner.
    #[allow(clippy::too_many_arguments)]
    async fn enrolments(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        #[graphql(validator(minimum = 1, maximum = 100))] first: Option<i32>,
        #[graphql(validator(minimum = 1, maximum = 100))] last: Option<i32>,
        status: Option<EnrolmentStatus>,
        area: Option<String>,
        practitioner: Option<String>,
    ) -> Result<Page<Enrolment>> {
        let caseload = caseload(ctx).await?;
        let status = status.map(|s| {
            desist_projections::projection::name_of(
                &desist_domain::enrolment::EnrolmentStatus::from(s),
            )
        });
        let columns = PROGRESS_COLUMNS
            .split(", ")
            .map(|c| format!("p.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        let rows: Vec<ProgressRow> = desist_store::db::query_as(format!(
            "SELECT {columns} FROM progress p
               LEFT JOIN compliance_subjects s ON s.subject_id = p.subject_id
              WHERE ($1 IS NULL OR p.status = $1)
                AND ($2 IS NULL OR s.area = $2)
                AND ($3 IS NULL OR p.practitioner = $3)
              ORDER BY p.enrolment_id"
        ))
        .bind(status)
        .bind(area)
        .bind(practitioner)
        .fetch_all(app(ctx).store.db().reader())
        .await
        .map_err(|e| internal_error(ctx, e))?;
        let items = rows
            .into_iter()
            .filter(|r| caseload.enrolments.contains(&r.enrolment_id))
            .map(ProgressRow::with_expected_end)
            .map(|r| {
                let (key, subject) = (r.enrolment_id.clone(), r.subject_id.clone());
                (key, Enrolment(r), subject)
            })
            .collect();
        audited_page(ctx, "enrolments", items, after, before, first, last).await
    }

    /// Protection orders, by reference.
    async fn protection_orders(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        #[graphql(validator(minimum = 1, maximum = 100))] first: Option<i32>,
        #[graphql(validator(minimum = 1, maximum = 100))] last: Option<i32>,
    ) -> Result<Page<ProtectionOrder>> {
        let caseload = caseload(ctx).await?;
        let rows: Vec<OrderRow> = desist_store::db::query_as(format!(
            "SELECT {ORDER_COLUMNS} FROM compliance_orders ORDER BY order_id"
        ))
        .fetch_all(app(ctx).store.db().reader())
        .await
        .map_err(|e| internal_error(ctx, e))?;
        let items = rows
            .into_iter()
            .filter(|r| caseload.orders.contains(&r.order_id))
            .map(|r| {
                let (key, subject) = (r.order_id.clone(), r.subject_id.clone());
                (key, ProtectionOrder(r), subject)
            })
            .collect();
        audited_page(ctx, "protectionOrders", items, after, before, first, last).await
    }

    /// A subject's compliance as of a date (default today).
    async fn compliance(
        &self,
        ctx: &Context<'_>,
        subject_id: ID,
        as_of: Option<NaiveDate>,
    ) -> Result<Compliance> {
        compliance_of(
            ctx,
            &decode(&subject_id, Kind::Subject, "subjectId")?,
            as_of,
        )
        .await
    }

    /// Subjects needing action first: RED, then AMBER (each with reasons and next step), then
    /// GREEN; within a status, by reference.
    async fn caseload(
        &self,
        ctx: &Context<'_>,
        as_of: Option<NaiveDate>,
        after: Option<String>,
        before: Option<String>,
        #[graphql(validator(minimum = 1, maximum = 100))] first: Option<i32>,
        #[graphql(validator(minimum = 1, maximum = 100))] last: Option<i32>,
    ) -> Result<Page<Compliance>> {
        let caseload = caseload(ctx).await?;
        let as_of = as_of.unwrap_or_else(|| today(ctx));
        // Each status with the person's row, so the page shows who each person is without a
        // statement more.
        let statuses = desist_projections::queries::compliance_of_people(
            app(ctx).store.db(),
            as_of,
            caseload.subject_ids().as_deref(),
        )
        .await
        .map_err(|e| internal_error(ctx, e))?;
        let items = statuses
            .into_iter()
            .filter(|(id, _)| caseload.subjects.contains(id))
            .map(|(id, (status, person))| {
                // RED sorts first: 0 for RED, 1 for AMBER, 2 for GREEN.
                let urgency = 2 - status.rag as u8;
                let key = format!("{urgency}:{id}");
                let node = to_compliance(&id, as_of, &status, Some(person));
                (key, (node, id))
            })
            .collect::<std::collections::BTreeMap<_, _>>()
            .into_iter()
            .map(|(key, (node, subject))| (key, node, subject))
            .collect();
        audited_page(ctx, "caseload", items, after, before, first, last).await
    }

    /// Outcome measures as of a date (default today), optionally pinned to a feed position,
    /// split by quarter and by any of programme, area, SRP type and route. Disclosure
    /// controlled: this is all an evaluator receives.
    async fn outcomes(
        &self,
        ctx: &Context<'_>,
        as_of: Option<NaiveDate>,
        pin: Option<String>,
        split: Option<OutcomeSplit>,
    ) -> Result<OutcomeReportView> {
        if !policy::may_read_outcomes(caller(ctx).actor.role) {
            return Err(forbidden());
        }
        caller(ctx).audit("outcomes", None);
        let as_of = as_of.unwrap_or_else(|| today(ctx));
        let pin = pin.as_deref().map(parse_pin).transpose()?;
        let split = split.unwrap_or_default();
        let report = desist_projections::outcome_cache::cached_outcome_report(
            app(ctx).store.db(),
            &app(ctx).outcomes,
            as_of,
            pin,
            Split {
                programme: split.programme,
                area: split.area,
                srp_type: split.srp_type,
                route: split.route,
            },
        )
        .await
        .map_err(|e| match e {
            desist_projections::ProjectionError::NotYetProjected { .. } => {
                error(BAD_USER_INPUT, e.to_string())
            }
            other => internal_error(ctx, other),
        })?;
        Ok(report.as_ref().into())
    }

    /// Everything held about one subject, for a subject access request (admin). Details of
    /// victims and third parties are withheld.
    async fn export_subject(
        &self,
        ctx: &Context<'_>,
        subject_id: ID,
    ) -> Result<async_graphql::Json<serde_json::Value>> {
        super::privacy::export_subject(ctx, &subject_id)
            .await
            .map(async_graphql::Json)
    }

    /// The read audit, newest first (admin).
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        subject_id: Option<ID>,
        actor_id: Option<String>,
        after: Option<String>,
        #[graphql(validator(minimum = 1, maximum = 100))] first: i32,
    ) -> Result<Page<AuditEntry>> {
        if !policy::may_read_audit(caller(ctx).actor.role) {
            return Err(forbidden());
        }
        caller(ctx).audit("auditLog", None);
        let subject = subject_id
            .map(|id| decode(&id, Kind::Subject, "subjectId"))
            .transpose()?;
        // Cursors are record ids; newest first.
        let before_id = after
            .as_deref()
            .and_then(|a| {
                <OpaqueCursor<String> as async_graphql::connection::CursorType>::decode_cursor(a)
                    .ok()
            })
            .and_then(|c| c.0.parse::<i64>().ok());
        let records = crate::audit::read(
            app(ctx).store.db(),
            &crate::audit::AuditFilter {
                subject_id: subject,
                actor_id,
                since: None,
                before_id,
                limit: i64::from(first) + 1,
            },
        )
        .await
        .map_err(|e| internal_error(ctx, e))?;
        let more = records.len() > first as usize;
        let mut page = Connection::new(before_id.is_some(), more);
        page.edges.extend(
            records
                .into_iter()
                .take(first as usize)
                .map(|r| Edge::new(OpaqueCursor(r.id.to_string()), AuditEntry::from(r))),
        );
        Ok(page)
    }
}

/// One read of subjects' records, an export or an outcome query.
#[derive(async_graphql::SimpleObject)]
pub struct AuditEntry {
    pub at: chrono::DateTime<chrono::Utc>,
    pub actor_id: String,
    pub role: String,
    pub agency: String,
    pub operation: String,
    pub subject_refs: Vec<String>,
    pub purpose: Option<String>,
    pub break_glass_reason: Option<String>,
    pub correlation_id: String,
}

impl From<crate::audit::AuditRecord> for AuditEntry {
    fn from(r: crate::audit::AuditRecord) -> Self {
        Self {
            at: r.at,
            actor_id: r.actor_id,
            role: r.role,
            agency: r.agency,
            operation: r.operation,
            subject_refs: r.subject_ids,
            purpose: r.purpose,
            break_glass_reason: r.break_glass_reason,
            correlation_id: r.correlation_id,
        }
    }
}
