//! Settings for `rollcall serve`, from flags and the environment.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Config {
    /// The SQLite file holding the log and its views.
    pub db: PathBuf,
    /// Where to listen, e.g. `127.0.0.1:8080` (port 0 picks a free port).
    pub listen: String,
    /// The bootstrap admin's password; generated and printed once when absent.
    pub admin_password: Option<String>,
    /// Sessions end after this long without use.
    pub session_idle: Duration,
}

impl Config {
    pub fn new(db: impl Into<PathBuf>, listen: impl Into<String>) -> Self {
        Config {
            db: db.into(),
            listen: listen.into(),
            admin_password: None,
            session_idle: Duration::from_secs(3600),
        }
    }
}
