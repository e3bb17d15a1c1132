//! The GraphQL schema: queries, mutations and subscriptions over the domain and the views.

pub mod context;
pub mod enums;
pub mod errors;
pub mod evaluator;
pub mod ids;
pub mod loaders;
pub mod mutations;
pub mod objects;
pub mod privacy;
pub mod queries;
pub mod subscriptions;

use std::sync::Arc;

use async_graphql::dataloader::DataLoader;
use async_graphql::Schema;

use context::AppContext;
use loaders::{
    EnrolmentsOfSubject, OrderLoader, OrdersOfSubject, ProgressLoader, SubjectLoader, ViewLoader,
};
use mutations::MutationRoot;
use queries::QueryRoot;
use subscriptions::SubscriptionRoot;

pub type DesistSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Limits on what one request may ask for.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_depth: usize,
    pub max_complexity: usize,
    /// Introspection and field suggestions only in development.
    pub dev: bool,
}

pub fn schema(app: Arc<AppContext>, limits: Limits) -> DesistSchema {
    let pool = app.store.db().clone();
    let view = |pool: &desist_store::Db| ViewLoader { pool: pool.clone() };
    let mut builder = Schema::build(QueryRoot, MutationRoot, SubscriptionRoot)
        .data(DataLoader::new(ProgressLoader(view(&pool)), tokio::spawn))
        .data(DataLoader::new(SubjectLoader(view(&pool)), tokio::spawn))
        .data(DataLoader::new(OrderLoader(view(&pool)), tokio::spawn))
        .data(DataLoader::new(
            EnrolmentsOfSubject(view(&pool)),
            tokio::spawn,
        ))
        .data(DataLoader::new(OrdersOfSubject(view(&pool)), tokio::spawn))
        .data(app)
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity);
    if !limits.dev {
        builder = builder.disable_introspection().disable_suggestions();
    }
    builder.finish()
}

/// The schema in SDL, as `docs/schema.graphql` holds it.
pub fn sdl() -> String {
    Schema::build(QueryRoot, MutationRoot, SubscriptionRoot)
        .finish()
        .sdl()
}
