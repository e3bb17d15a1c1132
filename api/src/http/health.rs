//! Liveness and readiness for load balancers and orchestrators.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::HttpState;

pub fn router() -> Router<HttpState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// The process is up.
async fn healthz() -> &'static str {
    "ok"
}

/// The database answers and every live view is within the configured lag.
async fn readyz(State(state): State<HttpState>) -> (StatusCode, Json<serde_json::Value>) {
    let pool = state.app.store.db();
    if let Err(e) = desist_store::db::query("SELECT 1").execute(pool).await {
        tracing::warn!(error = %e, "readiness: database unreachable");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"ready": false, "database": "unreachable"})),
        );
    }
    match desist_projections::registry::max_live_lag(pool).await {
        Ok(lag) if lag <= state.config.ready_max_lag => {
            (StatusCode::OK, Json(json!({"ready": true, "lag": lag})))
        }
        Ok(lag) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"ready": false, "lag": lag, "maxLag": state.config.ready_max_lag})),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: projections unknown");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"ready": false, "projections": "unknown"})),
            )
        }
    }
}
