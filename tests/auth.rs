//! Only a valid bearer token gets an answer: every bad one is a 401 with no data.

mod common;

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::server::{config, TestServer, SECRET};
use common::TestDb;
use desist_api::auth::AuthConfig;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

const QUERY: &str = "{ caseload(first: 5) { edges { node { rag } } } }";

fn claims(overrides: Value) -> Value {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "sub": "admin-01", "role": "admin", "agency": "test",
        "iss": "desist", "aud": "desist", "exp": now + 600, "nbf": now - 10, "iat": now
    });
    if let (Some(base), Some(extra)) = (claims.as_object_mut(), overrides.as_object()) {
        for (k, v) in extra {
            base.insert(k.clone(), v.clone());
        }
    }
    claims
}

fn hs256(claims: &Value, secret: &[u8]) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

async fn ask(server: &TestServer, bearer: Option<&str>) -> (u16, Value) {
    let mut request = server
        .client
        .post(server.url("/graphql"))
        .json(&json!({ "query": QUERY }));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn assert_refused(case: &str, (status, body): (u16, Value)) {
    assert_eq!(status, 401, "{case}: {body}");
    assert!(
        body.get("data").is_none_or(Value::is_null),
        "{case}: {body}"
    );
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{case}: {body}"
    );
}

#[tokio::test]
async fn local_tokens_are_refused_unless_valid_in_every_respect() {
    let server = TestServer::start(TestDb::new().await).await;
    let now = chrono::Utc::now().timestamp();
    let secret = SECRET.as_bytes();

    let (status, body) = ask(&server, Some(&hs256(&claims(json!({})), secret))).await;
    assert_eq!(status, 200, "a valid token is accepted: {body}");

    assert_refused("no token", ask(&server, None).await);
    assert_refused(
        "expired",
        ask(
            &server,
            Some(&hs256(&claims(json!({"exp": now - 3600})), secret)),
        )
        .await,
    );
    assert_refused(
        "not yet valid",
        ask(
            &server,
            Some(&hs256(&claims(json!({"nbf": now + 3600})), secret)),
        )
        .await,
    );
    assert_refused(
        "wrong issuer",
        ask(
            &server,
            Some(&hs256(&claims(json!({"iss": "elsewhere"})), secret)),
        )
        .await,
    );
    assert_refused(
        "wrong audience",
        ask(
            &server,
            Some(&hs256(&claims(json!({"aud": "another-app"})), secret)),
        )
        .await,
    );
    assert_refused(
        "another secret",
        ask(
            &server,
            Some(&hs256(
                &claims(json!({})),
                b"some-other-secret-32-bytes-long!!",
            )),
        )
        .await,
    );
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims(json!({})).to_string());
    assert_refused(
        "alg none",
        ask(&server, Some(&format!("{header}.{payload}."))).await,
    );
    // A valid token whose payload is swapped for one with more privilege.
    let valid = hs256(&claims(json!({"role": "evaluator"})), secret);
    let parts: Vec<&str> = valid.split('.').collect();
    let tampered_payload = URL_SAFE_NO_PAD.encode(claims(json!({"role": "admin"})).to_string());
    let tampered = format!("{}.{}.{}", parts[0], tampered_payload, parts[2]);
    assert_refused("tampered payload", ask(&server, Some(&tampered)).await);
    assert_refused(
        "unknown role",
        ask(
            &server,
            Some(&hs256(&claims(json!({"role": "superuser"})), secret)),
        )
        .await,
    );
    assert_refused("not a bearer", {
        let response = server
            .client
            .post(server.url("/graphql"))
            .header(
                "authorization",
                format!("Basic {}", URL_SAFE_NO_PAD.encode("a:b")),
            )
            .json(&json!({ "query": QUERY }))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    });
}

