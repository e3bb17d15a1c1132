//! Per-subject encryption of free text and of the identity vault, and erasure by destroying
//! the key (crypto-shredding).
//!
//! Each subject has a random 256-bit data key, stored wrapped by the master key from
//! configuration. Text is sealed with AES-256-GCM (a random 96-bit nonce per text, the subject
//! id as associated data, so a ciphertext cannot be moved to another subject). The domain only
//! ever sees `Sealed::Plain` (or `Sealed::Erased`): `SealingRepository` seals on the way into
//! the event store and opens on the way out.

use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use cqrs_es::persist::{
    PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot,
};
use cqrs_es::Aggregate;
use rand::RngCore;
use serde_json::{json, Map, Value};

use crate::db::{self, Db};
use crate::StoreError;

const NONCE_BYTES: usize = 12;

/// The key that wraps every subject's data key, from configuration (32 bytes).
#[derive(Clone)]
pub struct MasterKey {
    id: String,
    cipher: Aes256Gcm,
}

impl MasterKey {
    /// From base64 text: 32 random bytes (`openssl rand -base64 32`). The id names the key
    /// so that wrapped keys can be re-wrapped when it is rotated.
    pub fn from_base64(id: &str, text: &str) -> Result<Self, String> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| "master_key: not base64".to_string())?;
        if bytes.len() != 32 {
            return Err(format!("master_key: must be 32 bytes, got {}", bytes.len()));
        }
        let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|e| e.to_string())?;
        Ok(Self {
            id: id.to_string(),
            cipher,
        })
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({})", self.id)
    }
}

fn random_nonce() -> [u8; NONCE_BYTES] {
    let mut nonce = [0u8; NONCE_BYTES];
    rand::rng().fill_bytes(&mut nonce);
    nonce
}

fn crypto_error(what: &str) -> StoreError {
    StoreError::Sealing(what.to_string())
}

/// Subjects' keys and identities.
pub struct KeyVault {
    db: Db,
    master: MasterKey,
}

/// What a subject's key lookup found.
enum SubjectKey {
    Key(Box<Aes256Gcm>),
    Erased,
    Missing,
}

impl KeyVault {
    pub fn new(db: Db, master: MasterKey) -> Self {
        Self { db, master }
    }

    async fn key(&self, subject_id: &str) -> Result<SubjectKey, StoreError> {
        let row: Option<(Vec<u8>, Vec<u8>)> =
            db::query_as("SELECT nonce, wrapped_key FROM subject_keys WHERE subject_id = $1")
                .bind(subject_id)
                .fetch_optional(self.db.writer())
                .await?;
        if let Some((nonce, wrapped)) = row {
            let key = self
                .master
                .cipher
                .decrypt(
                    Nonce::from_slice(&nonce),
                    Payload {
                        msg: &wrapped,
                        aad: subject_id.as_bytes(),
                    },
                )
                .map_err(|_| crypto_error("a subject key does not unwrap: wrong master key?"))?;
            let cipher = Aes256Gcm::new_from_slice(&key).map_err(|_| crypto_error("bad key"))?;
            return Ok(SubjectKey::Key(Box::new(cipher)));
        }
        let erased: bool =
            db::query_scalar("SELECT EXISTS (SELECT 1 FROM erased_subjects WHERE subject_id = $1)")
                .bind(subject_id)
                .fetch_one(self.db.writer())
                .await?;
        Ok(if erased {
            SubjectKey::Erased
        } else {
            SubjectKey::Missing
        })
    }

