//! Authentication: password hashing and the in-memory session table.

pub mod password;
pub mod sessions;

pub use sessions::{Sessions, Token};