/// Serves `tests/keys/jwks.json` as an OIDC provider would.
async fn jwks_server() -> String {
    let jwks: Value = serde_json::from_str(include_str!("keys/jwks.json")).unwrap();
    let app = axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || {
            let jwks = jwks.clone();
            async move { axum::Json(jwks) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/jwks")
}

#[tokio::test]
async fn oidc_tokens_are_checked_against_the_providers_keys_with_the_algorithm_pinned() {
    let jwks_url = jwks_server().await;
    let db = TestDb::new().await;
    let mut settings = config(&db);
    settings.auth = AuthConfig::Oidc {
        jwks_url,
        issuer: "https://idp.example.test".into(),
        audience: "desist".into(),
        algorithm: Algorithm::RS256,
    };
    let server = TestServer::start_with(db, settings).await;
    let private = EncodingKey::from_rsa_pem(include_bytes!("keys/test-rsa.pem")).unwrap();
    let oidc_claims = claims(json!({"iss": "https://idp.example.test"}));
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("test-key-1".into());

    let signed = encode(&header, &oidc_claims, &private).unwrap();
    let (status, body) = ask(&server, Some(&signed)).await;
    assert_eq!(status, 200, "{body}");

    // The classic confusion: HS256 "signed" with the provider's public key.
    let public_pem = include_bytes!("keys/test-rsa.pub.pem");
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some("test-key-1".into());
    let confused = encode(
        &hs_header,
        &oidc_claims,
        &EncodingKey::from_secret(public_pem),
    )
    .unwrap();
    assert_refused(
        "HS256 signed with the public key",
        ask(&server, Some(&confused)).await,
    );

    let mut unknown = header.clone();
    unknown.kid = Some("rotated-away".into());
    let stranger = encode(&unknown, &oidc_claims, &private).unwrap();
    assert_refused("unknown key id", ask(&server, Some(&stranger)).await);

    let wrong_issuer = encode(&header, &claims(json!({})), &private).unwrap();
    assert_refused("wrong issuer", ask(&server, Some(&wrong_issuer)).await);

    let expired = encode(
        &header,
        &claims(json!({"iss": "https://idp.example.test", "exp": 1_000_000})),
        &private,
    )
    .unwrap();
    assert_refused("expired", ask(&server, Some(&expired)).await);
}

#[tokio::test]
async fn a_subscription_is_closed_when_its_token_expires() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message;

    let server = TestServer::start(TestDb::new().await).await;
    let short = hs256(
        &claims(json!({"exp": chrono::Utc::now().timestamp() + 2})),
        SECRET.as_bytes(),
    );
    let mut request = format!("ws://{}/graphql/ws", server.addr)
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let init =
        json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {short}")}});
    socket
        .send(Message::Text(init.to_string().into()))
        .await
        .unwrap();
    let ack = socket.next().await.unwrap().unwrap();
    assert!(ack.to_string().contains("connection_ack"), "{ack}");
    let subscribe = json!({"id": "1", "type": "subscribe",
        "payload": {"query": "subscription { complianceAlerts { reason } }"}});
    socket
        .send(Message::Text(subscribe.to_string().into()))
        .await
        .unwrap();

    let closed = tokio::time::timeout(Duration::from_secs(15), async {
        while let Some(message) = socket.next().await {
            match message {
                Ok(Message::Close(_)) | Err(_) => return true,
                Ok(_) => continue,
            }
        }
        true
    })
    .await;
    assert_eq!(closed, Ok(true), "the socket closes at expiry");

    // And a socket without a token never gets an ack.
    let mut request = format!("ws://{}/graphql/ws", server.addr)
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut anonymous, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let init = json!({"type": "connection_init", "payload": {}});
    anonymous
        .send(Message::Text(init.to_string().into()))
        .await
        .unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(5), anonymous.next()).await;
    let acked = matches!(reply, Ok(Some(Ok(Message::Text(ref t)))) if t.contains("connection_ack"));
    assert!(!acked, "no ack without a token");
}
