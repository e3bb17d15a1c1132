//! An OIDC provider's signing keys, fetched from its JWKS endpoint and cached. An unknown key
//! id triggers a refresh (the provider has rotated its keys), at most once per cooldown so a
//! stream of forged key ids cannot make Desist hammer the provider.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::DecodingKey;
use tokio::sync::RwLock;

use super::AuthError;

/// Keys are refreshed at least this often.
const MAX_AGE: Duration = Duration::from_secs(600);
/// …and at most this often.
const COOLDOWN: Duration = Duration::from_secs(30);

pub struct JwksCache {
    url: String,
    client: reqwest::Client,
    state: RwLock<State>,
}

struct State {
    keys: HashMap<String, DecodingKey>,
    fetched_at: Option<Instant>,
}

impl JwksCache {
    pub fn new(url: String) -> Self {
        Self {
            url,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
            state: RwLock::new(State {
                keys: HashMap::new(),
                fetched_at: None,
            }),
        }
    }

    pub async fn key(&self, kid: &str) -> Result<DecodingKey, AuthError> {
        {
            let state = self.state.read().await;
            let fresh = state.fetched_at.is_some_and(|at| at.elapsed() < MAX_AGE);
            if let (true, Some(key)) = (fresh, state.keys.get(kid)) {
                return Ok(key.clone());
            }
        }
        let mut state = self.state.write().await;
        let may_fetch = state.fetched_at.is_none_or(|at| at.elapsed() >= COOLDOWN);
        if may_fetch {
            match self.fetch().await {
                Ok(keys) => {
                    state.keys = keys;
                    state.fetched_at = Some(Instant::now());
                }
                Err(e) => {
                    tracing::warn!(url = %self.url, error = %e, "cannot fetch the JWKS");
                    if state.keys.is_empty() {
                        return Err(AuthError::KeysUnavailable);
                    }
                }
            }
        }
        state.keys.get(kid).cloned().ok_or(AuthError::UnknownKey)
    }

    async fn fetch(&self) -> Result<HashMap<String, DecodingKey>, String> {
        let set: JwkSet = self
            .client
            .get(&self.url)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .error_for_status()
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        Ok(set
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                DecodingKey::from_jwk(jwk).ok().map(|key| (kid, key))
            })
            .collect())
    }
}
