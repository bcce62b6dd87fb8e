-- rollcall schema, version 4: a leaner log table for faster durable writes.
--
-- Version 1 declared UNIQUE (stream, stream_version) on `events`. Nothing
-- reads through that index (every question about a stream is answered from
-- the views or the state), and keeping it cost every append one write to a
-- random page of a large b-tree, inside the durable commit. The single
-- writer is what keeps stream versions gapless (it numbers each event from
-- its state), and `rollcall verify` checks that they are.
--
-- SQLite cannot drop a table constraint, so the table is copied: the same
-- columns, the same rows in the same order, byte for byte (the hash chain
-- covers every column and still verifies), with the append-only triggers
-- put back. DROP TABLE fires no DELETE trigger; this migration is the one
-- place the rows are moved, inside the migration's transaction.
CREATE TABLE events_v4 (
    seq            INTEGER PRIMARY KEY,
    event_id       TEXT    NOT NULL UNIQUE,          -- UUIDv7
    stream         TEXT    NOT NULL,                 -- e.g. 'group:2'
    stream_version INTEGER NOT NULL,
    event_type     TEXT    NOT NULL,
    event_version  INTEGER NOT NULL,
    occurred_at    TEXT    NOT NULL,                 -- UTC, RFC 3339, milliseconds
    actor          INTEGER,                          -- user id; NULL = system
    request_id     TEXT,
    reason         TEXT,
    data           TEXT    NOT NULL,                 -- JSON payload
    prev_hash      TEXT    NOT NULL,
    hash           TEXT    NOT NULL
);
INSERT INTO events_v4 SELECT seq, event_id, stream, stream_version, event_type, event_version,
                             occurred_at, actor, request_id, reason, data, prev_hash, hash
                        FROM events ORDER BY seq;
DROP TABLE events;
ALTER TABLE events_v4 RENAME TO events;

CREATE TRIGGER events_are_append_only_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: UPDATE refused');
END;

CREATE TRIGGER events_are_append_only_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: DELETE refused');
END;
