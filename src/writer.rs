//! The single writer: the one owner of the write connection, on its own thread.
//!
//! HTTP handlers send it [`Job`]s over a bounded channel. It takes everything
//! waiting (up to [`MAX_BATCH`]) into one transaction — group commit — and for
//! each command decides against its state, appends the events, folds them into
//! the views; then one durable commit, then the new state is published, and
//! only then does every caller get its reply. A rejected command leaves no
//! trace; a command whose storage fails is rolled back to its savepoint without
//! failing the others in the batch.

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, Connection, Transaction, TransactionBehavior};
use std::sync::Arc;
use std::thread::JoinHandle;
use tokio::sync::{mpsc, oneshot};

use crate::commands::{Applied, Request};
use crate::decide::{decide, Decision, Rejection};
use crate::domain::UserId;
use crate::fold::fold;
use crate::log::{self, chain};
use crate::read_model::ReadModel;
use crate::state::State;
use crate::views::{self, SqlSink};

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
}

/// Starts the writer thread on `conn`, whose views are at `state`.
pub fn spawn(
    conn: Connection,
    state: State,
    read: Arc<ReadModel>,
) -> anyhow::Result<(WriterHandle, JoinHandle<()>)> {
    let last_time = log::read_after(&conn, state.head.seq - 1, 1)?
        .first()
        .and_then(|r| DateTime::parse_from_rfc3339(&r.occurred_at).ok())
        .map(|t| t.with_timezone(&Utc));
    let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
    let mut writer = Writer {
        conn,
        state,
        read,
        last_time,
    };
    let handle = std::thread::Builder::new()
        .name("rollcall-writer".into())
        .spawn(move || writer.run(rx))?;
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
}

type Reply = Box<dyn FnOnce(bool) + Send>;

impl Writer {
    fn run(&mut self, mut rx: mpsc::Receiver<Job>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        // `blocking_recv` returns None once every handle is dropped: the
        // service is shutting down and everything queued has been served.
        while let Some(first) = rx.blocking_recv() {
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            self.run_batch(&mut batch);
        }
        tracing::info!("writer stopped");
    }

    fn run_batch(&mut self, batch: &mut Vec<Job>) {
        let before = self.state.clone();
        let mut replies: Vec<Reply> = Vec::with_capacity(batch.len());
        let committed = match self.write_batch(batch, &mut replies) {
            Ok(()) => {
                self.read.publish(self.state.clone());
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "commit failed; batch rolled back");
                self.state = before;
                // Jobs the batch never reached (the transaction did not even begin).
                for job in batch.drain(..) {
                    match job {
                        Job::Command { reply, .. } => {
                            let _ = reply.send(Err(CommandError::Storage));
                        }
                        Job::Session { reply, .. } => {
                            if let Some(reply) = reply {
                                let _ = reply.send(Err(CommandError::Storage));
                            }
                        }
                    }
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
            ..
        } = self;
        let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = next_time(last_time);
        for job in batch.drain(..) {
            match job {
                Job::Command { req, reply } => {
                    let result = apply_command(&mut tx, state, &req, &now);
                    replies.push(Box::new(move |committed| {
                        // An acceptance is only true once its commit is durable.
                        let _ = reply.send(match result {
                            Ok(_) if !committed => Err(CommandError::Storage),
                            r => r,
                        });
                    }));
                }
                Job::Session { write, reply } => {
                    let result = session_write(&tx, &write).map_err(|e| {
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
            }
        }
        views::save_checkpoint(&tx, state)?;
        tx.commit()
    }
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
    let undo = state.clone();
    let result = tx.savepoint().and_then(|sp| {
        let applied = append_decision(&sp, state, req, decision, now)?;
        sp.commit()?;
        Ok(applied)
    });
    result.map_err(|e| {
        tracing::error!(error = %e, "storing a command failed; it was rolled back");
        *state = undo;
        CommandError::Storage
    })
}

fn append_decision(
    conn: &Connection,
    state: &mut State,
    req: &Request,
    decision: Decision,
    now: &str,
) -> rusqlite::Result<Applied> {
    let mut sink = SqlSink::new(conn);
    for event in decision.events {
        let draft = chain::Draft {
            event_id: uuid::Uuid::now_v7().to_string(),
            stream_version: state.stream_version(event.stream()) + 1,
            occurred_at: now.to_owned(),
            actor: req.caller,
            request_id: req.request_id.clone(),
            reason: req.reason.clone(),
            event,
        };
        let rec = chain::seal(&state.head, draft);
        log::insert(conn, &rec)?;
        fold(state, &rec, &mut sink)?;
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
