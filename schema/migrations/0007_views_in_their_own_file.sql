-- rollcall schema, version 7: the views move to a file of their own.
--
-- The database file now holds what is the record — the hash-chained log,
-- credentials and sessions — and every commit to it is durable
-- (`synchronous=FULL`). The views, which can always be folded again from the
-- log, live in `<database>-views` (`schema/views.sql`), with their own lock,
-- their own write-ahead log and their own checkpoints: the live view
-- writer's I/O no longer shares a WAL, a lock or a checkpoint's fsync with a
-- durable write. Their tables here are dropped; the first start after this
-- migration folds the whole log into the new file, in bulk.
DROP VIEW view_memberships;
DROP TABLE view_domains;
DROP TABLE view_users;
DROP TABLE view_groups;
DROP TABLE view_grants;
DROP TABLE view_membership_intervals;
DROP TABLE view_directory;
DROP TABLE view_history;
DROP TABLE view_grant_intervals;
DROP TABLE view_checkpoint;
