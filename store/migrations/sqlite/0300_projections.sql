-- Persisted projections (crate `projections`, module `runtime`): one row per projection and
-- slot. A projection's tables exist twice, suffixed `_a` and `_b` (blue/green); `live = 1` names
-- the slot readers use, the other slot (if it has a row) is a rebuild in progress. `position` is
-- the global position of the last event applied to that slot, advanced in the same transaction
-- as the rows it changed. The tables themselves are created by the projection's code, versioned
-- with it (`version`): a new version is built in the other slot while the old one serves.
CREATE TABLE projection_checkpoints
(
    name       text    NOT NULL,
    slot       text    NOT NULL CHECK (slot IN ('a', 'b')),
    version    integer NOT NULL,
    position   integer NOT NULL,
    live       integer NOT NULL CHECK (live IN (0, 1)),
    updated_at text    NOT NULL,
    PRIMARY KEY (name, slot)
) STRICT;
