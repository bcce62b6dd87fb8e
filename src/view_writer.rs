//! The view writer: a thread that keeps the SQLite views a few milliseconds
//! behind the log, in large transactions, so the writer's own transaction is
//! an append and nothing else.
//!
//! Why behind: every view row an event touches sits on a random page of a
//! large b-tree. Writing them inside each durable commit cost a random page
//! per view per event (tens of KB to disk per write). Here thousands of
//! events share one transaction, and so share the pages they touch; the views
//! have a file of their own, so neither their lock nor their I/O is in a
//! durable write's way; and their commits do not wait for the disk (see
//! [`crate::views::file`]): the log stays the record, and whatever the views
//! had not reached at a crash is folded again from the log at the next start
//! ([`crate::projector::catch_up`]).
//!
//! What the views are not needed for: access checks and current membership
//! are answered from the in-memory state, which the writer publishes before
//! it acknowledges. What needs them — the audit queries — waits until they
//! reach the position it asks about ([`ReadModel::wait_for_views`]).
//!
//! The writer computes each event's changes as it folds ([`Recorder`]) and
//! hands them over after its commit, so the view writer never decodes or
//! re-folds an event: it only writes rows ([`SqlSink`]).

use rusqlite::{Connection, TransactionBehavior};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::domain::UserId;
use crate::fold::{Change, Origin, Sink};
use crate::read_model::ReadModel;
use crate::state::{Head, LastIds};
use crate::views::{self, SqlSink};

/// The most events written in one view transaction.
const MAX_CHUNK: usize = 8192;
/// The most events the view writer holds unwritten before it stops taking
/// more; then the channel (of [`CHANNEL_BATCHES`] batches) fills and the log
/// writer waits before its next batch. Bounds the memory the queue takes and
/// how far the views (and so an audit question's wait) can fall behind.
const MAX_QUEUE: usize = 65_536;
const CHANNEL_BATCHES: usize = 64;
/// The least time between two view transactions while events keep coming:
/// what arrives meanwhile shares one transaction, and so the pages it
/// touches. Audit queries may wait this long (at most) for the views.
const PACE: Duration = Duration::from_millis(20);
/// How often the view writer checkpoints the WAL while events keep coming.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// One event's changes to the views, as the writer's fold produced them.
#[derive(Debug)]
pub struct Pending {
    pub seq: i64,
    pub occurred_at: String,
    pub actor: Option<UserId>,
    pub reason: Option<String>,
    pub request_id: Option<String>,
    pub changes: Vec<Change>,
}

/// A [`Sink`] that keeps each event's changes for the view writer.
#[derive(Debug, Default)]
pub struct Recorder {
    pub events: Vec<Pending>,
}

impl Sink for Recorder {
    type Error = Infallible;

    fn begin(&mut self, origin: &Origin<'_>) -> Result<(), Infallible> {
        self.events.push(Pending {
            seq: origin.seq,
            occurred_at: origin.occurred_at.to_owned(),
            actor: origin.actor,
            reason: origin.reason.map(str::to_owned),
            request_id: origin.request_id.map(str::to_owned),
            changes: Vec::with_capacity(3),
        });
        Ok(())
    }

    fn apply(&mut self, change: &Change) -> Result<(), Infallible> {
        if let Some(last) = self.events.last_mut() {
            last.changes.push(change.clone());
        }
        Ok(())
    }
}

/// Starts the view writer on `conn`, whose views are at `head` with `last_ids`.
/// It runs until every sender of the returned channel is dropped and what
/// they sent is written. Sending blocks while the view writer is
/// [`MAX_QUEUE`] events behind.
pub fn spawn(
    conn: Connection,
    head: Head,
    last_ids: LastIds,
    read: Arc<ReadModel>,
) -> std::io::Result<(SyncSender<Vec<Pending>>, JoinHandle<()>)> {
    let (tx, rx) = std::sync::mpsc::sync_channel(CHANNEL_BATCHES);
    let mut w = ViewWriter {
        conn,
        head,
        last_ids,
        read,
        queue: VecDeque::new(),
        checkpointed: Instant::now(),
        unchecked: false,
        committed: Instant::now(),
    };
    let handle = std::thread::Builder::new()
        .name("rollcall-views".into())
        .spawn(move || w.run(rx))?;
    Ok((tx, handle))
}

struct ViewWriter {
    conn: Connection,
    /// Where the views are: the last event written and the id high-water marks.
    head: Head,
    last_ids: LastIds,
    read: Arc<ReadModel>,
    /// Events received, not yet written.
    queue: VecDeque<Pending>,
    /// When the WAL was last checkpointed, and whether commits came since.
    checkpointed: Instant,
    unchecked: bool,
    /// When the last view transaction committed.
    committed: Instant,
}

