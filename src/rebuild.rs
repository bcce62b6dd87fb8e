//! `rollcall rebuild` in bulk: fold the whole log in memory with the same
//! [`fold`] the writer uses, collecting the rows [`SqlSink`] would have
//! written, then write each view once, in primary-key order, with its
//! secondary indexes built after the rows are in.
//!
//! Writing a view row by row as the fold goes (what `SqlSink` does live) costs
//! one SQL statement per row and a random b-tree descent for each; a rebuild
//! knows every row before writing the first, so it sorts them and appends.
//! [`Rows`] is a sink: it learns what each event does only from `fold`'s
//! changes, so the rules stay in one place; it keeps the same rows
//! `SqlSink` keeps, including its corner cases (an interval reopened while
//! open is closed with it, as `SqlSink`'s UPDATE closes every open row).
//!
//! [`SqlSink`]: crate::views::SqlSink

use anyhow::Context;
use rusqlite::{Connection, DatabaseName, Statement, ToSql, TransactionBehavior};
use std::sync::Arc;

use crate::audit::scan;
use crate::domain::Flags;
use crate::fold::{fold, Change, Origin, Sink};
use crate::log::ReadError;
use crate::state::State;
use crate::views;
use crate::FastMap as HashMap;

/// Drops every view and folds the whole log again, in one transaction.
/// Returns the new state.
///
/// `conn` is on the database with its views file attached
/// ([`crate::log::open_writer`]); only the views file is written.
pub fn rebuild(conn: &mut Connection) -> anyhow::Result<State> {
    // Only views are written here, never the log, so the commit need not
    // wait for the disk: in WAL mode `synchronous = NORMAL` still commits
    // atomically and never corrupts the file; a crash right after may undo
    // the whole rebuild (the views go back to what they were, consistent with
    // their checkpoint), never part of it.
    //
    // The log is read sequentially through a memory map; the index builds
    // sort in memory. Each setting is put back after: the connection may be
    // the one the server goes on writing with ([`crate::projector::catch_up`]).
    let views = Some(DatabaseName::Attached(views::file::SCHEMA_NAME));
    let settings = [
        (views, "synchronous"),
        (None, "mmap_size"),
        (views, "mmap_size"),
        (views, "cache_size"),
        (None, "temp_store"),
    ];
    let saved: Vec<i64> = settings
        .iter()
        .map(|(db, p)| conn.pragma_query_value(*db, p, |r| r.get(0)))
        .collect::<rusqlite::Result<_>>()?;
    conn.pragma_update(views, "synchronous", "NORMAL")?;
    scan::for_scanning(conn)?;
    conn.pragma_update(views, "cache_size", -262_144)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    let result = rebuild_in_transaction(conn);
    for ((db, pragma), value) in settings.into_iter().zip(saved) {
        conn.pragma_update(db, pragma, value)?;
    }
    result
}

fn rebuild_in_transaction(conn: &mut Connection) -> anyhow::Result<State> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut state = State::default();
    let mut rows = Rows::default();
    let events: i64 = tx.query_row("SELECT coalesce(max(seq), 0) FROM events", [], |r| r.get(0))?;
    rows.reserve(events);
    let started = std::time::Instant::now();
    scan::scan(
        &tx,
        0,
        i64::MAX,
        |_| Ok::<(), ReadError>(()),
        |rec| {
            let Ok(()) = fold(&mut state, rec, &mut rows);
        },
    )
    .context("Failed to read the log")?;
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        "rebuild: log folded"
    );
    write(&tx, &state, rows).context("Failed to write the views")?;
    let started = std::time::Instant::now();
    tx.commit()?;
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        "rebuild: committed"
    );
    Ok(state)
}

// ---- collecting ---------------------------------------------------------------------------

/// The kinds of object the history views name, ordered as their text sorts
/// ('domain' < 'group' < 'user'), so rows sort in the tables' key order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Kind {
    Domain,
    Group,
    User,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Domain => "domain",
            Kind::Group => "group",
            Kind::User => "user",
        }
    }
}

/// A span of [`Stamps::text`].
type Span = (usize, usize);

