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

/// Sets up a read connection for a long sequential scan: the file is mapped
/// instead of copied page by page through `read`.
pub fn for_scanning(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "mmap_size", 1_i64 << 40)?;
    Ok(())
}

/// Streams events `after < seq <= until`: `inspect` sees each one here, in
/// order, and may stop the scan with an error; `consume` gets them in the
/// same order on another thread. Returns what `consume` returns (it sees
/// every event `inspect` accepted, nothing after a stop) and how the scan ended.
pub fn scan<E, R>(
    conn: &Connection,
    after: i64,
    until: i64,
    mut inspect: impl FnMut(&Recorded) -> Result<(), E>,
    consume: impl FnOnce(&mut dyn Iterator<Item = Recorded>) -> R + Send,
) -> (R, Result<(), E>)
where
    E: From<ReadError>,
    R: Send,
{
    let (tx, rx) = mpsc::sync_channel::<Vec<Recorded>>(IN_FLIGHT);
    std::thread::scope(|s| {
        let folder = s.spawn(move || consume(&mut rx.into_iter().flatten()));
        let mut batch = Vec::with_capacity(BATCH);
        let read = log::for_each(conn, after, until, |rec| -> Result<(), E> {
            inspect(&rec)?;
            batch.push(rec);
            if batch.len() == BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                // A closed channel means the folder is gone: it panicked,
                // which `join` below reports.
                let _ = tx.send(full);
            }
            Ok(())
        });
        if !batch.is_empty() {
            let _ = tx.send(batch);
        }
        drop(tx);
        let out = match folder.join() {
            Ok(out) => out,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        (out, read)
    })
}
