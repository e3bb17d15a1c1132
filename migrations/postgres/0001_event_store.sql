-- The event store. postgres-es inserts a fixed column list (aggregate_type … metadata); the
-- columns after it are filled by defaults, so the library is used as it is, not forked.
CREATE TABLE events (
    aggregate_type  text        NOT NULL,
    aggregate_id    text        NOT NULL,
    sequence        bigint      NOT NULL CHECK (sequence > 0),
    event_type      text        NOT NULL,
    event_version   text        NOT NULL,
    payload         jsonb       NOT NULL,
    metadata        jsonb       NOT NULL,
    -- Insertion order. Not commit order: see events_feed_order and docs/architecture.md.
    global_position bigint      GENERATED ALWAYS AS IDENTITY,
    -- The writing transaction. Feed readers only read below pg_snapshot_xmin, where every
    -- transaction has ended, so an event committed late is never skipped.
    tx              xid8        NOT NULL DEFAULT pg_current_xact_id(),
    -- When the fact was written (occurred_at, in the payload, is when it happened).
    recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    event_id        uuid        NOT NULL DEFAULT gen_random_uuid(),
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);

CREATE UNIQUE INDEX events_global_position ON events (global_position);
CREATE UNIQUE INDEX events_event_id ON events (event_id);
CREATE INDEX events_feed_order ON events (tx, global_position);

-- Events are facts: never edited, never deleted. Corrections are new events.
CREATE FUNCTION events_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are immutable: record a correction instead'
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER events_no_update_or_delete
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_are_immutable();
CREATE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_are_immutable();

-- One row per accepted command: its client-supplied id and the events it produced.
-- Written by the trigger below in the same transaction as the events, so a command id is
-- recorded exactly when its events are.
CREATE TABLE command_log (
    command_id      text        PRIMARY KEY,
    command         text        NOT NULL,
    aggregate_type  text        NOT NULL,
    aggregate_id    text        NOT NULL,
    first_sequence  bigint      NOT NULL,
    last_sequence   bigint      NOT NULL,
    tx              xid8        NOT NULL DEFAULT pg_current_xact_id(),
    recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE FUNCTION log_command() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    cid text := NEW.metadata ->> 'command_id';
BEGIN
    IF cid IS NULL THEN
        RETURN NEW;
    END IF;
    INSERT INTO command_log (command_id, command, aggregate_type, aggregate_id,
                             first_sequence, last_sequence)
    VALUES (cid, coalesce(NEW.metadata ->> 'command', ''), NEW.aggregate_type,
            NEW.aggregate_id, NEW.sequence, NEW.sequence)
    ON CONFLICT (command_id) DO UPDATE
        SET last_sequence = EXCLUDED.last_sequence
        -- Later events of the same command, in the same transaction, extend its range.
        WHERE command_log.tx = pg_current_xact_id()
          AND command_log.aggregate_type = EXCLUDED.aggregate_type
          AND command_log.aggregate_id = EXCLUDED.aggregate_id;
    IF NOT FOUND THEN
        -- Another transaction recorded this command id: refuse, as a conflict, so the
        -- writer looks the command up again and answers with the original outcome.
        RAISE EXCEPTION 'command % has already been recorded', cid
            USING ERRCODE = 'unique_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER events_log_command
    BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION log_command();
