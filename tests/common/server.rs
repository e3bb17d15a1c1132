//! A real `desist serve` on a free port, against the test's own database.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use desist_api::auth::AuthConfig;
use desist_api::http::{serve, ServeConfig};
use desist_domain::Role;
use serde_json::{json, Value};

use super::TestDb;

pub struct TestServer {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub db: TestDb,
    task: tokio::task::JoinHandle<()>,
}

pub fn config(db: &TestDb) -> ServeConfig {
    ServeConfig {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        database_url: db.url.clone(),
        dev: false,
        max_body_bytes: 1 << 20,
        max_depth: 12,
        max_complexity: 2000,
        max_aliases: 30,
        request_timeout: Duration::from_secs(10),
        ready_max_lag: 1000,
        auth: auth(),
        master_key: master_key(),
    }
}

/// A master key for tests only, as configuration gives it (base64).
pub fn master_key_text() -> &'static str {
    "dGVzdC1tYXN0ZXIta2V5LTMyLWJ5dGVzLWxvbmchISE="
}

/// A master key for tests only.
pub fn master_key() -> desist_store::sealing::MasterKey {
    desist_store::sealing::MasterKey::from_base64("test-master", master_key_text())
        .expect("test master key")
}

pub const SECRET: &str = "a-test-secret-that-is-long-enough-for-hs256";

pub fn auth() -> AuthConfig {
    AuthConfig::Local {
        secret: SECRET.into(),
        issuer: "desist".into(),
        audience: "desist".into(),
    }
}

/// A local token for `user` in `role`, valid for an hour.
pub fn token(user: &str, role: Role) -> String {
    desist_api::auth::token::mint(
        &auth(),
        user,
        role,
        "test",
        Some("testing".into()),
        Duration::from_secs(3600),
    )
    .expect("token")
}

impl TestServer {
    pub async fn start(db: TestDb) -> Self {
        let config = config(&db);
        Self::start_with(db, config).await
    }

    pub async fn start_with(db: TestDb, config: ServeConfig) -> Self {
        let (ready, bound) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            if let Err(e) = serve(config, Some(ready)).await {
                panic!("server failed: {e}");
            }
        });
        let addr = tokio::time::timeout(Duration::from_secs(30), bound)
            .await
            .expect("server starts")
            .expect("server reports its address");
        Self {
            addr,
            client: reqwest::Client::new(),
            db,
            task,
        }
    }

    /// Waits until every view has applied every event (as `/readyz` with no lag allowed).
    pub async fn views_caught_up(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let lag = desist_projections::registry::max_live_lag(self.db.store.db())
                .await
                .unwrap_or(i64::MAX);
            let live = desist_projections::registry::status(self.db.store.db())
                .await
                .map(|s| s.iter().filter(|g| g.status == "live").count())
                .unwrap_or(0);
            if lag == 0 && live == 3 {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "views did not catch up"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// POSTs a GraphQL request as an admin and returns the JSON response.
    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        self.graphql_as(&token("test-admin", Role::Admin), query, variables)
            .await
    }

    /// POSTs a GraphQL request with `token` and returns the JSON response.
    pub async fn graphql_as(&self, token: &str, query: &str, variables: Value) -> Value {
        self.client
            .post(self.url("/graphql"))
            .bearer_auth(token)
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .expect("request sent")
            .json()
            .await
            .expect("JSON response")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Every non-empty `userErrors` list and every `errors` entry in a response.
pub fn problems(response: &Value) -> Vec<String> {
    fn walk(path: &str, v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    if (k == "userErrors" || k == "errors")
                        && v.as_array().is_some_and(|a| !a.is_empty())
                    {
                        out.push(format!("{path}.{k}: {v}"));
                    }
                    walk(&format!("{path}.{k}"), v, out);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(&format!("{path}[{i}]"), v, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk("", response, &mut out);
    out
}
