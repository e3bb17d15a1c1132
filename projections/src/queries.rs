//! Reads the live views and applies the measures: compliance as of a date, outcome statistics
//! as of a date and optionally pinned to a feed position.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use desist_store::db::{self, Db};
use desist_store::FeedPosition;
use serde::Serialize;

use crate::measures::compliance::{
    assess, BreachFact, ComplianceStatus, ConcernFact, EnrolmentFacts, OrderFacts, SessionFact,
    SrpFact, SubjectFacts,
};
use crate::measures::disclosure::{control, ControlledRow};
use crate::measures::outcomes::{
    all_cohorts, cohort_outcomes, completers_comparison, orders_by_period, CohortOutcome,
    Comparison, EnrolmentOutcome, HeldSession, OffenceFact, OrderOutcome, OrderPeriod, Split,
};
use crate::outcomes::OutcomesProjection;
use crate::registry::{checkpoint, live_generation};
use crate::{Projection, ProjectionError};

/// The compliance facts of the subjects in `only` (all subjects when `None`), from the live
/// compliance views.
pub async fn compliance_facts(
    pool: &Db,
    only: Option<&[String]>,
) -> Result<BTreeMap<String, SubjectFacts>, ProjectionError> {
    Ok(facts_and_people(pool, only).await?.0)
}

/// A person as the compliance view holds them (`compliance_subjects`), as readers see them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SubjectRow {
    pub subject_id: String,
    pub area: String,
    pub birth_year: i32,
    pub sex: String,
    pub offender_manager: Option<String>,
}

/// The columns of [`SubjectRow`], in its order.
pub const SUBJECT_COLUMNS: &str = "subject_id, area, birth_year, sex, offender_manager";

