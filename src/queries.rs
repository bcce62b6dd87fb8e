//! Read-side questions answered from a published [`State`] snapshot: who is
//! in a group, which groups a user is in, what an object looks like. The JSON
//! API and the compat layer both answer from here.

use serde::ser::{SerializeStruct, Serializer};
use serde::Serialize;
use std::fmt;

use crate::domain::{GroupId, Ident, Kind, UserId, EVERYONE};
use crate::state::{Group, ResolveError, State, User};

/// The largest page a caller may ask for, and the default.
pub const MAX_LIMIT: usize = 1000;
pub const DEFAULT_LIMIT: usize = 100;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UserView {
    pub id: i64,
    pub name: String,
    pub domain: String,
    pub qualified_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GroupView {
    pub id: i64,
    pub name: String,
    pub domain: String,
    pub qualified_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// One page of a keyset-paginated list: stable while writes continue, since
/// the cursor is a position in id order, not an offset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error("invalid cursor")]
    BadCursor,
    #[error("limit must be between 1 and {MAX_LIMIT}")]
    BadLimit,
}

/// A page request: where to start and how much to return.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub after: Option<i64>,
    pub limit: usize,
}

impl PageRequest {
    pub fn parse(cursor: Option<&str>, limit: Option<usize>) -> Result<Self, QueryError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(QueryError::BadLimit);
        }
        let after = cursor.map(decode_cursor).transpose()?;
        Ok(PageRequest { after, limit })
    }
}

/// Cursors are opaque to callers; inside they are the last id served.
pub(crate) fn encode_cursor(id: i64) -> String {
    format!("c{id:x}")
}

fn decode_cursor(c: &str) -> Result<i64, QueryError> {
    c.strip_prefix('c')
        .and_then(|h| i64::from_str_radix(h, 16).ok())
        .filter(|id| *id >= 0)
        .ok_or(QueryError::BadCursor)
}

fn page<T>(items: impl Iterator<Item = (i64, T)>, limit: usize) -> Page<T> {
    let mut out = Vec::with_capacity(limit.min(64));
    let mut last = None;
    let mut more = false;
    for (id, item) in items {
        if out.len() == limit {
            more = true;
            break;
        }
        last = Some(id);
        out.push(item);
    }
    Page {
        items: out,
        next_cursor: if more { last.map(encode_cursor) } else { None },
    }
}

pub fn user_view(state: &State, u: &User) -> UserView {
    let domain = state.domain_path(u.domain);
    UserView {
        id: u.id.0,
        name: u.name.to_string(),
        qualified_name: format!("{domain}.{}", u.name),
        domain,
        realname: u.realname.clone(),
        email: u.email.clone(),
    }
}

pub fn group_view(state: &State, g: &Group) -> GroupView {
    let domain = state.domain_path(g.domain);
    GroupView {
        id: g.id.0,
        name: g.name.to_string(),
        qualified_name: format!("{domain}.{}", g.name),
        domain,
        summary: g.summary.clone(),
        email: g.email.clone(),
    }
}

pub fn user(state: &State, caller: Option<UserId>, ident: &Ident) -> Result<UserView, QueryError> {
    let id = state.resolve_user(caller, ident)?;
    let u = state
        .user(id)
        .ok_or(ResolveError::IdNotFound(Kind::User, id.0))?;
    Ok(user_view(state, u))
}

pub fn group(
    state: &State,
    caller: Option<UserId>,
    ident: &Ident,
) -> Result<GroupView, QueryError> {
    let id = state.resolve_group(caller, ident)?;
    let g = state
        .group(id)
        .ok_or(ResolveError::IdNotFound(Kind::Group, id.0))?;
    Ok(group_view(state, g))
}

/// `domain.name`, written straight into the answer.
struct Qualified<'a>(&'a str, &'a str);

impl Serialize for Qualified<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Joined on the stack and written as one string: `collect_str` goes
        // through the formatting machinery, which cost about a fifth of a
        // page of a hundred members.
        let (domain, name) = (self.0.as_bytes(), self.1.as_bytes());
        let len = domain.len() + 1 + name.len();
        let mut buf = [0u8; 256];
        if let Some(joined) = buf.get_mut(..len) {
            joined[..domain.len()].copy_from_slice(domain);
            joined[domain.len()] = b'.';
            joined[domain.len() + 1..].copy_from_slice(name);
            if let Ok(joined) = std::str::from_utf8(joined) {
                return s.serialize_str(joined);
            }
        }
        s.collect_str(self)
    }
}

impl fmt::Display for Qualified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// A user in a list, borrowed from the snapshot: serializes exactly as
/// [`UserView`] does, without copying its strings first.
pub struct UserRef<'s> {
    user: &'s User,
    domain: &'s str,
}

