//! The server under test: finding (building) the real `rollcall` release
//! binary, starting `rollcall serve` on a database, waiting for its first
//! answer, reading its peak RSS, and stopping it gracefully.

use anyhow::{bail, Context};
use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::load::{self, Appended, Req};

/// The `rollcall` binary to measure: `explicit` if given; otherwise, when run
/// by cargo, `cargo build --release --bin rollcall` in this workspace and the
/// binary it produces; otherwise a `rollcall` beside this executable.
pub fn locate(explicit: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(path) = explicit {
        return Ok(path);
    }
    let exe = std::env::current_exe()?;
    // target/<profile>/rollcall-bench -> target/release/rollcall
    let target_dir = exe
        .parent()
        .and_then(Path::parent)
        .context("cannot tell the target directory from this executable's path")?;
    let bin = target_dir.join("release").join("rollcall");
    if let Ok(cargo) = std::env::var("CARGO") {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        eprintln!("building the rollcall release binary (cargo build --release --bin rollcall)");
        let status = Command::new(cargo)
            .current_dir(&workspace)
            .args(["build", "--release", "-p", "rollcall", "--bin", "rollcall"])
            .env("CARGO_TARGET_DIR", target_dir)
            .status()
            .context("running cargo build")?;
        if !status.success() {
            bail!("cargo build --release --bin rollcall failed");
        }
    }
    if !bin.is_file() {
        bail!(
            "no rollcall binary at {}; run through `cargo run --release -p rollcall-bench` or pass --rollcall PATH",
            bin.display()
        );
    }
    Ok(bin)
}

/// A free loopback port: bind port 0, read it, let it go.
pub fn free_port() -> anyhow::Result<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?)
}

/// A running `rollcall serve`; killed if dropped before [`Server::stop`].
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    log: PathBuf,
}

impl Server {
    /// Starts `rollcall serve --db db` on a free loopback port, its log in `log`.
    pub fn start(bin: &Path, db: &Path, log: &Path) -> anyhow::Result<Server> {
        let addr = free_port()?;
        let child = Command::new(bin)
            .arg("serve")
            .arg("--db")
            .arg(db)
            .arg("--listen")
            .arg(addr.to_string())
            // rollcall's own default unless the caller chose a level.
            .env(
                "ROLLCALL_LOG",
                std::env::var("ROLLCALL_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(log)?)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        Ok(Server {
            child,
            addr,
            log: log.to_owned(),
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until the server answers an HTTP request (any status), polling
    /// every millisecond. Returns when it answered.
    pub async fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<Instant> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(mut conn) = load::connect(self.addr).await {
                if conn
                    .send(None, Req::get("/api/v1/groups/1".into()))
                    .await
                    .is_ok()
                {
                    return Ok(Instant::now());
                }
            }
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "rollcall serve exited ({status}) before answering:\n{}",
                    self.log_tail()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "rollcall serve did not answer within {timeout:?}:\n{}",
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Peak resident set size so far (VmHWM), in bytes.
    pub fn peak_rss(&self) -> Option<u64> {
        peak_rss(self.pid())
    }

    /// SIGTERM, then wait for the graceful exit (writes in flight committed).
    pub fn stop(mut self) -> anyhow::Result<()> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait()? {
                if !status.success() {
                    bail!("rollcall serve exited with {status}:\n{}", self.log_tail());
                }
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("rollcall serve did not stop within 30 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A read-only connection beside the running server. Plain SQLite, not
/// `rollcall::log::open_reader`: the binary under test may have migrated the
/// file to a schema newer than the one this harness was built with.
fn open_read_only(db: &Path) -> anyhow::Result<rusqlite::Connection> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    Ok(conn)
}

/// The log head of the database at `db`, read beside the running server.
pub fn log_head(db: &Path) -> anyhow::Result<i64> {
    let conn = open_read_only(db)?;
    Ok(conn.query_row("SELECT coalesce(max(seq), 0) FROM events", [], |r| r.get(0))?)
}

/// Events in `(after, upto]` and how many commits wrote them. The writer
/// stamps every event of a batch with the same `occurred_at` (milliseconds),
/// and a durable commit takes longer than a millisecond, so distinct stamps
/// count commits (never more than there were).
pub fn appended(db: &Path, after: i64, upto: i64) -> anyhow::Result<Appended> {
    let conn = open_read_only(db)?;
    let (events, commits): (i64, i64) = conn.query_row(
        "SELECT count(*), count(DISTINCT occurred_at) FROM events WHERE seq > ?1 AND seq <= ?2",
        [after, upto],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(Appended {
        events: events as u64,
        commits: commits as u64,
    })
}

/// Bytes process `pid` has caused to be written to storage so far
/// (`write_bytes`: WAL frames and checkpoints; not its socket writes).
pub fn written(pid: u32) -> Option<u64> {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    let line = io.lines().find(|l| l.starts_with("write_bytes:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time (user plus system) process `pid` has used so far, all threads.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    cpu_time_of(&stat)
}

/// `utime + stime` from a `/proc/PID/stat` line. They are in clock ticks of
/// `sysconf(_SC_CLK_TCK)`, which is USER_HZ: 100 on every Linux build the
/// kernel's ABI allows user space to see.
fn cpu_time_of(stat: &str) -> Option<Duration> {
    // The command name (field 2) is in parentheses and may hold spaces:
    // count the fields from the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11); // field 3 is the first here
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// VmHWM of process `pid`, in bytes.
pub fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_adds_user_and_system_ticks_after_the_command_name() {
        // A command name with a space and a parenthesis, as a thread may have.
        let stat = "4242 (rollcall (x) y) S 1 4242 4242 0 -1 4194560 2000 0 0 0 \
                    250 37 0 0 20 0 3 0 100 1000000 500 18446744073709551615";
        assert_eq!(cpu_time_of(stat), Some(Duration::from_millis(2870)));
        assert_eq!(cpu_time_of("4242 (cut short) S 1"), None);
    }

    #[test]
    fn cpu_time_of_this_process_is_read() {
        let pid = std::process::id();
        assert!(cpu_time(pid).is_some());
    }
}
