//! `fold`: state + recorded event -> state. The one place that says what an
//! event does to the views.
//!
//! `fold` turns an event into a list of [`Change`]s, applies each to the
//! in-memory [`State`] and hands each to a [`Sink`] (the SQLite views, or
//! nothing for a pure replay). The live writer, start-up catch-up, `rebuild`
//! and the auditor's `replay` all call this same function.

use std::sync::Arc;

use crate::domain::{Flags, GroupId, ObjectRef, UserId};
use crate::events::{Event, Recorded};
use crate::state::{Domain, Group, Head, State, User};

/// When and by whom a change happened, for the history views.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub seq: i64,
    pub occurred_at: String,
    pub actor: Option<UserId>,
}

/// One mechanical change to the views. Sinks apply these without any rules.
///
/// Which changes enter an object's `view_history` (the events that touch it,
/// for the history API) is the same in every sink: creating, changing or
/// deleting the object, and a grant the group holds set or dropped. A
/// membership change enters none: its position is already in
/// `view_membership_intervals` (as `from_seq` or `to_seq`), from which
/// [`crate::audit::history`] reads it, so an assignment writes one history
/// row (its interval) and not three.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    PutDomain(Arc<Domain>),
    PutUser(Arc<User>),
    DropUser(UserId),
    PutGroup(Arc<Group>),
    /// The group's stream moved to `version` (a membership or grant event
    /// on it) and nothing else about the group changed: a sink updates one
    /// column instead of rewriting the row, and a fold copies nothing.
    GroupVersion {
        group: GroupId,
        version: i64,
    },
    DropGroup(GroupId),
    AddMember {
        group: GroupId,
        user: UserId,
        at: Stamp,
    },
    RemoveMember {
        group: GroupId,
        user: UserId,
        at: Stamp,
    },
    PutGrant {
        object: Arc<str>,
        group: GroupId,
        flags: Flags,
    },
    DropGrant {
        object: Arc<str>,
        group: GroupId,
    },
    Head(Head),
}

/// The envelope of the event whose changes a sink is about to receive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origin<'a> {
    pub seq: i64,
    pub occurred_at: &'a str,
    pub actor: Option<UserId>,
    pub reason: Option<&'a str>,
    pub request_id: Option<&'a str>,
}

/// Where changes go besides the in-memory state.
pub trait Sink {
    type Error;
    /// Called once per event, before its changes: where in the log they come
    /// from, so a sink can stamp what it writes (the history views). A sink
    /// learns the envelope only; what the event means is `changes`' job.
    fn begin(&mut self, _origin: &Origin<'_>) -> Result<(), Self::Error> {
        Ok(())
    }
    fn apply(&mut self, change: &Change) -> Result<(), Self::Error>;
}

/// A sink that keeps nothing: for replays that only need the in-memory state.
pub struct NoSink;

