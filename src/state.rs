//! The in-memory state: directory, memberships and log head at one position.
//!
//! Built from persistent (structurally shared) collections, so cloning a
//! `State` is O(1): the writer decides against its own copy and publishes a
//! clone after each commit, and readers hold a consistent snapshot for as long
//! as they like. Only `fold` changes it, through [`State::apply`].

use imbl::{HashMap, OrdMap, OrdSet};
use std::ops::Bound;
use std::sync::Arc;

use crate::domain::{
    DomainId, Flags, GroupId, Ident, Kind, Name, UserId, ADMINISTRATORS, EVERYONE, GLOBAL,
};
use crate::events::Stream;
use crate::fold::Change;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Domain {
    pub id: DomainId,
    pub name: Name,
    pub parent: Option<DomainId>,
    pub version: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub name: Name,
    pub domain: DomainId,
    pub realname: Option<String>,
    pub email: Option<String>,
    pub version: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub id: GroupId,
    pub name: Name,
    pub domain: DomainId,
    pub summary: Option<String>,
    pub email: Option<String>,
    pub version: i64,
}

/// The log position the state reflects: the last applied event and its hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    pub seq: i64,
    pub hash: String,
}

/// The hash the first event chains from.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

impl Default for Head {
    fn default() -> Self {
        Head {
            seq: 0,
            hash: GENESIS_HASH.to_owned(),
        }
    }
}

