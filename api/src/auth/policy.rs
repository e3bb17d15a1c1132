//! Who may do what. Every rule about access is here; resolvers and mutations ask, they do not
//! decide (DOMAIN.md, "Who uses it").
//!
//! | role | reads | writes |
//! |---|---|---|
//! | therapist | subjects and enrolments allocated to them, with clinical text | the course: sessions, attendance, content, concerns, chain analyses, triggers, completion |
//! | probation officer | subjects on their caseload, their enrolments (no clinical text except escalated concerns) and orders | referral, absence resolution, enforcement, concern acknowledgement, withdrawal, risk, offences |
//! | police SPO officer | subjects and orders (no enrolments, no clinical text) | orders, service, notifications, variations, breaches, offences |
//! | evaluator | disclosure-controlled outcomes only | nothing |
//! | admin | everything; clinical text only with a break-glass reason (audited) | registration, allocation, programmes, erasure, any command |

use std::collections::HashSet;

use desist_domain::Role;
use desist_store::Db;

/// A set of records a caller may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visible {
    All,
    Only(HashSet<String>),
}

impl Visible {
    pub fn contains(&self, id: &str) -> bool {
        match self {
            Self::All => true,
            Self::Only(ids) => ids.contains(id),
        }
    }

    fn none() -> Self {
        Self::Only(HashSet::new())
    }
}

/// The caller's caseload: the subjects, enrolments and orders they may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caseload {
    pub subjects: Visible,
    pub enrolments: Visible,
    pub orders: Visible,
}

/// One record a caseload may hold.
#[derive(Debug, Clone, Copy)]
pub enum Record<'a> {
    Subject(&'a str),
    Enrolment(&'a str),
    Order(&'a str),
}

impl Record<'_> {
    pub fn id(&self) -> &str {
        match self {
            Record::Subject(id) | Record::Enrolment(id) | Record::Order(id) => id,
        }
    }
}

impl Caseload {
    /// The subjects on the caseload, or `None` when it holds every subject.
    pub fn subject_ids(&self) -> Option<Vec<String>> {
        match &self.subjects {
            Visible::All => None,
            Visible::Only(ids) => Some(ids.iter().cloned().collect()),
        }
    }

    /// Whether `record` is on the caseload.
    pub fn holds(&self, record: Record<'_>) -> bool {
        match record {
            Record::Subject(id) => self.subjects.contains(id),
            Record::Enrolment(id) => self.enrolments.contains(id),
            Record::Order(id) => self.orders.contains(id),
        }
    }

    /// Looks the caseload up in the views.
    pub async fn of(role: Role, user: &str, pool: &Db) -> Result<Self, sqlx::Error> {
        let rows = match rule(role) {
            Rule::Fixed(caseload) => return Ok(caseload),
            Rule::Rows(rows) => rows,
        };
        let rows: Vec<(String, Option<String>, Option<String>)> = desist_store::db::query_as(rows)
            .bind(user)
            .fetch_all(pool.reader())
            .await?;
        let (mut subjects, mut enrolments, mut orders) =
            (HashSet::new(), HashSet::new(), HashSet::new());
        for (subject, enrolment, order) in rows {
            subjects.insert(subject);
            enrolments.extend(enrolment);
            orders.extend(order);
        }
        Ok(Self {
            subjects: Visible::Only(subjects),
            enrolments: Visible::Only(enrolments),
            orders: Visible::Only(orders),
        })
    }

    /// Whether `record` is on the caseload of `user`, asked of that one record: one indexed
    /// lookup, where [`Caseload::of`] reads the whole caseload (a therapist's every command
    /// asked for all their courses: 0.75 ms of server CPU a request at 300 courses on SQLite).
    pub async fn has(
        role: Role,
        user: &str,
        record: Record<'_>,
        pool: &Db,
    ) -> Result<bool, sqlx::Error> {
        let rows = match rule(role) {
            Rule::Fixed(caseload) => return Ok(caseload.holds(record)),
            Rule::Rows(rows) => rows,
        };
        let (column, id) = match record {
            Record::Subject(id) => ("subject_id", id),
            Record::Enrolment(id) => ("enrolment_id", id),
            Record::Order(id) => ("order_id", id),
        };
        // Both databases push the condition into each branch of the caseload's statement.
        desist_store::db::query_scalar(format!(
            "SELECT EXISTS (SELECT 1 FROM ({rows}) caseload WHERE {column} = $2)"
        ))
        .bind(user)
        .bind(id)
        .fetch_one(pool.reader())
        .await
    }
}

/// Who is on a role's caseload.
enum Rule {
    /// The same records whoever holds the role.
    Fixed(Caseload),
    /// The one statement of a caseload that depends on who holds it: a row `(subject_id,
    /// enrolment_id, order_id)` for each record the user (`$1`) may reach, each enrolment and
    /// order with its subject.
    Rows(&'static str),
}

fn rule(role: Role) -> Rule {
    let fixed = |subjects, enrolments, orders| {
        Rule::Fixed(Caseload {
            subjects,
            enrolments,
            orders,
        })
    };
    match role {
        Role::Admin | Role::System => fixed(Visible::All, Visible::All, Visible::All),
        Role::PoliceSpoOfficer => fixed(Visible::All, Visible::none(), Visible::All),
        Role::Evaluator => fixed(Visible::none(), Visible::none(), Visible::none()),
        // The courses allocated to them, and those courses' people.
        Role::Therapist => Rule::Rows(
            "SELECT subject_id, enrolment_id, NULL AS order_id FROM progress \
              WHERE practitioner = $1",
        ),
        // One statement, by join rather than by a list of ids (a caseload can be longer than
        // a statement may carry values): each person, with each of their courses, then each
        // of their orders. Every request starts here, so round trips count.
        Role::ProbationOfficer => Rule::Rows(
            "SELECT s.subject_id, p.enrolment_id, NULL AS order_id \
               FROM compliance_subjects s \
               LEFT JOIN progress p ON p.subject_id = s.subject_id \
              WHERE s.offender_manager = $1 \
             UNION ALL \
             SELECT o.subject_id, NULL, o.order_id \
               FROM compliance_orders o \
               JOIN compliance_subjects s ON s.subject_id = o.subject_id \
              WHERE s.offender_manager = $1",
        ),
    }
}

/// Case-level reads (subjects, enrolments, orders, compliance, caseload, history).
pub fn may_read_cases(role: Role) -> bool {
    role != Role::Evaluator
}

/// Disclosure-controlled outcome statistics.
pub fn may_read_outcomes(role: Role) -> bool {
    matches!(role, Role::Evaluator | Role::Admin)
}

/// The read audit.
pub fn may_read_audit(role: Role) -> bool {
    role == Role::Admin
}

/// Compliance alerts: the people who act on them.
pub fn may_receive_alerts(role: Role) -> bool {
    matches!(
        role,
        Role::ProbationOfficer | Role::PoliceSpoOfficer | Role::Admin
    )
}

/// What kind of command a mutation sends; each kind has one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Programmes, registration, demographics, allocation, suitability, erasure, export.
    Administer,
    /// The therapist's work on a course allocated to them.
    Course,
    /// The offender manager's work on a subject on their caseload.
    Compliance,
    /// Either of the two above (absence resolution, withdrawal, risk assessment).
    CourseOrCompliance,
    /// Police work on orders.
    Orders,
    /// Recording offences and their proof.
    Offences,
}

/// The caller's relation to the record a command targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Relation {
    /// The enrolment is allocated to the caller (therapist).
    pub own_enrolment: bool,
    /// The subject is on the caller's caseload (probation officer; for a therapist, a subject
    /// of one of their enrolments).
    pub own_subject: bool,
}

