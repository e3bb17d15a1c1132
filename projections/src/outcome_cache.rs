//! Outcome reports computed once per feed position and kept, and kept ready as the view moves.
//!
//! A report at national scale reads every outcome row (0.4–1 s, see docs/benchmarks.md), and
//! the figures at a feed position never change, so a report is kept by the position, date and
//! split it was computed for. Evaluators mostly ask without a pin, that is at the newest
//! position, which moves with every event the view applies: so the reports evaluators asked
//! for lately are computed again, off their path, once the view has moved and stood still
//! ([`OutcomeCache::refresh`], driven by the server).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use desist_store::db::Db;
use desist_store::feed::has_events_after;
use desist_store::FeedPosition;

use crate::measures::outcomes::Split;
use crate::queries::{pinned_position, report_at, OutcomeReport};
use crate::ProjectionError;

/// Like [`crate::queries::outcome_report`], answered from `cache` when the same report at the
/// same position was computed before. A report asked for without a pin is one the cache keeps
/// ready at newer positions for a while ([`OutcomeCache::refresh`]).
pub async fn cached_outcome_report(
    pool: &Db,
    cache: &OutcomeCache,
    as_of: NaiveDate,
    pin: Option<FeedPosition>,
    split: Split,
) -> Result<Arc<OutcomeReport>, ProjectionError> {
    if pin.is_none() {
        cache.note_asked((as_of, split), Instant::now());
    }
    let position = pinned_position(pool, pin).await?;
    let (report, _) = cache.report(pool, (position, as_of, split)).await?;
    Ok(report)
}

/// Outcome reports by the position, date and split they were computed for (the most recent
/// few), and which reports evaluators asked for at the newest position lately.
#[derive(Default)]
pub struct OutcomeCache {
    reports: Mutex<VecDeque<(ReportKey, Arc<OutcomeReport>)>>,
    /// One report is computed at a time: a report is a core's work for up to a second, so
    /// eight evaluators asking at once wait for one computation rather than make eight.
    computing: tokio::sync::Mutex<()>,
    asked: Mutex<Vec<(Asked, Instant)>>,
}

type ReportKey = (FeedPosition, NaiveDate, Split);

/// A report asked for without a pin: its date and split.
type Asked = (NaiveDate, Split);

impl OutcomeCache {
    const KEEP: usize = 32;
    /// How long after it was last asked for a report is kept ready: about an evaluator's
    /// sitting. Past it nothing is computed that no one asks for.
    pub const ASKED_WITHIN: Duration = Duration::from_secs(15 * 60);
    /// The most reports kept ready at once.
    const KEEP_ASKED: usize = 8;

    /// Every report evaluators asked for without a pin within [`Self::ASKED_WITHIN`], computed
    /// at the view's newest position unless it is held already. Nothing is computed while
    /// the view is behind the feed (a bulk import, a catch-up): the next position is near.
    /// Returns how many this call computed.
    pub async fn refresh(&self, pool: &Db) -> Result<usize, ProjectionError> {
        let wanted = self.asked_since(Instant::now());
        if wanted.is_empty() {
            return Ok(0);
        }
        let position = pinned_position(pool, None).await?;
        if has_events_after(pool.reader(), position).await? {
            return Ok(0);
        }
        let mut computed = 0;
        for (as_of, split) in wanted {
            let (_, fresh) = self.report(pool, (position, as_of, split)).await?;
            computed += usize::from(fresh);
        }
        Ok(computed)
    }

    /// Whether the report for `key` is kept.
    pub fn holds(&self, position: FeedPosition, as_of: NaiveDate, split: Split) -> bool {
        self.get(&(position, as_of, split)).is_some()
    }

    /// The report for `key`, and whether this call computed it.
    async fn report(
        &self,
        pool: &Db,
        key: ReportKey,
    ) -> Result<(Arc<OutcomeReport>, bool), ProjectionError> {
        if let Some(report) = self.get(&key) {
            return Ok((report, false));
        }
        let _computing = self.computing.lock().await;
        // Computed by whoever held the lock before?
        if let Some(report) = self.get(&key) {
            return Ok((report, false));
        }
        let (position, as_of, split) = key;
        let report = Arc::new(report_at(pool, as_of, position, split).await?);
        self.put(key, report.clone());
        Ok((report, true))
    }

    fn get(&self, key: &ReportKey) -> Option<Arc<OutcomeReport>> {
        let reports = self.reports.lock().ok()?;
        reports
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, r)| r.clone())
    }

    fn put(&self, key: ReportKey, report: Arc<OutcomeReport>) {
        if let Ok(mut reports) = self.reports.lock() {
            if reports.iter().any(|(k, _)| *k == key) {
                return;
            }
            if reports.len() == Self::KEEP {
                reports.pop_front();
            }
            reports.push_back((key, report));
        }
    }

    fn note_asked(&self, report: Asked, at: Instant) {
        if let Ok(mut asked) = self.asked.lock() {
            asked.retain(|(a, _)| *a != report);
            if asked.len() == Self::KEEP_ASKED {
                asked.remove(0);
            }
            asked.push((report, at));
        }
    }

    /// The reports asked for within [`Self::ASKED_WITHIN`] of `now`; older asks are forgotten.
    fn asked_since(&self, now: Instant) -> Vec<Asked> {
        let Ok(mut asked) = self.asked.lock() else {
            return Vec::new();
        };
        asked.retain(|(_, at)| now.saturating_duration_since(*at) <= Self::ASKED_WITHIN);
        asked.iter().map(|(report, _)| *report).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 6, d).unwrap_or_default()
    }

    #[test]
    fn a_report_asked_for_is_kept_ready_until_no_one_has_asked_for_it_for_a_while() {
        let cache = OutcomeCache::default();
        let start = Instant::now();
        cache.note_asked((day(1), Split::default()), start);
        let by_area = Split {
            area: true,
            ..Split::default()
        };
        cache.note_asked((day(1), by_area), start + Duration::from_secs(600));
        assert_eq!(
            cache.asked_since(start + Duration::from_secs(60)),
            vec![(day(1), Split::default()), (day(1), by_area)]
        );
        let later = start + OutcomeCache::ASKED_WITHIN + Duration::from_secs(1);
        assert_eq!(cache.asked_since(later), vec![(day(1), by_area)]);
        let much_later = later + OutcomeCache::ASKED_WITHIN;
        assert!(cache.asked_since(much_later).is_empty());
    }

    #[test]
    fn asking_again_renews_a_report_and_only_the_latest_few_are_kept_ready() {
        let cache = OutcomeCache::default();
        let start = Instant::now();
        for d in 1..=10 {
            cache.note_asked((day(d), Split::default()), start);
        }
        cache.note_asked((day(3), Split::default()), start);
        let kept: Vec<NaiveDate> = cache
            .asked_since(start)
            .into_iter()
            .map(|(as_of, _)| as_of)
            .collect();
        assert_eq!(
            kept,
            vec![
                day(4),
                day(5),
                day(6),
                day(7),
                day(8),
                day(9),
                day(10),
                day(3)
            ]
        );
    }
}
