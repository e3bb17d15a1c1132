//! "Now", injected: the only fact from outside the domain that the rules need.

use std::sync::Arc;

use chrono::{DateTime, Utc};

/// Tells the rules what time it is, so that facts dated in the future can be refused.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock stopped at one instant, for tests and for reproducible imports.
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// The services every aggregate's command handler receives.
#[derive(Clone)]
pub struct DomainServices {
    clock: Arc<dyn Clock>,
}

impl DomainServices {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self { clock }
    }

    pub fn system() -> Self {
        Self::new(Arc::new(SystemClock))
    }

    pub fn fixed(now: DateTime<Utc>) -> Self {
        Self::new(Arc::new(FixedClock(now)))
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

impl Default for DomainServices {
    fn default() -> Self {
        Self::system()
    }
}
