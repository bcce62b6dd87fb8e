//! Access-control vocabulary: permissions, their allow/deny/unset flags, and
//! references to the objects grants are given on (`environment:GLOBAL.Eng.Prod`).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// The four permissions of the dmadminweb access model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    View,
    /// "Change Access": may modify the object (for a group: manage its members).
    Update,
    Read,
    /// Its meaning depends on the object: "Deploy Access" for an environment,
    /// "Execute Access" for an action.
    Write,
}

impl Permission {
    pub const ALL: [Permission; 4] = [
        Permission::View,
        Permission::Update,
        Permission::Read,
        Permission::Write,
    ];

    /// Parses a permission name; `change`, `deploy` and `execute` are the
    /// names the original UI uses for `update` and `write`.
    pub fn parse(s: &str) -> Option<Permission> {
        const NAMES: [(&str, Permission); 7] = [
            ("view", Permission::View),
            ("update", Permission::Update),
            ("change", Permission::Update),
            ("read", Permission::Read),
            ("write", Permission::Write),
            ("deploy", Permission::Write),
            ("execute", Permission::Write),
        ];
        // Compared without making a lower-case copy: every check parses one.
        NAMES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(s))
            .map(|(_, p)| *p)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::View => "view",
            Permission::Update => "update",
            Permission::Read => "read",
            Permission::Write => "write",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One group's setting on one object: each flag allows (`Some(true)`),
/// denies (`Some(false)`) or is unset (`None`: inherit from the domains above).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Flags {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write: Option<bool>,
}

impl Flags {
    pub fn get(&self, p: Permission) -> Option<bool> {
        match p {
            Permission::View => self.view,
            Permission::Update => self.update,
            Permission::Read => self.read,
            Permission::Write => self.write,
        }
    }

    pub fn is_empty(&self) -> bool {
        Permission::ALL.iter().all(|p| self.get(*p).is_none())
    }
}

/// The kinds of object grants can be given on. rollcall stores grants on
/// them without owning the objects (except domains and groups).
const OBJECT_TYPES: &[&str] = &[
    "domain",
    "group",
    "environment",
    "application",
    "component",
    "action",
    "procedure",
    "function",
    "endpoint",
    "datasource",
    "repository",
    "credential",
    "notifier",
];

/// `TYPE:QUALIFIED_NAME`, e.g. `environment:GLOBAL.Engineering.Prod`. The
/// qualified name is absolute: it starts at the root domain.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectRef {
    key: Arc<str>,
    /// Byte offset of the `:`.
    colon: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ObjectError {
    #[error("object must be TYPE:QUALIFIED_NAME, e.g. environment:GLOBAL.Engineering.Prod")]
    Shape,
    #[error("unknown object type {0:?}; known types: {known}", known = OBJECT_TYPES.join(", "))]
    UnknownType(String),
    #[error("object name {0:?} has an empty, padded or invalid segment")]
    BadSegment(String),
    #[error("object name {0:?} names no object inside a domain")]
    NoName(String),
}

/// The longest object reference accepted, in bytes.
const MAX_OBJECT_BYTES: usize = 1024;

impl ObjectRef {
    pub fn parse(raw: &str) -> Result<ObjectRef, ObjectError> {
        if raw.len() > MAX_OBJECT_BYTES {
            return Err(ObjectError::Shape);
        }
        let (ty, name) = raw.split_once(':').ok_or(ObjectError::Shape)?;
        if !OBJECT_TYPES.contains(&ty) {
            return Err(ObjectError::UnknownType(ty.to_owned()));
        }
        let bad = |s: &str| {
            if s.is_ascii() {
                // Every check parses its object: the common case byte by byte.
                let b = s.as_bytes();
                return b.is_empty()
                    || b[0].is_ascii_whitespace()
                    || b[b.len() - 1].is_ascii_whitespace()
                    || b.iter()
                        .any(|&c| c.is_ascii_control() || c == b'/' || c == b':');
            }
            s.is_empty()
                || s.trim() != s
                || s.chars().any(|c| c.is_control() || c == '/' || c == ':')
        };
        if name.split('.').any(bad) {
            return Err(ObjectError::BadSegment(name.to_owned()));
        }
        if ty != "domain" && !name.contains('.') {
            return Err(ObjectError::NoName(name.to_owned()));
        }
        Ok(ObjectRef {
            key: Arc::from(raw),
            colon: ty.len(),
        })
    }

    /// `domain:PATH` for a domain path.
    pub fn domain(path: &str) -> ObjectRef {
        ObjectRef {
            key: Arc::from(format!("domain:{path}")),
            colon: "domain".len(),
        }
    }

    /// `group:QUALIFIED` for a group's qualified name.
    pub fn group(qualified: &str) -> ObjectRef {
        ObjectRef {
            key: Arc::from(format!("group:{qualified}")),
            colon: "group".len(),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.key
    }

    pub fn key(&self) -> &Arc<str> {
        &self.key
    }

    pub fn object_type(&self) -> &str {
        &self.key[..self.colon]
    }

    pub fn qualified_name(&self) -> &str {
        &self.key[self.colon + 1..]
    }

    /// The path of the domain the object lives in; for a domain, its parent
    /// (`None` for the root).
    pub fn parent_domain(&self) -> Option<&str> {
        parent_path(&self.qualified_name())
    }

    /// The object itself, then each enclosing domain up to the root: the
    /// order in which a flag's setting is looked for.
    pub fn chain(&self) -> Vec<ObjectRef> {
        std::iter::once(self.clone())
            .chain(self.enclosing_domains().map(ObjectRef::domain))
            .collect()
    }

    /// The paths of the domains around the object, innermost first: the
    /// chain after the object itself.
    fn enclosing_domains(&self) -> EnclosingDomains<'_> {
        std::iter::successors(self.parent_domain(), parent_path)
    }

