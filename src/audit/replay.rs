//! `rollcall replay`: fold the log itself (not the stored views) up to a
//! position, and say who was in which group then.

use anyhow::Context;
use rusqlite::Connection;
use serde::Serialize;
use std::collections::BTreeMap;

use super::as_of::{self, Point};
use super::progress::{Progress, STEP};
use super::scan;
use crate::domain::{Ident, Kind, EVERYONE};
use crate::fold::{fold, NoSink};
use crate::log::{self, ReadError};
use crate::state::State;

/// Folds events `1..=until` of the log into a fresh state with the same
/// `fold` the writer uses, keeping nothing but the state.
pub fn replay(conn: &Connection, until: i64, progress: &Progress) -> anyhow::Result<State> {
    scan::for_scanning(conn)?;
    let mut state = State::default();
    let read = scan::scan(
        conn,
        0,
        until,
        |rec| -> Result<(), ReadError> {
            if rec.seq as u64 % STEP == 0 {
                progress.set(rec.seq as u64);
            }
            Ok(())
        },
        |rec| {
            let Ok(()) = fold(&mut state, rec, &mut NoSink);
        },
    );
    read?;
    Ok(state)
}

/// The position `--until TIME` or `--until-seq N` names (the head when neither).
pub fn until_position(
    conn: &Connection,
    time: Option<&str>,
    seq: Option<i64>,
) -> anyhow::Result<i64> {
    let head = log::head(conn)?.map_or(0, |(s, _)| s);
    let point = match (time, seq) {
        (Some(t), _) => Point::parse(t)?,
        (None, Some(n)) => Point::Position(n),
        (None, None) => Point::Position(head),
    };
    Ok(as_of::locate(conn, &point)?.position)
}

/// Everyone's membership at one position: every live user, and every live
/// group (Everyone aside: every user is in it) with its explicit members.
/// Qualified names, sorted, so two answers compare as text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Membership {
    pub position: i64,
    pub hash: String,
    pub users: Vec<String>,
    pub groups: BTreeMap<String, Vec<String>>,
}

pub fn membership(state: &State) -> Membership {
    let users: Vec<String> = {
        let mut v: Vec<String> = state
            .users_after(None)
            .map(|u| state.user_qualified(u))
            .collect();
        v.sort();
        v
    };
    let groups = state
        .groups_after(None)
        .filter(|g| g.id != EVERYONE)
        .map(|g| (state.group_qualified(g), members_of(state, g.id)))
        .collect();
    Membership {
        position: state.head.seq,
        hash: state.head.hash.clone(),
        users,
        groups,
    }
}

fn members_of(state: &State, group: crate::domain::GroupId) -> Vec<String> {
    let mut v: Vec<String> = state
        .members_after(group, None)
        .filter_map(|u| state.user(u))
        .map(|u| state.user_qualified(u))
        .collect();
    v.sort();
    v
}

/// What `replay` prints: the whole membership, or one group's or one user's.
pub fn answer(
    state: &State,
    group: Option<&str>,
    user: Option<&str>,
) -> anyhow::Result<serde_json::Value> {
    let (position, hash) = (state.head.seq, state.head.hash.clone());
    Ok(match (group, user) {
        (Some(g), _) => {
            let id = state
                .resolve_group(None, &Ident::parse(Kind::Group, g))
                .with_context(|| format!("at position {position}"))?;
            let g = state.group(id).context("resolved group is missing")?;
            let members = if id == EVERYONE {
                let mut v: Vec<String> = state
                    .users_after(None)
                    .map(|u| state.user_qualified(u))
                    .collect();
                v.sort();
                v
            } else {
                members_of(state, id)
            };
            serde_json::json!({
                "position": position, "hash": hash,
                "group": state.group_qualified(g), "members": members,
            })
        }
        (None, Some(u)) => {
            let id = state
                .resolve_user(None, &Ident::parse(Kind::User, u))
                .with_context(|| format!("at position {position}"))?;
            let u = state.user(id).context("resolved user is missing")?;
            let mut groups: Vec<String> = std::iter::once(EVERYONE)
                .chain(state.groups_of_after(id, None))
                .filter_map(|g| state.group(g))
                .map(|g| state.group_qualified(g))
                .collect();
            groups.sort();
            serde_json::json!({
                "position": position, "hash": hash,
                "user": state.user_qualified(u), "groups": groups,
            })
        }
        (None, None) => serde_json::to_value(membership(state))?,
    })
}
