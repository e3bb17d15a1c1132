//! A server's live views, kept up to date together: each batch applied to all of them in one
//! transaction.
//!
//! Why: with a runner of its own ([`Runner::run`]), each view took, for the same batch of a
//! few commands (about four at eight clients), its own wake-up, generation lookup, feed read,
//! `BEGIN`, checkpoint, `COMMIT` and look for more: a third of the statements a command cost
//! on PostgreSQL (12.1 a command, 8.0 together; docs/benchmarks.md). Here one task holds
//! every view's lock (still one runner per projection: each view's lock is its own), reads
//! each batch once, and applies it to every view in one transaction that moves all their
//! checkpoints.
//!
//! The views go together only while they can: all held here, at the same checkpoint, none
//! stopped, and the batch short. Otherwise (catching up after a restart, a view another
//! instance applies, one stopped by an event it cannot apply, a checkpoint moved under a
//! batch) each view's own runner brings it up to date, as it always has, and they go together
//! again once they meet at the end of the feed.

use desist_store::db::{Db, EventSignal, Tx};
use desist_store::feed::{has_events_after, read_raw_after, Payloads, RawFeedEvent};

use crate::decode::decode;
use crate::runner::{
    move_checkpoints, save, waited_for_hidden, DecodedPayload, Following, Prepared, LOAD_BY_KEY,
};
use crate::{Generation, Projection, ProjectionError, Runner, RunnerOptions};

/// Three views kept up to date together (a server's are progress, compliance and outcomes).
pub struct LiveViews<A: Projection, B: Projection, C: Projection> {
    db: Db,
    options: RunnerOptions,
    /// Each view's runner; `None` once an error stopped it (as a runner of its own stops).
    views: (Running<A>, Running<B>, Running<C>),
    /// Types of event every view ignores: the one feed read leaves their payloads out.
    ignored_by_all: Vec<&'static str>,
}

/// A view's runner, while no error has stopped it.
type Running<P> = Option<Following<P>>;

/// How going together ended.
enum Together {
    /// Every view has applied the feed to its end.
    Done,
    /// The views are to be brought up to date apart.
    Apart,
}

impl<A: Projection, B: Projection, C: Projection> LiveViews<A, B, C> {
    pub fn new((a, b, c): (A, B, C), db: Db, options: RunnerOptions) -> Self {
        let ignored_by_all = A::IGNORES
            .iter()
            .filter(|t| B::IGNORES.contains(t) && C::IGNORES.contains(t))
            .copied()
            .collect();
        Self {
            views: (
                Some(following(a, &db, &options)),
                Some(following(b, &db, &options)),
                Some(following(c, &db, &options)),
            ),
            db,
            options,
            ignored_by_all,
        }
    }

