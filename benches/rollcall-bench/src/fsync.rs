//! The fsync floor: how many one-row transactions per second SQLite commits
//! in WAL mode with `synchronous=FULL` on the disk the benchmark database is
//! on. Group commit has to beat this by a wide margin.

use hdrhistogram::Histogram;
use rusqlite::Connection;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::load;

pub struct Floor {
    pub commits: u64,
    pub elapsed: Duration,
    pub hist: Histogram<u64>,
}

impl Floor {
    pub fn per_second(&self) -> f64 {
        self.commits as f64 / self.elapsed.as_secs_f64()
    }
}

/// Appends one event-sized row per transaction into a fresh database in
/// `dir` for `duration`, each commit durable before the next begins.
pub fn measure(dir: &Path, duration: Duration) -> anyhow::Result<Floor> {
    let path = dir.join("fsync-floor.db");
    let conn = Connection::open(&path)?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    anyhow::ensure!(mode.eq_ignore_ascii_case("wal"), "WAL mode refused: {mode}");
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(
        "CREATE TABLE events (seq INTEGER PRIMARY KEY, data BLOB NOT NULL, hash TEXT NOT NULL)",
    )?;
    // About the size of a membership event with its hashes.
    let data = vec![b'x'; 300];
    let hash = "0".repeat(64);
    let mut insert = conn.prepare("INSERT INTO events (data, hash) VALUES (?1, ?2)")?;
    let mut hist = load::histogram();
    let mut commits = 0;
    let start = Instant::now();
    while start.elapsed() < duration {
        let t = Instant::now();
        // Autocommit: one statement, one transaction, one durable commit.
        insert.execute(rusqlite::params![data, hash])?;
        load::record(&mut hist, t.elapsed());
        commits += 1;
    }
    let elapsed = start.elapsed();
    drop(insert);
    drop(conn);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.join(format!("fsync-floor.db{suffix}")));
    }
    Ok(Floor {
        commits,
        elapsed,
        hist,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_records_one_latency_per_commit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let floor = measure(dir.path(), Duration::from_millis(50)).expect("measures");
        assert!(floor.commits > 0);
        assert_eq!(floor.hist.len(), floor.commits);
    }
}
