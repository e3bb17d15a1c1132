use std::collections::BTreeMap;

use chrono::{DateTime, Months, NaiveDate, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use super::{
    AppealOutcome, BreachDecision, ConditionChange, ConditionHistory, ConditionTerms,
    NotificationKind, OrderCommand, OrderEvent, OrderKind, FULL_ORDER_MINIMUM_MONTHS,
};
use crate::validate::{not_before, not_blank, not_in_future};
use crate::{DomainError, DomainServices};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Breach {
    reported_on: NaiveDate,
    assessed: bool,
    last_decision: Option<BreachDecision>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderTerms {
    pub subject_id: String,
    pub kind: OrderKind,
    pub made_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ProtectionOrder {
    pub terms: Option<OrderTerms>,
    pub served_on: Option<NaiveDate>,
    /// Discharged, or quashed on appeal: not in force from this day.
    pub discharged_on: Option<NaiveDate>,
    initial_notification_given: bool,
    pub conditions: BTreeMap<String, ConditionHistory>,
    breaches: BTreeMap<String, Breach>,
}

impl ProtectionOrder {
    fn made(&self) -> Result<&OrderTerms, DomainError> {
        self.terms
            .as_ref()
            .ok_or(DomainError::NotRecorded { what: "order" })
    }

    /// In force from the day it is made to its end date inclusive, unless discharged earlier.
    pub fn in_force_on(&self, date: NaiveDate) -> bool {
        self.terms.as_ref().is_some_and(|t| {
            t.made_on <= date
                && t.ends_on.is_none_or(|end| date <= end)
                && self.discharged_on.is_none_or(|d| date < d)
        })
    }

    /// `field` names the input that carries `date`.
    fn ensure_in_force(&self, field: &'static str, date: NaiveDate) -> Result<(), DomainError> {
        self.made()?;
        if !self.in_force_on(date) {
            return Err(DomainError::OrderNotInForce { field, date });
        }
        Ok(())
    }

    fn breach(&self, breach_id: &str) -> Result<&Breach, DomainError> {
        self.breaches
            .get(breach_id)
            .ok_or(DomainError::NotRecorded { what: "breach" })
    }

    fn condition(&self, condition_id: &str) -> Result<&ConditionHistory, DomainError> {
        self.conditions
            .get(condition_id)
            .ok_or(DomainError::NotRecorded { what: "condition" })
    }
}

impl Aggregate for ProtectionOrder {
    const TYPE: &'static str = "ProtectionOrder";
    type Command = OrderCommand;
    type Event = OrderEvent;
    type Error = DomainError;
    type Services = DomainServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        not_in_future("occurred_at", command.occurred_at(), services.now())?;
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            OrderEvent::OrderMade {
                subject_id,
                kind,
                ends_on,
                occurred_at,
            } => {
                self.terms = Some(OrderTerms {
                    subject_id,
                    kind,
                    made_on: occurred_at.date_naive(),
                    ends_on,
                });
            }
            OrderEvent::ConditionImposed { condition, .. } => {
                self.conditions.insert(
                    condition.condition_id.clone(),
                    ConditionHistory::imposed(&condition),
                );
            }
            OrderEvent::OrderVaried { .. } => {}
            OrderEvent::ConditionChanged {
                condition,
                occurred_at,
            } => {
                if let Some(history) = self.conditions.get_mut(&condition.condition_id) {
                    history.change_from(occurred_at.date_naive(), &condition);
                }
            }
            OrderEvent::ConditionRemoved {
                condition_id,
                occurred_at,
            } => {
                if let Some(history) = self.conditions.get_mut(&condition_id) {
                    history.end_before(occurred_at.date_naive());
                }
            }
            OrderEvent::OrderServed { occurred_at } => {
                self.served_on = Some(occurred_at.date_naive());
            }
            OrderEvent::NotificationGiven { kind, .. } => {
                if kind == NotificationKind::Initial {
                    self.initial_notification_given = true;
                }
            }
            OrderEvent::OrderRenewed { ends_on, .. } => {
                if let Some(terms) = &mut self.terms {
                    terms.ends_on = ends_on;
                }
            }
            OrderEvent::OrderDischarged { occurred_at }
            | OrderEvent::AppealDetermined {
                outcome: AppealOutcome::Allowed,
                occurred_at,
            } => self.discharged_on = Some(occurred_at.date_naive()),
            OrderEvent::AppealDetermined { .. } => {}
            OrderEvent::BreachReported {
                breach_id,
                occurred_at,
                ..
            } => {
                self.breaches.insert(
                    breach_id,
                    Breach {
                        reported_on: occurred_at.date_naive(),
                        assessed: false,
                        last_decision: None,
                    },
                );
            }
            OrderEvent::BreachAssessed { breach_id, .. } => {
                if let Some(breach) = self.breaches.get_mut(&breach_id) {
                    breach.assessed = true;
                }
            }
            OrderEvent::BreachOutcomeRecorded {
                breach_id,
                decision,
                ..
            } => {
                if let Some(breach) = self.breaches.get_mut(&breach_id) {
                    breach.last_decision = Some(decision);
                }
            }
        }
    }
}

impl ProtectionOrder {
    /// Checks a command against the rules and names the events it produces.
    fn decide(&self, command: OrderCommand) -> Result<Vec<OrderEvent>, DomainError> {
        use OrderCommand as C;
        use OrderEvent as E;
        Ok(match command {
            C::MakeOrder {
                subject_id,
                kind,
                ends_on,
                conditions,
                occurred_at,
            } => {
                if self.terms.is_some() {
                    return Err(DomainError::AlreadyRecorded { what: "order" });
                }
                not_blank("subject_id", &subject_id)?;
                let made_on = occurred_at.date_naive();
                validate_term(kind, made_on, ends_on)?;
                if conditions.is_empty() {
                    return Err(DomainError::InvalidValue {
                        field: "conditions",
                        rule: "an order must impose at least one prohibition or requirement".into(),
                    });
                }
                let mut seen = std::collections::BTreeSet::new();
                for condition in &conditions {
                    validate_condition(condition, made_on)?;
                    if !seen.insert(condition.condition_id.as_str()) {
                        return Err(DomainError::AlreadyRecorded { what: "condition" });
                    }
                }
                let mut events = vec![E::OrderMade {
                    subject_id,
                    kind,
                    ends_on,
                    occurred_at,
                }];
                events.extend(conditions.into_iter().map(|condition| E::ConditionImposed {
                    condition,
                    occurred_at,
                }));
                events
            }
            C::ServeOrder { occurred_at } => {
                if self.served_on.is_some() {
                    return Err(DomainError::AlreadyRecorded { what: "service" });
                }
                self.ensure_in_force("occurred_at", occurred_at.date_naive())?;
                vec![E::OrderServed { occurred_at }]
            }
            C::GiveNotification { kind, occurred_at } => {
                self.made()?;
                let served_on = self.served_on.ok_or(DomainError::OrderNotServed)?;
                not_before("occurred_at", occurred_at.date_naive(), "served", served_on)?;
                if kind == NotificationKind::Initial && self.initial_notification_given {
                    return Err(DomainError::InitialNotificationAlreadyGiven);
                }
                vec![E::NotificationGiven { kind, occurred_at }]
            }
            C::VaryOrder {
                changes,
                occurred_at,
            } => {
                let date = occurred_at.date_naive();
                self.ensure_in_force("occurred_at", date)?;
                if changes.is_empty() {
                    return Err(DomainError::InvalidValue {
                        field: "changes",
                        rule: "a variation must change at least one condition".into(),
                    });
                }
                let mut events = vec![E::OrderVaried { occurred_at }];
                let mut touched = std::collections::BTreeSet::new();
                for change in changes {
                    let id = match &change {
                        ConditionChange::Add { condition }
                        | ConditionChange::Change { condition } => condition.condition_id.clone(),
                        ConditionChange::Remove { condition_id } => condition_id.clone(),
                    };
                    if !touched.insert(id.clone()) {
                        return Err(DomainError::InvalidValue {
                            field: "changes",
                            rule: format!("condition {id} is changed more than once"),
                        });
                    }
                    events.push(self.vary(change, date, occurred_at)?);
                }
                events
            }
            C::RenewOrder {
                ends_on,
                occurred_at,
            } => {
                let date = occurred_at.date_naive();
                self.ensure_in_force("occurred_at", date)?;
                let terms = self.made()?;
                validate_term(terms.kind, date, ends_on)?;
                let extends = match (terms.ends_on, ends_on) {
                    (Some(current), Some(new)) => new > current,
                    (Some(_), None) => true,
                    (None, _) => false,
                };
                if !extends {
                    return Err(DomainError::InvalidValue {
                        field: "ends_on",
                        rule: "a renewal must end later than the order does now".into(),
                    });
                }
                vec![E::OrderRenewed {
                    previous_ends_on: terms.ends_on,
                    ends_on,
                    occurred_at,
                }]
            }
            C::DischargeOrder { occurred_at } => {
                self.ensure_in_force("occurred_at", occurred_at.date_naive())?;
                vec![E::OrderDischarged { occurred_at }]
            }
            C::DetermineAppeal {
                outcome,
                occurred_at,
            } => {
                self.ensure_in_force("occurred_at", occurred_at.date_naive())?;
                vec![E::AppealDetermined {
                    outcome,
                    occurred_at,
                }]
            }
            C::ReportBreach {
                breach_id,
                condition_id,
                occurred_on,
                description,
                occurred_at,
            } => {
                not_blank("breach_id", &breach_id)?;
                if self.breaches.contains_key(&breach_id) {
                    return Err(DomainError::AlreadyRecorded { what: "breach" });
                }
                not_before(
                    "occurred_at",
                    occurred_at.date_naive(),
                    "occurred_on",
                    occurred_on,
                )?;
                self.ensure_in_force("occurred_on", occurred_on)?;
                if !self.condition(&condition_id)?.in_force_on(occurred_on) {
                    return Err(DomainError::ConditionNotInForce {
                        condition_id,
                        date: occurred_on,
                    });
                }
                vec![E::BreachReported {
                    breach_id,
                    condition_id,
                    occurred_on,
                    description,
                    occurred_at,
                }]
            }
            C::AssessBreach {
                breach_id,
                reasonable_excuse,
                occurred_at,
            } => {
                let breach = self.breach(&breach_id)?;
                if breach.assessed {
                    return Err(DomainError::AlreadyRecorded {
                        what: "breach assessment",
                    });
                }
                not_before(
                    "occurred_at",
                    occurred_at.date_naive(),
                    "reported",
                    breach.reported_on,
                )?;
                vec![E::BreachAssessed {
                    breach_id,
                    reasonable_excuse,
                    occurred_at,
                }]
            }
            C::RecordBreachOutcome {
                breach_id,
                decision,
                decided_by,
                occurred_at,
            } => {
                let breach = self.breach(&breach_id)?;
                if breach.last_decision.is_some_and(BreachDecision::is_final) {
                    return Err(DomainError::BreachOutcomeFinal { breach_id });
                }
                let decided = occurred_at.date_naive();
                if decided < breach.reported_on {
                    return Err(DomainError::OutcomeBeforeReport {
                        decided,
                        reported: breach.reported_on,
                    });
                }
                vec![E::BreachOutcomeRecorded {
                    breach_id,
                    decision,
                    decided_by,
                    occurred_at,
                }]
            }
        })
    }

    fn vary(
        &self,
        change: ConditionChange,
        date: NaiveDate,
        occurred_at: DateTime<Utc>,
    ) -> Result<OrderEvent, DomainError> {
        Ok(match change {
            ConditionChange::Add { condition } => {
                if self.conditions.contains_key(&condition.condition_id) {
                    return Err(DomainError::AlreadyRecorded { what: "condition" });
                }
                validate_condition(&condition, date)?;
                OrderEvent::ConditionImposed {
                    condition,
                    occurred_at,
                }
            }
            ConditionChange::Change { condition } => {
                self.live_condition(&condition.condition_id, date)?;
                validate_condition(&condition, self.made()?.made_on)?;
                OrderEvent::ConditionChanged {
                    condition,
                    occurred_at,
                }
            }
            ConditionChange::Remove { condition_id } => {
                self.live_condition(&condition_id, date)?;
                OrderEvent::ConditionRemoved {
                    condition_id,
                    occurred_at,
                }
            }
        })
    }

    /// A condition a variation on `date` can still change or remove.
    fn live_condition(&self, condition_id: &str, date: NaiveDate) -> Result<(), DomainError> {
        if !self.condition(condition_id)?.live_from(date) {
            return Err(DomainError::ConditionNotInForce {
                condition_id: condition_id.into(),
                date,
            });
        }
        Ok(())
    }
}

/// Interim orders have a fixed end; full orders run at least two years or until further order.
fn validate_term(
    kind: OrderKind,
    from: NaiveDate,
    ends_on: Option<NaiveDate>,
) -> Result<(), DomainError> {
    match (kind, ends_on) {
        (OrderKind::Interim, None) => Err(DomainError::InterimOrderWithoutEnd),
        (OrderKind::Interim, Some(end)) if end <= from => Err(DomainError::InvalidValue {
            field: "ends_on",
            rule: "an interim order must end after the day it is made".into(),
        }),
        (OrderKind::Full, Some(end)) => {
            let earliest_end = from
                .checked_add_months(Months::new(FULL_ORDER_MINIMUM_MONTHS))
                .unwrap_or(NaiveDate::MAX);
            if end < earliest_end {
                return Err(DomainError::FullOrderTooShort { earliest_end });
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn validate_condition(condition: &ConditionTerms, made_on: NaiveDate) -> Result<(), DomainError> {
    not_blank("condition_id", &condition.condition_id)?;
    not_before("from", condition.from, "made", made_on)?;
    if let Some(until) = condition.until {
        not_before("until", until, "from", condition.from)?;
    }
    Ok(())
}
