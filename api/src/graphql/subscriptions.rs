//! The subscription root: compliance alerts pushed as soon as the compliance view has them.

use async_graphql::{Context, Result, SimpleObject, Subscription, ID};
use futures::{Stream, StreamExt};
use tokio::sync::broadcast::error::RecvError;

use super::context::Alert;
use super::enums::ComplianceReason;
use super::ids::{decode, encode, Kind};
use super::objects::{app, caller, forbidden, load_subject, Subject};
use crate::audit::AuditNote;
use crate::auth::policy::{self, Caseload};

/// A subject has a new RED reason.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct ComplianceAlert {
    pub subject_id: ID,
    pub reason: ComplianceReason,
    pub as_of: chrono::NaiveDate,
    #[graphql(skip)]
    pub raw_subject_id: String,
}

#[async_graphql::ComplexObject]
impl ComplianceAlert {
    async fn subject(&self, ctx: &Context<'_>) -> Result<Option<Subject>> {
        load_subject(ctx, &self.raw_subject_id).await
    }
}

impl From<Alert> for ComplianceAlert {
    fn from(a: Alert) -> Self {
        Self {
            subject_id: encode(Kind::Subject, &a.subject_id),
            reason: a.reason.into(),
            as_of: a.as_of,
            raw_subject_id: a.subject_id,
        }
    }
}

/// What becomes of one alert for one subscriber.
enum Delivery {
    Send(ComplianceAlert),
    Skip,
    Stop,
}

pub struct SubscriptionRoot;

#[Subscription]
impl SubscriptionRoot {
    /// New RED reasons (a breach reported, a second failure to comply, a concern to
    /// acknowledge, a notification overdue…), for one subject or all.
    async fn compliance_alerts(
        &self,
        ctx: &Context<'_>,
        subject_id: Option<ID>,
    ) -> Result<impl Stream<Item = ComplianceAlert>> {
        let caller = caller(ctx).clone();
        if !policy::may_receive_alerts(caller.actor.role) {
            return Err(forbidden());
        }
        let only = subject_id
            .map(|id| decode(&id, Kind::Subject, "subjectId"))
            .transpose()?;
        let app = app(ctx).clone();
        let receiver = app.alerts.subscribe();
        let alerts = futures::stream::unfold(receiver, |mut receiver| async move {
            loop {
                match receiver.recv().await {
                    Ok(alert) => return Some((alert, receiver)),
                    // A slow subscriber misses alerts rather than holding the others back.
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return None,
                }
            }
        });
        Ok(alerts
            .filter(move |a| {
                let keep = only.as_ref().is_none_or(|id| *id == a.subject_id);
                async move { keep }
            })
            // Only subjects on the caller's caseload (looked up afresh: caseloads change), and
            // each delivery is a read, audited like any other; if the audit fails, it stops.
            .then(move |alert| {
                let app = app.clone();
                let caller = caller.clone();
                async move {
                    let pool = app.store.db();
                    let Ok(caseload) = Caseload::of(caller.actor.role, &caller.actor.id, pool).await
                    else {
                        return Delivery::Stop;
                    };
                    if !caseload.subjects.contains(&alert.subject_id) {
                        return Delivery::Skip;
                    }
                    let mut note = AuditNote::default();
                    note.operations.insert("complianceAlerts");
                    note.subject_ids.insert(alert.subject_id.clone());
                    match crate::audit::write(pool, &caller, &note).await {
                        Ok(()) => Delivery::Send(ComplianceAlert::from(alert)),
                        Err(e) => {
                            tracing::error!(error = %e, "cannot write the read audit: ending a subscription");
                            Delivery::Stop
                        }
                    }
                }
            })
            .take_while(|d| futures::future::ready(!matches!(d, Delivery::Stop)))
            .filter_map(|d| {
                futures::future::ready(match d {
                    Delivery::Send(alert) => Some(alert),
                    Delivery::Skip | Delivery::Stop => None,
                })
            }))
    }
}
