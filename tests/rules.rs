//! The rules, read as rules: given these events, when this command, then
//! these events (or this rejection). Pure: no database, no clock.

use rollcall::commands::{Command, Request};
use rollcall::decide::{decide, Decision, Rejection};
use rollcall::domain::{DomainId, GroupId, Ident, Kind, Name, UserId};
use rollcall::events::{Event, GroupCreated, Membership, UserCreated, UserDeleted};
use rollcall::fold::{fold, NoSink};
use rollcall::log::chain::{seal, Draft};
use rollcall::state::{ResolveError, State};

struct Given {
    state: State,
}

fn system(command: Command) -> Request {
    Request {
        caller: None,
        request_id: None,
        reason: None,
        command,
    }
}

/// A state holding the bootstrap rows plus `events`.
fn given(events: Vec<Event>) -> Given {
    let mut g = Given {
        state: State::default(),
    };
    let boot = decide(
        &g.state,
        &system(Command::Bootstrap {
            admin_password_hash: "x".into(),
        }),
    )
    .expect("bootstrap");
    g.apply(boot.events);
    g.apply(events);
    g
}

impl Given {
    fn apply(&mut self, events: Vec<Event>) {
        for event in events {
            let draft = Draft {
                event_id: format!("e{}", self.state.head.seq + 1),
                stream_version: self.state.stream_version(event.stream()) + 1,
                occurred_at: "2026-03-01T00:00:00.000Z".into(),
                actor: None,
                request_id: None,
                reason: None,
                event,
            };
            let rec = seal(&self.state.head, draft);
            let Ok(()) = fold(&mut self.state, &rec, &mut NoSink);
        }
    }

    fn when(&self, command: Command) -> Result<Decision, Rejection> {
        decide(
            &self.state,
            &Request {
                caller: Some(UserId(1)),
                request_id: None,
                reason: None,
                command,
            },
        )
    }
}

fn name(kind: Kind, s: &str) -> Name {
    Name::parse(kind, s).expect("valid name")
}

fn user_created(id: i64, n: &str, domain: i64, path: &str) -> Event {
    Event::UserCreated(UserCreated {
        user_id: UserId(id),
        name: name(Kind::User, n),
        domain_id: DomainId(domain),
        domain: path.into(),
        realname: None,
        email: None,
    })
}

fn group_created(id: i64, n: &str) -> Event {
    Event::GroupCreated(GroupCreated {
        group_id: GroupId(id),
        name: name(Kind::Group, n),
        domain_id: DomainId(1),
        domain: "GLOBAL".into(),
        summary: None,
        email: None,
    })
}

fn membership(user: i64, uname: &str, group: i64, gname: &str) -> Membership {
    Membership {
        group_id: GroupId(group),
        group: format!("GLOBAL.{gname}"),
        user_id: UserId(user),
        user: format!("GLOBAL.{uname}"),
    }
}

fn assign(user: &str, group: &str) -> Command {
    Command::Assign {
        user: Ident::parse(Kind::User, user),
        group: Ident::parse(Kind::Group, group),
    }
}

fn unassign(user: &str, group: &str) -> Command {
    Command::Unassign {
        user: Ident::parse(Kind::User, user),
        group: Ident::parse(Kind::Group, group),
    }
}

#[test]
fn assigning_a_non_member_records_user_assigned_with_names_as_they_are() {
    let g = given(vec![
        user_created(2, "alice", 1, "GLOBAL"),
        group_created(3, "Devs"),
    ]);
    let d = g.when(assign("alice", "Devs")).expect("accepted");
    assert_eq!(
        d.events,
        vec![Event::UserAssigned(membership(2, "alice", 3, "Devs"))]
    );
}

#[test]
fn assigning_a_member_again_records_nothing() {
    let g = given(vec![
        user_created(2, "alice", 1, "GLOBAL"),
        group_created(3, "Devs"),
        Event::UserAssigned(membership(2, "alice", 3, "Devs")),
    ]);
    assert_eq!(
        g.when(assign("alice", "Devs")).expect("accepted").events,
        vec![]
    );
}

