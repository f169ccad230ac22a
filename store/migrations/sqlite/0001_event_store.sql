-- The event store, in the layout sqlite-es 0.5 expects (same columns, same composite primary key:
-- sqlite-es maps a violation of that key, extended code 1555, to an optimistic-lock conflict),
-- plus `global_position`, the commit-ordered position used by readers that catch up on all events.
CREATE TABLE events
(
    aggregate_type  text                          NOT NULL,
    aggregate_id    text                          NOT NULL,
    sequence        integer CHECK (sequence >= 0) NOT NULL,
    event_type      text                          NOT NULL,
    event_version   text                          NOT NULL,
    payload         text                          NOT NULL,
    metadata        text                          NOT NULL,
    -- Filled by the trigger below in the same statement as the INSERT, so it is never NULL once
    -- the inserting statement has finished. SQLite cannot change NEW in a BEFORE trigger, which is
    -- why the column itself cannot be declared NOT NULL.
    global_position integer UNIQUE,
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
) STRICT;

-- One row holding the last position handed out. A counter (rather than MAX(global_position) + 1)
-- never hands out a number twice, even if the newest event were removed by hand.
CREATE TABLE event_position_counter
(
    id            integer PRIMARY KEY CHECK (id = 1),
    last_position integer NOT NULL
) STRICT;

INSERT INTO event_position_counter (id, last_position) VALUES (1, 0);

-- Why this is commit-ordered: SQLite admits one writer at a time. The INSERT that fires this
-- trigger holds the database write lock from its first write until its transaction commits or
-- rolls back, and a write transaction always starts from the newest committed state. So the
-- counter read here already includes every committed event, and no other transaction can take a
-- number until this one has finished: numbers become visible in exactly the order they are issued.
CREATE TRIGGER events_assign_global_position
    AFTER INSERT ON events
BEGIN
    UPDATE event_position_counter SET last_position = last_position + 1 WHERE id = 1;
    UPDATE events
       SET global_position = (SELECT last_position FROM event_position_counter WHERE id = 1)
     WHERE rowid = NEW.rowid;
END;

-- Kept for layout compatibility with sqlite-es. It stays empty: cqrs-es 0.5.0's snapshot and
-- aggregate stores apply newly committed events twice, so this crate only uses the event store.
CREATE TABLE snapshots
(
    aggregate_type   text                                  NOT NULL,
    aggregate_id     text                                  NOT NULL,
    last_sequence    integer CHECK (last_sequence >= 0)    NOT NULL,
    current_snapshot integer CHECK (current_snapshot >= 0) NOT NULL,
    payload          text                                  NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, last_sequence)
) STRICT;
