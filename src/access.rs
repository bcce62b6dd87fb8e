//! The access model (pure): what a user may do to an object, and why.
//!
//! For each of the user's groups (Everyone included), a flag's effective
//! value is the group's own setting on the object if set, else its setting on
//! the nearest enclosing domain that sets it, walking up to the root. The user
//! has the permission when any group's effective value is allow: one group's
//! denial does not cancel another's grant. Members of Administrators have
//! every permission: the rules read that from the user's explicit groups, so
//! one lookup of them serves both questions.

use serde::Serialize;

use crate::domain::{Flags, GroupId, ObjectRef, Permission, UserId, ADMINISTRATORS, EVERYONE};
use crate::state::State;

/// The facts a verdict depends on: who exists, who is in which group, and the
/// grants. The live [`State`] provides them; so does the history at a past
/// position (`as_of`), so both answer by the same rules.
pub trait Facts {
    fn user_exists(&self, user: UserId) -> bool;
    /// Whether the user is a member of Administrators. The rules below do
    /// not ask: they find Administrators among [`Facts::groups_of`], which
    /// must agree with this.
    fn is_admin(&self, user: UserId) -> bool {
        self.groups_of(user).contains(&ADMINISTRATORS)
    }
    /// The user's explicit groups (Everyone is added by the rules).
    fn groups_of(&self, user: UserId) -> Vec<GroupId>;
    /// [`Facts::groups_of`], appended to `out`: the rules gather Everyone and
    /// the explicit groups in one vector. A store that can list them without
    /// making a vector of its own should.
    fn extend_with_groups(&self, user: UserId, out: &mut Vec<GroupId>) {
        out.extend(self.groups_of(user));
    }
    /// The group's setting on the object with this key.
    fn flags(&self, object: &str, group: GroupId) -> Option<Flags>;
    /// The settings of each of `groups` on the object with this key, written
    /// to `out` in the same order. The default asks [`Facts::flags`] group by
    /// group; a store that can find all of an object's settings at once
    /// should, since a check asks this once per object of the chain.
    fn flags_of(&self, object: &str, groups: &[GroupId], out: &mut [Option<Flags>]) {
        for (group, flags) in groups.iter().zip(out) {
            *flags = self.flags(object, *group);
        }
    }
    fn group_name(&self, group: GroupId) -> String;
}

