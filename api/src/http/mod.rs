//! `desist serve`: the HTTP server. One router per concern (GraphQL, health), one context.

mod alerts;
mod graphql;
mod health;
mod outcome_reports;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use desist_domain::DomainServices;
use desist_projections::compliance::ComplianceProjection;
use desist_projections::live::LiveViews;
use desist_projections::outcomes::OutcomesProjection;
use desist_projections::progress::ProgressProjection;
use desist_projections::RunnerOptions;
use desist_store::sealing::MasterKey;
use desist_store::Store;
use tokio::sync::watch;

use crate::auth::{AuthConfig, Authenticator};
use crate::graphql::context::AppContext;
use crate::graphql::{schema, DesistSchema, Limits};
use crate::Error;

/// Everything `desist serve` can be told (flags, environment or a config file).
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub addr: SocketAddr,
    pub database_url: String,
    /// GraphiQL, introspection and field suggestions.
    pub dev: bool,
    pub max_body_bytes: usize,
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_aliases: usize,
    pub request_timeout: Duration,
    /// `/readyz` fails when a live view is more than this many events behind.
    pub ready_max_lag: i64,
    /// How bearer tokens are verified.
    pub auth: AuthConfig,
    /// Wraps every subject's key: free text and identities are sealed with those keys.
    pub master_key: MasterKey,
}

/// What every handler shares.
#[derive(Clone)]
pub struct HttpState {
    pub app: Arc<AppContext>,
    pub auth: Authenticator,
    pub schema: DesistSchema,
    pub config: Arc<ServeConfig>,
}

pub fn router(state: HttpState) -> Router {
    Router::new()
        .merge(graphql::router(&state))
        .merge(health::router())
        .with_state(state)
}

/// Connects, starts the projection runners, the alert monitor and the outcome reports'
/// refresher, and serves until Ctrl-C or SIGTERM.
/// `ready` hears the bound address (tests bind port 0).
pub async fn serve(
    config: ServeConfig,
    ready: Option<tokio::sync::oneshot::Sender<SocketAddr>>,
) -> Result<(), Error> {
    let auth = Authenticator::new(&config.auth).map_err(Error::Config)?;
    let store = Store::open(&config.database_url, 20)
        .await?
        .with_master_key(config.master_key.clone());
    let app = Arc::new(AppContext::new(
        store.clone(),
        DomainServices::system(),
        Duration::from_secs(5),
    ));
    // Views whose code changed are rebuilt before serving, so no request reads a stale shape.
    desist_projections::runner::ensure_current(ProgressProjection, store.db()).await?;
    desist_projections::runner::ensure_current(ComplianceProjection, store.db()).await?;
    desist_projections::runner::ensure_current(OutcomesProjection, store.db()).await?;
    let (stop, stopped) = watch::channel(false);
    spawn_live_views(&app, stopped.clone());
    tokio::spawn(alerts::monitor(app.clone(), stopped.clone()));
    tokio::spawn(outcome_reports::keep_ready(app.clone(), stopped.clone()));
    tokio::spawn(watch_horizon(store.clone(), stopped.clone()));

    let limits = Limits {
        max_depth: config.max_depth,
        max_complexity: config.max_complexity,
        dev: config.dev,
    };
    let state = HttpState {
        auth,
        schema: schema(app.clone(), limits),
        app,
        config: Arc::new(config.clone()),
    };
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|e| Error::Config(format!("cannot listen on {}: {e}", config.addr)))?;
    let bound = listener
        .local_addr()
        .map_err(|e| Error::Config(e.to_string()))?;
    tracing::info!(addr = %bound, dev = config.dev, "desist is serving");
    if let Some(ready) = ready {
        let _ = ready.send(bound);
    }
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            let _ = stop.send(true);
        })
        .await
        .map_err(|e| Error::Config(format!("server failed: {e}")))
}

/// A transaction open this long holds every projection back: say so, once a minute.
const LONG_TRANSACTION: Duration = Duration::from_secs(300);

async fn watch_horizon(store: Store, mut stopped: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = stopped.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
        match desist_store::horizon::long_running_transactions(store.db(), LONG_TRANSACTION).await {
            Ok(long) => {
                for t in long {
                    tracing::warn!(
                        pid = t.pid,
                        seconds = t.age_seconds,
                        application = %t.application,
                        state = %t.state,
                        "a long transaction is holding the projections back"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot check for long transactions"),
        }
    }
}

/// Keeps the live views up to date, together (`desist_projections::live`).
fn spawn_live_views(app: &AppContext, mut stopped: watch::Receiver<bool>) {
    let views = LiveViews::new(
        (ProgressProjection, ComplianceProjection, OutcomesProjection),
        app.store.db().clone(),
        RunnerOptions {
            applied: Some(app.views_applied.clone()),
            ..RunnerOptions::default()
        },
    );
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.wait_for(|s| *s).await;
        };
        if let Err(e) = views.run(shutdown).await {
            tracing::error!(error = %e, "the live views stopped");
        }
    });
}

/// Ctrl-C, or SIGTERM from a process manager.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
}
