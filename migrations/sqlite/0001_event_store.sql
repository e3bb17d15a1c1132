-- The event store on SQLite. sqlite-es inserts a fixed column list (aggregate_type … metadata);
-- the columns after it are filled by defaults, so the library is used as it is, not forked.
-- Times are stored as RFC 3339 text in UTC, which sorts as time does.
CREATE TABLE events (
    aggregate_type  text    NOT NULL,
    aggregate_id    text    NOT NULL,
    sequence        integer NOT NULL CHECK (sequence > 0),
    event_type      text    NOT NULL,
    event_version   text    NOT NULL,
    payload         text    NOT NULL,
    metadata        text    NOT NULL,
    recorded_at     text    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    event_id        text    NOT NULL DEFAULT (lower(
        hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2)
        || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2)
        || '-' || hex(randomblob(6)))),
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);

CREATE UNIQUE INDEX events_event_id ON events (event_id);

-- The global order of the feed. One writer at a time means positions are handed out in commit
-- order, so a reader that remembers a position never skips an event committed later. A table
-- of its own (not the implicit rowid, which VACUUM may renumber) keeps positions stable.
CREATE TABLE event_positions (
    global_position integer PRIMARY KEY AUTOINCREMENT,
    aggregate_type  text    NOT NULL,
    aggregate_id    text    NOT NULL,
    sequence        integer NOT NULL,
    UNIQUE (aggregate_type, aggregate_id, sequence)
);

CREATE TRIGGER events_position AFTER INSERT ON events
BEGIN
    INSERT INTO event_positions (aggregate_type, aggregate_id, sequence)
    VALUES (NEW.aggregate_type, NEW.aggregate_id, NEW.sequence);
END;

-- Events are facts: never edited, never deleted. Corrections are new events.
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are immutable: record a correction instead');
END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are immutable: record a correction instead');
END;
CREATE TRIGGER event_positions_no_update BEFORE UPDATE ON event_positions
BEGIN
    SELECT RAISE(ABORT, 'event positions are immutable');
END;
CREATE TRIGGER event_positions_no_delete BEFORE DELETE ON event_positions
BEGIN
    SELECT RAISE(ABORT, 'event positions are immutable');
END;

-- One row per accepted command, written by the trigger below in the same transaction as the
-- events. SQLite has no transaction id, so the writer's attempt id (in the event metadata)
-- tells a later event of the same attempt from another attempt that recorded the id first.
CREATE TABLE command_log (
    command_id      text    PRIMARY KEY,
    command         text    NOT NULL,
    aggregate_type  text    NOT NULL,
    aggregate_id    text    NOT NULL,
    first_sequence  integer NOT NULL,
    last_sequence   integer NOT NULL,
    attempt         text,
    recorded_at     text    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TRIGGER events_log_command BEFORE INSERT ON events
WHEN json_extract(NEW.metadata, '$.command_id') IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'this command has already been recorded')
     WHERE EXISTS (
        SELECT 1 FROM command_log c
         WHERE c.command_id = json_extract(NEW.metadata, '$.command_id')
           AND (c.attempt IS NOT json_extract(NEW.metadata, '$.attempt')
                OR c.aggregate_type <> NEW.aggregate_type
                OR c.aggregate_id <> NEW.aggregate_id));
    UPDATE command_log SET last_sequence = NEW.sequence
     WHERE command_id = json_extract(NEW.metadata, '$.command_id');
    INSERT INTO command_log (command_id, command, aggregate_type, aggregate_id,
                             first_sequence, last_sequence, attempt)
    SELECT json_extract(NEW.metadata, '$.command_id'),
           coalesce(json_extract(NEW.metadata, '$.command'), ''),
           NEW.aggregate_type, NEW.aggregate_id, NEW.sequence, NEW.sequence,
           json_extract(NEW.metadata, '$.attempt')
     WHERE NOT EXISTS (SELECT 1 FROM command_log
                        WHERE command_id = json_extract(NEW.metadata, '$.command_id'));
END;