/// [`compliance_facts`], with each person's own row of the view, which the facts' first
/// statement reads anyway: a caseload shows who each person is beside their status, and
/// reading them again cost every caseload a statement and a loader's wait
/// (docs/benchmarks.md).
async fn facts_and_people(
    pool: &Db,
    only: Option<&[String]>,
) -> Result<(BTreeMap<String, SubjectFacts>, BTreeMap<String, SubjectRow>), ProjectionError> {
    let mut subjects: BTreeMap<String, SubjectFacts> = BTreeMap::new();
    let mut people_rows: BTreeMap<String, SubjectRow> = BTreeMap::new();
    // `WHERE {only("s.")}`: every subject, or the ones asked for (bound as one list at `$1`),
    // of the table the prefix names. Three statements in all (the people and their courses,
    // the courses' sessions, then every other fact): every caseload request runs them, and
    // each statement is a round trip. A list bound as one value keeps each statement's text
    // the same, so it is prepared once per connection.
    let backend = pool.backend();
    // One connection for all of them (see `Pool::acquire`).
    let mut conn = pool.reader().acquire().await?;
    let everyone = only.is_none();
    let only_ids: Vec<db::Arg> = only.map(db::Arg::ids).into_iter().collect();
    let only = |table: &str| match only {
        None => "TRUE".to_string(),
        Some(_) => db::any_of(backend, &format!("{table}subject_id"), 1),
    };
    // Each person, with each of their courses (a person without one: a row without).
    #[derive(sqlx::FromRow)]
    struct PersonRow {
        #[sqlx(flatten)]
        person: SubjectRow,
        enrolment_id: Option<String>,
        started_on: Option<NaiveDate>,
        ended_on: Option<NaiveDate>,
    }
    let people: Vec<PersonRow> = db::query_as(format!(
        "SELECT s.subject_id, s.area, s.birth_year, s.sex, s.offender_manager,
                e.enrolment_id, e.started_on, e.ended_on
           FROM compliance_subjects s
           LEFT JOIN compliance_enrolments e ON e.subject_id = s.subject_id
          WHERE {}",
        only("s.")
    ))
    .bind_all(only_ids.clone())
    .fetch_all(&mut conn)
    .await?;
    let mut enrolments = Vec::new();
    for PersonRow {
        person,
        enrolment_id,
        started_on,
        ended_on,
    } in people
    {
        let subject_id = person.subject_id.clone();
        subjects
            .entry(subject_id.clone())
            .or_insert_with(|| SubjectFacts {
                subject_id: subject_id.clone(),
                ..SubjectFacts::default()
            });
        people_rows.entry(subject_id.clone()).or_insert(person);
        if let Some(enrolment_id) = enrolment_id {
            enrolments.push((enrolment_id, subject_id, started_on, ended_on));
        }
    }
    // The courses' own rows by their ids: an explicit list is an index lookup whatever the
    // planner knows about the tables.
    let (mut of_enrolments, mut sessions_of) = ("TRUE".to_string(), "TRUE".to_string());
    let (mut args, mut session_args) = (only_ids, Vec::new());
    if !everyone {
        let ids = db::Arg::ids(enrolments.iter().map(|e| e.0.clone()));
        args.push(ids.clone());
        session_args.push(ids);
        of_enrolments = db::any_of(backend, "enrolment_id", 2);
        sessions_of = db::any_of(backend, "enrolment_id", 1);
    }
    let mut by_enrolment: BTreeMap<String, (String, EnrolmentFacts)> = enrolments
        .into_iter()
        .map(|(enrolment_id, subject_id, started_on, ended_on)| {
            (
                enrolment_id.clone(),
                (
                    subject_id,
                    EnrolmentFacts {
                        enrolment_id,
                        started_on,
                        ended_on,
                        ..EnrolmentFacts::default()
                    },
                ),
            )
        })
        .collect();

    // Sessions, twelve a course, are most of the facts, and have a narrow statement of their
    // own: SQLite's driver copies every column of every row, NULL or not, so as rows of the
    // wide statement below they cost SQLite's reads a fifth more CPU (docs/benchmarks.md).
    type SessionRow = (
        String,
        DateTime<Utc>,
        String,
        Option<String>,
        Option<NaiveDate>,
    );
    let mut sessions: Vec<SessionRow> = db::query_as(format!(
        "SELECT enrolment_id, scheduled_at, state, absence, absence_resolved_on
           FROM compliance_sessions
          WHERE {sessions_of}"
    ))
    .bind_all(session_args)
    .fetch_all(&mut conn)
    .await?;
    // By their time, sorted here: PostgreSQL sorted by the text key too, in the database's
    // collation, a third of the statement's time.
    sessions.sort_by_key(|s| s.1);
    for (id, held_at, state, absence, absence_resolved_on) in sessions {
        if let Some((_, e)) = by_enrolment.get_mut(&id) {
            e.sessions.push(SessionFact {
                held_at,
                state,
                absence,
                absence_resolved_on,
            });
        }
    }
    let mut facts: Vec<FactRow> = db::query_as(facts_sql(&of_enrolments, &only("o."), &only("")))
        .bind_all(args)
        .fetch_all(&mut conn)
        .await?;
    facts.sort_by(|a, b| a.order().cmp(&b.order()));
    let mut by_order: BTreeMap<String, (String, OrderFacts)> = BTreeMap::new();
    for fact in facts {
        match fact.kind {
            PAUSE | ENFORCEMENT | CONCERN => {
                if let Some((_, e)) = by_enrolment.get_mut(&fact.key) {
                    add_course_fact(e, fact)?;
                }
            }
            ORDER => {
                let subject_id = required(fact.t1, "subject_id")?;
                let made_on = required(fact.d1, "made_on")?;
                let (_, order) = by_order.entry(fact.key.clone()).or_insert_with(|| {
                    let order = OrderFacts {
                        order_id: fact.key,
                        made_on,
                        ends_on: fact.d2,
                        served_on: fact.d3,
                        discharged_on: fact.d4,
                        initial_notification_on: fact.d5,
                        breaches: Vec::new(),
                    };
                    (subject_id, order)
                });
                if let Some(reported_on) = fact.d6 {
                    order.breaches.push(BreachFact {
                        reported_on,
                        first_outcome_on: fact.d7,
                    });
                }
            }
            SRP => {
                if let Some(s) = subjects.get_mut(&fact.key) {
                    let high = [fact.t1, fact.t2, fact.t3, fact.t4]
                        .map(|rating| rating.as_deref() == Some("high"));
                    s.srp.push(SrpFact {
                        assessed_on: required(fact.d1, "assessed_on")?,
                        high,
                    });
                }
            }
            other => return Err(unknown_fact(other).into()),
        }
    }
    for (_, (subject_id, e)) in by_enrolment {
        if let Some(s) = subjects.get_mut(&subject_id) {
            s.enrolments.push(e);
        }
    }
    for (_, (subject_id, order)) in by_order {
        if let Some(s) = subjects.get_mut(&subject_id) {
            s.orders.push(order);
        }
    }
    Ok((subjects, people_rows))
}

