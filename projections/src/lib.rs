//! Desist's read side. Projection runners that tail `desist_store::feed` in commit-safe order,
//! the progress, compliance and outcome views, and the outcome statistics arrive here next
//! (see docs/architecture.md, "Read side"). The crate exists now so that the dependency
//! direction `api → projections → store → domain` is fixed from the start.
