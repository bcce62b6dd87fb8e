//! A deterministic log generator: the same seed and size give the same log,
//! byte for byte, hashes included. For the large replay fixture and for
//! measuring replay and verify. Events are made the way the writer makes
//! them — `decide`, then `chain::seal` after the head, then `fold` — with a
//! fixed clock and counter ids instead of the wall clock and UUIDv7.

use chrono::{DateTime, Duration, SecondsFormat, Utc};

use crate::commands::{Command, Request};
use crate::decide::decide;
use crate::domain::{Ident, Kind, Name, ADMIN};
use crate::events::Recorded;
use crate::fold::{fold, NoSink};
use crate::log::chain;
use crate::state::State;

/// splitmix64: tiny, and fixed forever (library RNGs may change between versions).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// The domains users and groups are spread over.
const DOMAINS: [&str; 4] = [
    "GLOBAL",
    "GLOBAL.Engineering",
    "GLOBAL.Engineering.Platform",
    "GLOBAL.Sales",
];

/// Generates at least `events` events (a decision is never split) after a
/// bootstrap, calling `emit` on each in order. Returns the final state.
pub fn generate(
    events: u64,
    seed: u64,
    mut emit: impl FnMut(&Recorded) -> anyhow::Result<()>,
) -> anyhow::Result<State> {
    let mut rng = Rng(seed);
    let mut state = State::default();
    let start: DateTime<Utc> = DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default(); // 2026-01-01
    let users = (events / 100).max(40);
    let groups = (events / 1000).max(8);
    let mut step = 0_u64;
    let mut run = |state: &mut State, command: Command, reason: Option<String>, step: u64| {
        let req = Request {
            caller: if state.head.seq == 0 {
                None
            } else {
                Some(ADMIN)
            },
            request_id: Some(format!("gen-{step}")),
            reason,
            command,
        };
        let Ok(decision) = decide(state, &req) else {
            return Ok(());
        };
        let now = (start + Duration::milliseconds(step as i64 * 1500))
            .to_rfc3339_opts(SecondsFormat::Millis, true);
        for event in decision.events {
            let seq = state.head.seq + 1;
            let rec = chain::seal(
                &state.head,
                chain::Draft {
                    event_id: uuid::Uuid::from_u64_pair(seed, seq as u64).to_string(),
                    stream_version: state.stream_version(event.stream()) + 1,
                    occurred_at: now.clone(),
                    actor: req.caller,
                    request_id: req.request_id.clone(),
                    reason: req.reason.clone(),
                    event,
                },
            );
            emit(&rec)?;
            let Ok(()) = fold(state, &rec, &mut NoSink);
        }
        anyhow::Ok(())
    };
    let name = |kind: Kind, s: String| Name::parse(kind, &s).map_err(anyhow::Error::from);
    run(
        &mut state,
        Command::Bootstrap {
            admin_password_hash: String::new(),
        },
        Some("bootstrap".into()),
        step,
    )?;
    for (i, d) in ["Engineering", "Platform", "Sales"].into_iter().enumerate() {
        step += 1;
        let parent = ["GLOBAL", "GLOBAL.Engineering", "GLOBAL"][i];
        let command = Command::CreateDomain {
            name: name(Kind::Domain, d.to_owned())?,
            parent: Some(Ident::parse_domain(parent)),
        };
        run(&mut state, command, None, step)?;
    }
    // Where each u<n> and g<n> lives while it exists, so commands name
    // them by qualified name (a name may live in several domains over time).
    let mut user_at: Vec<Option<usize>> = vec![None; users as usize];
    let mut group_at: Vec<Option<usize>> = vec![None; groups as usize];
    let qualified = |at: Option<usize>, name: String| match at {
        Some(d) => Ident::parse(Kind::User, &format!("{}.{name}", DOMAINS[d])),
        None => Ident::Plain(name),
    };
    while (state.head.seq as u64) < events {
        step += 1;
        let roll = rng.below(100);
        let (u, g) = (rng.below(users) as usize, rng.below(groups) as usize);
        // Early on, mostly create: a population to work with.
        let roll = if (step as usize) < (users as usize) / 2 {
            roll % 13
        } else {
            roll
        };
        let big = if group_at[0].is_some() { 0 } else { g };
        let (user, group) = (
            qualified(user_at[u], format!("u{u}")),
            qualified(group_at[g], format!("g{g}")),
        );
        let domain = rng.below(DOMAINS.len() as u64) as usize;
        let command = match roll {
            0..=9 if user_at[u].is_none() => Command::CreateUser {
                name: name(Kind::User, format!("u{u}"))?,
                domain: Some(Ident::parse_domain(DOMAINS[domain])),
                realname: None,
                email: None,
                password_hash: None,
            },
            10..=12 if group_at[g].is_none() => Command::CreateGroup {
                name: name(Kind::Group, format!("g{g}"))?,
                domain: Some(Ident::parse_domain(DOMAINS[domain])),
                summary: None,
                email: None,
            },
            13 if user_at[u].is_some() => Command::DeleteUser { user },
            14 if group_at[g].is_some() && rng.below(4) == 0 => Command::DeleteGroup { group },
            // Group g0 collects members and rarely loses them: a big group.
            0..=34 => Command::Assign {
                user,
                group: qualified(group_at[big], format!("g{big}")),
            },
            35..=74 => Command::Assign { user, group },
            _ => Command::Unassign { user, group },
        };
        let reason = (roll % 7 == 0).then(|| format!("generated change {step}"));
        let (created_user, created_group, deleted_user, deleted_group) = (
            matches!(command, Command::CreateUser { .. }),
            matches!(command, Command::CreateGroup { .. }),
            matches!(command, Command::DeleteUser { .. }),
            matches!(command, Command::DeleteGroup { .. }),
        );
        let before = state.head.seq;
        run(&mut state, command, reason, step)?;
        if state.head.seq != before {
            if created_user {
                user_at[u] = Some(domain);
            } else if created_group {
                group_at[g] = Some(domain);
            } else if deleted_user {
                user_at[u] = None;
            } else if deleted_group {
                group_at[g] = None;
            }
        }
    }
    Ok(state)
}
