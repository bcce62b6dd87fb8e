//! `rollcall verify`: recompute the whole chain, check that time never goes
//! backwards, optionally check a head an auditor saved earlier, and check
//! that every stored view equals a fresh fold of the log.

use chrono::{DateTime, SecondsFormat};
use rusqlite::Connection;
use std::fmt;
use std::hash::{BuildHasher, RandomState};

use super::progress::{Progress, STEP};
use super::scan;
use crate::domain::{DomainId, Flags, GroupId, Name, UserId};
use crate::events::Recorded;
use crate::fold::{fold, Change, Origin, Sink};
use crate::log::{chain::ChainError, ReadError};
use crate::state::{Domain, Group, Head, State, User};
use crate::FastMap as HashMap;

/// A head an auditor recorded earlier: `HASH@N`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedHead {
    pub hash: String,
    pub seq: i64,
}

impl std::str::FromStr for TrustedHead {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (hash, seq) = s
            .rsplit_once('@')
            .ok_or_else(|| format!("{s:?} is not HASH@N"))?;
        let seq: i64 = seq
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("{seq:?} is not a position (a positive integer)"))?;
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("{hash:?} is not a SHA-256 hash (64 hex digits)"));
        }
        Ok(TrustedHead {
            hash: hash.to_ascii_lowercase(),
            seq,
        })
    }
}

impl fmt::Display for TrustedHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.hash, self.seq)
    }
}

impl TrustedHead {
    /// Checks `rec` against the trusted head if it is the event at that position.
    pub fn check(&self, rec: &Recorded) -> Result<(), String> {
        if rec.seq == self.seq && rec.hash != self.hash {
            return Err(format!(
                "hash {} differs from the trusted head {self}: the log was changed at or before this position",
                rec.hash
            ));
        }
        Ok(())
    }
}

/// Where a broken chain breaks: for a gap (a line removed, two swapped) the
/// position that should have come next, else the event's own position.
pub fn bad_position(e: &ChainError) -> i64 {
    match e {
        ChainError::Gap { expected, .. } => *expected,
        other => other.seq(),
    }
}

/// Checks that `rec`'s time is in the log's form and not before `last`
/// (as-of queries binary-search on it).
pub fn check_time(rec: &Recorded, last: &str) -> Result<(), String> {
    // The writer stamps a whole batch with one time, so most events carry
    // the time of the one before, which passed these checks already.
    if !last.is_empty() && rec.occurred_at == last {
        return Ok(());
    }
    let canonical = DateTime::parse_from_rfc3339(&rec.occurred_at)
        .ok()
        .filter(|t| t.offset().local_minus_utc() == 0)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true));
    if canonical.as_deref() != Some(rec.occurred_at.as_str()) {
        return Err(format!(
            "occurred_at {:?} is not a UTC time with milliseconds",
            rec.occurred_at
        ));
    }
    if rec.occurred_at.as_str() < last {
        return Err(format!(
            "occurred_at {} is before the previous event's {last}",
            rec.occurred_at
        ));
    }
    Ok(())
}

/// What `verify` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Report {
    /// Everything checks: the event count, the head, and the position the
    /// views were checked at (the head, or a little before it on a database
    /// being served: the views are written behind the log).
    Ok { count: i64, head: Head, views: i64 },
    /// The first problem: a position (when it is in the log) and what is wrong.
    Bad {
        position: Option<i64>,
        problem: String,
    },
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Report::Ok { count, head, views } => {
                if *views < head.seq {
                    writeln!(
                        f,
                        "views checked at position {views}, {} events behind the log (written behind it; a start or `rebuild` folds the rest)",
                        head.seq - views
                    )?;
                }
                write!(f, "{count} events\n{}@{}\nOK", head.hash, head.seq)
            }
            Report::Bad {
                position: Some(p),
                problem,
            } => write!(f, "BAD at position {p}: {problem}"),
            Report::Bad {
                position: None,
                problem,
            } => write!(f, "BAD: {problem}"),
        }
    }
}