pub fn permits(role: Role, action: Action, relation: Relation) -> bool {
    use Action::*;
    use Role::*;
    match (role, action) {
        (Admin, _) => true,
        (Evaluator | System, _) => false,
        (Therapist, Course | CourseOrCompliance) => relation.own_enrolment,
        (Therapist, _) => false,
        (ProbationOfficer, Compliance | CourseOrCompliance | Offences) => relation.own_subject,
        (ProbationOfficer, _) => false,
        (PoliceSpoOfficer, Orders | Offences) => true,
        (PoliceSpoOfficer, _) => false,
    }
}

/// Whether clinical free text (session notes, chain analyses, concerns…) may be shown:
/// therapists on their own courses; admins with a break-glass reason; probation officers only
/// for concerns escalated to them.
pub fn may_read_clinical_text(role: Role, own: bool, break_glass: bool) -> bool {
    match role {
        Role::Therapist => own,
        Role::Admin => break_glass,
        _ => false,
    }
}

pub fn may_read_escalated_concerns(role: Role, own: bool) -> bool {
    matches!(role, Role::ProbationOfficer) && own
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: Relation = Relation {
        own_enrolment: true,
        own_subject: true,
    };
    const OTHER: Relation = Relation {
        own_enrolment: false,
        own_subject: false,
    };

    #[test]
    fn therapists_work_on_their_own_courses_only() {
        assert!(permits(Role::Therapist, Action::Course, OWN));
        assert!(!permits(Role::Therapist, Action::Course, OTHER));
        assert!(!permits(Role::Therapist, Action::Orders, OWN));
        assert!(!permits(Role::Therapist, Action::Administer, OWN));
    }

    #[test]
    fn probation_officers_act_on_their_caseload_and_police_on_orders() {
        assert!(permits(Role::ProbationOfficer, Action::Compliance, OWN));
        assert!(!permits(Role::ProbationOfficer, Action::Compliance, OTHER));
        assert!(!permits(Role::ProbationOfficer, Action::Course, OWN));
        assert!(permits(Role::PoliceSpoOfficer, Action::Orders, OTHER));
        assert!(!permits(Role::PoliceSpoOfficer, Action::Course, OWN));
    }

    #[test]
    fn evaluators_command_nothing_and_admins_everything() {
        for action in [
            Action::Administer,
            Action::Course,
            Action::Compliance,
            Action::CourseOrCompliance,
            Action::Orders,
            Action::Offences,
        ] {
            assert!(!permits(Role::Evaluator, action, OWN));
            assert!(permits(Role::Admin, action, OTHER));
        }
    }

    #[test]
    fn clinical_text_needs_ownership_or_a_break_glass_reason() {
        assert!(may_read_clinical_text(Role::Therapist, true, false));
        assert!(!may_read_clinical_text(Role::Therapist, false, true));
        assert!(!may_read_clinical_text(Role::Admin, true, false));
        assert!(may_read_clinical_text(Role::Admin, false, true));
        assert!(!may_read_clinical_text(Role::ProbationOfficer, true, true));
        assert!(may_read_escalated_concerns(Role::ProbationOfficer, true));
        assert!(!may_read_escalated_concerns(Role::PoliceSpoOfficer, true));
    }
}
