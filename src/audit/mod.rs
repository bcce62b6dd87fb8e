//! What auditors use: questions about the past answered from the history
//! views ([`as_of`], [`history`]), and the command-line tools that work on
//! the log file itself — [`replay`], [`verify`], [`export`] (and import) —
//! plus a deterministic [`generate`]d log for fixtures and measurements.

pub mod access_at;
pub mod as_of;
pub mod export;
pub mod generate;
pub mod history;
pub mod progress;
pub mod replay;
pub mod scan;
pub mod verify;
