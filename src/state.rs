//! The in-memory state: directory, memberships and log head at one position.
//!
//! Built from persistent (structurally shared) collections, so cloning a
//! `State` is O(1): the writer decides against its own copy and publishes a
//! clone after each commit, and readers hold a consistent snapshot for as long
//! as they like. Only `fold` changes it, through [`State::apply`].

use imbl::{OrdMap, OrdSet};
use std::ops::Bound;
use std::sync::Arc;

mod id_map;
mod id_set;
mod name_ids;
mod radix;

use id_map::{DenseId, IdMap};
use id_set::IdSet;
use name_ids::{push_id, remove_id, NameIds};

use crate::domain::{
    DomainId, Flags, GroupId, Ident, Kind, Name, UserId, ADMINISTRATORS, EVERYONE, GLOBAL,
};
use crate::events::Stream;
use crate::fold::Change;

/// The state's hash maps: imbl's persistent map, hashed with aHash under
/// keys drawn at random for each map. Every access check hashes an object
/// key and a group id per object of its chain, and SipHash (the standard
/// hasher) cost more there than the lookups themselves; the random keys keep
/// names chosen by a caller from being aimed at one bucket.
pub(crate) type HashMap<K, V> =
    imbl::GenericHashMap<K, V, ahash::RandomState, imbl::shared_ptr::DefaultSharedPtr>;

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
    /// domain -> its path from the root (`GLOBAL.Engineering`). Domains are
    /// never renamed or moved, so the path is made once, when the domain is
    /// put, instead of walked up on every answer that names a group.
    domain_paths: HashMap<DomainId, Arc<str>>,
    domain_children: HashMap<(DomainId, Name), DomainId>,
    domains_by_name: HashMap<Name, NameIds<DomainId>>,
    users: IdMap<UserId, Arc<User>>,
    /// name -> the live users with that name, each with its domain, so that
    /// resolving a name needs no second lookup.
    users_by_name: HashMap<Name, NameIds<(UserId, DomainId)>>,
    groups: IdMap<GroupId, Arc<Group>>,
    groups_by_name: HashMap<Name, NameIds<(GroupId, DomainId)>>,
    /// group -> its explicit members (never an empty set).
    members: IdMap<GroupId, IdSet<UserId>>,
    /// user -> the groups they are an explicit member of (never an empty set).
    memberships: IdMap<UserId, IdSet<GroupId>>,
    /// How many (group, user) pairs `members` holds.
    membership_count: usize,
    /// Access grants: object key -> group -> flags.
    grants: HashMap<Arc<str>, HashMap<GroupId, Flags>>,
    /// (group, object key): the grants a group holds, for listing by group.
    grants_by_group: OrdSet<(GroupId, Arc<str>)>,
    /// Highest id ever used per kind, so ids of deleted objects are never reused.
    pub last_ids: LastIds,
}

/// Explicit memberships in both directions, built in bulk for
/// [`State::set_memberships`].
pub(crate) struct Memberships {
    members: IdMap<GroupId, IdSet<UserId>>,
    memberships: IdMap<UserId, IdSet<GroupId>>,
    count: usize,
}

impl Memberships {
    /// From `pairs`: (group, user), sorted by group then user, without
    /// duplicates — the order of `view_memberships`' key. The same sets as
    /// `apply(AddMember)` for each pair would give, but each group's and each
    /// user's set is built in one go instead of by a million single inserts.
    pub(crate) fn from_sorted(pairs: &[(GroupId, UserId)]) -> Memberships {
        debug_assert!(
            pairs.windows(2).all(|w| w[0] < w[1]),
            "pairs must be sorted"
        );
        let mut members = IdMap::default();
        let mut ids = Vec::new();
        for run in pairs.chunk_by(|a, b| a.0 == b.0) {
            ids.clear();
            ids.extend(run.iter().map(|(_, u)| *u));
            if let Some(set) = IdSet::from_sorted(&ids) {
                members.insert(run[0].0, set);
            }
        }
        let mut memberships = IdMap::default();
        for_each_user(pairs, |user, groups| {
            if let Some(set) = IdSet::from_sorted(groups) {
                memberships.insert(user, set);
            }
        });
        Memberships {
            members,
            memberships,
            count: pairs.len(),
        }
    }
}

