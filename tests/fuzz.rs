//! Fuzzing, with a fixed case budget so `cargo test` (and so CI) runs it
//! briefly every time: path parsing and identifier resolution get arbitrary
//! input and must never panic, and must mean what they say.

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use proptest::prelude::*;
use rollcall::commands::{Command, Request};
use rollcall::decide::decide;
use rollcall::domain::{Ident, Kind, Name, UserId};
use rollcall::fold::{fold, NoSink};
use rollcall::http::compat;
use rollcall::http::guard::{check_path, split_path, PathError, MAX_SEGMENT_BYTES};
use rollcall::log::chain;
use rollcall::state::State;

/// Text that looks like paths and names: separators, escapes, dots, digits,
/// `@`, control characters, non-ASCII and look-alikes.
fn texty() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("/".to_owned()),
            Just(".".to_owned()),
            Just("..".to_owned()),
            Just("%".to_owned()),
            Just("%2F".to_owned()),
            Just("%2e".to_owned()),
            Just("%00".to_owned()),
            Just("%FF".to_owned()),
            Just("%C3%A9".to_owned()),
            Just("@".to_owned()),
            Just("+".to_owned()),
            Just("\u{430}".to_owned()),
            Just("GLOBAL".to_owned()),
            "[0-9]{1,3}",
            "[a-zA-Z]{1,5}",
            any::<char>().prop_map(String::from),
        ],
        0..12,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn splitting_any_path_never_panics_and_yields_only_clean_segments(path in texty()) {
        if let Ok(segments) = split_path(&path) {
            for s in segments {
                prop_assert!(!s.is_empty() && s != "." && s != "..");
                prop_assert!(s.len() <= MAX_SEGMENT_BYTES);
                prop_assert!(!s.chars().any(char::is_control));
            }
        }
        // The compat API splits what follows its prefix the same way.
        let compat = compat::segments(&format!("/dmadminweb/API/{path}")).map_err(|e| e.0);
        prop_assert_eq!(compat, split_path(&path).map_err(|e| e.to_string()));
        // The middleware's check, which keeps no segments, refuses exactly
        // what splitting refuses, for the same reason.
        prop_assert_eq!(check_path(&path), split_path(&path).map(drop));
    }

    #[test]
    fn encoded_segments_come_back_exactly(
        segments in prop::collection::vec(texty().prop_filter("a segment", |s| !s.is_empty()), 1..5)
    ) {
        let encoded: Vec<String> = segments
            .iter()
            .map(|s| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string())
            .collect();
        let back = split_path(&encoded.join("/"));
        let clean = segments
            .iter()
            .all(|s| s != "." && s != ".." && !s.chars().any(char::is_control));
        if clean {
            prop_assert_eq!(back, Ok(segments));
        } else {
            prop_assert!(matches!(back, Err(PathError::DotSegment | PathError::Control)));
        }
    }

    #[test]
    fn identifiers_parse_totally_and_print_back(raw in texty(), kind in 0..3u8) {
        let kind = [Kind::User, Kind::Group, Kind::Domain][kind as usize];
        let ident = if kind == Kind::Domain { Ident::parse_domain(&raw) } else { Ident::parse(kind, &raw) };
        match &ident {
            Ident::Id(id) => prop_assert!(*id > 0 && raw.parse::<i64>() == Ok(*id)),
            other => prop_assert_eq!(other.to_string(), raw.clone()),
        }
        let again = if kind == Kind::Domain {
            Ident::parse_domain(&ident.to_string())
        } else {
            Ident::parse(kind, &ident.to_string())
        };
        prop_assert_eq!(again, ident);
    }
}

// ---- resolution against random directories ----------------------------------------

const DOMAIN_NAMES: &[&str] = &["Eng", "Ops", "eng", "Ünï", "GLOBAL", "x y"];
const MEMBER_NAMES: &[&str] = &["alice", "bob", "Alice", "a.b@c.d", "0day", "x y", "Eng"];

#[derive(Clone, Debug)]
enum Build {
    Domain(usize, i64),
    User(usize, i64),
    Group(usize, i64),
    DeleteUser(i64),
}

fn build() -> impl Strategy<Value = Build> {
    prop_oneof![
        2 => (0..DOMAIN_NAMES.len(), 1..6i64).prop_map(|(n, p)| Build::Domain(n, p)),
        3 => (0..MEMBER_NAMES.len(), 1..6i64).prop_map(|(n, d)| Build::User(n, d)),
        2 => (0..MEMBER_NAMES.len(), 1..6i64).prop_map(|(n, d)| Build::Group(n, d)),
        1 => (1..10i64).prop_map(Build::DeleteUser),
    ]
}

fn name(kind: Kind, raw: &str) -> Option<Name> {
    Name::parse(kind, raw).ok()
}

