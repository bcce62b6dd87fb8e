//! Settings for `rollcall serve`, from flags and the environment: where the
//! database is, where to listen, and the limits that keep one client from
//! taking the service down.

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
    pub limits: Limits,
    pub login_throttle: LoginThrottle,
}

impl Config {
    pub fn new(db: impl Into<PathBuf>, listen: impl Into<String>) -> Self {
        Config {
            db: db.into(),
            listen: listen.into(),
            admin_password: None,
            session_idle: Duration::from_secs(3600),
            limits: Limits::default(),
            login_throttle: LoginThrottle::default(),
        }
    }
}

/// What one request or connection may cost.
#[derive(Clone, Debug)]
pub struct Limits {
    /// The largest request body read; larger ones answer 413.
    pub max_body_bytes: usize,
    /// The largest total size of a request's headers; larger ones answer 431.
    pub max_header_bytes: usize,
    /// How long a client may take to send a request's headers (and how long
    /// an idle keep-alive connection is kept); then the connection is closed.
    pub header_read_timeout: Duration,
    /// How long a request may take from its headers to its answer; then 408.
    pub request_timeout: Duration,
    /// Connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1024 * 1024,
            max_header_bytes: 16 * 1024,
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_connections: 1024,
        }
    }
}

/// Login throttling: after `free` failures in a row a key (a user name, or a
/// client address) is locked out for `base`, doubling with each further
/// failure up to `max`. Failures are forgotten `forget_after` the last one.
#[derive(Clone, Debug)]
pub struct LoginThrottle {
    pub free_per_user: u32,
    pub free_per_address: u32,
    pub base: Duration,
    pub max: Duration,
    pub forget_after: Duration,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle {
            free_per_user: 5,
            free_per_address: 20,
            base: Duration::from_secs(1),
            max: Duration::from_secs(15 * 60),
            forget_after: Duration::from_secs(15 * 60),
        }
    }
}

/// Parses a duration written as a number and a unit: `500ms`, `10s`, `2m`, `1h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 500ms, 10s, 2m or 1h"))?;
    let ms = match unit {
        "ms" => Some(n),
        "s" => n.checked_mul(1000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        _ => return Err(format!("{text:?}: the unit must be ms, s, m or h")),
    };
    ms.map(Duration::from_millis)
        .ok_or_else(|| format!("{text:?} is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_a_number_and_a_unit() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("1.5s").is_err());
        assert!(parse_duration("99999999999999999h").is_err());
    }
}