/// Who, when and why, for each event that opens or closes an interval: the
/// text of all of them in one buffer, so a million intervals cost no
/// million allocations.
#[derive(Default)]
struct Stamps {
    text: String,
    rows: Vec<StampRow>,
}

struct StampRow {
    at: Span,
    actor: Option<i64>,
    reason: Option<Span>,
    request_id: Option<Span>,
}

impl Stamps {
    fn push_text(&mut self, s: &str) -> Span {
        let start = self.text.len();
        self.text.push_str(s);
        (start, self.text.len())
    }

    fn push(&mut self, origin: &Origin<'_>) -> usize {
        let row = StampRow {
            at: self.push_text(origin.occurred_at),
            actor: origin.actor.map(|a| a.0),
            reason: origin.reason.map(|r| self.push_text(r)),
            request_id: origin.request_id.map(|r| self.push_text(r)),
        };
        self.rows.push(row);
        self.rows.len() - 1
    }

    fn text(&self, span: Span) -> &str {
        &self.text[span.0..span.1]
    }
}

/// The envelope of the event being folded, copied into reused buffers.
#[derive(Default)]
struct Current {
    seq: i64,
    occurred_at: String,
    actor: Option<crate::domain::UserId>,
    reason: Option<String>,
    request_id: Option<String>,
    /// Its row in [`Stamps`], once something needed one.
    stamp: Option<usize>,
}

fn copy_into(buf: &mut Option<String>, value: Option<&str>) {
    match value {
        Some(v) => {
            let b = buf.get_or_insert_with(String::new);
            b.clear();
            b.push_str(v);
        }
        None => *buf = None,
    }
}

struct Interval {
    group: i64,
    user: i64,
    from: i64,
    from_stamp: usize,
    to: Option<(i64, usize)>,
    /// An older interval of the same pair still open when this one opened.
    still_open: Option<usize>,
}

struct GrantInterval {
    object: Arc<str>,
    group: i64,
    from: i64,
    to: Option<i64>,
    flags: Flags,
    still_open: Option<usize>,
}

struct DirRow {
    name: String,
    domain: Option<i64>,
    qualified: String,
    created_seq: i64,
    created_at: String,
    deleted: Option<(i64, String)>,
}

/// A sink that keeps, in memory, the rows `SqlSink` writes to the views
/// that the in-memory [`State`] does not hold (the history views, the
/// membership start positions and the grants).
#[derive(Default)]
struct Rows {
    now: Current,
    stamps: Stamps,
    intervals: Vec<Interval>,
    /// (group, user) -> the interval opened last and still open.
    open: HashMap<(i64, i64), usize>,
    grant_intervals: Vec<GrantInterval>,
    open_grants: HashMap<(Arc<str>, i64), usize>,
    grants: HashMap<(Arc<str>, i64), Flags>,
    directory: HashMap<(Kind, i64), DirRow>,
    /// (kind, id, seq), in fold order, duplicates included.
    history: Vec<(Kind, i64, i64)>,
}

impl Rows {
    /// Room for what a log of `events` events collects, made once: grown by
    /// doubling instead, these vectors are copied and their fresh pages
    /// zeroed again at every step.
    fn reserve(&mut self, events: i64) {
        let n = scan::capacity_for(events);
        self.intervals.reserve(n);
        self.stamps.rows.reserve(n);
        // An event's time is 24 bytes; reasons and request ids add a few more.
        self.stamps.text.reserve(32 * n);
    }

    fn stamp(&mut self) -> usize {
        if let Some(s) = self.now.stamp {
            return s;
        }
        let now = &self.now;
        let s = self.stamps.push(&Origin {
            seq: now.seq,
            occurred_at: &now.occurred_at,
            actor: now.actor,
            reason: now.reason.as_deref(),
            request_id: now.request_id.as_deref(),
        });
        self.now.stamp = Some(s);
        s
    }

    fn touch(&mut self, kind: Kind, id: i64) {
        let row = (kind, id, self.now.seq);
        if self.history.last() != Some(&row) {
            self.history.push(row);
        }
    }

