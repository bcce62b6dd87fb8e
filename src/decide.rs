//! `decide`: state + command -> events, or the rule the command breaks (pure).
//!
//! Every business rule lives here: what an identifier names, what may be
//! created where, what is a no-op, what may never happen. It reads the state
//! and returns events; it never writes anything, so a rejected command leaves
//! no trace by construction.

use crate::access;
use crate::commands::{Command, Created, Outcome, Request};
use crate::domain::{
    DomainId, Flags, GroupId, Ident, Kind, Name, ObjectRef, Permission, UserId, ADMIN,
    ADMINISTRATORS, EVERYONE, GLOBAL,
};
use crate::events::{
    AccessGranted, AccessRevoked, DomainCreated, Event, GroupCreated, GroupDeleted, Membership,
    UserCreated, UserDeleted,
};
use crate::state::{ResolveError, State};

/// The events a command produces, what to tell the caller, and the
/// credentials row to write beside them (never into an event).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub events: Vec<Event>,
    pub outcome: Outcome,
    pub credentials: Option<(UserId, String)>,
}

/// Why a command was refused. The texts are the caller-facing messages.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error("Permission Denied")]
    PermissionDenied,
    #[error("{kind} {name} already exists in {domain}")]
    Duplicate {
        kind: Kind,
        name: Name,
        domain: String,
    },
    #[error("Every user is a member of Everyone: it cannot be assigned or unassigned")]
    EveryoneIsImplicit,
    #[error("{0} is built in and cannot be deleted")]
    BuiltIn(String),
    #[error("Cannot remove the last member of Administrators")]
    LastAdministrator,
    #[error("The log already holds events: bootstrap runs only on an empty database")]
    AlreadyBootstrapped,
    #[error("{0}")]
    Invalid(String),
}

