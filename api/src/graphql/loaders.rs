//! Batched reads of the views: a page of 100 enrolments with their subjects costs one query per
//! kind of record, not one per row.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;

/// One row of the `progress` view.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProgressRow {
    pub enrolment_id: String,
    pub subject_id: String,
    pub programme: String,
    pub planned_sessions: i32,
    pub min_attended: i32,
    pub route: String,
    pub practitioner: Option<String>,
    pub status: String,
    pub referred_on: NaiveDate,
    pub started_on: Option<NaiveDate>,
    pub ended_on: Option<NaiveDate>,
    pub end_kind: Option<String>,
    pub sessions_attended: i32,
    pub sessions_due: i32,
    pub attendance_rate: Option<f64>,
    pub absences_unacceptable: i32,
    pub absences_acceptable: i32,
    pub absences_provisional: i32,
    pub modules_covered: String,
    pub triggers: i32,
    pub triggers_with_plan: i32,
    pub latest_engagement: Option<i32>,
    pub paused_days: i32,
    pub expected_end_on: Option<NaiveDate>,
    pub last_session_at: Option<DateTime<Utc>>,
    pub next_session_at: Option<DateTime<Utc>>,
}

pub const PROGRESS_COLUMNS: &str = "enrolment_id, subject_id, programme, planned_sessions, \
    min_attended, route, practitioner, status, referred_on, started_on, ended_on, end_kind, \
    sessions_attended, sessions_due, attendance_rate, absences_unacceptable, absences_acceptable, \
    absences_provisional, modules_covered, triggers, triggers_with_plan, latest_engagement, \
    paused_days, expected_end_on, last_session_at, next_session_at";

/// One row of the `compliance_subjects` view.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SubjectRow {
    pub subject_id: String,
    pub area: String,
    pub birth_year: i32,
    pub sex: String,
    pub offender_manager: Option<String>,
}

pub const SUBJECT_COLUMNS: &str = "subject_id, area, birth_year, sex, offender_manager";

/// One row of the `compliance_orders` view.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrderRow {
    pub order_id: String,
    pub subject_id: String,
    pub kind: String,
    pub made_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    pub served_on: Option<NaiveDate>,
    pub discharged_on: Option<NaiveDate>,
    pub initial_notification_on: Option<NaiveDate>,
}

pub const ORDER_COLUMNS: &str = "order_id, subject_id, kind, made_on, ends_on, served_on, \
    discharged_on, initial_notification_on";

pub struct ViewLoader {
    pub pool: PgPool,
}

/// Loaders keyed by plain ids; one struct per kind of row (a loader is keyed by type).
pub struct ProgressLoader(pub ViewLoader);
pub struct SubjectLoader(pub ViewLoader);
pub struct OrderLoader(pub ViewLoader);

macro_rules! loader {
    ($loader:ident, $row:ty, $sql:expr, $key:ident) => {
        impl Loader<String> for $loader {
            type Value = $row;
            type Error = Arc<sqlx::Error>;

            async fn load(&self, keys: &[String]) -> Result<HashMap<String, $row>, Self::Error> {
                let sql: String = $sql;
                let rows: Vec<$row> = sqlx::query_as(&sql)
                    .bind(keys)
                    .fetch_all(&self.0.pool)
                    .await
                    .map_err(Arc::new)?;
                Ok(rows.into_iter().map(|r| (r.$key.clone(), r)).collect())
            }
        }
    };
}

loader!(
    ProgressLoader,
    ProgressRow,
    format!("SELECT {PROGRESS_COLUMNS} FROM progress WHERE enrolment_id = ANY($1)"),
    enrolment_id
);
loader!(
    SubjectLoader,
    SubjectRow,
    format!("SELECT {SUBJECT_COLUMNS} FROM compliance_subjects WHERE subject_id = ANY($1)"),
    subject_id
);
loader!(
    OrderLoader,
    OrderRow,
    format!("SELECT {ORDER_COLUMNS} FROM compliance_orders WHERE order_id = ANY($1)"),
    order_id
);

/// A subject's enrolments (or orders), for pages of subjects.
pub struct EnrolmentsOfSubject(pub ViewLoader);
pub struct OrdersOfSubject(pub ViewLoader);

macro_rules! many {
    ($loader:ident, $row:ty, $sql:expr) => {
        impl Loader<String> for $loader {
            type Value = Vec<$row>;
            type Error = Arc<sqlx::Error>;

            async fn load(
                &self,
                keys: &[String],
            ) -> Result<HashMap<String, Vec<$row>>, Self::Error> {
                let sql: String = $sql;
                let rows: Vec<$row> = sqlx::query_as(&sql)
                    .bind(keys)
                    .fetch_all(&self.0.pool)
                    .await
                    .map_err(Arc::new)?;
                let mut by_subject: HashMap<String, Vec<$row>> = HashMap::new();
                for row in rows {
                    by_subject
                        .entry(row.subject_id.clone())
                        .or_default()
                        .push(row);
                }
                Ok(by_subject)
            }
        }
    };
}

many!(
    EnrolmentsOfSubject,
    ProgressRow,
    format!(
        "SELECT {PROGRESS_COLUMNS} FROM progress WHERE subject_id = ANY($1)
          ORDER BY referred_on, enrolment_id"
    )
);
many!(
    OrdersOfSubject,
    OrderRow,
    format!(
        "SELECT {ORDER_COLUMNS} FROM compliance_orders WHERE subject_id = ANY($1)
          ORDER BY made_on, order_id"
    )
);