    /// `SqlSink::created`: the first sighting names the object for good.
    fn created(&mut self, kind: Kind, id: i64, name: &str, domain: Option<i64>) {
        if !self.directory.contains_key(&(kind, id)) {
            let prefix = domain
                .and_then(|d| self.directory.get(&(Kind::Domain, d)))
                .map(|d| d.qualified.as_str());
            let qualified = match prefix {
                Some(p) => format!("{p}.{name}"),
                None => name.to_owned(),
            };
            self.directory.insert(
                (kind, id),
                DirRow {
                    name: name.to_owned(),
                    domain,
                    qualified,
                    created_seq: self.now.seq,
                    created_at: self.now.occurred_at.clone(),
                    deleted: None,
                },
            );
        }
        self.touch(kind, id);
    }

    fn deleted(&mut self, kind: Kind, id: i64) {
        if let Some(row) = self.directory.get_mut(&(kind, id)) {
            row.deleted = Some((self.now.seq, self.now.occurred_at.clone()));
        }
        self.touch(kind, id);
    }

    fn close_grant(&mut self, object: &Arc<str>, group: i64) {
        let mut next = self.open_grants.remove(&(object.clone(), group));
        while let Some(i) = next {
            let row = &mut self.grant_intervals[i];
            row.to = Some(self.now.seq);
            next = row.still_open.take();
        }
    }
}

impl Sink for Rows {
    type Error = std::convert::Infallible;

    fn begin(&mut self, origin: &Origin<'_>) -> Result<(), Self::Error> {
        let now = &mut self.now;
        now.seq = origin.seq;
        now.occurred_at.clear();
        now.occurred_at.push_str(origin.occurred_at);
        now.actor = origin.actor;
        copy_into(&mut now.reason, origin.reason);
        copy_into(&mut now.request_id, origin.request_id);
        now.stamp = None;
        Ok(())
    }

    fn apply(&mut self, change: &Change) -> Result<(), Self::Error> {
        match change {
            Change::PutDomain(d) => {
                self.created(Kind::Domain, d.id.0, d.name.as_str(), d.parent.map(|p| p.0))
            }
            Change::PutUser(u) => {
                self.created(Kind::User, u.id.0, u.name.as_str(), Some(u.domain.0))
            }
            Change::PutGroup(g) => {
                self.created(Kind::Group, g.id.0, g.name.as_str(), Some(g.domain.0))
            }
            Change::GroupVersion { .. } => {}
            Change::DropUser(id) => {
                self.deleted(Kind::User, id.0);
            }
            Change::DropGroup(id) => self.deleted(Kind::Group, id.0),
            Change::AddMember { group, user, at } => {
                let from_stamp = self.stamp();
                let i = self.intervals.len();
                let still_open = self.open.insert((group.0, user.0), i);
                self.intervals.push(Interval {
                    group: group.0,
                    user: user.0,
                    from: at.seq,
                    from_stamp,
                    to: None,
                    still_open,
                });
            }
            Change::RemoveMember { group, user, at } => {
                let stamp = self.stamp();
                let mut next = self.open.remove(&(group.0, user.0));
                while let Some(i) = next {
                    let row = &mut self.intervals[i];
                    row.to = Some((at.seq, stamp));
                    next = row.still_open.take();
                }
            }
            Change::PutGrant {
                object,
                group,
                flags,
            } => {
                self.grants.insert((object.clone(), group.0), *flags);
                self.close_grant(object, group.0);
                let i = self.grant_intervals.len();
                let still_open = self.open_grants.insert((object.clone(), group.0), i);
                self.grant_intervals.push(GrantInterval {
                    object: object.clone(),
                    group: group.0,
                    from: self.now.seq,
                    to: None,
                    flags: *flags,
                    still_open,
                });
                self.touch(Kind::Group, group.0);
            }
            Change::DropGrant { object, group } => {
                self.grants.remove(&(object.clone(), group.0));
                self.close_grant(object, group.0);
                self.touch(Kind::Group, group.0);
            }
            Change::Head(_) => {}
        }
        Ok(())
    }
}

// ---- writing ------------------------------------------------------------------------------

/// The view tables whose secondary indexes are dropped for the bulk write
/// and created again after it, from their own stored definitions.
const VIEW_TABLES: &str = "'view_domains', 'view_users', 'view_groups', 'view_grants',
     'view_membership_intervals', 'view_directory', 'view_history', 'view_grant_intervals'";