impl Serialize for UserRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let u = self.user;
        let mut out = s.serialize_struct("UserView", 6)?;
        out.serialize_field("id", &u.id.0)?;
        out.serialize_field("name", u.name.as_str())?;
        out.serialize_field("domain", self.domain)?;
        out.serialize_field("qualified_name", &Qualified(self.domain, u.name.as_str()))?;
        if let Some(realname) = &u.realname {
            out.serialize_field("realname", realname)?;
        }
        if let Some(email) = &u.email {
            out.serialize_field("email", email)?;
        }
        out.end()
    }
}

/// A group in a list, borrowed like [`UserRef`]; serializes as [`GroupView`].
pub struct GroupRef<'s> {
    group: &'s Group,
    domain: &'s str,
}

impl Serialize for GroupRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let g = self.group;
        let mut out = s.serialize_struct("GroupView", 6)?;
        out.serialize_field("id", &g.id.0)?;
        out.serialize_field("name", g.name.as_str())?;
        out.serialize_field("domain", self.domain)?;
        out.serialize_field("qualified_name", &Qualified(self.domain, g.name.as_str()))?;
        if let Some(summary) = &g.summary {
            out.serialize_field("summary", summary)?;
        }
        if let Some(email) = &g.email {
            out.serialize_field("email", email)?;
        }
        out.end()
    }
}

/// The members of a group, in user-id order. Everyone's members are all users.
pub fn group_members<'s>(
    state: &'s State,
    caller: Option<UserId>,
    ident: &Ident,
    req: PageRequest,
) -> Result<(GroupView, Page<UserRef<'s>>), QueryError> {
    let group = self::group(state, caller, ident)?;
    let after = req.after.map(UserId);
    let views = |ids: &mut dyn Iterator<Item = UserId>| {
        page(
            ids.filter_map(|id| state.user(id)).map(|u| {
                let domain = state.domain_path_str(u.domain);
                (u.id.0, UserRef { user: u, domain })
            }),
            req.limit,
        )
    };
    let members = if GroupId(group.id) == EVERYONE {
        views(&mut state.users_after(after).map(|u| u.id))
    } else {
        views(&mut state.members_after(GroupId(group.id), after))
    };
    Ok((group, members))
}

