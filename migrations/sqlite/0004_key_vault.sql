-- Per-subject data keys and the identity vault (see the PostgreSQL migration 0005). Deleted
-- rows are overwritten on disk because every connection runs with secure_delete on.
CREATE TABLE subject_keys (
    subject_id    text PRIMARY KEY,
    master_key_id text NOT NULL,
    nonce         blob NOT NULL,
    wrapped_key   blob NOT NULL,
    created_at    text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE identity_vault (
    subject_id  text PRIMARY KEY,
    nonce       blob NOT NULL,
    ciphertext  blob NOT NULL,
    updated_at  text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE erased_subjects (
    subject_id  text PRIMARY KEY,
    erased_at   text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
