//! Access checks as of a past position: the facts the access rules need (was
//! the user alive, in which groups, which grants held), loaded from the
//! history views' indexes and judged by the same rules as live checks.

use rusqlite::{params, Connection};
use std::collections::HashMap;

use super::as_of::{self, HistoryResult};
use crate::access::{self, Facts, Verdict};
use crate::domain::{Flags, GroupId, Kind, ObjectRef, Permission, UserId, ADMINISTRATORS};

/// Everything one (user, object) question needs, as it stood at a position.
pub struct PastFacts {
    user: UserId,
    alive: bool,
    admin: bool,
    groups: Vec<GroupId>,
    /// (object key, group) -> the setting that held.
    grants: HashMap<(String, GroupId), Flags>,
    names: HashMap<GroupId, String>,
}

impl PastFacts {
    /// Loads the facts about `user` and the chain of `object` at position `at`.
    pub fn load(
        conn: &Connection,
        user: UserId,
        object: &ObjectRef,
        at: i64,
    ) -> HistoryResult<PastFacts> {
        let alive = as_of::user_alive_at(conn, user.0, at)?;
        let groups: Vec<GroupId> = as_of::explicit_groups_at(conn, user.0, at)?
            .into_iter()
            .map(GroupId)
            .collect();
        let admin = alive && groups.contains(&ADMINISTRATORS);
        let mut grants = HashMap::new();
        let mut stmt = conn.prepare_cached(
            "SELECT group_id, \"view\", \"update\", \"read\", \"write\" FROM view_grant_intervals
              WHERE object = ?1 AND from_seq <= ?2 AND (to_seq IS NULL OR to_seq > ?2)",
        )?;
        for o in object.chain() {
            let rows = stmt.query_map(params![o.as_str(), at], |r| {
                Ok((
                    GroupId(r.get(0)?),
                    Flags {
                        view: r.get(1)?,
                        update: r.get(2)?,
                        read: r.get(3)?,
                        write: r.get(4)?,
                    },
                ))
            })?;
            for row in rows {
                let (g, f) = row?;
                grants.insert((o.as_str().to_owned(), g), f);
            }
        }
        let mut names = HashMap::new();
        for g in groups
            .iter()
            .copied()
            .chain([crate::domain::EVERYONE, ADMINISTRATORS])
        {
            if let Some(o) = as_of::object_by_id(conn, Kind::Group, g.0)? {
                names.insert(g, o.qualified_name);
            }
        }
        Ok(PastFacts {
            user,
            alive,
            admin,
            groups,
            grants,
            names,
        })
    }

    /// The verdict the access rules give on these facts.
    pub fn check(&self, object: &ObjectRef, perm: Permission) -> Verdict {
        access::check(self, self.user, object, perm)
    }
}

impl Facts for PastFacts {
    fn user_exists(&self, user: UserId) -> bool {
        user == self.user && self.alive
    }
    fn is_admin(&self, user: UserId) -> bool {
        user == self.user && self.admin
    }
    fn groups_of(&self, user: UserId) -> Vec<GroupId> {
        if user == self.user {
            self.groups.clone()
        } else {
            Vec::new()
        }
    }
    fn flags(&self, object: &str, group: GroupId) -> Option<Flags> {
        self.grants.get(&(object.to_owned(), group)).copied()
    }
    fn group_name(&self, group: GroupId) -> String {
        self.names
            .get(&group)
            .cloned()
            .unwrap_or_else(|| format!("group {group}"))
    }
}
