//! Keeps the outcome reports evaluators asked for lately ready at the outcomes view's newest
//! position, so that the next asking is answered from memory rather than by reading every
//! outcome row (`desist_projections::outcome_cache`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use desist_projections::outcomes::OutcomesProjection;
use desist_projections::Projection;
use tokio::sync::watch;

use crate::graphql::context::AppContext;

/// How long the view must stand still before the reports are computed again: a burst of
/// commands moves it many times, and only where it stops is worth a report.
const QUIET: Duration = Duration::from_secs(1);

/// After a refresh that computed reports, the pause before the next is this many times as
/// long as the refresh took: while events keep arriving, refreshing takes at most a fifth of
/// a core (a report is up to a second of one at national scale, milliseconds for a pilot).
/// An evaluator asking in between is answered at the newest position as before, computed
/// then.
const PAUSE_PER_REFRESH: u32 = 4;

pub async fn keep_ready(app: Arc<AppContext>, mut stopped: watch::Receiver<bool>) {
    let mut applied = app.views_applied.subscribe();
    let mut refreshed_at = None;
    loop {
        // Wait for the outcomes view to move, then to stand still for `QUIET`.
        let mut moved = false;
        loop {
            let at = applied
                .borrow_and_update()
                .get(OutcomesProjection::NAME)
                .copied();
            moved |= at.is_some() && at != refreshed_at;
            tokio::select! {
                _ = stopped.wait_for(|s| *s) => return,
                changed = applied.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                _ = tokio::time::sleep(QUIET), if moved => break,
            }
        }
        refreshed_at = applied.borrow().get(OutcomesProjection::NAME).copied();
        let started = Instant::now();
        match app.outcomes.refresh(app.store.db()).await {
            Ok(0) => continue,
            Ok(computed) => tracing::debug!(computed, "outcome reports made ready"),
            Err(e) => tracing::warn!(error = %e, "cannot make the outcome reports ready"),
        }
        tokio::select! {
            _ = stopped.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(started.elapsed() * PAUSE_PER_REFRESH) => {}
        }
    }
}
