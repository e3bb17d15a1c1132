//! The GraphQL endpoints and the checks made before any resolver runs.
//!
//! async-graphql reads the raw body itself, so the body limit, the refusal of batches and of
//! non-JSON bodies, the alias limit and the GET-for-queries-only rule are applied here, on the
//! way in; depth, complexity, introspection and suggestions are schema limits.

use async_graphql::http::{GraphiQLSource, ALL_WEBSOCKET_PROTOCOLS};
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
};
use async_graphql::{Data, ErrorExtensionValues, Request};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::HttpState;
use crate::auth::{bearer, AuthError};
use crate::graphql::context::Caller;
use crate::graphql::errors::{BAD_USER_INPUT, INTERNAL, UNAUTHENTICATED};

pub const CORRELATION_HEADER: &str = "x-correlation-id";

pub fn router(state: &HttpState) -> Router<HttpState> {
    Router::new()
        .route("/graphql", get(get_graphql).post(post_graphql))
        .route("/graphql/ws", get(websocket))
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
}

/// The client's correlation id if it sent a sensible one, else a fresh one.
fn correlation_id(headers: &HeaderMap) -> String {
    headers
        .get(CORRELATION_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 100 && v.chars().all(|c| c.is_ascii_graphic()))
        .map(String::from)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// A request refused before execution, in GraphQL's error shape.
fn refuse(status: StatusCode, code: &str, message: &str, correlation_id: &str) -> Response {
    let body = json!({
        "errors": [{
            "message": message,
            "extensions": {"code": code, "correlationId": correlation_id}
        }]
    });
    (
        status,
        [(CORRELATION_HEADER, correlation_id.to_string())],
        Json(body),
    )
        .into_response()
}

/// The verified caller, or the 401 that says why not (without saying more than needed).
async fn authenticate(
    state: &HttpState,
    headers: &HeaderMap,
    cid: &str,
) -> Result<Caller, Response> {
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let principal = match bearer(header) {
        Ok(token) => state.auth.verify(token).await,
        Err(e) => Err(e),
    };
    let principal = principal.map_err(|e| {
        tracing::info!(correlation_id = %cid, reason = %e, "request not authenticated");
        let status = if e == AuthError::KeysUnavailable {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::UNAUTHORIZED
        };
        refuse(
            status,
            UNAUTHENTICATED,
            "a valid bearer token is required",
            cid,
        )
    })?;
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.len() <= 500)
            .map(String::from)
    };
    let purpose = text("x-purpose").or(principal.purpose);
    let break_glass = text("x-break-glass-reason");
    if break_glass.is_some() && purpose.is_none() {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            BAD_USER_INPUT,
            "a break-glass reason needs a purpose (X-Purpose)",
            cid,
        ));
    }
    Ok(Caller::new(
        principal.actor,
        cid.to_string(),
        purpose,
        break_glass,
    ))
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

async fn post_graphql(
    State(state): State<HttpState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let cid = correlation_id(&headers);
    let caller = match authenticate(&state, &headers, &cid).await {
        Ok(caller) => caller,
        Err(refused) => return refused,
    };
    if !is_json(&headers) {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            BAD_USER_INPUT,
            "POST /graphql takes Content-Type: application/json",
            &cid,
        );
    }
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let message = format!(
                "the request body was refused ({}); the limit is {} bytes",
                rejection.status(),
                state.config.max_body_bytes
            );
            return refuse(rejection.status(), BAD_USER_INPUT, &message, &cid);
        }
    };
    let value: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                BAD_USER_INPUT,
                "the body is not JSON",
                &cid,
            )
        }
    };
    if value.is_array() {
        return refuse(
            StatusCode::BAD_REQUEST,
            BAD_USER_INPUT,
            "batched requests are not accepted: send one operation per request",
            &cid,
        );
    }
    let request: Request = match serde_json::from_value(value) {
        Ok(request) => request,
        Err(e) => {
            let message = format!("not a GraphQL request: {e}");
            return refuse(StatusCode::BAD_REQUEST, BAD_USER_INPUT, &message, &cid);
        }
    };
    execute(&state, request, caller, false).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetParams {
    query: Option<String>,
    variables: Option<String>,
    operation_name: Option<String>,
}

async fn get_graphql(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Query(params): Query<GetParams>,
) -> Response {
    let cid = correlation_id(&headers);
    if params.query.is_none() && state.config.dev {
        let page = GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql/ws")
            .finish();
        return Html(page).into_response();
    }
    let caller = match authenticate(&state, &headers, &cid).await {
        Ok(caller) => caller,
        Err(refused) => return refused,
    };
    let Some(query) = params.query else {
        if state.config.dev {
            let page = GraphiQLSource::build()
                .endpoint("/graphql")
                .subscription_endpoint("/graphql/ws")
                .finish();
            return Html(page).into_response();
        }
        return refuse(
            StatusCode::BAD_REQUEST,
            BAD_USER_INPUT,
            "GET /graphql needs a query",
            &cid,
        );
    };
    let mut request = Request::new(query);
    if let Some(name) = params.operation_name {
        request = request.operation_name(name);
    }
    if let Some(variables) = params.variables {
        match serde_json::from_str(&variables) {
            Ok(variables) => request = request.variables(variables),
            Err(_) => {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    BAD_USER_INPUT,
                    "variables: not JSON",
                    &cid,
                )
            }
        }
    }
    execute(&state, request, caller, true).await
}

