//! Reading a long stretch of the log on two cores: this thread steps through
//! SQLite, decodes and inspects each event (chain, time, trusted head),
//! while a second thread folds them. Replay and verify are bound by `fold`,
//! so taking the reading off its thread is most of what two cores can give.

use rusqlite::Connection;
use std::sync::mpsc;

use crate::events::Recorded;
use crate::log::{self, ReadError};

/// Events travel between the threads in batches, to keep the channel cheap.
const BATCH: usize = 512;
/// Batches in flight: enough to ride out jitter, little memory.
const IN_FLIGHT: usize = 8;

/// How many rows to make room for, up front, in a vector that collects
/// about one row per event of a log of `events` events: bounded, since the
/// count comes from the file being read, which may be anything.
pub fn capacity_for(events: i64) -> usize {
    events.clamp(0, 1 << 23) as usize
}

/// Sets up a read connection for a long sequential scan: each file it has
/// open (the database and its attached views) is mapped instead of copied
/// page by page through `read`.
pub fn for_scanning(conn: &Connection) -> rusqlite::Result<()> {
    let schemas: Vec<String> = conn
        .prepare("SELECT name FROM pragma_database_list WHERE name != 'temp'")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for schema in schemas {
        conn.pragma_update(
            Some(rusqlite::DatabaseName::Attached(&schema)),
            "mmap_size",
            1_i64 << 40,
        )?;
    }
    Ok(())
}

/// Streams events `after < seq <= until`: `inspect` sees each one here, in
/// order, and may stop the scan with an error; `consume` sees the same
/// events in the same order on another thread (every event `inspect`
/// accepted, nothing after a stop). Returns how the scan ended.
///
/// Batches go back to this thread once consumed, and their records are read
/// into again: the folding thread frees nothing, and this one allocates
/// little beyond what each payload decodes to.
pub fn scan<E>(
    conn: &Connection,
    after: i64,
    until: i64,
    mut inspect: impl FnMut(&Recorded) -> Result<(), E>,
    mut consume: impl FnMut(&Recorded) + Send,
) -> Result<(), E>
where
    E: From<ReadError>,
{
    let (tx, rx) = mpsc::sync_channel::<Vec<Recorded>>(IN_FLIGHT);
    let (done_tx, done_rx) = mpsc::channel::<Vec<Recorded>>();
    std::thread::scope(|s| {
        let folder = s.spawn(move || {
            for batch in rx {
                batch.iter().for_each(&mut consume);
                // The reader may be gone already (the scan ended); then the
                // batch is simply freed here.
                let _ = done_tx.send(batch);
            }
        });
        let mut batch = Vec::with_capacity(BATCH);
        // The records of batches the folder is done with, read into again.
        let mut spares: Vec<Recorded> = Vec::new();
        let spare = || {
            if spares.is_empty() {
                if let Ok(used) = done_rx.try_recv() {
                    spares = used;
                }
            }
            spares.pop()
        };
        let read = log::for_each_into(conn, after, until, spare, |rec| -> Result<(), E> {
            inspect(&rec)?;
            batch.push(rec);
            if batch.len() == BATCH {
                // A closed channel means the folder is gone: it panicked,
                // which `join` below reports.
                let _ = tx.send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)));
            }
            Ok(())
        });
        if !batch.is_empty() {
            let _ = tx.send(batch);
        }
        drop(tx);
        if let Err(panic) = folder.join() {
            std::panic::resume_unwind(panic);
        }
        drop(done_rx);
        read
    })
}