/// Decides `req` against `state`.
pub fn decide(state: &State, req: &Request) -> Result<Decision, Rejection> {
    let caller = req.caller;
    match &req.command {
        Command::Bootstrap {
            admin_password_hash,
        } => bootstrap(state, admin_password_hash),
        Command::CreateDomain { name, parent } => {
            let parent = domain_or_global(state, caller, parent.as_ref())?;
            may_change_domain(state, caller, parent)?;
            unique(state, Kind::Domain, parent, name)?;
            let id = DomainId(state.last_ids.domain + 1);
            let parent_path = state.domain_path(parent);
            let qualified_name = format!("{parent_path}.{name}");
            Ok(Decision {
                events: vec![Event::DomainCreated(DomainCreated {
                    domain_id: id,
                    name: name.clone(),
                    parent_id: Some(parent),
                    qualified_name: qualified_name.clone(),
                })],
                outcome: created(Kind::Domain, id.0, name, parent_path, qualified_name),
                credentials: None,
            })
        }
        Command::CreateUser {
            name,
            domain,
            realname,
            email,
            password_hash,
        } => {
            let domain = domain_or_global(state, caller, domain.as_ref())?;
            may_change_domain(state, caller, domain)?;
            unique(state, Kind::User, domain, name)?;
            let id = UserId(state.last_ids.user + 1);
            let path = state.domain_path(domain);
            Ok(Decision {
                events: vec![Event::UserCreated(UserCreated {
                    user_id: id,
                    name: name.clone(),
                    domain_id: domain,
                    domain: path.clone(),
                    realname: realname.clone(),
                    email: email.clone(),
                })],
                outcome: created(
                    Kind::User,
                    id.0,
                    name,
                    path.clone(),
                    format!("{path}.{name}"),
                ),
                credentials: password_hash.clone().map(|h| (id, h)),
            })
        }
        Command::CreateGroup {
            name,
            domain,
            summary,
            email,
        } => {
            let domain = domain_or_global(state, caller, domain.as_ref())?;
            may_change_domain(state, caller, domain)?;
            unique(state, Kind::Group, domain, name)?;
            let id = GroupId(state.last_ids.group + 1);
            let path = state.domain_path(domain);
            Ok(Decision {
                events: vec![Event::GroupCreated(GroupCreated {
                    group_id: id,
                    name: name.clone(),
                    domain_id: domain,
                    domain: path.clone(),
                    summary: summary.clone(),
                    email: email.clone(),
                })],
                outcome: created(
                    Kind::Group,
                    id.0,
                    name,
                    path.clone(),
                    format!("{path}.{name}"),
                ),
                credentials: None,
            })
        }
        Command::DeleteUser { user } => {
            let id = state.resolve_user(caller, user)?;
            let u = state
                .user(id)
                .ok_or(ResolveError::IdNotFound(Kind::User, id.0))?;
            may_change_domain(state, caller, u.domain)?;
            if state.is_admin(id) && admin_count(state) == 1 {
                return Err(Rejection::LastAdministrator);
            }
            Ok(Decision {
                events: vec![Event::UserDeleted(UserDeleted {
                    user_id: id,
                    name: u.name.clone(),
                    domain_id: u.domain,
                    domain: state.domain_path(u.domain),
                })],
                outcome: Outcome::Deleted {
                    kind: Kind::User,
                    id: id.0,
                },
                credentials: None,
            })
        }
        Command::DeleteGroup { group } => {
            let id = state.resolve_group(caller, group)?;
            let g = state
                .group(id)
                .ok_or(ResolveError::IdNotFound(Kind::Group, id.0))?;
            may_change_domain(state, caller, g.domain)?;
            if id == EVERYONE || id == ADMINISTRATORS {
                return Err(Rejection::BuiltIn(g.name.to_string()));
            }
            Ok(Decision {
                events: vec![Event::GroupDeleted(GroupDeleted {
                    group_id: id,
                    name: g.name.clone(),
                    domain_id: g.domain,
                    domain: state.domain_path(g.domain),
                })],
                outcome: Outcome::Deleted {
                    kind: Kind::Group,
                    id: id.0,
                },
                credentials: None,
            })
        }
        Command::Assign { user, group } => membership(state, caller, user, group, true),
        Command::Unassign { user, group } => membership(state, caller, user, group, false),
        Command::SetGrant {
            group,
            object,
            flags,
        } => grant(state, caller, group, object, *flags),
        Command::RevokeGrant { group, object } => {
            grant(state, caller, group, object, Flags::default())
        }
        Command::ImportGroup { group, members } => import_group(state, caller, group, members),
    }
}

/// May `caller` change `object`? The system may; users need `update` on it
/// (Administrators have it everywhere).
fn may_change(state: &State, caller: Option<UserId>, object: &ObjectRef) -> Result<(), Rejection> {
    match caller {
        None => Ok(()),
        Some(u) if access::allows(state, u, object, Permission::Update) => Ok(()),
        Some(_) => Err(Rejection::PermissionDenied),
    }
}

/// Creating or deleting something in `domain` needs `update` on the domain.
fn may_change_domain(
    state: &State,
    caller: Option<UserId>,
    domain: DomainId,
) -> Result<(), Rejection> {
    within_reach(state, caller, domain)?;
    may_change(
        state,
        caller,
        &ObjectRef::domain(&state.domain_path(domain)),
    )
}

/// Ids resolve anywhere, but a non-administrator may only write to objects in
/// the domains it can see (its home domain, parents and subdomains).
fn within_reach(state: &State, caller: Option<UserId>, domain: DomainId) -> Result<(), Rejection> {
    match caller {
        Some(u) if !state.is_admin(u) && !state.can_see(state.home_of(caller), domain) => {
            Err(Rejection::PermissionDenied)
        }
        _ => Ok(()),
    }
}