fn count_aliases(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(field) => {
                usize::from(field.node.alias.is_some())
                    + count_aliases(&field.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => count_aliases(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

fn aliases(document: &ExecutableDocument) -> usize {
    let operations: usize = document
        .operations
        .iter()
        .map(|(_, op)| count_aliases(&op.node.selection_set.node))
        .sum();
    let fragments: usize = document
        .fragments
        .values()
        .map(|f| count_aliases(&f.node.selection_set.node))
        .sum();
    operations + fragments
}

/// Whether the document asks for the schema itself (`__schema` or `__type`).
fn introspects(document: &ExecutableDocument) -> bool {
    fn walk(set: &SelectionSet) -> bool {
        set.items.iter().any(|item| match &item.node {
            Selection::Field(field) => {
                let name = field.node.name.node.as_str();
                name == "__schema" || name == "__type" || walk(&field.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => walk(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => false,
        })
    }
    document
        .operations
        .iter()
        .any(|(_, op)| walk(&op.node.selection_set.node))
        || document
            .fragments
            .values()
            .any(|f| walk(&f.node.selection_set.node))
}

fn is_query_only(document: &ExecutableDocument, operation_name: Option<&str>) -> bool {
    match &document.operations {
        DocumentOperations::Single(op) => op.node.ty == OperationType::Query,
        DocumentOperations::Multiple(ops) => ops
            .iter()
            .filter(|(name, _)| operation_name.is_none_or(|n| n == name.as_str()))
            .all(|(_, op)| op.node.ty == OperationType::Query),
    }
}

async fn execute(
    state: &HttpState,
    mut request: Request,
    caller: Caller,
    via_get: bool,
) -> Response {
    let cid = caller.correlation_id.clone();
    if let Ok(document) = async_graphql::parser::parse_query(&request.query) {
        let count = aliases(&document);
        if count > state.config.max_aliases {
            let message = format!(
                "the query uses {count} aliases; the limit is {}",
                state.config.max_aliases
            );
            return refuse(StatusCode::BAD_REQUEST, BAD_USER_INPUT, &message, &cid);
        }
        if !state.config.dev && introspects(&document) {
            return refuse(
                StatusCode::BAD_REQUEST,
                BAD_USER_INPUT,
                "introspection is disabled outside development",
                &cid,
            );
        }
        if via_get && !is_query_only(&document, request.operation_name.as_deref()) {
            return refuse(
                StatusCode::METHOD_NOT_ALLOWED,
                BAD_USER_INPUT,
                "mutations and subscriptions are only accepted by POST",
                &cid,
            );
        }
        // The schema takes the document as parsed here rather than parsing the text again
        // (its depth, directive and validation checks still run on it): the two parses were
        // a twentieth of a command's CPU on SQLite (perf).
        request.set_parsed_query(document);
    }
    // Syntax errors are left to the schema, which reports them with their position.
    let request = request.data(caller.clone());
    let executed =
        tokio::time::timeout(state.config.request_timeout, state.schema.execute(request)).await;
    let mut response = match executed {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(correlation_id = %cid, "request timed out");
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                INTERNAL,
                "the request took too long and was stopped",
                &cid,
            );
        }
    };
    // Parse and validation errors carry no code of their own: they are the client's input.
    for error in &mut response.errors {
        let extensions = error
            .extensions
            .get_or_insert_with(ErrorExtensionValues::default);
        if extensions.get("code").is_none() {
            extensions.set("code", BAD_USER_INPUT);
        }
    }
    // The read audit is written before anything read leaves the server.
    let note = caller.audit_note();
    if !note.is_empty() {
        if let Err(e) = crate::audit::write(state.app.store.db(), &caller, &note).await {
            tracing::error!(correlation_id = %cid, error = %e, "cannot write the read audit");
            return refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                INTERNAL,
                "internal error",
                &cid,
            );
        }
    }
    ([(CORRELATION_HEADER, cid)], Json(response)).into_response()
}

async fn websocket(
    State(state): State<HttpState>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let schema = state.schema.clone();
    let auth = state.auth.clone();
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |stream| async move {
            // The token arrives in connection_init; the socket closes when it expires.
            let (expiry_tx, expiry_rx) = tokio::sync::oneshot::channel();
            let expiry_tx = std::sync::Mutex::new(Some(expiry_tx));
            let serve = GraphQLWebSocket::new(stream, schema, protocol)
                .on_connection_init(move |payload| async move {
                    let token = payload
                        .get("authorization")
                        .or_else(|| payload.get("Authorization"))
                        .and_then(|v| v.as_str())
                        .map(|v| v.trim_start_matches("Bearer ").trim().to_string())
                        .or_else(|| {
                            payload
                                .get("token")
                                .and_then(|v| v.as_str())
                                .map(String::from)
                        })
                        .ok_or_else(|| async_graphql::Error::new("a bearer token is required"))?;
                    let principal = auth.verify(&token).await.map_err(|_| {
                        async_graphql::Error::new("a valid bearer token is required")
                    })?;
                    if let Some(tx) = expiry_tx.lock().ok().and_then(|mut t| t.take()) {
                        let _ = tx.send(principal.expires_at);
                    }
                    let mut data = Data::default();
                    data.insert(Caller::new(
                        principal.actor,
                        uuid::Uuid::new_v4().to_string(),
                        principal.purpose,
                        None,
                    ));
                    Ok(data)
                })
                .serve();
            let expired = async move {
                match expiry_rx.await {
                    Ok(at) => {
                        let left = (at - chrono::Utc::now()).to_std().unwrap_or_default();
                        tokio::time::sleep(left).await;
                    }
                    // No valid connection_init: the protocol closes the socket itself.
                    Err(_) => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = serve => {}
                _ = expired => tracing::info!("closing a subscription whose token expired"),
            }
        })
}
