//! The mutation root: one mutation per domain command, `XInput` → `XPayload`.
//!
//! Every input takes an optional `commandId`: a retried request with the same id records
//! nothing new and answers with the first outcome. `occurredAt` (when it happened) defaults to
//! now. Rules the input breaks come back as `userErrors`; nothing is recorded then.

use async_graphql::{Context, InputObject, Object, Result, SimpleObject, ID};
use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::Aggregate;
use desist_domain::enrolment::{self as e, EnrolmentCommand};
use desist_domain::programme::{ProgrammeCommand, ProgrammeTerms};
use desist_domain::protection_order::{self as o, ConditionChange, OrderCommand};
use desist_domain::subject::{self as s, SubjectCommand};
use desist_domain::{DomainError, DomainServices, Sealed};
use desist_store::{CommandBus, CommandOutcome};

use super::enums::*;
use super::errors::{classify, UserError};
use super::ids::{decode, Kind};
use super::objects::*;
use crate::auth::policy::{self, Action, Record, Relation};

pub struct MutationRoot;

/// What a mutation did, before it is shaped into its payload.
pub struct Done<T> {
    object: Option<T>,
    user_errors: Vec<UserError>,
    command_id: Option<String>,
    replayed: bool,
}

macro_rules! payloads {
    ($($payload:ident { $field:ident: $object:ty })+) => {$(
        #[derive(SimpleObject)]
        pub struct $payload {
            /// The changed object (null when the command was refused).
            pub $field: Option<$object>,
            /// The rules the input broke; empty when the command was recorded.
            pub user_errors: Vec<UserError>,
            /// The command id recorded: the client's, or one the server chose.
            pub command_id: Option<String>,
            /// True when this command id had been recorded before and nothing new was written.
            pub replayed: bool,
        }

        impl From<Done<$object>> for $payload {
            fn from(d: Done<$object>) -> Self {
                Self {
                    $field: d.object,
                    user_errors: d.user_errors,
                    command_id: d.command_id,
                    replayed: d.replayed,
                }
            }
        }
    )+};
}

payloads! {
    DefineProgrammePayload { programme: Programme }
    RegisterSubjectPayload { subject: Subject }
    CorrectDemographicsPayload { subject: Subject }
    AllocateOffenderManagerPayload { subject: Subject }
    RecordRiskAssessmentPayload { subject: Subject }
    RecordOffencePayload { subject: Subject }
    RecordOffenceProvenPayload { subject: Subject }
    ReferPayload { enrolment: Enrolment }
    AssessSuitabilityPayload { enrolment: Enrolment }
    AllocatePayload { enrolment: Enrolment }
    StartEnrolmentPayload { enrolment: Enrolment }
    PauseEnrolmentPayload { enrolment: Enrolment }
    ResumeEnrolmentPayload { enrolment: Enrolment }
    ScheduleSessionPayload { enrolment: Enrolment }
    RescheduleSessionPayload { enrolment: Enrolment }
    CancelSessionPayload { enrolment: Enrolment }
    RecordAttendancePayload { enrolment: Enrolment }
    ResolveAbsencePayload { enrolment: Enrolment }
    CorrectAttendancePayload { enrolment: Enrolment }
    RecordSessionContentPayload { enrolment: Enrolment }
    RaiseConcernPayload { enrolment: Enrolment }
    AcknowledgeConcernPayload { enrolment: Enrolment }
    RecordChainAnalysisPayload { enrolment: Enrolment }
    IdentifyTriggerPayload { enrolment: Enrolment }
    RecordCopingPlanPayload { enrolment: Enrolment }
    RecordEnforcementActionPayload { enrolment: Enrolment }
    CompleteEnrolmentPayload { enrolment: Enrolment }
    WithdrawEnrolmentPayload { enrolment: Enrolment }
    MakeOrderPayload { order: ProtectionOrder }
    ServeOrderPayload { order: ProtectionOrder }
    GiveNotificationPayload { order: ProtectionOrder }
    VaryOrderPayload { order: ProtectionOrder }
    RenewOrderPayload { order: ProtectionOrder }
    DischargeOrderPayload { order: ProtectionOrder }
    DetermineAppealPayload { order: ProtectionOrder }
    ReportBreachPayload { order: ProtectionOrder }
    AssessBreachPayload { order: ProtectionOrder }
    RecordBreachOutcomePayload { order: ProtectionOrder }
}

