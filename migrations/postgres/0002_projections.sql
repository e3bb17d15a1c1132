-- The read side's bookkeeping: one row per projection generation. A generation's tables are
-- named <table>_g<generation>; the live generation is what the plain-named SQL views show.
CREATE TABLE projection_generations (
    name              text        NOT NULL,
    generation        integer     NOT NULL CHECK (generation > 0),
    status            text        NOT NULL CHECK (status IN ('building', 'live', 'retired')),
    checkpoint_tx     bigint      NOT NULL DEFAULT 0,
    checkpoint_position bigint    NOT NULL DEFAULT 0,
    events_applied    bigint      NOT NULL DEFAULT 0,
    -- Set when the projection stopped on an event it could not apply; cleared on progress.
    failed_position   bigint,
    failed_event_type text,
    failure           text,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, generation)
);

CREATE UNIQUE INDEX projection_generations_one_live
    ON projection_generations (name) WHERE status = 'live';

-- Wakes projection runners as soon as events commit (NOTIFY is delivered at commit, and
-- repeated notifications in one transaction are folded into one).
CREATE FUNCTION notify_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('desist_events', '');
    RETURN NULL;
END $$;

CREATE TRIGGER events_notify
    AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION notify_events();