fn write(conn: &Connection, state: &State, rows: Rows) -> anyhow::Result<()> {
    let indexes: Vec<(String, String)> = conn
        .prepare(&format!(
            "SELECT name, sql FROM views.sqlite_schema
              WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({VIEW_TABLES})"
        ))?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (name, _) in &indexes {
        conn.execute_batch(&format!(
            "DROP INDEX views.\"{}\"",
            name.replace('"', "\"\"")
        ))?;
    }
    views::clear(conn)?;

    let started = std::time::Instant::now();
    write_current(conn, state, &rows)?;
    let Rows {
        stamps,
        mut intervals,
        mut grant_intervals,
        directory,
        mut history,
        ..
    } = rows;
    intervals.sort_unstable_by_key(|i| (i.group, i.user, i.from));
    write_intervals(conn, &stamps, &intervals)?;
    drop(intervals);
    drop(stamps);

    let mut directory: Vec<_> = directory.into_iter().collect();
    directory.sort_unstable_by_key(|(key, _)| *key);
    insert(
        conn,
        "view_directory",
        "kind, id, name, domain_id, qualified_name, created_seq, created_at, deleted_seq, deleted_at",
        &directory,
        |b, ((kind, id), d)| {
            b.put(kind.as_str())?
                .put(id)?
                .put(&d.name)?
                .put(d.domain)?
                .put(&d.qualified)?
                .put(d.created_seq)?
                .put(&d.created_at)?
                .put(d.deleted.as_ref().map(|(seq, _)| *seq))?
                .put(d.deleted.as_ref().map(|(_, at)| at.as_str()))?;
            Ok(())
        },
    )?;
    drop(directory);

    history.sort_unstable();
    history.dedup();
    insert(
        conn,
        "view_history",
        "kind, id, seq",
        &history,
        |b, (kind, id, seq)| {
            b.put(kind.as_str())?.put(id)?.put(seq)?;
            Ok(())
        },
    )?;
    drop(history);

    grant_intervals
        .sort_unstable_by(|a, b| (&a.object, a.group, a.from).cmp(&(&b.object, b.group, b.from)));
    insert(
        conn,
        "view_grant_intervals",
        "object, group_id, from_seq, to_seq, \"view\", \"update\", \"read\", \"write\"",
        &grant_intervals,
        |b, g| {
            b.put(&*g.object)?
                .put(g.group)?
                .put(g.from)?
                .put(g.to)?
                .put(g.flags.view)?
                .put(g.flags.update)?
                .put(g.flags.read)?
                .put(g.flags.write)?;
            Ok(())
        },
    )?;
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        "rebuild: rows written"
    );

    let started = std::time::Instant::now();
    for (_, sql) in &indexes {
        // Stored as `CREATE INDEX name ON ...`: made again in the views file.
        let sql = sql.replacen("CREATE INDEX ", "CREATE INDEX views.", 1);
        conn.execute_batch(&sql)?;
    }
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        "rebuild: indexes built"
    );
    views::save_checkpoint(conn, &state.head, &state.last_ids)?;
    Ok(())
}

/// Rows per INSERT statement: one statement for many rows saves a step,
/// a reset and a trip through the VM's prologue per row.
const ROWS_PER_INSERT: usize = 64;

/// Binds one row's values, in column order, into a multi-row INSERT.
struct Binder<'s, 'c> {
    stmt: &'s mut Statement<'c>,
    next: usize,
}

impl Binder<'_, '_> {
    fn put(&mut self, value: impl ToSql) -> rusqlite::Result<&mut Self> {
        self.next += 1;
        self.stmt.raw_bind_parameter(self.next, value)?;
        Ok(self)
    }
}

