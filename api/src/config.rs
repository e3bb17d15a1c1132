//! Where Desist finds its database.

use crate::Error;

/// Connections per process. Enough for a pilot's traffic; raise it for a national service.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;

/// The PostgreSQL URL, required until the embedded SQLite default lands.
pub fn database_url(flag: Option<String>) -> Result<String, Error> {
    match flag {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => Ok(url),
        Some(url) => Err(Error::Config(format!(
            "DATABASE_URL must be a postgres:// URL, got {:?}",
            redact(&url)
        ))),
        None => Err(Error::Config(
            "DATABASE_URL is not set: give --database-url or set DATABASE_URL=postgres://…".into(),
        )),
    }
}

/// Never echo a password back.
fn redact(url: &str) -> String {
    match url.split_once('@') {
        Some((_, host)) => format!("…@{host}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_url_names_the_setting() {
        let err = database_url(None).unwrap_err().to_string();
        assert!(err.contains("DATABASE_URL"), "{err}");
    }

    #[test]
    fn a_non_postgres_url_is_refused_without_echoing_its_password() {
        let err = database_url(Some("mysql://root:hunter2@db/x".into()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("postgres://"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
}
