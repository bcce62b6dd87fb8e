-- rollcall schema, version 2: the history views auditors query. Like every
-- view they are kept by fold in the writer's transaction and rebuilt from the
-- log by `rollcall rebuild`; as-of questions are answered from their indexes,
-- never by replaying the log.

-- One row per stretch of time a user was an explicit member of a group:
-- opened by the event at from_seq, closed by the event at to_seq (NULL while
-- it lasts). A user is a member at position P exactly when
-- from_seq <= P AND (to_seq IS NULL OR to_seq > P).
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
CREATE INDEX view_membership_intervals_by_user
    ON view_membership_intervals (user_id, group_id, from_seq, to_seq);

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

-- Which events touch which object: an object's history, newest first, is a
-- range scan here. An assignment touches the group and the user; a deletion
-- touches the deleted object and everything whose membership it ended.
CREATE TABLE view_history (
    kind TEXT    NOT NULL,                          -- 'domain', 'user' or 'group'
    id   INTEGER NOT NULL,
    seq  INTEGER NOT NULL,
    PRIMARY KEY (kind, id, seq)
) WITHOUT ROWID;

-- A log written before these views existed: empty every view and reset the
-- checkpoint, so the catch-up at the next start folds the whole log again
-- and fills the new views with the old ones (views can always be rebuilt).
DELETE FROM view_domains;
DELETE FROM view_users;
DELETE FROM view_groups;
DELETE FROM view_memberships;
DELETE FROM view_grants;
UPDATE view_checkpoint
   SET seq = 0,
       hash = '0000000000000000000000000000000000000000000000000000000000000000',
       last_domain = 0, last_user = 0, last_group = 0
 WHERE id = 1;
