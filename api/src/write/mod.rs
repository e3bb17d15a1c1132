//! The write side: one command bus per aggregate, and the few checks that span aggregates.

use desist_domain::enrolment::{Enrolment, EnrolmentCommand, ReferralRoute};
use desist_domain::programme::Programme;
use desist_domain::protection_order::{OrderCommand, ProtectionOrder};
use desist_domain::subject::Subject;
use desist_domain::{DomainError, DomainServices};
use desist_store::{CommandBus, CommandError, CommandMetadata, CommandOutcome, Store};

use chrono::{DateTime, Utc};

pub struct WriteSide {
    pub programmes: CommandBus<Programme>,
    pub subjects: CommandBus<Subject>,
    pub enrolments: CommandBus<Enrolment>,
    pub orders: CommandBus<ProtectionOrder>,
}

impl WriteSide {
    pub fn new(store: &Store, services: DomainServices) -> Self {
        Self {
            programmes: CommandBus::new(store, services.clone()),
            subjects: CommandBus::new(store, services.clone()),
            enrolments: CommandBus::new(store, services.clone()),
            orders: CommandBus::new(store, services),
        }
    }

    /// Refers a registered subject to a defined programme version (`CODE/VERSION`); the
    /// enrolment keeps that version's terms for the rest of the course.
    pub async fn refer(
        &self,
        enrolment_id: &str,
        subject_id: &str,
        programme_id: &str,
        route: ReferralRoute,
        occurred_at: DateTime<Utc>,
        metadata: &CommandMetadata,
    ) -> Result<CommandOutcome, CommandError> {
        self.ensure_subject(subject_id).await?;
        let programme = self
            .programmes
            .load(programme_id)
            .await?
            .terms
            .ok_or(DomainError::NotRecorded { what: "programme" })?;
        let command = EnrolmentCommand::Refer {
            subject_id: subject_id.to_string(),
            programme,
            route,
            occurred_at,
        };
        self.enrolments
            .execute(enrolment_id, command, metadata)
            .await
    }

    /// Makes an order against a registered subject.
    pub async fn make_order(
        &self,
        order_id: &str,
        command: OrderCommand,
        metadata: &CommandMetadata,
    ) -> Result<CommandOutcome, CommandError> {
        if let OrderCommand::MakeOrder { subject_id, .. } = &command {
            self.ensure_subject(subject_id).await?;
        }
        self.orders.execute(order_id, command, metadata).await
    }

    async fn ensure_subject(&self, subject_id: &str) -> Result<(), CommandError> {
        if self.subjects.load(subject_id).await?.demographics.is_none() {
            return Err(DomainError::NotRecorded { what: "subject" }.into());
        }
        Ok(())
    }
}
