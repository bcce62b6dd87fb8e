-- rollcall schema, version 6: a membership change is no longer written to
-- `view_history`.
--
-- Until now every assignment and unassignment wrote a `view_history` row
-- for its group and one for its user, beside the interval row
-- (`view_membership_intervals`) that already holds its position, as
-- `from_seq` or `to_seq`. Those two rows were each a write to a random page
-- of a large b-tree, and half of what `rollcall rebuild` wrote. An object's
-- history now reads its membership changes from the interval table (by
-- group through its primary key, by user through
-- `view_membership_intervals_by_user`), and `view_history` keeps the events
-- that create, change or delete an object, or a grant a group holds.
--
-- The rows to keep cannot be told from the rows to drop without folding the
-- log, so the views are emptied and the checkpoint reset, as 0003 does: the
-- next start folds the whole log into them again, in bulk (`rollcall
-- rebuild`'s fold; seconds for a million events).
DELETE FROM view_domains;
DELETE FROM view_users;
DELETE FROM view_groups;
DELETE FROM view_grants;
DELETE FROM view_membership_intervals;
DELETE FROM view_directory;
DELETE FROM view_history;
DELETE FROM view_grant_intervals;
UPDATE view_checkpoint
   SET seq = 0,
       hash = '0000000000000000000000000000000000000000000000000000000000000000',
       last_domain = 0, last_user = 0, last_group = 0
 WHERE id = 1;