/// The groups a user is in, in group-id order, Everyone included.
pub fn user_groups<'s>(
    state: &'s State,
    caller: Option<UserId>,
    ident: &Ident,
    req: PageRequest,
) -> Result<(UserView, Page<GroupRef<'s>>), QueryError> {
    let user = self::user(state, caller, ident)?;
    let after = req.after.map(GroupId);
    let everyone = (after.is_none_or(|a| a < EVERYONE)).then_some(EVERYONE);
    let ids = everyone
        .into_iter()
        .chain(state.groups_of_after(UserId(user.id), after));
    let groups = page(
        ids.filter_map(|id| state.group(id)).map(|g| {
            let domain = state.domain_path_str(g.domain);
            (g.id.0, GroupRef { group: g, domain })
        }),
        req.limit,
    );
    Ok((user, groups))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::DomainId;
    use std::sync::Arc;

    #[test]
    fn a_qualified_name_serializes_as_one_escaped_string_however_long() {
        let json = |d: &str, n: &str| serde_json::to_string(&Qualified(d, n)).expect("json");
        assert_eq!(json("GLOBAL.Eng", "alice"), r#""GLOBAL.Eng.alice""#);
        assert_eq!(json("GLOBAL", "o\"brien"), r#""GLOBAL.o\"brien""#);
        // Longer than the stack buffer: the same answer by the long way.
        let long = "d".repeat(300);
        assert_eq!(json(&long, "x"), format!("\"{long}.x\""));
        assert_eq!(json("GLOBAL", "é"), "\"GLOBAL.é\"");
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        assert_eq!(decode_cursor(&encode_cursor(12345)), Ok(12345));
        for bad in ["", "12", "cxyz", "c-1", "zz"] {
            assert_eq!(decode_cursor(bad), Err(QueryError::BadCursor), "{bad}");
        }
    }

    /// The borrowed list items serialize exactly as the owned views do, with
    /// and without the optional fields.
    #[test]
    fn borrowed_list_items_serialize_as_the_views() {
        use crate::domain::Name;
        use crate::fold::Change;
        let mut state = State::default();
        let domains = [
            (DomainId(1), "GLOBAL", None),
            (DomainId(2), "Eng", Some(DomainId(1))),
            (DomainId(3), "Q\"uote", Some(DomainId(2))),
        ];
        for (id, name, parent) in domains {
            state.apply(&Change::PutDomain(Arc::new(crate::state::Domain {
                id,
                name: Name::trusted(name),
                parent,
                version: 1,
            })));
        }
        for (i, (domain, extra)) in [
            (DomainId(1), None),
            (DomainId(3), Some("x\ny")),
            (DomainId(2), Some("é")),
        ]
        .into_iter()
        .enumerate()
        {
            let user = User {
                id: UserId(10 + i as i64),
                name: Name::trusted("al\"ice"),
                domain,
                realname: extra.map(str::to_owned),
                email: extra.map(|e| format!("{e}@example.org")),
                version: 1,
            };
            let borrowed = UserRef {
                user: &user,
                domain: state.domain_path_str(domain),
            };
            assert_eq!(
                serde_json::to_string(&borrowed).expect("json"),
                serde_json::to_string(&user_view(&state, &user)).expect("json")
            );
            let group = Group {
                id: GroupId(10 + i as i64),
                name: Name::trusted("Dev"),
                domain,
                summary: extra.map(str::to_owned),
                email: None,
                version: 1,
            };
            let borrowed = GroupRef {
                group: &group,
                domain: state.domain_path_str(domain),
            };
            assert_eq!(
                serde_json::to_string(&borrowed).expect("json"),
                serde_json::to_string(&group_view(&state, &group)).expect("json")
            );
        }
    }

    #[test]
    fn pages_say_when_there_is_more() {
        let p = page((1..=5).map(|i| (i, i)), 2);
        assert_eq!(p.items, vec![1, 2]);
        assert_eq!(p.next_cursor, Some(encode_cursor(2)));
        let p = page((1..=2).map(|i| (i, i)), 2);
        assert_eq!(p.next_cursor, None);
    }
}

/// Can `caller` see objects in `domain` when listing? Administrators see all;
/// others see their home domain, its parents and its subdomains.
fn visible(state: &State, caller: Option<UserId>, domain: crate::domain::DomainId) -> bool {
    match caller {
        Some(u) if !state.is_admin(u) => state.can_see(state.home_of(caller), domain),
        _ => true,
    }
}

/// Users the caller can see, in id order.
pub fn users(state: &State, caller: Option<UserId>, req: PageRequest) -> Page<UserView> {
    let items = state
        .users_after(req.after.map(UserId))
        .filter(|u| visible(state, caller, u.domain))
        .map(|u| (u.id.0, user_view(state, u)));
    page(items, req.limit)
}

/// Groups the caller can see, in id order.
pub fn groups(state: &State, caller: Option<UserId>, req: PageRequest) -> Page<GroupView> {
    let items = state
        .groups_after(req.after.map(GroupId))
        .filter(|g| visible(state, caller, g.domain))
        .map(|g| (g.id.0, group_view(state, g)));
    page(items, req.limit)
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DomainView {
    pub id: i64,
    pub name: String,
    /// The parent's qualified name; absent for the root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    pub qualified_name: String,
}

pub fn domain_view(state: &State, d: &crate::state::Domain) -> DomainView {
    DomainView {
        id: d.id.0,
        name: d.name.to_string(),
        domain: d.parent.map(|p| state.domain_path(p)),
        qualified_name: state.domain_path(d.id),
    }
}

/// Domains the caller can see, in id order.
pub fn domains(state: &State, caller: Option<UserId>) -> Vec<DomainView> {
    state
        .domains_after(None)
        .filter(|d| visible(state, caller, d.id))
        .map(|d| domain_view(state, d))
        .collect()
}

pub fn domain(
    state: &State,
    caller: Option<UserId>,
    ident: &Ident,
) -> Result<DomainView, QueryError> {
    let id = state.resolve_domain(caller, ident)?;
    let d = state
        .domain(id)
        .ok_or(ResolveError::IdNotFound(Kind::Domain, id.0))?;
    Ok(domain_view(state, d))
}

/// One grant row, as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GrantView {
    pub group: String,
    pub object: String,
    pub view: Option<bool>,
    pub update: Option<bool>,
    pub read: Option<bool>,
    pub write: Option<bool>,
}

fn grant_view(state: &State, object: &str, group: GroupId, f: &crate::domain::Flags) -> GrantView {
    GrantView {
        group: state
            .group(group)
            .map_or_else(|| group.to_string(), |g| state.group_qualified(g)),
        object: object.to_owned(),
        view: f.view,
        update: f.update,
        read: f.read,
        write: f.write,
    }
}

/// Every group's setting on one object, in group-id order.
pub fn grants_on(state: &State, object: &crate::domain::ObjectRef) -> Vec<GrantView> {
    let mut rows: Vec<GrantView> = Vec::new();
    if let Some(row) = state.grants_on(object.as_str()) {
        let mut ids: Vec<(&GroupId, &crate::domain::Flags)> = row.iter().collect();
        ids.sort_by_key(|(g, _)| **g);
        rows = ids
            .into_iter()
            .map(|(g, f)| grant_view(state, object.as_str(), *g, f))
            .collect();
    }
    rows
}

/// Every setting a group holds, in object order.
pub fn grants_of(
    state: &State,
    caller: Option<UserId>,
    group: &Ident,
) -> Result<Vec<GrantView>, QueryError> {
    let id = state.resolve_group(caller, group)?;
    Ok(state
        .grants_of(id)
        .filter_map(|o| {
            let f = state.grants_on(o)?.get(&id)?;
            Some(grant_view(state, o, id, f))
        })
        .collect())
}
