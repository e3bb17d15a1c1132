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
use crate::graphql::context::Caller;
use crate::graphql::errors::{BAD_USER_INPUT, INTERNAL};

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
    execute(&state, request, cid, false).await
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
    execute(&state, request, cid, true).await
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

async fn execute(state: &HttpState, request: Request, cid: String, via_get: bool) -> Response {
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
    }
    // Syntax errors are left to the schema, which reports them with their position.
    let caller = Caller {
        actor: state.config.local_actor.clone(),
        correlation_id: cid.clone(),
    };
    let request = request.data(caller);
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
    ([(CORRELATION_HEADER, cid)], Json(response)).into_response()
}

async fn websocket(
    State(state): State<HttpState>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let schema = state.schema.clone();
    let actor = state.config.local_actor.clone();
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |stream| {
            GraphQLWebSocket::new(stream, schema, protocol)
                .on_connection_init(move |_payload| async move {
                    let mut data = Data::default();
                    data.insert(Caller {
                        actor,
                        correlation_id: uuid::Uuid::new_v4().to_string(),
                    });
                    Ok(data)
                })
                .serve()
        })
}
