-- rollcall schema, version 5: current memberships are the open history
-- intervals, not a table of their own.
--
-- Version 1 kept `view_memberships` (group, user, since) beside
-- `view_membership_intervals`, whose open rows (to_seq IS NULL) say the same
-- thing: every assignment wrote a row to both, every unassignment changed
-- both, and `rollcall rebuild` wrote a million rows twice. Now the name is a
-- SQL view over the open intervals, so everything that reads it reads what
-- it read before, and nothing writes it. The interval table's primary key
-- (group_id, user_id, from_seq) keeps the view's order by group, then user.
DROP TABLE view_memberships;
CREATE VIEW view_memberships (group_id, user_id, since_seq) AS
    SELECT group_id, user_id, from_seq
      FROM view_membership_intervals
     WHERE to_seq IS NULL;
