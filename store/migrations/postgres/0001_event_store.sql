-- The event store, in the layout postgres-es 0.5 expects (same columns, same composite primary key:
-- postgres-es maps a violation of that key, SQLSTATE 23505, to an optimistic-lock conflict),
-- plus `global_position`, the commit-ordered position used by readers that catch up on all events.
CREATE TABLE events
(
    aggregate_type  text                         NOT NULL,
    aggregate_id    text                         NOT NULL,
    sequence        bigint CHECK (sequence >= 0) NOT NULL,
    event_type      text                         NOT NULL,
    event_version   text                         NOT NULL,
    payload         json                         NOT NULL,
    metadata        json                         NOT NULL,
    -- Assigned by the BEFORE INSERT trigger below; NOT NULL is checked after that trigger runs.
    global_position bigint                       NOT NULL UNIQUE,
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);

CREATE SEQUENCE events_global_position_seq AS bigint START WITH 1 OWNED BY events.global_position;

-- Why positions are handed out in commit order: a plain sequence (BIGSERIAL) hands out numbers at
-- INSERT time, so a transaction holding number 5 can commit after one holding number 6; a reader
-- that has already seen 6 would then never go back for 5. Here every inserting transaction first
-- takes one transaction-level advisory lock, held until it commits or rolls back, and only then
-- draws its number. PostgreSQL makes a commit visible before it releases that transaction's locks,
-- so the next writer draws a higher number only after every lower number is visible (or was rolled
-- back, leaving a harmless gap). The cost: transactions that append events are serialised from
-- their first INSERT to their commit. The lock key is a constant private to this table.
CREATE FUNCTION events_assign_global_position() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    PERFORM pg_advisory_xact_lock(7301960470210517);
    NEW.global_position := nextval('events_global_position_seq');
    RETURN NEW;
END
$$;

CREATE TRIGGER events_assign_global_position
    BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION events_assign_global_position();

-- Kept for layout compatibility with postgres-es. It stays empty: cqrs-es 0.5.0's snapshot and
-- aggregate stores apply newly committed events twice, so this crate only uses the event store.
CREATE TABLE snapshots
(
    aggregate_type   text                                 NOT NULL,
    aggregate_id     text                                 NOT NULL,
    last_sequence    bigint CHECK (last_sequence >= 0)    NOT NULL,
    current_snapshot bigint CHECK (current_snapshot >= 0) NOT NULL,
    payload          json                                 NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, last_sequence)
);