fn bad(position: Option<i64>, problem: impl Into<String>) -> Report {
    Report::Bad {
        position,
        problem: problem.into(),
    }
}

/// Why the walk over the log stopped early.
enum Stop {
    Found(Report),
    Failed(anyhow::Error),
}

impl From<ReadError> for Stop {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Decode { seq, source } => Stop::Found(bad(
                Some(seq),
                format!("the payload cannot be read: {source}"),
            )),
            ReadError::Sql(e) => Stop::Failed(e.into()),
        }
    }
}

/// Each stream's versions count 1, 2, 3... in log order. The writer numbers
/// them from its state; the log table does not enforce it (no index on
/// streams, see `schema/migrations/0004_lean_log.sql`), so `verify` and
/// `import` check it.
#[derive(Default)]
pub struct StreamVersions(HashMap<String, i64>);

impl StreamVersions {
    pub fn check(&mut self, rec: &Recorded) -> Result<(), String> {
        let last = match self.0.get_mut(rec.stream.as_str()) {
            Some(v) => v,
            None => self.0.entry(rec.stream.clone()).or_insert(0),
        };
        if rec.stream_version != *last + 1 {
            return Err(format!(
                "stream {} has version {} after version {}: its versions must count up by one",
                rec.stream, rec.stream_version, last
            ));
        }
        *last = rec.stream_version;
        Ok(())
    }
}

/// Verifies the database behind `conn` (read-only). Errors are failures to
/// read; everything wrong with the contents is a `Report::Bad`.
pub fn verify(
    conn: &Connection,
    trusted: Option<&TrustedHead>,
    progress: &Progress,
) -> anyhow::Result<Report> {
    // One read transaction: the log and the views are read at one commit.
    let tx = conn.unchecked_transaction()?;
    scan::for_scanning(&tx)?;
    let mut head = Head::default();
    let mut last_time = String::new();
    let mut versions = StreamVersions::default();
    let mut state = State::default();
    let mut expected = Expected::default();
    // The views are compared at their own checkpoint, read in this same
    // transaction: on a database being served they may be a few events
    // behind the log (never ahead, which the walk reports as removed events).
    let views_at: i64 = tx.query_row("SELECT seq FROM view_checkpoint WHERE id = 1", [], |r| {
        r.get(0)
    })?;
    expected.reserve(views_at);
    let walked = scan::scan(
        &tx,
        0,
        i64::MAX,
        |rec| -> Result<(), Stop> {
            if let Err(e) = crate::log::chain::check_link(&head, rec) {
                return Err(Stop::Found(bad(Some(bad_position(&e)), e.to_string())));
            }
            check_time(rec, &last_time).map_err(|p| Stop::Found(bad(Some(rec.seq), p)))?;
            versions
                .check(rec)
                .map_err(|p| Stop::Found(bad(Some(rec.seq), p)))?;
            if let Some(t) = trusted {
                t.check(rec)
                    .map_err(|p| Stop::Found(bad(Some(rec.seq), p)))?;
            }
            head.seq = rec.seq;
            head.hash.clone_from(&rec.hash);
            last_time.clone_from(&rec.occurred_at);
            if rec.seq as u64 % STEP == 0 {
                progress.set(rec.seq as u64);
            }
            Ok(())
        },
        |rec| {
            if rec.seq <= views_at {
                let Ok(()) = fold(&mut state, rec, &mut expected);
            }
        },
    );
    match walked {
        Ok(()) => {}
        Err(Stop::Found(report)) => return Ok(report),
        Err(Stop::Failed(e)) => return Err(e),
    }
    if let Some(t) = trusted {
        if t.seq > head.seq {
            return Ok(bad(
                Some(t.seq),
                format!(
                    "the log ends at position {}, before the trusted head {t}: events were removed",
                    head.seq
                ),
            ));
        }
    }
    if let Some(problem) = compare_views(&tx, &state, expected)? {
        return Ok(bad(None, problem));
    }
    Ok(Report::Ok {
        count: head.seq,
        views: state.head.seq,
        head,
    })
}