impl ViewWriter {
    fn run(&mut self, rx: Receiver<Vec<Pending>>) {
        let mut open = true;
        let mut failures = 0u32;
        while open || !self.queue.is_empty() {
            if self.queue.is_empty() {
                // Idle: a moment to checkpoint what the last writes left in the WAL.
                match rx.recv_timeout(CHECKPOINT_EVERY) {
                    Ok(batch) => self.queue.extend(batch),
                    Err(RecvTimeoutError::Timeout) => {
                        self.checkpoint();
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => {
                        open = false;
                        continue;
                    }
                }
            }
            // Gather for the rest of the pace, unless a full chunk is waiting.
            let since = self.committed.elapsed();
            if open && since < PACE && self.queue.len() < MAX_CHUNK {
                match rx.recv_timeout(PACE - since) {
                    Ok(batch) => self.queue.extend(batch),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => open = false,
                }
                continue;
            }
            while self.queue.len() < MAX_QUEUE {
                match rx.try_recv() {
                    Ok(batch) => self.queue.extend(batch),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        open = false;
                        break;
                    }
                }
            }
            match self.write_chunk() {
                Ok(()) => {
                    failures = 0;
                    self.committed = Instant::now();
                    self.unchecked = true;
                    if self.checkpointed.elapsed() >= CHECKPOINT_EVERY {
                        self.checkpoint();
                    }
                }
                Err(e) => {
                    failures += 1;
                    tracing::error!(error = %e, behind = self.queue.len(), "could not write the views; will retry");
                    if !open && failures >= 5 {
                        // Stopping, and the disk refuses: nothing is lost, the
                        // next start folds these events from the log again.
                        tracing::warn!(
                            behind = self.queue.len(),
                            "stopping with the views behind the log; the next start catches them up"
                        );
                        return;
                    }
                    // Back off, taking what the writer sends while there is room.
                    let pause = Duration::from_millis(50 << failures.min(5));
                    if self.queue.len() >= MAX_QUEUE {
                        std::thread::sleep(pause);
                        continue;
                    }
                    match rx.recv_timeout(pause) {
                        Ok(batch) => self.queue.extend(batch),
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => open = false,
                    }
                }
            }
        }
        // Everything sent is written: sync it all and clear the mark, so the
        // next start, on this boot or another, takes the views as they are.
        if let Err(e) = crate::views::file::close_clean(&self.conn) {
            tracing::warn!(error = %e, "could not close the views cleanly; a start after a machine restart folds them anew");
        }
    }

    /// Checkpoints the WAL if anything was committed since the last time, and
    /// restarts it ([`crate::log::restart_wal`]), which bounds its size under
    /// writes that never pause. A failure is only logged: the next checkpoint
    /// tries again, and until then the WAL just grows.
    fn checkpoint(&mut self) {
        if !self.unchecked {
            return;
        }
        match crate::log::restart_wal(&self.conn) {
            Ok(true) => {}
            Ok(false) => {
                tracing::debug!("a reader kept the WAL from restarting; trying again later")
            }
            Err(e) => tracing::warn!(error = %e, "could not checkpoint the WAL"),
        }
        self.checkpointed = Instant::now();
        self.unchecked = false;
    }

    /// Writes the front of the queue in one transaction; removes it only once
    /// committed, so a failed chunk is written again.
    fn write_chunk(&mut self) -> rusqlite::Result<()> {
        let ViewWriter {
            conn,
            head,
            last_ids,
            read,
            queue,
            ..
        } = self;
        let mut new_head = head.clone();
        let mut new_ids = *last_ids;
        let written;
        {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut sink = SqlSink::new(&tx);
            let mut n = 0;
            for p in queue.iter() {
                if n == MAX_CHUNK {
                    break;
                }
                sink.begin(&Origin {
                    seq: p.seq,
                    occurred_at: &p.occurred_at,
                    actor: p.actor,
                    reason: p.reason.as_deref(),
                    request_id: p.request_id.as_deref(),
                })?;
                for change in &p.changes {
                    sink.apply(change)?;
                    note(&mut new_head, &mut new_ids, change);
                }
                n += 1;
            }
            views::save_checkpoint(&tx, &new_head, &new_ids)?;
            tx.commit()?;
            written = n;
        }
        queue.drain(..written);
        *head = new_head;
        *last_ids = new_ids;
        read.publish_views(head.seq);
        Ok(())
    }
}

/// What a change does to the checkpoint: its position and the highest ids
/// ever handed out (kept so a deleted object's id is never reused).
fn note(head: &mut Head, ids: &mut LastIds, change: &Change) {
    match change {
        Change::Head(h) => head.clone_from(h),
        Change::PutDomain(d) => ids.domain = ids.domain.max(d.id.0),
        Change::PutUser(u) => ids.user = ids.user.max(u.id.0),
        Change::PutGroup(g) => ids.group = ids.group.max(g.id.0),
        _ => {}
    }
}
