//! Batched reads of the views: a page of 100 enrolments with their subjects costs one query per
//! kind of record, not one per row.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use chrono::{DateTime, NaiveDate, Utc};
use desist_store::db::{self, Db};

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
    /// One session a week from the start, plus the days paused; computed on load.
    #[sqlx(skip)]
    pub expected_end_on: Option<NaiveDate>,
    pub last_session_at: Option<DateTime<Utc>>,
    pub next_session_at: Option<DateTime<Utc>>,
}

pub const PROGRESS_COLUMNS: &str = "enrolment_id, subject_id, programme, planned_sessions, \
    min_attended, route, practitioner, status, referred_on, started_on, ended_on, end_kind, \
    sessions_attended, sessions_due, attendance_rate, absences_unacceptable, absences_acceptable, \
    absences_provisional, modules_covered, triggers, triggers_with_plan, latest_engagement, \
    paused_days, last_session_at, next_session_at";

impl ProgressRow {
    pub(crate) fn with_expected_end(mut self) -> Self {
        let days = 7 * i64::from(self.planned_sessions) + i64::from(self.paused_days);
        self.expected_end_on = self
            .started_on
            .and_then(|start| start.checked_add_days(chrono::Days::new(days.max(0) as u64)));
        self
    }
}

/// One row of the `compliance_subjects` view (defined beside the compliance queries, which
/// read it with a caseload's statuses).
pub use desist_projections::queries::{SubjectRow, SUBJECT_COLUMNS};

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
    pub pool: Db,
}

/// Rows of `sql` whose `column` is one of `keys` (`{keys}` in the SQL marks where the
/// condition goes), the keys bound as one list: the statement is the same however many keys a
/// page holds, so it is prepared once.
async fn load_by_keys<R: LoadedRow>(
    db: &Db,
    sql: String,
    column: &str,
    keys: &[String],
) -> Result<Vec<R>, Arc<sqlx::Error>> {
    let sql = sql.replace("{keys}", &db::any_of(db.backend(), column, 1));
    let rows: Vec<R> = db::query_as(sql)
        .bind(db::Arg::ids(keys.iter().cloned()))
        .fetch_all(db.reader())
        .await
        .map_err(Arc::new)?;
    Ok(rows.into_iter().map(LoadedRow::completed).collect())
}

/// A row as loaders return it, with anything computed on load filled in.
trait LoadedRow: db::Row {
    fn completed(self) -> Self {
        self
    }
}

impl LoadedRow for ProgressRow {
    fn completed(self) -> Self {
        self.with_expected_end()
    }
}
impl LoadedRow for SubjectRow {}
impl LoadedRow for OrderRow {}

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
                let rows: Vec<$row> =
                    load_by_keys(&self.0.pool, $sql, stringify!($key), keys).await?;
                Ok(rows.into_iter().map(|r| (r.$key.clone(), r)).collect())
            }
        }
    };
}

loader!(
    ProgressLoader,
    ProgressRow,
    format!("SELECT {PROGRESS_COLUMNS} FROM progress WHERE {{keys}}"),
    enrolment_id
);
loader!(
    SubjectLoader,
    SubjectRow,
    format!("SELECT {SUBJECT_COLUMNS} FROM compliance_subjects WHERE {{keys}}"),
    subject_id
);
loader!(
    OrderLoader,
    OrderRow,
    format!("SELECT {ORDER_COLUMNS} FROM compliance_orders WHERE {{keys}}"),
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
                let rows: Vec<$row> = load_by_keys(&self.0.pool, $sql, "subject_id", keys).await?;
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
        "SELECT {PROGRESS_COLUMNS} FROM progress WHERE {{keys}}
          ORDER BY referred_on, enrolment_id"
    )
);
many!(
    OrdersOfSubject,
    OrderRow,
    format!(
        "SELECT {ORDER_COLUMNS} FROM compliance_orders WHERE {{keys}}
          ORDER BY made_on, order_id"
    )
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_course_is_expected_to_end_a_week_per_session_after_it_started_plus_the_days_paused() {
        let date = |m, d| NaiveDate::from_ymd_opt(2024, m, d);
        let row = ProgressRow {
            enrolment_id: "E1".into(),
            subject_id: "S1".into(),
            programme: "cobi@1".into(),
            planned_sessions: 12,
            min_attended: 9,
            route: "court_order".into(),
            practitioner: None,
            status: "active".into(),
            referred_on: NaiveDate::MIN,
            started_on: date(1, 16),
            ended_on: None,
            end_kind: None,
            sessions_attended: 0,
            sessions_due: 0,
            attendance_rate: None,
            absences_unacceptable: 0,
            absences_acceptable: 0,
            absences_provisional: 0,
            modules_covered: String::new(),
            triggers: 0,
            triggers_with_plan: 0,
            latest_engagement: None,
            paused_days: 14,
            expected_end_on: None,
            last_session_at: None,
            next_session_at: None,
        };
        assert_eq!(row.clone().with_expected_end().expected_end_on, date(4, 23));
        let not_started = ProgressRow {
            started_on: None,
            ..row
        };
        assert_eq!(not_started.with_expected_end().expected_end_on, None);
    }
}
