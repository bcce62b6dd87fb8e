//! `Ident`: how a caller names a user, group or domain (id, qualified name or plain name).

use std::fmt;

use super::Kind;

/// A domain path as written in a qualified name: `GLOBAL.Engineering`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainPath(pub Vec<String>);

impl fmt::Display for DomainPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("."))
    }
}

/// An identifier as a caller wrote it. Parsing never fails: whether it names
/// anything is for resolution against the state to say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ident {
    /// A positive integer: an internal id.
    Id(i64),
    /// `path.name`: the object `name` inside the domain at `path`.
    Qualified { domain: DomainPath, name: String },
    /// A bare name, looked up in the domains the caller can see.
    Plain(String),
}

impl Ident {
    /// Parses an identifier for an object of `kind` by the dmadminweb rules:
    /// an integer greater than 0 is an id; a user name with an `@` is never
    /// split; otherwise everything before the last `.` is the domain path.
    pub fn parse(kind: Kind, raw: &str) -> Ident {
        if let Ok(id) = raw.parse::<i64>() {
            if id > 0 {
                return Ident::Id(id);
            }
        }
        if kind == Kind::User && raw.contains('@') {
            return Ident::Plain(raw.to_owned());
        }
        match raw.rsplit_once('.') {
            Some((path, name)) => Ident::Qualified {
                domain: DomainPath(path.split('.').map(str::to_owned).collect()),
                name: name.to_owned(),
            },
            None => Ident::Plain(raw.to_owned()),
        }
    }

    /// Parses a domain identifier: the whole dotted text is the path.
    pub fn parse_domain(raw: &str) -> Ident {
        match raw.parse::<i64>() {
            Ok(id) if id > 0 => Ident::Id(id),
            _ if raw.contains('.') => {
                let (path, name) = raw.rsplit_once('.').unwrap_or(("", raw));
                Ident::Qualified {
                    domain: DomainPath(path.split('.').map(str::to_owned).collect()),
                    name: name.to_owned(),
                }
            }
            _ => Ident::Plain(raw.to_owned()),
        }
    }
}

impl fmt::Display for Ident {
    /// The identifier as the caller wrote it, for error messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ident::Id(id) => write!(f, "{id}"),
            Ident::Qualified { domain, name } => write!(f, "{domain}.{name}"),
            Ident::Plain(name) => f.write_str(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(path: &[&str], name: &str) -> Ident {
        Ident::Qualified {
            domain: DomainPath(path.iter().map(|s| s.to_string()).collect()),
            name: name.into(),
        }
    }

    #[test]
    fn positive_integers_are_ids_and_everything_else_is_a_name() {
        assert_eq!(Ident::parse(Kind::User, "42"), Ident::Id(42));
        assert_eq!(Ident::parse(Kind::User, "0"), Ident::Plain("0".into()));
        assert_eq!(Ident::parse(Kind::User, "-3"), Ident::Plain("-3".into()));
        assert_eq!(
            Ident::parse(Kind::User, "alice"),
            Ident::Plain("alice".into())
        );
    }

    #[test]
    fn dots_qualify_except_in_email_style_user_names() {
        assert_eq!(
            Ident::parse(Kind::Group, "GLOBAL.Engineering.Developers"),
            q(&["GLOBAL", "Engineering"], "Developers")
        );
        assert_eq!(
            Ident::parse(Kind::User, "alice.smith@example.com"),
            Ident::Plain("alice.smith@example.com".into())
        );
        assert_eq!(Ident::parse(Kind::Group, "a@b.c"), q(&["a@b"], "c"));
    }

    #[test]
    fn display_gives_back_what_was_written() {
        for raw in ["GLOBAL.Eng.Devs", "alice", "7"] {
            assert_eq!(Ident::parse(Kind::Group, raw).to_string(), raw);
        }
    }
}