    /// The keys of [`ObjectRef::chain`], in the same order, without making an
    /// `ObjectRef` for each: every domain's key is written into one reused
    /// buffer. An access check walks the chain on every request.
    pub fn chain_keys(&self) -> ChainKeys<'_> {
        ChainKeys {
            object: self,
            started: false,
            domains: self.enclosing_domains(),
            buf: String::new(),
        }
    }

    /// The key at position `i` of the chain (0 is the object itself).
    pub fn chain_key(&self, i: usize) -> Option<String> {
        let mut keys = self.chain_keys();
        for _ in 0..i {
            keys.next()?;
        }
        keys.next().map(str::to_owned)
    }
}

/// A walk along an object's chain of keys ([`ObjectRef::chain_keys`]). Each
/// key borrows the walk, so it is walked with `while let Some(key) =
/// keys.next()`, not as an `Iterator`.
pub struct ChainKeys<'a> {
    object: &'a ObjectRef,
    /// Whether the object's own key was given out yet.
    started: bool,
    /// The domains whose keys come next.
    domains: EnclosingDomains<'a>,
    buf: String,
}

type EnclosingDomains<'a> = std::iter::Successors<&'a str, fn(&&'a str) -> Option<&'a str>>;

/// `GLOBAL.Engineering` for `GLOBAL.Engineering.Prod`; `None` for the root.
fn parent_path<'a>(path: &&'a str) -> Option<&'a str> {
    path.rsplit_once('.').map(|(d, _)| d)
}

impl ChainKeys<'_> {
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<&str> {
        if !self.started {
            self.started = true;
            return Some(self.object.as_str());
        }
        let path = self.domains.next()?;
        self.buf.clear();
        self.buf.push_str("domain:");
        self.buf.push_str(path);
        Some(&self.buf)
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key)
    }
}

impl Serialize for ObjectRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.key)
    }
}

impl<'de> Deserialize<'de> for ObjectRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ObjectRef::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The byte-wise check of ASCII segments refuses exactly what the
        /// general check by characters refuses.
        #[test]
        fn ascii_segments_are_judged_as_the_general_rule_judges_them(
            name in "[ a-zA-Z0-9./:\t\x00\x1f\x7f\x0b-]{0,12}",
        ) {
            let general = |s: &str| {
                s.is_empty()
                    || s.trim() != s
                    || s.chars().any(|c| c.is_control() || c == '/' || c == ':')
            };
            let refused = name.split('.').any(general)
                || !name.contains('.');
            let parsed = ObjectRef::parse(&format!("environment:{name}"));
            prop_assert_eq!(parsed.is_err(), refused, "{:?}", parsed);
        }

        #[test]
        fn permissions_parse_in_any_case(i in 0usize..7, upper in any::<u8>()) {
            let names = ["view", "update", "change", "read", "write", "deploy", "execute"];
            let name: String = names[i]
                .chars()
                .enumerate()
                .map(|(k, c)| if upper >> (k % 8) & 1 == 1 { c.to_ascii_uppercase() } else { c })
                .collect();
            let expected = [
                Permission::View,
                Permission::Update,
                Permission::Update,
                Permission::Read,
                Permission::Write,
                Permission::Write,
                Permission::Write,
            ][i];
            prop_assert_eq!(Permission::parse(&name), Some(expected));
            prop_assert_eq!(Permission::parse(&format!("{name}x")), None);
        }
    }

    fn chain(raw: &str) -> Vec<String> {
        ObjectRef::parse(raw)
            .expect("valid")
            .chain()
            .iter()
            .map(|o| o.to_string())
            .collect()
    }

    #[test]
    fn the_chain_walks_from_the_object_up_to_the_root_domain() {
        assert_eq!(
            chain("environment:GLOBAL.Engineering.Prod"),
            [
                "environment:GLOBAL.Engineering.Prod",
                "domain:GLOBAL.Engineering",
                "domain:GLOBAL"
            ]
        );
        assert_eq!(
            chain("domain:GLOBAL.Engineering"),
            ["domain:GLOBAL.Engineering", "domain:GLOBAL"]
        );
        assert_eq!(chain("domain:GLOBAL"), ["domain:GLOBAL"]);
    }

    #[test]
    fn the_chain_keys_are_the_chains_keys() {
        for raw in [
            "environment:GLOBAL.Engineering.Prod",
            "domain:GLOBAL.Engineering",
            "domain:GLOBAL",
            "group:GLOBAL.A.B.C.Devs",
        ] {
            let object = ObjectRef::parse(raw).expect("valid");
            let mut keys = object.chain_keys();
            let mut walked = Vec::new();
            while let Some(key) = keys.next() {
                walked.push(key.to_owned());
            }
            assert_eq!(walked, chain(raw), "{raw}");
            for (i, key) in walked.iter().enumerate() {
                assert_eq!(object.chain_key(i).as_ref(), Some(key));
            }
            assert_eq!(object.chain_key(walked.len()), None);
        }
    }

    #[test]
    fn malformed_references_are_refused() {
        for bad in [
            "",
            "GLOBAL.X",
            "planet:GLOBAL.X",
            "environment:Prod",
            "group:GLOBAL..X",
            "group:GLOBAL. X",
        ] {
            assert!(ObjectRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn permission_names_and_their_ui_aliases() {
        assert_eq!(Permission::parse("deploy"), Some(Permission::Write));
        assert_eq!(Permission::parse("Change"), Some(Permission::Update));
        assert_eq!(Permission::parse("admin"), None);
    }
}
