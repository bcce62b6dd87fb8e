//! Runs every folder under `replay-fixtures/` (see its README): a recorded
//! log must import, verify, export back byte for byte, and replay to the
//! membership `expected.json` gives, at the end and at each named position,
//! where the history views' as-of answers must agree with the replay; a
//! tampered log must be refused by import (writing nothing) and by verify,
//! both at the position `expected.json` gives. A new folder needs no code.

use rollcall::audit::as_of::{self, Point};
use rollcall::audit::export::{self, ImportError, Line};
use rollcall::audit::generate;
use rollcall::audit::progress::Progress;
use rollcall::audit::replay::{self, Membership};
use rollcall::audit::verify::{self, Report, TrustedHead};
use rollcall::domain::{Ident, Kind};
use rollcall::log;
use rollcall::queries::PageRequest;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn fixtures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("replay-fixtures");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("replay-fixtures/ exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// The fixture's log as NDJSON bytes: recorded, or generated from its parameters.
fn log_bytes(dir: &Path) -> Vec<u8> {
    let recorded = dir.join("log.ndjson");
    if recorded.exists() {
        return std::fs::read(recorded).expect("read log");
    }
    let params: Value = serde_json::from_slice(
        &std::fs::read(dir.join("generate.json")).expect("log.ndjson or generate.json"),
    )
    .expect("generate.json");
    let (events, seed) = (
        params["events"].as_u64().expect("events"),
        params["seed"].as_u64().expect("seed"),
    );
    let mut out = Vec::new();
    generate::generate(events, seed, |rec| {
        serde_json::to_writer(&mut out, rec)?;
        out.push(b'\n');
        Ok(())
    })
    .expect("generate");
    out
}

#[test]
fn every_fixture_replays_as_expected() {
    let dirs = fixtures();
    assert!(dirs.len() >= 12, "only {} fixtures", dirs.len());
    let mut failures = Vec::new();
    for dir in &dirs {
        let name = dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let expected: Value = serde_json::from_slice(
            &std::fs::read(dir.join("expected.json")).expect("expected.json"),
        )
        .unwrap_or_else(|e| panic!("{name}/expected.json: {e}"));
        let result = std::panic::catch_unwind(|| {
            if expected.get("tampered").is_some() {
                check_tampered(dir, &expected)
            } else {
                check_recorded(dir, &expected)
            }
        });
        if result.is_err() {
            failures.push(name);
        }
    }
    assert!(failures.is_empty(), "fixtures failed: {failures:?}");
}

fn check_recorded(dir: &Path, expected: &Value) {
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("log.ndjson");
    let bytes = log_bytes(dir);
    std::fs::write(&file, &bytes).expect("write");
    let db = tmp.path().join("f.db");
    let head = export::import(&db, &file, None, |_| Progress::hidden()).expect("imports");
    let want_end: Membership =
        serde_json::from_value(expected["final"].clone()).expect("final membership");
    assert_eq!((head.seq, &head.hash), (want_end.position, &want_end.hash));

    let conn = log::open_reader(&db).expect("open");
    let report = verify::verify(&conn, None, &Progress::hidden()).expect("verify runs");
    assert_eq!(
        report,
        Report::Ok {
            count: head.seq,
            head: head.clone(),
            views: head.seq,
        }
    );
    let mut exported = Vec::new();
    export::export(&conn, 0, &mut exported, &Progress::hidden()).expect("export");
    assert!(
        exported == bytes,
        "export gives back the file byte for byte"
    );

    let state = replay::replay(&conn, i64::MAX, &Progress::hidden()).expect("replay");
    assert_eq!(replay::membership(&state), want_end);
    check_as_of(&conn, &want_end);
    let named = expected["named"].as_object().cloned().unwrap_or_default();
    for (label, want) in named {
        let want: Membership = serde_json::from_value(want).expect("membership");
        let state = replay::replay(&conn, want.position, &Progress::hidden()).expect("replay");
        assert_eq!(replay::membership(&state), want, "at {label}");
        check_as_of(&conn, &want);
    }
    check_access(&conn, expected);
}

/// Declared access checks: the replayed state and the as-of facts from the
/// history views both give the declared verdict at the declared position.
fn check_access(conn: &rusqlite::Connection, expected: &Value) {
    use rollcall::audit::access_at::PastFacts;
    use rollcall::domain::{Ident, Kind, ObjectRef, Permission};
    for c in expected["checks"].as_array().cloned().unwrap_or_default() {
        let at = c["position"].as_i64().expect("position");
        let state = replay::replay(conn, at, &Progress::hidden()).expect("replay");
        let user = state
            .resolve_user(
                None,
                &Ident::parse(Kind::User, c["user"].as_str().expect("user")),
            )
            .expect("user");
        let object = ObjectRef::parse(c["object"].as_str().expect("object")).expect("object");
        let perm =
            Permission::parse(c["permission"].as_str().expect("permission")).expect("permission");
        let want = c["allowed"].as_bool().expect("allowed");
        assert_eq!(
            rollcall::access::check(&state, user, &object, perm).allowed,
            want,
            "replayed: {c}"
        );
        let past = PastFacts::load(conn, user, &object, at).expect("facts");
        assert_eq!(past.check(&object, perm).allowed, want, "as of: {c}");
    }
}

/// The history views, asked at `want.position`, give the replayed membership.
fn check_as_of(conn: &rusqlite::Connection, want: &Membership) {
    let state = rollcall::views::load(conn).expect("views");
    let at = as_of::locate(conn, &Point::Position(want.position)).expect("locate");
    assert_eq!(at.position, want.position);
    let all = PageRequest::parse(None, Some(1000)).expect("page");
    let mut users_groups: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (group, members) in &want.groups {
        let g = as_of::resolve(
            conn,
            &state,
            None,
            Kind::Group,
            &Ident::parse(Kind::Group, group),
            Some(at.position),
        )
        .unwrap_or_else(|e| panic!("{group} at {}: {e}", at.position));
        let (got, next) = as_of::members_at(conn, &state, g.id, at.position, all).expect("members");
        assert!(next.is_none());
        let got: Vec<String> = got.into_iter().map(|m| m.object.qualified_name).collect();
        let mut sorted = got.clone();
        sorted.sort();
        assert_eq!(&sorted, members, "{group} at {}", at.position);
        for m in members {
            users_groups
                .entry(m.clone())
                .or_default()
                .insert(group.clone());
        }
    }
    for user in &want.users {
        // E-mail style names are never split into domain and name, so users
        // are asked about by id (an id names one user for ever; `resolve`
        // still checks the user was alive then).
        let ids: Vec<i64> = conn
            .prepare("SELECT id FROM view_directory WHERE kind = 'user' AND qualified_name = ?1")
            .expect("prepare")
            .query_map([user], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("ids");
        let alive: Vec<_> = ids
            .into_iter()
            .filter_map(|id| {
                as_of::resolve(
                    conn,
                    &state,
                    None,
                    Kind::User,
                    &Ident::Id(id),
                    Some(at.position),
                )
                .ok()
            })
            .collect();
        assert_eq!(alive.len(), 1, "{user} at {}", at.position);
        let u = &alive[0];
        assert_eq!(&u.qualified_name, user);
        let (got, _) = as_of::groups_at(conn, u.id, at.position, all).expect("groups");
        let got: BTreeSet<String> = got
            .into_iter()
            .map(|m| m.object.qualified_name)
            .filter(|g| g != "GLOBAL.Everyone")
            .collect();
        assert_eq!(
            got,
            users_groups.remove(user).unwrap_or_default(),
            "{user} at {}",
            at.position
        );
    }
    assert!(
        users_groups.is_empty(),
        "members who are not users: {users_groups:?}"
    );
}

fn check_tampered(dir: &Path, expected: &Value) {
    let position = expected["tampered"]["position"].as_i64().expect("position");
    let problem = expected["tampered"]["problem"].as_str().expect("problem");
    let trusted: Option<TrustedHead> = expected
        .get("trusted_head")
        .and_then(Value::as_str)
        .map(|t| t.parse().expect("trusted head"));
    let file = dir.join("log.ndjson");

    // import refuses it at that position and leaves nothing behind.
    let tmp = tempfile::tempdir().expect("tmp");
    let db = tmp.path().join("f.db");
    let err = export::import(&db, &file, trusted.as_ref(), |_| Progress::hidden())
        .expect_err("a tampered log is refused");
    let err = err.downcast::<ImportError>().expect("an import error");
    assert_eq!(err.position, Some(position), "{err}");
    assert!(err.problem.contains(problem), "{err}");
    assert_eq!(
        std::fs::read_dir(tmp.path()).expect("dir").count(),
        0,
        "nothing written"
    );

    // verify finds the same position in a database a forger wrote the same
    // lines into, row by row (row n holds line n).
    let conn = log::open_writer(&db).expect("db");
    let text = std::fs::read_to_string(&file).expect("read");
    for (i, line) in text.lines().enumerate() {
        let l: Line = serde_json::from_str(line).expect("line");
        conn.execute(
            "INSERT INTO events (seq, event_id, stream, stream_version, event_type, event_version,
                                 occurred_at, actor, request_id, reason, data, prev_hash, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            rusqlite::params![
                i as i64 + 1,
                l.event_id,
                l.stream,
                l.stream_version,
                l.event_type,
                l.event_version,
                l.occurred_at,
                l.actor,
                l.request_id,
                l.reason,
                l.data,
                l.prev_hash,
                l.hash
            ],
        )
        .expect("insert");
    }
    drop(conn);
    let conn = log::open_reader(&db).expect("open");
    let report = verify::verify(&conn, trusted.as_ref(), &Progress::hidden()).expect("verify runs");
    match report {
        Report::Bad {
            position: Some(p),
            problem: what,
        } => {
            // The words may differ (a row moved shows as a broken link
            // rather than a gap), the position may not.
            assert_eq!(p, position, "{what}");
        }
        other => panic!("verify said {other}"),
    }
}
