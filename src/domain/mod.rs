//! Newtypes that parse: ids, names and the identifiers callers use to name things.
//!
//! Once a value is one of these types it is known good, so the rules of what a
//! name may be live here and nowhere else.

mod ident;
mod name;
mod object;

pub use ident::{DomainPath, Ident};
pub use name::{Name, NameError};
pub use object::{ChainKeys, Flags, ObjectError, ObjectRef, Permission};

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A domain's internal id; never reused.
    DomainId
);
id_type!(
    /// A user's internal id; never reused, even after a delete.
    UserId
);
id_type!(
    /// A user group's internal id; never reused, even after a delete.
    GroupId
);

/// The root domain every other domain descends from.
pub const GLOBAL: DomainId = DomainId(1);
/// The group every user is implicitly a member of.
pub const EVERYONE: GroupId = GroupId(1);
/// The group whose members may do everything.
pub const ADMINISTRATORS: GroupId = GroupId(2);
/// The user written by the bootstrap.
pub const ADMIN: UserId = UserId(1);

/// The kinds of object an identifier can name; their `Display` is the word the
/// dmadminweb error strings use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    User,
    Group,
    Domain,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::User => "User",
            Kind::Group => "Usergroup",
            Kind::Domain => "Domain",
        })
    }
}
