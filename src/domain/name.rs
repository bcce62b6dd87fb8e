//! `Name`: the name of a domain, user or group inside its domain.

use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

use super::Kind;

/// The longest name accepted, in bytes. Long enough for any e-mail address.
pub const MAX_NAME_BYTES: usize = 255;

/// A validated object name. Cheap to clone (shared), ordered and hashed as its text.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(Arc<str>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("{0} name must not be empty")]
    Empty(Kind),
    #[error("{0} name is longer than {MAX_NAME_BYTES} bytes")]
    TooLong(Kind),
    #[error("{0} name must not start or end with white space")]
    Padded(Kind),
    #[error("{0} name must not contain control characters or '/'")]
    BadCharacter(Kind),
    #[error("{0} name must not consist of digits only (it would read as an id)")]
    Numeric(Kind),
    #[error("{0} name must not contain '.' (it separates domains in qualified names)")]
    Dot(Kind),
}

impl Name {
    /// Parses a name for an object of `kind`.
    ///
    /// Dots separate domains in qualified names, so only user names that contain
    /// an `@` (e-mail style logins, which are never split) may contain one.
    pub fn parse(kind: Kind, raw: &str) -> Result<Name, NameError> {
        if raw.is_empty() {
            return Err(NameError::Empty(kind));
        }
        if raw.len() > MAX_NAME_BYTES {
            return Err(NameError::TooLong(kind));
        }
        if raw.trim() != raw {
            return Err(NameError::Padded(kind));
        }
        if raw.chars().any(|c| c.is_control() || c == '/') {
            return Err(NameError::BadCharacter(kind));
        }
        if raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NameError::Numeric(kind));
        }
        let dot_allowed = kind == Kind::User && raw.contains('@');
        if raw.contains('.') && !dot_allowed {
            return Err(NameError::Dot(kind));
        }
        Ok(Name(Arc::from(raw)))
    }

    /// Wraps text that was validated when it was first written (events, views).
    pub(crate) fn trusted(raw: &str) -> Name {
        Name(Arc::from(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl Serialize for Name {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Name(Arc::from(s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        for raw in ["alice", "Developers", "ops-team_2", "Zoë", "0day"] {
            assert!(Name::parse(Kind::Group, raw).is_ok(), "{raw}");
        }
    }

    #[test]
    fn only_email_style_user_names_may_contain_dots() {
        assert!(Name::parse(Kind::User, "alice.smith@example.com").is_ok());
        assert_eq!(
            Name::parse(Kind::User, "alice.smith"),
            Err(NameError::Dot(Kind::User))
        );
        assert_eq!(
            Name::parse(Kind::Group, "a@b.c"),
            Err(NameError::Dot(Kind::Group))
        );
    }

    #[test]
    fn rejects_what_could_not_be_named_back() {
        assert_eq!(
            Name::parse(Kind::User, ""),
            Err(NameError::Empty(Kind::User))
        );
        assert_eq!(
            Name::parse(Kind::User, "42"),
            Err(NameError::Numeric(Kind::User))
        );
        assert_eq!(
            Name::parse(Kind::User, " bob"),
            Err(NameError::Padded(Kind::User))
        );
        assert_eq!(
            Name::parse(Kind::User, "a/b"),
            Err(NameError::BadCharacter(Kind::User))
        );
        assert_eq!(
            Name::parse(Kind::User, "a\0b"),
            Err(NameError::BadCharacter(Kind::User))
        );
        assert_eq!(
            Name::parse(Kind::User, &"x".repeat(MAX_NAME_BYTES + 1)),
            Err(NameError::TooLong(Kind::User))
        );
    }
}
