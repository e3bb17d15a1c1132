//! Watches compliance and announces new RED reasons to `complianceAlerts` subscribers.
//!
//! One monitor per server computes the statuses once per change, however many clients
//! subscribe. It wakes on the same notification as the projection runners, waits for the
//! compliance view to catch up, and compares each subject's RED reasons with the last it saw.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use desist_projections::measures::compliance::{Rag, Reason};
use tokio::sync::watch;

use crate::graphql::context::{Alert, AppContext};

type RedReasons = BTreeMap<String, BTreeSet<Reason>>;

async fn red_reasons(app: &AppContext) -> Option<(chrono::NaiveDate, RedReasons)> {
    let today = app.services.now().date_naive();
    let statuses = desist_projections::queries::compliance(app.store.db(), today, None)
        .await
        .map_err(|e| tracing::warn!(error = %e, "alerts: compliance unavailable"))
        .ok()?;
    let reds = statuses
        .into_iter()
        .map(|(id, status)| {
            let red = status
                .reasons
                .into_iter()
                .filter(|r| r.rag() == Rag::Red)
                .collect();
            (id, red)
        })
        .collect();
    Some((today, reds))
}

/// Waits until the compliance view has applied everything committed (bounded).
async fn settle(app: &AppContext) {
    for _ in 0..200 {
        match desist_projections::registry::max_live_lag(app.store.db()).await {
            Ok(0) | Err(_) => return,
            Ok(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

pub async fn monitor(app: Arc<AppContext>, mut stopped: watch::Receiver<bool>) {
    let mut committed = match app.store.db().subscribe_events().await {
        Ok(signal) => signal,
        Err(e) => {
            tracing::error!(error = %e, "alerts: cannot listen for events");
            return;
        }
    };
    settle(&app).await;
    let mut known = red_reasons(&app).await.map(|(_, r)| r).unwrap_or_default();
    loop {
        tokio::select! {
            _ = stopped.wait_for(|s| *s) => return,
            _ = committed.next() => {}
            // Reasons that depend only on the date (a notification falling overdue) appear
            // without any event.
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
        settle(&app).await;
        let Some((as_of, now)) = red_reasons(&app).await else {
            continue;
        };
        for (subject_id, reasons) in &now {
            let before = known.get(subject_id);
            for reason in reasons {
                if before.is_none_or(|b| !b.contains(reason)) {
                    // No subscriber is not an error.
                    let _ = app.alerts.send(Alert {
                        subject_id: subject_id.clone(),
                        reason: *reason,
                        as_of,
                    });
                }
            }
        }
        known = now;
    }
}
