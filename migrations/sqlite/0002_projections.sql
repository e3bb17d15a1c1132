-- The read side's bookkeeping: one row per projection generation (see the PostgreSQL
-- migration of the same name). Runners are woken within the process, which is the only
-- writer, so there is no notification trigger.
CREATE TABLE projection_generations (
    name                text    NOT NULL,
    generation          integer NOT NULL CHECK (generation > 0),
    status              text    NOT NULL CHECK (status IN ('building', 'live', 'retired')),
    checkpoint_tx       integer NOT NULL DEFAULT 0,
    checkpoint_position integer NOT NULL DEFAULT 0,
    events_applied      integer NOT NULL DEFAULT 0,
    failed_position     integer,
    failed_event_type   text,
    failure             text,
    updated_at          text    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    schema_version      integer NOT NULL DEFAULT 0,
    PRIMARY KEY (name, generation)
);

CREATE UNIQUE INDEX projection_generations_one_live
    ON projection_generations (name) WHERE status = 'live';