    /// The subject's key, created on first use; an error once the subject is erased.
    async fn key_for_sealing(&self, subject_id: &str) -> Result<Aes256Gcm, StoreError> {
        match self.key(subject_id).await? {
            SubjectKey::Key(cipher) => return Ok(*cipher),
            SubjectKey::Erased => return Err(StoreError::Erased(subject_id.to_string())),
            SubjectKey::Missing => {}
        }
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        let nonce = random_nonce();
        let wrapped = self
            .master
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &key,
                    aad: subject_id.as_bytes(),
                },
            )
            .map_err(|_| crypto_error("cannot wrap a subject key"))?;
        // Two writers may race to create the key: the first wins, the other reads it.
        db::query(
            "INSERT INTO subject_keys (subject_id, master_key_id, nonce, wrapped_key)
             VALUES ($1, $2, $3, $4) ON CONFLICT (subject_id) DO NOTHING",
        )
        .bind(subject_id)
        .bind(&self.master.id)
        .bind(nonce.as_slice())
        .bind(&wrapped)
        .execute(self.db.writer())
        .await?;
        match self.key(subject_id).await? {
            SubjectKey::Key(cipher) => Ok(*cipher),
            _ => Err(crypto_error("a subject key vanished while it was created")),
        }
    }

    fn seal_with(cipher: &Aes256Gcm, subject_id: &str, text: &str) -> Result<Value, StoreError> {
        let nonce = random_nonce();
        let ciphertext = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: text.as_bytes(),
                    aad: subject_id.as_bytes(),
                },
            )
            .map_err(|_| crypto_error("cannot seal text"))?;
        Ok(json!({
            "scheme": "aes256_gcm",
            "subject": subject_id,
            "nonce": STANDARD.encode(nonce),
            "ciphertext": STANDARD.encode(ciphertext),
        }))
    }

    /// Replaces every plain `Sealed` text in `payloads` by its ciphertext under the subject's
    /// key, looked up once for all of them (a bulk import seals a whole course at a time).
    pub async fn seal_payloads(
        &self,
        payloads: &mut [&mut Value],
        subject_id: &str,
    ) -> Result<(), StoreError> {
        let mut cipher = None;
        for payload in payloads.iter_mut() {
            if !contains_scheme(payload, "plain") {
                continue;
            }
            let cipher = match &mut cipher {
                Some(cipher) => cipher,
                None => cipher.insert(self.key_for_sealing(subject_id).await?),
            };
            seal_values(payload, cipher, subject_id)?;
        }
        Ok(())
    }

    /// Replaces every sealed text in `payloads` by its plain text, or by `Erased` when the
    /// subject's key is gone. Each subject's key is looked up (a statement, and unwrapped)
    /// once for all of them: a command whose aggregate is not kept loads all its events, the
    /// history view reads them all, and a course's notes are nearly all one subject's.
    pub async fn open_payloads(&self, payloads: &mut [&mut Value]) -> Result<(), StoreError> {
        let mut subjects = Vec::new();
        for payload in payloads.iter() {
            collect_subjects(payload, &mut subjects);
        }
        subjects.sort();
        subjects.dedup();
        for subject in subjects {
            let key = self.key(&subject).await?;
            for payload in payloads.iter_mut() {
                open_values(payload, &subject, &key)?;
            }
        }
        Ok(())
    }

    /// Stores the subject's identity (names, date of birth, addresses, police identifiers).
    pub async fn put_identity(&self, subject_id: &str, identity: &Value) -> Result<(), StoreError> {
        let cipher = self.key_for_sealing(subject_id).await?;
        let nonce = random_nonce();
        let ciphertext = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: identity.to_string().as_bytes(),
                    aad: subject_id.as_bytes(),
                },
            )
            .map_err(|_| crypto_error("cannot seal an identity"))?;
        db::query(
            "INSERT INTO identity_vault (subject_id, nonce, ciphertext) VALUES ($1, $2, $3)
             ON CONFLICT (subject_id) DO UPDATE SET nonce = $2, ciphertext = $3, updated_at = $4",
        )
        .bind(subject_id)
        .bind(nonce.as_slice())
        .bind(&ciphertext)
        .bind(chrono::Utc::now())
        .execute(self.db.writer())
        .await?;
        Ok(())
    }

    /// The subject's identity: `Ok(None)` if none was recorded, `Erased` when erased.
    pub async fn identity(&self, subject_id: &str) -> Result<Option<Identity>, StoreError> {
        let key = self.key(subject_id).await?;
        let cipher = match key {
            SubjectKey::Erased => return Ok(Some(Identity::Erased)),
            SubjectKey::Missing => return Ok(None),
            SubjectKey::Key(cipher) => *cipher,
        };
        let row: Option<(Vec<u8>, Vec<u8>)> =
            db::query_as("SELECT nonce, ciphertext FROM identity_vault WHERE subject_id = $1")
                .bind(subject_id)
                .fetch_optional(self.db.writer())
                .await?;
        let Some((nonce, ciphertext)) = row else {
            return Ok(None);
        };
        let plain = cipher
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &ciphertext,
                    aad: subject_id.as_bytes(),
                },
            )
            .map_err(|_| crypto_error("an identity does not open"))?;
        let value = serde_json::from_slice(&plain).map_err(|_| crypto_error("identity"))?;
        Ok(Some(Identity::Known(value)))
    }

    /// Re-wraps every subject key under `next` (master key rotation). One transaction: either
    /// every key moves to the new master key or none does. Returns how many keys moved.
    pub async fn rewrap_all(&self, next: &MasterKey) -> Result<u64, StoreError> {
        // The transaction holds the write lock on SQLite; on PostgreSQL the rows are locked.
        let mut tx = self.db.writer().begin().await?;
        let lock = match self.db.backend() {
            crate::Backend::Postgres => " FOR UPDATE",
            crate::Backend::Sqlite => "",
        };
        let rows: Vec<(String, Vec<u8>, Vec<u8>)> = db::query_as(format!(
            "SELECT subject_id, nonce, wrapped_key FROM subject_keys ORDER BY subject_id{lock}"
        ))
        .fetch_all(&mut tx)
        .await?;
        let mut moved = 0;
        for (subject_id, nonce, wrapped) in rows {
            let aad = subject_id.as_bytes();
            let key = self
                .master
                .cipher
                .decrypt(Nonce::from_slice(&nonce), Payload { msg: &wrapped, aad })
                .map_err(|_| {
                    crypto_error("a subject key does not unwrap with the current master key")
                })?;
            let fresh = random_nonce();
            let rewrapped = next
                .cipher
                .encrypt(Nonce::from_slice(&fresh), Payload { msg: &key, aad })
                .map_err(|_| crypto_error("cannot wrap a subject key"))?;
            db::query(
                "UPDATE subject_keys SET master_key_id = $2, nonce = $3, wrapped_key = $4
                  WHERE subject_id = $1",
            )
            .bind(&subject_id)
            .bind(&next.id)
            .bind(fresh.as_slice())
            .bind(&rewrapped)
            .execute(&mut tx)
            .await?;
            moved += 1;
        }
        tx.commit().await?;
        // The old wrappings linger as dead rows until the table is rewritten.
        self.db.rewrite_tables(&["subject_keys"]).await?;
        Ok(moved)
    }

    /// Destroys the subject's key and identity. Every sealed text about the subject, in every
    /// event and backup made from now on, is unreadable. The key table is rewritten so that no
    /// dead copy of the key lingers in its files.
    pub async fn erase(&self, subject_id: &str) -> Result<(), StoreError> {
        let mut tx = self.db.writer().begin().await?;
        db::query("INSERT INTO erased_subjects (subject_id) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(subject_id)
            .execute(&mut tx)
            .await?;
        db::query("DELETE FROM identity_vault WHERE subject_id = $1")
            .bind(subject_id)
            .execute(&mut tx)
            .await?;
        db::query("DELETE FROM subject_keys WHERE subject_id = $1")
            .bind(subject_id)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        self.db
            .rewrite_tables(&["subject_keys", "identity_vault"])
            .await?;
        Ok(())
    }
}