/// Compares every view with what the fold produced; the first difference,
/// if any. Each table is read once in key order, beside the folded state
/// (or the collected rows) walked in the same order: nothing is loaded.
fn compare_views(
    conn: &Connection,
    state: &State,
    expected: Expected,
) -> anyhow::Result<Option<String>> {
    let (seq, hash, domain, user, group): (i64, String, i64, i64, i64) = conn.query_row(
        "SELECT seq, hash, last_domain, last_user, last_group FROM view_checkpoint WHERE id = 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
    )?;
    if (seq, hash.as_str()) != (state.head.seq, state.head.hash.as_str()) {
        return Ok(Some(format!(
            "the views are at position {seq} but the log's head is {}",
            state.head.seq
        )));
    }
    let differs = |table: &str| {
        Ok(Some(format!(
            "stored views differ from a fresh fold: {table}"
        )))
    };
    let ids = &state.last_ids;
    if (domain, user, group) != (ids.domain, ids.user, ids.group) {
        return differs("the id high-water marks in view_checkpoint");
    }

    let mut stmt =
        conn.prepare("SELECT id, name, parent_id, version FROM view_domains ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        Ok(Domain {
            id: DomainId(r.get(0)?),
            name: Name::trusted(r.get_ref(1)?.as_str()?),
            parent: r.get::<_, Option<i64>>(2)?.map(DomainId),
            version: r.get(3)?,
        })
    })?;
    if first_difference(state.domains_after(None).map(|d| (**d).clone()), rows)?.is_some() {
        return differs("view_domains");
    }
    let mut stmt = conn.prepare(
        "SELECT id, name, domain_id, realname, email, version FROM view_users ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(User {
            id: UserId(r.get(0)?),
            name: Name::trusted(r.get_ref(1)?.as_str()?),
            domain: DomainId(r.get(2)?),
            realname: r.get(3)?,
            email: r.get(4)?,
            version: r.get(5)?,
        })
    })?;
    if first_difference(state.users_after(None).map(|u| (**u).clone()), rows)?.is_some() {
        return differs("view_users");
    }
    let mut stmt = conn.prepare(
        "SELECT id, name, domain_id, summary, email, version FROM view_groups ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(Group {
            id: GroupId(r.get(0)?),
            name: Name::trusted(r.get_ref(1)?.as_str()?),
            domain: DomainId(r.get(2)?),
            summary: r.get(3)?,
            email: r.get(4)?,
            version: r.get(5)?,
        })
    })?;
    if first_difference(state.groups_after(None).map(|g| (**g).clone()), rows)?.is_some() {
        return differs("view_groups");
    }

    // Current memberships are not compared here: `view_memberships` is a
    // SQL view of the open history intervals, which are compared row by row
    // below, open ones included.

    let mut grants: Vec<(&str, i64, Flags)> = Vec::new();
    for g in state.groups_after(None) {
        for object in state.grants_of(g.id) {
            if let Some(flags) = state.grants_on(object).and_then(|row| row.get(&g.id)) {
                grants.push((object, g.id.0, *flags));
            }
        }
    }
    grants.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    let mut stmt = conn.prepare(
        "SELECT object, group_id, \"view\", \"update\", \"read\", \"write\"
           FROM view_grants ORDER BY object, group_id",
    )?;
    let mut rows = stmt.query([])?;
    let mut want = grants.into_iter();
    loop {
        match (want.next(), rows.next()?) {
            (None, None) => break,
            (Some((object, group, flags)), Some(r)) => {
                let same = r.get_ref(0)?.as_str()? == object
                    && r.get::<_, i64>(1)? == group
                    && (r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)
                        == (flags.view, flags.update, flags.read, flags.write);
                if !same {
                    return differs("view_grants");
                }
            }
            _ => return differs("view_grants"),
        }
    }
    expected.compare(conn)
}

