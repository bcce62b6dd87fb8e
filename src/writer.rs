//! The single writer: the one owner of the write connection, on its own thread.
//!
//! HTTP handlers send it [`Job`]s over a bounded channel. It takes everything
//! waiting (up to [`MAX_BATCH`]) into one transaction — group commit — and for
//! each command decides against its state, appends the events and folds them
//! into its in-memory state; then one durable commit, then the new state is
//! published, and only then does every caller get its reply. The SQLite views
//! are written behind it by the [`view_writer`](crate::view_writer), from the
//! changes this fold computed. A rejected command leaves no
//! trace; a command whose storage fails is rolled back to its savepoint without
//! failing the others in the batch — unless SQLite rolled the whole
//! transaction back (it may, on a full disk or an I/O error), in which case
//! the whole batch fails, the in-memory state is restored, and every caller
//! in it is told so.

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, Connection, Transaction, TransactionBehavior};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

use crate::commands::{Applied, Request};
use crate::decide::{decide, Decision, Rejection};
use crate::domain::UserId;
use crate::events::Event;
use crate::fold::{fold, Change};
use crate::log::{self, chain};
use crate::metrics::Metrics;
use crate::read_model::ReadModel;
use crate::state::State;
use crate::view_writer::{self, Pending, Recorder};

/// The most jobs committed in one transaction: large enough to amortise the
/// fsync, small enough that the first caller in a batch is not kept waiting.
pub const MAX_BATCH: usize = 1024;
/// How many jobs may queue before senders wait: back-pressure, not a drop.
const QUEUE_DEPTH: usize = 8192;

/// Why a command got no `Applied`.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// Storage failed (disk full, read-only, I/O): nothing was written.
    #[error("the change could not be stored; nothing was written")]
    Storage,
    /// The writer has stopped (shutting down).
    #[error("the service is shutting down")]
    Unavailable,
}

/// Writes to the session table; they ride in the same batches as commands.
#[derive(Debug)]
pub enum SessionWrite {
    Open {
        token_hash: String,
        user: UserId,
        now_ms: i64,
    },
    Close {
        token_hash: String,
    },
    Touch {
        token_hash: String,
        last_seen_ms: i64,
    },
}

pub enum Job {
    Command {
        req: Request,
        reply: oneshot::Sender<Result<Applied, CommandError>>,
    },
    Session {
        write: SessionWrite,
        /// `None` for best-effort writes nobody waits on (touches).
        reply: Option<oneshot::Sender<Result<(), CommandError>>>,
    },
    /// Readiness: can the writer allocate pages and commit? Rides in a batch.
    Probe {
        reply: oneshot::Sender<Result<(), CommandError>>,
    },
    /// A storage fault to simulate (tests); see [`WriterHandle::simulate`].
    Simulate {
        fault: Fault,
        reply: oneshot::Sender<()>,
    },
}

/// Storage faults the write connection can be made to show, for tests of
/// what the service does when the disk fills up or turns read-only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// No new pages: `PRAGMA max_page_count` pinned at the current size.
    Full,
    /// No writes at all: `PRAGMA query_only`.
    ReadOnly,
    /// Back to normal.
    Healthy,
}

/// The sending side, cloned into every handler.
#[derive(Clone)]
pub struct WriterHandle {
    tx: mpsc::Sender<Job>,
}

impl WriterHandle {
    /// Sends a command and waits for its durable outcome.
    pub async fn execute(&self, req: Request) -> Result<Applied, CommandError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job::Command { req, reply })
            .await
            .map_err(|_| CommandError::Unavailable)?;
        rx.await.map_err(|_| CommandError::Unavailable)?
    }

    /// Sends a session write and waits for it to be committed.
    pub async fn session(&self, write: SessionWrite) -> Result<(), CommandError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job::Session {
                write,
                reply: Some(reply),
            })
            .await
            .map_err(|_| CommandError::Unavailable)?;
        rx.await.map_err(|_| CommandError::Unavailable)?
    }

    /// Queues a session write nobody waits for; dropped if the queue is full.
    pub fn session_best_effort(&self, write: SessionWrite) {
        let _ = self.tx.try_send(Job::Session { write, reply: None });
    }

    /// Checks that the database takes writes: a page allocation (rolled
    /// back) and a durable commit, in the writer's next batch.
    pub async fn probe(&self) -> Result<(), CommandError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job::Probe { reply })
            .await
            .map_err(|_| CommandError::Unavailable)?;
        rx.await.map_err(|_| CommandError::Unavailable)?
    }

    /// Test hook: makes the write connection behave as if the disk were full
    /// or read-only, or undoes that. Not reachable over HTTP.
    #[doc(hidden)]
    pub async fn simulate(&self, fault: Fault) -> Result<(), CommandError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job::Simulate { fault, reply })
            .await
            .map_err(|_| CommandError::Unavailable)?;
        rx.await.map_err(|_| CommandError::Unavailable)
    }
}