// What a row of `facts_sql` is, in its `kind` column.
const PAUSE: i32 = 1;
const ENFORCEMENT: i32 = 2;
const CONCERN: i32 = 3;
const ORDER: i32 = 4;
const SRP: i32 = 5;

/// The compliance facts other than sessions of the courses `of_enrolments` selects and of the
/// people `of_orders` and `of_risk` select, in one statement: a caseload request reads them
/// all, and each statement is a round trip with its own protocol, TLS and binding work in
/// PostgreSQL (seven statements with the sessions cost it a fifth more CPU a caseload than
/// three).
/// Each source's rows are put in the same generic columns, told apart by `kind`: `key` is the
/// course, order or person the fact belongs to, `t1`…`t4` text, `d1`…`d7` dates, `at` a time.
/// The first branch types every column (PostgreSQL resolves a UNION's types a pair at a time).
fn facts_sql(of_enrolments: &str, of_orders: &str, of_risk: &str) -> String {
    format!(
        "SELECT {PAUSE} AS kind, enrolment_id AS key, CAST(NULL AS TEXT) AS t1,
                CAST(NULL AS TEXT) AS t2, CAST(NULL AS TEXT) AS t3, CAST(NULL AS TEXT) AS t4,
                global_position AS seq, paused_on AS d1, resumed_on AS d2,
                CAST(NULL AS DATE) AS d3, CAST(NULL AS DATE) AS d4, CAST(NULL AS DATE) AS d5,
                CAST(NULL AS DATE) AS d6, CAST(NULL AS DATE) AS d7,
                CAST(NULL AS TIMESTAMPTZ) AS at, CAST(NULL AS BOOLEAN) AS flag
           FROM compliance_pauses WHERE {of_enrolments}
         UNION ALL
         SELECT {ENFORCEMENT}, enrolment_id, action, NULL, NULL, NULL, global_position,
                action_on, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
           FROM compliance_enforcement WHERE {of_enrolments}
         UNION ALL
         SELECT {CONCERN}, enrolment_id, NULL, NULL, NULL, NULL, NULL,
                acknowledged_on, NULL, NULL, NULL, NULL, NULL, NULL, raised_at, notify_probation
           FROM compliance_concerns WHERE {of_enrolments}
         UNION ALL
         SELECT {ORDER}, o.order_id, o.subject_id, b.breach_id, NULL, NULL, NULL,
                o.made_on, o.ends_on, o.served_on, o.discharged_on, o.initial_notification_on,
                b.reported_on, b.first_outcome_on, NULL, NULL
           FROM compliance_orders o
           LEFT JOIN compliance_breaches b ON b.order_id = o.order_id
          WHERE {of_orders}
         UNION ALL
         SELECT {SRP}, subject_id, violence, persistence, recurrence, psychosocial_damage,
                global_position, assessed_on, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
           FROM compliance_risk WHERE {of_risk}"
    )
}

/// One row of [`facts_sql`].
#[derive(sqlx::FromRow)]
struct FactRow {
    kind: i32,
    key: String,
    t1: Option<String>,
    t2: Option<String>,
    t3: Option<String>,
    t4: Option<String>,
    seq: Option<i64>,
    d1: Option<NaiveDate>,
    d2: Option<NaiveDate>,
    d3: Option<NaiveDate>,
    d4: Option<NaiveDate>,
    d5: Option<NaiveDate>,
    d6: Option<NaiveDate>,
    d7: Option<NaiveDate>,
    at: Option<DateTime<Utc>>,
    flag: Option<bool>,
}

