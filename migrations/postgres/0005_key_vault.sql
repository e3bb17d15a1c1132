-- Per-subject data keys, wrapped (encrypted) by the master key from configuration. Free text
-- about a subject in events, and the identity vault, are encrypted with the subject's key;
-- erasure deletes the key (crypto-shredding) and the table is rewritten so no copy of it
-- stays in the table's files.
CREATE TABLE subject_keys (
    subject_id   text        PRIMARY KEY,
    master_key_id text       NOT NULL,
    nonce        bytea       NOT NULL,
    wrapped_key  bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Names, dates of birth, addresses and police identifiers: never in events, only here,
-- encrypted with the subject's key.
CREATE TABLE identity_vault (
    subject_id   text        PRIMARY KEY,
    nonce        bytea       NOT NULL,
    ciphertext   bytea       NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Subjects whose key was destroyed: no new text about them can be sealed.
CREATE TABLE erased_subjects (
    subject_id   text        PRIMARY KEY,
    erased_at    timestamptz NOT NULL DEFAULT now()
);