/// Calls `f` with each user's groups in group order, users in id order,
/// from pairs sorted by group. User ids are dense (handed out one after
/// another), so a counting sort on them does it in two passes; ids too
/// spread out for a table of counts are sorted instead.
fn for_each_user(pairs: &[(GroupId, UserId)], mut f: impl FnMut(UserId, &[GroupId])) {
    let (Some(lo), Some(hi)) = (
        pairs.iter().map(|p| p.1 .0).min(),
        pairs.iter().map(|p| p.1 .0).max(),
    ) else {
        return;
    };
    let span = hi.abs_diff(lo) as usize;
    if span > 4 * pairs.len() + 1024 {
        let mut flipped: Vec<(UserId, GroupId)> = pairs.iter().map(|(g, u)| (*u, *g)).collect();
        flipped.sort_unstable();
        let mut groups = Vec::new();
        for run in flipped.chunk_by(|a, b| a.0 == b.0) {
            groups.clear();
            groups.extend(run.iter().map(|(_, g)| *g));
            f(run[0].0, &groups);
        }
        return;
    }
    let slot = |u: UserId| u.0.abs_diff(lo) as usize;
    // starts[s]..starts[s + 1]: where user lo + s's groups go in `flat`.
    let mut starts = vec![0_usize; span + 2];
    for (_, u) in pairs {
        starts[slot(*u) + 1] += 1;
    }
    for s in 1..starts.len() {
        starts[s] += starts[s - 1];
    }
    let mut next = starts.clone();
    let mut flat = vec![GroupId(0); pairs.len()];
    // Pairs come in group order, so each user's groups land in group order.
    for (g, u) in pairs {
        flat[next[slot(*u)]] = *g;
        next[slot(*u)] += 1;
    }
    for s in 0..=span {
        if starts[s + 1] > starts[s] {
            f(UserId(lo + s as i64), &flat[starts[s]..starts[s + 1]]);
        }
    }
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
                let path: Arc<str> = match d.parent {
                    Some(parent) => format!("{}.{}", self.domain_path_str(parent), d.name).into(),
                    None => d.name.as_str().into(),
                };
                self.domain_paths.insert(d.id, path);
                self.domains.insert(d.id, d.clone());
            }
            Change::PutUser(u) => {
                self.last_ids.user = self.last_ids.user.max(u.id.0);
                if !self.users.contains_key(&u.id) {
                    push_id(&mut self.users_by_name, &u.name, (u.id, u.domain));
                }
                self.users.insert(u.id, u.clone());
            }
            Change::DropUser(id) => {
                if let Some(u) = self.users.remove(id) {
                    remove_id(&mut self.users_by_name, &u.name, (*id, u.domain));
                }
            }
            Change::PutGroup(g) => {
                self.last_ids.group = self.last_ids.group.max(g.id.0);
                if !self.groups.contains_key(&g.id) {
                    push_id(&mut self.groups_by_name, &g.name, (g.id, g.domain));
                }
                self.groups.insert(g.id, g.clone());
            }
            Change::GroupVersion { group, version } => {
                if let Some(g) = self.groups.get_mut(group) {
                    Arc::make_mut(g).version = *version;
                }
            }
            Change::DropGroup(id) => {
                if let Some(g) = self.groups.remove(id) {
                    remove_id(&mut self.groups_by_name, &g.name, (*id, g.domain));
                }
            }
            Change::AddMember { group, user, .. } => {
                if add_to(&mut self.members, *group, *user) {
                    add_to(&mut self.memberships, *user, *group);
                    self.membership_count += 1;
                }
            }
            Change::RemoveMember { group, user, .. } => {
                if remove_from(&mut self.members, *group, *user) {
                    remove_from(&mut self.memberships, *user, *group);
                    self.membership_count -= 1;
                }
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
            // `clone_from` reuses the hash's buffer: no allocation per event.
            Change::Head(head) => self.head.clone_from(head),
        }
    }

    /// Replaces every membership with `loaded` (start-up's bulk load; see
    /// [`Memberships::from_sorted`]).
    pub(crate) fn set_memberships(&mut self, loaded: Memberships) {
        self.members = loaded.members;
        self.memberships = loaded.memberships;
        self.membership_count = loaded.count;
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
        self.membership_count
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
        self.users.range_after(after).map(|(_, u)| u)
    }
    pub fn groups_after(&self, after: Option<GroupId>) -> impl Iterator<Item = &Arc<Group>> + '_ {
        self.groups.range_after(after).map(|(_, g)| g)
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
            || self
                .memberships
                .get(&user)
                .is_some_and(|g| g.contains(group))
    }

    pub fn is_admin(&self, user: UserId) -> bool {
        self.memberships
            .get(&user)
            .is_some_and(|g| g.contains(ADMINISTRATORS))
    }

    /// Explicit members of `group` with ids greater than `after`, in id order.
    pub fn members_after(
        &self,
        group: GroupId,
        after: Option<UserId>,
    ) -> impl Iterator<Item = UserId> + '_ {
        self.members
            .get(&group)
            .into_iter()
            .flat_map(move |users| users.iter_after(after))
    }

    /// Explicit groups of `user` with ids greater than `after`, in id order.
    pub fn groups_of_after(
        &self,
        user: UserId,
        after: Option<GroupId>,
    ) -> impl Iterator<Item = GroupId> + '_ {
        self.memberships
            .get(&user)
            .into_iter()
            .flat_map(move |groups| groups.iter_after(after))
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
        self.domain_path_str(id).to_owned()
    }

    /// [`State::domain_path`], borrowed; empty for an unknown domain.
    pub fn domain_path_str(&self, id: DomainId) -> &str {
        self.domain_paths.get(&id).map_or("", |p| p)
    }

    pub fn user_qualified(&self, u: &User) -> String {
        format!("{}.{}", self.domain_path_str(u.domain), u.name)
    }

    pub fn group_qualified(&self, g: &Group) -> String {
        format!("{}.{}", self.domain_path_str(g.domain), g.name)
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
        by_name: &HashMap<Name, NameIds<(Id, DomainId)>>,
        get: impl Fn(i64) -> Option<(Id, DomainId)>,
    ) -> Result<Id, ResolveError> {
        let home = self.home_of(caller);
        // The live objects that carry `name`, with their domains. Resolution
        // runs on every request that names someone (checks included), so
        // it walks the index without collecting.
        let candidates = |name: &str| {
            by_name
                .get(name)
                .into_iter()
                .flat_map(|ids| ids.iter().copied())
        };
        match ident {
            Ident::Id(id) => get(*id)
                .map(|(id, _)| id)
                .ok_or(ResolveError::IdNotFound(kind, *id)),
            Ident::Qualified { domain, name } => {
                let d = self.resolve_domain_path(home, &domain.0)?;
                candidates(name)
                    .find(|(_, in_domain)| *in_domain == d)
                    .map(|(id, _)| id)
                    .ok_or_else(|| ResolveError::NotFound(kind, ident.to_string()))
            }
            Ident::Plain(name) => {
                let mut visible = candidates(name).filter(|(_, d)| self.can_see(home, *d));
                match (visible.next(), visible.next()) {
                    (Some((only, _)), None) => Ok(only),
                    (None, _) => Err(ResolveError::NotFound(kind, name.clone())),
                    (Some(_), Some(_)) => Err(ResolveError::Ambiguous(kind, name.clone())),
                }
            }
        }
    }

    /// Is `name` already taken by a live object of this kind in `domain`?
    pub fn name_taken(&self, kind: Kind, domain: DomainId, name: &Name) -> bool {
        match kind {
            Kind::Domain => self.domain_children.contains_key(&(domain, name.clone())),
            Kind::User => self
                .users_by_name
                .get(name)
                .is_some_and(|ids| ids.iter().any(|(_, d)| *d == domain)),
            Kind::Group => self
                .groups_by_name
                .get(name)
                .is_some_and(|ids| ids.iter().any(|(_, d)| *d == domain)),
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

/// Adds `id` to the set under `key`; false if it was there already.
fn add_to<K: DenseId, Id: Ord + Copy>(map: &mut IdMap<K, IdSet<Id>>, key: K, id: Id) -> bool {
    match map.get_mut(&key) {
        Some(set) => set.insert(id),
        None => {
            map.insert(key, IdSet::Small(Arc::from([id])));
            true
        }
    }
}

/// Removes `id` from the set under `key` (and the set, once empty); false if
/// it was not there.
fn remove_from<K: DenseId, Id: Ord + Copy>(map: &mut IdMap<K, IdSet<Id>>, key: K, id: Id) -> bool {
    let Some(set) = map.get_mut(&key) else {
        return false;
    };
    let removed = set.remove(id);
    if set.len() == 0 {
        map.remove(&key);
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fold::Stamp;

    fn stamp() -> Stamp {
        Stamp {
            seq: 1,
            occurred_at: String::new(),
            actor: None,
        }
    }

    fn add(state: &mut State, group: i64, user: i64) {
        state.apply(&Change::AddMember {
            group: GroupId(group),
            user: UserId(user),
            at: stamp(),
        });
    }

    fn remove(state: &mut State, group: i64, user: i64) {
        state.apply(&Change::RemoveMember {
            group: GroupId(group),
            user: UserId(user),
            at: stamp(),
        });
    }

    fn members(state: &State, group: i64, after: Option<i64>) -> Vec<i64> {
        state
            .members_after(GroupId(group), after.map(UserId))
            .map(|u| u.0)
            .collect()
    }

    fn groups(state: &State, user: i64, after: Option<i64>) -> Vec<i64> {
        state
            .groups_of_after(UserId(user), after.map(GroupId))
            .map(|g| g.0)
            .collect()
    }

    /// Group 10 is larger than a small set, group 11 small, group 12 has one member.
    fn pairs() -> Vec<(GroupId, UserId)> {
        let mut pairs = Vec::new();
        for u in 1..=(2 * id_set::SMALL_MAX as i64) {
            pairs.push((GroupId(10), UserId(u)));
        }
        for u in (2..=40).step_by(2) {
            pairs.push((GroupId(11), UserId(u)));
        }
        pairs.push((GroupId(12), UserId(7)));
        pairs
    }

    #[test]
    fn a_bulk_load_equals_adding_the_members_one_by_one() {
        let mut folded = State::default();
        for (g, u) in pairs() {
            add(&mut folded, g.0, u.0);
        }
        let mut loaded = State::default();
        loaded.set_memberships(Memberships::from_sorted(&pairs()));
        assert_eq!(loaded, folded);
        assert_eq!(loaded.membership_count(), pairs().len());
        assert_eq!(members(&loaded, 11, Some(30)), vec![32, 34, 36, 38, 40]);
        assert_eq!(groups(&loaded, 7, None), vec![10, 12]);
        assert_eq!(groups(&loaded, 8, Some(10)), vec![11]);
        assert_eq!(groups(&loaded, 7, Some(12)), Vec::<i64>::new());
        assert!(loaded.is_member(UserId(7), GroupId(12)));
        assert!(!loaded.is_member(UserId(7), GroupId(11)));
        assert_eq!(members(&loaded, 13, None), Vec::<i64>::new());
    }

    #[test]
    fn a_bulk_load_of_far_apart_user_ids_equals_adding_them_one_by_one() {
        // Too spread out for the counting sort: the sorting path builds the
        // per-user sets instead.
        let pairs: Vec<(GroupId, UserId)> = [(3, 1), (3, 1 << 40), (4, 5), (4, 1 << 40)]
            .into_iter()
            .map(|(g, u)| (GroupId(g), UserId(u)))
            .collect();
        let mut folded = State::default();
        for (g, u) in &pairs {
            add(&mut folded, g.0, u.0);
        }
        let mut loaded = State::default();
        loaded.set_memberships(Memberships::from_sorted(&pairs));
        assert_eq!(loaded, folded);
        assert_eq!(groups(&loaded, 1 << 40, None), vec![3, 4]);
        assert_eq!(members(&loaded, 4, None), vec![5, 1 << 40]);
    }

    #[test]
    fn changes_after_a_bulk_load_keep_both_directions_and_the_count() {
        let mut state = State::default();
        state.set_memberships(Memberships::from_sorted(&pairs()));
        let before = state.clone();
        let count = pairs().len();
        add(&mut state, 11, 3);
        add(&mut state, 11, 3); // again: no change
        remove(&mut state, 10, 5);
        remove(&mut state, 10, 5); // again: no change
        remove(&mut state, 12, 7); // the group's last member
        remove(&mut state, 12, 8); // never a member
        assert_eq!(state.membership_count(), count - 1);
        assert_eq!(members(&state, 11, Some(1)), {
            let mut want = vec![2, 3];
            want.extend((4..=40).step_by(2));
            want
        });
        assert!(!members(&state, 10, None).contains(&5));
        assert_eq!(groups(&state, 5, None), Vec::<i64>::new());
        assert_eq!(members(&state, 12, None), Vec::<i64>::new());
        assert_eq!(groups(&state, 7, None), vec![10]);
        assert_eq!(groups(&state, 3, None), vec![10, 11]);
        // The snapshot taken before is untouched.
        assert_eq!(before.membership_count(), count);
        assert_eq!(members(&before, 12, None), vec![7]);
        assert!(before.is_member(UserId(5), GroupId(10)));
        // Undoing the changes gives a state equal to the one loaded.
        add(&mut state, 10, 5);
        add(&mut state, 12, 7);
        remove(&mut state, 11, 3);
        assert_eq!(state, before);
    }
}
