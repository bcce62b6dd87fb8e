-- rollcall schema, version 3: grants through time, so an access check can be
-- asked "as of" a past position and answered from indexes, not by replaying.

-- One row per stretch of positions a group's setting on an object held:
-- set by the event at from_seq, replaced or revoked by the event at to_seq
-- (NULL while it lasts). The setting at position P is the row with
-- from_seq <= P AND (to_seq IS NULL OR to_seq > P).
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

-- Views written before this one existed are refolded from the log at the
-- next start (as 0002 does): empty them and reset the checkpoint.
DELETE FROM view_domains;
DELETE FROM view_users;
DELETE FROM view_groups;
DELETE FROM view_memberships;
DELETE FROM view_grants;
DELETE FROM view_membership_intervals;
DELETE FROM view_directory;
DELETE FROM view_history;
UPDATE view_checkpoint
   SET seq = 0,
       hash = '0000000000000000000000000000000000000000000000000000000000000000',
       last_domain = 0, last_user = 0, last_group = 0
 WHERE id = 1;