/// Inserts `rows` into `table` (`columns` as in SQL) in the order given,
/// [`ROWS_PER_INSERT`] rows per statement; `bind` puts a row's values in
/// column order.
fn insert<T>(
    conn: &Connection,
    table: &str,
    columns: &str,
    rows: &[T],
    bind: impl Fn(&mut Binder<'_, '_>, &T) -> rusqlite::Result<()>,
) -> rusqlite::Result<()> {
    let width = columns.split(',').count();
    let sql = |n: usize| {
        let one = format!("({})", vec!["?"; width].join(", "));
        format!(
            "INSERT INTO {table} ({columns}) VALUES {}",
            vec![one; n].join(", ")
        )
    };
    let mut full = conn.prepare(&sql(ROWS_PER_INSERT))?;
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut rest;
        let stmt: &mut Statement<'_> = if chunk.len() == ROWS_PER_INSERT {
            &mut full
        } else {
            rest = conn.prepare(&sql(chunk.len()))?;
            &mut rest
        };
        let mut binder = Binder { stmt, next: 0 };
        for row in chunk {
            bind(&mut binder, row)?;
        }
        debug_assert_eq!(
            binder.next,
            width * chunk.len(),
            "{table}: a value per column"
        );
        binder.stmt.raw_execute()?;
    }
    Ok(())
}

/// The current views: domains, users and groups as the folded state holds
/// them (`SqlSink` replaces a row on every put and deletes it on a drop, as
/// the state does), memberships from the open intervals (a member's row
/// carries the position of the event that opened its current interval),
/// and the grants as collected.
fn write_current(conn: &Connection, state: &State, rows: &Rows) -> anyhow::Result<()> {
    let domains: Vec<_> = state.domains_after(None).collect();
    insert(
        conn,
        "view_domains",
        "id, name, parent_id, version",
        &domains,
        |b, d| {
            b.put(d.id.0)?
                .put(d.name.as_str())?
                .put(d.parent.map(|p| p.0))?
                .put(d.version)?;
            Ok(())
        },
    )?;
    let users: Vec<_> = state.users_after(None).collect();
    insert(
        conn,
        "view_users",
        "id, name, domain_id, realname, email, version",
        &users,
        |b, u| {
            b.put(u.id.0)?
                .put(u.name.as_str())?
                .put(u.domain.0)?
                .put(&u.realname)?
                .put(&u.email)?
                .put(u.version)?;
            Ok(())
        },
    )?;
    let groups: Vec<_> = state.groups_after(None).collect();
    insert(
        conn,
        "view_groups",
        "id, name, domain_id, summary, email, version",
        &groups,
        |b, g| {
            b.put(g.id.0)?
                .put(g.name.as_str())?
                .put(g.domain.0)?
                .put(&g.summary)?
                .put(&g.email)?
                .put(g.version)?;
            Ok(())
        },
    )?;

    let mut grants: Vec<_> = rows.grants.iter().collect();
    grants.sort_unstable_by(|a, b| a.0.cmp(b.0));
    insert(
        conn,
        "view_grants",
        "object, group_id, \"view\", \"update\", \"read\", \"write\"",
        &grants,
        |b, ((object, group), f)| {
            b.put(&**object)?
                .put(*group)?
                .put(f.view)?
                .put(f.update)?
                .put(f.read)?
                .put(f.write)?;
            Ok(())
        },
    )?;
    Ok(())
}

fn write_intervals(
    conn: &Connection,
    stamps: &Stamps,
    intervals: &[Interval],
) -> anyhow::Result<()> {
    let text = |span: Option<Span>| span.map(|s| stamps.text(s));
    insert(
        conn,
        "view_membership_intervals",
        "group_id, user_id, from_seq, from_at, from_actor, from_reason, from_request_id,
         to_seq, to_at, to_actor, to_reason, to_request_id",
        intervals,
        |b, i| {
            let from = &stamps.rows[i.from_stamp];
            let to = i.to.map(|(seq, s)| (seq, &stamps.rows[s]));
            b.put(i.group)?
                .put(i.user)?
                .put(i.from)?
                .put(stamps.text(from.at))?
                .put(from.actor)?
                .put(text(from.reason))?
                .put(text(from.request_id))?
                .put(to.map(|t| t.0))?
                .put(to.map(|t| stamps.text(t.1.at)))?
                .put(to.and_then(|t| t.1.actor))?
                .put(to.and_then(|t| text(t.1.reason)))?
                .put(to.and_then(|t| text(t.1.request_id)))?;
            Ok(())
        },
    )?;
    Ok(())
}