/// Sets (or, with empty flags, revokes) a group's setting on an object.
fn grant(
    state: &State,
    caller: Option<UserId>,
    group: &Ident,
    object: &ObjectRef,
    flags: Flags,
) -> Result<Decision, Rejection> {
    let group_id = state.resolve_group(caller, group)?;
    let g = state
        .group(group_id)
        .ok_or(ResolveError::IdNotFound(Kind::Group, group_id.0))?;
    // The object's domain (or, for a group, the group itself) must exist, so
    // a typo cannot leave a grant on nothing.
    match object.object_type() {
        "group" => {
            state.resolve_group(caller, &Ident::parse(Kind::Group, object.qualified_name()))?;
        }
        "domain" => {
            state.resolve_domain(caller, &Ident::parse_domain(object.qualified_name()))?;
        }
        _ => {
            let parent = object.parent_domain().unwrap_or_default();
            state.resolve_domain(caller, &Ident::parse_domain(parent))?;
        }
    }
    may_change(state, caller, object)?;
    let current = state
        .grants_on(object.as_str())
        .and_then(|row| row.get(&group_id))
        .copied();
    let group_name = state.group_qualified(g);
    let event = match (current, flags.is_empty()) {
        (None, true) => None,
        (Some(_), true) => Some(Event::AccessRevoked(AccessRevoked {
            group_id,
            group: group_name,
            object: object.clone(),
        })),
        (Some(c), false) if c == flags => None,
        (_, false) => Some(Event::AccessGranted(AccessGranted {
            group_id,
            group: group_name,
            object: object.clone(),
            view: flags.view,
            update: flags.update,
            read: flags.read,
            write: flags.write,
        })),
    };
    Ok(Decision {
        outcome: Outcome::Grant {
            group: group_id,
            changed: event.is_some(),
        },
        events: event.into_iter().collect(),
        credentials: None,
    })
}

/// Creates a group with its members, or adds the missing members to it.
fn import_group(
    state: &State,
    caller: Option<UserId>,
    group: &Ident,
    members: &[Ident],
) -> Result<Decision, Rejection> {
    let mut events = Vec::new();
    let (group_id, group_name, created) = match state.resolve_group(caller, group) {
        Ok(id) => {
            let g = state
                .group(id)
                .ok_or(ResolveError::IdNotFound(Kind::Group, id.0))?;
            if id == EVERYONE {
                return Err(Rejection::EveryoneIsImplicit);
            }
            within_reach(state, caller, g.domain)?;
            may_change(state, caller, &ObjectRef::group(&state.group_qualified(g)))?;
            (id, state.group_qualified(g), false)
        }
        Err(ResolveError::NotFound(..)) => {
            // Only a qualified name says which domain a new group belongs in.
            let Ident::Qualified { domain: path, name } = group else {
                return Err(ResolveError::NotFound(Kind::Group, group.to_string()).into());
            };
            let domain = state.resolve_domain(caller, &Ident::parse_domain(&path.to_string()))?;
            let name =
                Name::parse(Kind::Group, name).map_err(|e| Rejection::Invalid(e.to_string()))?;
            may_change_domain(state, caller, domain)?;
            let id = GroupId(state.last_ids.group + 1);
            let path = state.domain_path(domain);
            events.push(Event::GroupCreated(GroupCreated {
                group_id: id,
                name: name.clone(),
                domain_id: domain,
                domain: path.clone(),
                summary: None,
                email: None,
            }));
            (id, format!("{path}.{name}"), true)
        }
        Err(e) => return Err(e.into()),
    };
    let mut seen = std::collections::HashSet::new();
    for member in members {
        let user_id = state.resolve_user(caller, member)?;
        let u = state
            .user(user_id)
            .ok_or(ResolveError::IdNotFound(Kind::User, user_id.0))?;
        within_reach(state, caller, u.domain)?;
        if seen.insert(user_id) && (created || !state.is_member(user_id, group_id)) {
            events.push(Event::UserAssigned(Membership {
                group_id,
                group: group_name.clone(),
                user_id,
                user: state.user_qualified(u),
            }));
        }
    }
    let added = events.len() - usize::from(created);
    Ok(Decision {
        events,
        outcome: Outcome::Imported {
            group: group_id,
            created,
            added,
        },
        credentials: None,
    })
}

