//! Where Desist finds its database and, on the embedded default, its local secrets.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::Error;

/// Connections per process. Enough for a pilot's traffic; raise it for a national service.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;

/// The data directory when none is given: beside wherever Desist is started.
pub const DEFAULT_DATA_DIR: &str = "desist-data";

/// The database: `DATABASE_URL` when set (`postgres://…` for production, or `sqlite://…`),
/// otherwise the embedded SQLite file in the data directory.
pub fn database_url(flag: Option<String>, data_dir: &Path) -> Result<String, Error> {
    match flag {
        Some(url)
            if url.starts_with("postgres://")
                || url.starts_with("postgresql://")
                || url.starts_with("sqlite:") =>
        {
            Ok(url)
        }
        Some(url) => Err(Error::Config(format!(
            "DATABASE_URL must be a postgres:// or sqlite:// URL, got {:?}",
            redact(&url)
        ))),
        None => Ok(format!(
            "sqlite://{}",
            data_dir.join("desist.db").to_string_lossy()
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

/// Secrets for a trial on the embedded default, made on first use and kept in the data
/// directory (readable by its owner only), so that `desist demo` and `desist serve` work with
/// no configuration. Production sets `DESIST_JWT_SECRET` and `DESIST_MASTER_KEY` (or OIDC)
/// and keeps the master key away from the data: docs/security.md.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct LocalSecrets {
    pub jwt_secret: String,
    pub master_key: String,
}

impl LocalSecrets {
    pub const FILE: &'static str = "local-secrets.toml";

    pub fn load_or_create(data_dir: &Path) -> Result<LocalSecrets, Error> {
        let path: PathBuf = data_dir.join(Self::FILE);
        if let Ok(text) = std::fs::read_to_string(&path) {
            return toml::from_str(&text)
                .map_err(|e| Error::Config(format!("{}: {e}", path.display())));
        }
        std::fs::create_dir_all(data_dir)
            .map_err(|e| Error::Config(format!("cannot create {}: {e}", data_dir.display())))?;
        let random = || {
            let mut bytes = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
            STANDARD.encode(bytes)
        };
        let secrets = LocalSecrets {
            jwt_secret: random(),
            master_key: random(),
        };
        let text = toml::to_string(&secrets).map_err(|e| Error::Config(e.to_string()))?;
        write_private(&path, &text)
            .map_err(|e| Error::Config(format!("cannot write {}: {e}", path.display())))?;
        tracing::warn!(
            path = %path.display(),
            "made local secrets for a trial; set DESIST_JWT_SECRET and DESIST_MASTER_KEY in production"
        );
        Ok(secrets)
    }
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_url_the_embedded_file_in_the_data_directory_is_used() {
        let url = database_url(None, Path::new("/srv/desist")).unwrap();
        assert_eq!(url, "sqlite:///srv/desist/desist.db");
    }

    #[test]
    fn an_unsupported_url_is_refused_without_echoing_its_password() {
        let err = database_url(Some("mysql://root:hunter2@db/x".into()), Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(err.contains("postgres://"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn local_secrets_are_made_once_and_then_reused() {
        let dir = std::env::temp_dir().join(format!("desist-secrets-{}", rand::random::<u64>()));
        let first = LocalSecrets::load_or_create(&dir).unwrap();
        let again = LocalSecrets::load_or_create(&dir).unwrap();
        assert_eq!(first.jwt_secret, again.jwt_secret);
        assert_eq!(first.master_key, again.master_key);
        assert_eq!(STANDARD.decode(&first.master_key).unwrap().len(), 32);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
