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

#[test]
fn a_membership_event_moves_its_groups_version_and_nothing_else_about_it() {
    use rollcall::events::Stream;
    use rollcall::fold::{changes, Change};
    let mut g = given(vec![
        user_created(2, "alice", 1, "GLOBAL"),
        group_created(3, "Devs"),
    ]);
    let before = g.state.group(GroupId(3)).expect("group").as_ref().clone();
    let d = g.when(assign("alice", "Devs")).expect("accepted");
    // The fold's changes for the event: the version, the membership, the head.
    let draft = Draft {
        event_id: "e".into(),
        stream_version: g.state.stream_version(Stream::Group(GroupId(3))) + 1,
        occurred_at: "2026-03-01T00:00:00.000Z".into(),
        actor: None,
        request_id: None,
        reason: None,
        event: d.events[0].clone(),
    };
    let rec = seal(&g.state.head, draft);
    let made = changes(&g.state, &rec);
    assert!(
        matches!(
            made.as_slice(),
            [
                Change::GroupVersion { group: GroupId(3), version },
                Change::AddMember { group: GroupId(3), user: UserId(2), .. },
                Change::Head(_),
            ] if *version == before.version + 1
        ),
        "{made:?}"
    );
    g.apply(d.events);
    let after = g.state.group(GroupId(3)).expect("group");
    assert_eq!(after.version, before.version + 1);
    assert_eq!(
        (&after.name, &after.summary, after.domain),
        (&before.name, &before.summary, before.domain)
    );
    assert_eq!(
        g.state.stream_version(Stream::Group(GroupId(3))),
        before.version + 1
    );
}

// ---- the access model -------------------------------------------------------------

mod access_model {
    use super::*;
    use rollcall::access::{allows, check};
    use rollcall::domain::{ObjectRef, Permission};
    use rollcall::events::{AccessGranted, DomainCreated};

    fn grant(group: i64, gname: &str, object: &str, flags: [Option<bool>; 4]) -> Event {
        Event::AccessGranted(AccessGranted {
            group_id: GroupId(group),
            group: format!("GLOBAL.{gname}"),
            object: ObjectRef::parse(object).expect("object"),
            view: flags[0],
            update: flags[1],
            read: flags[2],
            write: flags[3],
        })
    }

    const W: fn(Option<bool>) -> [Option<bool>; 4] = |w| [None, None, None, w];

    /// alice (user 2) is in Devs (group 3) and Ops (group 4); domain
    /// GLOBAL.Eng (2) holds environment Prod.
    fn world(extra: Vec<Event>) -> Given {
        let mut events = vec![
            Event::DomainCreated(DomainCreated {
                domain_id: DomainId(2),
                name: name(Kind::Domain, "Eng"),
                parent_id: Some(DomainId(1)),
                qualified_name: "GLOBAL.Eng".into(),
            }),
            user_created(2, "alice", 1, "GLOBAL"),
            group_created(3, "Devs"),
            group_created(4, "Ops"),
            Event::UserAssigned(membership(2, "alice", 3, "Devs")),
            Event::UserAssigned(membership(2, "alice", 4, "Ops")),
        ];
        events.extend(extra);
        given(events)
    }

    const PROD: &str = "environment:GLOBAL.Eng.Prod";

    #[test]
    fn inheritance_takes_the_objects_own_setting_else_the_nearest_domain() {
        let y = Some(true);
        let n = Some(false);
        // (grants, expected "may alice write to Prod")
        let table: Vec<(Vec<Event>, bool)> = vec![
            (vec![], false),
            (vec![grant(3, "Devs", PROD, W(y))], true),
            (vec![grant(3, "Devs", "domain:GLOBAL.Eng", W(y))], true),
            (vec![grant(3, "Devs", "domain:GLOBAL", W(y))], true),
            // The object's own deny beats the domain's allow for the same group.
            (
                vec![
                    grant(3, "Devs", "domain:GLOBAL.Eng", W(y)),
                    grant(3, "Devs", PROD, W(n)),
                ],
                false,
            ),
            // The nearest domain wins over the root.
            (
                vec![
                    grant(3, "Devs", "domain:GLOBAL", W(y)),
                    grant(3, "Devs", "domain:GLOBAL.Eng", W(n)),
                ],
                false,
            ),
            (
                vec![
                    grant(3, "Devs", "domain:GLOBAL", W(n)),
                    grant(3, "Devs", "domain:GLOBAL.Eng", W(y)),
                ],
                true,
            ),
            // A setting on the object that leaves write unset inherits write from the domain.
            (
                vec![
                    grant(3, "Devs", "domain:GLOBAL.Eng", W(y)),
                    grant(3, "Devs", PROD, [Some(true), None, None, None]),
                ],
                true,
            ),
            // Everyone counts for every user.
            (vec![grant(1, "Everyone", PROD, W(y))], true),
            // A sibling object's grant does not apply.
            (
                vec![grant(3, "Devs", "environment:GLOBAL.Eng.Test", W(y))],
                false,
            ),
        ];
        for (i, (grants, expected)) in table.into_iter().enumerate() {
            let g = world(grants);
            let prod = ObjectRef::parse(PROD).expect("object");
            assert_eq!(
                allows(&g.state, UserId(2), &prod, Permission::Write),
                expected,
                "row {i}"
            );
            assert_eq!(
                check(&g.state, UserId(2), &prod, Permission::Write).allowed,
                expected,
                "row {i}"
            );
        }
    }

