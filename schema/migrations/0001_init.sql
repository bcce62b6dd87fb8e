-- rollcall schema, version 1: the event log, the views folded from it, and
-- the credential and session tables that live outside the log.

-- The append-only, hash-chained event log. `seq` is assigned by the single
-- writer as head + 1, so it is gapless and in commit order.
CREATE TABLE events (
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
    hash           TEXT    NOT NULL,
    UNIQUE (stream, stream_version)
);

CREATE TRIGGER events_are_append_only_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: UPDATE refused');
END;

CREATE TRIGGER events_are_append_only_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: DELETE refused');
END;

-- Views: kept by fold in the same transaction as the append; can always be
-- dropped and rebuilt from the log (`rollcall rebuild`).
CREATE TABLE view_domains (
    id        INTEGER PRIMARY KEY,
    name      TEXT    NOT NULL,
    parent_id INTEGER,
    version   INTEGER NOT NULL
);

CREATE TABLE view_users (
    id        INTEGER PRIMARY KEY,
    name      TEXT    NOT NULL,
    domain_id INTEGER NOT NULL,
    realname  TEXT,
    email     TEXT,
    version   INTEGER NOT NULL
);

CREATE TABLE view_groups (
    id        INTEGER PRIMARY KEY,
    name      TEXT    NOT NULL,
    domain_id INTEGER NOT NULL,
    summary   TEXT,
    email     TEXT,
    version   INTEGER NOT NULL
);

CREATE TABLE view_memberships (
    group_id  INTEGER NOT NULL,
    user_id   INTEGER NOT NULL,
    since_seq INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;

-- Access grants: a group's flags on an object ('environment:GLOBAL.Eng.Prod').
-- Each flag is 1 (allow), 0 (deny) or NULL (unset: inherit from the domains above).
CREATE TABLE view_grants (
    object   TEXT    NOT NULL,
    group_id INTEGER NOT NULL,
    "view"   INTEGER,
    "update" INTEGER,
    "read"   INTEGER,
    "write"  INTEGER,
    PRIMARY KEY (object, group_id)
) WITHOUT ROWID;
CREATE INDEX view_grants_by_group ON view_grants (group_id, object);

-- The position the views reflect, and the highest ids ever used (so that ids
-- of deleted objects are never handed out again).
CREATE TABLE view_checkpoint (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    seq           INTEGER NOT NULL,
    hash          TEXT    NOT NULL,
    last_domain   INTEGER NOT NULL,
    last_user     INTEGER NOT NULL,
    last_group    INTEGER NOT NULL
);
INSERT INTO view_checkpoint VALUES
    (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', 0, 0, 0);

-- Outside the log: secrets never become events.
CREATE TABLE credentials (
    user_id       INTEGER PRIMARY KEY,
    password_hash TEXT NOT NULL                     -- argon2id PHC string
);

CREATE TABLE sessions (
    token_hash   TEXT PRIMARY KEY,                  -- SHA-256 of the token, hex
    user_id      INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,                  -- unix milliseconds
    last_seen_at INTEGER NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);
