//! Who is calling: bearer JWTs, verified with a pinned algorithm, issuer and audience.
//!
//! Two modes. Local: HS256 with a secret from configuration, tokens minted by `desist token`.
//! Deployment: an OIDC provider's signing keys from its JWKS endpoint (cached, refreshed when a
//! new key id appears). Expiry and not-before are always enforced.

pub mod jwks;
pub mod policy;
pub mod token;

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use desist_domain::{Actor, Role};
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Shortest local signing secret accepted: HS256 needs at least 256 bits.
pub const MIN_SECRET_BYTES: usize = 32;
/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECONDS: u64 = 30;

/// The claims Desist reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: String,
    #[serde(default)]
    pub agency: Option<String>,
    /// Why the bearer is acting (recorded in the read audit).
    #[serde(default)]
    pub purpose: Option<String>,
    pub iss: String,
    pub aud: String,
    pub exp: i64,
    #[serde(default)]
    pub nbf: Option<i64>,
    #[serde(default)]
    pub iat: Option<i64>,
}

/// A verified caller.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    pub actor: Actor,
    pub purpose: Option<String>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("no bearer token")]
    Missing,
    #[error("the token is not valid")]
    Invalid,
    #[error("the token's signing key is unknown")]
    UnknownKey,
    #[error("the identity provider's keys could not be fetched")]
    KeysUnavailable,
}

#[derive(Debug, Clone)]
pub enum AuthConfig {
    Local {
        secret: String,
        issuer: String,
        audience: String,
    },
    Oidc {
        jwks_url: String,
        issuer: String,
        audience: String,
        algorithm: Algorithm,
    },
}

#[derive(Clone)]
pub enum Authenticator {
    Local {
        key: DecodingKey,
        validation: Validation,
    },
    Oidc {
        keys: Arc<jwks::JwksCache>,
        validation: Validation,
    },
}

fn validation(algorithm: Algorithm, issuer: &str, audience: &str) -> Validation {
    let mut v = Validation::new(algorithm);
    v.algorithms = vec![algorithm];
    v.set_issuer(&[issuer]);
    v.set_audience(&[audience]);
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    v.validate_exp = true;
    v.validate_nbf = true;
    v.leeway = LEEWAY_SECONDS;
    v
}

impl Authenticator {
    pub fn new(config: &AuthConfig) -> Result<Self, String> {
        match config {
            AuthConfig::Local {
                secret,
                issuer,
                audience,
            } => {
                if secret.len() < MIN_SECRET_BYTES {
                    return Err(format!(
                        "jwt_secret: must be at least {MIN_SECRET_BYTES} bytes (HS256)"
                    ));
                }
                Ok(Self::Local {
                    key: DecodingKey::from_secret(secret.as_bytes()),
                    validation: validation(Algorithm::HS256, issuer, audience),
                })
            }
            AuthConfig::Oidc {
                jwks_url,
                issuer,
                audience,
                algorithm,
            } => {
                if matches!(
                    algorithm,
                    Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
                ) {
                    return Err("oidc_algorithm: must be an asymmetric algorithm".into());
                }
                Ok(Self::Oidc {
                    keys: Arc::new(jwks::JwksCache::new(jwks_url.clone())),
                    validation: validation(*algorithm, issuer, audience),
                })
            }
        }
    }

    /// Verifies a bearer token and returns who it speaks for.
    pub async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        // The header is read only to find the key; the algorithm is pinned by `validation`.
        let header = decode_header(token).map_err(|_| AuthError::Invalid)?;
        let claims = match self {
            Self::Local { key, validation } => decode::<Claims>(token, key, validation),
            Self::Oidc { keys, validation } => {
                let kid = header.kid.ok_or(AuthError::UnknownKey)?;
                let key = keys.key(&kid).await?;
                decode::<Claims>(token, &key, validation)
            }
        }
        .map_err(|_| AuthError::Invalid)?
        .claims;
        let role: Role = claims.role.parse().map_err(|_| AuthError::Invalid)?;
        if role == Role::System || claims.sub.trim().is_empty() {
            return Err(AuthError::Invalid);
        }
        Ok(Principal {
            actor: Actor {
                id: claims.sub,
                role,
                agency: claims.agency.unwrap_or_else(|| "unknown".into()),
            },
            purpose: claims.purpose,
            expires_at: Utc
                .timestamp_opt(claims.exp, 0)
                .single()
                .ok_or(AuthError::Invalid)?,
        })
    }
}

/// The token in an `Authorization: Bearer …` header value.
pub fn bearer(header: Option<&str>) -> Result<&str, AuthError> {
    let value = header.ok_or(AuthError::Missing)?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::Invalid)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthError::Invalid);
    }
    Ok(token.trim())
}
