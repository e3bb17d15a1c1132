-- The read audit (Data Protection Act 2018 Part 3: logging of consultation and disclosure):
-- who read which subjects' records, when, why. Kept apart from the domain events and, like
-- them, append-only.
CREATE TABLE audit_log (
    id                  bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at                  timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor_id            text        NOT NULL,
    role                text        NOT NULL,
    agency              text        NOT NULL,
    -- The GraphQL fields that read records (subject, enrolment.history, outcomes, …).
    operation           text        NOT NULL,
    subject_ids         text[]      NOT NULL DEFAULT '{}',
    purpose             text,
    break_glass_reason  text,
    correlation_id      text        NOT NULL
);

CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_subjects ON audit_log USING gin (subject_ids);
CREATE INDEX audit_log_actor ON audit_log (actor_id, at);

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only' USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER audit_log_no_update_or_delete
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();