impl Facts for State {
    fn user_exists(&self, user: UserId) -> bool {
        self.user(user).is_some()
    }
    fn groups_of(&self, user: UserId) -> Vec<GroupId> {
        self.groups_of_after(user, None).collect()
    }
    fn extend_with_groups(&self, user: UserId, out: &mut Vec<GroupId>) {
        out.extend(self.groups_of_after(user, None));
    }
    fn flags(&self, object: &str, group: GroupId) -> Option<Flags> {
        self.grants_on(object)
            .and_then(|row| row.get(&group))
            .copied()
    }
    fn flags_of(&self, object: &str, groups: &[GroupId], out: &mut [Option<Flags>]) {
        // One lookup of the object's key (a string hash) for all the groups.
        match self.grants_on(object) {
            None => out.fill(None),
            Some(row) => {
                for (group, flags) in groups.iter().zip(out) {
                    *flags = row.get(group).copied();
                }
            }
        }
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

/// The groups whose settings count for `user`: Everyone, then its explicit
/// groups; and whether Administrators is among them.
fn groups_of<F: Facts + ?Sized>(facts: &F, user: UserId) -> (Vec<GroupId>, bool) {
    let mut groups = Vec::with_capacity(16);
    groups.push(EVERYONE);
    facts.extend_with_groups(user, &mut groups);
    let admin = groups[1..].contains(&ADMINISTRATORS);
    (groups, admin)
}

/// Each group's effective setting for `perm`, in the order of `groups`: the
/// value and the position in `object`'s chain ([`ObjectRef::chain_key`]) of
/// the first object that sets it, or `None` when no object of the chain does.
///
/// Walks the chain once, asking for every group's setting on each object in
/// one go, and stops early: as soon as `stop` says the settings found so far
/// settle the question, or when every group has one.
fn effective<F: Facts + ?Sized>(
    facts: &F,
    object: &ObjectRef,
    groups: &[GroupId],
    perm: Permission,
    stop: impl Fn(bool) -> bool,
) -> Vec<Option<(bool, usize)>> {
    let mut found: Vec<Option<(bool, usize)>> = vec![None; groups.len()];
    // The settings on one object of the chain: on the stack for any user in
    // fewer than `ON_STACK` groups, which is nearly every user.
    const ON_STACK: usize = 32;
    let mut on_stack = [None; ON_STACK];
    let mut on_heap;
    let here: &mut [Option<Flags>] = if groups.len() <= ON_STACK {
        &mut on_stack[..groups.len()]
    } else {
        on_heap = vec![None; groups.len()];
        &mut on_heap
    };
    let mut open = groups.len();
    let mut keys = object.chain_keys();
    let mut i = 0;
    while let Some(key) = keys.next() {
        if open == 0 {
            break;
        }
        facts.flags_of(key, groups, here);
        for (slot, flags) in found.iter_mut().zip(here.iter()) {
            if slot.is_some() {
                continue;
            }
            if let Some(value) = flags.and_then(|f| f.get(perm)) {
                *slot = Some((value, i));
                open -= 1;
                if stop(value) {
                    return found;
                }
            }
        }
        i += 1;
    }
    found
}

/// Where a setting found at chain position `on` was set, as the answer names it.
fn set_on(object: &ObjectRef, on: usize) -> String {
    object.chain_key(on).unwrap_or_default()
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
    let (groups, admin) = groups_of(state, user);
    if admin {
        return Verdict {
            allowed: true,
            via: vec![Via {
                group: state.group_name(ADMINISTRATORS),
                on: "*".into(),
            }],
        };
    }
    let via: Vec<Via> = effective(state, object, &groups, perm, |_| false)
        .into_iter()
        .zip(&groups)
        .filter_map(|(found, g)| match found {
            Some((true, on)) => Some(Via {
                group: state.group_name(*g),
                on: set_on(object, on),
            }),
            _ => None,
        })
        .collect();
    Verdict {
        allowed: !via.is_empty(),
        via,
    }
}

/// Just the yes/no of [`check`], without building the explanation: it stops
/// at the first group whose effective setting allows.
pub fn allows<F: Facts + ?Sized>(
    state: &F,
    user: UserId,
    object: &ObjectRef,
    perm: Permission,
) -> bool {
    if !state.user_exists(user) {
        return false;
    }
    let (groups, admin) = groups_of(state, user);
    if admin {
        return true;
    }
    effective(state, object, &groups, perm, |allowed| allowed)
        .into_iter()
        .any(|found| matches!(found, Some((true, _))))
}

/// Every group's effective setting for `perm`, for explaining a verdict.
pub fn sources<F: Facts + ?Sized>(
    state: &F,
    user: UserId,
    object: &ObjectRef,
    perm: Permission,
) -> Vec<Source> {
    let (groups, admin) = groups_of(state, user);
    let mut out: Vec<Source> = effective(state, object, &groups, perm, |_| false)
        .into_iter()
        .zip(&groups)
        .map(|(found, g)| Source {
            group: state.group_name(*g),
            value: match found {
                Some((true, _)) => "allow",
                Some((false, _)) => "deny",
                None => "unset",
            },
            on: found.map(|(_, on)| set_on(object, on)),
        })
        .collect();
    if admin {
        out.push(Source {
            group: state.group_name(ADMINISTRATORS),
            value: "allow",
            on: Some("*".into()),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// Facts kept in plain maps, using the default `flags_of`.
    struct Plain {
        groups: Vec<GroupId>,
        grants: BTreeMap<(String, GroupId), Flags>,
    }

    const USER: UserId = UserId(7);

    impl Facts for Plain {
        fn user_exists(&self, user: UserId) -> bool {
            user == USER
        }
        fn groups_of(&self, user: UserId) -> Vec<GroupId> {
            if user == USER {
                self.groups.clone()
            } else {
                vec![]
            }
        }
        fn flags(&self, object: &str, group: GroupId) -> Option<Flags> {
            self.grants.get(&(object.to_owned(), group)).copied()
        }
        fn group_name(&self, group: GroupId) -> String {
            format!("g{}", group.0)
        }
    }

    /// The rule as the README words it, group by group, object by object.
    fn naive(
        facts: &Plain,
        object: &ObjectRef,
        perm: Permission,
    ) -> Vec<(GroupId, Option<(bool, String)>)> {
        let chain = object.chain();
        std::iter::once(EVERYONE)
            .chain(facts.groups.iter().copied())
            .map(|g| {
                let found = chain.iter().find_map(|o| {
                    facts
                        .flags(o.as_str(), g)
                        .and_then(|f| f.get(perm))
                        .map(|v| (v, o.to_string()))
                });
                (g, found)
            })
            .collect()
    }

    fn flag() -> impl Strategy<Value = Option<bool>> {
        prop_oneof![Just(None), Just(Some(true)), Just(Some(false))]
    }

    fn flags() -> impl Strategy<Value = Flags> {
        (flag(), flag(), flag(), flag()).prop_map(|(view, update, read, write)| Flags {
            view,
            update,
            read,
            write,
        })
    }

    const OBJECTS: &[&str] = &[
        "environment:GLOBAL.A.B.prod",
        "domain:GLOBAL.A.B",
        "domain:GLOBAL.A",
        "domain:GLOBAL",
        "domain:GLOBAL.C",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Walking the chain once for all groups gives each group the
        /// setting the rule gives it, and the verdicts follow from those;
        /// members of Administrators may do anything.
        #[test]
        fn the_chain_walk_agrees_with_the_rule_group_by_group(
            groups in proptest::sample::subsequence(vec![2i64, 3, 4, 5, 6, 9], 0..=6),
            grants in proptest::collection::vec((0..OBJECTS.len(), prop_oneof![Just(1i64), Just(3), Just(4), Just(5), Just(6), Just(9)], flags()), 0..24),
        ) {
            let facts = Plain {
                groups: groups.into_iter().map(GroupId).collect(),
                grants: grants
                    .into_iter()
                    .map(|(o, g, f)| ((OBJECTS[o].to_owned(), GroupId(g)), f))
                    .collect(),
            };
            let object = ObjectRef::parse(OBJECTS[0]).expect("object");
            let admin = facts.groups.contains(&ADMINISTRATORS);
            let admin_via = Via { group: format!("g{}", ADMINISTRATORS.0), on: "*".into() };
            for perm in Permission::ALL {
                let expected = naive(&facts, &object, perm);
                let verdict = check(&facts, USER, &object, perm);
                let via: Vec<Via> = if admin {
                    vec![admin_via.clone()]
                } else {
                    expected
                        .iter()
                        .filter_map(|(g, found)| match found {
                            Some((true, on)) => Some(Via { group: format!("g{}", g.0), on: on.clone() }),
                            _ => None,
                        })
                        .collect()
                };
                prop_assert_eq!(verdict.allowed, !via.is_empty());
                prop_assert_eq!(&verdict.via, &via);
                prop_assert_eq!(allows(&facts, USER, &object, perm), !via.is_empty());
                let explained: Vec<(String, &str, Option<String>)> = sources(&facts, USER, &object, perm)
                    .into_iter()
                    .map(|s| (s.group, s.value, s.on))
                    .collect();
                let mut want: Vec<(String, &str, Option<String>)> = expected
                    .into_iter()
                    .map(|(g, found)| {
                        let value = match &found {
                            Some((true, _)) => "allow",
                            Some((false, _)) => "deny",
                            None => "unset",
                        };
                        (format!("g{}", g.0), value, found.map(|(_, on)| on))
                    })
                    .collect();
                if admin {
                    want.push((admin_via.group.clone(), "allow", Some("*".into())));
                }
                prop_assert_eq!(explained, want);
            }
        }

        /// The state's one-lookup `flags_of` answers what `flags` answers.
        #[test]
        fn the_states_flags_of_agrees_with_flags(
            grants in proptest::collection::vec((0..OBJECTS.len(), 1i64..6, flags()), 0..24),
            asked in proptest::collection::vec(1i64..8, 0..8),
        ) {
            let mut state = State::default();
            for (o, g, f) in grants {
                state.apply(&crate::fold::Change::PutGrant {
                    object: std::sync::Arc::from(OBJECTS[o]),
                    group: GroupId(g),
                    flags: f,
                });
            }
            let asked: Vec<GroupId> = asked.into_iter().map(GroupId).collect();
            for object in OBJECTS.iter().chain(&["domain:GLOBAL.none"]) {
                let mut out = vec![Some(Flags::default()); asked.len()];
                state.flags_of(object, &asked, &mut out);
                let want: Vec<Option<Flags>> = asked.iter().map(|g| state.flags(object, *g)).collect();
                prop_assert_eq!(out, want);
            }
        }
    }
}