impl FactRow {
    /// The order each source's facts are kept in, sorted here rather than by the database:
    /// pauses, enforcement actions and risk assessments as recorded (`seq`), concerns by when
    /// they were raised, breaches by the date they were reported and then by id.
    fn order(&self) -> impl Ord + '_ {
        let breach = (self.kind == ORDER).then_some((self.d6, self.t2.as_deref()));
        (self.kind, self.seq, self.at, breach)
    }
}

/// Adds a fact of one of the course's own sources to its facts.
fn add_course_fact(e: &mut EnrolmentFacts, fact: FactRow) -> Result<(), sqlx::Error> {
    match fact.kind {
        PAUSE => e.pauses.push((required(fact.d1, "paused_on")?, fact.d2)),
        ENFORCEMENT => {
            let on = required(fact.d1, "action_on")?;
            e.enforcement.push((on, required(fact.t1, "action")?));
        }
        CONCERN => e.concerns.push(ConcernFact {
            raised_at: required(fact.at, "raised_at")?,
            notify_probation: required(fact.flag, "notify_probation")?,
            acknowledged_on: fact.d1,
        }),
        other => return Err(unknown_fact(other)),
    }
    Ok(())
}

fn unknown_fact(kind: i32) -> sqlx::Error {
    sqlx::Error::Decode(format!("compliance view: unknown fact kind {kind}").into())
}

/// A column the view never leaves empty.
fn required<T>(value: Option<T>, column: &'static str) -> Result<T, sqlx::Error> {
    value.ok_or_else(|| sqlx::Error::Decode(format!("compliance view: {column} is NULL").into()))
}

/// The compliance status on `as_of` of the subjects in `only` (all when `None`).
pub async fn compliance(
    pool: &Db,
    as_of: NaiveDate,
    only: Option<&[String]>,
) -> Result<BTreeMap<String, ComplianceStatus>, ProjectionError> {
    Ok(compliance_facts(pool, only)
        .await?
        .into_iter()
        .map(|(id, facts)| (id, assess(&facts, as_of)))
        .collect())
}

/// [`compliance`], each status with the person's row of the view (see `facts_and_people`).
pub async fn compliance_of_people(
    pool: &Db,
    as_of: NaiveDate,
    only: Option<&[String]>,
) -> Result<BTreeMap<String, (ComplianceStatus, SubjectRow)>, ProjectionError> {
    let (facts, mut people) = facts_and_people(pool, only).await?;
    Ok(facts
        .into_iter()
        .filter_map(|(id, facts)| {
            let person = people.remove(&id)?;
            Some((id, (assess(&facts, as_of), person)))
        })
        .collect())
}

/// The outcome report an evaluator receives (and, before disclosure control, what the
/// measures found).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutcomeReport {
    pub as_of: NaiveDate,
    /// The feed position the figures are pinned to.
    pub position: FeedPosition,
    pub outcomes_by_cohort: Vec<CohortOutcome>,
    pub controlled_outcomes_by_cohort: Vec<ControlledRow>,
    pub all_cohorts: CohortOutcome,
    pub comparison_completers: Comparison,
    pub orders_by_period: Vec<OrderPeriod>,
}

/// The outcome report as of `as_of`, from events up to `pin` (default: all the projection has
/// applied, which is then the position reported, so the query can be repeated exactly).
pub async fn outcome_report(
    pool: &Db,
    as_of: NaiveDate,
    pin: Option<FeedPosition>,
    split: Split,
) -> Result<OutcomeReport, ProjectionError> {
    let position = pinned_position(pool, pin).await?;
    report_at(pool, as_of, position, split).await
}

/// The position a report is pinned to: `pin` if the projection has reached it, else all the
/// projection has applied.
pub(crate) async fn pinned_position(
    pool: &Db,
    pin: Option<FeedPosition>,
) -> Result<FeedPosition, ProjectionError> {
    let generation = live_generation(pool, OutcomesProjection::NAME)
        .await?
        .ok_or(ProjectionError::NotLive(OutcomesProjection::NAME))?;
    let reached = checkpoint(pool, OutcomesProjection::NAME, generation).await?;
    match pin {
        Some(pin) if pin > reached => Err(ProjectionError::NotYetProjected {
            projection: OutcomesProjection::NAME,
            pinned: format!("{}:{}", pin.tx, pin.global_position),
            reached: format!("{}:{}", reached.tx, reached.global_position),
        }),
        Some(pin) => Ok(pin),
        None => Ok(reached),
    }
}