#[test]
fn unassigning_a_non_member_records_nothing_and_a_member_records_user_unassigned() {
    let g = given(vec![
        user_created(2, "alice", 1, "GLOBAL"),
        group_created(3, "Devs"),
    ]);
    assert_eq!(
        g.when(unassign("alice", "Devs")).expect("accepted").events,
        vec![]
    );
    let g = given(vec![
        user_created(2, "alice", 1, "GLOBAL"),
        group_created(3, "Devs"),
        Event::UserAssigned(membership(2, "alice", 3, "Devs")),
    ]);
    assert_eq!(
        g.when(unassign("alice", "Devs")).expect("accepted").events,
        vec![Event::UserUnassigned(membership(2, "alice", 3, "Devs"))]
    );
}

#[test]
fn everyone_can_be_neither_assigned_nor_unassigned() {
    let g = given(vec![user_created(2, "alice", 1, "GLOBAL")]);
    assert_eq!(
        g.when(assign("alice", "Everyone")),
        Err(Rejection::EveryoneIsImplicit)
    );
    assert_eq!(
        g.when(unassign("alice", "1")),
        Err(Rejection::EveryoneIsImplicit)
    );
}

#[test]
fn the_last_administrator_cannot_be_removed_but_one_of_two_can() {
    let g = given(vec![]);
    assert_eq!(
        g.when(unassign("admin", "Administrators")),
        Err(Rejection::LastAdministrator)
    );
    let g = given(vec![
        user_created(2, "root2", 1, "GLOBAL"),
        Event::UserAssigned(membership(2, "root2", 2, "Administrators")),
    ]);
    assert!(g.when(unassign("admin", "Administrators")).is_ok());
}

#[test]
fn a_deleted_user_no_longer_resolves_and_its_id_is_not_reused() {
    let g = given(vec![
        user_created(2, "alice", 1, "GLOBAL"),
        Event::UserDeleted(UserDeleted {
            user_id: UserId(2),
            name: name(Kind::User, "alice"),
            domain_id: DomainId(1),
            domain: "GLOBAL".into(),
        }),
    ]);
    assert_eq!(
        g.when(assign("alice", "Administrators")),
        Err(Rejection::Resolve(ResolveError::NotFound(
            Kind::User,
            "alice".into()
        )))
    );
    let d = g
        .when(Command::CreateUser {
            name: name(Kind::User, "alice"),
            domain: None,
            realname: None,
            email: None,
            password_hash: None,
        })
        .expect("the name is free again");
    assert!(matches!(&d.events[..], [Event::UserCreated(u)] if u.user_id == UserId(3)));
}

#[test]
fn a_name_is_unique_within_its_domain_only() {
    let g = given(vec![
        Event::DomainCreated(rollcall::events::DomainCreated {
            domain_id: DomainId(2),
            name: name(Kind::Domain, "Eng"),
            parent_id: Some(DomainId(1)),
            qualified_name: "GLOBAL.Eng".into(),
        }),
        user_created(2, "bob", 1, "GLOBAL"),
    ]);
    let create = |domain: Option<&str>| Command::CreateUser {
        name: name(Kind::User, "bob"),
        domain: domain.map(Ident::parse_domain),
        realname: None,
        email: None,
        password_hash: None,
    };
    assert!(matches!(
        g.when(create(None)),
        Err(Rejection::Duplicate { .. })
    ));
    assert!(g.when(create(Some("GLOBAL.Eng"))).is_ok());
}

#[test]
fn a_new_users_password_goes_to_the_credentials_never_into_the_event() {
    let g = given(vec![]);
    let d = g
        .when(Command::CreateUser {
            name: name(Kind::User, "alice"),
            domain: None,
            realname: None,
            email: None,
            password_hash: Some("$argon2id$secret".into()),
        })
        .expect("accepted");
    assert_eq!(d.credentials, Some((UserId(2), "$argon2id$secret".into())));
    assert!(d.events.iter().all(|e| !e.encode().contains("argon2")));
}

#[test]
fn folding_a_group_deletion_ends_its_memberships() {
    let mut g = given(vec![
        user_created(2, "alice", 1, "GLOBAL"),
        group_created(3, "Devs"),
        Event::UserAssigned(membership(2, "alice", 3, "Devs")),
    ]);
    assert!(g.state.is_member(UserId(2), GroupId(3)));
    let d = g
        .when(Command::DeleteGroup {
            group: Ident::parse(Kind::Group, "Devs"),
        })
        .expect("accepted");
    g.apply(d.events);
    assert!(!g.state.is_member(UserId(2), GroupId(3)));
    assert_eq!(g.state.groups_of_after(UserId(2), None).count(), 0);
}