/// Starts the writer thread on `conn`, whose views are at `state`.
pub fn spawn(
    conn: Connection,
    state: State,
    read: Arc<ReadModel>,
) -> anyhow::Result<(WriterHandle, JoinHandle<()>)> {
    spawn_observed(conn, state, read, Arc::new(Metrics::default()))
}

/// [`spawn`], counting batches, commit latency and failures in `metrics`.
pub fn spawn_observed(
    conn: Connection,
    state: State,
    read: Arc<ReadModel>,
    metrics: Arc<Metrics>,
) -> anyhow::Result<(WriterHandle, JoinHandle<()>)> {
    let last_time = log::read_after(&conn, state.head.seq - 1, 1)?
        .first()
        .and_then(|r| DateTime::parse_from_rfc3339(&r.occurred_at).ok())
        .map(|t| t.with_timezone(&Utc));
    let path = conn
        .path()
        .filter(|p| !p.is_empty())
        .map(std::path::PathBuf::from)
        .ok_or_else(|| anyhow::anyhow!("the writer needs a database file"))?;
    // The views are the view writer's, in their own file: this connection
    // lets go of them, so its `BEGIN IMMEDIATE` locks the log's file alone.
    crate::views::file::detach(&conn)?;
    // The log's WAL holds only appended pages: checkpointing it as SQLite
    // does by default (at 1,000 pages, right after the commit that passes
    // them) costs little and keeps it bounded.
    conn.pragma_update(None, "wal_autocheckpoint", 1000)?;
    let (views, views_thread) = view_writer::spawn(
        crate::views::file::open_writer(&path)?,
        state.head.clone(),
        state.last_ids,
        read.clone(),
    )?;
    let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
    let mut writer = Writer {
        conn,
        state,
        read,
        last_time,
        metrics,
        recorder: Recorder::default(),
    };
    let handle = std::thread::Builder::new()
        .name("rollcall-writer".into())
        .spawn(move || {
            writer.run(rx, &views);
            // The view writer finishes what it was sent, then stops.
            drop(views);
            if views_thread.join().is_err() {
                tracing::error!("the view writer panicked");
            }
        })?;
    Ok((WriterHandle { tx }, handle))
}

struct Writer {
    conn: Connection,
    /// The state at the last commit, plus the current batch while one runs.
    state: State,
    read: Arc<ReadModel>,
    /// The newest `occurred_at` written, so times never go backwards in the log
    /// even if the wall clock does (time-travel queries rely on that order).
    last_time: Option<DateTime<Utc>>,
    metrics: Arc<Metrics>,
    /// The changes this batch's events made, for the view writer.
    recorder: Recorder,
}

type Reply = Box<dyn FnOnce(bool) + Send>;