fn membership(
    state: &State,
    caller: Option<UserId>,
    user: &Ident,
    group: &Ident,
    assign: bool,
) -> Result<Decision, Rejection> {
    // The reference resolves the user first, then the group: errors follow that order.
    let user_id = state.resolve_user(caller, user)?;
    let group_id = state.resolve_group(caller, group)?;
    if group_id == EVERYONE {
        return Err(Rejection::EveryoneIsImplicit);
    }
    if let (Some(u), Some(g)) = (state.user(user_id), state.group(group_id)) {
        within_reach(state, caller, u.domain)?;
        within_reach(state, caller, g.domain)?;
        may_change(state, caller, &ObjectRef::group(&state.group_qualified(g)))?;
    }
    let is_member = state.is_member(user_id, group_id);
    let outcome = Outcome::Membership {
        user: user_id,
        group: group_id,
        changed: is_member != assign,
    };
    if is_member == assign {
        return Ok(Decision {
            events: vec![],
            outcome,
            credentials: None,
        });
    }
    if !assign && group_id == ADMINISTRATORS && admin_count(state) == 1 {
        return Err(Rejection::LastAdministrator);
    }
    let (u, g) = match (state.user(user_id), state.group(group_id)) {
        (Some(u), Some(g)) => (u, g),
        // Resolution only returns live ids; this is unreachable but not worth a panic.
        _ => return Err(ResolveError::NotFound(Kind::User, user.to_string()).into()),
    };
    let m = Membership {
        group_id,
        group: state.group_qualified(g),
        user_id,
        user: state.user_qualified(u),
    };
    Ok(Decision {
        events: vec![if assign {
            Event::UserAssigned(m)
        } else {
            Event::UserUnassigned(m)
        }],
        outcome,
        credentials: None,
    })
}

fn bootstrap(state: &State, admin_password_hash: &str) -> Result<Decision, Rejection> {
    if state.head.seq != 0 {
        return Err(Rejection::AlreadyBootstrapped);
    }
    let global = Name::trusted("GLOBAL");
    let g = "GLOBAL".to_owned();
    let group = |id: GroupId, name: &str| {
        Event::GroupCreated(GroupCreated {
            group_id: id,
            name: Name::trusted(name),
            domain_id: GLOBAL,
            domain: g.clone(),
            summary: None,
            email: None,
        })
    };
    Ok(Decision {
        events: vec![
            Event::DomainCreated(DomainCreated {
                domain_id: GLOBAL,
                name: global,
                parent_id: None,
                qualified_name: g.clone(),
            }),
            group(EVERYONE, "Everyone"),
            group(ADMINISTRATORS, "Administrators"),
            Event::UserCreated(UserCreated {
                user_id: ADMIN,
                name: Name::trusted("admin"),
                domain_id: GLOBAL,
                domain: g.clone(),
                realname: Some("Administrator".into()),
                email: None,
            }),
            Event::UserAssigned(Membership {
                group_id: ADMINISTRATORS,
                group: "GLOBAL.Administrators".into(),
                user_id: ADMIN,
                user: "GLOBAL.admin".into(),
            }),
        ],
        outcome: Outcome::Bootstrapped,
        credentials: Some((ADMIN, admin_password_hash.to_owned())),
    })
}

fn domain_or_global(
    state: &State,
    caller: Option<UserId>,
    ident: Option<&Ident>,
) -> Result<DomainId, Rejection> {
    match ident {
        Some(i) => Ok(state.resolve_domain(caller, i)?),
        None => Ok(GLOBAL),
    }
}

fn unique(state: &State, kind: Kind, domain: DomainId, name: &Name) -> Result<(), Rejection> {
    if state.name_taken(kind, domain, name) {
        return Err(Rejection::Duplicate {
            kind,
            name: name.clone(),
            domain: state.domain_path(domain),
        });
    }
    Ok(())
}

fn admin_count(state: &State) -> usize {
    state.members_after(ADMINISTRATORS, None).take(2).count()
}

fn created(kind: Kind, id: i64, name: &Name, domain: String, qualified_name: String) -> Outcome {
    Outcome::Created(Created {
        kind,
        id,
        name: name.to_string(),
        domain: Some(domain),
        qualified_name,
    })
}
