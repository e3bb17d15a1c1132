//! Watches compliance and announces new RED reasons to `complianceAlerts` subscribers.
//!
//! One monitor per server computes the statuses once per change, however many clients
//! subscribe. It wakes on the same notification as the projection runners, waits for the
//! compliance view to catch up, and compares the RED reasons of the people the new events are
//! about with the last it saw. When the date changes it looks at everyone, for reasons that
//! come with the date alone (a notification falling overdue); it checks at least once a minute.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use cqrs_es::Aggregate;
use desist_domain::enrolment::Enrolment;
use desist_domain::protection_order::ProtectionOrder;
use desist_domain::subject::Subject;
use desist_projections::measures::compliance::{Rag, Reason};
use desist_store::feed::Payloads;
use desist_store::FeedPosition;
use tokio::sync::watch;

use crate::graphql::context::{Alert, AppContext};

type RedReasons = BTreeMap<String, BTreeSet<Reason>>;

/// The RED reasons of the subjects in `only` (everyone when `None`).
async fn red_reasons(
    app: &AppContext,
    only: Option<&[String]>,
) -> Option<(chrono::NaiveDate, RedReasons)> {
    let today = app.services.now().date_naive();
    let db = app.store.db();
    let everyone;
    let ids = match only {
        Some(ids) => ids,
        None => {
            everyone = desist_store::db::query_scalar::<String>(
                "SELECT subject_id FROM compliance_subjects",
            )
            .fetch_all(db.reader())
            .await
            .map_err(|e| tracing::warn!(error = %e, "alerts: subjects unavailable"))
            .ok()?;
            &everyone[..]
        }
    };
    // A list of people at a time (`db::id_lists`: a thousand, fewer on SQLite): the facts of a
    // whole nation at once are hundreds of megabytes, and a statement can carry only so many ids.
    let mut reds = RedReasons::new();
    for chunk in desist_store::db::id_lists(db.backend(), ids) {
        let statuses = desist_projections::queries::compliance(db, today, Some(chunk))
            .await
            .map_err(|e| tracing::warn!(error = %e, "alerts: compliance unavailable"))
            .ok()?;
        reds.extend(statuses.into_iter().map(|(id, status)| {
            let red = status
                .reasons
                .into_iter()
                .filter(|r| r.rag() == Rag::Red)
                .collect();
            (id, red)
        }));
    }
    Some((today, reds))
}

/// Waits until the compliance view has applied everything committed (bounded).
async fn settle(app: &AppContext) {
    // Every 50 ms: each look counts the events each view has still to apply, which during a
    // bulk load is tens of thousands.
    for _ in 0..40 {
        match desist_projections::registry::max_live_lag(app.store.db()).await {
            Ok(0) | Err(_) => return,
            Ok(_) => tokio::time::sleep(Duration::from_millis(50)).await,
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
    let mut seen = feed_end(&app).await;
    let mut known = red_reasons(&app, None)
        .await
        .map(|(_, r)| r)
        .unwrap_or_default();
    let mut swept_on = app.services.now().date_naive();
    loop {
        tokio::select! {
            _ = stopped.wait_for(|s| *s) => return,
            _ = committed.next() => {}
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
        settle(&app).await;
        // Reasons that depend only on the date appear without any event: on a new day,
        // everyone; otherwise only the people the new events are about. A status is a
        // function of the facts and the date, so within a day nothing else can change it.
        let today = app.services.now().date_naive();
        let touched = if today != swept_on {
            swept_on = today;
            seen = feed_end(&app).await;
            None
        } else {
            match touched_since(&app, &mut seen).await {
                Some(subjects) if subjects.is_empty() => continue,
                Some(subjects) => Some(subjects),
                None => None,
            }
        };
        let Some((as_of, now)) = red_reasons(&app, touched.as_deref()).await else {
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
        match touched {
            None => known = now,
            Some(subjects) => {
                for subject in subjects {
                    match now.get(&subject) {
                        Some(reasons) => known.insert(subject, reasons.clone()),
                        None => known.remove(&subject),
                    };
                }
            }
        }
    }
}

/// Where the compliance view stands: the statuses just computed reflect the feed up to here,
/// so the next look at new events starts here. Read from the registry, not by reading the
/// whole feed (which at national scale is most of a million events).
async fn feed_end(app: &AppContext) -> FeedPosition {
    use desist_projections::compliance::ComplianceProjection;
    use desist_projections::registry::{checkpoint, live_generation};
    use desist_projections::Projection;
    let db = app.store.db();
    match live_generation(db, ComplianceProjection::NAME).await {
        Ok(Some(generation)) => checkpoint(db, ComplianceProjection::NAME, generation)
            .await
            .unwrap_or(FeedPosition::START),
        _ => FeedPosition::START,
    }
}

/// The subjects the events after `seen` are about, moving `seen` past them; `None` if the
/// feed cannot be read (then everyone is looked at).
async fn touched_since(app: &AppContext, seen: &mut FeedPosition) -> Option<Vec<String>> {
    let mut subjects = BTreeSet::new();
    // Sets: after a bulk load, hundreds of thousands of events are about a few thousand courses.
    let (mut enrolments, mut orders) = (BTreeSet::new(), BTreeSet::new());
    loop {
        let events = desist_store::feed::read_raw_after(
            app.store.db().reader(),
            *seen,
            10_000,
            Payloads::None,
        )
        .await
        .ok()?;
        let Some(last) = events.last() else {
            break;
        };
        *seen = last.position;
        for event in events {
            match event.aggregate_type.as_str() {
                Subject::TYPE => {
                    subjects.insert(event.aggregate_id);
                }
                Enrolment::TYPE => {
                    enrolments.insert(event.aggregate_id);
                }
                ProtectionOrder::TYPE => {
                    orders.insert(event.aggregate_id);
                }
                _ => {}
            }
        }
    }
    for (ids, table, key) in [
        (enrolments, "compliance_enrolments", "enrolment_id"),
        (orders, "compliance_orders", "order_id"),
    ] {
        if ids.is_empty() {
            continue;
        }
        let db = app.store.db();
        let owners: Vec<String> = desist_store::db::query_scalar(format!(
            "SELECT subject_id FROM {table} WHERE {}",
            desist_store::db::any_of(db.backend(), key, 1)
        ))
        .bind(desist_store::db::Arg::ids(ids))
        .fetch_all(db.reader())
        .await
        .ok()?;
        subjects.extend(owners);
    }
    Some(subjects.into_iter().collect())
}
