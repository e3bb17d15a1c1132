//! What every resolver can reach: the shared application context and the caller.

use std::time::Duration;

use desist_domain::{Actor, DomainServices};
use desist_store::{CommandMetadata, CommandOutcome, Store};
use tokio::sync::broadcast;

use crate::WriteSide;

/// A new RED reason for a subject, pushed to `complianceAlerts` subscribers.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub subject_id: String,
    pub reason: desist_projections::measures::compliance::Reason,
    pub as_of: chrono::NaiveDate,
}

/// Shared by every request (one per server).
pub struct AppContext {
    pub store: Store,
    pub write: WriteSide,
    pub services: DomainServices,
    pub alerts: broadcast::Sender<Alert>,
    /// How long a mutation waits for the views to show its events (read-your-writes).
    pub view_wait: Duration,
}

/// Who is asking, and the id that ties their request to the server's log.
#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: Actor,
    pub correlation_id: String,
}

impl AppContext {
    pub fn new(store: Store, services: DomainServices, view_wait: Duration) -> Self {
        let (alerts, _) = broadcast::channel(1024);
        Self {
            write: WriteSide::new(&store, services.clone()),
            store,
            services,
            alerts,
            view_wait,
        }
    }

    /// Metadata for a command sent by `caller`: the client's command id, or a fresh one.
    pub fn metadata(&self, caller: &Caller, command_id: Option<String>) -> CommandMetadata {
        CommandMetadata::new(
            command_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            caller.correlation_id.clone(),
            caller.actor.clone(),
        )
    }

    /// Waits (up to `view_wait`) until every live view has applied the command's events, so
    /// the object a mutation returns shows what it just recorded.
    pub async fn wait_for_views(&self, outcome: &CommandOutcome) {
        let pool = self.store.pool();
        let Ok(Some(position)) = desist_store::feed::position_of(
            pool,
            &outcome.aggregate_type,
            &outcome.aggregate_id,
            outcome.last_sequence,
        )
        .await
        else {
            return;
        };
        let deadline = tokio::time::Instant::now() + self.view_wait;
        while tokio::time::Instant::now() < deadline {
            match desist_projections::registry::all_live_reached(pool, position).await {
                Ok(true) | Err(_) => return,
                Ok(false) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    }
}