    /// Keeps every view up to date until `shutdown` resolves, following each view's live
    /// generation when a rebuild switches it. An error stops only the view it is about, as it
    /// would stop that view's own runner; the others go on.
    pub async fn run(
        mut self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<(), ProjectionError> {
        tokio::pin!(shutdown);
        let mut committed = self.db.subscribe_events().await?;
        let result = loop {
            if let Err(e) = self.step(&mut committed).await {
                break Err(e);
            }
            tokio::select! {
                _ = &mut shutdown => break Ok(()),
                _ = committed.next() => {}
                _ = tokio::time::sleep(self.options.poll_interval) => {}
            }
        };
        let (a, b, c) = self.views;
        if let Some(view) = a {
            view.release().await;
        }
        if let Some(view) = b {
            view.release().await;
        }
        if let Some(view) = c {
            view.release().await;
        }
        result
    }

    /// Brings every view up to date: together if they can go together, else each apart.
    /// Only a simulated crash (a test's) ends the run.
    async fn step(&mut self, committed: &mut EventSignal) -> Result<(), ProjectionError> {
        match self.together(committed).await {
            Ok(Together::Done) => return Ok(()),
            Ok(Together::Apart) => {}
            Err(ProjectionError::SimulatedCrash) => return Err(ProjectionError::SimulatedCrash),
            // The views' own runners meet the same error, and say which view it stops.
            Err(e) => tracing::debug!(error = %e, "the live views go apart"),
        }
        // Apart, each view's runner first looks up its live generation, as a runner of its
        // own does at every wake-up: a rebuild may have switched it. (Together, the batch's
        // checkpoint finds that out, so no lookup is needed for every batch.)
        self.hold_each().await;
        let (a, b, c) = &mut self.views;
        apart(a, committed).await?;
        apart(b, committed).await?;
        apart(c, committed).await
    }

    /// Looks up each running view's live generation and holds its lock.
    async fn hold_each(&mut self) {
        let (a, b, c) = &mut self.views;
        hold(a).await;
        hold(b).await;
        hold(c).await;
    }

    /// Applies short batches to every view, one transaction each, until the feed has nothing
    /// more, for as long as the views can go together.
    async fn together(&mut self, committed: &mut EventSignal) -> Result<Together, ProjectionError> {
        loop {
            let (Some(a), Some(b), Some(c)) = &mut self.views else {
                return Ok(Together::Apart);
            };
            let (Some(ga), Some(gb), Some(gc)) = (a.generation(), b.generation(), c.generation())
            else {
                return Ok(Together::Apart);
            };
            let from = match (a.known, b.known, c.known) {
                (Some(x), Some(y), Some(z)) if x == y && y == z => x,
                _ => return Ok(Together::Apart),
            };
            // Commits heard until now are in this read, or hidden from it (looked for below).
            committed.take_pending().await;
            let events = read_raw_after(
                self.db.reader(),
                from,
                self.options.batch_size,
                Payloads::Except(&self.ignored_by_all),
            )
            .await?;
            let Some(last) = events.last().cloned() else {
                if !waited_for_hidden(&self.db, from, Some(committed)).await? {
                    return Ok(Together::Done);
                }
                continue;
            };
            // A full batch has more behind it: each view's runner catches up faster alone,
            // reading the next batch while it writes this one.
            if events.len() as i64 >= self.options.batch_size {
                return Ok(Together::Apart);
            }
            let decoded: Vec<_> = events.iter().map(decode).collect();
            let mut tx = self.db.begin_derived(LOAD_BY_KEY).await?;
            let views = [(A::NAME, ga), (B::NAME, gb), (C::NAME, gc)];
            // Every view's checkpoint moves first, and only where all of them began the batch
            // and are still live, taking their rows' locks as a runner of its own does
            // (`runner::fence`); otherwise one of them moved or was replaced.
            let (count, to) = (events.len() as u64, last.position);
            if move_checkpoints(&mut tx, &views, from, to, count, true).await? != views.len() as u64
            {
                return Ok(Together::Apart);
            }
            let batch = (events.as_slice(), decoded.as_slice());
            let pa = prepare(&a.runner, &mut tx, ga, batch, &last).await?;
            let pb = prepare(&b.runner, &mut tx, gb, batch, &last).await?;
            let pc = prepare(&c.runner, &mut tx, gc, batch, &last).await?;
            save(&mut tx, ga, &pa).await?;
            save(&mut tx, gb, &pb).await?;
            save(&mut tx, gc, &pc).await?;
            self.options.crash_if_asked(events.len() as u64)?;
            tx.commit().await?;
            a.reached(last.position);
            b.reached(last.position);
            c.reached(last.position);
            // After a short batch, only events committed since (or still hidden by the
            // horizon) are left: one cheap look says whether to read again.
            if !has_events_after(self.db.writer(), last.position).await? {
                return Ok(Together::Done);
            }
        }
    }
}

fn following<P: Projection>(projection: P, db: &Db, options: &RunnerOptions) -> Following<P> {
    Following::new(Runner::new(projection, db.clone()).with_options(options.clone()))
}

/// Looks up a running view's live generation and holds its lock; an error stops the view.
async fn hold<P: Projection>(view: &mut Running<P>) {
    let Some(following) = view else {
        return;
    };
    if let Err(e) = following.hold().await {
        stopped(view, e).await;
    }
}

/// Brings a running view up to date by its own runner; an error stops the view. A simulated
/// crash (a test's) ends the run.
async fn apart<P: Projection>(
    view: &mut Running<P>,
    committed: &mut EventSignal,
) -> Result<(), ProjectionError> {
    let Some(following) = view else {
        return Ok(());
    };
    match following.drain(committed).await {
        Ok(()) => Ok(()),
        Err(ProjectionError::SimulatedCrash) => Err(ProjectionError::SimulatedCrash),
        Err(e) => {
            stopped(view, e).await;
            Ok(())
        }
    }
}

/// Stops a view after `error`, as a runner of its own stops: it lets go of its lock and no
/// longer says how far it has applied.
async fn stopped<P: Projection>(view: &mut Running<P>, error: ProjectionError) {
    tracing::error!(projection = P::NAME, error = %error, "projection stopped");
    if let Some(following) = view.take() {
        following.release().await;
    }
}

/// Works out what a batch changes in one view: the events it ignores pass it by.
async fn prepare<P: Projection>(
    runner: &Runner<P>,
    tx: &mut Tx,
    generation: Generation,
    (events, decoded): (&[RawFeedEvent], &[DecodedPayload]),
    last: &RawFeedEvent,
) -> Result<Prepared<P>, ProjectionError> {
    let mine = events
        .iter()
        .zip(decoded)
        .map(
            |(event, decoded)| match P::IGNORES.contains(&event.event_type.as_str()) {
                true => None,
                false => decoded.clone(),
            },
        )
        .collect();
    runner
        .prepare(tx, generation, (events, mine), last.clone(), None)
        .await
}