pub(crate) async fn report_at(
    pool: &Db,
    as_of: NaiveDate,
    position: FeedPosition,
    split: Split,
) -> Result<OutcomeReport, ProjectionError> {
    let (enrolments, orders) = outcome_facts(pool, position).await?;
    let outcomes_by_cohort = cohort_outcomes(&enrolments, as_of, split);
    Ok(OutcomeReport {
        as_of,
        position,
        controlled_outcomes_by_cohort: control(&outcomes_by_cohort),
        all_cohorts: all_cohorts(&enrolments, as_of),
        comparison_completers: completers_comparison(&enrolments, as_of),
        orders_by_period: orders_by_period(&orders, as_of),
        outcomes_by_cohort,
    })
}

/// The outcome facts as they stood at feed position `pin`.
///
/// The seven statements run at once, each on a pooled connection of its own: a report is read
/// rarely, and reads every outcome row.
pub async fn outcome_facts(
    pool: &Db,
    pin: FeedPosition,
) -> Result<(Vec<EnrolmentOutcome>, Vec<OrderOutcome>), ProjectionError> {
    type SrpRow = (String, NaiveDate, String);
    type OffenceRow = (String, NaiveDate, String, Option<NaiveDate>);
    type SessionRow = (String, i32, DateTime<Utc>, String);
    type EnrolmentRow = (
        String,
        String,
        String,
        String,
        NaiveDate,
        Option<NaiveDate>,
        Option<String>,
        Option<NaiveDate>,
    );
    type OrderRow = (
        String,
        NaiveDate,
        Option<NaiveDate>,
        Option<NaiveDate>,
        Option<NaiveDate>,
        Option<NaiveDate>,
    );
    let reader = pool.reader();
    let (area_rows, srp_rows, offence_rows, session_rows, enrolment_rows, order_rows, breach_rows) =
        tokio::try_join!(
            rows_at(
                reader,
                pin,
                latest_at_pin("subject_id, area", "outcome_subjects", &["subject_id"])
            ),
            // Every assessment counts: which one informed a course depends on its dates, and
            // between two on one day the order they were recorded in (`srp_type_at`).
            rows_at::<SrpRow>(
                reader,
                pin,
                "SELECT subject_id, assessed_on, stalker_type FROM outcome_srp
                  WHERE (pos_tx, pos) <= ($1, $2) ORDER BY pos_tx, pos"
                    .into()
            ),
            rows_at::<OffenceRow>(
                reader,
                pin,
                latest_at_pin(
                    "subject_id, offence_date, category, proven_date",
                    "outcome_offences",
                    &["subject_id", "offence_id"],
                )
            ),
            rows_at::<SessionRow>(
                reader,
                pin,
                latest_at_pin(
                    "enrolment_id, number, held_at, attendance",
                    "outcome_sessions",
                    &["enrolment_id", "session_id"],
                )
            ),
            rows_at::<EnrolmentRow>(
                reader,
                pin,
                latest_at_pin(
                    "enrolment_id, subject_id, programme, route, referred_on, started_on, \
                     end_kind, ended_on",
                    "outcome_enrolments",
                    &["enrolment_id"],
                )
            ),
            rows_at::<OrderRow>(
                reader,
                pin,
                latest_at_pin(
                    "order_id, made_on, ends_on, served_on, discharged_on, initial_notification_on",
                    "outcome_orders",
                    &["order_id"],
                )
            ),
            rows_at::<(String, NaiveDate)>(
                reader,
                pin,
                "SELECT order_id, reported_on FROM outcome_breaches
                  WHERE (pos_tx, pos) <= ($1, $2)"
                    .into()
            ),
        )?;

    let areas: BTreeMap<String, String> = area_rows.into_iter().collect();
    let mut srp: BTreeMap<String, Vec<(NaiveDate, String)>> = BTreeMap::new();
    for (subject_id, on, stalker_type) in srp_rows {
        srp.entry(subject_id).or_default().push((on, stalker_type));
    }
    let mut offences: BTreeMap<String, Vec<OffenceFact>> = BTreeMap::new();
    for (subject_id, offence_date, category, proven_date) in offence_rows {
        offences.entry(subject_id).or_default().push(OffenceFact {
            offence_date,
            category,
            proven_date,
        });
    }
    let mut sessions: BTreeMap<String, Vec<HeldSession>> = BTreeMap::new();
    for (enrolment_id, number, held_at, attendance) in session_rows {
        sessions.entry(enrolment_id).or_default().push(HeldSession {
            number,
            held_at,
            attendance,
        });
    }
    let enrolments = enrolment_rows
        .into_iter()
        .map(
            |(enrolment_id, subject_id, programme, route, referred_on, started_on, kind, ended)| {
                let index = started_on.unwrap_or(referred_on);
                EnrolmentOutcome {
                    area: areas.get(&subject_id).cloned().unwrap_or_default(),
                    srp_type: srp_type_at(srp.get(&subject_id), index),
                    sessions: sessions.remove(&enrolment_id).unwrap_or_default(),
                    offences: offences.get(&subject_id).cloned().unwrap_or_default(),
                    enrolment_id,
                    programme,
                    route,
                    referred_on,
                    started_on,
                    end: kind.zip(ended),
                }
            },
        )
        .collect();

    let mut reports: BTreeMap<String, Vec<NaiveDate>> = BTreeMap::new();
    for (order_id, reported_on) in breach_rows {
        reports.entry(order_id).or_default().push(reported_on);
    }
    let orders = order_rows
        .into_iter()
        .map(
            |(order_id, made_on, ends_on, served_on, discharged_on, initial_notification_on)| {
                OrderOutcome {
                    breach_reports: reports.remove(&order_id).unwrap_or_default(),
                    made_on,
                    ends_on,
                    served_on,
                    discharged_on,
                    initial_notification_on,
                }
            },
        )
        .collect();
    Ok((enrolments, orders))
}