    #[test]
    fn allow_wins_across_groups() {
        let y = Some(true);
        let n = Some(false);
        let table: Vec<(Vec<Event>, bool)> = vec![
            (
                vec![grant(3, "Devs", PROD, W(y)), grant(4, "Ops", PROD, W(n))],
                true,
            ),
            (
                vec![grant(3, "Devs", PROD, W(n)), grant(4, "Ops", PROD, W(n))],
                false,
            ),
            (
                vec![
                    grant(3, "Devs", PROD, W(n)),
                    grant(4, "Ops", "domain:GLOBAL", W(y)),
                ],
                true,
            ),
            (
                vec![
                    grant(1, "Everyone", PROD, W(n)),
                    grant(4, "Ops", PROD, W(y)),
                ],
                true,
            ),
        ];
        for (i, (grants, expected)) in table.into_iter().enumerate() {
            let g = world(grants);
            let prod = ObjectRef::parse(PROD).expect("object");
            assert_eq!(
                allows(&g.state, UserId(2), &prod, Permission::Write),
                expected,
                "row {i}"
            );
        }
    }

    #[test]
    fn the_verdict_names_each_group_that_allowed_and_where() {
        let g = world(vec![
            grant(3, "Devs", "domain:GLOBAL.Eng", W(Some(true))),
            grant(4, "Ops", PROD, W(Some(true))),
        ]);
        let v = check(
            &g.state,
            UserId(2),
            &ObjectRef::parse(PROD).expect("object"),
            Permission::Write,
        );
        let via: Vec<(String, String)> = v.via.into_iter().map(|v| (v.group, v.on)).collect();
        assert_eq!(
            via,
            vec![
                ("GLOBAL.Devs".to_owned(), "domain:GLOBAL.Eng".to_owned()),
                ("GLOBAL.Ops".to_owned(), PROD.to_owned()),
            ]
        );
    }

    #[test]
    fn administrators_may_do_everything_and_a_fresh_database_grants_nothing() {
        let g = world(vec![]);
        let prod = ObjectRef::parse(PROD).expect("object");
        for p in Permission::ALL {
            assert!(allows(&g.state, UserId(1), &prod, p), "admin {p}");
            assert!(!allows(&g.state, UserId(2), &prod, p), "alice {p}");
        }
    }

    #[test]
    fn writes_need_update_on_the_target() {
        let g = world(vec![]);
        let as_alice = |command: Command| {
            decide(
                &g.state,
                &Request {
                    caller: Some(UserId(2)),
                    request_id: None,
                    reason: None,
                    command,
                },
            )
        };
        assert_eq!(
            as_alice(assign("alice", "Devs")).err(),
            Some(Rejection::PermissionDenied)
        );
        let g = world(vec![grant(
            3,
            "Devs",
            "group:GLOBAL.Devs",
            [None, Some(true), None, None],
        )]);
        let d = decide(
            &g.state,
            &Request {
                caller: Some(UserId(2)),
                request_id: None,
                reason: None,
                command: unassign("alice", "Devs"),
            },
        );
        assert!(d.is_ok(), "update on the group lets alice manage it: {d:?}");
        let d = decide(
            &g.state,
            &Request {
                caller: Some(UserId(2)),
                request_id: None,
                reason: None,
                command: unassign("alice", "Ops"),
            },
        );
        assert_eq!(
            d.err(),
            Some(Rejection::PermissionDenied),
            "but not another group"
        );
    }
}