/// A subject's identity as the vault returns it.
#[derive(Debug, Clone, PartialEq)]
pub enum Identity {
    Known(Value),
    Erased,
}

fn is_sealed(map: &Map<String, Value>, scheme: &str) -> bool {
    map.get("scheme").and_then(Value::as_str) == Some(scheme)
}

fn contains_scheme(value: &Value, scheme: &str) -> bool {
    match value {
        Value::Object(map) => {
            is_sealed(map, scheme) || map.values().any(|v| contains_scheme(v, scheme))
        }
        Value::Array(items) => items.iter().any(|v| contains_scheme(v, scheme)),
        _ => false,
    }
}

fn seal_values(value: &mut Value, cipher: &Aes256Gcm, subject_id: &str) -> Result<(), StoreError> {
    match value {
        Value::Object(map) if is_sealed(map, "plain") => {
            let text = map.get("text").and_then(Value::as_str).unwrap_or_default();
            *value = KeyVault::seal_with(cipher, subject_id, text)?;
        }
        Value::Object(map) => {
            for v in map.values_mut() {
                seal_values(v, cipher, subject_id)?;
            }
        }
        Value::Array(items) => {
            for v in items {
                seal_values(v, cipher, subject_id)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn collect_subjects(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) if is_sealed(map, "aes256_gcm") => {
            if let Some(s) = map.get("subject").and_then(Value::as_str) {
                out.push(s.to_string());
            }
        }
        Value::Object(map) => map.values().for_each(|v| collect_subjects(v, out)),
        Value::Array(items) => items.iter().for_each(|v| collect_subjects(v, out)),
        _ => {}
    }
}

fn open_values(value: &mut Value, subject_id: &str, key: &SubjectKey) -> Result<(), StoreError> {
    match value {
        Value::Object(map)
            if is_sealed(map, "aes256_gcm")
                && map.get("subject").and_then(Value::as_str) == Some(subject_id) =>
        {
            *value = match key {
                SubjectKey::Key(cipher) => {
                    let field = |k: &str| {
                        map.get(k)
                            .and_then(Value::as_str)
                            .and_then(|s| STANDARD.decode(s).ok())
                            .ok_or_else(|| crypto_error("a sealed text is malformed"))
                    };
                    let nonce = field("nonce")?;
                    let ciphertext = field("ciphertext")?;
                    let plain = cipher
                        .decrypt(
                            Nonce::from_slice(&nonce),
                            Payload {
                                msg: &ciphertext,
                                aad: subject_id.as_bytes(),
                            },
                        )
                        .map_err(|_| crypto_error("a sealed text does not open"))?;
                    json!({"scheme": "plain", "text": String::from_utf8_lossy(&plain)})
                }
                // No key: erased (or never had one, which only a damaged store could show).
                SubjectKey::Erased | SubjectKey::Missing => json!({"scheme": "erased"}),
            };
        }
        Value::Object(map) => {
            for v in map.values_mut() {
                open_values(v, subject_id, key)?;
            }
        }
        Value::Array(items) => {
            for v in items {
                open_values(v, subject_id, key)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The event repository with sealing: plain text in, ciphertext stored, plain text out.
/// Without a vault it passes events through as they are.
pub struct SealingRepository<R> {
    inner: R,
    vault: Option<Arc<KeyVault>>,
    db: Db,
}

impl<R> SealingRepository<R> {
    pub fn new(inner: R, vault: Option<Arc<KeyVault>>, db: Db) -> Self {
        Self { inner, vault, db }
    }

    /// Whose key seals an aggregate's text: a subject's own id, or the subject its first event
    /// (referral, order made) names.
    async fn subject_of(
        &self,
        events: &[SerializedEvent],
    ) -> Result<Option<String>, PersistenceError> {
        let Some(first) = events.first() else {
            return Ok(None);
        };
        if first.aggregate_type == "Subject" {
            return Ok(Some(first.aggregate_id.clone()));
        }
        let named = |payload: &Value| {
            payload
                .as_object()
                .and_then(|o| o.values().next())
                .and_then(|body| body.get("subject_id"))
                .and_then(Value::as_str)
                .map(String::from)
        };
        if first.sequence == 1 {
            return Ok(named(&first.payload));
        }
        let payload: Option<Value> = db::query_scalar(
            "SELECT payload FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence = 1",
        )
        .bind(&first.aggregate_type)
        .bind(&first.aggregate_id)
        .fetch_optional(self.db.writer())
        .await
        .map_err(|e| PersistenceError::ConnectionError(Box::new(e)))?;
        Ok(payload.as_ref().and_then(named))
    }

    async fn open(
        &self,
        mut events: Vec<SerializedEvent>,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let Some(vault) = &self.vault else {
            return Ok(events);
        };
        let mut payloads: Vec<&mut Value> = events.iter_mut().map(|e| &mut e.payload).collect();
        vault
            .open_payloads(&mut payloads)
            .await
            .map_err(|e| PersistenceError::UnknownError(Box::new(e)))?;
        Ok(events)
    }
}

impl<R: PersistedEventRepository> PersistedEventRepository for SealingRepository<R> {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let events = self.inner.get_events::<A>(aggregate_id).await?;
        self.open(events).await
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let events = self
            .inner
            .get_last_events::<A>(aggregate_id, last_sequence)
            .await?;
        self.open(events).await
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        // Desist does not snapshot: aggregates are short-lived streams.
        self.inner.get_snapshot::<A>(aggregate_id).await
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        let Some(vault) = &self.vault else {
            return self.inner.persist::<A>(events, snapshot_update).await;
        };
        let mut sealed = events.to_vec();
        // Events of several aggregates (a bulk import's batch): each one's text is sealed for
        // its own subject.
        for aggregate in sealed.chunk_by_mut(|a, b| a.aggregate_id == b.aggregate_id) {
            if !aggregate
                .iter()
                .any(|e| contains_scheme(&e.payload, "plain"))
            {
                continue;
            }
            let subject = self.subject_of(aggregate).await?.ok_or_else(|| {
                PersistenceError::UnknownError(Box::new(crypto_error(
                    "text about nobody: no subject to seal it for",
                )))
            })?;
            let mut payloads: Vec<&mut Value> =
                aggregate.iter_mut().map(|e| &mut e.payload).collect();
            vault
                .seal_payloads(&mut payloads, &subject)
                .await
                .map_err(|e| PersistenceError::UnknownError(Box::new(e)))?;
        }
        self.inner.persist::<A>(&sealed, snapshot_update).await
    }

    async fn stream_events<A: Aggregate>(
        &self,
        _aggregate_id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        Err(PersistenceError::UnknownError(Box::new(crypto_error(
            "replay streams are not used; read the global feed instead",
        ))))
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        Err(PersistenceError::UnknownError(Box::new(crypto_error(
            "replay streams are not used; read the global feed instead",
        ))))
    }
}