fn now_or(ctx: &Context<'_>, at: Option<DateTime<Utc>>) -> DateTime<Utc> {
    at.unwrap_or_else(|| app(ctx).services.now())
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// An input the GraphQL types cannot refuse but the domain would never see, as a user error.
fn invalid(field: &str, message: impl Into<String>) -> UserError {
    UserError {
        field: field.to_string(),
        message: message.into(),
        code: "INVALID_VALUE".into(),
    }
}

fn small(field: &str, value: i32) -> Result<u16, UserError> {
    u16::try_from(value)
        .map_err(|_| invalid(field, format!("{field}: must be between 0 and 65535")))
}

fn sealed(text: Option<String>) -> Option<Sealed> {
    text.map(Sealed::plain)
}

/// Refuses (FORBIDDEN) a command the caller's role and caseload do not allow. A target that
/// does not exist is refused exactly like one on someone else's caseload.
async fn guard(ctx: &Context<'_>, action: Action, target: Option<Record<'_>>) -> Result<()> {
    let role = caller(ctx).actor.role;
    let own = match target {
        None => false,
        Some(record) => reaches(ctx, record).await?,
    };
    let relation = Relation {
        own_enrolment: own,
        own_subject: own,
    };
    if policy::permits(role, action, relation) {
        Ok(())
    } else {
        Err(forbidden())
    }
}

/// What happened to a command: recorded (and visible in the views), or refused.
type Executed = std::result::Result<CommandOutcome, Vec<UserError>>;

/// Runs `command` on `bus` and waits for the views to show it.
async fn run<A>(
    ctx: &Context<'_>,
    bus: &CommandBus<A>,
    id: &str,
    command_id: Option<String>,
    command: std::result::Result<A::Command, UserError>,
) -> Result<Executed>
where
    A: Aggregate<Error = DomainError, Services = DomainServices>,
    A::Command: serde::Serialize + Clone + Send + Sync,
{
    let command = match command {
        Ok(command) => command,
        Err(user_error) => return Ok(Err(vec![user_error])),
    };
    let metadata = app(ctx).metadata(caller(ctx), command_id);
    finish(ctx, bus.execute(id, command, &metadata).await).await
}

async fn finish(
    ctx: &Context<'_>,
    outcome: std::result::Result<CommandOutcome, desist_store::CommandError>,
) -> Result<Executed> {
    match outcome {
        Ok(outcome) => {
            app(ctx).wait_for_views(&outcome).await;
            Ok(Ok(outcome))
        }
        Err(e) => Ok(Err(classify(e, &caller(ctx).correlation_id)?)),
    }
}

/// The domain calls the aggregate's own id "id"; the input calls it `id_field`.
fn name_id_field(mut executed: Executed, id_field: &str) -> Executed {
    if let Err(errors) = &mut executed {
        for error in errors.iter_mut().filter(|e| e.field == "id") {
            error.field = id_field.to_string();
        }
    }
    executed
}

/// The object a payload returns: loaded only when the command was recorded and the client
/// selected the payload's `field`. An object nobody asked for is not read, so it is not written
/// to the read audit as seen either.
async fn returned<T>(
    ctx: &Context<'_>,
    executed: &Executed,
    field: &str,
    load: impl std::future::Future<Output = Result<Option<T>>>,
) -> Result<Option<T>> {
    if executed.is_ok() && ctx.look_ahead().field(field).exists() {
        load.await
    } else {
        Ok(None)
    }
}

/// Shapes an executed command and the reloaded object into a payload.
fn done<T>(executed: Executed, object: Option<T>) -> Done<T> {
    match executed {
        Ok(outcome) => Done {
            object,
            user_errors: Vec::new(),
            command_id: Some(outcome.command_id),
            replayed: outcome.replayed,
        },
        Err(user_errors) => Done {
            object: None,
            user_errors,
            command_id: None,
            replayed: false,
        },
    }
}

async fn enrolment(
    ctx: &Context<'_>,
    action: Action,
    enrolment_id: &ID,
    command_id: Option<String>,
    command: std::result::Result<EnrolmentCommand, UserError>,
) -> Result<Done<Enrolment>> {
    let id = decode(enrolment_id, Kind::Enrolment, "enrolmentId")?;
    guard(ctx, action, Some(Record::Enrolment(&id))).await?;
    let executed = run(ctx, &app(ctx).write.enrolments, &id, command_id, command).await?;
    let executed = name_id_field(executed, "enrolmentId");
    let object = returned(ctx, &executed, "enrolment", load_enrolment(ctx, &id)).await?;
    Ok(done(executed, object))
}

async fn subject(
    ctx: &Context<'_>,
    action: Action,
    subject_id: &str,
    id_field: &str,
    command_id: Option<String>,
    command: std::result::Result<SubjectCommand, UserError>,
) -> Result<Done<Subject>> {
    guard(ctx, action, Some(Record::Subject(subject_id))).await?;
    let executed = run(
        ctx,
        &app(ctx).write.subjects,
        subject_id,
        command_id,
        command,
    )
    .await?;
    let executed = name_id_field(executed, id_field);
    let object = returned(ctx, &executed, "subject", load_subject(ctx, subject_id)).await?;
    Ok(done(executed, object))
}

async fn order(
    ctx: &Context<'_>,
    order_id: &ID,
    command_id: Option<String>,
    command: std::result::Result<OrderCommand, UserError>,
) -> Result<Done<ProtectionOrder>> {
    let id = decode(order_id, Kind::ProtectionOrder, "orderId")?;
    guard(ctx, Action::Orders, Some(Record::Order(&id))).await?;
    let executed = run(ctx, &app(ctx).write.orders, &id, command_id, command).await?;
    let executed = name_id_field(executed, "orderId");
    let object = returned(ctx, &executed, "order", load_order(ctx, &id)).await?;
    Ok(done(executed, object))
}

// --- inputs -----------------------------------------------------------------------------------

#[derive(InputObject)]
pub struct DefineProgrammeInput {
    pub command_id: Option<String>,
    pub code: String,
    pub version: String,
    pub planned_sessions: i32,
    pub min_attended_for_completion: i32,
    #[graphql(default)]
    pub modules: Vec<SkillsModule>,
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct RegisterSubjectInput {
    pub command_id: Option<String>,
    /// The pseudonymous reference (never a name or police identifier).
    #[graphql(name = "ref")]
    pub reference: String,
    pub birth_year: i32,
    pub sex: Sex,
    pub area: String,
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct DemographicsInput {
    pub birth_year: i32,
    pub sex: Sex,
    pub area: String,
}

/// A correction keeps the previous values and says why.
#[derive(InputObject)]
pub struct CorrectDemographicsInput {
    pub command_id: Option<String>,
    pub subject_id: ID,
    pub demographics: DemographicsInput,
    pub reason: String,
    pub occurred_at: Option<DateTime<Utc>>,
}

/// Puts the subject on a probation officer's caseload.
#[derive(InputObject)]
pub struct AllocateOffenderManagerInput {
    pub command_id: Option<String>,
    pub subject_id: ID,
    /// The officer's user id (as in their token's `sub`).
    pub officer: String,
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct SrpInput {
    pub stalker_type: StalkerType,
    pub violence: Rating,
    pub persistence: Rating,
    pub recurrence: Rating,
    pub psychosocial_damage: Rating,
}

/// Ratings only: the tools are licensed and their questions are never stored. Give exactly
/// one of `srp`, `sDashYesCount` and `sashConcern`.
#[derive(InputObject)]
pub struct RecordRiskAssessmentInput {
    pub command_id: Option<String>,
    pub subject_id: ID,
    pub tool_version: String,
    pub assessor: String,
    pub srp: Option<SrpInput>,
    pub s_dash_yes_count: Option<i32>,
    pub sash_concern: Option<Rating>,
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct RecordOffenceInput {
    pub command_id: Option<String>,
    pub subject_id: ID,
    pub offence_id: Option<String>,
    pub category: OffenceCategory,
    /// When the offence was committed.
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct RecordOffenceProvenInput {
    pub command_id: Option<String>,
    pub subject_id: ID,
    pub offence_id: String,
    pub disposal: OffenceDisposal,
    /// When it was proven (caution or conviction).
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct ReferInput {
    pub command_id: Option<String>,
    /// The enrolment's reference; the server chooses one if omitted.
    #[graphql(name = "ref")]
    pub reference: Option<String>,
    pub subject_id: ID,
    pub programme_code: String,
    pub programme_version: String,
    pub route: ReferralRoute,
    pub occurred_at: Option<DateTime<Utc>>,
}

/// A step of the course that needs nothing but the enrolment and a date.
#[derive(InputObject)]
pub struct EnrolmentStepInput {
    pub command_id: Option<String>,
    pub enrolment_id: ID,
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct AssessSuitabilityInput {
    pub command_id: Option<String>,
    pub enrolment_id: ID,
    pub suitable: bool,
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct AllocateInput {
    pub command_id: Option<String>,
    pub enrolment_id: ID,
    pub practitioner: String,
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct PauseEnrolmentInput {
    pub command_id: Option<String>,
    pub enrolment_id: ID,
    pub reason: Option<String>,
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct ScheduleSessionInput {
    pub command_id: Option<String>,
    pub enrolment_id: ID,
    /// The session's id; the server chooses one if omitted.
    pub session_id: Option<String>,
    /// The content number, 1 to the programme's planned sessions.
    pub number: i32,
    pub scheduled_at: DateTime<Utc>,
    pub mode: SessionMode,
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct RescheduleSessionInput {
    pub command_id: Option<String>,
    pub enrolment_id: ID,
    pub session_id: String,
    pub new_session_id: Option<String>,
    pub scheduled_at: DateTime<Utc>,
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct CancelSessionInput {
    pub command_id: Option<String>,
    pub enrolment_id: ID,
    pub session_id: String,
    /// A participant's cancellation is recorded as a provisional absence.
    pub by: CancelledBy,
    pub reason: String,
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct RecordAttendanceInput {
    pub command_id: Option<String>,
    pub enrolment_id: ID,
    pub session_id: String,
    pub attendance: Attendance,
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct ResolveAbsenceInput {
    pub command_id: Option<String>,
    pub enrolment_id: ID,
    pub session_id: String,
    pub acceptable: bool,
    /// Required when acceptable.
    pub reason: Option<AbsenceReason>,
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct CorrectAttendanceInput {
    pub command_id: Option<String>,
    pub enrolment_id: ID,
    pub session_id: String,
    pub attendance: Attendance,
    pub reason: String,
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct RecordSessionContentInput {
    pub command_id: Option<String>,
    pub enrolment_id: ID,
    pub session_id: String,
    #[graphql(default)]
    pub modules_covered: Vec<SkillsModule>,
    #[graphql(default)]
    pub skills_practised: Vec<String>,
    pub homework_set: Option<String>,
    #[graphql(default)]
    pub diary_card_reviewed: bool,
    /// 1 (disengaged) to 5 (fully engaged).
    pub engagement: Option<i32>,
    pub notes: Option<String>,
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct RaiseConcernInput {
    pub command_id: Option<String>,
    pub enrolment_id: ID,
    pub concern_id: Option<String>,
    pub session_id: String,
    pub kind: ConcernKind,
    pub text: String,
    pub notify_probation: bool,
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct AcknowledgeConcernInput {
    pub command_id: Option<String>,
    pub enrolment_id: ID,
    pub concern_id: String,
    pub occurred_at: Option<DateTime<Utc>>,
}

/// One episode broken into its links. No step may name a victim.
#[derive(InputObject)]
pub struct RecordChainAnalysisInput {
    pub command_id: Option<String>,
    pub enrolment_id: ID,
    pub chain_id: Option<String>,
    pub session_id: Option<String>,
    pub vulnerability: String,
    pub prompting_event: String,
    pub trigger_category: TriggerCategory,
    pub thoughts: String,
    pub emotions: String,
    pub urges: String,
    pub action: String,
    pub consequences: String,
    pub alternative_skill: SkillsModule,
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct IdentifyTriggerInput {
    pub command_id: Option<String>,
    pub enrolment_id: ID,
    pub trigger_id: Option<String>,
    pub category: TriggerCategory,
    pub description: String,
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct RecordCopingPlanInput {
    pub command_id: Option<String>,
    pub enrolment_id: ID,
    pub trigger_id: String,
    pub plan: String,
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct RecordEnforcementActionInput {
    pub command_id: Option<String>,
    pub enrolment_id: ID,
    pub action: EnforcementAction,
    pub note: Option<String>,
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct WithdrawEnrolmentInput {
    pub command_id: Option<String>,
    pub enrolment_id: ID,
    pub reason: WithdrawalReason,
    /// Required when the reason is OTHER.
    pub reason_text: Option<String>,
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct ConditionInput {
    pub condition_id: String,
    pub kind: ConditionKind,
    pub category: ConditionCategory,
    pub from: NaiveDate,
    pub until: Option<NaiveDate>,
    /// Protected people only as opaque tokens.
    pub description: Option<String>,
}

impl From<ConditionInput> for o::ConditionTerms {
    fn from(c: ConditionInput) -> Self {
        Self {
            condition_id: c.condition_id,
            kind: c.kind.into(),
            category: c.category.into(),
            from: c.from,
            until: c.until,
            description: sealed(c.description),
        }
    }
}

#[derive(InputObject)]
pub struct MakeOrderInput {
    pub command_id: Option<String>,
    /// The order's reference; the server chooses one if omitted.
    #[graphql(name = "ref")]
    pub reference: Option<String>,
    pub subject_id: ID,
    pub kind: OrderKind,
    /// Required for interim orders; a full order runs at least two years or, if omitted,
    /// until further order.
    pub ends_on: Option<NaiveDate>,
    pub conditions: Vec<ConditionInput>,
    /// When the court made the order.
    pub occurred_at: Option<DateTime<Utc>>,
}

/// A step that needs nothing but the order and a date.
#[derive(InputObject)]
pub struct OrderStepInput {
    pub command_id: Option<String>,
    pub order_id: ID,
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct GiveNotificationInput {
    pub command_id: Option<String>,
    pub order_id: ID,
    pub kind: NotificationKind,
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct VaryOrderInput {
    pub command_id: Option<String>,
    pub order_id: ID,
    #[graphql(default)]
    pub add: Vec<ConditionInput>,
    /// New wording for existing conditions (by conditionId), from the variation date.
    #[graphql(default)]
    pub change: Vec<ConditionInput>,
    #[graphql(default)]
    pub remove: Vec<String>,
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct RenewOrderInput {
    pub command_id: Option<String>,
    pub order_id: ID,
    pub ends_on: Option<NaiveDate>,
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct DetermineAppealInput {
    pub command_id: Option<String>,
    pub order_id: ID,
    pub outcome: AppealOutcome,
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct ReportBreachInput {
    pub command_id: Option<String>,
    pub order_id: ID,
    pub breach_id: Option<String>,
    pub condition_id: String,
    /// The day the breach happened.
    pub occurred_on: NaiveDate,
    pub description: Option<String>,
    /// When it was reported.
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct AssessBreachInput {
    pub command_id: Option<String>,
    pub order_id: ID,
    pub breach_id: String,
    pub reasonable_excuse: bool,
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct RecordBreachOutcomeInput {
    pub command_id: Option<String>,
    pub order_id: ID,
    pub breach_id: String,
    pub decision: BreachDecision,
    pub decided_by: DecidedBy,
    pub occurred_at: Option<DateTime<Utc>>,
}

// --- mutations --------------------------------------------------------------------------------

#[Object]
impl MutationRoot {
    async fn define_programme(
        &self,
        ctx: &Context<'_>,
        input: DefineProgrammeInput,
    ) -> Result<DefineProgrammePayload> {
        guard(ctx, Action::Administer, None).await?;
        let id = desist_domain::programme::programme_id(&input.code, &input.version);
        let command = (|| {
            Ok(ProgrammeCommand::DefineProgramme {
                terms: ProgrammeTerms {
                    code: input.code,
                    version: input.version,
                    planned_sessions: small("plannedSessions", input.planned_sessions)?,
                    min_attended_for_completion: small(
                        "minAttendedForCompletion",
                        input.min_attended_for_completion,
                    )?,
                },
                modules: input.modules.into_iter().map(Into::into).collect(),
                occurred_at: now_or(ctx, input.occurred_at),
            })
        })();
        let bus = &app(ctx).write.programmes;
        let executed = run(ctx, bus, &id, input.command_id, command).await?;
        // A programme is known by its code and version: "already recorded" is about them.
        let executed = name_id_field(executed, "version");
        let object = returned(ctx, &executed, "programme", load_programme(ctx, &id)).await?;
        Ok(done(executed, object).into())
    }

    async fn register_subject(
        &self,
        ctx: &Context<'_>,
        input: RegisterSubjectInput,
    ) -> Result<RegisterSubjectPayload> {
        let command = SubjectCommand::RegisterSubject {
            demographics: s::Demographics {
                birth_year: input.birth_year,
                sex: input.sex.into(),
                area: input.area,
            },
            occurred_at: now_or(ctx, input.occurred_at),
        };
        Ok(subject(
            ctx,
            Action::Administer,
            &input.reference,
            "ref",
            input.command_id,
            Ok(command),
        )
        .await?
        .into())
    }

    async fn correct_demographics(
        &self,
        ctx: &Context<'_>,
        input: CorrectDemographicsInput,
    ) -> Result<CorrectDemographicsPayload> {
        let id = decode(&input.subject_id, Kind::Subject, "subjectId")?;
        let command = SubjectCommand::CorrectDemographics {
            corrected: s::Demographics {
                birth_year: input.demographics.birth_year,
                sex: input.demographics.sex.into(),
                area: input.demographics.area,
            },
            reason: Sealed::plain(input.reason),
            occurred_at: now_or(ctx, input.occurred_at),
        };
        Ok(subject(
            ctx,
            Action::Administer,
            &id,
            "subjectId",
            input.command_id,
            Ok(command),
        )
        .await?
        .into())
    }

    /// Stores a subject's names, date of birth, addresses and police identifiers in the
    /// identity vault, encrypted with the subject's key (admin).
    async fn record_identity(
        &self,
        ctx: &Context<'_>,
        input: super::privacy::RecordIdentityInput,
    ) -> Result<super::privacy::RecordIdentityPayload> {
        super::privacy::record_identity(ctx, input).await
    }

    /// Destroys the subject's key (crypto-shredding): their text everywhere becomes
    /// `[erased]`; counts and statistics are unchanged (admin, with a reason).
    async fn erase_subject(
        &self,
        ctx: &Context<'_>,
        input: super::privacy::EraseSubjectInput,
    ) -> Result<super::privacy::EraseSubjectPayload> {
        super::privacy::erase_subject(ctx, input).await
    }

    async fn allocate_offender_manager(
        &self,
        ctx: &Context<'_>,
        input: AllocateOffenderManagerInput,
    ) -> Result<AllocateOffenderManagerPayload> {
        let id = decode(&input.subject_id, Kind::Subject, "subjectId")?;
        let command = SubjectCommand::AllocateOffenderManager {
            officer: input.officer,
            occurred_at: now_or(ctx, input.occurred_at),
        };
        Ok(subject(
            ctx,
            Action::Administer,
            &id,
            "subjectId",
            input.command_id,
            Ok(command),
        )
        .await?
        .into())
    }

    async fn record_risk_assessment(
        &self,
        ctx: &Context<'_>,
        input: RecordRiskAssessmentInput,
    ) -> Result<RecordRiskAssessmentPayload> {
        let id = decode(&input.subject_id, Kind::Subject, "subjectId")?;
        let assessment = match (input.srp, input.s_dash_yes_count, input.sash_concern) {
            (Some(srp), None, None) => Ok(s::RiskAssessment::Srp {
                stalker_type: srp.stalker_type.into(),
                ratings: s::SrpRatings {
                    violence: srp.violence.into(),
                    persistence: srp.persistence.into(),
                    recurrence: srp.recurrence.into(),
                    psychosocial_damage: srp.psychosocial_damage.into(),
                },
            }),
            (None, Some(count), None) => u8::try_from(count)
                .map(|yes_count| s::RiskAssessment::SDash { yes_count })
                .map_err(|_| invalid("sDashYesCount", "sDashYesCount: must be between 0 and 24")),
            (None, None, Some(concern)) => Ok(s::RiskAssessment::Sash {
                concern: concern.into(),
            }),
            _ => Err(invalid(
                "srp",
                "give exactly one of srp, sDashYesCount and sashConcern",
            )),
        };
        let command = assessment.map(|assessment| SubjectCommand::RecordRiskAssessment {
            assessment,
            tool_version: input.tool_version,
            assessor: input.assessor,
            occurred_at: now_or(ctx, input.occurred_at),
        });
        Ok(subject(
            ctx,
            Action::CourseOrCompliance,
            &id,
            "subjectId",
            input.command_id,
            command,
        )
        .await?
        .into())
    }

    async fn record_offence(
        &self,
        ctx: &Context<'_>,
        input: RecordOffenceInput,
    ) -> Result<RecordOffencePayload> {
        let id = decode(&input.subject_id, Kind::Subject, "subjectId")?;
        let command = SubjectCommand::RecordOffence {
            offence_id: input.offence_id.unwrap_or_else(new_id),
            category: input.category.into(),
            occurred_at: now_or(ctx, input.occurred_at),
        };
        Ok(subject(
            ctx,
            Action::Offences,
            &id,
            "subjectId",
            input.command_id,
            Ok(command),
        )
        .await?
        .into())
    }

    async fn record_offence_proven(
        &self,
        ctx: &Context<'_>,
        input: RecordOffenceProvenInput,
    ) -> Result<RecordOffenceProvenPayload> {
        let id = decode(&input.subject_id, Kind::Subject, "subjectId")?;
        let command = SubjectCommand::RecordOffenceProven {
            offence_id: input.offence_id,
            disposal: input.disposal.into(),
            occurred_at: now_or(ctx, input.occurred_at),
        };
        Ok(subject(
            ctx,
            Action::Offences,
            &id,
            "subjectId",
            input.command_id,
            Ok(command),
        )
        .await?
        .into())
    }

    /// Refers a registered subject to a programme version; the enrolment keeps its terms.
    async fn refer(&self, ctx: &Context<'_>, input: ReferInput) -> Result<ReferPayload> {
        let subject_id = decode(&input.subject_id, Kind::Subject, "subjectId")?;
        guard(ctx, Action::Compliance, Some(Record::Subject(&subject_id))).await?;
        let enrolment_id = input.reference.unwrap_or_else(new_id);
        let programme =
            desist_domain::programme::programme_id(&input.programme_code, &input.programme_version);
        let metadata = app(ctx).metadata(caller(ctx), input.command_id);
        let outcome = app(ctx)
            .write
            .refer(
                &enrolment_id,
                &subject_id,
                &programme,
                input.route.into(),
                now_or(ctx, input.occurred_at),
                &metadata,
            )
            .await;
        let executed = name_id_field(finish(ctx, outcome).await?, "ref");
        let object = returned(
            ctx,
            &executed,
            "enrolment",
            load_enrolment(ctx, &enrolment_id),
        )
        .await?;
        let mut done = done(executed, object);
        // The write side names the missing record; point the client at its input field.
        for error in &mut done.user_errors {
            if error.message.contains("no subject") {
                error.field = "subjectId".into();
            } else if error.message.contains("no programme") {
                error.field = "programmeVersion".into();
            }
        }
        Ok(done.into())
    }

    async fn assess_suitability(
        &self,
        ctx: &Context<'_>,
        input: AssessSuitabilityInput,
    ) -> Result<AssessSuitabilityPayload> {
        let command = EnrolmentCommand::AssessSuitability {
            suitable: input.suitable,
            occurred_at: now_or(ctx, input.occurred_at),
        };
        Ok(enrolment(
            ctx,
            Action::Administer,
            &input.enrolment_id,
            input.command_id,
            Ok(command),
        )
        .await?
        .into())
    }

    async fn allocate(&self, ctx: &Context<'_>, input: AllocateInput) -> Result<AllocatePayload> {
        let command = EnrolmentCommand::Allocate {
            practitioner: input.practitioner,
            occurred_at: now_or(ctx, input.occurred_at),
        };
        Ok(enrolment(
            ctx,
            Action::Administer,
            &input.enrolment_id,
            input.command_id,
            Ok(command),
        )
        .await?
        .into())
    }

    async fn start_enrolment(
        &self,
        ctx: &Context<'_>,
        input: EnrolmentStepInput,
    ) -> Result<StartEnrolmentPayload> {
        let command = EnrolmentCommand::Start {
            occurred_at: now_or(ctx, input.occurred_at),
        };
        Ok(enrolment(
            ctx,
            Action::Course,
            &input.enrolment_id,
            input.command_id,
            Ok(command),
        )
        .await?
        .into())
    }

    async fn pause_enrolment(
        &self,
        ctx: &Context<'_>,
        input: PauseEnrolmentInput,
    ) -> Result<PauseEnrolmentPayload> {
        let command = EnrolmentCommand::Pause {
            reason: sealed(input.reason),
            occurred_at: now_or(ctx, input.occurred_at),
        };
        Ok(enrolment(
            ctx,
            Action::Course,
            &input.enrolment_id,
            input.command_id,
            Ok(command),
        )
        .await?
        .into())
    }

    async fn resume_enrolment(
        &self,
        ctx: &Context<'_>,
        input: EnrolmentStepInput,
    ) -> Result<ResumeEnrolmentPayload> {
        let command = EnrolmentCommand::Resume {
            occurred_at: now_or(ctx, input.occurred_at),
        };
        Ok(enrolment(
            ctx,
            Action::Course,
            &input.enrolment_id,
            input.command_id,
            Ok(command),
        )
        .await?
        .into())
    }

    async fn schedule_session(
        &self,
        ctx: &Context<'_>,
        input: ScheduleSessionInput,
    ) -> Result<ScheduleSessionPayload> {
        let command =
            small("number", input.number).map(|number| EnrolmentCommand::ScheduleSession {
                session_id: input.session_id.unwrap_or_else(new_id),
                number,
                scheduled_at: input.scheduled_at,
                mode: input.mode.into(),
                occurred_at: now_or(ctx, input.occurred_at),
            });
        Ok(enrolment(
            ctx,
            Action::Course,
            &input.enrolment_id,
            input.command_id,
            command,
        )
        .await?
        .into())
    }

    async fn reschedule_session(
        &self,
        ctx: &Context<'_>,
        input: RescheduleSessionInput,
    ) -> Result<RescheduleSessionPayload> {
        let command = EnrolmentCommand::RescheduleSession {
            session_id: input.session_id,
            new_session_id: input.new_session_id.unwrap_or_else(new_id),
            scheduled_at: input.scheduled_at,
            occurred_at: now_or(ctx, input.occurred_at),
        };
        Ok(enrolment(
            ctx,
            Action::Course,
            &input.enrolment_id,
            input.command_id,
            Ok(command),
        )
        .await?
        .into())
    }

    async fn cancel_session(
        &self,
        ctx: &Context<'_>,
        input: CancelSessionInput,
    ) -> Result<CancelSessionPayload> {
        let command = EnrolmentCommand::CancelSession {
            session_id: input.session_id,
            by: input.by.into(),
            reason: Sealed::plain(input.reason),
            occurred_at: now_or(ctx, input.occurred_at),
        };
        Ok(enrolment(
            ctx,
            Action::Course,
            &input.enrolment_id,
            input.command_id,
            Ok(command),
        )
        .await?
        .into())
    }

    async fn record_attendance(
        &self,
        ctx: &Context<'_>,
        input: RecordAttendanceInput,
    ) -> Result<RecordAttendancePayload> {
        let command = EnrolmentCommand::RecordAttendance {
            session_id: input.session_id,
            attendance: input.attendance.into(),
            occurred_at: now_or(ctx, input.occurred_at),
        };
        Ok(enrolment(
            ctx,
            Action::Course,
            &input.enrolment_id,
            input.command_id,
            Ok(command),
        )
        .await?
        .into())
    }

    async fn resolve_absence(
        &self,
        ctx: &Context<'_>,
        input: ResolveAbsenceInput,
    ) -> Result<ResolveAbsencePayload> {
        let resolution = match (input.acceptable, input.reason) {
            (true, Some(reason)) => Ok(e::AbsenceResolution::Acceptable {
                reason: reason.into(),
            }),
            (true, None) => Err(invalid(
                "reason",
                "reason: is required when the absence is acceptable",
            )),
            (false, _) => Ok(e::AbsenceResolution::Unacceptable),
        };
        let command = resolution.map(|resolution| EnrolmentCommand::ResolveAbsence {
            session_id: input.session_id,
            resolution,
            occurred_at: now_or(ctx, input.occurred_at),
        });
        Ok(enrolment(
            ctx,
            Action::CourseOrCompliance,
            &input.enrolment_id,
            input.command_id,
            command,
        )
        .await?
        .into())
    }

    async fn correct_attendance(
        &self,
        ctx: &Context<'_>,
        input: CorrectAttendanceInput,
    ) -> Result<CorrectAttendancePayload> {
        let command = EnrolmentCommand::CorrectAttendance {
            session_id: input.session_id,
            attendance: input.attendance.into(),
            reason: Sealed::plain(input.reason),
            occurred_at: now_or(ctx, input.occurred_at),
        };
        Ok(enrolment(
            ctx,
            Action::Course,
            &input.enrolment_id,
            input.command_id,
            Ok(command),
        )
        .await?
        .into())
    }

    async fn record_session_content(
        &self,
        ctx: &Context<'_>,
        input: RecordSessionContentInput,
    ) -> Result<RecordSessionContentPayload> {
        let engagement = match input.engagement {
            None => Ok(None),
            Some(v) => u8::try_from(v)
                .map(Some)
                .map_err(|_| invalid("engagement", "engagement: must be between 1 and 5")),
        };
        let command = engagement.map(|engagement| EnrolmentCommand::RecordSessionContent {
            session_id: input.session_id,
            content: e::SessionContent {
                modules_covered: input.modules_covered.into_iter().map(Into::into).collect(),
                skills_practised: input.skills_practised,
                homework_set: sealed(input.homework_set),
                diary_card_reviewed: input.diary_card_reviewed,
                engagement,
                notes: sealed(input.notes),
            },
            occurred_at: now_or(ctx, input.occurred_at),
        });
        Ok(enrolment(
            ctx,
            Action::Course,
            &input.enrolment_id,
            input.command_id,
            command,
        )
        .await?
        .into())
    }

    async fn raise_concern(
        &self,
        ctx: &Context<'_>,
        input: RaiseConcernInput,
    ) -> Result<RaiseConcernPayload> {
        let command = EnrolmentCommand::RaiseConcern {
            concern_id: input.concern_id.unwrap_or_else(new_id),
            session_id: input.session_id,
            kind: input.kind.into(),
            text: Sealed::plain(input.text),
            notify_probation: input.notify_probation,
            occurred_at: now_or(ctx, input.occurred_at),
        };
        Ok(enrolment(
            ctx,
            Action::Course,
            &input.enrolment_id,
            input.command_id,
            Ok(command),
        )
        .await?
        .into())
    }

    async fn acknowledge_concern(
        &self,
        ctx: &Context<'_>,
        input: AcknowledgeConcernInput,
    ) -> Result<AcknowledgeConcernPayload> {
        let command = EnrolmentCommand::AcknowledgeConcern {
            concern_id: input.concern_id,
            occurred_at: now_or(ctx, input.occurred_at),
        };
        Ok(enrolment(
            ctx,
            Action::Compliance,
            &input.enrolment_id,
            input.command_id,
            Ok(command),
        )
        .await?
        .into())
    }

    async fn record_chain_analysis(
        &self,
        ctx: &Context<'_>,
        input: RecordChainAnalysisInput,
    ) -> Result<RecordChainAnalysisPayload> {
        let command = EnrolmentCommand::RecordChainAnalysis {
            chain_id: input.chain_id.unwrap_or_else(new_id),
            session_id: input.session_id,
            chain: e::ChainAnalysis {
                vulnerability: Sealed::plain(input.vulnerability),
                prompting_event: Sealed::plain(input.prompting_event),
                trigger_category: input.trigger_category.into(),
                thoughts: Sealed::plain(input.thoughts),
                emotions: Sealed::plain(input.emotions),
                urges: Sealed::plain(input.urges),
                action: Sealed::plain(input.action),
                consequences: Sealed::plain(input.consequences),
                alternative_skill: input.alternative_skill.into(),
            },
            occurred_at: now_or(ctx, input.occurred_at),
        };
        Ok(enrolment(
            ctx,
            Action::Course,
            &input.enrolment_id,
            input.command_id,
            Ok(command),
        )
        .await?
        .into())
    }

    async fn identify_trigger(
        &self,
        ctx: &Context<'_>,
        input: IdentifyTriggerInput,
    ) -> Result<IdentifyTriggerPayload> {
        let command = EnrolmentCommand::IdentifyTrigger {
            trigger_id: input.trigger_id.unwrap_or_else(new_id),
            category: input.category.into(),
            description: Sealed::plain(input.description),
            occurred_at: now_or(ctx, input.occurred_at),
        };
        Ok(enrolment(
            ctx,
            Action::Course,
            &input.enrolment_id,
            input.command_id,
            Ok(command),
        )
        .await?
        .into())
    }

    async fn record_coping_plan(
        &self,
        ctx: &Context<'_>,
        input: RecordCopingPlanInput,
    ) -> Result<RecordCopingPlanPayload> {
        let command = EnrolmentCommand::RecordCopingPlan {
            trigger_id: input.trigger_id,
            plan: Sealed::plain(input.plan),
            occurred_at: now_or(ctx, input.occurred_at),
        };
        Ok(enrolment(
            ctx,
            Action::Course,
            &input.enrolment_id,
            input.command_id,
            Ok(command),
        )
        .await?
        .into())
    }

    async fn record_enforcement_action(
        &self,
        ctx: &Context<'_>,
        input: RecordEnforcementActionInput,
    ) -> Result<RecordEnforcementActionPayload> {
        let command = EnrolmentCommand::RecordEnforcementAction {
            action: input.action.into(),
            note: sealed(input.note),
            occurred_at: now_or(ctx, input.occurred_at),
        };
        Ok(enrolment(
            ctx,
            Action::Compliance,
            &input.enrolment_id,
            input.command_id,
            Ok(command),
        )
        .await?
        .into())
    }

    async fn complete_enrolment(
        &self,
        ctx: &Context<'_>,
        input: EnrolmentStepInput,
    ) -> Result<CompleteEnrolmentPayload> {
        let command = EnrolmentCommand::Complete {
            occurred_at: now_or(ctx, input.occurred_at),
        };
        Ok(enrolment(
            ctx,
            Action::Course,
            &input.enrolment_id,
            input.command_id,
            Ok(command),
        )
        .await?
        .into())
    }

    async fn withdraw_enrolment(
        &self,
        ctx: &Context<'_>,
        input: WithdrawEnrolmentInput,
    ) -> Result<WithdrawEnrolmentPayload> {
        let command = EnrolmentCommand::Withdraw {
            reason: input.reason.into(),
            reason_text: sealed(input.reason_text),
            occurred_at: now_or(ctx, input.occurred_at),
        };
        Ok(enrolment(
            ctx,
            Action::CourseOrCompliance,
            &input.enrolment_id,
            input.command_id,
            Ok(command),
        )
        .await?
        .into())
    }

    async fn make_order(
        &self,
        ctx: &Context<'_>,
        input: MakeOrderInput,
    ) -> Result<MakeOrderPayload> {
        let subject_id = decode(&input.subject_id, Kind::Subject, "subjectId")?;
        guard(ctx, Action::Orders, None).await?;
        let order_id = input.reference.unwrap_or_else(new_id);
        let command = OrderCommand::MakeOrder {
            subject_id,
            kind: input.kind.into(),
            ends_on: input.ends_on,
            conditions: input.conditions.into_iter().map(Into::into).collect(),
            occurred_at: now_or(ctx, input.occurred_at),
        };
        let metadata = app(ctx).metadata(caller(ctx), input.command_id);
        let outcome = app(ctx)
            .write
            .make_order(&order_id, command, &metadata)
            .await;
        let executed = name_id_field(finish(ctx, outcome).await?, "ref");
        let object = returned(ctx, &executed, "order", load_order(ctx, &order_id)).await?;
        let mut done = done(executed, object);
        for error in &mut done.user_errors {
            if error.message.contains("no subject") {
                error.field = "subjectId".into();
            }
        }
        Ok(done.into())
    }

    async fn serve_order(
        &self,
        ctx: &Context<'_>,
        input: OrderStepInput,
    ) -> Result<ServeOrderPayload> {
        let command = OrderCommand::ServeOrder {
            occurred_at: now_or(ctx, input.occurred_at),
        };
        Ok(order(ctx, &input.order_id, input.command_id, Ok(command))
            .await?
            .into())
    }

    async fn give_notification(
        &self,
        ctx: &Context<'_>,
        input: GiveNotificationInput,
    ) -> Result<GiveNotificationPayload> {
        let command = OrderCommand::GiveNotification {
            kind: input.kind.into(),
            occurred_at: now_or(ctx, input.occurred_at),
        };
        Ok(order(ctx, &input.order_id, input.command_id, Ok(command))
            .await?
            .into())
    }

    async fn vary_order(
        &self,
        ctx: &Context<'_>,
        input: VaryOrderInput,
    ) -> Result<VaryOrderPayload> {
        let changes = input
            .add
            .into_iter()
            .map(|c| ConditionChange::Add {
                condition: c.into(),
            })
            .chain(input.change.into_iter().map(|c| ConditionChange::Change {
                condition: c.into(),
            }))
            .chain(
                input
                    .remove
                    .into_iter()
                    .map(|condition_id| ConditionChange::Remove { condition_id }),
            )
            .collect();
        let command = OrderCommand::VaryOrder {
            changes,
            occurred_at: now_or(ctx, input.occurred_at),
        };
        Ok(order(ctx, &input.order_id, input.command_id, Ok(command))
            .await?
            .into())
    }

    async fn renew_order(
        &self,
        ctx: &Context<'_>,
        input: RenewOrderInput,
    ) -> Result<RenewOrderPayload> {
        let command = OrderCommand::RenewOrder {
            ends_on: input.ends_on,
            occurred_at: now_or(ctx, input.occurred_at),
        };
        Ok(order(ctx, &input.order_id, input.command_id, Ok(command))
            .await?
            .into())
    }

    async fn discharge_order(
        &self,
        ctx: &Context<'_>,
        input: OrderStepInput,
    ) -> Result<DischargeOrderPayload> {
        let command = OrderCommand::DischargeOrder {
            occurred_at: now_or(ctx, input.occurred_at),
        };
        Ok(order(ctx, &input.order_id, input.command_id, Ok(command))
            .await?
            .into())
    }

    async fn determine_appeal(
        &self,
        ctx: &Context<'_>,
        input: DetermineAppealInput,
    ) -> Result<DetermineAppealPayload> {
        let command = OrderCommand::DetermineAppeal {
            outcome: input.outcome.into(),
            occurred_at: now_or(ctx, input.occurred_at),
        };
        Ok(order(ctx, &input.order_id, input.command_id, Ok(command))
            .await?
            .into())
    }

    async fn report_breach(
        &self,
        ctx: &Context<'_>,
        input: ReportBreachInput,
    ) -> Result<ReportBreachPayload> {
        let command = OrderCommand::ReportBreach {
            breach_id: input.breach_id.unwrap_or_else(new_id),
            condition_id: input.condition_id,
            occurred_on: input.occurred_on,
            description: sealed(input.description),
            occurred_at: now_or(ctx, input.occurred_at),
        };
        Ok(order(ctx, &input.order_id, input.command_id, Ok(command))
            .await?
            .into())
    }

    async fn assess_breach(
        &self,
        ctx: &Context<'_>,
        input: AssessBreachInput,
    ) -> Result<AssessBreachPayload> {
        let command = OrderCommand::AssessBreach {
            breach_id: input.breach_id,
            reasonable_excuse: input.reasonable_excuse,
            occurred_at: now_or(ctx, input.occurred_at),
        };
        Ok(order(ctx, &input.order_id, input.command_id, Ok(command))
            .await?
            .into())
    }

    async fn record_breach_outcome(
        &self,
        ctx: &Context<'_>,
        input: RecordBreachOutcomeInput,
    ) -> Result<RecordBreachOutcomePayload> {
        let command = OrderCommand::RecordBreachOutcome {
            breach_id: input.breach_id,
            decision: input.decision.into(),
            decided_by: input.decided_by.into(),
            occurred_at: now_or(ctx, input.occurred_at),
        };
        Ok(order(ctx, &input.order_id, input.command_id, Ok(command))
            .await?
            .into())
    }
}
