//! The access model (pure): what a user may do to an object, and why.
//!
//! For each of the user's groups (Everyone included), a flag's effective
//! value is the group's own setting on the object if set, else its setting on
//! the nearest enclosing domain that sets it, walking up to the root. The user
//! has the permission when any group's effective value is allow: one group's
//! denial does not cancel another's grant. Members of Administrators have
//! every permission.

use serde::Serialize;

use crate::domain::{Flags, GroupId, ObjectRef, Permission, UserId, ADMINISTRATORS, EVERYONE};
use crate::state::State;

/// The facts a verdict depends on: who exists, who is in which group, and the
/// grants. The live [`State`] provides them; so does the history at a past
/// position (`as_of`), so both answer by the same rules.
pub trait Facts {
    fn user_exists(&self, user: UserId) -> bool;
    fn is_admin(&self, user: UserId) -> bool;
    /// The user's explicit groups (Everyone is added by the rules).
    fn groups_of(&self, user: UserId) -> Vec<GroupId>;
    /// The group's setting on the object with this key.
    fn flags(&self, object: &str, group: GroupId) -> Option<Flags>;
    fn group_name(&self, group: GroupId) -> String;
}

impl Facts for State {
    fn user_exists(&self, user: UserId) -> bool {
        self.user(user).is_some()
    }
    fn is_admin(&self, user: UserId) -> bool {
        State::is_admin(self, user)
    }
    fn groups_of(&self, user: UserId) -> Vec<GroupId> {
        self.groups_of_after(user, None).collect()
    }
    fn flags(&self, object: &str, group: GroupId) -> Option<Flags> {
        self.grants_on(object)
            .and_then(|row| row.get(&group))
            .copied()
    }
    fn group_name(&self, id: GroupId) -> String {
        self.group(id)
            .map_or_else(|| format!("group {id}"), |g| self.group_qualified(g))
    }
}

/// A group whose effective setting allowed the permission, and where it was set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Via {
    /// The group's qualified name.
    pub group: String,
    /// The object or domain whose grant applied; for Administrators, `*`.
    pub on: String,
}

/// The answer to "may this user do this to this object?".
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub allowed: bool,
    pub via: Vec<Via>,
}

/// One group's effective setting for one permission, for "why can't she?".
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Source {
    pub group: String,
    /// `allow`, `deny` or `unset`.
    pub value: &'static str,
    /// Where the setting came from; absent when unset everywhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on: Option<String>,
}

/// The groups whose settings count for `user`: Everyone, then its explicit groups.
fn groups_of<F: Facts + ?Sized>(facts: &F, user: UserId) -> impl Iterator<Item = GroupId> {
    std::iter::once(EVERYONE).chain(facts.groups_of(user))
}

/// A group's effective setting for `perm` on the first object of `chain`
/// that sets it.
fn effective<'c, F: Facts + ?Sized>(
    facts: &F,
    chain: &'c [ObjectRef],
    group: GroupId,
    perm: Permission,
) -> Option<(bool, &'c ObjectRef)> {
    chain.iter().find_map(|o| {
        facts
            .flags(o.as_str(), group)
            .and_then(|flags| flags.get(perm))
            .map(|v| (v, o))
    })
}

/// May `user` exercise `perm` on `object`?
pub fn check<F: Facts + ?Sized>(
    state: &F,
    user: UserId,
    object: &ObjectRef,
    perm: Permission,
) -> Verdict {
    if !state.user_exists(user) {
        return Verdict {
            allowed: false,
            via: vec![],
        };
    }
    if state.is_admin(user) {
        return Verdict {
            allowed: true,
            via: vec![Via {
                group: state.group_name(ADMINISTRATORS),
                on: "*".into(),
            }],
        };
    }
    let chain = object.chain();
    let via: Vec<Via> = groups_of(state, user)
        .filter_map(|g| match effective(state, &chain, g, perm) {
            Some((true, on)) => Some(Via {
                group: state.group_name(g),
                on: on.to_string(),
            }),
            _ => None,
        })
        .collect();
    Verdict {
        allowed: !via.is_empty(),
        via,
    }
}

/// Just the yes/no of [`check`], without building the explanation.
pub fn allows<F: Facts + ?Sized>(
    state: &F,
    user: UserId,
    object: &ObjectRef,
    perm: Permission,
) -> bool {
    if state.is_admin(user) {
        return true;
    }
    if !state.user_exists(user) {
        return false;
    }
    let chain = object.chain();
    groups_of(state, user).any(|g| matches!(effective(state, &chain, g, perm), Some((true, _))))
}

/// Every group's effective setting for `perm`, for explaining a verdict.
pub fn sources<F: Facts + ?Sized>(
    state: &F,
    user: UserId,
    object: &ObjectRef,
    perm: Permission,
) -> Vec<Source> {
    let chain = object.chain();
    let mut out: Vec<Source> = groups_of(state, user)
        .map(|g| {
            let found = effective(state, &chain, g, perm);
            Source {
                group: state.group_name(g),
                value: match found {
                    Some((true, _)) => "allow",
                    Some((false, _)) => "deny",
                    None => "unset",
                },
                on: found.map(|(_, o)| o.to_string()),
            }
        })
        .collect();
    if state.is_admin(user) {
        out.push(Source {
            group: state.group_name(ADMINISTRATORS),
            value: "allow",
            on: Some("*".into()),
        });
    }
    out
}
