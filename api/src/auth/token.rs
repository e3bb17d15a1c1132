//! `desist token`: local HS256 tokens for people and scripts.

use chrono::Utc;
use desist_domain::Role;
use jsonwebtoken::{encode, EncodingKey, Header};

use super::{AuthConfig, Claims, MIN_SECRET_BYTES};

/// Mints a token for `user` acting as `role`, valid for `ttl`.
pub fn mint(
    config: &AuthConfig,
    user: &str,
    role: Role,
    agency: &str,
    purpose: Option<String>,
    ttl: std::time::Duration,
) -> Result<String, String> {
    let AuthConfig::Local {
        secret,
        issuer,
        audience,
    } = config
    else {
        return Err("tokens are minted locally only; an OIDC provider issues its own".into());
    };
    if secret.len() < MIN_SECRET_BYTES {
        return Err(format!(
            "jwt_secret: must be at least {MIN_SECRET_BYTES} bytes"
        ));
    }
    if role == Role::System {
        return Err("role: system is reserved for Desist itself".into());
    }
    let now = Utc::now().timestamp();
    let claims = Claims {
        sub: user.to_string(),
        role: role.as_str().to_string(),
        agency: Some(agency.to_string()),
        purpose,
        iss: issuer.clone(),
        aud: audience.clone(),
        exp: now + ttl.as_secs() as i64,
        nbf: Some(now),
        iat: Some(now),
    };
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .map_err(|e| e.to_string())
}