impl Writer {
    fn run(
        &mut self,
        mut rx: mpsc::Receiver<Job>,
        views: &std::sync::mpsc::SyncSender<Vec<Pending>>,
    ) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        // `blocking_recv` returns None once every handle is dropped: the
        // service is shutting down and everything queued has been served.
        while let Some(first) = rx.blocking_recv() {
            self.take(first, &mut batch);
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(job) => self.take(job, &mut batch),
                    Err(_) => break,
                }
            }
            if !batch.is_empty() {
                self.run_batch(&mut batch);
                if !self.recorder.events.is_empty() {
                    let events = std::mem::take(&mut self.recorder.events);
                    if views.send(events).is_err() {
                        tracing::error!("the view writer has stopped; the views will catch up at the next start");
                    }
                }
            }
        }
        tracing::info!("writer stopped");
    }

    /// Adds a job to the batch; a simulated fault is applied at once, outside
    /// any transaction, so it can be undone even while no transaction can begin.
    fn take(&mut self, job: Job, batch: &mut Vec<Job>) {
        match job {
            Job::Simulate { fault, reply } => {
                if let Err(e) = simulate(&self.conn, fault) {
                    tracing::error!(error = %e, ?fault, "could not simulate a storage fault");
                }
                let _ = reply.send(());
            }
            job => batch.push(job),
        }
    }

    fn run_batch(&mut self, batch: &mut Vec<Job>) {
        let before = self.state.clone();
        let jobs = batch.len();
        let started = Instant::now();
        let mut replies: Vec<Reply> = Vec::with_capacity(batch.len());
        let committed = match self.write_batch(batch, &mut replies) {
            Ok(()) => {
                self.metrics.observe_commit(jobs, started.elapsed());
                self.read.publish(self.state.clone());
                true
            }
            Err(e) => {
                tracing::error!(error = %e, jobs, "the batch could not be stored; it was rolled back");
                self.metrics
                    .storage_failures
                    .fetch_add(1, Ordering::Relaxed);
                self.state = before;
                self.recorder.events.clear();
                // Jobs the batch never reached (the transaction did not even begin).
                for job in batch.drain(..) {
                    fail(job);
                }
                false
            }
        };
        for reply in replies {
            reply(committed);
        }
    }

    /// Runs the batch in one transaction; each job leaves a reply to send once
    /// the outcome of the commit is known.
    fn write_batch(
        &mut self,
        batch: &mut Vec<Job>,
        replies: &mut Vec<Reply>,
    ) -> rusqlite::Result<()> {
        let Writer {
            conn,
            state,
            last_time,
            recorder,
            ..
        } = self;
        let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = next_time(last_time);
        for job in batch.drain(..) {
            // On some errors (SQLITE_FULL, SQLITE_IOERR) SQLite rolls back the
            // whole transaction, not just the statement: what earlier jobs
            // wrote is gone, and a later statement would run on its own in
            // autocommit mode. Fail the rest of the batch instead.
            if tx.is_autocommit() {
                fail(job);
                continue;
            }
            match job {
                Job::Command { req, reply } => {
                    let result = apply_command(&mut tx, state, recorder, &req, &now);
                    replies.push(Box::new(move |committed| {
                        // An acceptance is only true once its commit is durable.
                        let _ = reply.send(match result {
                            Ok(_) if !committed => Err(CommandError::Storage),
                            r => r,
                        });
                    }));
                }
                Job::Session { write, reply } => {
                    let result =
                        in_savepoint(&mut tx, |sp| session_write(sp, &write)).map_err(|e| {
                            tracing::error!(error = %e, "session write failed");
                            CommandError::Storage
                        });
                    replies.push(Box::new(move |ok| {
                        if let Some(reply) = reply {
                            let _ = reply.send(if ok {
                                result
                            } else {
                                Err(CommandError::Storage)
                            });
                        }
                    }));
                }
                Job::Probe { reply } => {
                    let result = probe_allocation(&mut tx).map_err(|e| {
                        tracing::warn!(error = %e, "readiness probe: the database cannot grow");
                        CommandError::Storage
                    });
                    replies.push(Box::new(move |committed| {
                        let _ = reply.send(if committed {
                            result
                        } else {
                            Err(CommandError::Storage)
                        });
                    }));
                }
                Job::Simulate { reply, .. } => {
                    // Taken out of the batch by `take`; never reaches here.
                    let _ = reply.send(());
                }
            }
        }
        if tx.is_autocommit() {
            return Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT),
                Some("SQLite rolled the transaction back after a storage error".into()),
            ));
        }
        tx.commit()
    }
}

/// Answers a job the batch could not run: its change was not stored.
fn fail(job: Job) {
    match job {
        Job::Command { reply, .. } => {
            let _ = reply.send(Err(CommandError::Storage));
        }
        Job::Session { reply, .. } => {
            if let Some(reply) = reply {
                let _ = reply.send(Err(CommandError::Storage));
            }
        }
        Job::Probe { reply } => {
            let _ = reply.send(Err(CommandError::Storage));
        }
        Job::Simulate { reply, .. } => {
            let _ = reply.send(());
        }
    }
}

/// Runs `f` inside a savepoint, rolled back if `f` fails.
fn in_savepoint<T>(
    tx: &mut Transaction<'_>,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    let sp = tx.savepoint()?;
    let out = f(&sp)?;
    sp.commit()?;
    Ok(out)
}

/// Can the database grow? Writes a row larger than a page (so new pages must
/// be allocated) inside a savepoint that is always rolled back: nothing stays.
/// The batch's own commit then shows whether a durable write goes through.
fn probe_allocation(tx: &mut Transaction<'_>) -> rusqlite::Result<()> {
    let mut sp = tx.savepoint()?;
    let page_size: i64 = sp.pragma_query_value(None, "page_size", |r| r.get(0))?;
    let result = sp
        .execute(
            "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at)
             VALUES (zeroblob(?1), 0, 0, 0)",
            [2 * page_size],
        )
        .map(|_| ());
    sp.rollback()?;
    result
}

fn simulate(conn: &Connection, fault: Fault) -> rusqlite::Result<()> {
    match fault {
        Fault::Full => {
            let pages: i64 = conn.pragma_query_value(None, "page_count", |r| r.get(0))?;
            conn.pragma_update(None, "max_page_count", pages)?;
        }
        Fault::ReadOnly => conn.pragma_update(None, "query_only", true)?,
        Fault::Healthy => {
            conn.pragma_update(None, "query_only", false)?;
            // SQLite's default ceiling.
            conn.pragma_update(None, "max_page_count", 0xFFFF_FFFEi64)?;
        }
    }
    Ok(())
}

