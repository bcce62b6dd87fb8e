//! Offline figures: the `rollcall` subcommands that read the whole log
//! (`rebuild`, `verify`), timed as a user would run them.

use anyhow::bail;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs `rollcall <args> --db db` and times it. `Ok(None)` when this build
/// of rollcall has no such subcommand.
pub fn timed(bin: &Path, subcommand: &str, db: &Path) -> anyhow::Result<Option<Duration>> {
    let started = Instant::now();
    let out = Command::new(bin)
        .arg(subcommand)
        .arg("--db")
        .arg(db)
        .env("ROLLCALL_LOG", "warn")
        .output()?;
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        if stderr.contains("unrecognized subcommand") {
            return Ok(None);
        }
        bail!(
            "rollcall {subcommand} failed ({}): {}",
            out.status,
            stderr.trim()
        );
    }
    Ok(Some(took))
}
