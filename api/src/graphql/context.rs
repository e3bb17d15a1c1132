//! What every resolver can reach: the shared application context and the caller.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use desist_domain::{Actor, DomainServices};
use desist_projections::runner::AppliedViews;
use desist_store::{CommandMetadata, CommandOutcome, Store};
use tokio::sync::{broadcast, OnceCell};

use crate::audit::AuditNote;
use crate::auth::policy::{Caseload, Record};

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
    /// Outcome reports already computed, by feed position, and those kept ready.
    pub outcomes: desist_projections::outcome_cache::OutcomeCache,
    /// How far this server's projection runners have applied the views.
    pub views_applied: AppliedViews,
}

/// Who is asking, why, and what they have read so far in this request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: Actor,
    /// Ties the request to the server's log.
    pub correlation_id: String,
    /// Why (from the token or the `X-Purpose` header), for the audit.
    pub purpose: Option<String>,
    /// An admin's reason to read clinical text (`X-Break-Glass-Reason`), audited.
    pub break_glass: Option<String>,
    caseload: Arc<OnceCell<Caseload>>,
    note: Arc<Mutex<AuditNote>>,
}

impl Caller {
    pub fn new(
        actor: Actor,
        correlation_id: String,
        purpose: Option<String>,
        break_glass: Option<String>,
    ) -> Self {
        Self {
            actor,
            correlation_id,
            purpose,
            break_glass,
            caseload: Arc::new(OnceCell::new()),
            note: Arc::new(Mutex::new(AuditNote::default())),
        }
    }

    /// The caller's caseload, looked up once per request.
    pub async fn caseload(&self, pool: &desist_store::Db) -> Result<&Caseload, sqlx::Error> {
        self.caseload
            .get_or_try_init(|| Caseload::of(self.actor.role, &self.actor.id, pool))
            .await
    }

    /// Whether `record` is on the caller's caseload: from the caseload if this request has
    /// looked it up already, else asked of that one record.
    pub async fn reaches(
        &self,
        pool: &desist_store::Db,
        record: Record<'_>,
    ) -> Result<bool, sqlx::Error> {
        match self.caseload.get() {
            Some(caseload) => Ok(caseload.holds(record)),
            None => Caseload::has(self.actor.role, &self.actor.id, record, pool).await,
        }
    }

    /// Notes a read for the audit record written when the request ends.
    pub fn audit(&self, operation: &'static str, subject_id: Option<&str>) {
        if let Ok(mut note) = self.note.lock() {
            note.operations.insert(operation);
            if let Some(id) = subject_id {
                note.subject_ids.insert(id.to_string());
            }
        }
    }

    pub fn audit_note(&self) -> AuditNote {
        self.note.lock().map(|n| n.clone()).unwrap_or_default()
    }
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
            outcomes: Default::default(),
            views_applied: AppliedViews::default(),
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
        let pool = self.store.db();
        let Some(position) = outcome.position else {
            return;
        };
        let deadline = tokio::time::Instant::now() + self.view_wait;
        let mut applied = self.views_applied.subscribe();
        loop {
            if AppliedViews::all_reached(&applied.borrow_and_update(), position) {
                return;
            }
            let Some(left) = deadline.checked_duration_since(tokio::time::Instant::now()) else {
                return;
            };
            // Woken when this server's runners commit a batch. Views another instance
            // applies are only in the database: asked every 5 ms, or every 100 ms should a
            // runner here have stopped without saying so.
            let here = AppliedViews::all_here(&applied.borrow());
            let poll = Duration::from_millis(if here { 100 } else { 5 });
            match tokio::time::timeout(left.min(poll), applied.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return,
                Err(_) => {
                    match desist_projections::registry::all_live_reached(pool, position).await {
                        Ok(true) | Err(_) => return,
                        Ok(false) => {}
                    }
                }
            }
        }
    }
}
