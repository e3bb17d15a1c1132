-- The read audit, append-only (see the PostgreSQL migrations 0004 and 0006).
CREATE TABLE audit_log (
    id                  integer PRIMARY KEY AUTOINCREMENT,
    at                  text    NOT NULL,
    actor_id            text    NOT NULL,
    role                text    NOT NULL,
    agency              text    NOT NULL,
    operation           text    NOT NULL,
    purpose             text,
    break_glass_reason  text,
    correlation_id      text    NOT NULL
);

CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor_id, at);

-- Whose records each audited request read.
CREATE TABLE audit_subjects (
    audit_id    integer NOT NULL REFERENCES audit_log (id),
    subject_id  text    NOT NULL,
    PRIMARY KEY (subject_id, audit_id)
);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_subjects_no_update BEFORE UPDATE ON audit_subjects
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_subjects_no_delete BEFORE DELETE ON audit_subjects
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