/// The time stamped on this batch's events: now, but never before the last one.
fn next_time(last: &mut Option<DateTime<Utc>>) -> String {
    let mut now = Utc::now();
    if let Some(prev) = *last {
        if now < prev {
            now = prev;
        }
    }
    *last = Some(now);
    now.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Decides one command and, if it writes anything, appends and folds it inside
/// a savepoint so a storage failure undoes just this command.
fn apply_command(
    tx: &mut Transaction<'_>,
    state: &mut State,
    recorder: &mut Recorder,
    req: &Request,
    now: &str,
) -> Result<Applied, CommandError> {
    let decision = decide(state, req)?;
    if decision.events.is_empty() && decision.credentials.is_none() {
        return Ok(Applied {
            position: state.head.seq,
            outcome: decision.outcome,
        });
    }
    let single = one_statement(&decision);
    // A single statement fails before anything is folded, so only a longer
    // decision needs a copy of the state to go back to. Not copying matters:
    // the copy shares every node with the state, so the fold would then have
    // to copy each node on its path before changing it.
    let undo = (!single).then(|| state.clone());
    let recorded = recorder.events.len();
    let result = if single {
        // A single INSERT is atomic by itself: if it fails, SQLite undoes
        // that statement (or the whole transaction, which `write_batch`
        // notices), and nothing was folded yet. No savepoint to pay for.
        append_decision(tx, state, recorder, req, decision, now)
    } else {
        tx.savepoint().and_then(|sp| {
            let applied = append_decision(&sp, state, recorder, req, decision, now)?;
            sp.commit()?;
            Ok(applied)
        })
    };
    result.map_err(|e| {
        tracing::error!(
            error = %e,
            request_id = req.request_id.as_deref().unwrap_or(""),
            "storing a command failed; it was rolled back"
        );
        if let Some(undo) = undo {
            *state = undo;
        }
        recorder.events.truncate(recorded);
        CommandError::Storage
    })
}

/// Does storing this decision take exactly one SQL statement (one event, no
/// credentials to write or forget)? Then it needs no savepoint of its own.
fn one_statement(decision: &Decision) -> bool {
    decision.credentials.is_none()
        && matches!(decision.events.as_slice(), [e] if !matches!(e, Event::UserDeleted(_)))
}

fn append_decision(
    conn: &Connection,
    state: &mut State,
    recorder: &mut Recorder,
    req: &Request,
    decision: Decision,
    now: &str,
) -> rusqlite::Result<Applied> {
    for event in decision.events {
        let draft = chain::Draft {
            event_id: crate::events::new_uuid_v7().to_string(),
            stream_version: state.stream_version(event.stream()) + 1,
            occurred_at: now.to_owned(),
            actor: req.caller,
            request_id: req.request_id.clone(),
            reason: req.reason.clone(),
            event,
        };
        let rec = chain::seal(&state.head, draft);
        log::insert(conn, &rec)?;
        let from = recorder.events.len();
        let Ok(()) = fold(state, &rec, recorder);
        // Credentials are not a view: a deleted user loses them in the same
        // transaction as the event, so it cannot log in once that is acknowledged.
        for p in &recorder.events[from..] {
            for change in &p.changes {
                if let Change::DropUser(user) = change {
                    forget_credentials(conn, user.to_owned())?;
                }
            }
        }
    }
    if let Some((user, hash)) = decision.credentials {
        conn.prepare_cached(
            "INSERT OR REPLACE INTO credentials (user_id, password_hash) VALUES (?1, ?2)",
        )?
        .execute(params![user.0, hash])?;
    }
    Ok(Applied {
        position: state.head.seq,
        outcome: decision.outcome,
    })
}

/// Removes a deleted user's password and sessions.
fn forget_credentials(conn: &Connection, user: UserId) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM credentials WHERE user_id = ?1")?
        .execute([user.0])?;
    conn.prepare_cached("DELETE FROM sessions WHERE user_id = ?1")?
        .execute([user.0])?;
    Ok(())
}

fn session_write(conn: &Connection, write: &SessionWrite) -> rusqlite::Result<()> {
    match write {
        SessionWrite::Open {
            token_hash,
            user,
            now_ms,
        } => conn
            .prepare_cached(
                "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at) VALUES (?1, ?2, ?3, ?3)",
            )?
            .execute(params![token_hash, user.0, now_ms]),
        SessionWrite::Close { token_hash } => conn
            .prepare_cached("DELETE FROM sessions WHERE token_hash = ?1")?
            .execute([token_hash]),
        SessionWrite::Touch {
            token_hash,
            last_seen_ms,
        } => conn
            .prepare_cached("UPDATE sessions SET last_seen_at = max(last_seen_at, ?2) WHERE token_hash = ?1")?
            .execute(params![token_hash, last_seen_ms]),
    }
    .map(|_| ())
}