/// Where a resolution failed, worded as the dmadminweb errors are.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("{0} {1} Not Found or No Access")]
    NotFound(Kind, String),
    #[error("{0} with id {1} not found")]
    IdNotFound(Kind, i64),
    #[error("{0} {1} is Ambiguous")]
    Ambiguous(Kind, String),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct State {
    pub head: Head,
    domains: OrdMap<DomainId, Arc<Domain>>,
    domain_children: HashMap<(DomainId, Name), DomainId>,
    domains_by_name: HashMap<Name, Vec<DomainId>>,
    users: OrdMap<UserId, Arc<User>>,
    users_by_name: HashMap<Name, Vec<UserId>>,
    groups: OrdMap<GroupId, Arc<Group>>,
    groups_by_name: HashMap<Name, Vec<GroupId>>,
    /// (group, user): members of a group, in user-id order.
    members: OrdSet<(GroupId, UserId)>,
    /// (user, group): groups of a user, in group-id order.
    memberships: OrdSet<(UserId, GroupId)>,
    /// Access grants: object key -> group -> flags.
    grants: HashMap<Arc<str>, HashMap<GroupId, Flags>>,
    /// (group, object key): the grants a group holds, for listing by group.
    grants_by_group: OrdSet<(GroupId, Arc<str>)>,
    /// Highest id ever used per kind, so ids of deleted objects are never reused.
    pub last_ids: LastIds,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LastIds {
    pub domain: i64,
    pub user: i64,
    pub group: i64,
}

impl State {
    // ---- the one way state changes -------------------------------------------------

    /// Applies one change produced by `fold`. Nothing else mutates a `State`.
    pub(crate) fn apply(&mut self, change: &Change) {
        match change {
            Change::PutDomain(d) => {
                self.last_ids.domain = self.last_ids.domain.max(d.id.0);
                if let Some(parent) = d.parent {
                    self.domain_children.insert((parent, d.name.clone()), d.id);
                }
                push_id(&mut self.domains_by_name, &d.name, d.id);
                self.domains.insert(d.id, d.clone());
            }
            Change::PutUser(u) => {
                self.last_ids.user = self.last_ids.user.max(u.id.0);
                if !self.users.contains_key(&u.id) {
                    push_id(&mut self.users_by_name, &u.name, u.id);
                }
                self.users.insert(u.id, u.clone());
            }
            Change::DropUser(id) => {
                if let Some(u) = self.users.remove(id) {
                    remove_id(&mut self.users_by_name, &u.name, *id);
                }
            }
            Change::PutGroup(g) => {
                self.last_ids.group = self.last_ids.group.max(g.id.0);
                if !self.groups.contains_key(&g.id) {
                    push_id(&mut self.groups_by_name, &g.name, g.id);
                }
                self.groups.insert(g.id, g.clone());
            }
            Change::DropGroup(id) => {
                if let Some(g) = self.groups.remove(id) {
                    remove_id(&mut self.groups_by_name, &g.name, *id);
                }
            }
            Change::AddMember { group, user, .. } => {
                self.members.insert((*group, *user));
                self.memberships.insert((*user, *group));
            }
            Change::RemoveMember { group, user, .. } => {
                self.members.remove(&(*group, *user));
                self.memberships.remove(&(*user, *group));
            }
            Change::PutGrant {
                object,
                group,
                flags,
            } => {
                let mut row = self.grants.get(object).cloned().unwrap_or_default();
                row.insert(*group, *flags);
                self.grants.insert(object.clone(), row);
                self.grants_by_group.insert((*group, object.clone()));
            }
            Change::DropGrant { object, group } => {
                if let Some(row) = self.grants.get(object) {
                    let mut row = row.clone();
                    row.remove(group);
                    if row.is_empty() {
                        self.grants.remove(object);
                    } else {
                        self.grants.insert(object.clone(), row);
                    }
                }
                self.grants_by_group.remove(&(*group, object.clone()));
            }
            Change::Head(head) => self.head = head.clone(),
        }
    }

    // ---- lookups -------------------------------------------------------------------

    pub fn domain(&self, id: DomainId) -> Option<&Arc<Domain>> {
        self.domains.get(&id)
    }
    pub fn user(&self, id: UserId) -> Option<&Arc<User>> {
        self.users.get(&id)
    }
    pub fn group(&self, id: GroupId) -> Option<&Arc<Group>> {
        self.groups.get(&id)
    }
    pub fn domain_count(&self) -> usize {
        self.domains.len()
    }
    pub fn user_count(&self) -> usize {
        self.users.len()
    }
    pub fn group_count(&self) -> usize {
        self.groups.len()
    }
    pub fn membership_count(&self) -> usize {
        self.members.len()
    }

    /// Domains, users and groups with ids greater than `after`, in id order.
    pub fn domains_after(
        &self,
        after: Option<DomainId>,
    ) -> impl Iterator<Item = &Arc<Domain>> + '_ {
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        self.domains
            .range((start, Bound::Unbounded))
            .map(|(_, d)| d)
    }
    pub fn users_after(&self, after: Option<UserId>) -> impl Iterator<Item = &Arc<User>> + '_ {
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        self.users.range((start, Bound::Unbounded)).map(|(_, u)| u)
    }
    pub fn groups_after(&self, after: Option<GroupId>) -> impl Iterator<Item = &Arc<Group>> + '_ {
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        self.groups.range((start, Bound::Unbounded)).map(|(_, g)| g)
    }

    /// The settings every group has on the object with this key.
    pub fn grants_on(&self, object: &str) -> Option<&HashMap<GroupId, Flags>> {
        self.grants.get(object)
    }

    /// The object keys `group` holds a setting on, in key order.
    pub fn grants_of(&self, group: GroupId) -> impl Iterator<Item = &Arc<str>> + '_ {
        let lo: Arc<str> = Arc::from("");
        self.grants_by_group
            .range((Bound::Included((group, lo)), Bound::Unbounded))
            .take_while(move |(g, _)| *g == group)
            .map(|(_, o)| o)
    }

    /// Explicit membership (Everyone is implicit and never stored).
    pub fn is_member(&self, user: UserId, group: GroupId) -> bool {
        group == EVERYONE && self.users.contains_key(&user)
            || self.memberships.contains(&(user, group))
    }

    pub fn is_admin(&self, user: UserId) -> bool {
        self.memberships.contains(&(user, ADMINISTRATORS))
    }

    /// Explicit members of `group` with ids greater than `after`, in id order.
    pub fn members_after(
        &self,
        group: GroupId,
        after: Option<UserId>,
    ) -> impl Iterator<Item = UserId> + '_ {
        let start = match after {
            Some(u) => Bound::Excluded((group, u)),
            None => Bound::Included((group, UserId(i64::MIN))),
        };
        self.members
            .range((start, Bound::Included((group, UserId(i64::MAX)))))
            .map(|(_, u)| *u)
    }

    /// Explicit groups of `user` with ids greater than `after`, in id order.
    pub fn groups_of_after(
        &self,
        user: UserId,
        after: Option<GroupId>,
    ) -> impl Iterator<Item = GroupId> + '_ {
        let start = match after {
            Some(g) => Bound::Excluded((user, g)),
            None => Bound::Included((user, GroupId(i64::MIN))),
        };
        self.memberships
            .range((start, Bound::Included((user, GroupId(i64::MAX)))))
            .map(|(_, g)| *g)
    }

    /// The current version of a stream (0 when it has no events, or is gone).
    pub fn stream_version(&self, stream: Stream) -> i64 {
        match stream {
            Stream::Domain(id) => self.domains.get(&id).map_or(0, |d| d.version),
            Stream::User(id) => self.users.get(&id).map_or(0, |u| u.version),
            Stream::Group(id) => self.groups.get(&id).map_or(0, |g| g.version),
        }
    }

    // ---- names -----------------------------------------------------------------------

    /// `GLOBAL.Engineering`: the domain's path from the root.
    pub fn domain_path(&self, id: DomainId) -> String {
        let mut parts = Vec::new();
        let mut cur = self.domains.get(&id);
        while let Some(d) = cur {
            parts.push(d.name.as_str());
            cur = d.parent.and_then(|p| self.domains.get(&p));
        }
        parts.reverse();
        parts.join(".")
    }

    pub fn user_qualified(&self, u: &User) -> String {
        format!("{}.{}", self.domain_path(u.domain), u.name)
    }

    pub fn group_qualified(&self, g: &Group) -> String {
        format!("{}.{}", self.domain_path(g.domain), g.name)
    }

    /// Is `ancestor` the domain `d` itself or one of its parents?
    pub fn is_within(&self, d: DomainId, ancestor: DomainId) -> bool {
        let mut cur = Some(d);
        while let Some(id) = cur {
            if id == ancestor {
                return true;
            }
            cur = self.domains.get(&id).and_then(|x| x.parent);
        }
        false
    }

    /// The domains a caller whose home is `home` can see by name: the home
    /// domain, its parents and all its subdomains (exact ids, not substrings).
    pub fn can_see(&self, home: DomainId, d: DomainId) -> bool {
        self.is_within(home, d) || self.is_within(d, home)
    }

    /// The home domain of a caller (`None` is the system, at the root).
    pub fn home_of(&self, caller: Option<UserId>) -> DomainId {
        caller
            .and_then(|u| self.users.get(&u))
            .map_or(GLOBAL, |u| u.domain)
    }

    /// Resolves a domain path segment by segment: the first segment is a root
    /// domain or a domain the caller can see by that name; each further
    /// segment is a child of the one before.
    fn resolve_domain_path(
        &self,
        home: DomainId,
        path: &[String],
    ) -> Result<DomainId, ResolveError> {
        let mut so_far = String::new();
        let mut current: Option<DomainId> = None;
        for seg in path {
            if !so_far.is_empty() {
                so_far.push('.');
            }
            so_far.push_str(seg);
            let next = match current {
                None => {
                    let found: Vec<DomainId> = self
                        .domains_by_name
                        .get(seg.as_str())
                        .map(|ids| {
                            ids.iter()
                                .copied()
                                .filter(|d| self.can_see(home, *d))
                                .collect()
                        })
                        .unwrap_or_default();
                    // A root domain named by its own name wins over a namesake below it.
                    let roots: Vec<DomainId> = found
                        .iter()
                        .copied()
                        .filter(|d| self.domains.get(d).is_some_and(|x| x.parent.is_none()))
                        .collect();
                    match (roots.as_slice(), found.as_slice()) {
                        ([root], _) => Some(*root),
                        (_, [only]) => Some(*only),
                        (_, []) => None,
                        _ => return Err(ResolveError::Ambiguous(Kind::Domain, so_far)),
                    }
                }
                Some(parent) => self
                    .domain_children
                    .get(&(parent, Name::trusted(seg)))
                    .copied()
                    .filter(|d| self.can_see(home, *d)),
            };
            match next {
                Some(d) => current = Some(d),
                None => return Err(ResolveError::NotFound(Kind::Domain, so_far)),
            }
        }
        current.ok_or(ResolveError::NotFound(Kind::Domain, so_far))
    }

    pub fn resolve_domain(
        &self,
        caller: Option<UserId>,
        ident: &Ident,
    ) -> Result<DomainId, ResolveError> {
        let home = self.home_of(caller);
        match ident {
            Ident::Id(id) => {
                let id = DomainId(*id);
                self.domains
                    .contains_key(&id)
                    .then_some(id)
                    .ok_or(ResolveError::IdNotFound(Kind::Domain, id.0))
            }
            Ident::Qualified { domain, name } => {
                let mut path = domain.0.clone();
                path.push(name.clone());
                self.resolve_domain_path(home, &path)
            }
            Ident::Plain(name) => self.resolve_domain_path(home, std::slice::from_ref(name)),
        }
    }

    pub fn resolve_user(
        &self,
        caller: Option<UserId>,
        ident: &Ident,
    ) -> Result<UserId, ResolveError> {
        self.resolve_member(caller, ident, Kind::User, &self.users_by_name, |id| {
            self.users.get(&UserId(id)).map(|u| (u.id, u.domain))
        })
    }

    pub fn resolve_group(
        &self,
        caller: Option<UserId>,
        ident: &Ident,
    ) -> Result<GroupId, ResolveError> {
        self.resolve_member(caller, ident, Kind::Group, &self.groups_by_name, |id| {
            self.groups.get(&GroupId(id)).map(|g| (g.id, g.domain))
        })
    }

    /// Resolution shared by users and groups: both live in a domain under a name.
    fn resolve_member<Id: Copy + PartialEq + Into<i64>>(
        &self,
        caller: Option<UserId>,
        ident: &Ident,
        kind: Kind,
        by_name: &HashMap<Name, Vec<Id>>,
        get: impl Fn(i64) -> Option<(Id, DomainId)>,
    ) -> Result<Id, ResolveError> {
        let home = self.home_of(caller);
        let candidates = |name: &str| -> Vec<(Id, DomainId)> {
            by_name
                .get(name)
                .map(|ids| ids.iter().filter_map(|id| get((*id).into())).collect())
                .unwrap_or_default()
        };
        match ident {
            Ident::Id(id) => get(*id)
                .map(|(id, _)| id)
                .ok_or(ResolveError::IdNotFound(kind, *id)),
            Ident::Qualified { domain, name } => {
                let d = self.resolve_domain_path(home, &domain.0)?;
                candidates(name)
                    .into_iter()
                    .find(|(_, in_domain)| *in_domain == d)
                    .map(|(id, _)| id)
                    .ok_or_else(|| ResolveError::NotFound(kind, ident.to_string()))
            }
            Ident::Plain(name) => {
                let visible: Vec<Id> = candidates(name)
                    .into_iter()
                    .filter(|(_, d)| self.can_see(home, *d))
                    .map(|(id, _)| id)
                    .collect();
                match visible.as_slice() {
                    [only] => Ok(*only),
                    [] => Err(ResolveError::NotFound(kind, name.clone())),
                    _ => Err(ResolveError::Ambiguous(kind, name.clone())),
                }
            }
        }
    }

    /// Is `name` already taken by a live object of this kind in `domain`?
    pub fn name_taken(&self, kind: Kind, domain: DomainId, name: &Name) -> bool {
        match kind {
            Kind::Domain => self.domain_children.contains_key(&(domain, name.clone())),
            Kind::User => self.users_by_name.get(name).is_some_and(|ids| {
                ids.iter()
                    .any(|id| self.users.get(id).is_some_and(|u| u.domain == domain))
            }),
            Kind::Group => self.groups_by_name.get(name).is_some_and(|ids| {
                ids.iter()
                    .any(|id| self.groups.get(id).is_some_and(|g| g.domain == domain))
            }),
        }
    }
}

impl From<UserId> for i64 {
    fn from(id: UserId) -> i64 {
        id.0
    }
}
impl From<GroupId> for i64 {
    fn from(id: GroupId) -> i64 {
        id.0
    }
}

fn push_id<Id: Clone + PartialEq>(index: &mut HashMap<Name, Vec<Id>>, name: &Name, id: Id) {
    let mut ids = index.get(name).cloned().unwrap_or_default();
    if !ids.contains(&id) {
        ids.push(id);
    }
    index.insert(name.clone(), ids);
}

fn remove_id<Id: Clone + PartialEq>(index: &mut HashMap<Name, Vec<Id>>, name: &Name, id: Id) {
    if let Some(ids) = index.get(name) {
        let rest: Vec<Id> = ids.iter().filter(|x| **x != id).cloned().collect();
        if rest.is_empty() {
            index.remove(name);
        } else {
            index.insert(name.clone(), rest);
        }
    }
}
