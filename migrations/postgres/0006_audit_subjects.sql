-- Whose records each audited request read, one row per subject, so that the same SQL reads
-- the audit on PostgreSQL and on SQLite (which has no arrays). Earlier records are copied
-- across; the old array column is no longer written.
CREATE TABLE audit_subjects (
    audit_id    bigint NOT NULL REFERENCES audit_log (id),
    subject_id  text   NOT NULL,
    PRIMARY KEY (subject_id, audit_id)
);

INSERT INTO audit_subjects (audit_id, subject_id)
SELECT DISTINCT id, unnest(subject_ids) FROM audit_log;

CREATE TRIGGER audit_subjects_no_update_or_delete
    BEFORE UPDATE OR DELETE ON audit_subjects
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
CREATE TRIGGER audit_subjects_no_truncate
    BEFORE TRUNCATE ON audit_subjects
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();
