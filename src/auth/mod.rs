//! Authentication: password hashing, the in-memory session table, and login
//! throttling.

pub mod password;
pub mod sessions;
pub mod throttle;

pub use sessions::{Sessions, Token};
pub use throttle::Throttle;