/// Every row `sql` selects at feed position `pin` (bound as `$1`, `$2`).
async fn rows_at<T: db::Row>(
    reader: db::Pool<'_>,
    pin: FeedPosition,
    sql: String,
) -> Result<Vec<T>, sqlx::Error> {
    db::query_as(sql)
        .bind(pin.tx)
        .bind(pin.global_position)
        .fetch_all(reader)
        .await
}

/// `SELECT columns FROM table` for each key's latest version at or before the pin (`$1`, `$2`):
/// the versions at or before it of which no later one is. The outcome tables keep every
/// version of a row, stamped with its feed position (see `outcomes`), and each table's key
/// with `pos` is indexed. A window over each key's versions (`ROW_NUMBER() OVER (PARTITION
/// BY …)`) sorted every table by its key instead: 1.5–1.6 times the time on PostgreSQL, 2.2 times
/// on SQLite, at national scale (docs/benchmarks.md).
fn latest_at_pin(columns: &str, table: &str, key: &[&str]) -> String {
    let same_key: String = key.iter().map(|k| format!("l.{k} = v.{k} AND ")).collect();
    format!(
        "SELECT {columns} FROM {table} v
          WHERE (v.pos_tx, v.pos) <= ($1, $2)
            AND NOT EXISTS (SELECT 1 FROM {table} l
                             WHERE {same_key}(l.pos_tx, l.pos) > (v.pos_tx, v.pos)
                               AND (l.pos_tx, l.pos) <= ($1, $2))"
    )
}

/// The stalker type that informed the course: the latest SRP assessment on or before the
/// index date, else the first after it.
fn srp_type_at(history: Option<&Vec<(NaiveDate, String)>>, index: NaiveDate) -> Option<String> {
    let history = history?;
    history
        .iter()
        .filter(|(on, _)| *on <= index)
        .max_by_key(|(on, _)| *on)
        .or_else(|| history.iter().min_by_key(|(on, _)| *on))
        .map(|(_, t)| t.clone())
}