impl Sink for NoSink {
    type Error = std::convert::Infallible;
    fn apply(&mut self, _: &Change) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Folds one recorded event into `state`, passing every change to `sink`.
pub fn fold<S: Sink>(state: &mut State, rec: &Recorded, sink: &mut S) -> Result<(), S::Error> {
    sink.begin(&Origin {
        seq: rec.seq,
        occurred_at: &rec.occurred_at,
        actor: rec.actor,
        reason: rec.reason.as_deref(),
        request_id: rec.request_id.as_deref(),
    })?;
    for change in changes(state, rec) {
        sink.apply(&change)?;
        state.apply(&change);
    }
    Ok(())
}

/// What `rec` does to `state`, as changes (pure; reads the state, never writes it).
pub fn changes(state: &State, rec: &Recorded) -> Vec<Change> {
    // Made only for the changes that carry it: most events need no copy of
    // their time.
    let at = || Stamp {
        seq: rec.seq,
        occurred_at: rec.occurred_at.clone(),
        actor: rec.actor,
    };
    let version = rec.stream_version;
    // A membership event makes three changes: the group's version, the
    // membership, the head.
    let mut out = Vec::with_capacity(4);
    match &rec.event {
        Event::DomainCreated(e) => out.push(Change::PutDomain(Arc::new(Domain {
            id: e.domain_id,
            name: e.name.clone(),
            parent: e.parent_id,
            version,
        }))),
        Event::UserCreated(e) => out.push(Change::PutUser(Arc::new(User {
            id: e.user_id,
            name: e.name.clone(),
            domain: e.domain_id,
            realname: e.realname.clone(),
            email: e.email.clone(),
            version,
        }))),
        Event::GroupCreated(e) => out.push(Change::PutGroup(Arc::new(Group {
            id: e.group_id,
            name: e.name.clone(),
            domain: e.domain_id,
            summary: e.summary.clone(),
            email: e.email.clone(),
            version,
        }))),
        Event::UserDeleted(e) => {
            // A deleted user leaves every group it was in.
            for group in state.groups_of_after(e.user_id, None) {
                out.push(Change::RemoveMember {
                    group,
                    user: e.user_id,
                    at: at(),
                });
            }
            out.push(Change::DropUser(e.user_id));
        }
        Event::GroupDeleted(e) => {
            for user in state.members_after(e.group_id, None) {
                out.push(Change::RemoveMember {
                    group: e.group_id,
                    user,
                    at: at(),
                });
            }
            // Its grants go with it, both those it held and those on it, so a
            // later group of the same name starts with nothing.
            for object in state.grants_of(e.group_id) {
                out.push(Change::DropGrant {
                    object: object.clone(),
                    group: e.group_id,
                });
            }
            let on_it = ObjectRef::group(&format!("{}.{}", e.domain, e.name));
            if let Some(row) = state.grants_on(on_it.as_str()) {
                for group in row.keys() {
                    if *group != e.group_id {
                        out.push(Change::DropGrant {
                            object: on_it.key().clone(),
                            group: *group,
                        });
                    }
                }
            }
            out.push(Change::DropGroup(e.group_id));
        }
        Event::AccessGranted(_) | Event::AccessRevoked(_) => {}
        Event::UserAssigned(m) | Event::UserUnassigned(m) => {
            // decide never emits a membership event naming a missing user or
            // group; should a log hold one anyway, folding it changes nothing
            // (`verify` reports such a log by comparing views with a fold).
            if state.group(m.group_id).is_some() && state.user(m.user_id).is_some() {
                let (group, user) = (m.group_id, m.user_id);
                out.push(Change::GroupVersion { group, version });
                out.push(match rec.event {
                    Event::UserAssigned(_) => Change::AddMember {
                        group,
                        user,
                        at: at(),
                    },
                    _ => Change::RemoveMember {
                        group,
                        user,
                        at: at(),
                    },
                });
            }
        }
    }
    if let Event::AccessGranted(_) | Event::AccessRevoked(_) = &rec.event {
        grant_changes(state, &rec.event, version, &mut out);
    }
    out.push(Change::Head(Head {
        seq: rec.seq,
        hash: rec.hash.clone(),
    }));
    out
}

fn grant_changes(state: &State, event: &Event, version: i64, out: &mut Vec<Change>) {
    let (group_id, change) = match event {
        Event::AccessGranted(e) => (
            e.group_id,
            Change::PutGrant {
                object: e.object.key().clone(),
                group: e.group_id,
                flags: e.flags(),
            },
        ),
        Event::AccessRevoked(e) => (
            e.group_id,
            Change::DropGrant {
                object: e.object.key().clone(),
                group: e.group_id,
            },
        ),
        _ => return,
    };
    // As with memberships: a grant to a group that is gone changes nothing.
    if state.group(group_id).is_some() {
        out.push(Change::GroupVersion {
            group: group_id,
            version,
        });
        out.push(change);
    }
}