// ---- the history views, as a fresh fold would write them -----------------------------------

/// A sink that collects what `SqlSink` would have written to the history
/// views, to compare with what they hold.
#[derive(Default)]
struct Expected {
    seq: i64,
    /// A digest of the current event's time, actor, reason and request id:
    /// the stamps an interval copies, compared without keeping the strings.
    stamp: u64,
    /// Keyed afresh on every run, so no one can prepare a colliding stamp.
    hasher: RandomState,
    /// (group, user, from_seq, to_seq, opening stamp, closing stamp)
    intervals: Vec<IntervalRow>,
    open: HashMap<(i64, i64), usize>,
    /// (kind, id) -> (name, domain, created_seq, deleted_seq)
    directory: HashMap<(&'static str, i64), DirRow>,
    /// (kind, id, seq)
    history: Vec<(&'static str, i64, i64)>,
    /// (object, group, from_seq, to_seq, view, update, read, write)
    grant_intervals: Vec<GrantRow>,
    open_grants: HashMap<(String, i64), usize>,
}

type GrantRow = (
    String,
    i64,
    i64,
    Option<i64>,
    Option<bool>,
    Option<bool>,
    Option<bool>,
    Option<bool>,
);

type IntervalRow = (i64, i64, i64, Option<i64>, u64, Option<u64>);

/// The digest of the stamp columns an interval copies from an event.
fn stamp(
    hasher: &RandomState,
    at: &str,
    actor: Option<i64>,
    reason: Option<&str>,
    request_id: Option<&str>,
) -> u64 {
    hasher.hash_one((at, actor, reason, request_id))
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct DirRow {
    name: String,
    domain: Option<i64>,
    created: i64,
    deleted: Option<i64>,
}

impl Expected {
    fn created(&mut self, kind: &'static str, id: i64, name: &str, domain: Option<i64>) {
        let seq = self.seq;
        self.directory.entry((kind, id)).or_insert_with(|| DirRow {
            name: name.to_owned(),
            domain,
            created: seq,
            deleted: None,
        });
        self.touch(kind, id);
    }

    fn close_grant(&mut self, object: &str, group: i64) {
        if let Some(i) = self.open_grants.remove(&(object.to_owned(), group)) {
            self.grant_intervals[i].3 = Some(self.seq);
        }
    }

    fn deleted(&mut self, kind: &'static str, id: i64) {
        if let Some(row) = self.directory.get_mut(&(kind, id)) {
            row.deleted = Some(self.seq);
        }
        self.touch(kind, id);
    }

    /// Records that this event touches the object: once in a row, though a
    /// group deleted reaches itself more than once (each grant, then itself).
    fn touch(&mut self, kind: &'static str, id: i64) {
        let row = (kind, id, self.seq);
        if self.history.last() != Some(&row) {
            self.history.push(row);
        }
    }

    /// Room for what a log of `events` events collects, made once: grown by
    /// doubling instead, this vector was copied and its fresh pages
    /// zeroed again at every step (a sixth of a full data set's verify).
    fn reserve(&mut self, events: i64) {
        let n = scan::capacity_for(events);
        self.intervals.reserve(n);
    }
}

impl Sink for Expected {
    type Error = std::convert::Infallible;

    fn begin(&mut self, origin: &Origin<'_>) -> Result<(), Self::Error> {
        self.seq = origin.seq;
        self.stamp = stamp(
            &self.hasher,
            origin.occurred_at,
            origin.actor.map(|a| a.0),
            origin.reason,
            origin.request_id,
        );
        Ok(())
    }

    fn apply(&mut self, change: &Change) -> Result<(), Self::Error> {
        match change {
            Change::PutDomain(d) => {
                self.created("domain", d.id.0, d.name.as_str(), d.parent.map(|p| p.0))
            }
            Change::PutUser(u) => self.created("user", u.id.0, u.name.as_str(), Some(u.domain.0)),
            Change::PutGroup(g) => self.created("group", g.id.0, g.name.as_str(), Some(g.domain.0)),
            Change::GroupVersion { .. } => {}
            Change::DropUser(id) => self.deleted("user", id.0),
            Change::DropGroup(id) => self.deleted("group", id.0),
            Change::AddMember { group, user, at } => {
                self.open.insert((group.0, user.0), self.intervals.len());
                self.intervals
                    .push((group.0, user.0, at.seq, None, self.stamp, None));
            }
            Change::RemoveMember { group, user, at } => {
                if let Some(i) = self.open.remove(&(group.0, user.0)) {
                    self.intervals[i].3 = Some(at.seq);
                    self.intervals[i].5 = Some(self.stamp);
                }
            }
            // A grant's setting holds from this event until the next one
            // that replaces or revokes it (`view_grant_intervals`).
            Change::PutGrant {
                object,
                group,
                flags,
            } => {
                self.close_grant(object, group.0);
                let key = (object.to_string(), group.0);
                self.open_grants.insert(key, self.grant_intervals.len());
                self.grant_intervals.push((
                    object.to_string(),
                    group.0,
                    self.seq,
                    None,
                    flags.view,
                    flags.update,
                    flags.read,
                    flags.write,
                ));
                self.touch("group", group.0);
            }
            Change::DropGrant { object, group } => {
                self.close_grant(object, group.0);
                self.touch("group", group.0);
            }
            Change::Head(_) => {}
        }
        Ok(())
    }
}

impl Expected {
    /// Streams each history view in key order against the sorted expectation.
    fn compare(mut self, conn: &Connection) -> anyhow::Result<Option<String>> {
        self.intervals.sort_unstable();
        let hasher = &self.hasher;
        let mut stmt = conn.prepare(
            "SELECT group_id, user_id, from_seq, to_seq, from_at, from_actor, from_reason,
                    from_request_id, to_at, to_actor, to_reason, to_request_id
               FROM view_membership_intervals ORDER BY group_id, user_id, from_seq",
        )?;
        let rows = stmt.query_map([], |r| {
            let to_seq: Option<i64> = r.get(3)?;
            // Read in place: no copy of the texts, only their digest.
            let text = |i: usize| -> rusqlite::Result<Option<&str>> {
                Ok(r.get_ref(i)?.as_str_or_null()?)
            };
            let from = stamp(
                hasher,
                r.get_ref(4)?.as_str()?,
                r.get(5)?,
                text(6)?,
                text(7)?,
            );
            let to = match text(8)? {
                Some(at) => Some(stamp(hasher, at, r.get(9)?, text(10)?, text(11)?)),
                None => None,
            };
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, to_seq, from, to))
        })?;
        let mut want = self.intervals.iter();
        for got in rows {
            let got: IntervalRow = got?;
            let Some(w) = want.next() else {
                return Ok(Some(format!(
                    "view_membership_intervals: unexpected {:?}",
                    &(got.0, got.1, got.2, got.3)
                )));
            };
            if (w.0, w.1, w.2, w.3) != (got.0, got.1, got.2, got.3) {
                return Ok(Some(format!(
                    "view_membership_intervals: expected {:?}, found {:?}",
                    (w.0, w.1, w.2, w.3),
                    (got.0, got.1, got.2, got.3)
                )));
            }
            if (w.4, w.5) != (got.4, got.5) {
                return Ok(Some(format!(
                    "view_membership_intervals: the time, actor, reason or request id of ({}, {}, from {}) differs from its events",
                    got.0, got.1, got.2
                )));
            }
        }
        if let Some(w) = want.next() {
            return Ok(Some(format!(
                "view_membership_intervals: missing {:?}",
                (w.0, w.1, w.2, w.3)
            )));
        }

        let mut directory: Vec<_> = self.directory.into_iter().collect();
        directory.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut stmt = conn.prepare(
            "SELECT kind, id, name, domain_id, created_seq, deleted_seq FROM view_directory ORDER BY kind, id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                (r.get::<_, String>(0)?, r.get::<_, i64>(1)?),
                DirRow {
                    name: r.get(2)?,
                    domain: r.get(3)?,
                    created: r.get(4)?,
                    deleted: r.get(5)?,
                },
            ))
        })?;
        let want = directory
            .into_iter()
            .map(|((k, id), row)| ((k.to_owned(), id), row));
        if let Some(d) = first_difference(want, rows)? {
            return Ok(Some(format!("view_directory: {d}")));
        }
        let wrong_name: Option<(String, i64)> = {
            use rusqlite::OptionalExtension;
            conn.query_row(
                "SELECT o.kind, o.id FROM view_directory o
                   LEFT JOIN view_directory d ON d.kind = 'domain' AND d.id = o.domain_id
                   LEFT JOIN events c ON c.seq = o.created_seq
                   LEFT JOIN events x ON x.seq = o.deleted_seq
                  WHERE o.qualified_name IS NOT coalesce(d.qualified_name || '.', '') || o.name
                     OR o.created_at IS NOT c.occurred_at OR o.deleted_at IS NOT x.occurred_at
                  LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
        };
        if let Some((k, id)) = wrong_name {
            return Ok(Some(format!(
                "view_directory: the qualified name or times of {k} {id} are wrong"
            )));
        }

        self.history.sort_unstable();
        self.history.dedup();
        let mut stmt =
            conn.prepare("SELECT kind, id, seq FROM view_history ORDER BY kind, id, seq")?;
        // A row per object and change: the kind is matched to its word, not copied.
        let rows = stmt.query_map([], |r| {
            let kind = match r.get_ref(0)?.as_str()? {
                "domain" => "domain",
                "group" => "group",
                "user" => "user",
                _ => "another kind",
            };
            Ok((kind, r.get(1)?, r.get(2)?))
        })?;
        if let Some(d) = first_difference(self.history.into_iter(), rows)? {
            return Ok(Some(format!("view_history: {d}")));
        }

        self.grant_intervals.sort_unstable();
        let mut stmt = conn.prepare(
            "SELECT object, group_id, from_seq, to_seq, \"view\", \"update\", \"read\", \"write\"
               FROM view_grant_intervals ORDER BY object, group_id, from_seq",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
            ))
        })?;
        if let Some(d) = first_difference(self.grant_intervals.into_iter(), rows)? {
            return Ok(Some(format!("view_grant_intervals: {d}")));
        }
        Ok(None)
    }
}

/// The first place two sorted sequences differ, described.
fn first_difference<T: PartialEq + fmt::Debug>(
    mut want: impl Iterator<Item = T>,
    mut got: impl Iterator<Item = rusqlite::Result<T>>,
) -> rusqlite::Result<Option<String>> {
    loop {
        match (want.next(), got.next().transpose()?) {
            (None, None) => return Ok(None),
            (Some(w), Some(g)) if w == g => {}
            (Some(w), Some(g)) => return Ok(Some(format!("expected {w:?}, found {g:?}"))),
            (Some(w), None) => return Ok(Some(format!("missing {w:?}"))),
            (None, Some(g)) => return Ok(Some(format!("unexpected {g:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_heads_parse_as_hash_at_position() {
        let h = "a".repeat(64);
        assert_eq!(
            format!("{h}@12").parse::<TrustedHead>(),
            Ok(TrustedHead {
                hash: h.clone(),
                seq: 12
            })
        );
        for bad in ["", "@12", &format!("{h}@0"), &format!("{h}@x"), "abc@3", &h] {
            assert!(bad.parse::<TrustedHead>().is_err(), "{bad}");
        }
    }
}