/// A state made the way the writer makes it: decide, seal, fold.
fn directory(steps: &[Build]) -> State {
    let mut state = State::default();
    let run = |state: &mut State, caller: Option<UserId>, command: Command| {
        let req = Request {
            caller,
            request_id: None,
            reason: None,
            command,
        };
        let Ok(decision) = decide(state, &req) else {
            return;
        };
        for event in decision.events {
            let draft = chain::Draft {
                event_id: format!("e{}", state.head.seq + 1),
                stream_version: state.stream_version(event.stream()) + 1,
                occurred_at: "2026-01-01T00:00:00.000Z".into(),
                actor: caller,
                request_id: None,
                reason: None,
                event,
            };
            let rec = chain::seal(&state.head, draft);
            match fold(state, &rec, &mut NoSink) {
                Ok(()) => {}
                Err(never) => match never {},
            }
        }
    };
    run(
        &mut state,
        None,
        Command::Bootstrap {
            admin_password_hash: "h".into(),
        },
    );
    let admin = Some(rollcall::domain::ADMIN);
    for step in steps {
        let command = match step {
            Build::Domain(n, parent) => {
                name(Kind::Domain, DOMAIN_NAMES[*n]).map(|name| Command::CreateDomain {
                    name,
                    parent: Some(Ident::Id(*parent)),
                })
            }
            Build::User(n, d) => {
                name(Kind::User, MEMBER_NAMES[*n]).map(|name| Command::CreateUser {
                    name,
                    domain: Some(Ident::Id(*d)),
                    realname: None,
                    email: None,
                    password_hash: None,
                })
            }
            Build::Group(n, d) => {
                name(Kind::Group, MEMBER_NAMES[*n]).map(|name| Command::CreateGroup {
                    name,
                    domain: Some(Ident::Id(*d)),
                    summary: None,
                    email: None,
                })
            }
            Build::DeleteUser(id) => Some(Command::DeleteUser {
                user: Ident::Id(*id),
            }),
        };
        if let Some(c) = command {
            run(&mut state, admin, c);
        }
    }
    state
}

/// Identifiers worth trying against a directory: real names, qualified
/// paths, ids, and near misses.
fn probe() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(MEMBER_NAMES).prop_map(str::to_owned),
        (
            prop::sample::select(DOMAIN_NAMES),
            prop::sample::select(MEMBER_NAMES)
        )
            .prop_map(|(d, n)| format!("{d}.{n}")),
        (
            prop::sample::select(DOMAIN_NAMES),
            prop::sample::select(MEMBER_NAMES)
        )
            .prop_map(|(d, n)| format!("GLOBAL.{d}.{n}")),
        (0..12i64).prop_map(|i| i.to_string()),
        texty(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn resolution_never_panics_and_finds_only_what_was_named(
        steps in prop::collection::vec(build(), 0..30),
        probes in prop::collection::vec(probe(), 1..20),
        caller in prop::option::of(1..10i64),
    ) {
        let state = directory(&steps);
        let caller = caller.map(UserId);
        for raw in &probes {
            let ident = Ident::parse(Kind::User, raw);
            if let Ok(id) = state.resolve_user(caller, &ident) {
                let user = state.user(id).expect("a resolved user exists");
                let qualified = state.user_qualified(user);
                match &ident {
                    Ident::Id(n) => prop_assert_eq!(id.0, *n),
                    Ident::Plain(n) => prop_assert_eq!(user.name.as_str(), n.as_str()),
                    Ident::Qualified { .. } => prop_assert!(
                        qualified == *raw || qualified.ends_with(&format!(".{raw}")),
                        "{raw} resolved to {qualified}"
                    ),
                }
            }
            let ident = Ident::parse(Kind::Group, raw);
            if let Ok(id) = state.resolve_group(caller, &ident) {
                let group = state.group(id).expect("a resolved group exists");
                if let Ident::Plain(n) = &ident {
                    prop_assert_eq!(group.name.as_str(), n.as_str());
                }
            }
            let _ = state.resolve_domain(caller, &Ident::parse_domain(raw));
        }
        // Everything that exists can be named from the root, and by id.
        for user in state.users_after(None) {
            let q = Ident::parse(Kind::User, &state.user_qualified(user));
            if !user.name.as_str().contains('@') {
                prop_assert_eq!(state.resolve_user(None, &q), Ok(user.id));
            }
            prop_assert_eq!(state.resolve_user(None, &Ident::Id(user.id.0)), Ok(user.id));
        }
        for group in state.groups_after(None) {
            let q = Ident::parse(Kind::Group, &state.group_qualified(group));
            prop_assert_eq!(state.resolve_group(None, &q), Ok(group.id));
        }
    }
}
