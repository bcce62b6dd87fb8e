-- rollcall's views file (`<database>-views`), views schema version 2.
--
-- Everything here is folded from the event log and can always be thrown
-- away and folded again: the views file has no migrations. When its
-- `user_version` is not the one this build writes, rollcall deletes the
-- file and folds the whole log into a new one (`rollcall rebuild`'s bulk
-- fold). The log, credentials and sessions live in the database file
-- itself (`schema/migrations/`).

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

-- One row per stretch of time a user was an explicit member of a group:
-- opened by the event at from_seq, closed by the event at to_seq (NULL while
-- it lasts). A user is a member at position P exactly when
-- from_seq <= P AND (to_seq IS NULL OR to_seq > P). An object's history reads
-- its membership changes from here too.
CREATE TABLE view_membership_intervals (
    group_id        INTEGER NOT NULL,
    user_id         INTEGER NOT NULL,
    from_seq        INTEGER NOT NULL,
    from_at         TEXT NOT NULL,                  -- occurred_at of the opening event
    from_actor      INTEGER,                        -- who opened it (NULL = system)
    from_reason     TEXT,                           -- and why: copied from the event so an
    from_request_id TEXT,                           -- as-of answer needs no lookup in the log
    to_seq          INTEGER,
    to_at           TEXT,
    to_actor        INTEGER,
    to_reason       TEXT,
    to_request_id   TEXT,
    PRIMARY KEY (group_id, user_id, from_seq)       -- as of, by group, in user order
) WITHOUT ROWID;
-- By user, for a user's groups as of a position. Not covering `to_seq`
-- (version 1 did): closing an interval then changes only the table's row,
-- not also an index entry on another random page; the queries by user read
-- `to_seq` from the row, a handful per user.
CREATE INDEX view_membership_intervals_by_user
    ON view_membership_intervals (user_id, group_id, from_seq);

-- Current memberships are the open intervals.
CREATE VIEW view_memberships (group_id, user_id, since_seq) AS
    SELECT group_id, user_id, from_seq
      FROM view_membership_intervals
     WHERE to_seq IS NULL;

-- Every domain, user and group that ever existed, with the name it had (names
-- never change) and when it was created and deleted: names in history resolve
-- after a delete, and a name reused later is told apart by position.
CREATE TABLE view_directory (
    kind           TEXT    NOT NULL,                -- 'domain', 'user' or 'group'
    id             INTEGER NOT NULL,
    name           TEXT    NOT NULL,
    domain_id      INTEGER,                         -- the domain it lives in; NULL for the root
    qualified_name TEXT    NOT NULL,
    created_seq    INTEGER NOT NULL,
    created_at     TEXT    NOT NULL,
    deleted_seq    INTEGER,
    deleted_at     TEXT,
    PRIMARY KEY (kind, id)
) WITHOUT ROWID;
CREATE INDEX view_directory_by_name ON view_directory (kind, name);

-- The events that create, change or delete an object, or a grant a group
-- holds (membership changes are read from the interval table).
CREATE TABLE view_history (
    kind TEXT    NOT NULL,                          -- 'domain', 'user' or 'group'
    id   INTEGER NOT NULL,
    seq  INTEGER NOT NULL,
    PRIMARY KEY (kind, id, seq)
) WITHOUT ROWID;

-- One row per stretch of positions a group's setting on an object held:
-- set by the event at from_seq, replaced or revoked by the event at to_seq
-- (NULL while it lasts).
CREATE TABLE view_grant_intervals (
    object   TEXT    NOT NULL,
    group_id INTEGER NOT NULL,
    from_seq INTEGER NOT NULL,
    to_seq   INTEGER,
    "view"   INTEGER,
    "update" INTEGER,
    "read"   INTEGER,
    "write"  INTEGER,
    PRIMARY KEY (object, group_id, from_seq)
) WITHOUT ROWID;

-- The position the views reflect (the log's event and hash there), and the
-- highest ids ever used (so that ids of deleted objects are never handed out
-- again).
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

-- The live view writer commits without waiting for the disk (see
-- `src/views/file.rs`): while it runs, `dirty_boot` holds the machine's boot
-- id, and a start on a later boot that finds it set folds the views anew.
-- NULL once the views were closed cleanly, everything on disk.
CREATE TABLE view_file (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    dirty_boot TEXT
);
INSERT INTO view_file VALUES (1, NULL);
